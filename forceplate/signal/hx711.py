"""Peaks and edges behind the HX711's filter: the chip model and estimators that see through it.

The HX711 does not publish its digital filter. The working model (design/hx711-peaks.md, docs/hx711-model.md):
each output word, at the instant ``t`` its conversion ends, is the input force averaged by ``order`` (default 4)
cascaded boxcars, each one output period ``T = 1 / rate_hz`` long, optionally ``delay_s`` earlier::

    y(t) = integral h(tau) f(t - tau) dtau,    h(tau) = M_order((tau - delay_s) / T) / T

where ``M_n`` is the cardinal B-spline of order ``n`` on ``[0, n]`` (area 1). This fits the two published facts:
a step settles in 4 output periods (datasheet), and a reading taken 2.5 periods after a step reads about half
way (the B-spline's step response there is exactly 0.5). The DC gain is 1 and the group delay is
``delay_s + order T / 2`` (about 23 ms at 86 SPS).

Short impacts are smeared: the largest word of a 25-35 ms impact reads 10-25 % low. What the words pin down
is the force integrated over the kernel; how high the peak was depends on its shape. So
:func:`estimate_impact` fits a family of impact shapes (a half-cosine rise and a half-cosine fall between the
levels before and after) through the model by least squares, and reports the peak of the best fit together with
the spread of peaks over every shape the samples cannot reject. :func:`estimate_edge` does the same for the
take-off and landing edges of a flight, whose threshold crossings the filter delays.

Everything is numpy, no I/O; per-rate tables are cached, so an estimate costs a few milliseconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["EdgeEstimate", "Hx711Model", "ImpactEstimate", "estimate_edge", "estimate_impact",
           "filter_samples", "input_weights", "kernel", "respond", "skewed_pulse", "step_response",
           "thump_verdict"]

_GRID_S = 0.00025               # fine lag grid of the precomputed responses: 1/40 of a period at 100 SPS
_CHI2_1DOF_95 = 3.841           # profile likelihood: one derived quantity (the peak), 95 %
SHAPE_TOLERANCE = 0.05          # misfit (fraction of the pulse height) not held against a shape (synthetic calibration)


# ------------------------------------------------------------------------------------------ the model

@dataclass(frozen=True)
class Hx711Model:
    """The HX711's filter: `order` cascaded boxcars, each one output period long, then `delay_s` (s).

    ``order=4, delay_s=0`` is the design note's model (settles in 4 periods, as the datasheet says). Fit both
    to a real chip with a simultaneous fast-ADC capture (docs/hx711-model.md).
    """

    order: int = 4
    delay_s: float = 0.0

    def __post_init__(self):
        if not isinstance(self.order, (int, np.integer)) or not 1 <= self.order <= 8:
            raise ValueError(f"order {self.order!r} must be an integer from 1 to 8 (cascaded boxcars)")
        if not (math.isfinite(self.delay_s) and 0.0 <= self.delay_s <= 1.0):
            raise ValueError(f"delay_s {self.delay_s!r} must be between 0 and 1 s")

    def span_s(self, rate_hz: float) -> float:
        """How far back (s) one word looks: `order` periods plus the delay; also the settling time."""
        return self.delay_s + self.order / rate_hz

    def group_delay_s(self, rate_hz: float) -> float:
        """The kernel's centroid (s): how late a slow signal appears in the words."""
        return self.delay_s + self.order / (2 * rate_hz)

    def describe(self) -> str:
        delay = f", delayed {self.delay_s * 1e3:g} ms" if self.delay_s else ""
        return f"{self.order}-boxcar HX711 model{delay}"


DEFAULT_MODEL = Hx711Model()


def _bspline(x, order: int, integrated: bool = False) -> np.ndarray:
    """Cardinal B-spline M_order(x) on [0, order] (area 1), or its integral from 0 to x (0 to 1).

    Truncated-power form, M_n(x) = 1/(n-1)! sum_k (-1)^k C(n, k) (x - k)_+^(n-1); exact enough for n <= 8.
    """
    x = np.asarray(x, dtype=np.float64)
    power = order if integrated else order - 1
    total = np.zeros_like(x)
    for k in range(order + 1):
        u = x - k
        term = np.where(u > 0, np.maximum(u, 0.0) ** power, 0.0) if power else (u >= 0).astype(np.float64)
        total += (-1) ** k * math.comb(order, k) * term
    total /= math.factorial(power)
    if integrated:
        return np.where(x >= order, 1.0, np.where(x <= 0, 0.0, total))
    return np.where((x < 0) | (x > order), 0.0, np.maximum(total, 0.0))


def kernel(lag_s, rate_hz: float, *, model: Hx711Model = DEFAULT_MODEL) -> np.ndarray:
    """The filter's impulse response h (1/s) at lags `lag_s` (s) before the word's instant; area 1."""
    lag = (np.asarray(lag_s, dtype=np.float64) - model.delay_s) * rate_hz
    return _bspline(lag, model.order) * rate_hz


def step_response(lag_s, rate_hz: float, *, model: Hx711Model = DEFAULT_MODEL) -> np.ndarray:
    """What a word reads `lag_s` (s) after a unit step (exact): 0 before, 1 from `span_s` on."""
    lag = (np.asarray(lag_s, dtype=np.float64) - model.delay_s) * rate_hz
    return _bspline(lag, model.order, integrated=True)


def respond(force_fn, t_s, rate_hz: float, *, model: Hx711Model = DEFAULT_MODEL, nodes: int = 24):
    """The words the model gives for an analytic force ``force_fn(t_s) -> N`` at instants `t_s` (vectorised).

    Gauss-Legendre quadrature with `nodes` points on each of the kernel's `order` polynomial pieces: exact for
    a force that is a polynomial of degree < 2 * nodes - order + 1 on each piece, and within about 1e-4 of the
    step for a smooth pulse with a few kinks (ours: half-cosines, 24 nodes per 12 ms piece).

    Parameters
    ----------
    force_fn : callable
        Force (N) at an array of times (s), any shape.
    t_s : array_like, shape (n,)
        Word instants (s), each the end of its conversion.
    rate_hz : float
        The HX711's output rate (Hz).

    Returns
    -------
    ndarray, shape (n,), N
    """
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    x, w = np.polynomial.legendre.leggauss(nodes)
    period = 1.0 / rate_hz
    pieces = np.arange(model.order)[:, None]
    lag = model.delay_s + (pieces + (x[None, :] + 1) / 2) * period         # (order, nodes)
    weight = (w[None, :] * period / 2) * kernel(lag, rate_hz, model=model)  # integrates to 1
    lag, weight = lag.reshape(-1), weight.reshape(-1)
    return (np.asarray(force_fn(t[:, None] - lag[None, :]), dtype=np.float64) * weight).sum(axis=1)


def input_weights(phase, input_rate_hz: float, rate_hz: float, *, model: Hx711Model = DEFAULT_MODEL):
    """Weights for a finely sampled input: row i weighs input sample ``base_i - m`` with column m.

    ``phase`` (n,) is how far (in input samples, 0 to 1) each word's instant lies after its base sample.
    The kernel is evaluated at each input sample's lag and the row normalised to sum 1 (a constant load
    reads exactly that load).
    """
    period_samples = input_rate_hz / rate_hz
    taps = int(math.ceil(model.order * period_samples + model.delay_s * input_rate_hz)) + 1
    lag = np.asarray(phase, dtype=np.float64).reshape(-1)[:, None] + np.arange(taps)[None, :]
    weights = kernel(lag / input_rate_hz, rate_hz, model=model)
    return weights / weights.sum(axis=1, keepdims=True)


def filter_samples(force_n, t_s, rate_hz: float, *, input_rate_hz: float = 1000.0,
                   model: Hx711Model = DEFAULT_MODEL, mode: str = "edge") -> np.ndarray:
    """What HX711 words report at instants `t_s` for a force sampled at `input_rate_hz`.

    Parameters
    ----------
    force_n : array_like, shape (m,) or (m, ch)
        Force (N); sample ``j`` at ``j / input_rate_hz`` s. Not modified.
    t_s : array_like, shape (n,)
        Word instants (s).
    rate_hz : float
        The HX711's output rate (Hz): it sets the kernel's length. Keep it at most ``input_rate_hz / 8``.
    input_rate_hz : float
        Rate of `force_n` (Hz).
    mode : {"edge", "wrap"}
        Input before the first or after the last sample: the end value, or the trace repeated.

    Returns
    -------
    ndarray, shape (n,) or (n, ch), float64, N
    """
    if mode not in ("edge", "wrap"):
        raise ValueError(f"mode {mode!r} is not 'edge' or 'wrap'")
    force = np.asarray(force_n)
    position = np.asarray(t_s, dtype=np.float64).reshape(-1) * input_rate_hz
    base = np.floor(position).astype(np.int64)
    weights = input_weights(position - base, input_rate_hz, rate_hz, model=model)
    return apply_weights(force, base, weights, mode)


def apply_weights(force, base, weights, mode: str) -> np.ndarray:
    """Weighted sums ``sum_m weights[i, m] * force[base[i] - m]`` (rows of `force` for 2-D input)."""
    index = base[:, None] - np.arange(weights.shape[1])[None, :]
    m = force.shape[0]
    index = np.mod(index, m) if mode == "wrap" else np.clip(index, 0, m - 1)
    gathered = force[index].astype(np.float64)
    if force.ndim == 1:
        return np.einsum("nk,nk->n", weights, gathered)
    return np.einsum("nk,nkc->nc", weights, gathered)


# ------------------------------------------------------------------------------------- impact shapes

KINDS = ("smooth", "abrupt")


def _up(u, kind):
    """0 -> 1 over u in [0, 1]: "smooth" a half-cosine (flat at both ends), "abrupt" a quarter-sine (starts
    at full slope, flat at the top). Clipped: 0 before, 1 after."""
    u = np.clip(u, 0.0, 1.0)
    return (1 - np.cos(np.pi * u)) / 2 if kind == "smooth" else np.sin(np.pi * u / 2)


def _down(u, kind):
    """1 -> 0 over u in [0, 1]: "smooth" a half-cosine, "abrupt" a quarter-cosine (flat at the top, ends at
    full slope, as a half-sine does)."""
    u = np.clip(u, 0.0, 1.0)
    return (1 + np.cos(np.pi * u)) / 2 if kind == "smooth" else np.cos(np.pi * u / 2)


def skewed_pulse(t_s, *, onset_s: float, rise_s: float, fall_s: float, peak_n: float, before_n: float = 0.0,
                 after_n: float | None = None, rise_kind: str = "smooth", fall_kind: str = "smooth") -> np.ndarray:
    """An impact: `before_n` until `onset_s`, a rise to `peak_n` over `rise_s`, a fall to `after_n` (default
    `before_n`) over `fall_s`, then `after_n`. Forces in N, times in s.

    Rise and fall are "smooth" (half-cosine: flat at both ends) or "abrupt" (quarter-sine: full slope at the
    foot, flat at the top). Two abrupt halves of equal length make a half-sine of ``rise_s + fall_s``. The
    estimator's family is this shape over a grid of rise and fall times and the four kinds.
    """
    if rise_kind not in KINDS or fall_kind not in KINDS:
        raise ValueError(f"rise_kind and fall_kind must be one of {KINDS}")
    after_n = before_n if after_n is None else after_n
    t = np.asarray(t_s, dtype=np.float64)
    up = _up((t - onset_s) / rise_s, rise_kind)
    down = _down((t - onset_s - rise_s) / fall_s, fall_kind)
    return np.where(t < onset_s + rise_s, before_n + (peak_n - before_n) * up,
                    after_n + (peak_n - after_n) * down)


@lru_cache(maxsize=16)
def _pulse_table(rate_hz: float, model: Hx711Model, rises: tuple, falls: tuple):
    """Words for the family's unit shapes at lags ``j * _GRID_S`` after onset (the lag includes the delay).

    Returns (rise_s, fall_s, pulse, step): pulse[s, j] is the response to shape s rising 0 -> 1 and falling
    back to 0; step[s, j] to the part that stays at 1 after the fall. The force ``before + (peak - before)
    pulse + (after - before) step`` then reads ``before + (peak - before) P + (after - before) S`` (the filter
    is linear with DC gain 1). Midpoint rule on a 0.25 ms grid, batched FFT convolution.
    """
    shapes = [(r, f, rk, fk) for rk in KINDS for fk in KINDS for r in rises for f in falls]
    rise = np.array([s[0] for s in shapes])
    fall = np.array([s[1] for s in shapes])
    span = model.span_s(rate_hz)
    n_lag = int(math.ceil((max(rises) + max(falls) + span) / _GRID_S)) + 4
    t = (np.arange(n_lag) + 0.5) * _GRID_S
    pulse_f = np.empty((len(shapes), n_lag))
    step_f = np.empty((len(shapes), n_lag))
    for i, (r, f, rk, fk) in enumerate(shapes):
        down = _down((t - r) / f, fk)
        pulse_f[i] = np.where(t < r, _up(t / r, rk), down)
        step_f[i] = np.where(t < r, 0.0, 1 - down)
    k = kernel((np.arange(int(math.ceil(span / _GRID_S)) + 1) + 0.5) * _GRID_S, rate_hz, model=model)
    k = k / k.sum()
    n_fft = 1 << int(math.ceil(math.log2(n_lag + k.size)))
    kf = np.fft.rfft(k, n_fft)
    pulse = np.fft.irfft(np.fft.rfft(pulse_f, n_fft) * kf, n_fft)[:, :n_lag]
    step = np.fft.irfft(np.fft.rfft(step_f, n_fft) * kf, n_fft)[:, :n_lag]
    # input cell i (centre (i + 0.5) grid) times kernel cell m (centre (m + 0.5) grid) lands at lag i + m + 1
    pulse = np.concatenate((np.zeros((len(shapes), 1)), pulse), axis=1)[:, :n_lag]
    step = np.concatenate((np.zeros((len(shapes), 1)), step), axis=1)[:, :n_lag]
    for arr in (pulse, step, rise, fall):
        arr.setflags(write=False)
    kinds = tuple((s[2], s[3]) for s in shapes)
    return rise, fall, kinds, pulse, step


def _lookup(table: np.ndarray, lag_s: np.ndarray, tail: float) -> np.ndarray:
    """Linear interpolation of ``table[s, j]`` (lag j * _GRID_S) at lags ``lag_s[s, ...]``; 0 at or before
    lag 0, `tail` beyond the table."""
    pos = lag_s / _GRID_S
    n = table.shape[-1]
    j = np.clip(np.floor(pos).astype(np.int64), 0, n - 2)
    frac = np.clip(pos - j, 0.0, 1.0)
    flat = j.reshape(table.shape[0], -1)
    lo = np.take_along_axis(table, flat, axis=-1).reshape(j.shape)
    hi = np.take_along_axis(table, flat + 1, axis=-1).reshape(j.shape)
    out = lo + (hi - lo) * frac
    out = np.where(pos <= 0, 0.0, out)
    return np.where(pos >= n - 1, tail, out)


# ------------------------------------------------------------------------------------------ results

@dataclass(frozen=True)
class ImpactEstimate:
    """An impact's true peak, estimated from HX711 words. Forces in N, times in s.

    Attributes
    ----------
    peak_n, t_peak_s : the best-fitting shape's peak and its instant.
    low_n, high_n : the plausible range: the lowest and highest peak over the family's shapes whose fit the
        samples cannot reject (least-squares profile, 95 %, the noise scaled up by any misfit of the best).
    onset_s : when the best shape starts rising from the level before (a landing's touch-down).
    before_n, after_n : the fitted force levels before and after the impact.
    rise_s, fall_s, shape : the best shape's rise and fall times (s) and kinds (rise, fall).
    largest_sample_n, t_largest_s : the largest word in the fit window (what a plain peak search reports).
    rms_residual_n : RMS misfit of the best shape (N); about the noise when the family fits.
    samples : how many words were fitted.
    is_reliable : False when the estimate should not be trusted (see `note`).
    note : why it is unreliable, or "".
    method : the method and model, for a ``peak_method`` field.
    """

    peak_n: float
    t_peak_s: float
    low_n: float
    high_n: float
    onset_s: float
    before_n: float
    after_n: float
    rise_s: float
    fall_s: float
    shape: tuple
    largest_sample_n: float
    t_largest_s: float
    rms_residual_n: float
    samples: int
    is_reliable: bool
    note: str
    method: str


@dataclass(frozen=True)
class EdgeEstimate:
    """When the true force crossed `threshold_n` at a take-off or a landing, estimated from HX711 words.

    Attributes
    ----------
    kind : "takeoff" or "landing".
    t_s : the estimated crossing of the true force (s).
    low_s, high_s : the plausible range of that instant (s), as for :class:`ImpactEstimate`.
    sample_crossing_s : the plain threshold crossing of the words, interpolated (what the filter delays).
    threshold_n, flight_level_n : the threshold and the fitted (or given) force in flight (N).
    is_reliable, note, method : as for :class:`ImpactEstimate`.
    """

    kind: str
    t_s: float
    low_s: float
    high_s: float
    sample_crossing_s: float
    threshold_n: float
    flight_level_n: float
    is_reliable: bool
    note: str
    method: str


def thump_verdict(estimate: ImpactEstimate, body_weight_n: float, thump_bw: float = 2.5) -> str:
    """"thump" when even the low end of the plausible range reaches `thump_bw` body weights, "no thump" when
    even the high end stays under it, else "borderline" (the samples cannot tell)."""
    if estimate.low_n >= thump_bw * body_weight_n:
        return "thump"
    if estimate.high_n < thump_bw * body_weight_n:
        return "no thump"
    return "borderline"


# ---------------------------------------------------------------------------------------- estimators

def _prepare(t_s, force_n, rate_hz, what):
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    y = np.asarray(force_n, dtype=np.float64).reshape(-1)
    if t.shape != y.shape:
        raise ValueError(f"{what}: t_s has {t.size} samples, force_n {y.size}")
    ok = np.isfinite(t) & np.isfinite(y)           # a lost word is a missing sample: fit the rest
    t, y = t[ok], y[ok]
    if t.size < 2:
        raise ValueError(f"{what}: {t.size} finite samples; need at least 2 (and about 8 for a fit)")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"{what}: t_s is not strictly increasing")
    if rate_hz is None:
        rate_hz = 1.0 / float(np.median(np.diff(t)))     # the chip's rate: measured, never assumed
    rate_hz = float(rate_hz)
    if not (math.isfinite(rate_hz) and 1.0 <= rate_hz <= 1000.0):
        raise ValueError(f"{what}: rate {rate_hz!r} Hz is not a plausible HX711 rate")
    return t, y, rate_hz, int((~ok).sum())


def _grid(bounds, count):
    lo, hi = float(bounds[0]), float(bounds[1])
    if not 0 < lo <= hi <= 1.0:
        raise ValueError(f"shape-time bounds {bounds!r} must be 0 < low <= high <= 1 s")
    return tuple(np.round(np.geomspace(lo, hi, count) if hi > lo else [lo], 6).tolist())


def _fit_pulses(t, y, baseline_n, table, t_peak):
    """Least squares of each family shape s with its peak at each instant ``t_peak[s, k]``; the levels and
    the peak in closed form (the words are linear in them). Returns dict of (S, K) arrays."""
    rise, fall, _, pulse, step = table
    onset = t_peak - rise[:, None]
    lag = t[None, None, :] - onset[:, :, None]                    # (S, K, n)
    u = _lookup(pulse, lag, 0.0)
    v = _lookup(step, lag, 1.0)
    if baseline_n is None:                      # a free level before: project the constant out
        n = t.size
        y_mean = y.mean()
        u_mean, v_mean = u.mean(axis=-1), v.mean(axis=-1)
        z = y - y_mean
        uu = np.einsum("skn,skn->sk", u, u) - n * u_mean ** 2
        vv = np.einsum("skn,skn->sk", v, v) - n * v_mean ** 2
        uv = np.einsum("skn,skn->sk", u, v) - n * u_mean * v_mean
        uz, vz = u @ z, v @ z
        zz = float(z @ z)
    else:
        z = y - baseline_n
        uu = np.einsum("skn,skn->sk", u, u)
        vv = np.einsum("skn,skn->sk", v, v)
        uv = np.einsum("skn,skn->sk", u, v)
        uz, vz = u @ z, v @ z
        zz = float(z @ z)
    det = uu * vv - uv * uv
    det = np.where(np.abs(det) > 1e-12 * (uu * vv + 1e-30), det, np.nan)
    a = (vv * uz - uv * vz) / det               # peak - before
    c = (uu * vz - uv * uz) / det               # after - before
    rss = np.maximum(zz - a * uz - c * vz, 0.0)
    before = (y_mean - a * u_mean - c * v_mean) if baseline_n is None else np.full(a.shape, float(baseline_n))
    peak, after = before + a, before + c
    ok = np.isfinite(rss) & (peak >= np.maximum(before, after))   # a pulse stands above both levels
    return dict(rss=np.where(ok, rss, np.inf), peak=peak, before=before, after=after, t_peak=t_peak,
                shape=np.broadcast_to(np.arange(rise.size)[:, None], rss.shape))


def _best_per_shape(fit):
    """For each shape: the candidate with the least RSS, as (S,) arrays."""
    j = np.argmin(fit["rss"], axis=1)
    rows = np.arange(fit["rss"].shape[0])
    return {k: np.asarray(v)[rows, j] for k, v in fit.items()}


def estimate_impact(t_s, force_n, *, rate_hz: float | None = None, baseline_n: float | None,
                    model: Hx711Model = DEFAULT_MODEL, noise_n: float = 2.0, shape_tolerance: float = SHAPE_TOLERANCE,
                    rise_s: tuple = (0.008, 0.120), fall_s: tuple = (0.010, 0.150), shapes_per_axis: int = 5,
                    step_s: float = 0.003) -> ImpactEstimate:
    """Estimate an impact's true peak from the HX711 words around it.

    Fits the family of skewed pulses (:func:`skewed_pulse`: a smooth or abrupt rise over `rise_s`, a smooth
    or abrupt fall over `fall_s`, between a level before and a level after that may differ) through the
    filter model by least squares. Given the shape and timing, the levels and the peak are linear and solved
    in closed form; the peak instant is searched on a grid of `step_s` within the largest word's kernel and
    refined to a quarter of it; the shapes are a geometric grid of `shapes_per_axis` rise times by as many
    fall times, in each of the four kinds.

    The plausible range is the spread of peaks over the shapes whose RSS is within chi^2(1 dof, 95 %) = 3.84
    variances of the best, the variance being ``noise_n**2 + (shape_tolerance * (peak - before))**2`` (the
    true impact is not one of our shapes: misfits this small are not evidence against a shape), or the best
    fit's RSS per degree of freedom when larger. The true peak is at least the largest word (a word is a
    weighted mean of the force), so no estimate goes below it less twice the noise.

    Parameters
    ----------
    t_s, force_n : array_like, shape (n,)
        Word instants (s) and words (N, total force) from a few words before the rise to at least
        ``order + 2`` after the largest. Only the rise (back to the level before) and ``order + 2`` words
        after the largest are fitted. Non-finite words are skipped (lost words). Not modified.
    rate_hz : float, optional
        The chip's output rate (Hz); default measured from `t_s` (median interval).
    baseline_n : float or None
        The force before the impact when it is known (N): the flight level for a landing or a drop onto an
        empty plate. None fits it (a heel drop: the force during the drop is not the standing weight).
    model : Hx711Model
    noise_n : float
        RMS noise of one word of the total force (N).
    shape_tolerance : float
        Misfit, as a fraction of the pulse's height, that does not count against a shape (see above).
    rise_s, fall_s : (float, float)
        Bounds (s) of the family's rise and fall times.

    Returns
    -------
    ImpactEstimate

    Raises
    ------
    ValueError
        Fewer than 2 finite words, times not increasing, an implausible rate, a bad parameter.
    """
    t, y, rate_hz, lost = _prepare(t_s, force_n, rate_hz, "estimate_impact")
    if not noise_n > 0 or not shape_tolerance >= 0:
        raise ValueError(f"noise_n {noise_n!r} must be positive (N), shape_tolerance {shape_tolerance!r} >= 0")
    if baseline_n is not None and not math.isfinite(baseline_n):
        raise ValueError(f"baseline_n {baseline_n!r} is not a finite force (N)")
    table = _pulse_table(rate_hz, model, _grid(rise_s, shapes_per_axis), _grid(fall_s, shapes_per_axis))
    period = 1.0 / rate_hz
    span = model.span_s(rate_hz)
    method = f"fit of skewed pulses through a {model.describe()}"

    i_max = int(np.argmax(y))
    if y[i_max] - y.min() < 5 * noise_n:
        return _unreliable_impact(t, y, i_max, method, "no pulse above the noise (flat input)")
    # the window: the largest word's neighbours whose kernels reach its peak, order + 2 words either side;
    # the level before is the given baseline only when the window starts on it (a short rise from flight)
    lo, hi = max(0, i_max - model.order - 2), min(t.size, i_max + model.order + 3)
    t, y = t[lo:hi], y[lo:hi]
    i_max -= lo
    if baseline_n is not None and y[0] - baseline_n > 0.05 * (y[i_max] - baseline_n) + 3 * noise_n:
        baseline_n = None                       # it rose earlier: fit the level the pulse stands on
    n = t.size
    n_params = 5 + (baseline_n is None)         # peak instant, rise, fall, peak, after (+ before)
    largest, t_largest = float(y[i_max]), float(t[i_max])
    if n < n_params + 2:
        return _unreliable_impact(t, y, i_max, method, f"only {n} usable words around the peak; need "
                                  f"{n_params + 2}")
    notes = []
    if i_max >= n - 2 or i_max < 2:
        notes.append("the largest word is at the edge of the words given: the impact may not be inside")
    ref = float(baseline_n) if baseline_n is not None else float(np.min(y))
    excess = largest - ref
    if excess < 5 * noise_n:
        return _unreliable_impact(t, y, i_max, method, "no pulse above the noise (flat input)")

    # the peak lies within the largest word's kernel (give or take a period)
    coarse = np.arange(t_largest - span - period, t_largest - model.delay_s + period, step_s)
    best = _best_per_shape(_fit_pulses(t, y, baseline_n, table, np.broadcast_to(
        coarse, (table[0].size, coarse.size))))
    fine = best["t_peak"][:, None] + np.arange(-4, 5)[None, :] * (step_s / 4)
    best = _best_per_shape(_fit_pulses(t, y, baseline_n, table, fine))

    finite = np.isfinite(best["rss"])
    if not finite.any():
        return _unreliable_impact(t, y, i_max, method, "no shape of the family fits (no pulse)")
    k = int(np.argmin(best["rss"]))
    rss_best = float(best["rss"][k])
    height = float(best["peak"][k] - best["before"][k])
    expected2 = noise_n ** 2 + (shape_tolerance * height) ** 2
    accepted = finite & (best["rss"] <= rss_best + _CHI2_1DOF_95 * max(expected2, rss_best / max(1, n - n_params)))
    rms = math.sqrt(rss_best / n)
    if rss_best > 9 * expected2 * n:
        # a misfit far above noise and tolerance is the impact's shape, not noise: the RSS differences
        # between shapes then say little, so every shape fitting at most twice as badly (RMS) stays plausible
        notes.append(f"the family fits poorly (RMS misfit {rms:.0f} N): the range is wide")
        accepted |= finite & (best["rss"] <= 4 * rss_best)
    floor = largest - 2 * noise_n
    peaks = best["peak"][accepted]
    if lost:
        notes.append(f"{lost} lost words skipped")
    rise, fall, kinds = table[0], table[1], table[2]
    s = int(best["shape"][k])
    return ImpactEstimate(
        peak_n=max(float(best["peak"][k]), floor), t_peak_s=float(best["t_peak"][k]),
        low_n=max(float(peaks.min()), floor), high_n=max(float(peaks.max()), floor),
        onset_s=float(best["t_peak"][k] - rise[s]), before_n=float(best["before"][k]),
        after_n=float(best["after"][k]), rise_s=float(rise[s]), fall_s=float(fall[s]), shape=kinds[s],
        largest_sample_n=largest, t_largest_s=t_largest, rms_residual_n=rms, samples=n,
        is_reliable=not any(x.startswith(("the largest", "the family fits")) for x in notes),
        note="; ".join(notes), method=method)


def _unreliable_impact(t, y, i_max, method, note):
    largest = float(y[i_max])
    return ImpactEstimate(peak_n=largest, t_peak_s=float(t[i_max]), low_n=largest, high_n=math.inf,
                          onset_s=math.nan, before_n=math.nan, after_n=math.nan, rise_s=math.nan,
                          fall_s=math.nan, shape=("", ""), largest_sample_n=largest, t_largest_s=float(t[i_max]),
                          rms_residual_n=math.nan, samples=int(t.size), is_reliable=False, note=note,
                          method=method + " (not fitted: the largest word, a lower bound)")


def _ramp_responses(lag_s, rate_hz, model, degree, *, after: bool, nodes: int = 48):
    """Words for unit ramps ``u**p`` (p = 1..degree) that start at an edge: u = (t - t_e)_+ when `after`
    (a landing), u = (t_e - t)_+ otherwise (a take-off), at lags ``t_k - t_e`` (any shape). Gauss-Legendre
    on the kernel's pieces, as :func:`respond`."""
    lag = np.asarray(lag_s, dtype=np.float64)
    x, w = np.polynomial.legendre.leggauss(nodes)
    period = 1.0 / rate_hz
    tau = model.delay_s + (np.arange(model.order)[:, None] + (x[None, :] + 1) / 2) * period
    weight = ((w[None, :] * period / 2) * kernel(tau, rate_hz, model=model)).reshape(-1)
    tau = tau.reshape(-1)
    d = lag[..., None] - tau if after else tau - lag[..., None]         # u at each node
    u = np.maximum(d, 0.0)
    return np.stack([(u ** p * weight).sum(axis=-1) for p in range(1, degree + 1)], axis=-1)


def estimate_edge(t_s, force_n, *, kind: str, rate_hz: float | None = None, threshold_n: float = 20.0,
                  flight_level_n: float | None = None, model: Hx711Model = DEFAULT_MODEL, noise_n: float = 2.0,
                  contact_words: int = 2, degree: int = 2, step_s: float = 0.00025) -> EdgeEstimate:
    """Estimate when the true force crossed `threshold_n` at a take-off or a landing, from HX711 words.

    In flight the plate reads a constant (about 0 N); on the contact side the force near the edge is modelled
    as a polynomial of `degree` in the time from the edge ``t_e`` (zero at the edge: feet leave and touch down
    gently, within a millisecond). Through the filter this is linear in the polynomial's coefficients, solved
    in closed form for every ``t_e`` on a grid of `step_s`; the best ``t_e`` and its polynomial give the
    crossing of `threshold_n`. Fitted: the flight words, the first `contact_words` words on the contact side
    (their kernels reach about ``order`` periods into the contact, so this is the stretch the polynomial must
    describe). The plausible range is the spread of crossings over edges the words cannot reject (as in
    :func:`estimate_impact`).

    A plain threshold on the words is late at both edges (the kernel still holds contact force after a
    take-off; it needs some landing force before the word rises): at 80-90 SPS a take-off reads about 30 ms
    late, a landing about 10 ms, so flights read about 20 ms short.

    Parameters
    ----------
    t_s, force_n : array_like, shape (n,)
        Word instants (s) and words (N, total force): from at least ``contact_words`` words before a take-off's
        plain crossing to ``order + 1`` words after it (for a landing: ``order + 1`` words before its plain
        crossing to ``contact_words`` after). Not modified.
    kind : {"takeoff", "landing"}
    threshold_n : float
        The flight threshold (N) whose crossing by the true force is wanted (CONTRACTS.md: about 20 N).
    flight_level_n : float, optional
        What the plate reads in flight (N); default the median of the words wholly in flight (else 0).

    Returns
    -------
    EdgeEstimate

    Raises
    ------
    ValueError
        Unknown kind, too few finite words, no crossing of the threshold in the words.
    """
    if kind not in ("takeoff", "landing"):
        raise ValueError(f"kind {kind!r} is not 'takeoff' or 'landing'")
    t, y, rate_hz, lost = _prepare(t_s, force_n, rate_hz, "estimate_edge")
    if degree not in (1, 2, 3) or contact_words < 1:
        raise ValueError("degree must be 1-3 and contact_words at least 1")
    method = f"fit of a polynomial {kind} edge through a {model.describe()}"
    above = y >= threshold_n
    if kind == "takeoff":
        down = np.flatnonzero(above[:-1] & ~above[1:])
        if down.size == 0:
            raise ValueError("estimate_edge: the words never fall below the threshold (no take-off)")
        i_c = int(down[0]) + 1                     # first word below
        flight = np.arange(i_c, t.size)
        lo, hi = max(0, i_c - contact_words), min(t.size, i_c + model.order + 2)
    else:
        up = np.flatnonzero(~above[:-1] & above[1:])
        if up.size == 0:
            raise ValueError("estimate_edge: the words never rise above the threshold (no landing)")
        i_c = int(up[-1]) + 1                      # first word above
        flight = np.arange(0, i_c)
        lo, hi = max(0, i_c - model.order - 2), min(t.size, i_c + contact_words)
    a, b = y[i_c - 1], y[i_c]
    crossing_s = float(t[i_c - 1] + (threshold_n - a) / (b - a) * (t[i_c] - t[i_c - 1]))
    span = model.span_s(rate_hz)
    if flight_level_n is None:
        clear = flight[(t[flight] >= crossing_s + span) if kind == "takeoff" else (t[flight] <= crossing_s - span)]
        flight_level_n = float(np.median(y[clear])) if clear.size >= 2 else 0.0
    notes = [f"{lost} lost words skipped"] if lost else []
    tt, yy = t[lo:hi], y[lo:hi] - flight_level_n
    n = tt.size
    if n < degree + 3:
        return EdgeEstimate(kind, crossing_s, -math.inf, math.inf, crossing_s, threshold_n, flight_level_n,
                            False, f"only {n} words around the edge", method + " (not fitted: plain crossing)")
    # edge candidates: the last contact word must see contact, the first flight word may still see some
    if kind == "takeoff":
        te = np.arange(float(t[i_c - 1]) - span + step_s, float(t[i_c]) + 0.5 / rate_hz, step_s)
    else:
        te = np.arange(float(t[i_c - 1]) - span, float(t[i_c]) - model.delay_s, step_s)
    basis = _ramp_responses(tt[None, :] - te[:, None], rate_hz, model, degree, after=kind == "landing")
    gram = np.einsum("kni,knj->kij", basis, basis) + np.eye(degree) * 1e-12
    rhs = np.einsum("kni,n->ki", basis, yy)
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]                 # (K, degree): N/s, N/s^2, ...
    rss = np.maximum(float(yy @ yy) - np.einsum("ki,ki->k", coef, rhs), 0.0)
    # crossing: smallest u > 0 with poly(u) = threshold - flight level, within the fitted stretch
    level = threshold_n - flight_level_n
    u_grid = np.linspace(0.0, span, 401)[1:]
    poly = sum(coef[:, p - 1:p] * u_grid[None, :] ** p for p in range(1, degree + 1))   # (K, U)
    hit = poly >= level
    has = hit.any(axis=1) & (poly[:, 0] > -5 * noise_n)   # rises from the edge, not a dip below flight
    first = np.argmax(hit, axis=1)
    u_prev = np.where(first > 0, u_grid[np.maximum(first - 1, 0)], 0.0)
    p_prev = np.where(first > 0, poly[np.arange(te.size), np.maximum(first - 1, 0)], 0.0)
    p_hit = poly[np.arange(te.size), first]
    u_cross = u_prev + (level - p_prev) / np.maximum(p_hit - p_prev, 1e-12) * (u_grid[first] - u_prev)
    cross = te - u_cross if kind == "takeoff" else te + u_cross
    rss = np.where(has, rss, np.inf)
    if not np.isfinite(rss).any():
        return EdgeEstimate(kind, crossing_s, -math.inf, math.inf, crossing_s, threshold_n, flight_level_n,
                            False, "no edge of the family fits", method + " (not fitted: plain crossing)")
    k = int(np.argmin(rss))
    sigma2 = max(noise_n ** 2, float(rss[k]) / max(1, n - degree - 1))
    ok = rss <= rss[k] + _CHI2_1DOF_95 * sigma2
    if ok[0] or ok[-1]:
        notes.append("the plausible edges reach the end of the search")
    return EdgeEstimate(kind, float(cross[k]), float(cross[ok].min()), float(cross[ok].max()), crossing_s,
                        threshold_n, flight_level_n, not (ok[0] or ok[-1]), "; ".join(notes), method)

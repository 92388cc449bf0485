"""Peaks and edges behind the HX711's filter: the chip model and estimators that see through it.

The HX711 does not publish its digital filter. The working model (docs/hx711-model.md):
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

Everything is numpy, no I/O; per-rate tables are cached, so an estimate costs a few milliseconds. The
analysis applies the estimators to the events it finds in HX711 words in one place, :mod:`.refine`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["DEFAULT_MODEL", "EdgeEstimate", "Hx711Model", "ImpactEstimate", "apply_weights", "estimate_edge",
           "estimate_impact", "filter_samples", "input_weights", "kernel", "respond", "skewed_pulse"]

_CHI2_1DOF_95 = 3.841           # profile likelihood: one derived quantity (the peak), 95 %
SHAPE_TOLERANCE = 0.045         # misfit (fraction of the pulse height) not held against a shape (synthetic calibration)


# ------------------------------------------------------------------------------------------ the model

@dataclass(frozen=True)
class Hx711Model:
    """The HX711's filter: `order` cascaded boxcars, each one output period long, then `delay_s` (s).

    ``order=4, delay_s=0`` is the model of docs/hx711-model.md (settles in 4 periods, as the datasheet says). Fit both
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


def _bspline(x, order: int) -> np.ndarray:
    """Cardinal B-spline M_order(x) on [0, order] (area 1).

    Truncated-power form, M_n(x) = 1/(n-1)! sum_k (-1)^k C(n, k) (x - k)_+^(n-1); exact enough for n <= 8.
    """
    x = np.asarray(x, dtype=np.float64)
    power = order - 1
    total = np.zeros_like(x)
    for k in range(order + 1):
        u = x - k
        term = np.where(u > 0, np.maximum(u, 0.0) ** power, 0.0) if power else (u >= 0).astype(np.float64)
        total += (-1) ** k * math.comb(order, k) * term
    total /= math.factorial(power)
    return np.where((x < 0) | (x > order), 0.0, np.maximum(total, 0.0))


def kernel(lag_s, rate_hz: float, *, model: Hx711Model = DEFAULT_MODEL) -> np.ndarray:
    """The filter's impulse response h (1/s) at lags `lag_s` (s) before the word's instant; area 1."""
    lag = (np.asarray(lag_s, dtype=np.float64) - model.delay_s) * rate_hz
    return _bspline(lag, model.order) * rate_hz


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


_PHASES = 24                    # candidate instants per output period (about 0.5 ms at 85 SPS)
_SUB = 4                        # convolution sub-steps per table step
SPIKES_S = ((0.004, 0.008), (0.006, 0.012), (0.009, 0.018), (0.013, 0.026))   # heel spikes: (rise, fall), s
BROAD_S = ((0.020, 0.045, 0.100), (0.030, 0.070, 0.150))                     # the pulse under a spike: rises, falls
SPIKE_AT = (-0.6, -0.3, 0.0, 0.3)   # spike peak after the broad peak: fraction of its rise (< 0) or fall (> 0)


@lru_cache(maxsize=8)
def _family_tables(rate_hz: float, model: Hx711Model, singles: tuple, broad: tuple, spikes: tuple, spike_at: tuple):
    """Per-rate tables of the family on a grid of ``d = T / _PHASES`` (T the output period).

    Shapes (a pulse rising 0 -> 1 and falling to 0, and its "after" step 0 -> 1 during the fall) are indexed
    by their onset; every rise is rounded to the grid. A word ``i`` periods after the first, the shape's peak
    ``q`` grid steps after the first word, reads the table at lag index ``i * _PHASES - q + rise``: no
    interpolation. Returns a dict of read-only arrays (see the code); ``resp_*`` are the filtered responses at
    lags ``m * d`` (clipped at both ends: 0 before the onset, the tail beyond), ``curve_*`` the shapes
    themselves on the same grid (for the peak of a sum).
    """
    period = 1.0 / rate_hz
    d = period / _PHASES
    h = d / _SUB
    span = model.span_s(rate_hz)
    shapes = list(singles) + [(r, f, "smooth", "smooth") for r in broad[0] for f in broad[1]]
    n_single = len(singles)
    rise_k = np.array([max(1, round(s[0] / d)) for s in shapes])
    fall_s = np.array([s[1] for s in shapes])
    spike_rise_k = np.array([max(1, round(r / d)) for r, _ in spikes])
    longest = max(max(rise_k) * d + max(fall_s), max(r + f for r, f in spikes) + d)
    n_lag = int(math.ceil((longest + span) / d)) + 4
    t = (np.arange(n_lag * _SUB) + 0.5) * h

    def pulses_and_steps(x):
        # every shape's pulse (then every spike's) and every shape's "after" step, at the instants x (s)
        pulse = np.empty((len(shapes) + len(spikes), x.size))
        step = np.zeros((len(shapes), x.size))
        for i, (_, f, rk, fk) in enumerate(shapes):
            r = rise_k[i] * d
            down = _down((x - r) / f, fk)
            pulse[i] = np.where(x < r, _up(x / r, rk), down)
            step[i] = np.where(x < r, 0.0, 1 - down)
        for j, (_, f) in enumerate(spikes):
            r = spike_rise_k[j] * d
            pulse[len(shapes) + j] = np.where(x < r, _up(x / r, "smooth"), _down((x - r) / f, "smooth"))
        return pulse, step

    pulse_f, step_f = pulses_and_steps(t)
    k = kernel((np.arange(int(math.ceil(span / h)) + 1) + 0.5) * h, rate_hz, model=model)
    k = k / k.sum()
    n_fft = 1 << int(math.ceil(math.log2(t.size + k.size)))
    kf = np.fft.rfft(k, n_fft)
    conv = lambda x: np.fft.irfft(np.fft.rfft(x, n_fft) * kf, n_fft)[:, :t.size]   # noqa: E731
    # input cell i (centre (i + 0.5) h) and kernel cell m land at lag (i + m + 1) h: lag m d = conv[m _SUB - 1]
    take = np.arange(1, n_lag) * _SUB - 1
    resp_p = np.concatenate((np.zeros((pulse_f.shape[0], 1)), conv(pulse_f)[:, take]), axis=1)
    resp_s = np.concatenate((np.zeros((len(shapes), 1)), conv(step_f)[:, take]), axis=1)
    resp_p[:, -1] = 0.0
    resp_s[:, -1] = 1.0
    grid = np.arange(n_lag) * d
    curve_p, curve_s = pulses_and_steps(grid)
    curve_p[:, -1] = 0.0
    curve_s[:, -1] = 1.0
    # combinations: a broad pulse (the extra shapes) with a spike whose peak is `at` of its rise/fall away
    combo_broad, combo_spike, combo_shift = [], [], []
    for b in range(n_single, len(shapes)):
        for j in range(len(spikes)):
            for at in spike_at:
                combo_broad.append(b)
                combo_spike.append(len(shapes) + j)
                combo_shift.append(round(at * (rise_k[b] * d if at < 0 else fall_s[b]) / d))
    # re-index everything by the lag after the broad peak (index m <-> lag (m - P) d), so that one column
    # index serves every shape: word i, peak q grid steps after the first word -> m = i * _PHASES - q + P
    P = int(rise_k.max())
    m = np.arange(P + n_lag)
    idx = np.clip(m[None, :] - P + rise_k[:, None], 0, n_lag - 1)
    peak_p = np.take_along_axis(resp_p[:len(shapes)], idx, axis=1)
    peak_s = np.take_along_axis(resp_s, idx, axis=1)
    cpk_p = np.take_along_axis(curve_p[:len(shapes)], idx, axis=1)
    cpk_s = np.take_along_axis(curve_s, idx, axis=1)
    cb, cs, csh = (np.array(x, dtype=np.int64) for x in (combo_broad, combo_spike, combo_shift))
    sp_k = np.array([max(1, round(r / d)) for r, _ in spikes], dtype=np.int64)
    if cb.size:
        idx_b = np.clip(m[None, :] - P - csh[:, None] + sp_k[cs - len(shapes)][:, None], 0, n_lag - 1)
        peak_b = np.take_along_axis(resp_p[cs], idx_b, axis=1)
        cpk_b = np.take_along_axis(curve_p[cs], idx_b, axis=1)
    else:
        peak_b = cpk_b = np.zeros((0, m.size))
    out = dict(P=P, L=int(m.size), peak_p=peak_p, peak_s=peak_s, peak_b=peak_b, cpk_p=cpk_p, cpk_s=cpk_s,
               cpk_b=cpk_b, d=d, n_single=n_single, shapes=tuple(shapes), rise_k=rise_k, fall_s=fall_s,
               spike_rise_k=np.concatenate((np.zeros(len(shapes), dtype=int), spike_rise_k)),
               resp_p=resp_p, resp_s=resp_s, curve_p=curve_p, curve_s=curve_s,
               combo_broad=np.array(combo_broad, dtype=np.int64), combo_spike=np.array(combo_spike, dtype=np.int64),
               combo_shift=np.array(combo_shift, dtype=np.int64),
               spike_s=tuple(spikes), n_lag=n_lag)
    for v in out.values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return out


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


@lru_cache(maxsize=8)
def _singles(rise_s, fall_s, count):
    rises, falls = _grid(rise_s, count), _grid(fall_s, count)
    return tuple((r, f, rk, fk) for rk in KINDS for fk in KINDS for r in rises for f in falls)


def _solve_family(U, V, B, z, free_before):
    """Least squares of ``z ~ before + a U + c V + b B`` per candidate (arrays (..., n)), with ``a >= 0`` and
    ``b >= 0`` (non-negative least squares in closed form: the best feasible of the unconstrained solutions on
    each subset) and ``c`` free. ``B is None``: no spike (b = 0), and the pulse must stand above the level
    after it (``a >= c``). Returns (rss, a, c, b, before_shift) where ``before_shift`` is what the level before
    adds to `z`'s mean when it is free (0 otherwise)."""
    n = z.shape[-1]
    if free_before:
        zm = z.mean()
        um, vm = U.mean(-1), V.mean(-1)
        U, V, z0 = U - um[..., None], V - vm[..., None], z - zm
        if B is not None:
            bm = B.mean(-1)
            B = B - bm[..., None]
    else:
        z0 = z
    zz = float(z0 @ z0)
    uu = np.einsum("...n,...n->...", U, U)
    vv = np.einsum("...n,...n->...", V, V)
    uv = np.einsum("...n,...n->...", U, V)
    uz, vz = U @ z0, V @ z0
    eps = 1e-12

    def two(p11, p12, p22, r1, r2):
        det = p11 * p22 - p12 * p12
        det = np.where(np.abs(det) > eps * (p11 * p22 + 1e-30), det, np.nan)
        x1 = (p22 * r1 - p12 * r2) / det
        x2 = (p11 * r2 - p12 * r1) / det
        return x1, x2, zz - x1 * r1 - x2 * r2

    a2, c2, rss2 = two(uu, uv, vv, uz, vz)
    if B is None:
        ok = np.isfinite(rss2) & (a2 >= 0) & (a2 >= c2)
        rss = np.where(ok, np.maximum(rss2, 0.0), np.inf)
        a, c, b = a2, c2, np.zeros_like(a2)
    else:
        bb = np.einsum("...n,...n->...", B, B)
        ub = np.einsum("...n,...n->...", U, B)
        vb = np.einsum("...n,...n->...", V, B)
        bz = B @ z0
        # full 3 x 3 (a, c, b): symmetric inverse by cofactors
        c11, c22, c33 = vv * bb - vb * vb, uu * bb - ub * ub, uu * vv - uv * uv
        c12, c13, c23 = -(uv * bb - vb * ub), uv * vb - vv * ub, -(uu * vb - uv * ub)
        det = uu * c11 + uv * c12 + ub * c13
        det = np.where(np.abs(det) > eps * (uu * vv * bb + 1e-30), det, np.nan)
        a3 = (c11 * uz + c12 * vz + c13 * bz) / det
        c3 = (c12 * uz + c22 * vz + c23 * bz) / det
        b3 = (c13 * uz + c23 * vz + c33 * bz) / det
        rss3 = zz - a3 * uz - c3 * vz - b3 * bz
        cb, bb2, rssb = two(vv, vb, bb, vz, bz)          # a = 0: the spike on a step
        c1 = vz / np.where(vv > eps, vv, np.nan)       # a = b = 0: a step only
        rss1 = zz - c1 * vz
        options = (
            (np.isfinite(rss3) & (a3 >= 0) & (b3 >= 0), rss3, a3, c3, b3),
            (np.isfinite(rss2) & (a2 >= 0), rss2, a2, c2, 0.0),
            (np.isfinite(rssb) & (bb2 >= 0), rssb, 0.0, cb, bb2),
            (np.isfinite(rss1), rss1, 0.0, c1, 0.0),
        )
        rss = np.full(uu.shape, np.inf)
        a, c, b = (np.zeros(uu.shape) for _ in range(3))
        for ok, r, x_a, x_c, x_b in options:
            better = ok & (r < rss)
            rss = np.where(better, r, rss)
            a, c, b = (np.where(better, x, old) for x, old in ((x_a, a), (x_c, c), (x_b, b)))
        rss = np.maximum(rss, 0.0)
    if free_before:
        before = zm - a * um - c * vm - (b * bm if B is not None else 0.0)
    else:
        before = np.zeros_like(a)
    return rss, a, c, b, before


def _fit_candidates(tab, i_word, z, free_before, q):
    """Fit every candidate (single shapes, then combinations) with the broad peak ``q`` grid steps after the
    first word's nominal instant: `q` (K,) shared by all, or (C, K) per candidate. Returns dict of (C, K)."""
    n_single, L, P = tab["n_single"], tab["L"], tab["P"]
    base = i_word * _PHASES + P                                              # (n,)
    broad = tab["combo_broad"]
    n_combo = broad.size
    if q.ndim == 1:
        col = np.clip(base[None, :] - q[:, None], 0, L - 1)                  # (K, n)
        U = tab["peak_p"][:, col]                                             # (S, K, n)
        V = tab["peak_s"][:, col]
        B = tab["peak_b"][:, col]
        Uc, Vc = U[broad], V[broad]
        Us, Vs = U[:n_single], V[:n_single]
        qs, qc = np.broadcast_to(q, (n_single, q.size)), np.broadcast_to(q, (n_combo, q.size))
    else:
        qs, qc = q[:n_single], q[n_single:]
        col_s = np.clip(base[None, None, :] - qs[..., None], 0, L - 1)
        col_c = np.clip(base[None, None, :] - qc[..., None], 0, L - 1)
        rows_s = np.arange(n_single)[:, None, None]
        Us, Vs = tab["peak_p"][rows_s, col_s], tab["peak_s"][rows_s, col_s]
        Uc, Vc = tab["peak_p"][broad[:, None, None], col_c], tab["peak_s"][broad[:, None, None], col_c]
        B = tab["peak_b"][np.arange(n_combo)[:, None, None], col_c]
    parts = [_solve_family(Us, Vs, None, z, free_before)]
    if n_combo:
        parts.append(_solve_family(Uc, Vc, B, z, free_before))
    rss, a, c, b, before = (np.concatenate(x, axis=0) for x in zip(*parts))
    return dict(rss=rss, a=a, c=c, b=b, before=before, q=np.concatenate((qs, qc), axis=0))


def _best_per_candidate(fit):
    j = np.argmin(fit["rss"], axis=1)
    rows = np.arange(fit["rss"].shape[0])
    return {k: np.asarray(v)[rows, j] for k, v in fit.items()}


def _peaks(tab, best, before0, which):
    """The true-force peak (N) of the fitted sum of candidates `which` and its instant (grid steps after the
    first word); NaN for the others."""
    n_single = tab["n_single"]
    a, b, c, q = best["a"], best["b"], best["c"], best["q"]
    peak = np.full(a.shape, np.nan)
    k_peak = np.full(a.shape, np.nan)
    w = which[which < n_single]
    peak[w] = before0 + best["before"][w] + np.maximum(a[w], c[w])
    k_peak[w] = q[w]
    w = which[which >= n_single]
    if w.size:
        broad = tab["combo_broad"][w - n_single]
        f = (a[w, None] * tab["cpk_p"][broad] + c[w, None] * tab["cpk_s"][broad]
             + b[w, None] * tab["cpk_b"][w - n_single])
        j = np.argmax(f, axis=1)
        fmax = f[np.arange(f.shape[0]), j]
        peak[w] = before0 + best["before"][w] + np.maximum(fmax, np.maximum(c[w], 0.0))
        k_peak[w] = q[w] + j - tab["P"]
    return peak, k_peak


def estimate_impact(t_s, force_n, *, rate_hz: float | None = None, baseline_n: float | None,
                    model: Hx711Model = DEFAULT_MODEL, noise_n: float = 2.0, shape_tolerance: float = SHAPE_TOLERANCE,
                    rise_s: tuple = (0.008, 0.120), fall_s: tuple = (0.010, 0.150), shapes_per_axis: int = 4,
                    spikes_s: tuple = SPIKES_S, central: str = "median") -> ImpactEstimate:
    """Estimate an impact's true peak from the HX711 words around it.

    The family (docs/hx711-model.md): (1) single skewed pulses (:func:`skewed_pulse`: a smooth or abrupt
    rise over `rise_s`, a smooth or abrupt fall over `fall_s`, a geometric grid of `shapes_per_axis` each,
    between a level before and a level after that may differ); (2) a broad smooth pulse (rises BROAD_S[0],
    falls BROAD_S[1]) carrying a heel-strike spike (`spikes_s`: smooth (rise, fall) pairs, 12-39 ms in all)
    whose peak sits at SPIKE_AT fractions of the broad pulse's rise or fall from its peak. Given the shape and
    its timing, the levels and the amplitudes are linear: solved in closed form, the two pulse amplitudes
    non-negative (NNLS). The broad peak's instant is searched on a grid of T/24 (T the output period) within
    the largest word's kernel: coarse (every 3rd), then refined.

    Plausible: every shape (best timing) whose RSS is within chi^2(1 dof, 95 %) = 3.84 variances of the best,
    the variance being ``noise_n**2 + (shape_tolerance * (peak - before))**2`` (the true impact is not one of
    our shapes: misfits this small are not evidence against a shape), or the best fit's RSS per degree of
    freedom when larger. The range ``low_n..high_n`` is the min..max of the plausible peaks; `peak_n` is
    their median (``central="median"``, robust to where the family's grid is dense) or the best fit's
    (``"best"``). The true peak is at least the largest word (a word is a weighted mean of the force), so no
    estimate goes below it less twice the noise.

    Parameters
    ----------
    t_s, force_n : array_like, shape (n,)
        Word instants (s) and words (N, total force) from a few words before the rise to at least
        ``order + 2`` after the largest. The words are taken on the chip's regular grid (their instants
        rounded to whole periods from the first: time-stamp jitter does not matter). Only the largest word
        and ``order + 2`` words either side are fitted. Non-finite words are skipped (lost words). Not modified.
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
        Bounds (s) of the single pulses' rise and fall times.
    spikes_s : tuple of (rise, fall)
        The heel spikes (s); empty: single pulses only.

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
    if central not in ("median", "best"):
        raise ValueError(f"central {central!r} is not 'median' or 'best'")
    singles = _singles(tuple(rise_s), tuple(fall_s), shapes_per_axis)
    spikes = tuple((float(r), float(f)) for r, f in spikes_s)
    tab = _family_tables(rate_hz, model, singles, BROAD_S if spikes else ((), ()), spikes, SPIKE_AT)
    period = 1.0 / rate_hz
    d = tab["d"]
    method = (f"fit of skewed pulses{' and heel spikes' if spikes else ''} through a {model.describe()}")

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
    if largest - ref < 5 * noise_n:
        return _unreliable_impact(t, y, i_max, method, "no pulse above the noise (flat input)")

    # the words on the chip's grid: word k is i_word[k] periods after the first, at t0 + i_word[k] T
    i_word = np.round((t - t[0]) / period).astype(np.int64)
    if np.any(np.diff(i_word) < 1):
        raise ValueError("estimate_impact: two words within one output period (is rate_hz right?)")
    t0 = float(np.mean(t - i_word * period))
    if np.max(np.abs(t - t0 - i_word * period)) > 0.25 * period:
        notes.append("word instants are irregular (jitter above a quarter period)")
    before0 = float(baseline_n) if baseline_n is not None else 0.0
    z = y - before0
    free = baseline_n is None

    # the broad peak lies within the largest word's kernel (give or take a period)
    q_max = int(i_word[i_max]) * _PHASES
    q_lo = q_max - int(round((model.span_s(rate_hz) + period) / d))
    q_hi = q_max - int(round(model.delay_s / d)) + _PHASES
    coarse = np.arange(q_lo, q_hi + 1, 3)
    cand = np.arange(tab["n_single"] + tab["combo_broad"].size)
    best = _best_per_candidate(_fit_candidates(tab, i_word, z, free, coarse))
    fine = best["q"][:, None] + np.arange(-2, 3)[None, :]
    best = _best_per_candidate(_fit_candidates(tab, i_word, z, free, fine))

    finite = np.isfinite(best["rss"])
    if not finite.any():
        return _unreliable_impact(t, y, i_max, method, "no shape of the family fits (no pulse)")
    k = int(np.argmin(best["rss"]))
    peaks, k_peak = _peaks(tab, best, before0, np.array([k]))
    rss_best = float(best["rss"][k])
    before_k = before0 + float(best["before"][k])
    height = float(peaks[k] - before_k)
    expected2 = noise_n ** 2 + (shape_tolerance * height) ** 2
    accepted = finite & (best["rss"] <= rss_best + _CHI2_1DOF_95 * max(expected2, rss_best / max(1, n - n_params)))
    rms = math.sqrt(rss_best / n)
    if rss_best > 9 * expected2 * n:
        # a misfit far above noise and tolerance is the impact's shape, not noise: the RSS differences
        # between shapes then say little, so every shape fitting at most twice as badly (RMS) stays plausible
        notes.append(f"the family fits poorly (RMS misfit {rms:.0f} N): the range is wide")
        accepted |= finite & (best["rss"] <= 4 * rss_best)
    floor = largest - 2 * noise_n
    plausible = _peaks(tab, best, before0, np.flatnonzero(accepted))[0][accepted]
    if central == "median":                 # singles and spiked pulses weigh half each, however many
        combo = np.flatnonzero(accepted) >= tab["n_single"]
        w = np.where(combo, 1.0 / max(1, combo.sum()), 1.0 / max(1, (~combo).sum()))
        order = np.argsort(plausible)
        cum = np.cumsum(w[order]) / w.sum()
        central_n = float(plausible[order][np.searchsorted(cum, 0.5)])
    else:
        central_n = float(peaks[k])
    if lost:
        notes.append(f"{lost} lost words skipped")
    shape = int(cand[k]) if cand[k] < tab["n_single"] else int(tab["combo_broad"][cand[k] - tab["n_single"]])
    r_s, f_s, rk, fk = tab["shapes"][shape]
    rise = float(tab["rise_k"][shape] * d)
    kinds = (rk, fk)
    if cand[k] >= tab["n_single"]:
        sp = tab["combo_spike"][cand[k] - tab["n_single"]] - len(tab["shapes"])
        kinds = (rk, f"{fk} + spike {1e3 * sum(tab['spike_s'][sp]):.0f} ms")
    low, high = max(float(plausible.min()), floor), max(float(plausible.max()), floor)
    return ImpactEstimate(
        peak_n=min(max(central_n, floor, low), high), t_peak_s=t0 + float(k_peak[k]) * d,
        low_n=low, high_n=high,
        onset_s=t0 + float(best["q"][k]) * d - rise, before_n=before_k,
        after_n=before_k + float(best["c"][k]), rise_s=rise, fall_s=float(f_s), shape=kinds,
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
        The flight threshold (N) whose crossing by the true force is wanted (docs/contracts.md: about 20 N).
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

"""Small helpers the detectors share: runs of a mask, threshold crossings, sample times, rolling statistics,
and the labels and formulas of the numbers every event reports (a peak's method, a loading rate, a flight
height). Used within forceplate.signal."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

STANDARD_GRAVITY_M_S2 = 9.80665
ADCS = ("ideal", "hx711")


def as_force(force_n) -> np.ndarray:
    """The caller's force as a 1-D float64 array (a view when possible: read, never written)."""
    force_n = np.asarray(force_n, dtype=np.float64)
    if force_n.ndim != 1:
        raise ValueError(f"force_n must be one-dimensional (total force), not shape {force_n.shape}")
    return force_n


MAX_RATE_HZ = 1e6         # no load-cell amplifier samples faster; far beyond, seconds in samples overflow an int


def check_rate(rate_hz) -> float:
    rate_hz = float(rate_hz)
    if not math.isfinite(rate_hz) or rate_hz <= 0:
        raise ValueError(f"sample rate {rate_hz!r} Hz is not a positive number")
    if rate_hz > MAX_RATE_HZ:
        raise ValueError(f"sample rate {rate_hz:g} Hz is above {MAX_RATE_HZ:g} Hz: no force plate samples that fast")
    return rate_hz


def check_adc(adc: str) -> str:
    if adc not in ADCS:
        raise ValueError(f"adc {adc!r} is not one of {', '.join(ADCS)}")
    return adc


def checked_trace(force_n, rate_hz, t_s=None, adc: str = "ideal") -> tuple[np.ndarray, float, np.ndarray]:
    """What every detector checks first: (force as a float64 view, the rate in Hz, the sample times in s)."""
    force_n = as_force(force_n)
    rate_hz = check_rate(rate_hz)
    check_adc(adc)
    return force_n, rate_hz, sample_times(force_n.shape[0], rate_hz, t_s)


def sample_times(n: int, rate_hz: float, t_s=None) -> np.ndarray:
    """Sample times (s): the given ``t_s``, else ``i / rate_hz``."""
    if t_s is None:
        return np.arange(n, dtype=np.float64) / rate_hz
    t_s = np.asarray(t_s, dtype=np.float64)
    if t_s.shape != (n,):
        raise ValueError(f"t_s has shape {t_s.shape}, force_n has {n} samples")
    return t_s


def sample_index(t_s: np.ndarray, time_s: float) -> int:
    """The index of the sample at `time_s`, one of the increasing sample times `t_s` (an event's peak sample)."""
    return int(np.searchsorted(t_s, time_s))


def time_at(t_s: np.ndarray, index: float) -> float:
    """The time (s) of a fractional sample index, linear between samples."""
    i = int(np.floor(index))
    if i >= t_s.shape[0] - 1:
        return float(t_s[-1])
    frac = index - i
    return float(t_s[i] + frac * (t_s[i + 1] - t_s[i]))


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of every run of True in a boolean array."""
    mask = np.asarray(mask, dtype=bool)
    n = mask.shape[0]
    if n == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty
    edges = np.flatnonzero(mask[1:] != mask[:-1]) + 1       # each index where a run starts or ends
    if mask[0]:
        edges = np.concatenate((np.zeros(1, dtype=edges.dtype), edges))
    if mask[-1]:
        edges = np.concatenate((edges, np.full(1, n, dtype=edges.dtype)))
    return edges[::2], edges[1::2]


def crossing(force_n: np.ndarray, i: int, level: float) -> float:
    """Fractional index where the force crosses ``level`` between samples i and i + 1 (linear)."""
    a, b = force_n[i], force_n[i + 1]
    if a == b:
        return float(i)
    frac = (level - a) / (b - a)
    return i + float(min(1.0, max(0.0, frac)))


@dataclass(frozen=True)
class Rolling:
    """Mean and SD (N) of every window of `window` samples of one trace (index = window start).

    Computed once per analysis (:func:`rolling_stats`) and handed to the detectors that weigh on quiet
    windows (body weight, a jump's impulse baseline), which would otherwise each compute the same sums.
    """

    window: int
    mean_n: np.ndarray
    sd_n: np.ndarray

    def fits(self, n: int, window: int) -> bool:
        """Whether these can be the statistics of `window`-sample windows of an `n`-sample trace."""
        return self.window == window and self.mean_n.shape[0] == (n - window + 1 if 2 <= window <= n else 0)


def rolling_stats(force_n: np.ndarray, window: int) -> Rolling:
    """Mean and SD (N) of every window of ``window`` samples (index = window start).

    Cumulative sums of the force minus its median (so the squares do not lose precision on long traces).
    """
    n = force_n.shape[0]
    if window < 2 or n < window:
        empty = np.empty(0)
        return Rolling(window, empty, empty)
    ref = median(force_n)
    x = force_n - ref
    c1 = np.empty(n + 1)
    c1[0] = 0.0
    np.cumsum(x, out=c1[1:])
    c2 = np.empty(n + 1)
    c2[0] = 0.0
    np.cumsum(np.multiply(x, x, out=x), out=c2[1:])
    mean = c1[window:] - c1[:-window]
    mean /= window
    var = c2[window:] - c2[:-window]
    var /= window
    var -= mean * mean
    np.maximum(var, 0.0, out=var)
    var *= window
    var /= window - 1
    mean += ref
    return Rolling(window, mean, np.sqrt(var, out=var))


def median(values: np.ndarray) -> float:
    """``float(np.median(values))`` of a 1-D float array, the same number without np.median's generic
    machinery (a fixed cost that counts when a trace is analysed 10 times a second): NaN if any is NaN."""
    n = values.shape[0]
    if n == 0:
        return float(np.median(values))          # NaN, with numpy's warning
    half = n // 2
    kth = [half - 1, half, n - 1] if n % 2 == 0 else [half, n - 1]
    part = np.partition(values, kth)               # NaN sorts last, as in np.median
    if math.isnan(part[-1]):
        return math.nan
    if n % 2:
        return float(part[half])
    return float((part[half - 1] + part[half]) / 2)


def window_ok(valid, window: int, count: int) -> np.ndarray:
    """Which of the `count` windows of `window` samples hold only valid samples (all of them without `valid`)."""
    if valid is None:
        return np.ones(count, dtype=bool)
    bad = np.concatenate(([0], np.cumsum(~np.asarray(valid, dtype=bool))))
    return (bad[window:] - bad[:-window]) == 0


def integrate(values: np.ndarray, start: int, end_index: float) -> float:
    """Trapezoid integral (value x samples) of linearly interpolated samples from index ``start`` to the
    fractional index ``end_index``; divide by the rate for value x seconds."""
    last = int(np.floor(end_index))
    total = 0.0
    if last > start:
        seg = values[start:last + 1]
        total = float(seg.sum() - 0.5 * (seg[0] + seg[-1]))
    frac = end_index - last
    if frac > 0 and last + 1 < values.shape[0]:
        a, b = values[last], values[last + 1]
        total += frac * (a + 0.5 * frac * (b - a))
    return total


def flight_height_m(flight_s: float) -> float:
    """Jump height (m) from flight time (s): a body leaving and landing at the same height flies
    h = g t^2 / 8 (up for t / 2 at v = g t / 2, h = v^2 / 2g)."""
    return STANDARD_GRAVITY_M_S2 * flight_s ** 2 / 8


def largest_sample_method(window_s: float, what: str) -> str:
    """The ``peak_method`` of a peak that is the largest sample within `window_s` (s) of `what` (a landing,
    a touch-down)."""
    return f"largest sample within {window_s:g} s of the {what}"


def mean_loading_rate(rise_n: float, rise_s: float, body_weight_n: float | None, onset: str):
    """Mean loading rate (BW/s) of a rise of `rise_n` (N) over `rise_s` (s) from `onset` (named in the method)
    to the peak, and its ``loading_rate_method``; None where the data cannot resolve it."""
    if body_weight_n is None:
        return None, "no body weight"
    if rise_s <= 0:
        return None, f"peak at the {onset} sample: rise not resolved"
    return rise_n / body_weight_n / rise_s, f"mean rise from the {onset} instant to the peak"


def moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over `width` samples, shrinking at the ends (no padding values invented)."""
    if width <= 1:
        return values.copy()
    n = values.shape[0]
    c = np.empty(n + 1)
    c[0] = 0.0
    np.cumsum(values, out=c[1:])
    half = width // 2
    # sample i averages [i - half, i - half + width) clipped to the trace: whole windows in the middle
    first, stop = half, n - width + half + 1         # the samples whose window lies wholly inside
    if stop <= first:
        return _window_means(c, np.arange(n), half, width, n)
    out = np.empty(n)
    np.subtract(c[width:], c[:n + 1 - width], out=out[first:stop])
    out[first:stop] /= width
    out[:first] = _window_means(c, np.arange(first), half, width, n)
    out[stop:] = _window_means(c, np.arange(stop, n), half, width, n)
    return out


def _window_means(c: np.ndarray, i: np.ndarray, half: int, width: int, n: int) -> np.ndarray:
    """Means of the windows [i - half, i - half + width) clipped to [0, n), from cumulative sums `c`."""
    lo = np.minimum(np.maximum(i - half, 0), n)
    hi = np.minimum(np.maximum(i - half + width, 0), n)
    return (c[hi] - c[lo]) / (hi - lo)


# --- the quick verdict of a typed set -------------------------------------------------------------------
# In a heel-drop or jump set a peak is judged as soon as the force has fallen from it for a short while: the
# first sample of a stretch that no sample within the next `verdict_after_s` exceeds. Live and offline
# analysis apply the same rule, so a set's export reproduces what the live page said.
def first_dominant(force_n: np.ndarray, lo: int, hi: int, k: int) -> tuple[int, bool]:
    """The first index ``i`` in ``[lo, hi)`` whose sample no sample of ``i + 1 .. i + k`` exceeds, and
    whether all those ``k`` samples exist (the peak is decided). Falls back to the largest sample of the
    stretch when none qualifies (then decided only if the data reach ``k`` past it)."""
    n = force_n.shape[0]
    ahead = np.full(hi - lo + k, -np.inf)
    part = force_n[lo + 1:min(n, hi + k)]
    ahead[:part.size] = part
    later_max = np.lib.stride_tricks.sliding_window_view(ahead, k)[:hi - lo].max(axis=1)
    ok = np.flatnonzero(force_n[lo:hi] >= later_max)
    i = lo + int(ok[0]) if ok.size else lo + int(np.argmax(force_n[lo:hi]))
    return i, i + k < n

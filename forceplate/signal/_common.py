"""Small helpers the detectors share: runs of a mask, threshold crossings, sample times. Private."""
from __future__ import annotations

import numpy as np

STANDARD_GRAVITY_M_S2 = 9.80665
ADCS = ("ideal", "hx711")
HX711_FILTER_PERIODS = 4   # the HX711 settles in 4 output periods (datasheet): its filter spans about that


def as_force(force_n) -> np.ndarray:
    """The caller's force as a 1-D float64 array (a view when possible: read, never written)."""
    force_n = np.asarray(force_n, dtype=np.float64)
    if force_n.ndim != 1:
        raise ValueError(f"force_n must be one-dimensional (total force), not shape {force_n.shape}")
    return force_n


def check_rate(rate_hz) -> float:
    rate_hz = float(rate_hz)
    if not np.isfinite(rate_hz) or rate_hz <= 0:
        raise ValueError(f"sample rate {rate_hz!r} Hz is not a positive number")
    return rate_hz


def check_adc(adc: str) -> str:
    if adc not in ADCS:
        raise ValueError(f"adc {adc!r} is not one of {', '.join(ADCS)}")
    return adc


def sample_times(n: int, rate_hz: float, t_s=None) -> np.ndarray:
    """Sample times (s): the given ``t_s``, else ``i / rate_hz``."""
    if t_s is None:
        return np.arange(n, dtype=np.float64) / rate_hz
    t_s = np.asarray(t_s, dtype=np.float64)
    if t_s.shape != (n,):
        raise ValueError(f"t_s has shape {t_s.shape}, force_n has {n} samples")
    return t_s


def time_at(t_s: np.ndarray, index: float) -> float:
    """The time (s) of a fractional sample index, linear between samples."""
    i = int(np.floor(index))
    if i >= t_s.shape[0] - 1:
        return float(t_s[-1])
    frac = index - i
    return float(t_s[i] + frac * (t_s[i + 1] - t_s[i]))


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of every run of True in a boolean array."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def crossing(force_n: np.ndarray, i: int, level: float) -> float:
    """Fractional index where the force crosses ``level`` between samples i and i + 1 (linear)."""
    a, b = force_n[i], force_n[i + 1]
    if a == b:
        return float(i)
    frac = (level - a) / (b - a)
    return i + float(min(1.0, max(0.0, frac)))


def rolling_mean_sd(force_n: np.ndarray, window: int, valid: np.ndarray | None = None):
    """Mean and SD (N) of every window of ``window`` samples (index = window start), and whether it is valid.

    Cumulative sums of the force minus its median (so the squares do not lose precision on long traces).
    """
    n = force_n.shape[0]
    if window < 2 or n < window:
        empty = np.empty(0)
        return empty, empty, np.empty(0, dtype=bool)
    ref = float(np.median(force_n))
    x = force_n - ref
    c1 = np.concatenate(([0.0], np.cumsum(x)))
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    mean = s1 / window
    var = np.maximum(s2 / window - mean * mean, 0.0) * window / (window - 1)
    ok = np.ones(mean.shape[0], dtype=bool)
    if valid is not None:
        bad = np.concatenate(([0], np.cumsum(~np.asarray(valid, dtype=bool))))
        ok = (bad[window:] - bad[:-window]) == 0
    return mean + ref, np.sqrt(var), ok


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

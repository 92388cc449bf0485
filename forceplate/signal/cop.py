"""Centre of pressure (CoP) from the four corner load cells, lean during impacts, and sway while standing.

A rigid plate on four load cells at known points: the moments about both horizontal axes balance, so the
point where the total vertical force acts (the CoP) is the force-weighted mean of the corner positions,
``x = sum(F_i x_i) / sum(F_i)``, ``y = sum(F_i y_i) / sum(F_i)``. Coordinates are metres from the plate's
centre, x to the person's right, y toward the toes (the simulator's convention). Only the vertical forces
are measured, so this is exact for vertical loading and ignores the small moment of horizontal forces about
the load cells' height above the surface.

Real recordings with one total (or one plate per foot) have no corners and no CoP.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .common import check_rate, sample_times

PLATE_WIDTH_M = 0.50
PLATE_DEPTH_M = 0.40
# Corner positions (x, y) in metres, in channel order: front-left, front-right, back-left, back-right. The
# same as forceplate.device.sim.simulator.CORNERS_M (a test checks they agree); give your own plate's with
# `corners_m`.
DEFAULT_CORNERS_M = np.array([(-PLATE_WIDTH_M / 2, PLATE_DEPTH_M / 2), (PLATE_WIDTH_M / 2, PLATE_DEPTH_M / 2),
                              (-PLATE_WIDTH_M / 2, -PLATE_DEPTH_M / 2), (PLATE_WIDTH_M / 2, -PLATE_DEPTH_M / 2)])
MIN_TOTAL_N = 20.0          # the contract's empty-plate (flight) threshold: below it the CoP is noise / 0
LEAN_THRESHOLD_M = 0.035    # a configurable default (the project's choice: 3-4 cm), not a norm
# Chi-square quantile with 2 degrees of freedom: P(chi2_2 <= q) = p  <=>  q = -2 ln(1 - p).
_CHI2_2DOF_95 = -2.0 * math.log(0.05)       # 5.9915


@dataclass(frozen=True)
class CentreOfPressure:
    """Centre of pressure per sample.

    Attributes
    ----------
    x_m, y_m : ndarray, shape (n,)
        CoP in metres (m) from the plate's centre (x right, y toward the toes); NaN where the total force is
        below ``min_total_n`` or a corner is not finite.
    total_n : ndarray, shape (n,)
        Sum of the corners, newtons (N).
    """

    x_m: np.ndarray
    y_m: np.ndarray
    total_n: np.ndarray


def centre_of_pressure(corner_force_n, corners_m=DEFAULT_CORNERS_M, *,
                       min_total_n: float = MIN_TOTAL_N) -> CentreOfPressure:
    """Centre of pressure of every sample from the corner forces.

    ``x = sum_i F_i x_i / sum_i F_i`` and the same for y (moment balance of a rigid plate on point supports).

    Parameters
    ----------
    corner_force_n : array_like, shape (n, k)
        Vertical force on each load cell in newtons (N), one column per corner, in the order of `corners_m`.
        Not modified.
    corners_m : array_like, shape (k, 2)
        Position (x, y) of each load cell in metres (m). Default: the simulator's plate, 0.50 m wide and
        0.40 m deep, corners front-left, front-right, back-left, back-right.
    min_total_n : float
        Where the total is below this (N), the CoP is NaN: an empty plate has none.

    Returns
    -------
    CentreOfPressure
    """
    forces = np.asarray(corner_force_n, dtype=np.float64)
    corners = np.asarray(corners_m, dtype=np.float64)
    if corners.ndim != 2 or corners.shape[1] != 2 or corners.shape[0] < 3:
        raise ValueError(f"corners_m must be (k, 2) positions of at least 3 load cells, not {corners.shape}")
    if forces.ndim != 2 or forces.shape[1] != corners.shape[0]:
        raise ValueError(f"corner_force_n has shape {forces.shape}: want (n, {corners.shape[0]}), one column "
                         f"per corner")
    total = forces.sum(axis=1)
    ok = np.isfinite(total) & (total >= min_total_n)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(ok, forces @ corners[:, 0] / total, np.nan)
        y = np.where(ok, forces @ corners[:, 1] / total, np.nan)
    return CentreOfPressure(x_m=x, y_m=y, total_n=total)


@dataclass(frozen=True)
class Lean:
    """Where the CoP was at one impact, compared with quiet standing.

    Attributes
    ----------
    t_peak_s : float
        The impact's peak (s).
    dx_m, dy_m : float or None
        CoP at the impact minus the quiet-standing CoP, metres (m); + is right (x) and forward (y). None when
        either CoP is unknown (empty plate, no quiet window).
    displacement_m : float or None
        sqrt(dx^2 + dy^2), metres (m).
    direction : str or None
        "forward", "back", "left", "right" or a pair ("forward-left"): each axis whose displacement exceeds
        the threshold; "centred" when none does; None when unknown.
    is_leaning : bool or None
        True when either axis exceeds the threshold.
    method : str
        How the CoP at the impact and the reference were taken, and the threshold.
    """

    t_peak_s: float
    dx_m: float | None
    dy_m: float | None
    displacement_m: float | None
    direction: str | None
    is_leaning: bool | None
    method: str


def lean_during_impacts(cop: CentreOfPressure, t_s, impact_times_s, *, quiet_window_s,
                        threshold_m: float = LEAN_THRESHOLD_M, window_s: float = 0.05) -> list[Lean]:
    """Flag leaning forward, back or sideways at each impact (e.g. a heel drop).

    The CoP at an impact is the force-weighted mean CoP, ``sum(F x) / sum(F)``, of the samples within
    ``window_s / 2`` of its peak (the CoP of the summed load, which the big samples dominate). The reference
    is the mean CoP over the quiet-standing window (e.g. the body-weight window,
    :class:`~forceplate.signal.bodyweight.BodyWeight` ``start_s``-``end_s``). An axis leans when its
    displacement exceeds `threshold_m`.

    Parameters
    ----------
    cop : CentreOfPressure
        From :func:`centre_of_pressure`.
    t_s : array_like, shape (n,)
        Sample times in seconds (s).
    impact_times_s : iterable of float
        Peak times (s) of the impacts.
    quiet_window_s : (float, float) or None
        Start and end (s) of quiet standing: the reference CoP. None: every lean is unknown.
    threshold_m : float
        Displacement (m) per axis beyond which the person leans. Default 0.035 m: a configurable default
        chosen for this project (3-4 cm), not a published norm.
    window_s : float
        Width (s) of the window around each peak.

    Returns
    -------
    list of Lean, one per impact, in the order given.
    """
    t_s = np.asarray(t_s, dtype=np.float64)
    if t_s.shape != cop.x_m.shape:
        raise ValueError(f"t_s has shape {t_s.shape}, the CoP {cop.x_m.shape}")
    ref = None
    if quiet_window_s is not None:
        a, b = quiet_window_s
        m = (t_s >= a) & (t_s <= b) & np.isfinite(cop.x_m)
        if m.any():
            ref = (float(np.mean(cop.x_m[m])), float(np.mean(cop.y_m[m])))
    how = (f"force-weighted mean CoP within {window_s / 2:g} s of the peak minus the mean CoP of quiet standing; "
           f"leaning beyond {threshold_m * 100:g} cm per axis")
    out = []
    for t_peak in impact_times_s:
        t_peak = float(t_peak)
        m = (np.abs(t_s - t_peak) <= window_s / 2) & np.isfinite(cop.x_m)
        if ref is None or not m.any():
            why = "no quiet standing to compare with" if ref is None else "no CoP at the impact (empty plate)"
            out.append(Lean(t_peak, None, None, None, None, None, why))
            continue
        w = cop.total_n[m]
        dx = float(np.sum(w * cop.x_m[m]) / np.sum(w)) - ref[0]
        dy = float(np.sum(w * cop.y_m[m]) / np.sum(w)) - ref[1]
        parts = []
        if abs(dy) > threshold_m:
            parts.append("forward" if dy > 0 else "back")
        if abs(dx) > threshold_m:
            parts.append("right" if dx > 0 else "left")
        out.append(Lean(t_peak, dx, dy, math.hypot(dx, dy), "-".join(parts) or "centred", bool(parts), how))
    return out


@dataclass(frozen=True)
class Sway:
    """Sway of the centre of pressure over a window of quiet standing (the classic posturography measures).

    Attributes
    ----------
    duration_s : float
        Length of the window (s), first to last sample used.
    path_length_m : float
        Total distance the CoP travelled, sum of |CoP[i+1] - CoP[i]| (m).
    mean_velocity_m_s : float
        path_length_m / duration_s (m/s).
    rms_m : float
        Root mean square distance from the mean CoP (m).
    rms_x_m, rms_y_m : float
        RMS about the mean along x (side to side) and y (front to back), metres (m).
    ellipse_area_m2 : float
        Area of the 95 % confidence ellipse, pi * chi2_2(0.95) * sqrt(det(cov)) with chi2_2(0.95) = 5.991 (m^2).
    samples : int
        Samples used.
    method : str
        The window, the filter (if any) and the formulas.
    """

    duration_s: float
    path_length_m: float
    mean_velocity_m_s: float
    rms_m: float
    rms_x_m: float
    rms_y_m: float
    ellipse_area_m2: float
    samples: int
    method: str


def sway_measures(cop_x_m, cop_y_m, rate_hz, *, t_s=None, window_s=None, lowpass_hz: float | None = None) -> Sway:
    """Path length, mean velocity, RMS and 95 % ellipse area of the CoP over quiet standing.

    Definitions as in Prieto et al. (1996), IEEE Trans Biomed Eng 43(9):956-966, with the ellipse from the
    chi-square quantile (2 degrees of freedom, 95 %): area = pi x 5.991 x sqrt(s_x^2 s_y^2 - s_xy^2), the
    large-sample form of their F-based formula. Covariance and RMS use the population formulas (divide by n).

    Path length and velocity grow with sensor noise and sample rate (every noisy step adds to the path);
    `lowpass_hz` smooths first with a zero-phase Butterworth (2nd order, run forward and back: -6 dB at the
    cut-off). Posturography commonly low-passes at 5-10 Hz; the default is no filter, and ``method`` says which.

    Parameters
    ----------
    cop_x_m, cop_y_m : array_like, shape (n,)
        CoP in metres (m), e.g. from :func:`centre_of_pressure`. Not modified. NaN samples (empty plate) are
        left out of every measure, and a step across a NaN is not part of the path.
    rate_hz : float
        Sample rate in hertz (Hz).
    t_s : array_like, shape (n,), optional
        Sample times (s); default ``i / rate_hz``.
    window_s : (float, float), optional
        Start and end (s) of the quiet-standing window; default the whole trace.
    lowpass_hz : float, optional
        Cut-off (Hz) of the low-pass applied before measuring; None: no filter.

    Returns
    -------
    Sway
        Every measure NaN (``samples`` < 2) when the window holds fewer than two CoP samples.
    """
    rate_hz = check_rate(rate_hz)
    x = np.asarray(cop_x_m, dtype=np.float64)
    y = np.asarray(cop_y_m, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"cop_x_m {x.shape} and cop_y_m {y.shape} must be matching 1-D arrays")
    t_s = sample_times(x.shape[0], rate_hz, t_s)
    keep = np.ones(x.shape[0], dtype=bool) if window_s is None else (t_s >= window_s[0]) & (t_s <= window_s[1])
    x, y, t = x[keep], y[keep], t_s[keep]
    where = ("whole trace" if window_s is None else f"{window_s[0]:.2f}-{window_s[1]:.2f} s")
    if lowpass_hz is not None:
        x, y = _lowpass(x, rate_hz, lowpass_hz), _lowpass(y, rate_hz, lowpass_hz)
        where += f", zero-phase Butterworth low-pass {lowpass_hz:g} Hz"
    else:
        where += ", unfiltered"
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(np.count_nonzero(ok))
    method = (f"{where}; path = sum of CoP steps, velocity = path / duration, RMS about the mean, "
              f"95 % ellipse = pi x 5.991 x sqrt(det cov)")
    if n < 2:
        nan = float("nan")
        return Sway(0.0, nan, nan, nan, nan, nan, nan, n, method + " (fewer than 2 CoP samples)")
    steps = np.hypot(np.diff(x), np.diff(y))
    path = float(np.sum(steps[np.isfinite(steps)]))            # a step across a NaN is not part of the path
    xo, yo = x[ok], y[ok]
    duration = float(t[ok][-1] - t[ok][0])
    dx, dy = xo - xo.mean(), yo - yo.mean()
    sxx, syy, sxy = float(np.mean(dx * dx)), float(np.mean(dy * dy)), float(np.mean(dx * dy))
    area = math.pi * _CHI2_2DOF_95 * math.sqrt(max(sxx * syy - sxy * sxy, 0.0))
    return Sway(duration_s=duration, path_length_m=path,
                mean_velocity_m_s=path / duration if duration > 0 else float("nan"),
                rms_m=math.sqrt(sxx + syy), rms_x_m=math.sqrt(sxx), rms_y_m=math.sqrt(syy), ellipse_area_m2=area,
                samples=n, method=method)


def _lowpass(values: np.ndarray, rate_hz: float, cutoff_hz: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth low-pass (bilinear transform, pre-warped), forward then backward.

    Runs of finite samples are filtered separately (NaN gaps stay NaN). Each run is padded at both ends by
    its odd reflection (as scipy's filtfilt does), so a slow signal passes without start-up transients.
    """
    if not 0 < cutoff_hz < rate_hz / 2:
        raise ValueError(f"lowpass_hz {cutoff_hz:g} must be between 0 and half the rate ({rate_hz / 2:g} Hz)")
    k = math.tan(math.pi * cutoff_hz / rate_hz)
    norm = 1.0 / (1.0 + math.sqrt(2.0) * k + k * k)
    b0 = k * k * norm
    b = (b0, 2.0 * b0, b0)
    a = (2.0 * (k * k - 1.0) * norm, (1.0 - math.sqrt(2.0) * k + k * k) * norm)
    out = np.full_like(values, np.nan)
    finite = np.isfinite(values)
    padded_edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.astype(np.int8), [0]))))
    for lo, hi in zip(padded_edges[::2], padded_edges[1::2]):
        seg = values[lo:hi]
        pad = min(seg.shape[0] - 1, int(3 * rate_hz / cutoff_hz))
        ext = np.concatenate((2 * seg[0] - seg[pad:0:-1], seg, 2 * seg[-1] - seg[-2:-pad - 2:-1])) if pad else seg
        ext = _biquad(_biquad(ext, b, a)[::-1], b, a)[::-1]
        out[lo:hi] = ext[pad:pad + seg.shape[0]]
    return out


def _biquad(x: np.ndarray, b, a) -> np.ndarray:
    """Direct form II transposed, started at steady state for x[0] (a constant input passes unchanged)."""
    b0, b1, b2 = b
    a1, a2 = a
    y = np.empty_like(x)
    # steady state for a constant input x0: y = x0 (unit DC gain)
    x0 = float(x[0])
    z1 = x0 - b0 * x0
    z2 = b2 * x0 - a2 * x0
    for i, xi in enumerate(x.tolist()):
        yi = b0 * xi + z1
        z1 = b1 * xi - a1 * yi + z2
        z2 = b2 * xi - a2 * yi
        y[i] = yi
    return y

"""Sit-to-stand reps with the chair off the plate and the feet on it: sit-downs, rises, tempo and power.

Seated, the chair carries most of the body and the plate reads only what the feet press (typically 0.1-0.4
body weights, BW). Rising moves the whole weight onto the feet: the force climbs from the seated level, often
overshoots 1 BW (1.3-1.6 BW in a fast rise) and settles at 1 BW standing. Sitting down is the reverse.

A *seated stretch* is at least `min_seated_s` of force (moving average over `smooth_s`) between the empty-plate
threshold (20 N, the contract's flight threshold) and `seated_max_bw`. That is what tells a sit-to-stand from
the other movements: a jump's countermovement or a heel drop's unloading dips below 1 BW for well under half
a second, and a jump's flight or a step off empties the plate; a stretch that begins or ends on an empty plate
(stepping on or off one foot at a time) is never a seated stretch.

Definitions (times interpolated linearly between samples):

- seated level: the median force of the seated stretch's samples whose smoothed force lies within
  `seated_band_bw` of the stretch's 10th percentile (N): the stretch's ends are still the sit-down and the rise.
- *leaving the seat*: the last instant before the rise's peak at which the force was at or below the seated
  level + `seated_band_bw` BW. *Reaching the seat*: the first instant the force falls to that level.
- *standing*: force within ``1 +- standing_band_bw`` BW. *Settled at standing*: the first instant after which
  the force stays in that band for `settle_s`. *Leaving standing*: the last instant before the sit-down at
  which the force was at or above ``1 - standing_band_bw`` BW.
- rise time = settled at standing - leaving the seat; lowering time = reaching the seat - leaving standing.
- peak: the largest force from leaving the seat until `settle_s` after settling.

A threshold on a smooth movement cuts its gentle ends, so a measured time is shorter than the movement's full
extent: a half-cosine sit-down of 2.5 s from 1 BW to a 0.25 BW seat measures about 1.7 s with the defaults.

Tempo: high-velocity ("power") training asks for the rise as fast as possible and a controlled sit-down. The
verdict limits, rise at most `fast_rise_s` (1 s) and lowering at least `slow_lowering_s` (2 s), are this
project's configurable defaults, not published cut-offs.

Power (only when body height and chair height are given): the plate cannot see the chair, so while seated the
net force on the body is unknown and velocity cannot be integrated from the force until seat-off. We therefore
report the *mean* power of the rise, after the sit-to-stand muscle power test of Alcazar et al. (2018, Exp
Gerontol 112:38-43): P = 0.9 m g (0.5 body height - chair height) / t, with the centre of mass rising by about
half the body height minus the chair height, 0.9 m the mass above the shanks, and t our rise time (their test
takes a tenth of the five-rep time instead).

The fast rise's peak is also an ``impact`` event of ``forceplate analyze`` when it reaches ``--min-peak-bw``:
docs/contracts.md section 1 defines an impact as any force peak of at least that size that is not a jump's landing,
and the simulator's ground truth counts it so. The sit-to-stand list adds what the impact cannot say.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import STANDARD_GRAVITY_M_S2, as_force, check_rate, crossing, moving_average, runs, sample_times, time_at

EMPTY_PLATE_N = 20.0            # docs/contracts.md section 1: flight (an empty plate) is force below about 20 N
FAST_RISE_S = 1.0               # tempo defaults (configurable): "fast up" ...
SLOW_LOWERING_S = 2.0           # ... "slow down"
ALCAZAR_MASS_FRACTION = 0.9     # Alcazar et al. 2018: the mass that rises (all but the shanks and feet)


@dataclass(frozen=True)
class SitToStand:
    """One visit to the chair: the sit-down onto it and the rise from it. Times in seconds (s) on the trace's
    clock, forces in newtons (N), ``*_bw`` in body weights. Either half may be None: a recording that starts
    seated has no sit-down, one that ends seated (or a rise that never settles at standing) no rise.

    Attributes
    ----------
    seated_start_s, seated_end_s : float
        The seated stretch (smoothed force at or below ``seated_max_bw``).
    seated_n, seated_bw : float
        Seated level (see the module docstring).
    lowering_start_s, lowering_end_s, lowering_s : float or None
        Leaving standing, reaching the seat, and the time between (the sit-down).
    rise_start_s, rise_end_s, rise_s : float or None
        Leaving the seat, settled at standing, and the time between (the rise).
    t_peak_s, peak_n, peak_bw : float or None
        Largest force of the rise.
    is_fast_rise : bool or None
        rise_s <= fast_rise_s.
    is_slow_lowering : bool or None
        lowering_s >= slow_lowering_s.
    tempo : str or None
        "fast up, slow down" when both hold; else what is missing ("rise slower than 1 s", "sit-down faster than
        2 s", both joined by "; "); None unless both halves were seen.
    mean_power_w, mean_power_w_kg : float or None
        Mean power of the rise (W, W/kg of body mass); None unless body and chair height were given.
    power_method : str
        The formula, or why there is no power.
    """

    seated_start_s: float
    seated_end_s: float
    seated_n: float
    seated_bw: float
    lowering_start_s: float | None
    lowering_end_s: float | None
    lowering_s: float | None
    rise_start_s: float | None
    rise_end_s: float | None
    rise_s: float | None
    t_peak_s: float | None
    peak_n: float | None
    peak_bw: float | None
    is_fast_rise: bool | None
    is_slow_lowering: bool | None
    tempo: str | None
    mean_power_w: float | None
    mean_power_w_kg: float | None
    power_method: str

    @property
    def has_rise(self) -> bool:
        return self.rise_s is not None


def detect_sit_to_stand(force_n, rate_hz, *, body_weight_n: float, t_s=None, seated_max_bw: float = 0.75,
                        min_seated_s: float = 0.5, smooth_s: float = 0.1, seated_band_bw: float = 0.05,
                        standing_band_bw: float = 0.05, settle_s: float = 0.3, max_rise_s: float = 3.0,
                        max_lowering_s: float = 8.0, fast_rise_s: float = FAST_RISE_S,
                        slow_lowering_s: float = SLOW_LOWERING_S, body_height_m: float | None = None,
                        chair_height_m: float | None = None,
                        empty_plate_n: float = EMPTY_PLATE_N) -> list[SitToStand]:
    """Find the sit-downs and rises of sit-to-stand exercise (chair off the plate, feet on it).

    See the module docstring for the exact start and end of each phase.

    Parameters
    ----------
    force_n : array_like, shape (n,)
        Total vertical force in newtons (N). Not modified. NaN samples (lost words) are bridged linearly.
    rate_hz : float
        Sample rate in hertz (Hz).
    body_weight_n : float
        Body weight (N): standing is 1 BW.
    t_s : array_like, shape (n,), optional
        Sample times (s); default ``i / rate_hz``.
    seated_max_bw : float
        Seated means the smoothed force at or below this (BW) ...
    min_seated_s : float
        ... for at least this long (s).
    smooth_s : float
        Moving-average width (s) for finding seated stretches (the times come from the raw force).
    seated_band_bw, standing_band_bw : float
        Bands (BW) above the seated level and about 1 BW that count as seated and standing.
    settle_s : float
        Standing must last this long (s) to count as settled.
    max_rise_s, max_lowering_s : float
        A rise must settle within `max_rise_s` (s) of the seated stretch's end; a sit-down must leave
        standing within `max_lowering_s` (s) before it.
    fast_rise_s, slow_lowering_s : float
        Tempo limits (s): the verdict's "fast up" and "slow down".
    body_height_m, chair_height_m : float, optional
        Body height and seat height (m), for the mean power of each rise; both or no power.
    empty_plate_n : float
        Below this (N) the plate is empty.

    Returns
    -------
    list of SitToStand, in time order.
    """
    force_n = as_force(force_n)
    rate_hz = check_rate(rate_hz)
    if body_weight_n is None or not body_weight_n > 0:
        raise ValueError(f"sit-to-stand is measured in body weights: body_weight_n {body_weight_n!r} is not "
                         f"positive")
    n = force_n.shape[0]
    t_s = sample_times(n, rate_hz, t_s)
    finite = np.isfinite(force_n)
    if not finite.all():
        if not finite.any():
            return []
        index = np.arange(n)
        force_n = np.interp(index, index[finite], force_n[finite])     # a new array: the caller's is untouched
    bw = float(body_weight_n)
    smooth = max(1, int(round(smooth_s * rate_hz)))
    min_seated = max(1, int(round(min_seated_s * rate_hz)))
    settle = max(1, int(round(settle_s * rate_hz)))
    max_rise = max(1, int(round(max_rise_s * rate_hz)))
    max_lowering = max(1, int(round(max_lowering_s * rate_hz)))
    power_ok, power_method = _power_setup(body_height_m, chair_height_m)
    mass_kg = bw / STANDARD_GRAVITY_M_S2

    smoothed = moving_average(force_n, smooth)
    seated = (smoothed >= empty_plate_n) & (smoothed <= seated_max_bw * bw)
    starts, ends = runs(seated)
    long_enough = ends - starts >= min_seated
    stretches = [(s, e) for s, e in zip(starts[long_enough].tolist(), ends[long_enough].tolist())
                 if not (s > 0 and smoothed[s - 1] < empty_plate_n)          # stepped on one foot at a time
                 and not (e < n and smoothed[e] < empty_plate_n)]            # stepped off, or a flight
    if not stretches:                # no seat: no visit (jumps, heel drops, standing)
        return []
    stand_lo, stand_hi = (1 - standing_band_bw) * bw, (1 + standing_band_bw) * bw
    in_band = (force_n >= stand_lo) & (force_n <= stand_hi)
    band_starts, band_ends = runs(in_band)
    long_bands = [(a, b) for a, b in zip(band_starts.tolist(), band_ends.tolist()) if b - a >= settle]

    out = []
    previous_end = 0                       # nothing before this index belongs to the next visit
    for k, (s, e) in enumerate(stretches):
        next_start = stretches[k + 1][0] if k + 1 < len(stretches) else n
        # The stretch also holds the ends of the sit-down and the rise: the level is where it sits lowest.
        low_n = float(np.percentile(smoothed[s:e], 10))
        core = force_n[s:e][np.abs(smoothed[s:e] - low_n) <= seated_band_bw * bw]
        seat_n = float(np.median(core)) if core.size else low_n
        seat_top = seat_n + seated_band_bw * bw

        # The sit-down: back from the stretch to the last standing sample, then forward to the seat.
        lowering = None
        lo = max(previous_end, s - max_lowering)
        standing_before = np.flatnonzero(force_n[lo:s] >= stand_lo)
        if standing_before.size:
            i = lo + int(standing_before[-1])
            if i + 1 < n and not (force_n[i:s + 1] < empty_plate_n).any():
                reached = np.flatnonzero(force_n[i + 1:e] <= seat_top)
                if reached.size:
                    j = i + 1 + int(reached[0])
                    start = time_at(t_s, crossing(force_n, i, stand_lo))
                    end = time_at(t_s, crossing(force_n, j - 1, seat_top))
                    lowering = (start, end)

        # The rise: the first long-enough stay in the standing band after the seat, within max_rise_s.
        rise = None
        search_from = max(s, e - smooth)
        settled = next(((a, b) for a, b in long_bands if a >= search_from), None)
        if settled is not None and e < n and settled[0] - e <= max_rise and settled[0] <= next_start:
            a = settled[0]
            if a > 0 and not (force_n[search_from:a] < empty_plate_n).any():
                i_peak = search_from + int(np.argmax(force_n[search_from:min(a + settle, n)]))
                at_seat = np.flatnonzero(force_n[s:i_peak + 1] <= seat_top)
                if at_seat.size:
                    i = s + int(at_seat[-1])
                    start = time_at(t_s, crossing(force_n, i, seat_top)) if i + 1 < n else float(t_s[i])
                    edge = stand_lo if force_n[a - 1] < stand_lo else stand_hi
                    end = time_at(t_s, crossing(force_n, a - 1, edge))
                    rise = (start, end, i_peak)
                    previous_end = a
        if lowering is None and rise is None:
            continue
        if rise is None:
            previous_end = max(previous_end, e)
        out.append(_visit(t_s, force_n, bw, mass_kg, s, e, seat_n, lowering, rise, fast_rise_s,
                          slow_lowering_s, power_ok, power_method, body_height_m, chair_height_m))
    return out


def _visit(t_s, force_n, bw, mass_kg, s, e, seat_n, lowering, rise, fast_rise_s, slow_lowering_s, power_ok,
           power_method, body_height_m, chair_height_m) -> SitToStand:
    lowering_s = None if lowering is None else lowering[1] - lowering[0]
    rise_s = peak = t_peak = None
    if rise is not None:
        rise_s = rise[1] - rise[0]
        peak, t_peak = float(force_n[rise[2]]), float(t_s[rise[2]])
    fast = None if rise_s is None else bool(rise_s <= fast_rise_s)
    slow = None if lowering_s is None else bool(lowering_s >= slow_lowering_s)
    tempo = None
    if fast is not None and slow is not None:
        faults = ([] if fast else [f"rise slower than {fast_rise_s:g} s"]) + \
                 ([] if slow else [f"sit-down faster than {slow_lowering_s:g} s"])
        tempo = "; ".join(faults) or "fast up, slow down"
    power = power_kg = None
    method = power_method
    if rise_s is not None and power_ok and rise_s > 0:
        rise_m = 0.5 * body_height_m - chair_height_m
        power = ALCAZAR_MASS_FRACTION * mass_kg * STANDARD_GRAVITY_M_S2 * rise_m / rise_s
        power_kg = power / mass_kg
    elif rise_s is None and power_ok:
        method = "no rise: no power"
    end_s = float(t_s[e - 1])
    return SitToStand(seated_start_s=float(t_s[s]), seated_end_s=end_s, seated_n=seat_n, seated_bw=seat_n / bw,
                      lowering_start_s=None if lowering is None else lowering[0],
                      lowering_end_s=None if lowering is None else lowering[1], lowering_s=lowering_s,
                      rise_start_s=None if rise is None else rise[0], rise_end_s=None if rise is None else rise[1],
                      rise_s=rise_s, t_peak_s=t_peak, peak_n=peak, peak_bw=None if peak is None else peak / bw,
                      is_fast_rise=fast, is_slow_lowering=slow, tempo=tempo, mean_power_w=power,
                      mean_power_w_kg=power_kg, power_method=method)


def _power_setup(body_height_m, chair_height_m) -> tuple[bool, str]:
    if body_height_m is None or chair_height_m is None:
        return False, "no power: give body height and chair height"
    rise_m = 0.5 * body_height_m - chair_height_m
    if not (0.5 <= body_height_m <= 2.5) or not (0.2 <= chair_height_m <= 1.0) or not rise_m > 0:
        raise ValueError(f"body height {body_height_m!r} m and chair height {chair_height_m!r} m do not give a "
                         f"rise of the centre of mass (0.5 x height - chair height > 0)")
    return True, (f"mean power = 0.9 x body mass x g x (0.5 x {body_height_m:g} m - {chair_height_m:g} m chair) "
                  f"/ rise time (after Alcazar et al. 2018's sit-to-stand power test); an estimate")

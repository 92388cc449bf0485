"""Sit-to-stand reps with the chair off the plate and the feet on it: sit-downs, rises, tempo and power.

Seated, the chair carries most of the body and the plate reads only what the feet press (typically 0.1-0.4
body weights, BW). Rising moves the whole weight onto the feet: the force climbs from the seated level, often
overshoots 1 BW (1.3-1.6 BW in a fast rise) and settles at 1 BW standing. Sitting down is the reverse.

A *seated stretch* is at least `min_seated_s` of force (moving average over `smooth_s`) at or below
`seated_max_bw`. That is what tells a sit-to-stand from the other movements: a jump's countermovement or a heel
drop's unloading dips below 1 BW for well under half a second. Its *seated level* is the median force of its
samples whose smoothed force lies within `seated_band_bw` of the stretch's 10th percentile (the stretch's ends
are still the sit-down and the rise). A seat is one of:

- a seated level at or above the empty-plate threshold (20 N, the contract's flight threshold) that never
  empties: a stretch that reaches an empty plate at or above 20 N is a step off or on one foot at a time;
- a seated level under 20 N (the feet resting lightly): a seat only when it is entered from standing by a
  sit-down of at least `min_empty_lowering_s` (0.5 s) and left by a rise to standing. A step off the plate
  (a few tenths of a second) and a jump's flight (entered from the push-off) fail the first condition.
  Untyped (``typed=False``) the rise must also peak at or above `min_empty_peak_bw` (1.1 BW): a slow step
  off and back on has no such peak. ``typed=True`` means the person was told to do sit-to-stands, so a slow
  sit-down onto an empty plate and a rise to standing are taken as a seat with the feet lifted.

When the phases start and end (times interpolated linearly between samples, on the force smoothed over
`timing_smooth_s`): a sit-down starts when the force *leaves* the standing level and ends when it *reaches*
the seated level; a rise starts when the force leaves the seated level and ends when it reaches the standing
level for good (for `settle_s` after any overshoot; in a brisk set that stands less than that between
reps, its longest stay of at least a third of it). A movement's instant is where the force departs from a
steady level. A threshold crossing is always late: a smooth movement leaves a level at zero rate (the force
and its rate of change are continuous), so a half-cosine sit-down of 2.5 s from 1 BW to 0.25 BW crosses
1 - 0.05 BW 0.4 s after it began and a band-to-band measurement gives 1.7 s. Near the departure instant t0
a smooth force is ``c (t - t0)^2`` away from the level, so its crossings of d and 4d from the level are a and
2a after t0, and

    t0 = 2 t(d) - t(4d)       (parabolic extrapolation; the same backwards in time for an arrival)

with d the larger of `level_step_bw` (0.01 BW) and `noise_sds` (3) standard deviations of the level's force
(a robust SD, 1.4826 x the median absolute deviation): the seated stretch's core for the seat, the
`level_s` (0.5 s) before the sit-down or after the rise for standing (1 BW when that is not standing). The
3 SD rule is Yoshioka et al.'s start and finish of a sit-to-stand (2009, BioMedical Engineering OnLine 8:27:
the instants the body leaves, and comes within, three SDs of the static initial and final posture); the
extrapolation to the level itself is this module's, so that a smooth movement is timed in full. A half-cosine
spanning 0.1 BW or more is timed to within about 1 % of its duration (the parabola ignores its quartic term,
and the error falls as the span grows: 0.1 % for a 0.75 BW sit-down); a straight ramp (a kink,
leaving the level at a finite rate, which a body does not do) starts 2 d / slope early. Through the HX711's
filter (four output periods, 50 ms at 80 SPS) an arrival is seen up to that span late and a departure barely,
so times from 80 SPS words run up to about 0.04 s long. When a level is not reached in the search window the
instant falls back to the band crossings (``1 - standing_band_bw`` BW, seat + `seated_band_bw` BW) and
``lowering_method``/``rise_method`` say so.

- rise time = reaching standing - leaving the seat; lowering time = reaching the seat - leaving standing.
- peak: the largest force from the end of the seated stretch until `settle_s` after settling in the
  standing band.

Clinical five-repetition tests time the whole set, not its phases (the Alcazar power below takes a tenth of
the five-rep time per rise); the phase instants here are for the tempo of each rep.

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
        Leaving the seat, reaching standing for good, and the time between (the rise).
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
    lowering_method, rise_method : str or None
        How the instants of each half were found (the extrapolated departure and arrival of the module
        docstring, or the band crossings when a steady level was not reached); None without that half.
    seat_rule : str
        Why the stretch is a seat (a seated level at or above the empty-plate threshold, or the rule for a
        seat under it).
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
    lowering_method: str | None = None
    rise_method: str | None = None
    seat_rule: str = ""

    @property
    def has_rise(self) -> bool:
        return self.rise_s is not None


def detect_sit_to_stand(force_n, rate_hz, *, body_weight_n: float, t_s=None, typed: bool = False,
                        seated_max_bw: float = 0.75, min_seated_s: float = 0.5, smooth_s: float = 0.1,
                        seated_band_bw: float = 0.05, standing_band_bw: float = 0.05, settle_s: float = 0.3,
                        max_rise_s: float = 3.0, max_lowering_s: float = 8.0, fast_rise_s: float = FAST_RISE_S,
                        slow_lowering_s: float = SLOW_LOWERING_S, body_height_m: float | None = None,
                        chair_height_m: float | None = None, empty_plate_n: float = EMPTY_PLATE_N,
                        timing_smooth_s: float = 0.02, level_step_bw: float = 0.01, noise_sds: float = 3.0,
                        level_s: float = 0.5, min_empty_lowering_s: float = 0.5,
                        min_empty_peak_bw: float = 1.1) -> list[SitToStand]:
    """Find the sit-downs and rises of sit-to-stand exercise (chair off the plate, feet on it).

    See the module docstring for the seated stretches and for the exact start and end of each phase.

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
    typed : bool
        The person was told to do sit-to-stands (the set's exercise is ``sit-to-stand``). A seat that reads
        less than `empty_plate_n` (feet resting lightly) then counts when it is entered from standing by a
        sit-down of at least `min_empty_lowering_s` and left by a rise to standing. Untyped (False, any other
        exercise), such a seat must also be left by a rise whose peak reaches `min_empty_peak_bw`: a step off
        the plate and back on has no such peak. A seat at or above `empty_plate_n` counts in both modes.
    seated_max_bw : float
        Seated means the smoothed force at or below this (BW) ...
    min_seated_s : float
        ... for at least this long (s).
    smooth_s : float
        Moving-average width (s) for finding seated stretches.
    seated_band_bw, standing_band_bw : float
        Bands (BW) above the seated level and about 1 BW that count as seated and standing (which visits
        have a sit-down and a rise; the times are found as the module docstring says).
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
    timing_smooth_s : float
        Moving-average width (s) of the force the phase instants are timed on.
    level_step_bw, noise_sds, level_s : float
        The departure thresholds: the smallest is the larger of `level_step_bw` (BW) and `noise_sds` standard
        deviations of the steady level, measured over `level_s` (s) of it.
    min_empty_lowering_s, min_empty_peak_bw : float
        The extra conditions for a seat below `empty_plate_n` (see `typed`).

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
    timing = _Timing(force_n, t_s, rate_hz, bw, timing_smooth_s, level_step_bw, noise_sds, level_s, settle)

    smoothed = moving_average(force_n, smooth)
    low = smoothed <= seated_max_bw * bw
    starts, ends = runs(low)
    long_enough = ends - starts >= min_seated
    stretches = list(zip(starts[long_enough].tolist(), ends[long_enough].tolist()))
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
        in_core = np.abs(smoothed[s:e] - low_n) <= seated_band_bw * bw
        core = force_n[s:e][in_core]
        seat_n = float(np.median(core)) if core.size else low_n
        seat_top = seat_n + seated_band_bw * bw
        empty_seat = seat_n < empty_plate_n
        if not empty_seat and (smoothed[s:e] < empty_plate_n).any():
            continue                 # a seat that empties, or a step off one foot at a time
        seat_sd = _robust_sd(timing.y[s:e][in_core]) if core.size else 0.0

        # The sit-down: back from the stretch to the last standing sample, then forward to the seat.
        lowering = None
        lo = max(previous_end, s - max_lowering)
        standing_before = np.flatnonzero(force_n[lo:s] >= stand_lo)
        if standing_before.size:
            i = lo + int(standing_before[-1])
            if i + 1 < n and (empty_seat or not (force_n[i:s + 1] < empty_plate_n).any()):
                reached = np.flatnonzero(force_n[i + 1:e] <= seat_top)
                if reached.size:
                    j = i + 1 + int(reached[0])
                    band = (time_at(t_s, crossing(force_n, i, stand_lo)),
                            time_at(t_s, crossing(force_n, j - 1, seat_top)))
                    lowering = timing.lowering(i, j, lo, e, seat_n, seat_sd, band)

        # The rise: the first long-enough stay in the standing band after the seat, within max_rise_s.
        rise = None
        search_from = max(s, e - smooth)
        settled = next(((a, b) for a, b in long_bands if a >= search_from), None)
        if settled is not None and e < n and settled[0] - e <= max_rise and settled[0] <= next_start:
            a = settled[0]
            if a > 0 and (empty_seat or not (force_n[search_from:a] < empty_plate_n).any()):
                i_peak = search_from + int(np.argmax(force_n[search_from:min(a + settle, n)]))
                at_seat = np.flatnonzero(force_n[s:i_peak + 1] <= seat_top)
                if at_seat.size:
                    i = s + int(at_seat[-1])
                    start = time_at(t_s, crossing(force_n, i, seat_top)) if i + 1 < n else float(t_s[i])
                    edge = stand_lo if force_n[a - 1] < stand_lo else stand_hi
                    end = time_at(t_s, crossing(force_n, a - 1, edge))
                    timed = timing.rise(s, i, i_peak, a, next_start, seat_n, seat_sd, (start, end))
                    rise = (*timed, i_peak)
                    previous_end = a
        if empty_seat:
            # A seat under the empty-plate threshold: a sit-down from standing and a rise to standing, the
            # sit-down slow (not a step off, not a push-off into a flight); untyped, the rise must also peak.
            if lowering is None or rise is None or lowering[1] - lowering[0] < min_empty_lowering_s or \
                    (not typed and force_n[rise[-1]] < min_empty_peak_bw * bw):
                continue
        if lowering is None and rise is None:
            continue
        if rise is None:
            previous_end = max(previous_end, e)
        out.append(_visit(t_s, force_n, bw, mass_kg, s, e, seat_n, lowering, rise, fast_rise_s,
                          slow_lowering_s, power_ok, power_method, body_height_m, chair_height_m,
                          "seated level at or above the empty-plate threshold" if not empty_seat else
                          ("seat under the empty-plate threshold, entered by a slow sit-down and left by a rise "
                           "(sit-to-stand set)" if typed else
                           "seat under the empty-plate threshold, entered by a slow sit-down and left by a rise "
                           f"peaking at or above {min_empty_peak_bw:g} BW")))
    return out


class _Timing:
    """The phase instants: where the force leaves one steady level and arrives at the next (module docstring)."""

    def __init__(self, force_n, t_s, rate_hz, bw, timing_smooth_s, level_step_bw, noise_sds, level_s, settle):
        width = max(1, int(round(timing_smooth_s * rate_hz)))
        self.y = moving_average(force_n, width + (1 - width % 2))       # odd: centred, no shift in time
        self.t_s, self.bw, self.settle = t_s, bw, settle
        self.step_n, self.noise_sds = level_step_bw * bw, noise_sds
        self.level = max(3, int(round(level_s * rate_hz)))

    def _step(self, sd_n: float) -> float:
        return max(self.step_n, self.noise_sds * sd_n)

    def lowering(self, i, j, lo, e, seat_n, seat_sd, band):
        """(start, end, method) of the sit-down whose band crossings are i (last standing sample) and j
        (first at the seat); lo: nothing earlier belongs to it; e: the seated stretch's end."""
        y = self.y
        mid = np.flatnonzero(y[i:j + 1] <= 0.5 * (self.bw + seat_n))
        m = i + int(mid[0]) if mid.size else j
        level, sd = self.bw, 0.0
        start = _departure(y, self.t_s, m, lo, level, self._step(sd), -1)
        if start is not None:        # the standing level and its noise: the half second before leaving it
            w0 = max(lo, int(np.floor(start[1])) - self.level)
            window = y[w0:int(np.floor(start[1]))]
            if window.size >= 3 and abs(float(np.median(window)) - self.bw) <= 0.05 * self.bw:
                level, sd = float(np.median(window)), _robust_sd(window)
                start = _departure(y, self.t_s, m, lo, level, self._step(sd), -1) or start
        end = _entry(y, self.t_s, m, e, seat_n, self._step(seat_sd), 1)
        if start is None or end is None or not end[0] > start[0]:
            return band + ("band crossings (1 - standing band, seat + seated band): the levels were not "
                           "reached",)
        return start[0], end[0], _METHOD

    def rise(self, s, i, i_peak, a, limit, seat_n, seat_sd, band):
        """(start, end, method) of the rise from the seated stretch starting at s: i its last sample at the
        seat band, i_peak its peak, a the start of its settled stay in the standing band; limit: the next
        seated stretch."""
        y = self.y
        up = np.flatnonzero(y[i:i_peak + 1] <= 0.5 * (self.bw + seat_n))
        m = i + int(up[-1]) if up.size else i
        start = _departure(y, self.t_s, m, s, seat_n, self._step(seat_sd), 1)
        window = y[a:min(a + self.level, limit)]
        level, sd = self.bw, 0.0
        if window.size >= 3 and abs(float(np.median(window)) - self.bw) <= 0.05 * self.bw:
            level, sd = float(np.median(window)), _robust_sd(window)
        end = _arrival(y, self.t_s, m, limit, level, self._step(sd), self.settle)
        if start is None or end is None or not end[0] > start[0]:
            return band + ("band crossings (seat + seated band, settled in 1 +- standing band): the levels "
                           "were not reached",)
        return start[0], end[0], _METHOD


_METHOD = "parabolic extrapolation: t0 = 2 t(d) - t(4d) from the crossings of d and 4d from the steady level"


def _extrapolate(t_d: float, t_4d: float) -> float:
    """The instant the force leaves (or reaches) a steady level, from the instants it is d and 4d away.

    A force that changes smoothly leaves a level with zero rate: near the departure instant t0 it is
    ``c (t - t0)^2`` away, so ``t(d) - t0 = a`` and ``t(4d) - t0 = 2 a`` and t0 = 2 t(d) - t(4d) (on either
    side of the level, before or after the movement)."""
    return 2 * t_d - t_4d


def _departure(y, t_s, m, lo, level, step, sign):
    """(t0, fractional index of the d crossing) of the force leaving `level` before sample m (searching back
    to lo) in direction `sign` (+1 up, -1 down): the last sample not yet d beyond the level, for d = step and
    4 step. None if there is none."""
    times, first = [], None
    for d in (step, 4 * step):
        near = np.flatnonzero(sign * (y[lo:m + 1] - level) < d)
        if not near.size:
            return None
        k = lo + int(near[-1])
        if k + 1 >= y.shape[0]:
            return None
        x = crossing(y, k, level + sign * d)
        first = x if first is None else first
        times.append(time_at(t_s, x))
    return _extrapolate(*times), first


def _entry(y, t_s, m, stop, level, step, sign):
    """(t0, None) of the force arriving at `level` after sample m (before stop) from the side `sign` (+1 from
    above, -1 from below): its first sample less than d beyond the level, for d = step and 4 step."""
    times = []
    for d in (step, 4 * step):
        near = np.flatnonzero(sign * (y[m:stop] - level) < d)
        if not near.size or m + int(near[0]) == 0:
            return None
        k = m + int(near[0])
        times.append(time_at(t_s, crossing(y, k - 1, level + sign * d)))
    return _extrapolate(*times), None


def _arrival(y, t_s, m, stop, level, step, settle):
    """(t0, None) of the force arriving at `level` after sample m for good: the start of its first stay of
    `settle` samples within d of the level, for d = step and 4 step (a stay cut short by `stop`, the next
    movement, or the recording's end, counts). Without one (a brisk set stands less than `settle` between
    reps), the longest stay of at least a third of `settle`."""
    times = []
    for d in (step, 4 * step):
        starts, ends = runs(np.abs(y[m:stop] - level) < d)
        stays = [(a, b) for a, b in zip(starts.tolist(), ends.tolist()) if a > 0]
        ok = [(a, b) for a, b in stays if b - a >= settle or m + b >= stop]
        if not ok:
            ok = sorted((b - a, a, b) for a, b in stays if b - a >= max(3, settle // 3))[-1:]
            ok = [(a, b) for _, a, b in ok]
        if not ok:
            return None
        k = m + ok[0][0]
        edge = level + d if y[k - 1] > level else level - d
        times.append(time_at(t_s, crossing(y, k - 1, edge)))
    return _extrapolate(*times), None


def _robust_sd(values) -> float:
    """1.4826 x the median absolute deviation: the SD of Gaussian noise, unmoved by a stray ramp's end."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _visit(t_s, force_n, bw, mass_kg, s, e, seat_n, lowering, rise, fast_rise_s, slow_lowering_s, power_ok,
           power_method, body_height_m, chair_height_m, seat_rule) -> SitToStand:
    lowering_s = None if lowering is None else lowering[1] - lowering[0]
    rise_s = peak = t_peak = None
    if rise is not None:
        rise_s = rise[1] - rise[0]
        peak, t_peak = float(force_n[rise[3]]), float(t_s[rise[3]])
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
                      mean_power_w_kg=power_kg, power_method=method,
                      lowering_method=None if lowering is None else lowering[2],
                      rise_method=None if rise is None else rise[2], seat_rule=seat_rule)


def _power_setup(body_height_m, chair_height_m) -> tuple[bool, str]:
    if body_height_m is None or chair_height_m is None:
        return False, "no power: give body height and chair height"
    rise_m = 0.5 * body_height_m - chair_height_m
    if not (0.5 <= body_height_m <= 2.5) or not (0.2 <= chair_height_m <= 1.0) or not rise_m > 0:
        raise ValueError(f"body height {body_height_m!r} m and chair height {chair_height_m!r} m do not give a "
                         f"rise of the centre of mass (0.5 x height - chair height > 0)")
    return True, (f"mean power = 0.9 x body mass x g x (0.5 x {body_height_m:g} m - {chair_height_m:g} m chair) "
                  f"/ rise time (after Alcazar et al. 2018's sit-to-stand power test); an estimate")

"""Impacts: force peaks of at least `min_peak_bw` body weights that are not a jump's landing.

A heel drop, a stamp, a step or a drop onto the plate. Each stretch of force at or above `min_peak_bw` body
weights (BW) is one candidate, its peak the largest sample and its onset the last crossing of 1 BW before it
(docs/contracts.md section 1: "the last moment before the peak at which force was at or below 1 body weight").
Not impacts: the push-off of a jump (`pushoff_s` before its take-off) and a jump's landing. A landing onto an
empty plate (a drop) is an impact: its peak is the largest force within `landing_window_s` of touching down.
Peaks closer than `refractory_s` are one rep (a heel drop often rings twice): the larger stands. HX711 words
are searched the same way; :mod:`~forceplate.signal.refine` then estimates each peak behind the chip's filter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import checked_trace, crossing, first_dominant, largest_sample_method, mean_loading_rate, runs, time_at
from .jumps import find_flights
from .refine import refine_impacts

DROP = "drop onto the plate"            # a landing onto an empty plate
ON_THE_PLATE = "on the plate"


@dataclass(frozen=True)
class Impact:
    """One impact. Times in seconds (s), forces in newtons (N), ``peak_bw`` in body weights.

    ``landing`` is "drop onto the plate" for a landing onto an empty plate, else "on the plate".
    """

    t_peak_s: float
    peak_n: float
    peak_bw: float
    onset_s: float | None
    loading_rate_bw_s: float | None
    landing: str
    peak_method: str
    loading_rate_method: str
    peak_low_n: float | None = None        # the plausible range of an estimated peak (HX711 words), N
    peak_high_n: float | None = None
    decided_s: float | None = None         # a typed set's quick verdict: the last sample it depends on (s)

    @property
    def is_drop(self) -> bool:
        """Whether this is a landing onto an empty plate (the force before it was the empty plate's)."""
        return self.landing == DROP


def detect_impacts(force_n, rate_hz, *, body_weight_n: float, t_s=None, adc: str = "ideal", flights=None,
                   min_peak_bw: float = 1.3, refractory_s: float = 0.3, landing_window_s: float = 0.3,
                   pushoff_s: float = 1.0, verdict_after: int | None = None, hx711_model=None,
                   **flight_options) -> list[Impact]:
    """Find the impacts in a vertical force trace.

    Parameters
    ----------
    force_n : array_like, shape (n,)
        Total vertical force in newtons (N), finite. Not modified.
    rate_hz : float
        Sample rate in hertz (Hz).
    body_weight_n : float
        Body weight (N): impacts are measured in it.
    t_s : array_like, shape (n,), optional
        Sample times (s); default ``i / rate_hz``.
    adc : {"ideal", "hx711"}
        "hx711": samples are the HX711's filtered words. The impacts are found on them as on any samples, then
        refined through the chip's filter model (:func:`~forceplate.signal.refine.refine_impacts`): the peak
        is the estimated true peak with its plausible range (``peak_low_n``, ``peak_high_n``), the onset the
        fitted start of rise, and the loading rate None (80 SPS cannot resolve the rise).
    flights : list of Flight, optional
        From :func:`~forceplate.signal.jumps.find_flights` (computed with `flight_options` when not given).
    min_peak_bw : float
        Smaller peaks (BW) are not impacts.
    refractory_s : float
        Peaks closer than this (s) are one impact; also the quiet time after a jump's landing window.
    landing_window_s : float
        The peak of a landing is the largest force within this long (s) of touching down.
    pushoff_s : float
        Peaks in this long (s) before a jump's take-off are its push-off, never an impact.
    verdict_after : int, optional
        A typed set's quick verdict (heel-drop and jump sets, :func:`~forceplate.signal.common.first_dominant`):
        a stretch's peak is its first sample that none of the next `verdict_after` samples exceeds, and of
        peaks closer than `refractory_s` the first is the rep (it was judged first). Each such impact's
        ``decided_s`` is the instant of the last sample it depends on. Default: the stretch's largest sample,
        and the larger of close peaks.
    hx711_model : Hx711Model, optional
        The chips' filter for the refinement (``forceplate doctor``'s fitted order); default the datasheet's.

    Returns
    -------
    list of Impact, in time order.
    """
    force_n, rate_hz, t_s = checked_trace(force_n, rate_hz, t_s, adc)
    if body_weight_n is None or not body_weight_n > 0:
        raise ValueError(f"impacts are measured in body weights: body_weight_n {body_weight_n!r} is not positive")
    n = force_n.shape[0]
    if flights is None:
        flights = find_flights(force_n, rate_hz, t_s=t_s, body_weight_n=body_weight_n, adc=adc,
                               pushoff_s=pushoff_s, **flight_options)
    landing_window = max(1, int(round(landing_window_s * rate_hz)))
    min_peak_n = min_peak_bw * body_weight_n

    excluded = []                    # (from_s, to_s): push-offs and jump landings
    candidates = []                  # (t_peak_s, peak_index, onset index or None, landing)
    for k, flight in enumerate(flights):
        if flight.is_jump:
            excluded.append((flight.takeoff_s - pushoff_s, flight.takeoff_s))
        if flight.end == n:
            continue
        next_start = flights[k + 1].start if k + 1 < len(flights) else n
        hi = min(flight.end + landing_window, next_start)
        end_s = float(t_s[hi - 1])
        if flight.is_jump:
            excluded.append((flight.landing_s if flight.landing_s is not None else 0.0, end_s + refractory_s))
        else:                        # a landing onto an empty plate: a drop or a step on
            i_peak = flight.end + int(np.argmax(force_n[flight.end:hi]))
            candidates.append((i_peak, _onset(force_n, i_peak, body_weight_n, flight.end - 1), DROP))
            excluded.append((float(t_s[flight.end]), end_s))

    # One candidate per stretch at or above min_peak_bw (its largest sample). Not per stretch above 1 BW: a
    # person standing a newton heavier than the weighing would make one stretch of a landing and the heel
    # drops after it, and only the largest would be seen.
    contact_starts = [flight.end for flight in flights]
    starts, ends = runs(force_n >= min_peak_n)
    for lo, hi in zip(starts.tolist(), ends.tolist()):
        if verdict_after is None:
            i_peak = lo + int(np.argmax(force_n[lo:hi]))
        else:
            i_peak, _ = first_dominant(force_n, lo, hi, verdict_after)
        if any(a <= float(t_s[i_peak]) <= b for a, b in excluded):
            continue
        since = max([c for c in contact_starts if c <= i_peak], default=0)
        candidates.append((i_peak, _onset(force_n, i_peak, body_weight_n, since), ON_THE_PLATE))

    kept = []                        # one impact per rep: within refractory_s the larger peak stands
    for i_peak, onset, landing in sorted(candidates):
        if force_n[i_peak] < min_peak_n:
            continue
        if kept and t_s[i_peak] - t_s[kept[-1][0]] < refractory_s:
            if verdict_after is None and force_n[i_peak] > force_n[kept[-1][0]]:
                kept[-1] = (i_peak, onset, landing)
            continue
        kept.append((i_peak, onset, landing))

    impacts = []
    for i_peak, onset, landing in kept:
        peak_n = float(force_n[i_peak])
        t_peak_s = float(t_s[i_peak])
        onset_s = None if onset is None else _onset_time(force_n, t_s, onset, i_peak, body_weight_n)
        if onset_s is None:
            rate, rate_method = None, "no moment at or below 1 BW before the peak"
        else:
            rate, rate_method = mean_loading_rate(peak_n - body_weight_n, t_peak_s - onset_s, body_weight_n,
                                                  "1 BW crossing")
        peak_method = (largest_sample_method(landing_window_s, "touch-down") if landing == DROP
                       else "largest sample above 1 BW")
        decided_s = None
        if verdict_after is not None and landing != DROP:
            peak_method = f"first sample not exceeded by the {verdict_after} after it (a typed set's quick verdict)"
            # judged at once unless a seat precedes it: then it may be a sit-to-stand rise's peak, which waits
            # for the rise to be seen whole (and is then no impact at all)
            if i_peak + verdict_after < n and not _seated_before(force_n, t_s, i_peak, body_weight_n):
                decided_s = float(t_s[i_peak + verdict_after])
        impacts.append(Impact(t_peak_s=t_peak_s, peak_n=peak_n, peak_bw=peak_n / body_weight_n, onset_s=onset_s,
                              loading_rate_bw_s=rate, landing=landing, peak_method=peak_method,
                              loading_rate_method=rate_method, decided_s=decided_s))
    if adc == "hx711":               # the words are the chip's filter output: see through it
        impacts = refine_impacts(impacts, force_n, t_s, body_weight_n=body_weight_n, words_after=verdict_after,
                                 **({} if hx711_model is None else {"model": hx711_model}))
    return impacts


SEAT_BW = 0.75          # a seat, as detect_sit_to_stand finds one: at most 0.75 BW ...
SEAT_S = 0.5            # ... for at least 0.5 s
SEAT_LOOK_BACK_S = 3.0  # a rise takes at most about 3 s from the seat to its peak


def _seated_before(force_n, t_s, i_peak, body_weight_n) -> bool:
    """Whether the force sat at or below SEAT_BW body weights for SEAT_S within SEAT_LOOK_BACK_S before a peak:
    a heel drop's unloading dip lasts 0.1-0.2 s, a seat far longer."""
    lo = int(np.searchsorted(t_s, t_s[i_peak] - SEAT_LOOK_BACK_S))
    starts, ends = runs(force_n[lo:i_peak] <= SEAT_BW * body_weight_n)
    return any(t_s[lo + e - 1] - t_s[lo + b] >= SEAT_S for b, e in zip(starts.tolist(), ends.tolist()))


def _onset(force_n, i_peak, body_weight_n, lo):
    """Index of the first sample of the run above 1 BW that holds the peak (searching back to ``lo``),
    or None when the force never was at or below 1 BW there."""
    hi = i_peak + 1
    span = 256                       # the onset is usually near the peak: look back in growing blocks
    while True:
        start = max(lo, hi - span)
        at_or_below = np.flatnonzero(force_n[start:hi] <= body_weight_n)
        if at_or_below.size:
            return start + int(at_or_below[-1]) + 1
        if start <= lo:
            return None
        hi, span = start, span * 4


def _onset_time(force_n, t_s, onset, i_peak, body_weight_n, *, noise_samples=32, band_sd=3.0):
    """When the force left 1 BW for the impact (s): the contract's "last moment at or below 1 BW", read
    through the noise.

    Standing sways and the ADC adds noise, so a force that stands at 1 BW before rising dips at or below it
    at random a few samples before the rise really starts, which would lengthen the rise and lower the
    loading rate by 10-20 % at 1 kHz. So: the noise SD is estimated from the samples before the rise (the
    median absolute first difference, robust to slow trends), the crossing of 1 BW + `band_sd` SD (which
    noise does not reach) is found, and the onset is that instant less the time the rise takes to climb
    the band at its local slope. It is never earlier than the plain crossing of 1 BW nor later than the
    band's.
    """
    literal_s = time_at(t_s, crossing(force_n, onset - 1, body_weight_n))
    pre = force_n[max(0, onset - 1 - noise_samples):onset]
    if pre.size < 8 or onset >= i_peak:
        return literal_s
    sd_n = 1.4826 * float(np.median(np.abs(np.diff(pre)))) / np.sqrt(2.0)
    band_n = body_weight_n + band_sd * sd_n
    if not sd_n > 0 or force_n[i_peak] <= band_n:
        return literal_s
    rising = force_n[onset - 1:i_peak + 1]
    j = onset - 1 + int(np.flatnonzero(rising <= band_n)[-1])      # the last sample inside the band
    band_s = time_at(t_s, crossing(force_n, j, band_n))
    slope_n_s = (force_n[j + 1] - force_n[j]) / (t_s[j + 1] - t_s[j])
    if not slope_n_s > 0:
        return literal_s
    return float(min(band_s, max(literal_s, band_s - (band_n - body_weight_n) / slope_n_s)))

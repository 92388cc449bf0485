"""Flights and jumps in a vertical force trace.

Flight is force below max(20 N, 3 % of body weight) for at least 2 samples: in the air nothing presses on the
plate. A one-sample spike inside a flight (a cable knock, a chip glitch) does not split it. A flight is a jump's
when it starts with a take-off, ends with a landing (or the recording) and lasts at most about a second (a 1.2 m
jump; people do not fly longer), whatever came before the take-off: quiet standing, a countermovement, a drop
landing (a drop jump's rebound) or another jump's landing (pogo jumps).
Take-off is told from stepping off by its speed: the feet leave at speed, so the force falls from most of its
push-off level to nothing within tens of milliseconds; stepping off shifts the weight over a few hundred. A
landing is told from rising off a seat (feet resting on the plate with next to no load) or stepping on the same
way: a landing loads the plate at once.
A flight that is not a jump's is an empty plate (before stepping on, after stepping off, before a drop).

Heights, with g = 9.80665 m/s^2:
- flight time: a body leaving and landing at the same height flies h = g t^2 / 8;
- impulse-momentum: from a quiet second (v = 0, its mean is the weight W = m g) to take-off,
  v = (1 / m) integral (F - W) dt, and h = v^2 / (2 g).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import (STANDARD_GRAVITY_M_S2, Rolling, checked_trace, crossing, first_dominant, flight_height_m, integrate,
                     largest_sample_method, mean_loading_rate, rolling_stats, runs, time_at)
from .bodyweight import quiet_mask
from .refine import refine_jumps, settling_s

EMPTY = "empty plate"
JUMP = "jump"


@dataclass(frozen=True)
class Flight:
    """A stretch of force below the flight threshold.

    Attributes
    ----------
    start, end : int
        Its samples are ``force_n[start:end]``.
    takeoff_s, landing_s : float or None
        Threshold crossings (s), interpolated between samples; None at either end of the recording.
    kind : str
        ``"jump"`` (a take-off, at most `max_flight_s` in the air) or ``"empty plate"``.
    threshold_n : float
        The flight threshold used (N).
    """

    start: int
    end: int
    takeoff_s: float | None
    landing_s: float | None
    kind: str
    threshold_n: float

    @property
    def is_jump(self) -> bool:
        return self.kind == JUMP


@dataclass(frozen=True)
class Jump:
    """One jump: take-off, flight, landing, and the landing's peak.

    Times in seconds (s) on the trace's clock, forces in newtons (N), ``*_bw`` in body weights, heights in
    metres (m). A recording that ends in flight leaves every landing field None. Each ``*_method`` says how the
    number beside it was obtained.
    """

    takeoff_s: float
    landing_s: float | None
    flight_s: float | None
    height_flight_m: float | None
    height_impulse_m: float | None
    takeoff_velocity_m_s: float | None
    t_peak_s: float | None
    peak_n: float | None
    peak_bw: float | None
    loading_rate_bw_s: float | None
    flight_threshold_n: float
    height_method: str
    impulse_method: str
    peak_method: str
    loading_rate_method: str
    peak_low_n: float | None = None        # the plausible range of an estimated peak (HX711 words), N
    peak_high_n: float | None = None
    decided_s: float | None = None         # a typed set's quick verdict: the last sample it depends on (s)


def flight_threshold(body_weight_n: float | None, *, flight_threshold_n: float = 20.0,
                     flight_threshold_bw: float = 0.03) -> float:
    """The flight threshold (N): max(`flight_threshold_n`, `flight_threshold_bw` x body weight)."""
    if body_weight_n is None:
        return flight_threshold_n
    return max(flight_threshold_n, flight_threshold_bw * body_weight_n)


def find_flights(force_n, rate_hz, *, t_s=None, body_weight_n=None, adc: str = "ideal",
                 flight_threshold_n: float = 20.0, flight_threshold_bw: float = 0.03, max_spike_s: float = 0.002,
                 max_flight_s: float = 1.0, max_unloading_s: float = 0.15, unloading_fraction: float = 0.75,
                 pushoff_s: float = 1.0, max_ringing_s: float = 0.1, min_touchdown_n: float = 100.0,
                 min_touchdown_bw: float = 0.15) -> list[Flight]:
    """Find every flight (force below the flight threshold) and tell jumps from an empty plate.

    Parameters
    ----------
    force_n : array_like, shape (n,)
        Total vertical force in newtons (N), finite. Not modified.
    rate_hz : float
        Sample rate in hertz (Hz).
    t_s : array_like, shape (n,), optional
        Sample times (s); default ``i / rate_hz``.
    body_weight_n : float, optional
        Body weight (N); raises the flight threshold to `flight_threshold_bw` of it for heavy people.
    adc : {"ideal", "hx711"}
        With "hx711" the chip's filter slows every edge, and the unloading limit grows by its settling time
        (4 output periods, :func:`~forceplate.signal.refine.settling_s`).
    flight_threshold_n, flight_threshold_bw : float
        Flight is force below max(`flight_threshold_n` (N), `flight_threshold_bw` x body weight) for at
        least 2 samples.
    max_spike_s : float
        Samples at or above the threshold for at most this long (s, at least one sample) between two flights
        of at least 2 samples each do not end the flight (a cable knock, a glitch; not a touch-down).
    max_ringing_s, min_touchdown_n, min_touchdown_bw : float
        A contact between two flights that lasts at most `max_ringing_s` (s) and never reaches
        max(`min_touchdown_n` (N), `min_touchdown_bw` x body weight) is not a touch-down (a plate ringing
        after take-off, a swinging cable): the flight goes on. A real landing loads the plate with about a
        body weight or more.
    max_flight_s : float
        Longer flights (s) are an empty plate, not a jump.
    max_unloading_s, unloading_fraction, pushoff_s : float
        A take-off falls from `unloading_fraction` of the level the feet leave from (the highest force of the
        last `pushoff_s` (s) of contact; at most the body weight when that contact began with a landing within
        `pushoff_s`: a drop jump's or a pogo jump's landing is no push-off level) to the threshold within
        `max_unloading_s` (s); slower is stepping off. Likewise a
        landing loads the plate from the threshold to `unloading_fraction` of a body weight (or of its
        highest force within `pushoff_s`, when lower) within `max_unloading_s`: slower is a rise from a seat
        with the feet resting lightly on the plate, or a step on, and the flight is no jump's.

    Returns
    -------
    list of Flight, in time order.
    """
    force_n, rate_hz, t_s = checked_trace(force_n, rate_hz, t_s, adc)
    n = force_n.shape[0]
    threshold_n = flight_threshold(body_weight_n, flight_threshold_n=flight_threshold_n,
                                   flight_threshold_bw=flight_threshold_bw)
    spike = max(1, int(round(max_spike_s * rate_hz)))          # seconds become samples here, once
    pushoff = max(1, int(round(pushoff_s * rate_hz)))
    unloading_limit_s = max_unloading_s + settling_s(adc, rate_hz)

    starts, ends = runs(force_n < threshold_n)
    # one sample below is noise, not flight; but the last sample of a recording that ends in the air is all
    # the flight there is (and the push-off before it must not become an impact)
    long_enough = (ends - starts >= 2) | ((ends == n) & (starts > 0) & (ends - starts == 1))
    starts, ends = starts[long_enough], ends[long_enough]
    if starts.size:                                            # a spike between two flights does not split them
        keep = np.concatenate(([True], starts[1:] - ends[:-1] > spike))
        starts, ends = starts[keep], np.concatenate((ends[np.flatnonzero(keep)[1:] - 1], ends[-1:]))
    if starts.size > 1:                                        # nor does a contact too weak to be a touch-down
        touchdown_n = max(min_touchdown_n, min_touchdown_bw * body_weight_n if body_weight_n else 0.0)
        ringing = max(1, int(round(max_ringing_s * rate_hz)))
        keep = np.ones(starts.size, dtype=bool)
        for k in range(1, starts.size):
            gap = force_n[ends[k - 1]:starts[k]]
            keep[k] = gap.size > ringing or float(gap.max()) >= touchdown_n
        starts, ends = starts[keep], np.concatenate((ends[np.flatnonzero(keep)[1:] - 1], ends[-1:]))

    flights = []
    contact_start = 0                                          # first sample of the current contact
    for k, (start, end) in enumerate(zip(starts.tolist(), ends.tolist())):
        takeoff_s = None if start == 0 else time_at(t_s, crossing(force_n, start - 1, threshold_n))
        landing_s = None if end == n else time_at(t_s, crossing(force_n, end - 1, threshold_n))
        kind = EMPTY
        if takeoff_s is not None:
            airborne_s = (landing_s if landing_s is not None else float(t_s[-1])) - takeoff_s
            lo = max(contact_start, start - pushoff)
            contact = force_n[lo:start]
            # The level the feet leave from: the push-off's highest force. When the contact began with a
            # landing within `pushoff_s` (a drop jump's rebound, pogo jumps), that landing's peak is far above
            # the push-off: then at most a body weight, from which a take-off still falls to nothing in tens
            # of milliseconds.
            level_n = float(contact.max())
            if body_weight_n is not None and k > 0 and lo == contact_start:
                level_n = min(level_n, body_weight_n)
            loaded = np.flatnonzero(contact >= unloading_fraction * level_n)
            unloading_s = takeoff_s - float(t_s[lo + loaded[-1]])
            loading_s = 0.0
            if landing_s is not None:          # a landing loads at once; rising from a seat takes a while
                next_start = int(starts[k + 1]) if k + 1 < starts.size else n
                after = force_n[end:min(next_start, end + pushoff)]
                level_n = float(after.max()) if body_weight_n is None else min(float(after.max()), body_weight_n)
                first = int(np.flatnonzero(after >= unloading_fraction * level_n)[0])
                loading_s = float(t_s[end + first]) - landing_s
            if airborne_s <= max_flight_s and unloading_s <= unloading_limit_s and loading_s <= unloading_limit_s:
                kind = JUMP
        flights.append(Flight(start, end, takeoff_s, landing_s, kind, threshold_n))
        contact_start = end
    return flights


def detect_jumps(force_n, rate_hz, *, t_s=None, body_weight_n=None, adc: str = "ideal", flights=None,
                 landing_window_s: float = 0.3, quiet_window_s: float = 1.0, max_integration_s: float = 3.0,
                 max_sd_fraction: float = 0.01, max_sd_n: float = 5.0, rolling: Rolling | None = None,
                 verdict_after: int | None = None, hx711_model=None, **flight_options) -> list[Jump]:
    """Find the jumps in a vertical force trace: take-off, landing, heights and the landing peak.

    Jump height from flight time: h = g t^2 / 8 (g = 9.80665 m/s^2), t from take-off to landing, each the
    interpolated crossing of the flight threshold. Impulse-momentum height: from the quietest window of
    standing (`quiet_window_s`, SD <= max(`max_sd_fraction` x mean, `max_sd_n`)) that ends in the same contact
    at most `max_integration_s` before take-off, v = (g / W) integral (F - W) dt with W that window's mean, and
    h = v^2 / (2 g); None when no quiet standing precedes the jump.

    The landing peak is the largest force from landing to `landing_window_s` (s) later (or the next
    take-off); its loading rate is the mean rise from landing to peak, in body weights per second (BW/s).

    Parameters
    ----------
    force_n, rate_hz, t_s
        As for :func:`find_flights`: total vertical force (N, not modified), sample rate (Hz), sample times (s).
    body_weight_n : float, optional
        Body weight (N), for the ``*_bw`` fields; None leaves them None.
    adc : {"ideal", "hx711"}
        "hx711": samples are the HX711's filtered words. The jumps are found on them as on any samples, then
        refined through the chip's filter model (:func:`~forceplate.signal.refine.refine_jumps`): take-off and
        landing are the true force's estimated crossings, the landing peak the estimated true peak with its
        plausible range (``peak_low_n``, ``peak_high_n``), and the loading rate None (80 SPS cannot resolve
        the rise).
    flights : list of Flight, optional
        From :func:`find_flights` (computed with `flight_options` when not given).
    rolling : Rolling, optional
        The rolling mean and SD of `force_n` over `quiet_window_s` (``_common.rolling_stats``) when the caller
        already has them; computed here otherwise (only when there is a jump).
    verdict_after : int, optional
        A jump set's quick verdict: the landing peak is the first sample after touch-down that none of the
        next `verdict_after` samples exceeds (:func:`~forceplate.signal.common.first_dominant`), judged at
        once; ``decided_s`` is the instant of the last sample it depends on. Default: the largest sample
        within `landing_window_s`.
    hx711_model : Hx711Model, optional
        The chips' filter for the refinement (``forceplate doctor``'s fitted order); default the datasheet's.

    Returns
    -------
    list of Jump, in time order.
    """
    force_n, rate_hz, t_s = checked_trace(force_n, rate_hz, t_s, adc)
    n = force_n.shape[0]
    if flights is None:
        flights = find_flights(force_n, rate_hz, t_s=t_s, body_weight_n=body_weight_n, adc=adc,
                               **flight_options)
    landing_window = max(1, int(round(landing_window_s * rate_hz)))
    quiet_window = max(2, int(round(quiet_window_s * rate_hz)))
    max_integration = int(round(max_integration_s * rate_hz))
    if any(flight.is_jump for flight in flights) and (rolling is None or not rolling.fits(n, quiet_window)):
        rolling = rolling_stats(force_n, quiet_window)
    quiet_limits = {"max_sd_fraction": max_sd_fraction, "max_sd_n": max_sd_n}

    jumps = []
    for k, flight in enumerate(flights):
        if not flight.is_jump:
            continue
        contact_start = flights[k - 1].end if k else 0
        velocity, impulse_method = _takeoff_velocity(force_n, rate_hz, t_s, flight, contact_start, rolling,
                                                     quiet_limits, quiet_window, max_integration)
        height_impulse_m = (velocity ** 2 / (2 * STANDARD_GRAVITY_M_S2)
                            if velocity is not None and velocity > 0 else None)
        if velocity is not None and velocity <= 0:
            impulse_method = "impulse gave no upward take-off velocity: " + impulse_method
        height_method = ("flight time, h = g t^2 / 8, between interpolated crossings of "
                         f"{flight.threshold_n:.0f} N")
        fields = dict(takeoff_s=flight.takeoff_s, landing_s=None, flight_s=None, height_flight_m=None,
                      height_impulse_m=height_impulse_m, takeoff_velocity_m_s=velocity, t_peak_s=None,
                      peak_n=None, peak_bw=None, loading_rate_bw_s=None, flight_threshold_n=flight.threshold_n,
                      height_method=height_method, impulse_method=impulse_method,
                      peak_method="recording ends in flight: no landing",
                      loading_rate_method="recording ends in flight: no landing")
        takeoff_s, landing_s = flight.takeoff_s, flight.landing_s
        if landing_s is not None:
            flight_s = landing_s - takeoff_s
            next_start = flights[k + 1].start if k + 1 < len(flights) else n
            lo, hi = flight.end, min(flight.end + landing_window, next_start)
            if verdict_after is None:
                i_peak = lo + int(np.argmax(force_n[lo:hi]))
                peak_method = largest_sample_method(landing_window_s, "landing")
            else:
                i_peak, decided = first_dominant(force_n, lo, hi, verdict_after)
                fields["decided_s"] = float(t_s[i_peak + verdict_after]) if decided else None
                peak_method = (f"first sample after the landing not exceeded by the {verdict_after} after it "
                               "(a jump set's quick verdict)")
            peak_n = float(force_n[i_peak])
            t_peak_s = float(t_s[i_peak])
            fields.update(landing_s=landing_s, flight_s=flight_s, height_flight_m=flight_height_m(flight_s),
                          t_peak_s=t_peak_s, peak_n=peak_n, peak_method=peak_method)
            if body_weight_n is not None:
                fields["peak_bw"] = peak_n / body_weight_n
            fields["loading_rate_bw_s"], fields["loading_rate_method"] = mean_loading_rate(
                peak_n - flight.threshold_n, t_peak_s - landing_s, body_weight_n, "landing")
        jumps.append(Jump(**fields))
    if adc == "hx711":               # the words are the chip's filter output: see through it
        jumps = refine_jumps(jumps, flights, force_n, t_s, body_weight_n=body_weight_n, words_after=verdict_after,
                             **({} if hx711_model is None else {"model": hx711_model}))
    return jumps


def _takeoff_velocity(force_n, rate_hz, t_s, flight, contact_start, rolling, quiet_limits, quiet_window,
                      max_integration):
    """Take-off velocity (m/s) by impulse-momentum from the quietest window before take-off, and how."""
    # windows wholly inside this contact, ending at most max_integration samples before take-off
    first = max(contact_start, flight.start - max_integration - quiet_window)
    last = flight.start - quiet_window           # window [k, k + quiet_window) ends before the flight
    if last < first or rolling.mean_n.size == 0:
        return None, "no quiet standing before the jump: no impulse height"
    candidates = np.flatnonzero(quiet_mask(rolling.mean_n[first:last + 1], rolling.sd_n[first:last + 1],
                                           **quiet_limits))
    if candidates.size == 0:
        return None, "no quiet standing before the jump: no impulse height"
    # The quietest, not the latest: a window ending just as the countermovement begins passes the SD test
    # while holding part of the dip, which biases the weight and skips part of the impulse.
    k = first + int(candidates[np.argmin(rolling.sd_n[first:last + 1][candidates])])
    weight_n = float(rolling.mean_n[k])
    end_index = crossing(force_n, flight.start - 1, flight.threshold_n)
    start = k + quiet_window - 1                 # only the integrated samples, less the weight
    stop = min(force_n.shape[0], int(np.floor(end_index)) + 2)
    impulse = integrate(force_n[start:stop] - weight_n, 0, end_index - start) / rate_hz     # N s
    velocity = STANDARD_GRAVITY_M_S2 * impulse / weight_n
    method = (f"impulse-momentum from the quiet second at {t_s[k]:.3f}-{t_s[k + quiet_window - 1]:.3f} s "
              f"(weight {weight_n:.1f} N) to take-off, h = v^2 / 2g")
    return velocity, method

"""Flights and jumps in a vertical force trace.

Flight is force below max(20 N, 3 % of body weight) for at least 2 samples: in the air nothing presses on the
plate. A one-sample spike inside a flight (a cable knock, a chip glitch) does not split it. A flight is a jump's
when it starts with a take-off and lasts at most about a second (a 1.2 m jump; people do not fly longer).
Take-off is told from stepping off by its speed: the feet leave at speed, so the force falls from most of its
push-off level to nothing within tens of milliseconds; stepping off shifts the weight over a few hundred.
A flight that is not a jump's is an empty plate (before stepping on, after stepping off, before a drop).

Heights, with g = 9.80665 m/s^2:
- flight time: a body leaving and landing at the same height flies h = g t^2 / 8;
- impulse-momentum: from a quiet second (v = 0, its mean is the weight W = m g) to take-off,
  v = (1 / m) integral (F - W) dt, and h = v^2 / (2 g).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .common import (HX711_FILTER_PERIODS, STANDARD_GRAVITY_M_S2, Rolling, as_force, check_adc, check_rate,
                      crossing, integrate, rolling_stats, runs, sample_times, time_at)
from .bodyweight import quiet_mask

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
        With "hx711" the chip's filter (about 4 output periods) slows every edge, and the unloading limit
        grows by that much.
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
        A take-off falls from `unloading_fraction` of the highest force of the last `pushoff_s` (s) of
        contact to the threshold within `max_unloading_s` (s); slower is stepping off.

    Returns
    -------
    list of Flight, in time order.
    """
    force_n = as_force(force_n)
    rate_hz = check_rate(rate_hz)
    check_adc(adc)
    n = force_n.shape[0]
    t_s = sample_times(n, rate_hz, t_s)
    threshold_n = flight_threshold(body_weight_n, flight_threshold_n=flight_threshold_n,
                                   flight_threshold_bw=flight_threshold_bw)
    spike = max(1, int(round(max_spike_s * rate_hz)))          # seconds become samples here, once
    pushoff = max(1, int(round(pushoff_s * rate_hz)))
    unloading_limit_s = max_unloading_s + (HX711_FILTER_PERIODS / rate_hz if adc == "hx711" else 0.0)

    starts, ends = runs(force_n < threshold_n)
    long_enough = ends - starts >= 2                           # one sample below is noise, not flight
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
    for start, end in zip(starts.tolist(), ends.tolist()):
        takeoff_s = None if start == 0 else time_at(t_s, crossing(force_n, start - 1, threshold_n))
        landing_s = None if end == n else time_at(t_s, crossing(force_n, end - 1, threshold_n))
        kind = EMPTY
        if takeoff_s is not None:
            airborne_s = (landing_s if landing_s is not None else float(t_s[-1])) - takeoff_s
            lo = max(contact_start, start - pushoff)
            contact = force_n[lo:start]
            loaded = np.flatnonzero(contact >= unloading_fraction * contact.max())
            unloading_s = takeoff_s - float(t_s[lo + loaded[-1]])
            if airborne_s <= max_flight_s and unloading_s <= unloading_limit_s:
                kind = JUMP
        flights.append(Flight(start, end, takeoff_s, landing_s, kind, threshold_n))
        contact_start = end
    return flights


def detect_jumps(force_n, rate_hz, *, t_s=None, body_weight_n=None, adc: str = "ideal", flights=None,
                 landing_window_s: float = 0.3, quiet_window_s: float = 1.0, max_integration_s: float = 3.0,
                 max_sd_fraction: float = 0.01, max_sd_n: float = 5.0, rolling: Rolling | None = None,
                 **flight_options) -> list[Jump]:
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
    force_n : array_like, shape (n,)
        Total vertical force in newtons (N), finite. Not modified.
    rate_hz : float
        Sample rate in hertz (Hz).
    t_s : array_like, shape (n,), optional
        Sample times (s); default ``i / rate_hz``.
    body_weight_n : float, optional
        Body weight (N), for the ``*_bw`` fields; None leaves them None.
    adc : {"ideal", "hx711"}
        "hx711": samples are the HX711's filtered words; the peak is then the largest sample, which
        under-reads short impacts, and the loading rate is None (80 SPS cannot resolve the rise).
    flights : list of Flight, optional
        From :func:`find_flights` (computed with `flight_options` when not given).
    rolling : Rolling, optional
        The rolling mean and SD of `force_n` over `quiet_window_s` (``_common.rolling_stats``) when the caller
        already has them; computed here otherwise (only when there is a jump).

    Returns
    -------
    list of Jump, in time order.
    """
    force_n = as_force(force_n)
    rate_hz = check_rate(rate_hz)
    check_adc(adc)
    n = force_n.shape[0]
    t_s = sample_times(n, rate_hz, t_s)
    if flights is None:
        flights = find_flights(force_n, rate_hz, t_s=t_s, body_weight_n=body_weight_n, adc=adc,
                               **flight_options)
    landing_window = max(1, int(round(landing_window_s * rate_hz)))
    quiet_window = max(2, int(round(quiet_window_s * rate_hz)))
    max_integration = int(round(max_integration_s * rate_hz))
    if any(flight.is_jump for flight in flights) and (rolling is None or not rolling.fits(n, quiet_window)):
        rolling = rolling_stats(force_n, quiet_window)
    quiet_limits = {"max_sd_fraction": max_sd_fraction, "max_sd_n": max_sd_n}
    is_hx711 = adc == "hx711"

    jumps = []
    for k, flight in enumerate(flights):
        if not flight.is_jump:
            continue
        contact_start = flights[k - 1].end if k else 0
        velocity, impulse_method = _takeoff_velocity(force_n, rate_hz, t_s, flight, contact_start, rolling,
                                                     quiet_limits, quiet_window, max_integration, is_hx711)
        height_impulse_m = (velocity ** 2 / (2 * STANDARD_GRAVITY_M_S2)
                            if velocity is not None and velocity > 0 else None)
        if velocity is not None and velocity <= 0:
            impulse_method = "impulse gave no upward take-off velocity: " + impulse_method
        height_method = ("flight time, h = g t^2 / 8, between interpolated crossings of "
                         f"{flight.threshold_n:.0f} N")
        if is_hx711:
            height_method += " of HX711-filtered samples (uncorrected: the filter shortens flights)"
        fields = dict(takeoff_s=flight.takeoff_s, landing_s=None, flight_s=None, height_flight_m=None,
                      height_impulse_m=height_impulse_m, takeoff_velocity_m_s=velocity, t_peak_s=None,
                      peak_n=None, peak_bw=None, loading_rate_bw_s=None, flight_threshold_n=flight.threshold_n,
                      height_method=height_method, impulse_method=impulse_method,
                      peak_method="recording ends in flight: no landing",
                      loading_rate_method="recording ends in flight: no landing")
        takeoff_s, landing_s = flight.takeoff_s, flight.landing_s
        if is_hx711:                 # the filter smears both edges: estimate the true crossings through it
            takeoff_s, landing_s, edge_method = _hx711_edges(force_n, t_s, rate_hz, flight)
            if edge_method:
                fields.update(takeoff_s=takeoff_s, height_method=edge_method)
        if landing_s is not None:
            flight_s = landing_s - takeoff_s
            next_start = flights[k + 1].start if k + 1 < len(flights) else n
            lo, hi = flight.end, min(flight.end + landing_window, next_start)
            i_peak = lo + int(np.argmax(force_n[lo:hi]))
            peak_n = float(force_n[i_peak])
            t_peak_s = float(t_s[i_peak])
            peak_method = _peak_method(is_hx711, landing_window_s, "landing")
            if is_hx711:
                baseline_n = float(np.median(force_n[flight.start:flight.end]))
                est = hx711_peak(force_n, t_s, rate_hz, i_peak, baseline_n=baseline_n)
                if est is not None:
                    peak_n, t_peak_s, peak_method = est.peak_n, est.t_peak_s, est.method
                    fields.update(peak_low_n=est.low_n, peak_high_n=est.high_n)
            fields.update(landing_s=landing_s, flight_s=flight_s,
                          height_flight_m=STANDARD_GRAVITY_M_S2 * flight_s ** 2 / 8, t_peak_s=t_peak_s,
                          peak_n=peak_n, peak_method=peak_method)
            if body_weight_n is not None:
                fields["peak_bw"] = peak_n / body_weight_n
            fields["loading_rate_bw_s"], fields["loading_rate_method"] = _loading_rate(
                peak_n - flight.threshold_n, t_peak_s - landing_s, body_weight_n, is_hx711, "landing")
        jumps.append(Jump(**fields))
    return jumps


def _takeoff_velocity(force_n, rate_hz, t_s, flight, contact_start, rolling, quiet_limits, quiet_window,
                      max_integration, is_hx711):
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
    if is_hx711:
        method += " (HX711-filtered samples, uncorrected)"
    return velocity, method


def hx711_peak(force_n, t_s, rate_hz, i_peak, *, baseline_n=None):
    """The true peak behind the HX711 words around sample `i_peak`, fitted through the chip model.

    None when the fit is unreliable (too few words, a flat stretch): the caller keeps the largest sample and
    its label. `baseline_n`: the level before the impact when known (flight words before a landing).
    """
    from .hx711_model import Hx711Model
    order = Hx711Model().order
    lo, hi = max(0, i_peak - order - 2), min(force_n.shape[0], i_peak + order + 4)
    try:
        est = _fit_impact(_key(t_s[lo:hi]), _key(force_n[lo:hi]), baseline_n)
    except ValueError:
        return None
    return est if est.is_reliable else None


# The fits depend only on the words they are given (the rate comes from those words' own timestamps), so
# the live analyzer, which re-analyses a trailing window ten times a second, fits each impact once, and
# live and offline analysis of the same words give the same numbers. lru_cache is thread-safe.
def _key(values) -> bytes:
    return np.ascontiguousarray(values, dtype=np.float64).tobytes()


@functools.lru_cache(maxsize=512)
def _fit_impact(t_key: bytes, f_key: bytes, baseline_n):
    from .hx711_model import estimate_impact
    return estimate_impact(np.frombuffer(t_key), np.frombuffer(f_key), rate_hz=None, baseline_n=baseline_n)


@functools.lru_cache(maxsize=512)
def _fit_edge(t_key: bytes, f_key: bytes, kind: str, threshold_n: float, flight_level_n):
    from .hx711_model import estimate_edge
    return estimate_edge(np.frombuffer(t_key), np.frombuffer(f_key), kind=kind, rate_hz=None,
                         threshold_n=threshold_n, flight_level_n=flight_level_n)


def _hx711_edges(force_n, t_s, rate_hz, flight):
    """Take-off and landing instants of the true force, estimated through the HX711 model, and the height
    method naming it; the plain crossings (and no method) where an edge fit is not reliable."""
    from .hx711_model import Hx711Model
    order = Hx711Model().order
    n = force_n.shape[0]
    takeoff_s, landing_s, fitted = flight.takeoff_s, flight.landing_s, []
    flight_level_n = float(np.median(force_n[flight.start:flight.end]))
    try:
        lo, hi = max(0, flight.start - 6), min(n, flight.start + order + 2)
        edge = _fit_edge(_key(t_s[lo:hi]), _key(force_n[lo:hi]), "takeoff", flight.threshold_n, None)
        if edge.is_reliable:
            takeoff_s = edge.t_s
            fitted.append("take-off")
        if landing_s is not None:
            lo, hi = max(0, flight.end - order - 3), min(n, flight.end + 2)
            edge = _fit_edge(_key(t_s[lo:hi]), _key(force_n[lo:hi]), "landing", flight.threshold_n,
                             flight_level_n)
            if edge.is_reliable:
                landing_s = edge.t_s
                fitted.append("landing")
    except ValueError:
        pass
    if not fitted:
        return flight.takeoff_s, flight.landing_s, None
    return takeoff_s, landing_s, (f"flight time, h = g t^2 / 8, between {flight.threshold_n:.0f} N crossings of the "
                                  f"true force; {' and '.join(fitted)} estimated by an edge fit through the "
                                  "HX711 filter model (4 cascaded boxcars)")


def _peak_method(is_hx711: bool, window_s: float, what: str) -> str:
    if is_hx711:
        return "largest sample; the HX711 filter under-reads short impacts"
    return f"largest sample within {window_s:g} s of the {what}"


def _loading_rate(rise_n, rise_s, body_weight_n, is_hx711, onset):
    """Mean loading rate (BW/s) from onset to peak, and how; None where the data cannot resolve it."""
    if is_hx711:
        return None, "not resolved: 80 SPS through the HX711 filter cannot show the rise"
    if body_weight_n is None:
        return None, "no body weight"
    if rise_s <= 0:
        return None, f"peak at the {onset} sample: rise not resolved"
    return rise_n / body_weight_n / rise_s, f"mean rise from the {onset} instant to the peak"

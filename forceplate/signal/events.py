"""One analysis for every caller: body weight, jumps and impacts of a force trace, as contract events.

`forceplate analyze`, the live page (through :class:`~forceplate.signal.streaming.LiveAnalyzer`) and the tests
all call :func:`analyze_force`, so a recording analysed offline gives the events the live page showed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .common import STANDARD_GRAVITY_M_S2, Rolling, as_force, check_adc, check_rate, rolling_stats
from .exercises import FREE, HEEL_DROP, JUMP, SIT_TO_STAND, check_exercise
from .bodyweight import BodyWeight, estimate_body_weight
from .impacts import Impact, detect_impacts
from .jumps import Jump, detect_jumps, find_flights
from .offset import OffsetCorrection, correct_loaded_zero
from .refine import verdict_after_samples
from .sit_to_stand import SitToStand, detect_sit_to_stand
from .summary import SessionSummary, intensity_band, is_caution, summarize_session

# Output precision: far below what the plate resolves, so rounding never hides a difference that matters.
_DECIMALS = {"_s": 4, "_n": 1, "_bw": 3, "_bw_s": 1, "_m": 4, "_m_s": 3}


@dataclass(frozen=True)
class Analysis:
    """Everything :func:`analyze_force` found. Times in seconds (s) on the trace's clock, forces in N."""

    rate_hz: float
    duration_s: float
    adc: str
    body_weight: BodyWeight
    jumps: tuple
    impacts: tuple
    thump_bw: float
    min_peak_bw: float
    invalid_samples: int
    sit_to_stands: tuple = ()        # SitToStand visits (optional: absent from older callers' Analysis)
    offset: OffsetCorrection = OffsetCorrection(0.0, None)   # a tare offset found in the trace and removed
    exercise: str = FREE             # what the person was asked to do (forceplate.signal.exercises)

    @property
    def body_weight_n(self) -> float | None:
        return self.body_weight.weight_n

    @property
    def events(self) -> list:
        """Jumps and impacts in time order (a jump at its take-off, an impact at its peak)."""
        return sorted(self.jumps + self.impacts, key=event_time_s)

    def event_dicts(self) -> list[dict]:
        """The events as docs/contracts.md section 1 objects (with extra fields), JSON-safe.

        The force peak of a sit-to-stand rise is no impact: the rise is in :meth:`sit_to_stand_dicts`.
        """
        return [event_dict(event, self.thump_bw) for event in self.events]

    def sit_to_stand_dicts(self) -> list[dict]:
        """The sit-to-stand visits (sit-down and rise) as JSON-safe objects, in time order."""
        return [sit_to_stand_dict(rep) for rep in self.sit_to_stands]

    def summary(self) -> SessionSummary:
        """The session in a few numbers: see :func:`~forceplate.signal.summary.summarize_session`."""
        return summarize_session(self.events, thump_bw=self.thump_bw)


def event_time_s(event) -> float:
    """When an event happened, for ordering: a jump's take-off, an impact's peak (s)."""
    return event.takeoff_s if isinstance(event, Jump) else event.t_peak_s


def is_thump(peak_bw: float | None, thump_bw: float) -> bool | None:
    """An impact reaching `thump_bw` body weights is a thump (a rep that counts); None without a weight."""
    return None if peak_bw is None else bool(peak_bw >= thump_bw)


def event_dict(event, thump_bw: float) -> dict:
    """One event as a contract object: the contract's fields first, then the extra ones."""
    if isinstance(event, Jump):
        out = {"kind": "jump", "takeoff_s": event.takeoff_s, "landing_s": event.landing_s,
               "flight_s": event.flight_s, "height_flight_m": event.height_flight_m,
               "height_impulse_m": event.height_impulse_m}
        extra = {"takeoff_velocity_m_s": event.takeoff_velocity_m_s,
                 "flight_threshold_n": event.flight_threshold_n, "height_method": event.height_method,
                 "impulse_method": event.impulse_method}
    elif isinstance(event, Impact):
        out = {"kind": "impact"}
        extra = {"onset_s": event.onset_s, "landing": event.landing}
    else:
        raise TypeError(f"not an event: {event!r}")
    out.update(t_peak_s=event.t_peak_s, peak_n=event.peak_n, peak_bw=event.peak_bw,
               loading_rate_bw_s=event.loading_rate_bw_s, thump=is_thump(event.peak_bw, thump_bw))
    out.update(extra)
    out.update(peak_method=event.peak_method, loading_rate_method=event.loading_rate_method)
    if event.peak_low_n is not None:    # an estimate (HX711 words): its plausible range
        bw = event.peak_bw / event.peak_n if event.peak_bw is not None and event.peak_n else None
        out.update(peak_low_n=event.peak_low_n, peak_high_n=event.peak_high_n,
                   peak_low_bw=None if bw is None else event.peak_low_n * bw,
                   peak_high_bw=None if bw is None else event.peak_high_n * bw,
                   thump_borderline=None if bw is None else bool(
                       event.peak_low_n * bw < thump_bw <= event.peak_high_n * bw))
    out.update(intensity=intensity_band(event.peak_bw), caution=is_caution(event.peak_bw))
    return {key: json_number(key, value) for key, value in out.items()}


def sit_to_stand_dict(rep: SitToStand) -> dict:
    """One sit-to-stand visit as a JSON-safe object (fields of :class:`SitToStand`; ``*_w`` rounded to 0.1 W)."""
    out = {"seated_start_s": rep.seated_start_s, "seated_end_s": rep.seated_end_s, "seated_n": rep.seated_n,
           "seated_bw": rep.seated_bw, "lowering_start_s": rep.lowering_start_s,
           "lowering_end_s": rep.lowering_end_s, "lowering_s": rep.lowering_s, "rise_start_s": rep.rise_start_s,
           "rise_end_s": rep.rise_end_s, "rise_s": rep.rise_s, "t_peak_s": rep.t_peak_s, "peak_n": rep.peak_n,
           "peak_bw": rep.peak_bw, "is_fast_rise": rep.is_fast_rise, "is_slow_lowering": rep.is_slow_lowering,
           "tempo": rep.tempo, "mean_power_w": rep.mean_power_w, "mean_power_w_kg": rep.mean_power_w_kg,
           "power_method": rep.power_method, "lowering_method": rep.lowering_method, "rise_method": rep.rise_method,
           "seat_rule": rep.seat_rule}
    out = {key: json_number(key, value) for key, value in out.items()}
    for key in ("mean_power_w", "mean_power_w_kg"):
        if out[key] is not None:
            out[key] = round(out[key], 1 if key == "mean_power_w" else 2)
    return out


def json_number(key: str, value):
    """Round a float by its unit suffix; never NaN or infinity (those become None)."""
    if isinstance(value, bool) or not isinstance(value, (float, np.floating)):
        return value
    value = float(value)
    if not math.isfinite(value):
        return None
    for suffix in ("_bw_s", "_m_s", "_bw", "_s", "_n", "_m"):
        if key.endswith(suffix):
            return round(value, _DECIMALS[suffix])
    return value


def analyze_force(t_s, force_n, rate_hz, *, adc: str = "ideal", body_weight_n: float | None = None,
                  thump_bw: float = 2.5, min_peak_bw: float = 1.3, body_height_m: float | None = None,
                  chair_height_m: float | None = None, exercise: str = "free", hx711_model=None) -> Analysis:
    """Weigh the person and find every jump and impact in a force trace.

    Parameters
    ----------
    t_s : array_like, shape (n,)
        Sample times in seconds (s), increasing.
    force_n : array_like, shape (n,) or (n, ch)
        Vertical force in newtons (N): the total, or one column per load cell (summed). NaN marks an invalid
        sample (a lost or saturated word): it is bridged linearly for detection and never used for weighing.
        Not modified.
    rate_hz : float
        Sample rate in hertz (Hz).
    adc : {"ideal", "hx711"}
        "ideal": each sample is the force at that instant. "hx711": each sample is an HX711 output word (its
        filter averages about 4 output periods): events are found on the words as on any samples, then their
        peaks and flight edges are estimated through the chip's filter model (:mod:`~forceplate.signal.refine`),
        and loading rates are None.
    body_weight_n : float, optional
        Body weight (N). Default: the quietest second of standing (see
        :func:`~forceplate.signal.bodyweight.estimate_body_weight`); without one, no impacts can be judged
        and every ``*_bw`` field is None.
    thump_bw : float
        An impact reaching this many body weights is a thump.
    min_peak_bw : float
        Smaller peaks (body weights) are not impacts.
    body_height_m, chair_height_m : float, optional
        Body and chair height (m): with both, each sit-to-stand rise gets a mean power (see
        :func:`~forceplate.signal.sit_to_stand.detect_sit_to_stand`).
    exercise : {"free", "heel-drop", "jump", "drop-landing", "sit-to-stand"}
        What the person was asked to do (:mod:`~forceplate.signal.exercises`). In every exercise a take-off,
        flight and landing is a jump, a jump's push-off is no impact, and the force peak of a sit-to-stand
        rise is no impact (the rise is listed in ``sit_to_stands``). "heel-drop" judges each impact, "jump"
        each landing, as soon as the force has fallen from its peak
        (:func:`~forceplate.signal.common.first_dominant`: 5 HX711 words or 60 ms of samples; of close
        impacts the first is the rep); a jump set's other peaks wait, as they may be a push-off; "sit-to-stand" looks for seats
        the way a sit-to-stand set has them (any seated or empty stretch between slow movements).
        "drop-landing" and "free" classify every movement by itself.
    hx711_model : Hx711Model, optional
        With ``adc="hx711"``: the chips' filter, when ``forceplate doctor`` fitted an order other than the
        datasheet's 4 (``calibration.saved.load_filter_model``); default the datasheet's model.

    Returns
    -------
    Analysis
    """
    check_adc(adc)
    check_exercise(exercise)
    rate_hz = check_rate(rate_hz)
    quick = verdict_after_samples(adc, rate_hz)
    quick_impacts = quick if exercise == HEEL_DROP else None      # a jump set's push-offs must wait for the jump
    quick_landings = quick if exercise == JUMP else None
    if not thump_bw > 0 or not min_peak_bw > 0:
        raise ValueError("thump_bw and min_peak_bw must be positive numbers of body weights")
    force_n = np.asarray(force_n, dtype=np.float64)
    total_n = force_n.sum(axis=1) if force_n.ndim == 2 else force_n     # a sum is a new array
    t_s = np.asarray(t_s, dtype=np.float64)
    if total_n.ndim != 1 or t_s.shape != total_n.shape:
        raise ValueError(f"t_s {t_s.shape} and force_n {force_n.shape} do not match")
    n = total_n.shape[0]
    valid = np.isfinite(total_n)
    invalid = int(n - np.count_nonzero(valid))
    if invalid:
        total_n = _bridge(total_n, valid)
    offset = OffsetCorrection(0.0, None)
    if n >= 2:                       # a plate zeroed with someone on it reads -W in flight: add W back
        total_n, offset = correct_loaded_zero(total_n, rate_hz)
    # The 1 s rolling mean and SD serve the weighing and each jump's quiet second: computed once, when needed.
    rolling = None
    any_valid = invalid < n

    if body_weight_n is not None:
        weight = BodyWeight(float(body_weight_n), None, None, None,
                            f"given: {body_weight_n / STANDARD_GRAVITY_M_S2:.2f} kg x 9.80665 m/s^2")
    elif n and any_valid:
        rolling = rolling_stats(total_n, _quiet_window(rate_hz))
        weight = weigh_standing(total_n, rate_hz, t_s=t_s, valid=valid if invalid else None, rolling=rolling)
    else:
        weight = BodyWeight(None, None, None, None, "no valid samples")

    jumps, impacts, sit_to_stands = (), (), ()
    if any_valid and n >= 2:
        flights = find_flights(total_n, rate_hz, t_s=t_s, body_weight_n=weight.weight_n, adc=adc)
        if rolling is None and any(flight.is_jump for flight in flights):
            rolling = rolling_stats(total_n, _quiet_window(rate_hz))
        jumps = tuple(detect_jumps(total_n, rate_hz, t_s=t_s, body_weight_n=weight.weight_n, adc=adc,
                                   flights=flights, rolling=rolling, verdict_after=quick_landings,
                                   hx711_model=hx711_model))
        if weight.weight_n is not None:
            impacts = tuple(detect_impacts(total_n, rate_hz, body_weight_n=weight.weight_n, t_s=t_s, adc=adc,
                                           flights=flights, min_peak_bw=min_peak_bw, verdict_after=quick_impacts,
                                           hx711_model=hx711_model))
            sit_to_stands = tuple(detect_sit_to_stand(total_n, rate_hz, t_s=t_s, body_weight_n=weight.weight_n,
                                                      body_height_m=body_height_m, chair_height_m=chair_height_m,
                                                      typed=exercise == SIT_TO_STAND))
            impacts = tuple(impact for impact in impacts if not _in_a_rise(impact, sit_to_stands))
    return Analysis(rate_hz=rate_hz, duration_s=n / rate_hz, adc=adc, body_weight=weight, jumps=jumps,
                    impacts=impacts, thump_bw=thump_bw, min_peak_bw=min_peak_bw, invalid_samples=invalid,
                    sit_to_stands=sit_to_stands, offset=offset, exercise=exercise)


def _in_a_rise(impact: Impact, sit_to_stands) -> bool:
    """Whether an impact's peak is the force peak of a sit-to-stand rise (leaving the seat to settled)."""
    return any(rep.has_rise and rep.rise_start_s <= impact.t_peak_s <= rep.rise_end_s for rep in sit_to_stands)


def _quiet_window(rate_hz: float) -> int:
    """Samples in the 1 s window of the weighing and of a jump's quiet second (their `window_s` defaults)."""
    return max(2, int(round(1.0 * rate_hz)))


def weigh_standing(force_n, rate_hz, *, t_s=None, valid=None, seated_max_fraction: float = 0.75,
                   rolling: Rolling | None = None) -> BodyWeight:
    """Body weight from the quietest second of *standing*, not of sitting.

    :func:`~forceplate.signal.bodyweight.estimate_body_weight` takes the quietest plausible second, which in
    sit-to-stand exercise (chair off the plate) can be a second of sitting: the feet alone, a quarter of the
    weight, and stiller than standing. A quiet level at most `seated_max_fraction` of another quiet level in
    the same recording cannot be the person standing (standing still reads the whole weight, F = m g), so the
    weighing is repeated above it until no heavier quiet level remains. `rolling`: the trace's 1 s rolling
    mean and SD when the caller has them (see :func:`~forceplate.signal.bodyweight.estimate_body_weight`).
    """
    force_n = as_force(force_n)
    rate_hz = check_rate(rate_hz)
    if rolling is None:          # every weighing of the loop uses the same windows: their sums once
        rolling = rolling_stats(force_n, _quiet_window(rate_hz))
    weight = estimate_body_weight(force_n, rate_hz, t_s=t_s, valid=valid, rolling=rolling)
    while weight.weight_n is not None:
        heavier = estimate_body_weight(force_n, rate_hz, t_s=t_s, valid=valid, rolling=rolling,
                                       min_weight_n=weight.weight_n / seated_max_fraction)
        if heavier.weight_n is None:
            break
        weight = BodyWeight(heavier.weight_n, heavier.sd_n, heavier.start_s, heavier.end_s,
                            heavier.method + f" (a stiller level of {weight.weight_n:.0f} N below it, at most "
                            f"{seated_max_fraction:g} of it, is sitting)")
    return weight


def _bridge(force_n: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """A copy with invalid samples replaced by a straight line between their valid neighbours."""
    if not valid.any():
        return np.zeros_like(force_n)
    index = np.arange(force_n.shape[0])
    return np.interp(index, index[valid], force_n[valid])

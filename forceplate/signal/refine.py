"""HX711 words: the events the detectors found, refined through the chip's filter model.

The detectors find jumps and impacts on the samples they are given, with the same code whatever the ADC: a
flight is where the samples stay below the flight threshold, a peak is the largest sample. HX711 words are the
output of the chip's filter (:mod:`~forceplate.signal.hx711_model`: about 4 output periods long), which reads a
short impact's peak 10-25 % low and crosses the flight threshold late at both edges of a flight (a flight
reads 15-20 ms short). This module is the one place that knows it. For each event found on the words it
estimates, through the model, what the words hide:

- a peak (an impact or a jump's landing): the true peak, its instant and its plausible range
  (:func:`true_peak`); where no reliable fit exists the largest word stays, labelled as under-reading;
- an impact's onset: the fitted shape's start of rise (the words' 1 BW crossing lags the true rise);
- a jump's take-off and landing: the instants the true force crossed the threshold (:func:`flight_edges`),
  and the flight time and height between them;
- loading rates: none (80 SPS through the filter cannot resolve a rise of 10-40 ms).

Every ``*_method`` string says what was estimated and what was taken from the words uncorrected. The only
allowance detection itself makes is :func:`settling_s`: a take-off seen through the filter falls more slowly.
"""
from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from .common import flight_height_m, sample_index
from .hx711_model import DEFAULT_MODEL, EdgeEstimate, Hx711Model, ImpactEstimate, estimate_edge, estimate_impact

LARGEST_WORD_METHOD = "largest sample; the HX711 filter under-reads short impacts"
NO_LOADING_RATE_METHOD = "not resolved: 80 SPS through the HX711 filter cannot show the rise"
# what a number taken from the words as they are says about itself
_FLIGHT_UNCORRECTED = " of HX711-filtered samples (uncorrected: the filter shortens flights)"
_IMPULSE_UNCORRECTED = " (HX711-filtered samples, uncorrected)"


VERDICT_AFTER_S = 0.06          # a typed set's quick verdict on samples of the force itself: 60 ms after the peak
VERDICT_AFTER_WORDS = 5         # on HX711 words: 5 words after the largest (bench/hx711_accuracy.py, "fast
                                # verdict": at the chips' 82-92 SPS 3 meet the accuracy goals, at exactly 80
                                # SPS, where the model reads a few % high, 5 do)


def verdict_after_samples(adc: str, rate_hz: float) -> int:
    """How many samples after a peak decide it in a typed set (:func:`~forceplate.signal.common.first_dominant`):
    5 words of a filtering ADC (its words need fitting, and the fit needs them), else 60 ms of samples."""
    if settling_s(adc, rate_hz) > 0:
        return VERDICT_AFTER_WORDS
    return max(1, int(round(VERDICT_AFTER_S * rate_hz)))


def settling_s(adc: str, rate_hz: float, *, model: Hx711Model = DEFAULT_MODEL) -> float:
    """How long (s) the ADC's samples take to follow a step in force: 0 for samples of the force itself; for
    HX711 words the model's span (4 output periods, the datasheet's settling time)."""
    return model.span_s(rate_hz) if adc == "hx711" else 0.0


def refine_impacts(impacts, force_n: np.ndarray, t_s: np.ndarray, *, body_weight_n: float,
                   words_after: int | None = None, model: Hx711Model = DEFAULT_MODEL) -> list:
    """The impacts found on HX711 words, with true peaks, onsets and methods estimated through the model.

    Parameters
    ----------
    impacts : list of Impact
        From :func:`~forceplate.signal.impacts.detect_impacts` run on the words as samples (``adc="ideal"``).
    force_n, t_s : ndarray, shape (n,)
        The words (N, total force) and their instants (s, increasing) the impacts were found in. Not modified.
    body_weight_n : float
        Body weight (N), for ``peak_bw``.
    words_after : int, optional
        Fit no more than this many words after the largest (a typed set's quick verdict); default all the
        model can use (order + 3).
    model : Hx711Model
        The chips' filter: the default, or the order `forceplate doctor` fitted (``load_filter_model``).

    Returns
    -------
    list of Impact, one per impact given, in the same order.
    """
    refined = []
    for impact in impacts:
        # a drop starts from the empty plate; a heel drop from a level the words cannot tell (the heels fall)
        est = true_peak(force_n, t_s, sample_index(t_s, impact.t_peak_s),
                        baseline_n=0.0 if impact.is_drop else None,
                        words_after=None if impact.is_drop else words_after, model=model)
        changes = dict(peak_method=LARGEST_WORD_METHOD, loading_rate_bw_s=None,
                       loading_rate_method=NO_LOADING_RATE_METHOD)
        if est is not None:
            # the words' 1 BW crossing lags the true rise by the filter's delay (it can fall after the fitted
            # peak): the onset is the fitted shape's start of rise
            changes.update(peak_n=est.peak_n, t_peak_s=est.t_peak_s, peak_bw=est.peak_n / body_weight_n,
                           onset_s=min(est.onset_s, est.t_peak_s), peak_method=est.method, peak_low_n=est.low_n,
                           peak_high_n=est.high_n)
        refined.append(replace(impact, **changes))
    return refined


def refine_jumps(jumps, flights, force_n: np.ndarray, t_s: np.ndarray, *, body_weight_n: float | None,
                 words_after: int | None = None, model: Hx711Model = DEFAULT_MODEL) -> list:
    """The jumps found on HX711 words, with edges, flight heights, landing peaks and methods estimated through
    the model.

    Parameters
    ----------
    jumps : list of Jump
        From :func:`~forceplate.signal.jumps.detect_jumps` run on the words as samples (``adc="ideal"``).
    flights : list of Flight
        The flights they were found from (:func:`~forceplate.signal.jumps.find_flights`): one jump per flight
        that is a jump's, in order.
    force_n, t_s : ndarray, shape (n,)
        The words (N, total force) and their instants (s, increasing). Not modified.
    body_weight_n : float or None
        Body weight (N), for ``peak_bw``; None leaves it None.
    words_after : int, optional
        As for :func:`refine_impacts`: the landing peak of a typed set's quick verdict.

    Returns
    -------
    list of Jump, one per jump given, in the same order.
    """
    refined = []
    for jump, flight in zip(jumps, [flight for flight in flights if flight.is_jump], strict=True):
        flight_level_n = float(np.median(force_n[flight.start:flight.end]))    # what the plate reads in the air
        takeoff_s, landing_s, edge_method = flight_edges(force_n, t_s, flight, flight_level_n=flight_level_n,
                                                         model=model)
        changes = dict(takeoff_s=takeoff_s, height_method=edge_method or jump.height_method + _FLIGHT_UNCORRECTED)
        if jump.takeoff_velocity_m_s is not None:
            changes["impulse_method"] = jump.impulse_method + _IMPULSE_UNCORRECTED
        if jump.landing_s is not None:
            flight_s = landing_s - takeoff_s
            changes.update(landing_s=landing_s, flight_s=flight_s, height_flight_m=flight_height_m(flight_s),
                           peak_method=LARGEST_WORD_METHOD, loading_rate_bw_s=None,
                           loading_rate_method=NO_LOADING_RATE_METHOD)
            est = true_peak(force_n, t_s, sample_index(t_s, jump.t_peak_s), baseline_n=flight_level_n,
                            words_after=words_after, model=model)
            if est is not None:
                changes.update(peak_n=est.peak_n, t_peak_s=est.t_peak_s, peak_method=est.method,
                               peak_low_n=est.low_n, peak_high_n=est.high_n,
                               peak_bw=None if body_weight_n is None else est.peak_n / body_weight_n)
        refined.append(replace(jump, **changes))
    return refined


def true_peak(force_n: np.ndarray, t_s: np.ndarray, i_peak: int, *, baseline_n: float | None = None,
              words_after: int | None = None, model: Hx711Model = DEFAULT_MODEL) -> ImpactEstimate | None:
    """The true peak behind the HX711 words around word `i_peak`, fitted through the chip model
    (:func:`~forceplate.signal.hx711_model.estimate_impact`).

    None when the fit is unreliable (too few words, a flat stretch): the caller keeps the largest word and its
    label. `baseline_n`: the level before the impact when known (N; the flight words before a landing).
    `words_after`: fit at most this many words after `i_peak` (default order + 3).
    """
    order = model.order
    after = order + 3 if words_after is None else min(order + 3, int(words_after))
    lo, hi = max(0, i_peak - order - 2), min(force_n.shape[0], i_peak + after + 1)
    try:
        est = _fit_impact(_key(t_s[lo:hi]), _key(force_n[lo:hi]), baseline_n, model)
    except ValueError:
        return None
    return est if est.is_reliable else None


def flight_edges(force_n: np.ndarray, t_s: np.ndarray, flight, *, flight_level_n: float,
                 model: Hx711Model = DEFAULT_MODEL) -> tuple[float, float | None, str | None]:
    """Take-off and landing instants (s) of the true force, estimated through the HX711 model
    (:func:`~forceplate.signal.hx711_model.estimate_edge`), and the height method naming them.

    An edge whose fit is not reliable keeps the words' plain crossing; with neither fitted, the method is None.
    `flight_level_n`: what the plate reads in flight (N).
    """
    order = model.order
    n = force_n.shape[0]
    takeoff_s, landing_s, fitted = flight.takeoff_s, flight.landing_s, []
    try:
        lo, hi = max(0, flight.start - 6), min(n, flight.start + order + 2)
        edge = _fit_edge(_key(t_s[lo:hi]), _key(force_n[lo:hi]), "takeoff", flight.threshold_n, None, model)
        if edge.is_reliable:
            takeoff_s = edge.t_s
            fitted.append("take-off")
        if landing_s is not None:
            lo, hi = max(0, flight.end - order - 3), min(n, flight.end + 2)
            edge = _fit_edge(_key(t_s[lo:hi]), _key(force_n[lo:hi]), "landing", flight.threshold_n,
                             flight_level_n, model)
            if edge.is_reliable:
                landing_s = edge.t_s
                fitted.append("landing")
    except ValueError:
        pass
    if not fitted:
        return flight.takeoff_s, flight.landing_s, None
    return takeoff_s, landing_s, (f"flight time, h = g t^2 / 8, between {flight.threshold_n:.0f} N crossings of the "
                                  f"true force; {' and '.join(fitted)} estimated by an edge fit through the "
                                  f"HX711 filter model ({model.order} cascaded boxcars)")


# The fits depend only on the words they are given (the rate comes from those words' own timestamps), so
# the live analyzer, which re-analyses a trailing window ten times a second, fits each impact once, and
# live and offline analysis of the same words give the same numbers. lru_cache is thread-safe.
def _key(values) -> bytes:
    return np.ascontiguousarray(values, dtype=np.float64).tobytes()


@functools.lru_cache(maxsize=512)
def _fit_impact(t_key: bytes, f_key: bytes, baseline_n, model: Hx711Model = DEFAULT_MODEL) -> ImpactEstimate:
    return estimate_impact(np.frombuffer(t_key), np.frombuffer(f_key), rate_hz=None, baseline_n=baseline_n,
                           model=model)


@functools.lru_cache(maxsize=512)
def _fit_edge(t_key: bytes, f_key: bytes, kind: str, threshold_n: float, flight_level_n,
              model: Hx711Model = DEFAULT_MODEL) -> EdgeEstimate:
    return estimate_edge(np.frombuffer(t_key), np.frombuffer(f_key), kind=kind, rate_hz=None,
                         threshold_n=threshold_n, flight_level_n=flight_level_n, model=model)

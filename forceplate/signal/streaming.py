"""Live analysis: the offline analysis run on a trailing window, each event sent once it can no longer change.

:class:`LiveAnalyzer` keeps the last `window_s` of samples and, at most `analyses_per_s` times per second of
stream time, runs :func:`~forceplate.signal.events.analyze_force` on the part that still matters: from
`LEAD_S` before the last settled instant to the newest sample. An event is final when the data reaches far
enough past it that nothing later can change it (`HORIZON_S`: a later take-off could make an impact that
jump's push-off; a landing's peak window and the refractory period must have passed), and no flight still in
progress could reclassify it. So the events equal those of analysing the whole recording, give or take the
body weight, which live is the quietest second seen so far (offline: in the whole recording).

Events wait for a body weight (they are judged in body weights) for at most `max_wait_for_weight_s` of
stream time, then go out with null ``*_bw`` fields, like an offline analysis without quiet standing.

What :meth:`LiveAnalyzer.feed` and :meth:`LiveAnalyzer.flush` return, in time order, are dicts of three kinds
besides the contract's ``impact`` and ``jump``:

- ``{"kind": "sit-to-stand", ...}``: a sit-to-stand rep (the fields of
  :func:`~forceplate.signal.events.sit_to_stand_dict`), never an impact;
- ``{"kind": "withdrawn", "t_peak_s": T, "reason": "..."}``: the impact sent earlier with peak time ``T`` is
  withdrawn (in a heel-drop set, a take-off followed it: it was that jump's push-off). Rare, and counted.
"""
from __future__ import annotations

import numpy as np

from .common import check_adc, check_rate
from .exercises import HEEL_DROP, JUMP, check_exercise
from .bodyweight import BodyWeight
from .events import analyze_force, event_dict, event_time_s, sit_to_stand_dict, weigh_standing
from .sit_to_stand import SitToStand
from .jumps import Jump, flight_threshold

# The detectors' defaults these margins are built on (jumps.find_flights, impacts.detect_impacts).
_PUSHOFF_S = 1.0
_MAX_FLIGHT_S = 1.0
_LANDING_WINDOW_S = 0.3
_REFRACTORY_S = 0.3
_MARGIN_S = 0.2


class LiveAnalyzer:
    """Jumps and impacts from a live stream of total force, as contract events, each exactly once.

    Parameters
    ----------
    rate_hz : float
        Nominal sample rate (Hz); once a second of data is in, the rate measured from the times is used.
    adc : {"hx711", "ideal"}
        What the samples are (see :func:`~forceplate.signal.events.analyze_force`).
    thump_bw, min_peak_bw : float
        As for `forceplate analyze`.
    body_mass_kg : float, optional
        Fixes body weight (mass x 9.80665 m/s^2); otherwise weighed from quiet standing.
    window_s : float
        Seconds of samples kept (s).
    analyses_per_s : float
        At most this many analyses per second of stream time (cheap on a Pi Zero 2 W).
    max_wait_for_weight_s : float
        How long (s) an event waits for a body weight before it goes out without one.
    empty_reset_s : float
        A plate empty this long (s) means the person left: the weighing starts again for the next one.
    exercise : str
        What the person was asked to do (:mod:`~forceplate.signal.exercises`): its rules decide.
    body_height_m, chair_height_m : float, optional
        With both, each sit-to-stand rise gets a mean power (as for `forceplate analyze`).
    hx711_model : Hx711Model, optional
        The chips' fitted filter (``forceplate doctor``), for the HX711 estimates.
    """

    LEAD_S = 6.0            # analysed before the settled instant: a quiet second, 3 s of integration, push-off
    HORIZON_S = max(_PUSHOFF_S, _LANDING_WINDOW_S + _REFRACTORY_S) + _MARGIN_S

    def __init__(self, rate_hz, *, adc="hx711", thump_bw=2.5, min_peak_bw=1.3, body_mass_kg=None,
                 window_s=30.0, analyses_per_s=10.0, max_wait_for_weight_s=10.0, empty_reset_s=3.0,
                 exercise="free", body_height_m=None, chair_height_m=None, hx711_model=None):
        self.rate_hz = check_rate(rate_hz)
        self.exercise = check_exercise(exercise)
        self.body_height_m, self.chair_height_m = body_height_m, chair_height_m
        self.hx711_model = hx711_model
        self.adc = check_adc(adc)
        self.thump_bw = float(thump_bw)
        self.min_peak_bw = float(min_peak_bw)
        if not self.thump_bw > 0 or not self.min_peak_bw > 1:
            raise ValueError("thump_bw must be positive and min_peak_bw above 1 body weight")
        self.window_s = max(float(window_s), self.LEAD_S + 2 * self.HORIZON_S + max_wait_for_weight_s)
        self.analysis_period_s = 1.0 / float(analyses_per_s)
        self.max_wait_for_weight_s = float(max_wait_for_weight_s)
        self.empty_reset_s = float(empty_reset_s)
        self._fixed = None if body_mass_kg is None else BodyWeight.from_mass(float(body_mass_kg))
        self._weight = self._fixed
        self._t = np.empty(0)
        self._f = np.empty(0)
        self._chunks_t: list = []
        self._chunks_f: list = []
        self._last_t = -np.inf
        self._analysed_to_s = -np.inf
        self._settled_s = -np.inf        # every event anchored at or before this has been sent
        self._last_sent_s = -np.inf      # event time of the last event sent
        self._last_sent_kind = None      # and its kind: a jump taking off just after a heel drop sent at once is new
        self._had_person = False
        self._status = "Waiting for the plate"
        self._provisional: list[dict] = []
        self._early: list[float] = []    # peak times of impacts sent before their horizon (a heel-drop set)
        self.corrections = 0             # of those, how many a take-off made a push-off (withdrawn)
        self._quick = self.exercise in (HEEL_DROP, JUMP)

    @property
    def body_weight_n(self) -> float | None:
        """The current body weight (N), None until a quiet second of standing (or a given mass)."""
        return None if self._weight is None else self._weight.weight_n

    @property
    def status(self) -> str:
        """One short sentence for the UI, e.g. "Plate empty: step on", "Stand still to be weighed", "Ready"."""
        return self._status

    def provisional(self) -> list[dict]:
        """Impacts the latest analysis found that are not final yet, for a quick verdict (copies; read-only).

        Each is a contract dict, as the final event will be (give or take a hair), plus ``"provisional": True``
        and ``"key"``: its peak time rounded to 10 ms. Impacts, and jumps that have landed (judged by their
        landing peak), whose peak is at least the landing window (`_LANDING_WINDOW_S`) old, judged in body
        weights (none before a weight). An impact may still vanish: a later take-off makes it a jump's
        push-off. Nothing here changes what :meth:`feed` returns.
        """
        return [dict(event) for event in self._provisional]

    def feed(self, t_s, force_n) -> list[dict]:
        """Add samples; return the events that became final with them (contract dicts, in time order).

        Parameters
        ----------
        t_s : array_like, shape (n,)
            Sample times (s) on the stream's clock; samples not after the previous ones are dropped.
        force_n : array_like, shape (n,)
            Total vertical force (N); NaN marks an invalid sample.
        """
        t_s = np.asarray(t_s, dtype=np.float64).ravel()
        force_n = np.asarray(force_n, dtype=np.float64).ravel()
        if t_s.shape != force_n.shape:
            raise ValueError(f"t_s {t_s.shape} and force_n {force_n.shape} differ")
        finite_t = np.where(np.isfinite(t_s), t_s, -np.inf)
        before = np.maximum.accumulate(np.concatenate(([self._last_t], finite_t)))[:-1]
        keep = np.isfinite(t_s) & (t_s > before)
        if not keep.all():
            t_s, force_n = t_s[keep], force_n[keep]
        if t_s.size == 0:
            return []
        self._chunks_t.append(t_s)
        self._chunks_f.append(force_n)
        self._last_t = float(t_s[-1])
        if self._last_t - self._analysed_to_s < self.analysis_period_s and not self._may_decide(force_n):
            return []
        return self._analyse(final=False)

    def flush(self) -> list[dict]:
        """The stream has ended: return every event not yet sent (as analysing the whole recording would)."""
        if not self._chunks_t and self._t.size == 0:
            return []
        return self._analyse(final=True)

    # -- internals -----------------------------------------------------------------------------------------

    def _may_decide(self, force_n: np.ndarray) -> bool:
        """A typed set's peak may be decided by these samples: analyse now, not at the next period."""
        if not self._quick or self.body_weight_n is None:
            return False
        recent = self._f[-16:] if self._f.size else self._f
        level = np.concatenate([recent, *self._chunks_f[-4:]])
        return bool(np.nanmax(level, initial=-np.inf) >= self.min_peak_bw * self.body_weight_n)

    def _collect(self) -> None:
        if self._chunks_t:
            self._t = np.concatenate([self._t, *self._chunks_t])
            self._f = np.concatenate([self._f, *self._chunks_f])
            self._chunks_t, self._chunks_f = [], []
        first = np.searchsorted(self._t, self._last_t - self.window_s)
        if first > 0:
            self._t, self._f = self._t[first:], self._f[first:]

    def _measured_rate_hz(self, t_s: np.ndarray) -> float:
        if t_s.size < 2 or t_s[-1] - t_s[0] < 1.0:
            return self.rate_hz
        steps = np.diff(t_s)
        median_s = float(np.median(steps))
        if float(steps.max()) < 1.5 * median_s:
            return float((t_s.size - 1) / (t_s[-1] - t_s[0]))
        return 1.0 / median_s

    def _analyse(self, *, final: bool) -> list[dict]:
        self._collect()
        t, f = self._t, self._f
        self._analysed_to_s = self._last_t
        rate_hz = self._measured_rate_hz(t)
        self._update_weight(t, f, rate_hz)
        self._update_status(t, f)
        lo = np.searchsorted(t, self._settled_s - self.LEAD_S)
        t, f = t[lo:], f[lo:]
        if t.size < 2:
            self._provisional = []
            return []
        result = analyze_force(t, f, rate_hz, adc=self.adc, body_weight_n=self.body_weight_n,
                               thump_bw=self.thump_bw, min_peak_bw=self.min_peak_bw, exercise=self.exercise,
                               body_height_m=self.body_height_m, chair_height_m=self.chair_height_m,
                               hx711_model=self.hx711_model)
        stable_s = np.inf if final else self._last_t - self.HORIZON_S
        if self.body_weight_n is None and not final:     # keep unweighed time in the span: impacts need a weight
            stable_s = min(stable_s, self._last_t - self.max_wait_for_weight_s)
        for jump in result.jumps:        # a flight still in progress may yet be a jump: its push-off waits
            if jump.landing_s is None and not final:
                stable_s = min(stable_s, jump.takeoff_s - _PUSHOFF_S - _MARGIN_S)
        sent = []
        rises = [rep for rep in result.sit_to_stands if rep.has_rise]
        for event in sorted(result.events + rises, key=event_time_s):
            when = event_time_s(event)
            anchor = _anchor_s(event)
            # Already decided: sent (times may shift by a hair), or seen whole by an earlier analysis. The
            # second also drops what the cut at the span's start makes up (a flight cut in half is an
            # "empty plate", and its landing a "drop").
            if self._was_sent(event, when) or anchor <= self._settled_s:
                continue
            decided_s = getattr(event, "decided_s", None)
            early = anchor > stable_s
            if early and (decided_s is None or decided_s > self._last_t):
                break                   # not final yet (a typed set's peak is final once decided)
            if self.body_weight_n is None and not final and self._last_t - anchor < self.max_wait_for_weight_s:
                stable_s = min(stable_s, anchor - 1e-9)   # wait for a weight; keep the order
                break
            if isinstance(event, Jump):
                sent.extend(self._withdraw_pushoff_of(event))
            sent.append(_record(event, self.thump_bw))
            if early and not isinstance(event, (Jump, SitToStand)):
                self._early.append(sent[-1]["t_peak_s"])     # as sent: a withdrawal names it exactly
            self._last_sent_s, self._last_sent_kind = when, sent[-1]["kind"]
        if np.isfinite(stable_s):
            self._settled_s = max(self._settled_s, stable_s)
        else:
            self._settled_s = max(self._settled_s, self._last_t)
        self._provisional = [] if final else self._pending_impacts(result.events)
        self._early = [t for t in self._early if t > self._settled_s - _PUSHOFF_S - self.LEAD_S]
        return sent

    def _was_sent(self, event, when: float) -> bool:
        """Sent already: before the last event sent, or that event found again (its time may shift by a hair)."""
        if when < self._last_sent_s - 0.05:
            return True
        return when <= self._last_sent_s + 0.05 and _record_kind(event) == self._last_sent_kind

    def _withdraw_pushoff_of(self, jump: Jump) -> list[dict]:
        """The impacts sent early (a heel-drop set) that this jump's take-off makes its push-off: withdrawn."""
        out = []
        for t_peak in [t for t in self._early if jump.takeoff_s - _PUSHOFF_S <= t <= jump.takeoff_s]:
            self._early.remove(t_peak)
            self.corrections += 1
            out.append({"kind": "withdrawn", "t_peak_s": t_peak,
                        "reason": f"a take-off followed at {jump.takeoff_s:.3f} s: that peak was the jump's push-off"})
        return out

    def _pending_impacts(self, events) -> list[dict]:
        """The impacts (and landed jumps) of this analysis neither sent nor settled, a landing window old."""
        if self.body_weight_n is None:
            return []
        # a flight in progress may be a jump: the peaks of its push-off are no impacts (the analysis itself
        # drops them once the flight is long enough to be one)
        takeoffs = [event.takeoff_s for event in events if isinstance(event, Jump) and event.landing_s is None]
        pending = []
        for event in events:
            peak_s = event.t_peak_s
            if peak_s is None or self._last_t - peak_s < _LANDING_WINDOW_S:
                continue                                # a jump in the air, or a peak too young to judge
            if self._was_sent(event, event_time_s(event)) or _anchor_s(event) <= self._settled_s:
                continue                                # sent, or settled without being sent
            if any(takeoff - _PUSHOFF_S <= peak_s <= takeoff for takeoff in takeoffs):
                continue
            pending.append({**event_dict(event, self.thump_bw), "provisional": True, "key": round(peak_s, 2)})
        return pending

    def _update_weight(self, t: np.ndarray, f: np.ndarray, rate_hz: float) -> None:
        if self._fixed is not None:
            return
        valid = np.isfinite(f)
        if not valid.any():
            return
        # as offline: the quietest second of *standing*, never of sitting on a chair off the plate
        estimate = weigh_standing(np.where(valid, f, 0.0), rate_hz, t_s=t, valid=valid)
        if estimate.weight_n is not None and (self._weight is None or estimate.sd_n < self._weight.sd_n):
            self._weight = estimate

    def _update_status(self, t: np.ndarray, f: np.ndarray) -> None:
        recent = f[t >= self._last_t - 0.5]
        recent = recent[np.isfinite(recent)]
        if recent.size == 0:
            self._status = "No readings from the plate"
            return
        threshold_n = flight_threshold(self.body_weight_n)
        if float(np.mean(recent)) >= threshold_n:
            self._had_person = True
            self._status = "Ready" if self.body_weight_n is not None else "Stand still to be weighed"
            return
        loaded = np.flatnonzero(np.isfinite(f) & (f >= threshold_n))
        empty_s = self._last_t - (float(t[loaded[-1]]) if loaded.size else -np.inf)
        if self._had_person and empty_s <= _MAX_FLIGHT_S:
            self._status = "In the air"
        elif self._had_person and empty_s < self.empty_reset_s:
            self._status = "Person stepped off"
        else:
            if self._had_person and self._fixed is None:
                self._weight = None                       # the next person is weighed afresh
            self._had_person = False
            self._status = "Plate empty: step on"


def _anchor_s(event) -> float:
    """The latest instant an event depends on, before the fixed horizon: a jump's landing, an impact's peak,
    a sit-to-stand rise's settling at standing."""
    if isinstance(event, Jump):
        return np.inf if event.landing_s is None else event.landing_s
    if isinstance(event, SitToStand):
        return event.rise_end_s
    return event.t_peak_s


def _record_kind(event) -> str:
    return "sit-to-stand" if isinstance(event, SitToStand) else ("jump" if isinstance(event, Jump) else "impact")


def _record(event, thump_bw: float) -> dict:
    """What the stream reports of an event: a contract dict, or a sit-to-stand rep (kind "sit-to-stand")."""
    if isinstance(event, SitToStand):
        return {"kind": "sit-to-stand", **sit_to_stand_dict(event)}
    return event_dict(event, thump_bw)

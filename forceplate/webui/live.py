"""The live page and its stream of force samples and events (Server-Sent Events)."""
from __future__ import annotations

import threading

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ..signal.exercises import EXERCISES, FREE, LABELS
from .forms import record_id
from .stream import json_safe, stream_messages

bp = Blueprint("live", __name__)


class StreamCount:
    """How many live streams are open; each holds one server thread, so there is a ceiling."""

    def __init__(self):
        self._lock = threading.Lock()
        self.open = 0

    def try_acquire(self, limit: int) -> bool:
        with self._lock:
            if self.open >= limit:
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open -= 1


def _plate():
    return current_app.extensions["forceplate"]


REST_S = 60          # between sets, when the plan does not say


def plan_for(sets, store, person_id) -> dict | None:
    """Today's plan for ``person_id`` (None for nobody or an unknown person): the SetController's own
    ``plan_for`` when it has one, else the same shape built here from the person's standing and today's sets.

    {"person_id", "person", "level", "restricted", "restriction_reasons", "target_bw", "daily_impact_cap",
    "impacts_left_today", "rest_s", "exercises": [{"exercise", "label", "sets_planned", "sets_done",
    "reps_per_set", "target", "allowed", "rest_s"}], "next": {"exercise", "set_number"} or None, "today"}.
    """
    if person_id is None:
        return None
    own = getattr(sets, "plan_for", None)
    if own is not None:
        try:
            return own(int(person_id))
        except LookupError:
            return None
    return _plan_here(store, int(person_id), sets.today())


def _plan_here(store, person_id: int, today) -> dict | None:
    import statistics

    from ..programme.rules import LEVELS
    from ..programme.standing import local_day, standing_of
    from ..signal.exercises import SIT_TO_STAND
    try:
        s = standing_of(store, person_id, today)
    except LookupError:
        return None
    level = LEVELS[s.effective.level]
    done: dict[str, int] = {}
    reps = on_target = 0
    peaks: list[float] = []
    for row in store.person_history(person_id):
        if not row.get("events") or row.get("status") == "recording":
            continue
        try:
            if local_day(row["started_at"]) != today:
                continue
        except (TypeError, ValueError):
            continue
        done[row["exercise"]] = done.get(row["exercise"], 0) + 1
        reps += int(row["events"] or 0)
        on_target += int(row["thumps"] or 0)
        if row.get("peak_bw_max") is not None:
            peaks.append(float(row["peak_bw_max"]))
    exercises = []
    for name in s.prescribed_exercises:
        exercises.append({
            "exercise": name, "label": LABELS[name], "sets_planned": level.sets[0], "sets_done": done.get(name, 0),
            "reps_per_set": level.reps_per_set[0], "allowed": name in s.allowed_exercises, "rest_s": REST_S,
            "target": ("rise \u2264 1 s, sit-down \u2265 2 s" if name == SIT_TO_STAND
                       else f"peak \u2265 {s.target_bw:.1f} BW")})
    upcoming = next((e for e in exercises if e["allowed"] and e["sets_done"] < e["sets_planned"]), None)
    return {"person_id": person_id, "person": s.person["name"], "level": s.effective.level,
            "restricted": s.is_restricted, "restriction_reasons": list(s.restriction_reasons),
            "target_bw": s.target_bw, "daily_impact_cap": s.effective.daily_impact_cap,
            "impacts_left_today": s.impacts_left_today, "rest_s": REST_S, "exercises": exercises,
            "next": None if upcoming is None else {"exercise": upcoming["exercise"],
                                                   "set_number": upcoming["sets_done"] + 1},
            "today": {"sets": sum(done.values()), "reps": reps, "on_target": on_target,
                      "best_bw": max(peaks) if peaks else None,
                      "median_bw": statistics.median(peaks) if peaks else None,
                      "osteogenic_index": (s.dose or {}).get("day")}}


@bp.get("/")
def page():
    from . import get_store
    from ..programme.standing import exercises_of
    status = json_safe(_plate().status())
    sets = current_app.extensions["forceplate.sets"]
    store = get_store()
    chosen = record_id(request.args.get("person"))
    if chosen is not None and store.person(chosen) is not None:
        sets.select(chosen)
    current = sets.current()
    selected = current["person_id"] if current else sets.selected_person_id
    people = store.people()
    today = sets.today()
    # each person's choice of exercises: those their level prescribes today (heel drops first), then free
    choices = {p["id"]: [*exercises_of(store, p, today)[0], FREE] for p in people}
    offered = choices.get(selected) or list(EXERCISES)
    exercise = current["exercise"] if current else sets.selected_exercise
    if exercise not in offered:
        plan = plan_for(sets, store, selected)
        upcoming = (plan or {}).get("next") or {}
        exercise = upcoming.get("exercise") if upcoming.get("exercise") in offered else offered[0]
    return render_template("live.html", status=status, config=current_app.config, people=people,
                           selected=selected, recording=current is not None, choices=choices, offered=offered,
                           selected_exercise=exercise, labels=LABELS,
                           recording_person=current["person"] if current else None)


@bp.get("/live/stream")
def stream():
    config = current_app.config
    counter = current_app.extensions["forceplate.streams"]
    if not counter.try_acquire(int(config["MAX_STREAMS"])):
        response = jsonify({"error": "too many live pages are open; close one and reload", "status": 503})
        response.status_code = 503
        response.headers["Retry-After"] = "10"
        return response
    messages = stream_messages(
        _plate(), current_app.extensions["forceplate.stopping"], trace_s=float(config["TRACE_S"]),
        interval_s=float(config["STREAM_INTERVAL_S"]), heartbeat_s=float(config["STREAM_HEARTBEAT_S"]),
        max_s=float(config["STREAM_MAX_S"]), retry_ms=int(config["STREAM_RETRY_MS"]),
        max_points_per_s=float(config["MAX_POINTS_PER_S"]), sets=current_app.extensions["forceplate.sets"])

    def counted():
        try:
            yield from messages
        finally:                 # also when the client goes away (the server closes the generator)
            messages.close()
            counter.release()

    return Response(counted(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

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


def plan_for(sets, person_id) -> dict | None:
    """Today's guided session for ``person_id`` (SetController.plan_for), or None for nobody or a person no
    longer in the database."""
    from ..live.sets import SetError
    if person_id is None:
        return None
    try:
        return sets.plan_for(int(person_id))
    except SetError:
        return None


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
        plan = plan_for(sets, selected)
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

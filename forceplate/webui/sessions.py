"""Sets from the live page: choose a person and an exercise, start, stop, and the answer to "did anything hurt?".

Forms POST with their CSRF token; the live page's script sends the same requests with ``fetch`` (header
X-CSRF-Token) and gets JSON, a page without script gets redirected back.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, request, url_for

from ..live.sets import SetError
from ..signal.exercises import EXERCISES, FREE
from ..storage.store import UnknownSession
from . import get_store
from .auth import signed_in_user
from .forms import record_id
from .stream import json_safe

bp = Blueprint("sessions", __name__)


def _sets():
    return current_app.extensions["forceplate.sets"]


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json"


def _answer(body: dict, status: int = 200):
    if _wants_json():
        response = jsonify(json_safe(body))
        response.status_code = status
        return response
    if status >= 400:
        abort(status, description=body.get("error"))
    return redirect(url_for("live.page"), code=303)


def set_state() -> dict:
    """What every live page agrees on: the set recording (or the last one), who is chosen, and that person's
    plan for today (``plan``: see live.plan_for; of the person recording while a set records)."""
    from .live import plan_for
    sets = _sets()
    current = sets.current()
    person_id = current["person_id"] if current else sets.selected_person_id
    return {"state": sets.state, "fault": sets.fault, "current": current, "last": sets.last(),
            "selected": sets.selected_person_id, "selected_exercise": sets.selected_exercise,
            "plan": plan_for(sets, person_id)}


@bp.get("/api/set")
def state():
    return jsonify(json_safe(set_state()))


def _person_id_from_form() -> int | None:
    """The chosen person's number; None when none was chosen; a 400 for anything but a person's number."""
    raw = request.form.get("person_id") or ""
    if not raw.strip():
        return None
    person_id = record_id(raw)
    if person_id is None:
        abort(400, description="person_id is not a person's number: reload the page")
    return person_id


def _exercise_from_form(default: str | None) -> str | None:
    """The chosen exercise (``default`` when the form has none); a 400 for a name that is not an exercise."""
    raw = (request.form.get("exercise") or "").strip()
    if not raw:
        return default
    if raw not in EXERCISES:
        abort(400, description="that is not an exercise: reload the page")
    return raw


@bp.post("/live/set/select")
def select():
    person_id = _person_id_from_form()
    exercise = _exercise_from_form(None)
    if person_id is not None and get_store().person(person_id) is None:
        return _answer({"error": "that person is not in the list: reload the page"}, 404)
    _sets().select(person_id, exercise=exercise)
    return _answer(set_state())


@bp.post("/live/set/start")
def start():
    person_id = _person_id_from_form()
    exercise = _exercise_from_form(FREE)
    if person_id is None:
        return _answer({"error": "choose who is on the plate first"}, 400)
    if get_store().person(person_id) is None:
        return _answer({"error": "that person is not in the list: reload the page"}, 404)
    sets = _sets()
    seen = record_id(request.form.get("seen_selected") or "")
    if (request.form.get("seen_selected") is not None and sets.selected_person_id is not None
            and sets.selected_person_id != seen and person_id != sets.selected_person_id):
        # another screen chose someone else since this page last heard: never record the wrong person
        chosen = get_store().person(sets.selected_person_id) or {}
        return _answer({"error": f"another screen has chosen {chosen.get('name', 'someone else')}: check who is "
                                 "on the plate, then press Start set again",
                        "selected": sets.selected_person_id}, 409)
    try:
        sets.start(person_id, exercise)
    except SetError as exc:
        return _answer({"error": str(exc)}, 409)
    current_app.logger.info("set of %s started for person %s by %s", exercise, person_id, signed_in_user())
    return _answer(set_state())


@bp.post("/live/set/stop")
def stop():
    try:
        summary = _sets().stop(changed_by=signed_in_user() or "unknown")
    except SetError as exc:
        return _answer({"error": str(exc)}, 409)
    if summary is None:
        return _answer({"error": "no set is recording"}, 409)
    return _answer(set_state() | {"summary": summary})


@bp.post("/sessions/<id:session_id>/pain")
def pain(session_id):
    answer = (request.form.get("pain") or "").strip().lower()
    if answer not in ("yes", "no"):
        return _answer({"error": "answer Yes or No"}, 400)
    store = get_store()
    try:
        session = store.session(session_id)
    except UnknownSession:
        return _answer({"error": f"there is no session number {session_id}"}, 404)
    if session["status"] == "recording":
        return _answer({"error": "the set is still recording: stop it first"}, 409)
    store.set_pain(session_id, answer == "yes", changed_by=signed_in_user() or "unknown")
    body = {"session": session_id, "pain": answer == "yes"}
    if answer == "yes":
        body["message"] = ("Thank you. Progression is paused: the plan stays or steps back until a clinician "
                           "has looked at it.")
    else:
        body["message"] = "Thank you. Well done!"
    if _wants_json():
        return _answer(body)
    return redirect(url_for("history.session_page", session_id=session_id), code=303)

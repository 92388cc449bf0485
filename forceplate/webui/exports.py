"""Rep tables for a spreadsheet: one set's reps (``/sessions/<id>/reps.csv``) and every rep of one person
(``/people/<id>/reps.csv``), one row per rep.

Signed-in only (the guard every page has), GET, always an attachment. Reps withdrawn by the live analysis are
rows too, marked not counted with the reason. Every text cell goes through ``spreadsheet_safe`` (a cell that
starts with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``), so nothing stored can become a formula;
numbers are written as numbers. The raw trace is ``/sessions/<id>/export.csv`` (history.py).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math

from flask import Blueprint, Response, abort, current_app

from ..storage.export import spreadsheet_safe
from ..storage.store import Store, UnknownSession
from . import get_store

bp = Blueprint("exports", __name__)

# (column, what it holds). The set's own columns come first in the per-person table.
SET_COLUMNS = ("session", "session_started", "exercise")
REP_COLUMNS = (
    "rep", "kind", "exercise", "t_s", "time", "peak_n", "peak_bw", "peak_method", "peak_low_n", "peak_high_n",
    "peak_low_bw", "peak_high_bw", "verdict", "counted", "not_counted_reason", "caution", "thump_borderline",
    "loading_rate_bw_s", "loading_rate_method", "flight_s", "height_flight_m", "height_impulse_m",
    "rise_s", "lowering_s", "tempo", "mean_power_w", "mean_power_w_kg", "seated_bw",
)
PERSON_COLUMNS = SET_COLUMNS[:2] + REP_COLUMNS


def init_app(app) -> None:
    app.register_blueprint(bp)


def cell(value) -> str | float | int:
    """One CSV cell: numbers as numbers, yes/no for booleans, blank for nothing, text made spreadsheet-safe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else ""
    return spreadsheet_safe(str(value))


def rep_time_s(event: dict) -> float | None:
    """When a rep happened, seconds into its set: its peak, else a jump's take-off, else the first instant a
    sit-to-stand visit has."""
    for name in ("t_peak_s", "takeoff_s", "rise_start_s", "lowering_start_s", "seated_start_s"):
        value = event.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def verdict(event: dict, counted: bool) -> str:
    if not counted:
        return "not counted"
    if event.get("kind") == "sit-to-stand":
        return event.get("tempo") or ""
    if event.get("thump") is True:
        return "thump"
    if event.get("thump") is False:
        return "too soft"
    return ""


def rep_rows(session: dict, events: list[dict], withdrawn: list[dict]) -> list[dict]:
    """A set's reps as rows (dicts by column), in time order; withdrawn ones marked not counted."""
    started = dt.datetime.fromisoformat(session["started_at"])
    speed = float(session.get("speed") or 1.0)
    rows = []
    for event, was_withdrawn in [(e, False) for e in events] + [(e, True) for e in withdrawn]:
        t_s = rep_time_s(event)
        if was_withdrawn:
            counted, reason = False, event.get("withdrawn_reason") or "withdrawn"
        else:
            reason = event.get("not_counted_reason")      # set by the recorder when a rep does not count
            counted = event.get("counted") is not False and not reason
            reason = None if counted else (reason or "not counted")
        row = {name: event.get(name) for name in REP_COLUMNS}
        row.update(
            rep=int(event["seq"]) + 1, exercise=session["exercise"], t_s=t_s,
            time=None if t_s is None else
            (started + dt.timedelta(seconds=t_s / speed)).isoformat(timespec="milliseconds"),
            verdict=verdict(event, counted), counted=counted, not_counted_reason=reason,
            session=session["id"], session_started=session["started_at"])
        rows.append(row)
    rows.sort(key=lambda r: (math.inf if r["t_s"] is None else r["t_s"], r["rep"]))
    return rows


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([cell(v) for v in values])
    return out.getvalue()


def _attachment(body, name: str) -> Response:
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/sessions/<id:session_id>/reps.csv")
def session_reps(session_id):
    """One set: a row per rep."""
    store = get_store()
    try:
        session = store.session(session_id)
    except UnknownSession:
        abort(404, description=f"there is no session number {session_id}")
    rows = rep_rows(session, store.events(session_id), store.withdrawn_events(session_id))
    body = _csv_line(REP_COLUMNS) + "".join(_csv_line(row[c] for c in REP_COLUMNS) for row in rows)
    current_app.logger.info("the reps of session %d exported as CSV", session_id)
    return _attachment(body, f"session-{session_id}-reps.csv")


@bp.get("/people/<id:person_id>/reps.csv")
def person_reps(person_id):
    """Every rep of every set of one person, oldest set first; written a set at a time."""
    person = get_store().person(person_id)
    if person is None:
        abort(404, description=f"there is no person number {person_id}")
    path = current_app.config["DATABASE"]

    def lines():
        yield _csv_line(PERSON_COLUMNS)
        store = Store(path, mark_interrupted=False)
        try:
            for session in store.sessions(person=person["name"]):
                if session["person_id"] != person_id:
                    continue
                rows = rep_rows(session, store.events(session["id"]), store.withdrawn_events(session["id"]))
                yield "".join(_csv_line(row[c] for c in PERSON_COLUMNS) for row in rows)
        finally:
            store.close()

    current_app.logger.info("every rep of person %d exported as CSV", person_id)
    return _attachment(lines(), f"person-{person_id}-reps.csv")

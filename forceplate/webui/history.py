"""History: one person's sessions and progress charts, a session's events and force trace, and its export.

The sessions list reads ``Store.person_history`` (one row per session, the summaries kept on the row: what
bench/storage.py times as history_ms_p95), never every event.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
from flask import Blueprint, abort, jsonify, render_template, request, send_file

from ..programme.rules import MIN_SESSIONS_PER_WEEK
from ..storage.export import export_session, session_force
from ..storage.store import UnknownSession
from . import get_store
from .people import person_or_404
from .stream import decimate_min_max, json_safe

bp = Blueprint("history", __name__)

PAGE_SIZE = 50               # sessions per page of the list
TRACE_POINTS = 4000          # a stored trace is thinned (min/max kept) to about this many points


@bp.get("/people/<id:person_id>/history")
def person_history(person_id):
    store = get_store()
    person = person_or_404(store, person_id)
    rows = store.person_history(person_id)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(page, pages)
    shown = rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    return render_template("history.html", person=person, sessions=shown, total=len(rows), page=page, pages=pages,
                           min_per_week=MIN_SESSIONS_PER_WEEK)


@bp.get("/people/<id:person_id>/history.json")
def person_history_data(person_id):
    """Chart data: per session (oldest first) its start (Unix s), median peak and OI; sessions per week."""
    store = get_store()
    person_or_404(store, person_id)
    rows = [r for r in reversed(store.person_history(person_id)) if r["events"]]
    t = [dt.datetime.fromisoformat(r["started_at"]).timestamp() for r in rows]
    weeks: dict[dt.date, int] = {}
    for r in rows:
        day = dt.datetime.fromisoformat(r["started_at"]).astimezone().date()
        monday = day - dt.timedelta(days=day.weekday())
        weeks[monday] = weeks.get(monday, 0) + 1
    week_t, week_n = [], []
    if weeks:
        monday, last = min(weeks), max(max(weeks), dt.date.today() - dt.timedelta(days=dt.date.today().weekday()))
        while monday <= last:                     # weeks without a session count too: as 0
            week_t.append(dt.datetime.combine(monday, dt.time()).timestamp())
            week_n.append(weeks.get(monday, 0))
            monday += dt.timedelta(days=7)
    return jsonify(json_safe({"t": t, "median_bw": [r["peak_bw_median"] for r in rows],
                              "oi": [r["osteogenic_index"] for r in rows],
                              "week_t": week_t, "week_sessions": week_n, "min_per_week": MIN_SESSIONS_PER_WEEK}))


def _session_or_404(store, session_id):
    try:
        return store.session(session_id)
    except UnknownSession:
        abort(404, description=f"there is no session number {session_id}")


@bp.get("/sessions/<id:session_id>")
def session_page(session_id):
    store = get_store()
    session = _session_or_404(store, session_id)
    row = next(r for r in store.person_history(session["person_id"]) if r["id"] == session_id)
    return render_template("session.html", session=session, row=row, events=store.events(session_id),
                           withdrawn=store.withdrawn_events(session_id), raw=store.raw_bytes(session_id))


@bp.get("/sessions/<id:session_id>/trace.json")
def session_trace(session_id):
    """The stored force trace (thinned, every peak kept) in N and, when weighed, body weights."""
    store = get_store()
    session = _session_or_404(store, session_id)
    t_s, force_n = session_force(store, session_id)
    if t_s.size > TRACE_POINTS:
        rate_hz = (t_s.size - 1) / max(t_s[-1] - t_s[0], 1e-9)
        t_s, force_n = decimate_min_max(t_s, force_n, rate_hz, max_points_per_s=TRACE_POINTS / max(t_s[-1] - t_s[0], 1e-9))
    return jsonify(json_safe({"t": np.round(t_s, 4), "f": np.round(force_n, 1),
                              "body_weight_n": session["body_weight_n"], "thump_bw": session["thump_bw"],
                              "events": [{"t": e.get("t_peak_s"), "peak_n": e.get("peak_n"), "thump": e.get("thump")}
                                         for e in store.events(session_id)]}))


@bp.get("/sessions/<id:session_id>/export.<any(csv, json):kind>")
def session_export(session_id, kind):
    """The same files as `forceplate export` (docs/contracts.md section 2): the CSV trace, or its metadata JSON."""
    store = get_store()
    _session_or_404(store, session_id)
    with tempfile.TemporaryDirectory(prefix="forceplate-export-") as folder:
        csv_path, json_path = export_session(store, session_id, folder)
        path = Path(csv_path if kind == "csv" else json_path)
        data = path.read_bytes()
    import io
    return send_file(io.BytesIO(data), mimetype="text/csv" if kind == "csv" else "application/json",
                     as_attachment=True, download_name=path.name)

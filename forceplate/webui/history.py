"""History: one person's sets and progress charts, a set's reps and force trace, and its export.

A *session* is one person's training on one day; it is made of *sets*, each one recording (a row of the
store's sessions table, shown at /sessions/<id>). The programme's "2 a week" counts sessions.

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


def _local_day(iso_time: str) -> dt.date:
    return dt.datetime.fromisoformat(iso_time).astimezone().date()


def date_range(args) -> tuple[dt.date | None, dt.date | None, dict]:
    """The history's date filter (``from`` and ``to``, YYYY-MM-DD, both days included) and a message for each
    that will not do (that end is then ignored)."""
    out, errors = [], {}
    for name, label in (("from", "first day"), ("to", "last day")):
        raw = (args.get(name) or "").strip()
        if not raw:
            out.append(None)
            continue
        try:
            out.append(dt.date.fromisoformat(raw))
        except ValueError:
            errors[f"date-{name}"] = f"The {label} must be a date like 2026-03-02."
            out.append(None)
    first, last = out
    if first and last and first > last:
        errors["date-to"] = "The last day is before the first day: swap them, or change one."
        first = last = None
    return first, last, errors


def _filtered(rows, first, last):
    return [r for r in rows if (first is None or _local_day(r["started_at"]) >= first)
            and (last is None or _local_day(r["started_at"]) <= last)]


def session_days(rows) -> int:
    """How many sessions the sets make: a session is one person's training on one day (local), of any sets."""
    return len({_local_day(r["started_at"]) for r in rows})


@bp.get("/people/<id:person_id>/history")
def person_history(person_id):
    store = get_store()
    person = person_or_404(store, person_id)
    first, last, errors = date_range(request.args)
    rows = _filtered(store.person_history(person_id), first, last)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(page, pages)
    shown = rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    query = {k: v.isoformat() for k, v in (("from", first), ("to", last)) if v}
    by_day: dict[dt.date, list] = {}
    for r in sorted(rows, key=lambda r: r["started_at"]):
        by_day.setdefault(_local_day(r["started_at"]), []).append(r["id"])
    set_of_day = {i: (n, len(ids)) for ids in by_day.values() for n, i in enumerate(ids, 1)}
    return render_template("history.html", person=person, sessions=shown, total=len(rows), days=session_days(rows),
                           page=page, pages=pages, min_per_week=MIN_SESSIONS_PER_WEEK, first=first, last=last,
                           query=query, errors=errors, data=request.args, set_of_day=set_of_day,
                           any_at_all=bool(rows) or bool(store.person_history(person_id)))


@bp.get("/people/<id:person_id>/history.json")
def person_history_data(person_id):
    """Chart data: per set (oldest first) its start (Unix s), median peak and OI; sessions (days trained) per
    week; ``now`` (Unix s): no axis runs past it. The same ``from`` and ``to`` filter as the page."""
    store = get_store()
    person_or_404(store, person_id)
    first, last, _errors = date_range(request.args)
    rows = [r for r in reversed(_filtered(store.person_history(person_id), first, last)) if r["events"]]
    t = [dt.datetime.fromisoformat(r["started_at"]).timestamp() for r in rows]
    weeks: dict[dt.date, set] = {}
    for r in rows:
        day = _local_day(r["started_at"])
        weeks.setdefault(day - dt.timedelta(days=day.weekday()), set()).add(day)
    week_t, week_n = [], []
    if weeks:
        today = dt.date.today()
        this_monday = today - dt.timedelta(days=today.weekday())
        end = this_monday if last is None else min(this_monday, last - dt.timedelta(days=last.weekday()))
        monday, final = min(weeks), max(max(weeks), end)
        while monday <= final:                    # weeks without a session count too: as 0
            week_t.append(dt.datetime.combine(monday, dt.time()).timestamp())
            week_n.append(len(weeks.get(monday, ())))
            monday += dt.timedelta(days=7)
    return jsonify(json_safe({"t": t, "median_bw": [r["peak_bw_median"] for r in rows],
                              "oi": [r["osteogenic_index"] for r in rows],
                              "week_t": week_t, "week_sessions": week_n, "min_per_week": MIN_SESSIONS_PER_WEEK,
                              "now": dt.datetime.now(dt.timezone.utc).timestamp()}))


def _session_or_404(store, session_id):
    try:
        return store.session(session_id)
    except UnknownSession:
        abort(404, description=f"there is no session number {session_id}")


@bp.get("/sessions/<id:session_id>")
def session_page(session_id):
    store = get_store()
    session = _session_or_404(store, session_id)
    history = store.person_history(session["person_id"])
    row = next(r for r in history if r["id"] == session_id)
    day = _local_day(row["started_at"])
    that_day = sorted((r for r in history if _local_day(r["started_at"]) == day), key=lambda r: r["started_at"])
    events = store.events(session_id)
    not_counted = [e for e in events if e.get("counted") is False]
    return render_template("session.html", session=session, row=row, events=events, not_counted=not_counted,
                           set_number=[r["id"] for r in that_day].index(session_id) + 1, sets_that_day=len(that_day),
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
                              "events": [{"t": e.get("t_peak_s"), "peak_n": e.get("peak_n"), "thump": e.get("thump"),
                                          "counted": e.get("counted", True)}
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

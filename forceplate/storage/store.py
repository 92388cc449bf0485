"""The store: every SQL statement forceplate runs, over one SQLite file (sqlite-utils), and nothing else.

One :class:`Store` per thread (a connection is never shared). Opening it applies pending migrations
(:mod:`forceplate.storage.migrations`), switches on WAL (the web UI reads while a recorder writes) with
``synchronous=FULL`` (a commit survives power loss, not only a crash), and marks the sessions whose recorder
died as ``interrupted``. Values reach SQL only as parameters.

A recording session holds an exclusive ``flock`` on ``session-<id>.lock`` beside the database from the
moment its row is committed until it ends. The kernel drops the lock when the process dies (``kill -9``,
power loss), so any later Store that can take the lock of a ``recording`` session knows its recorder is gone;
a recorder still running (another process, or another thread of this one) keeps its lock and its status.

Raw traces are stored losslessly in chunks of about one second, in the ``fp2`` format of
:mod:`forceplate.storage.rawcodec` (an adaptive predictor and Rice code per cell, each chunk continuing the one
before it, a key chunk every minute). Chunks of the retired ``fp1`` format were re-encoded by migration 0006.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import math
import os
import sqlite3
import statistics
import unicodedata
from pathlib import Path

import numpy as np
from sqlite_utils import Database

from . import rawcodec
from .files import create_private_file, make_private_folder
from ..device.frames import Frames
from ..signal.exercises import check_exercise
from ..signal.summary import osteogenic_index
from ..exc import ForcePlateError
from .migrations import migrations

DB_FILENAME = "forceplate.db"
STATUSES = ("recording", "complete", "interrupted")
EVENT_COLUMNS = ("kind", "t_peak_s", "peak_n", "peak_bw", "loading_rate_bw_s", "thump", "takeoff_s",
                 "landing_s", "flight_s", "height_flight_m", "height_impulse_m")
PERSON_FIELDS = ("birth_year", "t_score", "has_vertebral_fracture", "has_balance_problems", "approved_by",
                 "approved_at")
BUSY_TIMEOUT_MS = 10_000       # another connection's write waits this long before "database is locked"
LOADING_KINDS = ("impact", "jump")   # events that load the skeleton: thumps, peak statistics, the dose
COUNT_FIELDS = ("counted", "not_counted_reason")   # whether a rep counts: the not_counted_reason column
BODY_MASS_SOURCES = ("plate", "profile")
WITHDRAW_WITHIN_S = 0.05       # withdraw_event finds the impact whose peak is this close (s)


class StoreError(ForcePlateError):
    """The database cannot do what was asked (unknown session, a full disk); the message says which."""


class UnknownSession(StoreError, LookupError):
    """No session has that id."""


def utc_now() -> str:
    """The time now, ISO 8601 UTC, microseconds: the one format of every time column."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


# ------------------------------------------------------------------------------------------ the store

class Store:
    """forceplate's database: people, sessions, events, raw traces, settings. One per thread.

    Parameters
    ----------
    path : str or os.PathLike
        The SQLite file, or a folder (the database is then ``forceplate.db`` inside it, the folder made if
        missing).
    mark_interrupted : bool
        Mark sessions whose recorder has died as ``interrupted`` on opening (the default).
    """

    def __init__(self, path, *, mark_interrupted: bool = True):
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path = make_private_folder(path) / DB_FILENAME
        self.path = path
        try:
            create_private_file(path)      # before SQLite makes it 0644: names and T-scores are private
            self.db = Database(path)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = FULL")     # WAL's NORMAL may lose the last commits on power loss
            self.db.execute("PRAGMA foreign_keys = ON")
            migrations.apply(self.db)
        except Exception as exc:
            if _is_sqlite_error(exc) or isinstance(exc, OSError):
                raise StoreError(f"{path}: cannot open the database: {exc}") from None
            raise
        self._locks: dict[int, int] = {}          # session id -> fd of its held lock file
        self._raw_state: dict[int, rawcodec.Position] = {}    # session id -> where its next raw chunk continues
        if mark_interrupted:
            self.mark_interrupted()

    @contextlib.contextmanager
    def _atomic(self):
        """One transaction that takes the write lock first (BEGIN IMMEDIATE), so it waits its turn behind
        another writer (busy_timeout) instead of failing "database is locked" when a read inside it would
        have to become a write; nested, a savepoint."""
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.conn.execute("COMMIT")
        except BaseException as exc:
            if self.db.conn.in_transaction:      # a failed COMMIT (a full disk) may leave it open
                self.db.conn.execute("ROLLBACK")
            if _is_sqlite_error(exc) and not isinstance(exc, sqlite3.IntegrityError):
                # "database or disk is full", "disk I/O error": the caller's one line, not a traceback
                raise StoreError(f"{self.path}: {exc}") from exc
            raise

    def close(self) -> None:
        for session_id in list(self._locks):
            self._release(session_id)
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- health ------------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        """How many migrations are applied (the newest version is ``len(MIGRATION_NAMES)``)."""
        return len(migrations.applied(self.db))

    def integrity_check(self) -> str:
        """``"ok"``, or SQLite's description of what is damaged."""
        return "\n".join(row[0] for row in self.db.execute("PRAGMA integrity_check").fetchall())

    # -- people --------------------------------------------------------------------------------------------

    def add_person(self, name: str, *, changed_by: str, **fields) -> int:
        """Add a person (``birth_year``, ``t_score``, ``has_vertebral_fracture``, ... as keywords); their id."""
        name = check_person_name(name)
        unknown = set(fields) - set(PERSON_FIELDS)
        if unknown:
            raise ValueError(f"unknown person fields: {', '.join(sorted(unknown))}")
        now = utc_now()
        with self._atomic():
            cursor = self.db.execute(
                f"INSERT INTO people (name, created_at{''.join(', ' + k for k in fields)}) "
                f"VALUES (?, ?{', ?' * len(fields)})", [name, now, *fields.values()])
            person_id = cursor.lastrowid
            self._audit(person_id, changed_by, "create", {"name": [None, name]} | {k: [None, v] for k, v in fields.items()}, now)
        return person_id

    def person(self, person_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM people WHERE id = ?", [person_id]))
        return rows[0] if rows else None

    def person_by_name(self, name: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM people WHERE name = ?", [_normalise_name(name)]))
        return rows[0] if rows else None

    def person_id_for(self, name: str, *, changed_by: str) -> int:
        """The id of the person of that name (case does not matter), added if new."""
        found = self.person_by_name(name)
        if found is not None:
            return found["id"]
        try:
            return self.add_person(name, changed_by=changed_by)
        except Exception as exc:     # another process added them a moment ago
            if "UNIQUE" in str(exc):
                return self.person_by_name(name)["id"]
            raise

    def update_person(self, person_id: int, *, changed_by: str, **fields) -> None:
        """Change some of a person's fields (``name`` too); the audit log keeps the old and new values."""
        unknown = set(fields) - set(PERSON_FIELDS) - {"name"}
        if unknown:
            raise ValueError(f"unknown person fields: {', '.join(sorted(unknown))}")
        if "name" in fields:
            fields["name"] = check_person_name(fields["name"])
        with self._atomic():
            before = self.person(person_id)
            if before is None:
                raise StoreError(f"no person has id {person_id}")
            changes = {k: [before[k], v] for k, v in fields.items() if before[k] != v}
            if not changes:
                return
            self.db.execute(f"UPDATE people SET {', '.join(k + ' = ?' for k in changes)} WHERE id = ?",
                            [v for _, v in changes.values()] + [person_id])
            self._audit(person_id, changed_by, "update", changes)

    def add_body_mass(self, person_id: int, mass_kg: float, *, changed_by: str, method: str = "entered",
                      measured_at: str | None = None) -> None:
        measured_at = measured_at or utc_now()
        with self._atomic():
            self.db.execute("INSERT INTO body_mass (person_id, measured_at, mass_kg, method) VALUES (?, ?, ?, ?)",
                            [person_id, measured_at, float(mass_kg), method])
            self._audit(person_id, changed_by, "body_mass",
                        {"mass_kg": [None, float(mass_kg)], "measured_at": [None, measured_at]})

    def people(self) -> list[dict]:
        """Everyone, by name, with their latest body mass and the start of their newest session."""
        return list(self.db.query("""
            SELECT p.*,
                   (SELECT mass_kg FROM body_mass b WHERE b.person_id = p.id
                    ORDER BY measured_at DESC, id DESC LIMIT 1) AS mass_kg,
                   (SELECT MAX(started_at) FROM sessions s WHERE s.person_id = p.id) AS last_session_at
            FROM people p ORDER BY p.name COLLATE NOCASE"""))

    def latest_body_mass(self, person_id: int) -> float | None:
        row = self.db.execute("SELECT mass_kg FROM body_mass WHERE person_id = ? ORDER BY measured_at DESC, id DESC "
                              "LIMIT 1", [person_id]).fetchone()
        return None if row is None else float(row[0])

    def plan(self, person_id: int, *, default: dict | None = None) -> dict | None:
        """A person's stored plan: ``level``, ``targets_bw`` per level, ``daily_impact_cap``, ``updated_at``,
        ``updated_by``; ``default`` (the programme's, given by the caller) while nobody has set one."""
        row = self.db.execute("SELECT level, target_beginner_bw, target_intermediate_bw, target_advanced_bw, "
                              "daily_impact_cap, updated_at, updated_by FROM plans WHERE person_id = ?",
                              [person_id]).fetchone()
        if row is None:
            return None if default is None else {**default, "updated_at": None, "updated_by": None}
        return {"level": row[0], "targets_bw": {"beginner": row[1], "intermediate": row[2], "advanced": row[3]},
                "daily_impact_cap": row[4], "updated_at": row[5], "updated_by": row[6]}

    def set_plan(self, person_id: int, *, changed_by: str, default: dict, level: str | None = None,
                 targets_bw: dict | None = None, daily_impact_cap: int | None = None) -> None:
        """Change a person's plan (what is not given stays, ``default`` while none is stored); the audit log
        keeps the old and new values."""
        with self._atomic():
            if self.person(person_id) is None:
                raise StoreError(f"no person has id {person_id}")
            before = self.plan(person_id, default=default)
            after = {"level": level or before["level"],
                     "targets_bw": before["targets_bw"] | dict(targets_bw or {}),
                     "daily_impact_cap": before["daily_impact_cap"] if daily_impact_cap is None else int(daily_impact_cap)}
            changes = {}
            if after["level"] != before["level"]:
                changes["level"] = [before["level"], after["level"]]
            for name in ("beginner", "intermediate", "advanced"):
                after["targets_bw"][name] = float(after["targets_bw"][name])
                if after["targets_bw"][name] != before["targets_bw"][name]:
                    changes[f"target_{name}_bw"] = [before["targets_bw"][name], after["targets_bw"][name]]
            if after["daily_impact_cap"] != before["daily_impact_cap"]:
                changes["daily_impact_cap"] = [before["daily_impact_cap"], after["daily_impact_cap"]]
            if not changes and before["updated_at"] is not None:
                return
            now = utc_now()
            t = after["targets_bw"]
            self.db.execute(
                "INSERT INTO plans (person_id, level, target_beginner_bw, target_intermediate_bw, target_advanced_bw, "
                "daily_impact_cap, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(person_id) DO "
                "UPDATE SET level = excluded.level, target_beginner_bw = excluded.target_beginner_bw, "
                "target_intermediate_bw = excluded.target_intermediate_bw, "
                "target_advanced_bw = excluded.target_advanced_bw, daily_impact_cap = excluded.daily_impact_cap, "
                "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                [person_id, after["level"], t["beginner"], t["intermediate"], t["advanced"],
                 after["daily_impact_cap"], now, str(changed_by)])
            if changes:
                self._audit(person_id, changed_by, "plan", changes, now)

    def body_mass_history(self, person_id: int) -> list[dict]:
        return list(self.db.query("SELECT measured_at, mass_kg, method FROM body_mass WHERE person_id = ? "
                                  "ORDER BY measured_at", [person_id]))

    def add_fracture(self, person_id: int, occurred_on: str, *, changed_by: str, site: str = "",
                     is_vertebral: bool = False) -> None:
        with self._atomic():
            self.db.execute("INSERT INTO fractures (person_id, occurred_on, site, is_vertebral) VALUES (?, ?, ?, ?)",
                            [person_id, occurred_on, site, int(bool(is_vertebral))])
            self._audit(person_id, changed_by, "fracture",
                        {"occurred_on": [None, occurred_on], "site": [None, site],
                         "is_vertebral": [None, bool(is_vertebral)]})

    def fractures(self, person_id: int) -> list[dict]:
        return list(self.db.query("SELECT occurred_on, site, is_vertebral FROM fractures WHERE person_id = ? "
                                  "ORDER BY occurred_on", [person_id]))

    def audit_log(self, person_id: int) -> list[dict]:
        rows = self.db.query("SELECT changed_at, changed_by, action, changes FROM people_audit "
                             "WHERE person_id = ? ORDER BY id", [person_id])
        return [row | {"changes": json.loads(row["changes"])} for row in rows]

    def _audit(self, person_id, changed_by, action, changes, when=None) -> None:
        if not str(changed_by or "").strip():
            raise ValueError("a change to a person must say who made it (changed_by)")
        self.db.execute("INSERT INTO people_audit (person_id, changed_at, changed_by, action, changes) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [person_id, when or utc_now(), str(changed_by), action, json.dumps(changes)])

    # -- settings ------------------------------------------------------------------------------------------

    def set_setting(self, key: str, value) -> None:
        self.db.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) "
                        "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                        [key, json.dumps(value), utc_now()])

    def setting(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return default if row is None else json.loads(row[0])

    # -- sessions ------------------------------------------------------------------------------------------

    def start_session(self, person_id: int, *, source: str, rate_hz: float, adc: str, cells, offset_counts,
                      scale_n_per_count, clock_origin_ns: int, speed: float = 1.0, thump_bw: float = 2.5,
                      min_peak_bw: float = 1.3, started_at: str | None = None, exercise: str = "free") -> int:
        """Open a session (status ``recording``) and hold its lock until :meth:`end_session`; its id.

        ``exercise``: what the person was asked to do (:mod:`forceplate.signal.exercises`; ValueError for
        another name)."""
        exercise = check_exercise(exercise)
        cells = [str(c) for c in cells]
        calibration = {"offset_counts": [float(x) for x in np.asarray(offset_counts, dtype=float)],
                       "scale_n_per_count": [float(x) for x in np.asarray(scale_n_per_count, dtype=float)]}
        if not len(cells) == len(calibration["offset_counts"]) == len(calibration["scale_n_per_count"]):
            raise ValueError("cells, offset_counts and scale_n_per_count need one entry per load cell")
        with self._atomic():
            cursor = self.db.execute(
                "INSERT INTO sessions (person_id, started_at, status, source, rate_hz, adc, channels, cells, "
                "speed, clock_origin_ns, calibration, thump_bw, min_peak_bw, exercise) "
                "VALUES (?, ?, 'recording', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [person_id, started_at or utc_now(), str(source), float(rate_hz), adc, len(cells),
                 json.dumps(cells), float(speed), int(clock_origin_ns), json.dumps(calibration),
                 float(thump_bw), float(min_peak_bw), exercise])
            session_id = cursor.lastrowid
            # locked before the row is visible: nobody can see it "recording" without its recorder's lock
            if not self._try_lock(session_id):
                raise StoreError(f"session {session_id}'s lock file is held by another process")
        return session_id

    def add_events(self, session_id: int, events) -> list[int]:
        """Commit events (contract dicts, in time order) to a session; their sequence numbers.

        Kinds ``impact`` and ``jump`` (docs/contracts.md section 1) and ``sit-to-stand`` (a rep of a
        sit-to-stand set: the live analyser's dict, its ``t_peak_s``, ``peak_n`` and ``peak_bw`` in those
        columns, the rest in ``extra``). Every one counts in the session's ``event_count`` (its reps); only
        impacts and jumps count in thumps and the peak statistics (a sit-to-stand rep is no impact).

        An event with ``counted`` false (its ``not_counted_reason`` says why, e.g. a jump in the
        clinician-approved mode) is stored and shown but counts for nothing: not in the reps, thumps, peak
        statistics, median peak, Osteogenic Index, nor the programme's impacts and dose."""
        events = list(events)
        if not events:
            return []
        now = utc_now()
        with self._atomic():
            (next_seq,) = self.db.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM events WHERE session_id = ?",
                                          [session_id]).fetchone()
            rows = []
            for i, event in enumerate(events):
                when = _event_time(event)
                fixed = [_event_value(event.get(k)) for k in EVENT_COLUMNS]
                extra = {k: v for k, v in event.items()
                         if k not in EVENT_COLUMNS and k not in ("session", "seq") and k not in COUNT_FIELDS}
                rows.append([session_id, next_seq + i, *fixed, float(when), json.dumps(extra, allow_nan=False), now,
                             not_counted_reason(event)])
            self.db.conn.executemany(
                f"INSERT INTO events (session_id, seq, {', '.join(EVENT_COLUMNS)}, t_s, extra, recorded_at, "
                f"not_counted_reason) VALUES ({', '.join('?' * (len(EVENT_COLUMNS) + 6))})", rows)
            events = [e for e in events if not_counted_reason(e) is None]      # what counts
            loading = [e for e in events if e["kind"] in LOADING_KINDS]
            peaks = [float(e["peak_bw"]) for e in loading if _finite_number(e.get("peak_bw"))]
            self.db.execute(
                "UPDATE sessions SET event_count = event_count + ?, thump_count = thump_count + ?, "
                "peak_bw_max = CASE WHEN ? IS NULL THEN peak_bw_max ELSE MAX(COALESCE(peak_bw_max, ?), ?) END, "
                "peak_bw_sum = peak_bw_sum + ?, peak_bw_count = peak_bw_count + ? WHERE id = ?",
                [len(events), sum(1 for e in loading if e.get("thump") is True),
                 max(peaks, default=None), max(peaks, default=None), max(peaks, default=None),
                 sum(peaks), len(peaks), session_id])
        return list(range(next_seq, next_seq + len(rows)))

    def withdraw_event(self, session_id: int, t_peak_s: float, reason: str) -> dict | None:
        """Withdraw the impact of a session whose peak was at ``t_peak_s`` (within ``WITHDRAW_WITHIN_S``; the
        nearest, if two): the live analysis sent it, then learnt it was no rep (a take-off followed: a jump's
        push-off). Its row stays, marked with ``reason`` and the time; :meth:`events`, the session's counts,
        thumps, peak statistics and Osteogenic Index leave it out from then on. Returns the withdrawn event (as
        :meth:`events` gave it, plus ``withdrawn_reason`` and ``withdrawn_at``), or None when no impact that
        still stands is that close (nothing changes)."""
        reason = str(reason or "").strip()
        if not reason:
            raise ValueError("a withdrawn event needs its reason")
        t_peak_s = float(t_peak_s)
        with self._atomic():
            row = self.db.execute(
                "SELECT seq FROM events WHERE session_id = ? AND kind = 'impact' AND withdrawn_reason IS NULL "
                "AND abs(t_peak_s - ?) <= ? ORDER BY abs(t_peak_s - ?), seq LIMIT 1",
                [session_id, t_peak_s, WITHDRAW_WITHIN_S, t_peak_s]).fetchone()
            if row is None:
                return None
            self.db.execute("UPDATE events SET withdrawn_reason = ?, withdrawn_at = ? WHERE session_id = ? AND seq = ?",
                            [reason, utc_now(), session_id, row[0]])
            self._recount(session_id)
            (status,) = self.db.execute("SELECT status FROM sessions WHERE id = ?", [session_id]).fetchone()
            if status != "recording":          # an ended session keeps its median and dose on its row
                self._summarise(session_id)
        return next(e for e in self.withdrawn_events(session_id) if e["seq"] == row[0])

    def _recount(self, session_id: int) -> None:
        """The session's counts and peak statistics again from its events that stand and count (after a
        withdrawal)."""
        counts = "e.session_id = sessions.id AND e.withdrawn_reason IS NULL AND e.not_counted_reason IS NULL"
        self.db.execute(f"""
            UPDATE sessions SET
                event_count = (SELECT COUNT(*) FROM events e WHERE {counts}),
                thump_count = (SELECT COUNT(*) FROM events e WHERE {counts} AND e.kind IN ('impact', 'jump')
                               AND e.thump = 1),
                peak_bw_max = (SELECT MAX(peak_bw) FROM events e WHERE {counts} AND e.kind IN ('impact', 'jump')),
                peak_bw_sum = (SELECT COALESCE(SUM(peak_bw), 0) FROM events e WHERE {counts}
                               AND e.kind IN ('impact', 'jump')),
                peak_bw_count = (SELECT COUNT(peak_bw) FROM events e WHERE {counts} AND e.kind IN ('impact', 'jump'))
            WHERE id = ?""", [session_id])

    def add_raw_chunk(self, session_id: int, frames: Frames) -> int:
        """Commit sample sets as the session's next raw chunk; its sequence number (its first, when split).

        Chunks are ``fp2`` (:func:`forceplate.storage.rawcodec.encode_next`), each continuing the state the last
        one committed through this Store left, with a key chunk every ``rawcodec.KEY_EVERY``. Sets the coder
        does not reproduce are stored one per key chunk instead (logged), in the same transaction; if even
        that fails, StoreError, and nothing of them is stored (never a wrong sample)."""
        try:
            chunks, after = rawcodec.encode_next(frames, self._raw_state.get(session_id),
                                                 what=f"a raw chunk of session {session_id}")
        except rawcodec.CodecMismatch as exc:
            raise StoreError(f"session {session_id}: {frames.n_sets} sample sets could not be stored: {exc}") from None
        with self._atomic():
            (first,) = self.db.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM raw_chunks WHERE session_id = ?",
                                       [session_id]).fetchone()
            self.db.conn.executemany(
                "INSERT INTO raw_chunks (session_id, seq, first_t_ns, last_t_ns, n_sets, codec, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [[session_id, first + i, int(part.t_ns[0]), int(part.t_ns[-1]), int(part.n_sets), codec, data]
                 for i, (part, codec, data) in enumerate(chunks)])
        self._raw_state[session_id] = after       # only once committed: the next chunk continues what is stored
        return first

    def end_session(self, session_id: int, *, status: str = "complete", body_weight_n: float | None = None,
                    ended_at: str | None = None) -> None:
        """Close a session (``complete`` or ``interrupted``) and release its lock."""
        if status not in ("complete", "interrupted"):
            raise ValueError(f"a session ends complete or interrupted, not {status!r}")
        bw = None if body_weight_n is None or not math.isfinite(body_weight_n) else float(body_weight_n)
        try:
            with self._atomic():
                self.db.execute("UPDATE sessions SET status = ?, ended_at = ?, "
                                "body_weight_n = COALESCE(?, body_weight_n) WHERE id = ?",
                                [status, ended_at or utc_now(), bw, session_id])
                self._summarise(session_id)
        finally:
            # Even when the disk refused the update: without its lock, mark_interrupted() can close it.
            self._release(session_id)
            self._raw_state.pop(session_id, None)

    def _summarise(self, session_id: int) -> None:
        """Keep the session's median peak (BW) and Osteogenic Index on its row (it has ended)."""
        peaks = [row[0] for row in self.db.execute(
            "SELECT peak_bw FROM events WHERE session_id = ? AND peak_bw IS NOT NULL AND withdrawn_reason IS NULL "
            "AND not_counted_reason IS NULL AND kind IN ('impact', 'jump')", [session_id])]
        median = statistics.median(peaks) if peaks else None
        self.db.execute("UPDATE sessions SET peak_bw_median = ?, osteogenic_index = ? WHERE id = ?",
                        [median, osteogenic_index(peaks) if peaks else None, session_id])

    def set_body_weight(self, session_id: int, body_weight_n: float | None) -> None:
        if body_weight_n is not None and math.isfinite(body_weight_n):
            self.db.execute("UPDATE sessions SET body_weight_n = ? WHERE id = ?", [float(body_weight_n), session_id])

    def mark_interrupted(self) -> list[int]:
        """Mark ``interrupted`` every ``recording`` session whose recorder is gone; their ids.

        Its end is the clock time of the last raw data it stored (else its start).
        """
        marked = []
        for row in list(self.db.query("SELECT id, started_at, clock_origin_ns FROM sessions "
                                      "WHERE status = 'recording'")):
            if row["id"] in self._locks or not self._try_lock(row["id"]):
                continue                     # its recorder is alive (here, or in another process)
            last = self.db.execute("SELECT MAX(last_t_ns) FROM raw_chunks WHERE session_id = ?",
                                   [row["id"]]).fetchone()[0]
            ended_at = row["started_at"]
            if last is not None:
                started = _dt.datetime.fromisoformat(row["started_at"])
                ended_at = (started + _dt.timedelta(microseconds=(last - row["clock_origin_ns"]) / 1e3)).isoformat(
                    timespec="microseconds")
            with self._atomic():
                self.db.execute("UPDATE sessions SET status = 'interrupted', ended_at = ? "
                                "WHERE id = ? AND status = 'recording'", [ended_at, row["id"]])
                self._summarise(row["id"])
            self._release(row["id"])
            marked.append(row["id"])
        return marked

    def session(self, session_id: int) -> dict:
        """A session's row with its person's name and its event counts; raises UnknownSession."""
        rows = list(self.db.query(_SESSIONS_SQL.format(where="s.id = ?"), [session_id]))
        if not rows:
            raise UnknownSession(f"no session {session_id}")
        return _session_dict(rows[0])

    def sessions(self, person: str | None = None) -> list[dict]:
        """Every session (one person's, by name), oldest first, with ``events`` and ``thumps`` counts."""
        if person is None:
            rows = self.db.query(_SESSIONS_SQL.format(where="1"))
        else:
            rows = self.db.query(_SESSIONS_SQL.format(where="p.name = ?"), [_normalise_name(person)])
        return [_session_dict(row) for row in rows]

    def person_history(self, person_id: int) -> list[dict]:
        """What the history page shows: one person's sessions, newest first, each with its event summary
        (events, thumps, largest and mean peak in body weights), kept on the session's row by add_events."""
        return list(self.db.query("""
            SELECT id, started_at, ended_at, status, body_weight_n, event_count AS events, thump_count AS thumps,
                   peak_bw_max, peak_bw_sum / NULLIF(peak_bw_count, 0) AS peak_bw_mean, peak_bw_median,
                   osteogenic_index, pain, restricted, thump_bw, exercise, body_mass_kg, body_mass_source,
                   body_weight_warning
            FROM sessions
            WHERE person_id = ?
            ORDER BY started_at DESC""", [person_id]))

    def set_pain(self, session_id: int, pain: bool, *, changed_by: str) -> None:
        """Keep the answer to "did anything hurt?" with a session (the audit log keeps who said it)."""
        with self._atomic():
            row = self.db.execute("SELECT person_id, pain FROM sessions WHERE id = ?", [session_id]).fetchone()
            if row is None:
                raise UnknownSession(f"no session {session_id}")
            person_id, before = row
            self.db.execute("UPDATE sessions SET pain = ?, pain_answered_at = ? WHERE id = ?",
                            [int(bool(pain)), utc_now(), session_id])
            self._audit(person_id, changed_by, "pain",
                        {"session": [None, session_id],
                         "pain": [None if before is None else bool(before), bool(pain)]})

    def set_session_body_weight(self, session_id: int, *, mass_kg: float | None, source: str | None,
                                warning: str | None = None) -> None:
        """Keep with a session the mass its body-weight multiples use (kg), where it came from (``plate``: the
        plate weighed the person standing; ``profile``: their latest recorded mass) and the warning shown when
        the two disagreed."""
        if source is not None and source not in BODY_MASS_SOURCES:
            raise ValueError(f"a body mass comes from {' or '.join(BODY_MASS_SOURCES)}, not {source!r}")
        mass = None if mass_kg is None or not math.isfinite(mass_kg) else float(mass_kg)
        with self._atomic():
            self.db.execute("UPDATE sessions SET body_mass_kg = ?, body_mass_source = ?, body_weight_warning = ? "
                            "WHERE id = ?", [mass, source, warning, session_id])

    def set_session_restricted(self, session_id: int, restricted: bool) -> None:
        """Note that a session was trained in the clinician-approved mode (no jumps, beginner targets)."""
        self.db.execute("UPDATE sessions SET restricted = ? WHERE id = ?", [int(bool(restricted)), session_id])

    def programme_sessions(self, person_id: int, since: str) -> list[dict]:
        """What the programme rules need: the person's sessions with reps started at or after ``since`` (ISO
        time), each with its impact peaks (BW) and pain answer, oldest first; and, before them, the newest
        earlier session with reps (for "days since the last session"), its peaks left out."""
        rows = list(self.db.query(
            "SELECT id, started_at, pain FROM sessions WHERE person_id = ? AND started_at >= ? "
            "AND event_count > 0 ORDER BY started_at", [person_id, since]))
        for row in rows:
            row["peaks_bw"] = [r[0] for r in self.db.execute(
                "SELECT peak_bw FROM events WHERE session_id = ? AND peak_bw IS NOT NULL AND withdrawn_reason IS NULL "
                "AND not_counted_reason IS NULL AND kind IN ('impact', 'jump') ORDER BY seq", [row["id"]])]
        earlier = self.db.execute(
            "SELECT id, started_at, pain FROM sessions WHERE person_id = ? AND started_at < ? AND event_count > 0 "
            "ORDER BY started_at DESC LIMIT 1", [person_id, since]).fetchone()
        if earlier is not None:
            rows.insert(0, {"id": earlier[0], "started_at": earlier[1], "pain": earlier[2], "peaks_bw": []})
        return rows

    def sets_since(self, person_id: int, since: str) -> list[dict]:
        """A person's sessions started at or after ``since`` (ISO time), oldest first: ``id``, ``started_at``,
        ``status``, ``exercise``, ``thump_bw``, ``reps`` (the reps that count), ``thumps`` and ``reps_detail``:
        each counted rep as ``{"kind", "peak_bw", "thump", "tempo_ok"}`` (``tempo_ok``: a sit-to-stand rep
        that rose fast and sat down slowly; None for an impact). What today's guided session is judged on."""
        rows = list(self.db.query(
            "SELECT id, started_at, status, exercise, thump_bw, event_count AS reps, thump_count AS thumps "
            "FROM sessions WHERE person_id = ? AND started_at >= ? ORDER BY started_at, id", [person_id, since]))
        for row in rows:
            row["reps_detail"] = [
                {"kind": kind, "peak_bw": peak_bw, "thump": None if thump is None else bool(thump),
                 "tempo_ok": None if fast is None else bool(fast and slow)}
                for kind, peak_bw, thump, fast, slow in self.db.execute(
                    "SELECT kind, peak_bw, thump, json_extract(extra, '$.is_fast_rise'), "
                    "json_extract(extra, '$.is_slow_lowering') FROM events WHERE session_id = ? "
                    "AND withdrawn_reason IS NULL AND not_counted_reason IS NULL ORDER BY seq", [row["id"]])]
        return rows

    def events(self, session_id: int) -> list[dict]:
        """A session's events that stand, as they were reported (contract fields, then the extra ones), with
        ``seq``, ``counted`` (bool) and ``not_counted_reason`` (None when it counts); withdrawn ones are left
        out (:meth:`withdrawn_events`)."""
        return self._events(session_id, withdrawn=False)

    def withdrawn_events(self, session_id: int) -> list[dict]:
        """A session's withdrawn events, as reported, each with ``seq``, ``withdrawn_reason`` and ``withdrawn_at``."""
        return self._events(session_id, withdrawn=True)

    def _events(self, session_id: int, *, withdrawn: bool) -> list[dict]:
        out = []
        for row in self.db.query(f"SELECT seq, {', '.join(EVENT_COLUMNS)}, extra, withdrawn_reason, withdrawn_at, "
                                 f"not_counted_reason "
                                 f"FROM events WHERE session_id = ? AND withdrawn_reason IS "
                                 f"{'NOT NULL' if withdrawn else 'NULL'} ORDER BY seq", [session_id]):
            event = {k: row[k] for k in EVENT_COLUMNS if row[k] is not None or k in _CONTRACT_FIELDS[row["kind"]]}
            if event.get("thump") is not None:
                event["thump"] = bool(event["thump"])
            event = event | json.loads(row["extra"]) | {"seq": row["seq"], "counted": row["not_counted_reason"] is None,
                                                         "not_counted_reason": row["not_counted_reason"]}
            if withdrawn:
                event |= {"withdrawn_reason": row["withdrawn_reason"], "withdrawn_at": row["withdrawn_at"]}
            out.append(event)
        return out

    def raw_frames(self, session_id: int) -> Frames:
        """Every stored sample set of a session, decoded, in order (empty Frames when none)."""
        parts, state = [], None
        for seq, codec, data in self.db.execute(
                "SELECT seq, codec, data FROM raw_chunks WHERE session_id = ? ORDER BY seq", [session_id]):
            try:
                frames, state = rawcodec.decode_chunk(codec, data, state)
            except rawcodec.CorruptChunk as exc:
                raise StoreError(f"session {session_id}, raw chunk {seq}: {exc}") from None
            parts.append(frames)
        if not parts:
            return Frames.empty(self.session(session_id)["channels"])
        return Frames(np.concatenate([p.t_ns for p in parts]), np.concatenate([p.raw_counts for p in parts]),
                      np.concatenate([p.flags for p in parts]))

    def raw_bytes(self, session_id: int) -> tuple[int, int]:
        """(bytes stored, sample sets stored) of a session's raw trace."""
        total, sets = self.db.execute("SELECT COALESCE(SUM(length(data)), 0), COALESCE(SUM(n_sets), 0) "
                                      "FROM raw_chunks WHERE session_id = ?", [session_id]).fetchone()
        return int(total), int(sets)

    # -- locks ---------------------------------------------------------------------------------------------

    def _lock_path(self, session_id: int) -> Path:
        return self.path.parent / f"session-{int(session_id)}.lock"

    def _try_lock(self, session_id: int) -> bool:
        fd = os.open(self._lock_path(session_id), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                return False
            raise
        self._locks[session_id] = fd
        return True

    def _release(self, session_id: int) -> None:
        fd = self._locks.pop(session_id, None)
        if fd is None:
            return
        try:
            os.unlink(self._lock_path(session_id))      # unlinked while held: nobody can lock a stale file
        except FileNotFoundError:
            pass
        os.close(fd)


_CONTRACT_FIELDS = {
    "impact": {"kind", "t_peak_s", "peak_n", "peak_bw", "loading_rate_bw_s", "thump"},
    "jump": {"kind", "takeoff_s", "landing_s", "flight_s", "height_flight_m", "height_impulse_m", "t_peak_s",
             "peak_n", "peak_bw", "loading_rate_bw_s", "thump"},
    "sit-to-stand": {"kind", "t_peak_s", "peak_n", "peak_bw"},
}


def not_counted_reason(event: dict) -> str | None:
    """Why an event does not count (its ``not_counted_reason``, or a plain default when only ``counted`` is
    false); None when it counts (the default: an event without ``counted``)."""
    if event.get("counted", True) is not False and not event.get("not_counted_reason"):
        return None
    return str(event.get("not_counted_reason") or "").strip() or "not counted"


def _event_time(event: dict) -> float:
    """When an event happened (the ``t_s`` column): a jump's take-off, an impact's peak; a sit-to-stand rep's
    peak, else the first instant it has (a sit-down without a rise)."""
    if event["kind"] == "jump":
        names = ("takeoff_s",)
    elif event["kind"] == "sit-to-stand":
        names = ("t_peak_s", "rise_start_s", "lowering_start_s", "seated_start_s")
    else:
        names = ("t_peak_s",)
    for name in names:
        if _finite_number(event.get(name)):
            return float(event[name])
    raise ValueError(f"a {event['kind']} event without its time ({' or '.join(names)})")

_SESSIONS_SQL = """
    SELECT s.*, p.name AS person, s.event_count AS events, s.thump_count AS thumps
    FROM sessions s JOIN people p ON p.id = s.person_id
    WHERE {where}
    ORDER BY s.started_at, s.id"""


def _session_dict(row: dict) -> dict:
    out = dict(row)
    out["cells"] = json.loads(out["cells"])
    out["calibration"] = json.loads(out["calibration"])
    return out


def _event_value(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


MAX_NAME_CHARS = 100
# Control and format characters: ESC and the C1 controls drive a terminal (`forceplate sessions`), zero-width
# ones make a name that looks blank or like someone else's; line and paragraph separators break lines.
_NOT_IN_NAMES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# ...except the zero-width (non-)joiner between two visible characters: Persian and Indic spellings and emoji
# sequences need them, and there they cannot make a name look blank.
_JOINERS = {"\u200c", "\u200d"}


def _is_visible(c: str) -> bool:
    return not c.isspace() and unicodedata.category(c) not in _NOT_IN_NAMES


def check_person_name(name) -> str:
    """The one rule for a person's name, wherever one is created or changed: the name with its runs of spaces
    made one and its ends stripped. Raises ValueError, in plain words, for a name that is blank, longer than
    ``MAX_NAME_CHARS`` or holds a control or format character (a tab, ESC, a zero-width space...)."""
    text = str(name or "")
    bad = next((c for i, c in enumerate(text) if unicodedata.category(c) in _NOT_IN_NAMES
                and not (c in _JOINERS and 0 < i < len(text) - 1
                         and _is_visible(text[i - 1]) and _is_visible(text[i + 1]))), None)
    if bad is not None:
        raise ValueError(f"a name cannot hold control or invisible characters (it has U+{ord(bad):04X})")
    name = _normalise_name(text)
    if not name:
        raise ValueError("a person needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a name can have at most {MAX_NAME_CHARS} characters")
    return name


def _normalise_name(name) -> str:
    """A name as stored and looked up (names stored before the rule may still hold anything)."""
    return " ".join(str(name or "").split())


def _is_sqlite_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.Error)

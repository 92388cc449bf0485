"""The database schema, as versioned migrations applied at start-up (sqlite-utils ``Migrations``).

Each migration is a function of the database, applied once, in order, inside one transaction with the record
of it having been applied (table ``_sqlite_migrations``), so a crash mid-migration leaves the previous version
whole. Never edit a migration that has shipped: add the next one. The schema version is the number applied.

Tables are created here with explicit keys, NOT NULLs and CHECKs (STRICT tables: a string never lands in a
number column), never by an insert. Times are ISO 8601 UTC text (``2026-03-01T09:30:00.123456+00:00``).
Plans live in their own table (0005); a session keeps the threshold it was judged by (``thump_bw``). Raw
chunks are all ``fp2`` from 0006 on (it re-encoded the retired ``fp1`` chunks).
"""
from __future__ import annotations

import logging
import lzma
import statistics
import struct
import zlib

import numpy as np
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from . import rawcodec
from ..device.frames import Frames
from ..signal.summary import osteogenic_index

log = logging.getLogger(__name__)

MIGRATION_SET = "forceplate"
migrations = Migrations(MIGRATION_SET)


@migrations(name="0001_people")
def create_people(db) -> None:
    """People and what a physiotherapist needs to know before loading their bones; settings; the audit log."""
    db.execute("""
        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(trim(name)) > 0),
            birth_year INTEGER CHECK (birth_year BETWEEN 1900 AND 2100),
            t_score REAL CHECK (t_score BETWEEN -10 AND 10),         -- lowest DXA T-score, if known
            has_vertebral_fracture INTEGER CHECK (has_vertebral_fracture IN (0, 1)),   -- NULL: not known
            has_balance_problems INTEGER CHECK (has_balance_problems IN (0, 1)),
            approved_by TEXT,                   -- the clinician who cleared this person for impact loading
            approved_at TEXT,
            created_at TEXT NOT NULL
        ) STRICT""")
    db.execute("""
        CREATE TABLE body_mass (
            id INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id),
            measured_at TEXT NOT NULL,
            mass_kg REAL NOT NULL CHECK (mass_kg > 0 AND mass_kg < 400),
            method TEXT NOT NULL                -- "entered" by a person, or "plate" (weighed standing)
        ) STRICT""")
    db.execute("CREATE INDEX body_mass_person ON body_mass(person_id, measured_at)")
    db.execute("""
        CREATE TABLE fractures (
            id INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id),
            occurred_on TEXT NOT NULL,          -- a date, as precise as known: 2019, 2019-04, 2019-04-12
            site TEXT NOT NULL DEFAULT '',
            is_vertebral INTEGER NOT NULL DEFAULT 0 CHECK (is_vertebral IN (0, 1))
        ) STRICT""")
    db.execute("CREATE INDEX fractures_person ON fractures(person_id)")
    db.execute("""
        CREATE TABLE people_audit (
            id INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL,         -- no foreign key: the log outlives what it describes
            changed_at TEXT NOT NULL,
            changed_by TEXT NOT NULL,
            action TEXT NOT NULL,               -- create, update, body_mass, fracture
            changes TEXT NOT NULL CHECK (json_valid(changes))     -- {"field": [old, new], ...}
        ) STRICT""")
    db.execute("CREATE INDEX people_audit_person ON people_audit(person_id, changed_at)")
    db.execute("""
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL CHECK (json_valid(value)),
            updated_at TEXT NOT NULL
        ) STRICT""")


@migrations(name="0002_sessions")
def create_sessions(db) -> None:
    """Sessions, their events and their raw traces (compressed chunks, see docs/storage.md)."""
    db.execute("""
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id),
            started_at TEXT NOT NULL,
            ended_at TEXT,                      -- NULL while recording
            status TEXT NOT NULL CHECK (status IN ('recording', 'complete', 'interrupted')),
            source TEXT NOT NULL,               -- the source spec, e.g. sim:heel-drops?speed=8
            rate_hz REAL NOT NULL CHECK (rate_hz > 0),
            adc TEXT NOT NULL CHECK (adc IN ('ideal', 'hx711')),
            channels INTEGER NOT NULL CHECK (channels > 0),
            cells TEXT NOT NULL CHECK (json_valid(cells)),            -- column names, e.g. ["fz1_n", ...]
            speed REAL NOT NULL DEFAULT 1.0 CHECK (speed > 0),        -- t_s = (t_ns - clock_origin_ns) * speed / 1e9
            clock_origin_ns INTEGER NOT NULL,   -- the source clock at the session's time zero
            calibration TEXT NOT NULL CHECK (json_valid(calibration)),   -- {"offset_counts": [..], "scale_n_per_count": [..]}
            body_weight_n REAL,
            thump_bw REAL NOT NULL,
            min_peak_bw REAL NOT NULL
        ) STRICT""")
    db.execute("""
        CREATE TABLE events (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            seq INTEGER NOT NULL CHECK (seq >= 0),
            kind TEXT NOT NULL CHECK (kind IN ('impact', 'jump')),
            t_s REAL NOT NULL,                  -- when: a jump's take-off, an impact's peak (s since start)
            t_peak_s REAL,
            peak_n REAL,
            peak_bw REAL,
            loading_rate_bw_s REAL,
            thump INTEGER CHECK (thump IN (0, 1)),
            takeoff_s REAL,
            landing_s REAL,
            flight_s REAL,
            height_flight_m REAL,
            height_impulse_m REAL,
            extra TEXT NOT NULL CHECK (json_valid(extra)),            -- every other field of the event
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (session_id, seq)
        ) STRICT""")
    db.execute("""
        CREATE TABLE raw_chunks (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            seq INTEGER NOT NULL CHECK (seq >= 0),
            first_t_ns INTEGER NOT NULL,
            last_t_ns INTEGER NOT NULL,
            n_sets INTEGER NOT NULL CHECK (n_sets > 0),
            codec TEXT NOT NULL,                -- "fp1+zlib" or "fp1+lzma"
            data BLOB NOT NULL,
            PRIMARY KEY (session_id, seq)
        ) STRICT""")


@migrations(name="0003_history_indexes")
def add_history_indexes(db) -> None:
    """What the history page reads: one person's sessions by date, each with its event counts."""
    db.execute("CREATE INDEX sessions_person_started ON sessions(person_id, started_at)")
    db.execute("CREATE INDEX sessions_open ON sessions(status) WHERE status = 'recording'")
    # covering: a session's counts and peaks come from the index alone, never the event rows
    db.execute("CREATE INDEX events_session_summary ON events(session_id, thump, peak_bw)")



@migrations(name="0004_session_summaries")
def add_session_summaries(db) -> None:
    """Each session's event counts and peaks kept on its row (updated with every event, in the same
    transaction), so the history page reads one row per session instead of counting 60 events for each:
    312,000 events over 5 years took 140-300 ms to count per person, the rows take a few."""
    for column in ("event_count INTEGER NOT NULL DEFAULT 0", "thump_count INTEGER NOT NULL DEFAULT 0",
                   "peak_bw_max REAL", "peak_bw_sum REAL NOT NULL DEFAULT 0",
                   "peak_bw_count INTEGER NOT NULL DEFAULT 0"):
        db.execute(f"ALTER TABLE sessions ADD COLUMN {column}")
    db.execute("""
        UPDATE sessions SET
            event_count = (SELECT COUNT(*) FROM events e WHERE e.session_id = sessions.id),
            thump_count = (SELECT COUNT(*) FROM events e WHERE e.session_id = sessions.id AND e.thump = 1),
            peak_bw_max = (SELECT MAX(peak_bw) FROM events e WHERE e.session_id = sessions.id),
            peak_bw_sum = (SELECT COALESCE(SUM(peak_bw), 0) FROM events e WHERE e.session_id = sessions.id),
            peak_bw_count = (SELECT COUNT(peak_bw) FROM events e WHERE e.session_id = sessions.id)""")


@migrations(name="0005_plans_pain_summaries")
def add_plans_pain_and_session_doses(db) -> None:
    """Each person's plan (level and clinician-set target peaks), the answer to "did anything hurt?" on each
    session, whether it was trained in the clinician-approved mode, and each session's median peak and
    Osteogenic Index kept on its row when it ends (the history page reads rows, never every event)."""
    import statistics


    db.execute("""
        CREATE TABLE plans (
            person_id INTEGER PRIMARY KEY REFERENCES people(id),
            level TEXT NOT NULL CHECK (level IN ('beginner', 'intermediate', 'advanced')),
            target_beginner_bw REAL NOT NULL CHECK (target_beginner_bw BETWEEN 1.3 AND 8),
            target_intermediate_bw REAL NOT NULL CHECK (target_intermediate_bw BETWEEN 1.3 AND 8),
            target_advanced_bw REAL NOT NULL CHECK (target_advanced_bw BETWEEN 1.3 AND 8),
            daily_impact_cap INTEGER NOT NULL CHECK (daily_impact_cap BETWEEN 1 AND 500),
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL
        ) STRICT""")
    for column in ("pain INTEGER CHECK (pain IN (0, 1))",            # NULL: not asked or not answered
                   "pain_answered_at TEXT",
                   "restricted INTEGER CHECK (restricted IN (0, 1))",  # trained in clinician-approved mode
                   "peak_bw_median REAL",
                   "osteogenic_index REAL"):
        db.execute(f"ALTER TABLE sessions ADD COLUMN {column}")
    ended = [row[0] for row in db.execute("SELECT id FROM sessions WHERE status != 'recording'").fetchall()]
    for session_id in ended:
        peaks = [row[0] for row in db.execute(
            "SELECT peak_bw FROM events WHERE session_id = ? AND peak_bw IS NOT NULL", [session_id]).fetchall()]
        if peaks:
            db.execute("UPDATE sessions SET peak_bw_median = ?, osteogenic_index = ? WHERE id = ?",
                       [statistics.median(peaks), osteogenic_index(peaks), session_id])


@migrations(name="0006_raw_chunks_fp2")
def reencode_fp1_raw_chunks(db) -> None:
    """Every session with a raw chunk in the retired ``fp1`` format (recorded before fp2, or a chunk fp2 once
    fell back to) re-encoded as ``fp2``, losslessly: decoded, coded again as the store codes a session
    (:func:`rawcodec.encode_next`: a key chunk first and every ``KEY_EVERY`` chunks, chunks in their order,
    each chunk's sets in one chunk unless the coder fails on them) and decoded again to check, sets, flags
    and times equal, before the old rows are replaced. A session with a chunk that cannot be decoded is left
    as it was (reading it names the chunk, as it did before), and logged."""
    sessions = [row[0] for row in db.execute(
        "SELECT DISTINCT session_id FROM raw_chunks WHERE codec != ? ORDER BY session_id", [rawcodec.CODEC])]
    for session_id in sessions:
        rows = db.execute("SELECT seq, codec, data FROM raw_chunks WHERE session_id = ? ORDER BY seq",
                          [session_id]).fetchall()
        try:
            old = list(_decode_chunks(rows))
        except rawcodec.CorruptChunk as exc:
            log.warning("session %d: raw chunks left as they were, not re-encoded as fp2: %s", session_id, exc)
            continue
        new, position = [], None
        for frames in old:
            chunks, position = rawcodec.encode_next(frames, position,
                                                    what=f"raw chunk of session {session_id} (migrating)")
            new.append(chunks)
        state = None
        for frames, chunks in zip(old, new):        # read back as the store reads: in order, state passed on
            back = []
            for _, codec, data in chunks:
                part, state = rawcodec.decode_chunk(codec, data, state)
                back.append(part)
            if not all(np.array_equal(np.concatenate([getattr(p, name) for p in back]), getattr(frames, name))
                       for name in ("t_ns", "raw_counts", "flags")):
                raise rawcodec.CodecMismatch(f"session {session_id}: its raw trace re-encoded as fp2 does not "
                                             "decode to the sets it held; the database was left as it was")
        db.execute("DELETE FROM raw_chunks WHERE session_id = ?", [session_id])
        parts = [part for chunks in new for part in chunks]
        db.conn.executemany(
            "INSERT INTO raw_chunks (session_id, seq, first_t_ns, last_t_ns, n_sets, codec, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[session_id, seq, int(part.t_ns[0]), int(part.t_ns[-1]), int(part.n_sets), codec, data]
             for seq, (part, codec, data) in enumerate(parts)])


@migrations(name="0007_exercises")
def add_exercises_and_withdrawn_events(db) -> None:
    """Each session's exercise (what the person was asked to do: :mod:`forceplate.signal.exercises`, ``free``
    for every session recorded before); events of kind ``sit-to-stand`` (a rep of a sit-to-stand set: its
    rise peak in the peak columns, its tempo, times and power in ``extra``); and withdrawn events: an impact the
    live analysis sent and later took back (a jump's push-off) keeps its row, with ``withdrawn_reason`` and
    ``withdrawn_at``, and leaves the session's counts. A STRICT table's CHECK cannot be altered, so ``events``
    is rebuilt: a new table, every row copied, the old one dropped, the new one renamed, its index made again.
    The session counts stay as they were (before this no event was a sit-to-stand rep or withdrawn)."""
    db.execute("ALTER TABLE sessions ADD COLUMN exercise TEXT NOT NULL DEFAULT 'free' "
               "CHECK (exercise IN ('free', 'heel-drop', 'jump', 'drop-landing', 'sit-to-stand'))")
    db.execute("""
        CREATE TABLE events_0007 (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            seq INTEGER NOT NULL CHECK (seq >= 0),
            kind TEXT NOT NULL CHECK (kind IN ('impact', 'jump', 'sit-to-stand')),
            t_s REAL NOT NULL,                  -- when: a jump's take-off, an impact's or a rise's peak (s)
            t_peak_s REAL,
            peak_n REAL,
            peak_bw REAL,
            loading_rate_bw_s REAL,
            thump INTEGER CHECK (thump IN (0, 1)),          -- never set for a sit-to-stand rep
            takeoff_s REAL,
            landing_s REAL,
            flight_s REAL,
            height_flight_m REAL,
            height_impulse_m REAL,
            extra TEXT NOT NULL CHECK (json_valid(extra)),            -- every other field of the event
            recorded_at TEXT NOT NULL,
            withdrawn_reason TEXT CHECK (withdrawn_reason IS NULL OR length(withdrawn_reason) > 0),
            withdrawn_at TEXT,                  -- NULL: the event stands
            CHECK ((withdrawn_reason IS NULL) = (withdrawn_at IS NULL)),
            PRIMARY KEY (session_id, seq)
        ) STRICT""")
    columns = ("session_id, seq, kind, t_s, t_peak_s, peak_n, peak_bw, loading_rate_bw_s, thump, takeoff_s, "
               "landing_s, flight_s, height_flight_m, height_impulse_m, extra, recorded_at")
    db.execute(f"INSERT INTO events_0007 ({columns}) SELECT {columns} FROM events")
    db.execute("DROP TABLE events")      # its index goes with it
    db.execute("ALTER TABLE events_0007 RENAME TO events")
    db.execute("CREATE INDEX events_session_summary ON events(session_id, thump, peak_bw)")


@migrations(name="0008_counted_reps_and_body_weight_source")
def add_not_counted_events_and_body_weight_source(db) -> None:
    """Events that are stored and shown but count for nothing (``not_counted_reason``: a jump by a person in
    the clinician-approved mode), and the body weight each session's multiples used (``body_mass_kg``, where it
    came from, ``body_mass_source`` ``plate`` or ``profile``, and the plain-words ``body_weight_warning`` when
    the plate and the profile disagreed).

    Jumps stored before this with the clinician-approved mode's note (``extra.note``) are marked not counted,
    and their sessions counted again without them (counts, thumps, peak statistics; median peak and
    Osteogenic Index of the ended ones): they never should have counted."""
    db.execute("ALTER TABLE events ADD COLUMN not_counted_reason TEXT "
               "CHECK (not_counted_reason IS NULL OR length(not_counted_reason) > 0)")   # NULL: the rep counts
    for column in ("body_mass_kg REAL CHECK (body_mass_kg IS NULL OR (body_mass_kg > 0 AND body_mass_kg < 400))",
                   "body_mass_source TEXT CHECK (body_mass_source IS NULL OR body_mass_source IN ('plate', 'profile'))",
                   "body_weight_warning TEXT"):
        db.execute(f"ALTER TABLE sessions ADD COLUMN {column}")
    note = "No jumps in clinician-approved mode"
    db.execute("UPDATE events SET not_counted_reason = ? WHERE kind = 'jump' AND json_valid(extra) "
               "AND json_extract(extra, '$.note') = ?", [note, note])
    touched = [row[0] for row in db.execute(
        "SELECT DISTINCT session_id FROM events WHERE not_counted_reason IS NOT NULL").fetchall()]
    stands = "e.session_id = sessions.id AND e.withdrawn_reason IS NULL AND e.not_counted_reason IS NULL"
    for session_id in touched:
        db.execute(f"""
            UPDATE sessions SET
                event_count = (SELECT COUNT(*) FROM events e WHERE {stands}),
                thump_count = (SELECT COUNT(*) FROM events e WHERE {stands} AND e.kind IN ('impact', 'jump')
                               AND e.thump = 1),
                peak_bw_max = (SELECT MAX(peak_bw) FROM events e WHERE {stands} AND e.kind IN ('impact', 'jump')),
                peak_bw_sum = (SELECT COALESCE(SUM(peak_bw), 0) FROM events e WHERE {stands}
                               AND e.kind IN ('impact', 'jump')),
                peak_bw_count = (SELECT COUNT(peak_bw) FROM events e WHERE {stands} AND e.kind IN ('impact', 'jump'))
            WHERE id = ?""", [session_id])
        (status,) = db.execute("SELECT status FROM sessions WHERE id = ?", [session_id]).fetchone()
        if status == "recording":
            continue
        peaks = [row[0] for row in db.execute(
            "SELECT peak_bw FROM events WHERE session_id = ? AND peak_bw IS NOT NULL AND withdrawn_reason IS NULL "
            "AND not_counted_reason IS NULL AND kind IN ('impact', 'jump')", [session_id]).fetchall()]
        db.execute("UPDATE sessions SET peak_bw_median = ?, osteogenic_index = ? WHERE id = ?",
                   [statistics.median(peaks) if peaks else None, osteogenic_index(peaks) if peaks else None,
                    session_id])


def _decode_chunks(rows):
    """The sets of a session's chunks ``(seq, codec, data)``, in order, whichever format each is in."""
    state = None
    for seq, codec, data in rows:
        try:
            if codec == rawcodec.CODEC:
                frames, state = rawcodec.decode_chunk(codec, data, state)
            else:
                frames, state = _decode_fp1(codec, data), None
        except rawcodec.CorruptChunk as exc:
            raise rawcodec.CorruptChunk(f"raw chunk {seq}: {exc}") from None
        yield frames


_FP1_HEADER = struct.Struct("<BIq")          # cells, sets, first t_ns; then the compressed body
_FP1_SECTIONS = struct.Struct("<IB")         # body: bytes of varint numbers, bytes per residual
_FP1_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 20}]


def _decode_fp1(codec: str, data: bytes) -> Frames:
    """The sets of one chunk in the retired, self-contained ``fp1`` format (docs/storage.md describes it).
    Only this migration reads it; nothing writes it any more."""
    data = bytes(data)
    if codec not in ("fp1+zlib", "fp1+lzma"):
        raise rawcodec.CorruptChunk(f"unknown raw chunk format {codec!r}")
    try:
        return _decode_fp1_body(codec, data)
    except rawcodec.CorruptChunk:
        raise
    except (zlib.error, lzma.LZMAError, struct.error, OverflowError, ValueError) as exc:
        raise rawcodec.CorruptChunk(f"corrupt raw chunk: {exc}") from None


def _decode_fp1_body(codec: str, data: bytes) -> Frames:
    channels, n, first_t_ns = _FP1_HEADER.unpack_from(data)
    packed = data[_FP1_HEADER.size:]
    if codec == "fp1+zlib":
        body = zlib.decompress(packed)
    else:
        body = lzma.decompress(packed, format=lzma.FORMAT_RAW, filters=_FP1_LZMA_FILTERS)
    numbers_len, width = _FP1_SECTIONS.unpack_from(body)
    at = _FP1_SECTIONS.size
    reader = rawcodec.VarintReader(body[at:at + numbers_len])
    numbers = [rawcodec.unzigzag(reader.varint()) for _ in range((n - 1) + channels)]
    at += numbers_len
    orders = body[at:at + channels]
    at += channels
    plane_len = width * (n - 1) * channels
    if (n < 1 or channels < 1 or reader.pos != numbers_len or width not in (2, 4, 8) or len(orders) != channels
            or max(orders) > 2 or len(body) != at + plane_len + n * channels):
        raise ValueError("its sections do not add up")
    # byte planes: every residual's lowest byte, then every next byte, ...; little-endian once transposed back
    zz = np.frombuffer(body[at:at + plane_len], dtype=np.uint8).reshape(width, -1).T.copy().view(f"<u{width}")
    residuals = np.array([rawcodec.unzigzag(int(u)) for u in zz.ravel()], dtype=np.int64).reshape(channels, n - 1)
    flags = np.frombuffer(body[at + plane_len:], dtype=np.uint8).reshape(channels, n).T
    steps = np.cumsum(np.array(numbers[:n - 1], dtype=np.int64))          # the changes of step, summed
    t_ns = first_t_ns + np.concatenate(([0], np.cumsum(steps)))
    counts = np.empty((n, channels), dtype=np.int64)
    for ch in range(channels):
        first, r = np.int64(numbers[n - 1 + ch]), residuals[ch]
        if orders[ch] == 0:                 # each count against the chunk's first
            rest = first + r
        elif orders[ch] == 1:               # against the count before
            rest = first + np.cumsum(r)
        else:                               # against the line through the two before
            rest = first + np.cumsum(np.cumsum(r))
        counts[:, ch] = np.concatenate(([first], rest))
    if counts.min() < -2**31 or counts.max() >= 2**31:
        raise ValueError("a count outside 32 bits")
    return Frames(t_ns.astype(np.int64), np.ascontiguousarray(counts, dtype=np.int32), np.ascontiguousarray(flags))


# Every migration, in order: what an empty database has pending (read-only; sqlite-utils' public API).
MIGRATION_NAMES = tuple(m.name for m in migrations.pending(Database(memory=True)))
SCHEMA_VERSION = len(MIGRATION_NAMES)

"""The store on real SQLite files under tmp_path: migrations, durability settings, people, sessions, raw traces."""
import json
import math
import os
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from forceplate.device.frames import Frames
from forceplate.device.sim.mock import FakeClock
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.storage import rawcodec
from forceplate.storage.migrations import MIGRATION_NAMES, migrations
from forceplate.storage.store import Store, StoreError, UnknownSession
from helpers import ROOT, load_module

# the retired fp1 format, written from docs/storage.md (forceplate itself no longer writes it)
encode_fp1_chunk = load_module("_forceplate_bench_storage", ROOT / "bench" / "storage.py").encode_fp1_chunk

CAL = {"offset_counts": [10.0, -20.0, 30.0, -40.0], "scale_n_per_count": [0.003, 0.0031, 0.0029, 0.003]}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path) as s:
        yield s


def start(store, person="Ann", **kw):
    person_id = store.person_id_for(person, changed_by="test")
    args = dict(source="sim:heel-drops", rate_hz=80.0, adc="hx711", cells=["fz1_n", "fz2_n", "fz3_n", "fz4_n"],
                offset_counts=CAL["offset_counts"], scale_n_per_count=CAL["scale_n_per_count"], clock_origin_ns=0)
    return store.start_session(person_id, **(args | kw))


IMPACT = {"kind": "impact", "t_peak_s": 1.5, "peak_n": 2100.0, "peak_bw": 3.0, "loading_rate_bw_s": 80.0,
          "thump": True, "onset_s": 1.45, "landing": None, "intensity": "high"}
STS = {"kind": "sit-to-stand", "seated_start_s": 2.0, "seated_end_s": 4.1, "seated_n": 180.0, "seated_bw": 0.26,
       "lowering_start_s": 0.9, "lowering_end_s": 2.0, "lowering_s": 1.1, "rise_start_s": 4.1, "rise_end_s": 4.9,
       "rise_s": 0.8, "t_peak_s": 4.4, "peak_n": 1050.0, "peak_bw": 1.52, "is_fast_rise": True,
       "is_slow_lowering": False, "tempo": "fast up, fast down", "mean_power_w": 310.2, "mean_power_w_kg": 4.43,
       "power_method": "mean power = ..."}
JUMP = {"kind": "jump", "takeoff_s": 3.0, "landing_s": None, "flight_s": None, "height_flight_m": None,
        "height_impulse_m": 0.2, "t_peak_s": None, "peak_n": None, "peak_bw": None, "loading_rate_bw_s": None,
        "thump": None, "height_method": "ends in flight"}


# -- schema and migrations ------------------------------------------------------------------------------

def test_a_new_store_is_at_the_newest_schema_in_wal_with_full_sync_and_foreign_keys(store):
    assert store.schema_version() == len(MIGRATION_NAMES) == 8
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2          # FULL: survives power loss
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.integrity_check() == "ok"


def old_trace(chunks, *, seed, cells=4, sets=80):
    """What a plate recorded before fp2: a wandering count per cell, a few flagged words, and times stamped
    as the sampler noticed each set (12.5 ms apart, give or take a few microseconds)."""
    rng = np.random.default_rng(seed)
    n = chunks * sets
    t_ns = 5 * 10**12 + np.cumsum(12_500_000 + rng.integers(-4000, 4000, n))
    counts = rng.integers(-2**22, 2**22, cells) + np.cumsum(rng.integers(-400, 400, (n, cells)), axis=0)
    flags = np.where(rng.random((n, cells)) < 0.01, 8, 0)
    return Frames(t_ns.astype(np.int64), counts.astype(np.int32), flags.astype(np.uint8))


def chunked(frames, sets=80):
    return [Frames(*(a[i:i + sets] for a in frames)) for i in range(0, frames.n_sets, sets)]


def insert_chunks(db, session_id, rows):
    for seq, (part, codec, data) in enumerate(rows):
        db.execute("INSERT INTO raw_chunks (session_id, seq, first_t_ns, last_t_ns, n_sets, codec, data) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", [session_id, seq, int(part.t_ns[0]), int(part.t_ns[-1]),
                                                    part.n_sets, codec, data])


def fp1_rows(frames):
    return [(part, *encode_fp1_chunk(part.t_ns, part.raw_counts, part.flags)) for part in chunked(frames)]


def fp2_rows(frames):
    """A session's chunks as the store writes them in fp2."""
    rows, position = [], None
    for part in chunked(frames):
        chunks, position = rawcodec.encode_next(part, position, what="a test chunk")
        rows.extend(chunks)
    return rows


def fp2_rows_with_one_fp1_chunk(frames, fp1_at):
    """How fp2 stored a session when its coder failed on one chunk: that chunk in fp1, the next a key chunk."""
    rows, state = [], None
    for i, part in enumerate(chunked(frames)):
        if i == fp1_at:
            rows.append((part, *encode_fp1_chunk(part.t_ns, part.raw_counts, part.flags)))
            state = None
        else:
            codec, data, state = rawcodec.encode_chunk(part.t_ns, part.raw_counts, part.flags, state)
            rows.append((part, codec, data))
    return rows


def assert_same_sets(back, frames):
    np.testing.assert_array_equal(back.t_ns, frames.t_ns)
    np.testing.assert_array_equal(back.raw_counts, frames.raw_counts)
    np.testing.assert_array_equal(back.flags, frames.flags)
    assert back.raw_counts.dtype == np.int32 and back.t_ns.dtype == np.int64 and back.flags.dtype == np.uint8


def stored_chunks(store, session_id):
    return store.db.execute("SELECT seq, first_t_ns, last_t_ns, n_sets, codec, data FROM raw_chunks "
                            "WHERE session_id = ? ORDER BY seq", [session_id]).fetchall()


@pytest.mark.parametrize("version", range(len(MIGRATION_NAMES)))
def test_a_database_at_every_earlier_version_migrates_and_keeps_its_data(tmp_path, version):
    path = tmp_path / "forceplate.db"
    db = Database(path)
    stop = MIGRATION_NAMES[version]
    migrations.apply(db, stop_before=stop)             # the database as version `version` left it
    assert len(migrations.applied(db)) == version
    old = old_trace(130, seed=1)                       # more than two minutes: three key chunks once in fp2
    mixed = old_trace(20, seed=2)
    if version >= 1:
        db.execute("INSERT INTO people (name, created_at) VALUES ('Old Person', '2025-01-01T00:00:00+00:00')")
        db.execute("INSERT INTO people (name, created_at) VALUES ('Other Person', '2025-01-01T00:00:00+00:00')")
    if version >= 2:
        for session_id, person_id in ((1, 1), (2, 2)):
            db.execute("INSERT INTO sessions (id, person_id, started_at, status, source, rate_hz, adc, channels, "
                       "cells, clock_origin_ns, calibration, thump_bw, min_peak_bw) VALUES (?, ?, "
                       "'2025-01-02T00:00:00+00:00', 'complete', 'sim', 80, 'hx711', 4, "
                       "'[\"fz1_n\", \"fz2_n\", \"fz3_n\", \"fz4_n\"]', 0, '{}', 2.5, 1.3)",
                       [session_id, person_id])
        db.execute("INSERT INTO events (session_id, seq, kind, t_s, t_peak_s, peak_n, thump, peak_bw, extra, "
                   "recorded_at) VALUES (1, 0, 'impact', 1.0, 1.0, 2000.0, 1, 3.0, '{\"onset_s\": 0.95}', "
                   "'2025-01-02T00:00:01+00:00')")
        # session 2: a restricted person's jump (noted, no verdict) counted by the old code, and a heel drop
        db.execute("INSERT INTO events (session_id, seq, kind, t_s, t_peak_s, peak_n, thump, peak_bw, takeoff_s, "
                   "extra, recorded_at) VALUES (2, 0, 'jump', 1.0, 1.4, 2800.0, NULL, 4.0, 1.0, "
                   "'{\"note\": \"No jumps in clinician-approved mode\", \"thump_if_allowed\": true}', "
                   "'2025-01-02T00:00:01+00:00')")
        db.execute("INSERT INTO events (session_id, seq, kind, t_s, t_peak_s, peak_n, thump, peak_bw, extra, "
                   "recorded_at) VALUES (2, 1, 'impact', 3.0, 3.0, 1400.0, 0, 2.0, '{}', '2025-01-02T00:00:03+00:00')")
        if version < 6:
            insert_chunks(db, 1, fp1_rows(old))
            insert_chunks(db, 2, fp2_rows_with_one_fp1_chunk(mixed, fp1_at=7))
        else:                                          # from 0006 on, every chunk is fp2
            insert_chunks(db, 1, fp2_rows(old))
            insert_chunks(db, 2, fp2_rows(mixed))
    if version >= 4:                                   # from 0004 on, the writer keeps the counts on the row
        db.execute("UPDATE sessions SET event_count = 1, thump_count = 1, peak_bw_max = 3.0, peak_bw_sum = 3.0, "
                   "peak_bw_count = 1 WHERE id = 1")
        db.execute("UPDATE sessions SET event_count = 2, thump_count = 0, peak_bw_max = 4.0, peak_bw_sum = 6.0, "
                   "peak_bw_count = 2 WHERE id = 2")
    if version >= 5:                                   # from 0005 on, ending a session keeps its median and OI
        db.execute("UPDATE sessions SET peak_bw_median = 3.0, osteogenic_index = ? WHERE id = 1", [3.0 * math.log(2)])
        db.execute("UPDATE sessions SET peak_bw_median = 3.0, osteogenic_index = ? WHERE id = 2", [3.0 * math.log(3)])
    db.close()
    with Store(tmp_path) as s:
        assert s.schema_version() == len(MIGRATION_NAMES)
        indexes = {row[0] for row in s.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"sessions_person_started", "events_session_summary"} <= indexes
        if version >= 1:
            assert s.person_by_name("old person")["name"] == "Old Person"
        if version >= 2:
            only = s.session(1)
            assert (only["events"], only["thumps"]) == (1, 1)
            (row,) = s.person_history(1)                # 0005 kept the median and OI of the ended session
            assert row["peak_bw_median"] == 3.0
            assert row["osteogenic_index"] == pytest.approx(3.0 * math.log(2))
            # 0006: every chunk is fp2 now, in its old order and bounds, with fp2's key chunks
            for session_id, frames in ((1, old), (2, mixed)):
                rows = stored_chunks(s, session_id)
                assert [r[4] for r in rows] == ["fp2"] * len(chunked(frames))
                assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
                    (i, int(p.t_ns[0]), int(p.t_ns[-1]), 80) for i, p in enumerate(chunked(frames))]
                keys = [r[0] for r in rows if r[5][0] & 1]
                assert keys == list(range(0, len(rows), rawcodec.KEY_EVERY))
                assert_same_sets(s.raw_frames(session_id), frames)
            # 0007: every older session was a free one; the old event is whole, and stands
            assert [x["exercise"] for x in s.sessions()] == ["free", "free"]
            assert s.events(1) == [{"kind": "impact", "t_peak_s": 1.0, "peak_n": 2000.0, "peak_bw": 3.0,
                                    "loading_rate_bw_s": None, "thump": True, "onset_s": 0.95, "seq": 0,
                                    "counted": True, "not_counted_reason": None}]
            # 0008: the clinician-approved mode's jump stays, counting for nothing; the session counted again
            jump, drop = s.events(2)
            assert (jump["counted"], jump["not_counted_reason"]) == (False, "No jumps in clinician-approved mode")
            assert (drop["counted"], drop["not_counted_reason"]) == (True, None)
            (row,) = s.person_history(2)
            assert (row["events"], row["thumps"], row["peak_bw_max"], row["peak_bw_mean"]) == (1, 0, 2.0, 2.0)
            assert row["peak_bw_median"] == 2.0 and row["osteogenic_index"] == pytest.approx(2.0 * math.log(2))
            # ... and the rebuilt events table takes sit-to-stand reps and withdrawals, with its foreign key
            s.add_events(2, [STS])
            assert [e["kind"] for e in s.events(2)] == ["jump", "impact", "sit-to-stand"]
            with pytest.raises(sqlite3.IntegrityError):
                s.add_events(99, [IMPACT])
            assert s.withdraw_event(1, 1.02, "a jump's push-off")["seq"] == 0
            assert s.events(1) == [] and (s.session(1)["events"], s.session(1)["thumps"]) == (0, 0)
            assert s.db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert s.integrity_check() == "ok"
    with Store(tmp_path) as again:                      # re-running is a no-op
        assert again.schema_version() == len(MIGRATION_NAMES)


def _database_at_version_5(folder: Path, sessions) -> None:
    db = Database(folder / "forceplate.db")
    migrations.apply(db, stop_before="0006_raw_chunks_fp2")
    db.execute("INSERT INTO people (name, created_at) VALUES ('Old Person', '2025-01-01T00:00:00+00:00')")
    for session_id, (cells, rows) in sessions.items():
        db.execute("INSERT INTO sessions (id, person_id, started_at, status, source, rate_hz, adc, channels, "
                   "cells, clock_origin_ns, calibration, thump_bw, min_peak_bw) VALUES (?, 1, "
                   "'2025-01-02T00:00:00+00:00', 'complete', 'sim', 80, 'hx711', ?, ?, 0, '{}', 2.5, 1.3)",
                   [session_id, cells, json.dumps([f"fz{i + 1}_n" for i in range(cells)])])
        insert_chunks(db, session_id, rows)
    db.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n=st.integers(1, 200), cells=st.integers(1, 4))
def test_an_fp1_chunk_of_any_counts_flags_and_times_migrates_to_exactly_those_sets(data, n, cells):
    i32 = st.integers(-2**31, 2**31 - 1)
    counts = np.array(data.draw(st.lists(st.lists(i32, min_size=cells, max_size=cells), min_size=n, max_size=n)),
                      dtype=np.int32).reshape(n, cells)
    steps = data.draw(st.lists(st.integers(1, 2**40), min_size=n - 1, max_size=n - 1))
    first = data.draw(st.integers(-2**62, 2**62))
    t_ns = np.array([first] + list(first + np.cumsum(steps, dtype=np.int64)), dtype=np.int64)
    flags = np.array(data.draw(st.lists(st.integers(0, 255), min_size=n * cells, max_size=n * cells)),
                     dtype=np.uint8).reshape(n, cells)
    frames = Frames(t_ns, counts, flags)
    with tempfile.TemporaryDirectory() as folder:
        _database_at_version_5(Path(folder), {1: (cells, [(frames, *encode_fp1_chunk(t_ns, counts, flags))])})
        with Store(folder) as s:
            assert [r[4] for r in stored_chunks(s, 1)] == ["fp2"]
            assert_same_sets(s.raw_frames(1), frames)


def test_a_session_whose_fp1_chunks_cannot_be_read_is_left_as_it_was_and_the_rest_migrate(tmp_path, caplog):
    good, bad = old_trace(3, seed=3), old_trace(3, seed=4)
    damaged = fp1_rows(bad)
    part, codec, data = damaged[1]
    damaged[1] = (part, codec, data[:13] + b"\x00" * (len(data) - 13))      # the header whole, the body not
    _database_at_version_5(tmp_path, {1: (4, fp1_rows(good)), 2: (4, damaged)})
    with Store(tmp_path) as s:
        assert_same_sets(s.raw_frames(1), good)
        assert [(r[4], r[5]) for r in stored_chunks(s, 2)] == [(c, d) for _, c, d in damaged]    # untouched
        with pytest.raises(StoreError, match="session 2, raw chunk 0: unknown raw chunk format 'fp1"):
            s.raw_frames(2)
    assert "session 2: raw chunks left as they were" in caplog.text
    assert "raw chunk 1: corrupt raw chunk" in caplog.text


def test_columns_refuse_what_the_schema_forbids(store):
    session_id = start(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute("UPDATE sessions SET status = 'paused' WHERE id = ?", [session_id])
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute("INSERT INTO sessions (person_id, started_at, status) VALUES (1, 'x', 'recording')")
    with pytest.raises(sqlite3.IntegrityError):                     # no such person: foreign key
        store.start_session(99, source="sim", rate_hz=80.0, adc="hx711", cells=["fz_n"], offset_counts=[0],
                            scale_n_per_count=[1], clock_origin_ns=0)


def test_a_folder_that_cannot_hold_a_database_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises((StoreError, OSError)):
        Store(blocker / "sub")


# -- people ---------------------------------------------------------------------------------------------

def test_people_have_unique_names_whatever_the_case_and_every_change_is_audited(store):
    ann = store.add_person("Ann  Smith", changed_by="physio:kim", birth_year=1950, t_score=-2.7)
    assert store.person_id_for("ann smith", changed_by="x") == ann
    with pytest.raises(sqlite3.IntegrityError):
        store.add_person("ANN SMITH", changed_by="physio:kim")
    store.update_person(ann, changed_by="physio:kim", has_vertebral_fracture=1, approved_by="Dr Lee")
    store.update_person(ann, changed_by="physio:kim", approved_by="Dr Lee")       # no change: no entry
    store.add_body_mass(ann, 61.5, changed_by="physio:kim", measured_at="2026-01-10")
    store.add_body_mass(ann, 60.9, changed_by="physio:kim", measured_at="2026-03-10")
    store.add_fracture(ann, "2019-04", changed_by="physio:kim", site="wrist")
    log = store.audit_log(ann)
    assert [e["action"] for e in log] == ["create", "update", "body_mass", "body_mass", "fracture"]
    assert log[1]["changes"] == {"has_vertebral_fracture": [None, 1], "approved_by": [None, "Dr Lee"]}
    assert all(e["changed_by"] == "physio:kim" for e in log)
    assert [m["mass_kg"] for m in store.body_mass_history(ann)] == [61.5, 60.9]
    assert store.fractures(ann) == [{"occurred_on": "2019-04", "site": "wrist", "is_vertebral": 0}]
    with pytest.raises(ValueError):
        store.update_person(ann, changed_by="", t_score=-3.0)        # nobody: refused
    with pytest.raises(ValueError):
        store.add_person("   ", changed_by="x")


def test_settings_keep_json_values(store):
    store.set_setting("thump_bw", 2.5)
    store.set_setting("thump_bw", {"default": 3.0})
    assert store.setting("thump_bw") == {"default": 3.0}
    assert store.setting("missing", 7) == 7


# -- sessions and events --------------------------------------------------------------------------------

def test_events_come_back_as_they_were_reported_with_sequence_numbers(store):
    session_id = start(store)
    assert store.add_events(session_id, [IMPACT]) == [0]
    assert store.add_events(session_id, [JUMP, IMPACT]) == [1, 2]
    back = store.events(session_id)
    assert back[0] == IMPACT | {"seq": 0, "counted": True, "not_counted_reason": None}
    assert back[1] == JUMP | {"seq": 1, "counted": True, "not_counted_reason": None}
    assert store.session(session_id)["events"] == 3
    assert store.session(session_id)["thumps"] == 2


def test_ending_a_session_records_status_end_and_body_weight(store):
    session_id = start(store)
    assert store.session(session_id)["status"] == "recording"
    assert store.session(session_id)["ended_at"] is None
    store.end_session(session_id, status="complete", body_weight_n=700.0)
    row = store.session(session_id)
    assert (row["status"], row["body_weight_n"]) == ("complete", 700.0)
    assert row["ended_at"] >= row["started_at"]
    assert not (store.path.parent / f"session-{session_id}.lock").exists()
    with pytest.raises(UnknownSession):
        store.session(session_id + 1)


def test_a_session_whose_recorder_is_alive_stays_recording_and_one_whose_recorder_died_is_interrupted(tmp_path):
    recorder = Store(tmp_path)
    session_id = start(recorder)
    recorder.add_raw_chunk(session_id, _frames(n=80, start_ns=0))
    with Store(tmp_path) as other:                       # another thread's store: the lock is held
        assert other.session(session_id)["status"] == "recording"
    for fd in recorder._locks.values():                   # the recorder dies: the kernel drops its lock
        os.close(fd)
    recorder._locks.clear()
    recorder.db.close()
    with Store(tmp_path) as after:
        row = after.session(session_id)
        assert row["status"] == "interrupted"
        assert row["ended_at"] is not None and row["ended_at"] >= row["started_at"]
        assert after.raw_frames(session_id).n_sets == 80  # reviewable


def test_history_lists_one_persons_sessions_newest_first_with_their_event_summary(store):
    first = start(store, started_at="2026-01-01T10:00:00+00:00")
    second = start(store, started_at="2026-01-03T10:00:00+00:00")
    start(store, person="Bob")
    store.add_events(first, [IMPACT, IMPACT | {"peak_bw": 2.0, "thump": False}])
    history = store.person_history(store.person_by_name("Ann")["id"])
    assert [h["id"] for h in history] == [second, first]
    assert (history[1]["events"], history[1]["thumps"], history[1]["peak_bw_max"]) == (2, 1, 3.0)
    assert history[1]["peak_bw_mean"] == pytest.approx(2.5)
    assert (history[0]["events"], history[0]["thumps"]) == (0, 0)


# -- exercises, sit-to-stand reps and withdrawn events ----------------------------------------------------

def test_a_session_keeps_its_exercise_and_refuses_an_unknown_one(store):
    assert store.session(start(store))["exercise"] == "free"
    session_id = start(store, exercise="sit-to-stand")
    assert store.session(session_id)["exercise"] == "sit-to-stand"
    assert store.person_history(store.person_by_name("Ann")["id"])[0]["exercise"] == "sit-to-stand"
    with pytest.raises(ValueError, match="heel-drop"):
        start(store, exercise="heel drops")
    with pytest.raises(sqlite3.IntegrityError):             # the column's CHECK, whoever writes
        store.db.execute("UPDATE sessions SET exercise = 'skipping' WHERE id = ?", [session_id])


def test_sit_to_stand_reps_count_as_reps_never_as_thumps_peaks_or_dose(store):
    session_id = start(store, exercise="sit-to-stand")
    store.add_events(session_id, [STS, STS | {"t_peak_s": 9.4, "peak_bw": 3.9}, IMPACT])
    row = store.session(session_id)
    assert (row["events"], row["thumps"]) == (3, 1)
    assert (row["peak_bw_max"], row["peak_bw_count"], row["peak_bw_sum"]) == (3.0, 1, 3.0)
    back = store.events(session_id)
    assert back[0] == STS | {"seq": 0, "counted": True, "not_counted_reason": None}                       # every field as reported
    assert back[0].get("thump") is None
    store.end_session(session_id)
    (history,) = store.person_history(store.person_by_name("Ann")["id"])
    assert history["peak_bw_median"] == 3.0
    assert history["osteogenic_index"] == pytest.approx(3.0 * math.log(2))      # one impact: ln(1 + 1)
    (programme,) = store.programme_sessions(store.person_by_name("Ann")["id"], "2000-01-01")
    assert programme["peaks_bw"] == [3.0]


def test_withdrawing_an_impact_takes_it_out_of_the_events_counts_and_dose(store):
    session_id = start(store)
    soft = IMPACT | {"t_peak_s": 4.0, "peak_bw": 2.0, "thump": False}
    pushoff = IMPACT | {"t_peak_s": 6.0, "peak_bw": 3.6}
    store.add_events(session_id, [IMPACT, soft, pushoff])
    assert store.withdraw_event(session_id, 6.3, "a jump's push-off") is None      # 0.3 s away: no impact
    withdrawn = store.withdraw_event(session_id, 6.04, "a jump's push-off")
    assert withdrawn["seq"] == 2 and withdrawn["t_peak_s"] == 6.0
    assert withdrawn["withdrawn_reason"] == "a jump's push-off" and withdrawn["withdrawn_at"]
    assert [e["seq"] for e in store.events(session_id)] == [0, 1]
    assert [e["seq"] for e in store.withdrawn_events(session_id)] == [2]
    row = store.session(session_id)
    assert (row["events"], row["thumps"], row["peak_bw_max"], row["peak_bw_count"]) == (2, 1, 3.0, 2)
    assert row["peak_bw_sum"] == pytest.approx(5.0)
    assert store.withdraw_event(session_id, 6.0, "again") is None                # once only
    store.add_events(session_id, [IMPACT | {"t_peak_s": 8.0}])                   # numbering goes on after it
    assert [e["seq"] for e in store.events(session_id)] == [0, 1, 3]
    store.end_session(session_id)
    row = store.session(session_id)
    assert row["peak_bw_median"] == 3.0                     # of 3.0, 2.0, 3.0: the 3.6 is gone
    assert row["osteogenic_index"] == pytest.approx(3.0 * math.log(4))


def test_withdrawing_after_the_session_ended_updates_its_median_and_dose(store):
    session_id = start(store)
    store.add_events(session_id, [IMPACT, IMPACT | {"t_peak_s": 3.0, "peak_bw": 5.0}])
    store.end_session(session_id)
    assert store.session(session_id)["peak_bw_median"] == 4.0
    store.withdraw_event(session_id, 3.0, "a jump's push-off")
    row = store.session(session_id)
    assert (row["peak_bw_median"], row["events"]) == (3.0, 1)
    assert row["osteogenic_index"] == pytest.approx(3.0 * math.log(2))


def test_only_impacts_are_withdrawn_never_jumps_or_sit_to_stand_reps(store):
    session_id = start(store)
    store.add_events(session_id, [JUMP | {"t_peak_s": 3.2, "peak_bw": 3.0}, STS])
    assert store.withdraw_event(session_id, 3.2, "x") is None
    assert store.withdraw_event(session_id, STS["t_peak_s"], "x") is None
    with pytest.raises(ValueError):
        store.withdraw_event(session_id, 3.2, " ")
    assert store.session(session_id)["events"] == 2


# -- raw traces -----------------------------------------------------------------------------------------

def _frames(n, start_ns, channels=4, seed=0):
    rng = np.random.default_rng(seed)
    t_ns = start_ns + np.cumsum(rng.integers(12_000_000, 13_000_000, n))
    counts = rng.integers(-2**31, 2**31, (n, channels)).astype(np.int32)
    return Frames(t_ns.astype(np.int64), counts, rng.integers(0, 32, (n, channels)).astype(np.uint8))


def test_chunks_stored_in_a_session_come_back_in_order(store):
    session_id = start(store)
    parts = [_frames(80, start_ns=i * 10**9, seed=i) for i in range(3)]
    for part in parts:
        store.add_raw_chunk(session_id, part)
    back = store.raw_frames(session_id)
    np.testing.assert_array_equal(back.t_ns, np.concatenate([p.t_ns for p in parts]))
    np.testing.assert_array_equal(back.raw_counts, np.concatenate([p.raw_counts for p in parts]))
    assert store.raw_frames(start(store)).n_sets == 0


def test_a_simulated_80_sps_session_takes_under_a_third_of_its_16_raw_bytes_per_set(store):
    """4 int32 counts per set are 16 bytes raw (plus 8 of timestamp and 4 of flags). The simulator's sensor
    noise (1 N RMS per corner at 0.002-0.004 N/count, filtered by the HX711 model) leaves 60-100 counts of
    unpredictable noise per count, an entropy of 7.9-8.6 bits: about 4.2 bytes per set is the floor of any
    lossless code on this plate (bench/README.md); fp2 stores it in under 5."""
    clock = FakeClock()
    source = SimulatedSource("session", rate_hz=80.0, adc="hx711", seed=3, clock=clock)
    session_id = start(store)
    clock.advance(100.0)
    frames = source.read(100_000)
    for i in range(0, frames.n_sets, 80):
        store.add_raw_chunk(session_id, type(frames)(*(a[i:i + 80] for a in frames)))
    stored_bytes, sets = store.raw_bytes(session_id)
    assert sets == frames.n_sets == 8000
    assert stored_bytes / sets < 5.0
    np.testing.assert_array_equal(store.raw_frames(session_id).raw_counts, frames.raw_counts)


@pytest.mark.parametrize("name", ["Ann\x1b[2J", "Ann\x07", "Ann\tExample", "Ann\nExample", "Ann\x85", "\x9b31mAnn",
                                  "\u200b", "\u200b\u200d\ufeff", "Ann\u202eelpmaxE", "Ann\u2028B", "", "   ",
                                  "A" * 101, "\u200d", "Ann\u200d", "\u200cAnn", "Ann \u200d Bo"])
def test_a_name_with_control_or_invisible_characters_blank_or_too_long_is_refused(store, name):
    with pytest.raises(ValueError):
        store.add_person(name, changed_by="test")
    ann = store.add_person("Ann", changed_by="test")
    with pytest.raises(ValueError):
        store.update_person(ann, changed_by="test", name=name)
    assert [p["name"] for p in store.people()] == ["Ann"]


def test_a_name_keeps_letters_of_every_script_and_ordinary_spaces(store):
    # a zero-width (non-)joiner between two visible characters is part of the spelling: Persian "mi<ZWNJ>khaham"
    # style names, Devanagari conjuncts, emoji sequences
    for name in ["Zoë  O'Neill-Şahin", "李小龙", "Ωμέγα", "A" * 100, "José\u00a0María", "مهر\u200cنوش",
                 "क्\u200dष", "Ann \U0001F469\u200d\U0001F52C"]:
        person_id = store.add_person(name, changed_by="test")
        assert store.person(person_id)["name"] == " ".join(name.split())

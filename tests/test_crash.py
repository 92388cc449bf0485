"""A real `forceplate record` process killed mid-session: what it reported survives, the session is reviewable."""
import json
import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from forceplate.storage.store import Store

SPEC = "sim:heel-drops?speed=8&adc=ideal&rate_hz=1000"
WAIT_S = 60.0        # a safety net for a hung recorder, never a timing assumption


def start_recording(data_dir, person="Ann"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORCEPLATE_")}
    return subprocess.Popen([sys.executable, "-m", "forceplate", "record", "--person", person, "--source", SPEC,
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def read_events(proc, n):
    """The first ``n`` event lines the recorder prints (it prints each after committing it)."""
    events = []
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + WAIT_S
        while len(events) < n:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                proc.kill()
                pytest.fail(f"no event line within {WAIT_S} s")
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"the recorder ended early: {proc.stderr.read()}")
            events.append(json.loads(line))
    return events


def sessions(data_dir):
    run = subprocess.run([sys.executable, "-m", "forceplate", "sessions", "--json", "--data-dir", str(data_dir)],
                         capture_output=True, text=True, timeout=WAIT_S)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def finish(proc):
    out, err = proc.communicate(timeout=WAIT_S)
    proc.stdout.close()
    proc.stderr.close()
    return out, err


def test_kill_9_keeps_every_reported_event_and_the_next_start_marks_the_session_interrupted(tmp_path):
    proc = start_recording(tmp_path)
    printed = read_events(proc, 3)
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    assert proc.returncode == -signal.SIGKILL

    (session,) = sessions(tmp_path)                          # a new process: the next start
    assert session["status"] == "interrupted"
    assert session["ended"] is not None and session["ended"] >= session["started"]
    assert session["events"] >= len(printed)
    with Store(tmp_path) as store:
        stored = {e["seq"]: e for e in store.events(session["id"])}
        for event in printed:
            assert stored[event["seq"]]["t_peak_s"] == event["t_peak_s"]
            assert stored[event["seq"]]["peak_n"] == event["peak_n"]
        assert store.raw_frames(session["id"]).n_sets > 0     # the raw trace up to the last second is there
    with sqlite3.connect(tmp_path / "forceplate.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    export = subprocess.run([sys.executable, "-m", "forceplate", "export", str(session["id"]), "--out",
                             str(tmp_path / "out"), "--data-dir", str(tmp_path)], capture_output=True, text=True,
                            timeout=WAIT_S)
    assert export.returncode == 0, export.stderr
    assert (tmp_path / "out" / f"session-{session['id']}.csv").stat().st_size > 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_sigint_ends_the_session_cleanly_as_complete(tmp_path, signum):
    proc = start_recording(tmp_path)
    printed = read_events(proc, 1)
    proc.send_signal(signum)
    out, err = finish(proc)
    assert proc.returncode == 0, err
    rest = [json.loads(line) for line in out.splitlines()]
    assert rest[-1]["kind"] == "summary" and rest[-1]["status"] == "complete"
    assert rest[-1]["events"] == len(printed) + len(rest) - 1
    (session,) = sessions(tmp_path)
    assert session["status"] == "complete" and session["events"] == rest[-1]["events"]
    assert not list(tmp_path.glob("*.lock"))


def test_a_recorder_still_running_is_not_marked_interrupted_by_another_process(tmp_path):
    proc = start_recording(tmp_path)
    try:
        read_events(proc, 1)
        (session,) = sessions(tmp_path)
        assert session["status"] == "recording" and session["ended"] is None
    finally:
        proc.send_signal(signal.SIGTERM)
        finish(proc)
    assert sessions(tmp_path)[0]["status"] == "complete"

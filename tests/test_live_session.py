"""SetController: sets recorded from the live plate by a writer thread, while the sampler keeps sampling.

The mock plate's clock moves only when a test moves it; the tests wait on the controller's listeners and
its writer (wait_idle), never on a sleep. Every store is a real SQLite file under tmp_path.
"""
import datetime as dt
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from forceplate.device.sim.mock import FakeClock, MockSource
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.live.plate import Cursor, LivePlate
from forceplate.live.sets import JUMP_NOTE, SetController, SetError
from forceplate.programme.standing import default_plan
from forceplate.storage.store import Store
from helpers import Heard

RATE_HZ = 80.0
MASS_KG = 70.0
G = 9.80665
BW_N = MASS_KG * G
WAIT_S = 20.0           # a safety net for a broken writer, never a timing assumption
TODAY = dt.date(2026, 3, 2)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def person(db):
    with Store(db) as store:
        person_id = store.add_person("Ann Example", changed_by="test", birth_year=1950)
        store.add_body_mass(person_id, MASS_KG, changed_by="test")
        store.set_plan(person_id, changed_by="test", default=default_plan(), targets_bw={"beginner": 2.2})
    return person_id


@pytest.fixture
def source():
    with MockSource(channels=4, rate_hz=RATE_HZ, adc="ideal") as plate:   # peaks as pushed
        yield plate


@pytest.fixture
def controller(plate, db, person):
    c = SetController(plate, db, source_spec="mock", today=lambda: TODAY)
    yield c
    c.close()


def heel_drop(peak_bw, bw_n=BW_N, *, stand_s=2.0):
    """Standing, then a 90 ms half-sine impact up to ``peak_bw`` body weights of ``bw_n``, then standing (N)."""
    stand = np.full(int(stand_s * RATE_HZ), bw_n)
    n = 7                                                     # the middle sample is the peak
    pulse = bw_n + (peak_bw - 1.0) * bw_n * np.sin(np.pi * (np.arange(1, n + 1)) / (n + 1))
    return np.concatenate([stand, pulse, stand])


def play(source, plate, force_n, step_s=0.25):
    """Push forces and let their time pass in steps, waiting until the plate has sampled them all."""
    stamps = source.push_force(force_n)
    cursor = plate.cursor(back_s=0)
    target = plate.status()["stats"]["sets"] + len(stamps)
    n_steps = int(np.ceil(len(force_n) / RATE_HZ / step_s)) + 1
    for _ in range(n_steps):
        source.advance(step_s)
    for _ in range(200):
        update = plate.wait_for_update(cursor, timeout_s=WAIT_S)
        cursor = update.cursor
        if update.stats["sets"] >= target:
            return
    raise AssertionError("the plate did not sample what was pushed")


def test_a_set_stores_every_sample_and_rep_judged_by_the_persons_target(source, plate, controller, person, db):
    heard = Heard()
    controller.add_listener(heard)
    play(source, plate, np.full(40, BW_N))                   # before the set: not recorded
    session_id = controller.start(person)
    assert controller.state == "recording"
    info = controller.current()
    assert info["person"] == "Ann Example" and info["target_bw"] == 2.2 and info["body_mass_kg"] == MASS_KG
    trace = np.concatenate([heel_drop(2.4), heel_drop(1.9)])  # 2.4 BW: a thump for a 2.2 BW target only
    play(source, plate, trace)
    reps = heard.wait_for("rep", 2)
    assert [r["event"]["thump"] for r in reps] == [True, False]
    summary = controller.stop()
    assert controller.state == "ready" and controller.current() is None
    assert summary["status"] == "complete" and summary["reps"] == 2 and summary["thumps"] == 1
    with Store(db) as store:
        session = store.session(session_id)
        assert session["status"] == "complete"
        assert session["thump_bw"] == 2.2
        assert store.raw_bytes(session_id)[1] == len(trace)     # every set after the start, none before
        assert [e["peak_bw"] for e in store.events(session_id)] == pytest.approx([2.4, 1.9], abs=0.08)
        assert session["body_weight_n"] == pytest.approx(BW_N)
    assert heard.kinds("set_ended")[0]["reason"] == "stopped"


def test_a_batch_read_across_the_start_gives_the_set_only_the_sets_after_it(source, plate, controller, person, db):
    held, released = threading.Event(), threading.Event()

    def hold_first_batch(frames, events):                  # the sampler waits inside its first batch
        held.set()
        assert released.wait(WAIT_S)

    plate.add_listener(hold_first_batch)
    source.push_force(np.full(8, BW_N))
    source.advance(0.5)
    assert held.wait(WAIT_S)
    before = source.push_force(np.full(40, BW_N))
    source.advance(1.0)                                    # due before the set starts, not read yet
    session_id = controller.start(person)
    after = source.push_force(np.full(40, BW_N))
    source.advance(1.0)
    released.set()
    cursor = Cursor()
    while (update := plate.wait_for_update(cursor, timeout_s=WAIT_S)).stats["sets"] < 8 + 80:
        assert not update.is_empty, "the plate did not sample what was pushed"
        cursor = update.cursor
    assert any(before[0] in r.t_ns and after[-1] in r.t_ns for r in source.reads)   # one read across the start
    controller.wait_idle()
    controller.stop()
    with Store(db) as store:
        np.testing.assert_array_equal(store.raw_frames(session_id).t_ns, after)


def test_events_are_committed_while_the_set_records_and_the_sampler_never_waits(source, plate, controller,
                                                                               person, db):
    heard = Heard()
    controller.add_listener(heard)
    session_id = controller.start(person)
    play(source, plate, heel_drop(3.0))
    heard.wait_for("rep")
    with Store(db, mark_interrupted=False) as reader:       # another connection sees it before the set ends
        assert reader.session(session_id)["status"] == "recording"
        assert len(reader.events(session_id)) == 1
    # A slow writer (a held SQLite write lock) does not hold the sampler back: sampling goes on meanwhile.
    blocker = Store(db, mark_interrupted=False)
    blocker.db.execute("BEGIN IMMEDIATE")
    try:
        before = plate.status()["stats"]["sets"]
        play(source, plate, np.full(400, BW_N))            # 5 s of standing, sampled while the writer waits
        assert plate.status()["stats"]["sets"] == before + 400
    finally:
        blocker.db.execute("ROLLBACK")
        blocker.close()
    controller.wait_idle()
    controller.stop()
    with Store(db) as store:
        assert store.raw_bytes(session_id)[1] == len(heel_drop(3.0)) + 400    # nothing lost


def test_only_one_set_at_a_time(controller, person):
    controller.start(person)
    with pytest.raises(SetError, match="already recording"):
        controller.start(person)


def test_an_unknown_person_is_refused_without_a_fault(controller):
    with pytest.raises(SetError, match="not in the database"):
        controller.start(999)
    assert controller.state == "ready"


def test_stepping_off_ends_the_set_cleanly(source, plate, controller, person, db):
    heard = Heard()
    controller.add_listener(heard)
    session_id = controller.start(person)
    play(source, plate, np.concatenate([heel_drop(3.0), np.zeros(int(7 * RATE_HZ))]))   # off for 7 s
    (ended,) = heard.wait_for("set_ended")
    assert ended["reason"] == "the person stepped off" and ended["session"] == session_id
    assert controller.state == "ready"
    with Store(db) as store:
        assert store.session(session_id)["status"] == "complete"


def test_stepping_off_before_anyone_stood_on_does_not_end_the_set(source, plate, controller, person):
    controller.start(person)
    play(source, plate, np.zeros(int(8 * RATE_HZ)))           # the person has not stepped on yet
    controller.wait_idle()
    assert controller.state == "recording"


def test_closing_the_controller_ends_the_set_complete(source, plate, db, person):
    controller = SetController(plate, db, today=lambda: TODAY)
    session_id = controller.start(person)
    play(source, plate, heel_drop(3.0))
    controller.close()
    with Store(db) as store:
        session = store.session(session_id)
        assert session["status"] == "complete" and session["events"] == 1
    with pytest.raises(SetError, match="stopping"):
        controller.start(person)


def test_the_pain_answer_given_at_stop_is_kept_and_audited(controller, person, db):
    session_id = controller.start(person)
    controller.stop(pain=True, changed_by="clinic")
    with Store(db) as store:
        assert store.person_history(person)[0]["pain"] == 1
        assert store.audit_log(person)[-1]["action"] == "pain"
        assert store.audit_log(person)[-1]["changed_by"] == "clinic"
        assert store.audit_log(person)[-1]["changes"]["session"] == [None, session_id]


def test_toggle_starts_for_the_selected_person_and_stops(controller, person):
    with pytest.raises(SetError, match="choose a person"):
        controller.toggle()
    controller.select(person)
    session_id = controller.toggle()
    assert controller.current()["session"] == session_id
    assert controller.toggle()["session"] == session_id
    assert controller.state == "ready"


def test_a_restricted_persons_jump_is_flagged(db):
    with Store(db) as store:
        person_id = store.add_person("Bea Example", changed_by="test", has_balance_problems=1)
        store.set_plan(person_id, changed_by="test", default=default_plan(), level="advanced")
    source = SimulatedSource("jumps", clock=FakeClock(), seed=3, body_mass_kg=65.0)
    heard = Heard()
    with source, LivePlate(source) as plate:
        controller = SetController(plate, db, today=lambda: TODAY)
        controller.add_listener(heard)
        session_id = controller.start(person_id)
        info = controller.current()
        assert info["restricted"] and info["level"] == "beginner" and info["target_bw"] == 2.0
        assert info["restriction_reasons"] == ["balance problems"]
        (flag,) = heard.wait_for("jump_not_allowed")[:1]
        assert flag["message"] == JUMP_NOTE
        controller.close()
    with Store(db) as store:
        jumps = [e for e in store.events(session_id) if e["kind"] == "jump"]
        assert jumps and all(e["note"] == JUMP_NOTE for e in jumps)
        # landings of 3.5-5 BW against a 2.0 BW target: thumps if allowed, but a forbidden jump counts for nothing
        assert all(e["thump"] is None and e["thump_if_allowed"] is True for e in jumps)
        others = [e for e in store.events(session_id) if e["kind"] != "jump"]   # e.g. a landing cut by the start
        assert store.session(session_id)["thumps"] == sum(1 for e in others if e["thump"])
        assert store.person_history(person_id)[0]["restricted"] == 1


def test_a_crash_leaves_the_set_for_the_store_to_mark_interrupted(db, person, tmp_path):
    script = f"""
import os, sys
from forceplate.device.sim.mock import MockSource
from forceplate.live.plate import LivePlate
from forceplate.live.sets import SetController
source = MockSource(channels=4, rate_hz=80.0)
plate = LivePlate(source).start()
controller = SetController(plate, {str(db)!r})
print(controller.start({person}), flush=True)
os._exit(9)            # killed mid-set: no clean-up runs
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env=os.environ | {"PYTHONPATH": str(os.getcwd())})
    assert result.returncode == 9, result.stderr
    session_id = int(result.stdout.strip())
    with Store(db) as store:
        assert store.session(session_id)["status"] == "interrupted"


def test_a_database_fault_shows_as_the_fault_state(plate, tmp_path):
    not_a_folder = tmp_path / "file.db"
    not_a_folder.write_text("this is not a database")
    controller = SetController(plate, not_a_folder)
    controller.wait_idle()
    assert controller.state == "fault"
    with pytest.raises(SetError, match="cannot open the database"):
        controller.start(1)
    controller.close()


def test_a_full_disk_ends_the_set_interrupted_while_the_server_runs(source, plate, controller, person, db,
                                                                    monkeypatch):
    import sqlite3

    heard = Heard()
    controller.add_listener(heard)
    session_id = controller.start(person)
    play(source, plate, np.full(int(0.5 * RATE_HZ), BW_N))      # half a chunk: buffered, not stored yet

    def disk_full(self, session_id, frames):
        raise sqlite3.OperationalError("database or disk is full")
    monkeypatch.setattr(Store, "add_raw_chunk", disk_full)
    play(source, plate, np.full(int(2 * RATE_HZ), BW_N))        # the next chunk's commit fails
    (fault,) = heard.wait_for("fault")
    assert "database or disk is full" in fault["message"]
    assert controller.state == "fault" and controller.current() is None
    with Store(db, mark_interrupted=False) as store:             # as a page sees it, the controller still alive
        session = store.session(session_id)
        assert session["status"] == "interrupted" and session["ended_at"] is not None
        store.set_pain(session_id, False, changed_by="test")      # the pain answer is taken now


# -- exercises ------------------------------------------------------------------------------------------

def restricted_person(db, name="Bea Example"):
    with Store(db) as store:
        person_id = store.add_person(name, changed_by="test", has_vertebral_fracture=1)
        store.add_body_mass(person_id, MASS_KG, changed_by="test")
    return person_id


@pytest.mark.parametrize("exercise", ["jump", "drop-landing"])
def test_a_restricted_person_cannot_start_a_set_of_jumps_or_drop_landings(controller, db, exercise):
    person_id = restricted_person(db)
    with pytest.raises(SetError, match="not allowed for Bea Example today: waiting for clinician approval "
                                       r"\(a vertebral fracture\)"):
        controller.start(person_id, exercise)
    assert controller.state == "ready" and controller.current() is None
    with Store(db) as store:
        assert store.sessions() == []                           # no session was opened
    controller.start(person_id, "heel-drop")                    # heel drops are fine
    assert controller.current()["exercise"] == "heel-drop"


def test_an_approved_person_may_start_any_exercise_and_an_unknown_one_is_refused(controller, db, person):
    with pytest.raises(SetError, match="is not one of"):
        controller.start(person, "skipping")
    assert controller.state == "ready"
    session_id = controller.start(person, "drop-landing")          # a healthy beginner: allowed, if not prescribed
    with Store(db) as store:
        assert store.session(session_id)["exercise"] == "drop-landing"


def test_a_set_says_its_exercise_and_target_a_tempo_for_sit_to_stand_a_peak_otherwise(controller, db, person):
    controller.start(person, "heel-drop")
    info = controller.current()
    assert (info["exercise"], info["exercise_label"], info["target"]) == ("heel-drop", "Heel drops", "peak \u2265 2.2 BW")
    assert info["prescribed_exercises"] == ["heel-drop", "sit-to-stand"]
    controller.stop()
    session_id = controller.start(person, "sit-to-stand")
    info = controller.current()
    assert info["target"] == "rise \u2264 1 s, sit-down \u2265 2 s"
    assert controller.stop()["exercise"] == "sit-to-stand"
    with Store(db) as store:
        assert store.session(session_id)["exercise"] == "sit-to-stand"


def test_toggle_starts_the_exercise_chosen_last(controller, db, person):
    controller.select(person, exercise="sit-to-stand")
    session_id = controller.toggle()
    assert controller.current()["exercise"] == "sit-to-stand"
    controller.toggle()
    controller.start(person, "heel-drop")                       # started from the page: chosen too
    controller.stop()
    controller.select(person)                                   # the person again, the exercise unchanged
    controller.toggle()
    assert controller.current()["exercise"] == "heel-drop"
    with Store(db) as store:
        assert store.session(session_id)["exercise"] == "sit-to-stand"
    with pytest.raises(SetError):
        controller.select(person, exercise="heel drops")


def test_a_rep_the_analysis_withdraws_is_taken_off_the_set_and_announced(source, plate, controller, person, db,
                                                                        monkeypatch):
    """The analysis may take back an impact (a jump's push-off): here it is told to take back the first impact
    it sends, in the next batch, as the live analyser's withdrawal dict does."""
    from forceplate.signal.streaming import LiveAnalyzer
    feed, first = LiveAnalyzer.feed, []

    def feed_then_withdraw_the_first_impact(self, t_s, force_n):
        out = feed(self, t_s, force_n)
        if self.exercise != "heel-drop":                         # the plate's own analysis: left alone
            return out
        if len(first) == 1:
            out = [{"kind": "withdrawn", "t_peak_s": first[0]["t_peak_s"],
                    "reason": "that was a jump's push-off"}] + out
            first.append(None)
        first.extend(e for e in out if e["kind"] == "impact" and not first)
        return out

    monkeypatch.setattr(LiveAnalyzer, "feed", feed_then_withdraw_the_first_impact)
    heard = Heard()
    controller.add_listener(heard)
    session_id = controller.start(person, "heel-drop")
    play(source, plate, np.concatenate([heel_drop(2.6), heel_drop(2.4), heel_drop(1.9)]))
    heard.wait_for("rep", 3)
    play(source, plate, np.full(int(RATE_HZ), BW_N))              # the next batch brings the withdrawal
    (withdrawn,) = heard.wait_for("withdrawn")
    assert withdrawn["message"] == "Corrected: that was a jump's push-off"
    assert withdrawn["session"] == session_id and withdrawn["event"]["seq"] == 0
    assert controller.current()["reps"] == 2
    summary = controller.stop()
    assert (summary["reps"], summary["thumps"]) == (2, 1)           # 2.4 and 1.9 BW stand, 2.4 a thump
    assert [e["kind"] for e in controller.events(session_id)] == ["impact", "impact", "impact", "withdrawn"]
    with Store(db) as store:
        assert [e["peak_bw"] for e in store.events(session_id)] == pytest.approx([2.4, 1.9], abs=0.08)
        assert (store.session(session_id)["events"], store.session(session_id)["thumps"]) == (2, 1)

"""The recorder on a simulated plate with a fake clock: what it reports is already stored, raw sets exactly."""
import numpy as np
import pytest

from forceplate.device.sim.mock import FakeClock
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.live.pipeline import ForcePipeline, Recorder, cell_names
from forceplate.storage.store import Store


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path) as s:
        yield s


def record(store, source, clock, seconds, *, step_s=0.25, **kw):
    person_id = store.person_id_for("Ann", changed_by="test")
    recorder = Recorder(store, source, person_id, **kw)
    recorder.start()
    reported, read = [], []
    with Store(store.path) as reader:                          # another connection, as the web UI would be
        for _ in range(int(seconds / step_s)):
            clock.advance(step_s)
            frames = source.read(100_000)
            read.append(frames)
            new = recorder.ingest(frames).events
            stored = reader.events(recorder.session_id)
            for event in new:                                  # committed before it was returned
                assert event["seq"] in {e["seq"] for e in stored}
            reported += new
    last = recorder.finish()
    return recorder, reported + last, recorder.summary(), read


def test_every_reported_event_and_every_raw_set_is_in_the_store(store):
    clock = FakeClock()
    source = SimulatedSource("heel-drops", rate_hz=80.0, adc="hx711", seed=1, clock=clock)
    recorder, reported, summary, read = record(store, source, clock, 40.0)
    session = store.session(recorder.session_id)
    assert session["status"] == "complete" and session["ended_at"] is not None
    assert [e["seq"] for e in store.events(recorder.session_id)] == [e["seq"] for e in reported]
    assert len(reported) >= 5                                   # heel drops are impacts
    assert all(e["session"] == recorder.session_id for e in reported)
    raw = store.raw_frames(recorder.session_id)
    np.testing.assert_array_equal(raw.t_ns, np.concatenate([f.t_ns for f in read]))
    np.testing.assert_array_equal(raw.raw_counts, np.concatenate([f.raw_counts for f in read]))
    np.testing.assert_array_equal(raw.flags, np.concatenate([f.flags for f in read]))
    assert summary["events"] == len(reported) and summary["sets"] == raw.n_sets
    assert summary["thumps"] == sum(1 for e in reported if e["thump"])


def test_raw_chunks_hold_about_one_second_and_are_committed_within_a_second(store):
    clock = FakeClock()
    source = SimulatedSource("standing", rate_hz=80.0, adc="hx711", clock=clock)
    recorder, *_ = record(store, source, clock, 10.0, step_s=0.4)
    sizes = [row[0] for row in store.db.execute("SELECT n_sets FROM raw_chunks WHERE session_id = ? ORDER BY seq",
                                                [recorder.session_id])]
    assert all(size == 80 for size in sizes[:-1])               # 80 SPS: one second each
    assert sum(sizes) == 800


def test_the_session_keeps_what_an_export_needs_to_give_the_live_times(store):
    clock = FakeClock()
    source = SimulatedSource("jumps", rate_hz=1000.0, adc="ideal", speed=4.0, clock=clock)
    recorder, *_ = record(store, source, clock, 2.0)
    session = store.session(recorder.session_id)
    assert session["speed"] == 4.0
    assert session["cells"] == cell_names(source) == ["fz1_n", "fz2_n", "fz3_n", "fz4_n"]
    assert session["calibration"]["scale_n_per_count"] == list(source.scale_n_per_count)
    raw = store.raw_frames(recorder.session_id)
    t_s = (raw.t_ns - session["clock_origin_ns"]) * session["speed"] / 1e9
    np.testing.assert_allclose(t_s, source.scenario_time_s(raw.t_ns) - source.scenario_time_s(
        session["clock_origin_ns"]), atol=1e-9)
    np.testing.assert_allclose(np.diff(t_s), 1 / 1000.0, atol=1e-6)     # the source's own seconds


def test_seconds_limit_leaves_out_the_sets_after_it(store):
    clock = FakeClock()
    source = SimulatedSource("standing", rate_hz=80.0, adc="hx711", clock=clock)
    recorder, _, summary, _ = record(store, source, clock, 5.0, max_s=2.0)
    assert recorder.is_done
    assert store.raw_frames(recorder.session_id).n_sets == 160          # sets 1..160 at k / 80 s
    assert summary["duration_s"] == 2.0


def test_the_pipeline_puts_flagged_words_out_as_nan_on_the_sources_time_scale():
    clock = FakeClock()
    source = SimulatedSource("standing", rate_hz=80.0, speed=2.0, faults="not_ready@1s:ch1", clock=clock)
    pipeline = ForcePipeline(source)
    pipeline.start()
    clock.advance(1.0)
    processed = pipeline.process(source.read(1000))
    assert processed.t_s[-1] == pytest.approx(2.0)                     # 1 s of clock at speed 2
    assert np.isnan(processed.total_n).any()


@pytest.mark.parametrize("skip, first_s", [(True, 1.0), (False, 1 / 80)])
def test_a_recording_begun_on_a_sampling_plate_can_leave_out_the_sets_before_its_start(store, skip, first_s):
    clock = FakeClock()
    source = SimulatedSource("standing", rate_hz=80.0, adc="hx711", clock=clock)
    clock.advance(1.0)                                          # 80 sets wait in the source from before the start
    recorder = Recorder(store, source, store.person_id_for("Ann", changed_by="test"), skip_sets_before_start=skip)
    recorder.start()
    clock.advance(2.0)
    batch = recorder.ingest(source.read(100_000))              # one batch across the start
    recorder.finish()
    raw = store.raw_frames(recorder.session_id)
    t_s = source.scenario_time_s(raw.t_ns)                      # the sets' own times: set k at k / 80 s
    np.testing.assert_allclose(t_s, np.arange(round(first_s * 80), 241) / 80.0, atol=1e-9)
    assert batch.processed.t_s[0] == pytest.approx(first_s - 1.0)   # seconds since the start


def test_a_jump_note_is_stored_with_every_jump_and_no_other_event(store):
    clock = FakeClock()
    source = SimulatedSource("session", rate_hz=200.0, adc="ideal", seed=2, clock=clock)
    recorder, reported, *_ = record(store, source, clock, 60.0, jump_note="no jumps today")
    stored = store.events(recorder.session_id)
    kinds = {e["kind"] for e in stored}
    assert kinds == {"impact", "jump", "sit-to-stand"}          # the session: heel drops, jumps, sit-to-stand
    assert all((e.get("note") == "no jumps today") == (e["kind"] == "jump") for e in stored)
    assert [e.get("note") for e in reported] == [e.get("note") for e in stored]


def test_interrupting_commits_the_buffered_sets_and_marks_the_session_interrupted(store):
    clock = FakeClock()
    source = SimulatedSource("standing", rate_hz=80.0, adc="hx711", clock=clock)
    recorder = Recorder(store, source, store.person_id_for("Ann", changed_by="test"))
    recorder.start()
    clock.advance(0.5)                                          # less than a raw chunk: still buffered
    recorder.ingest(source.read(100_000))
    recorder.interrupt()
    assert store.session(recorder.session_id)["status"] == recorder.summary()["status"] == "interrupted"
    assert store.raw_frames(recorder.session_id).n_sets == 40


def test_the_session_keeps_the_exercise_the_recorder_was_given(store):
    clock = FakeClock()
    source = SimulatedSource("standing", rate_hz=80.0, adc="hx711", clock=clock)
    recorder, *_ = record(store, source, clock, 2.0, exercise="sit-to-stand")
    assert recorder.pipeline.exercise == "sit-to-stand"
    assert store.session(recorder.session_id)["exercise"] == "sit-to-stand"


def test_a_withdrawal_from_the_analysis_takes_the_impact_out_of_the_store_and_the_counts_and_is_reported(store):
    """The live analysis may take back an impact it sent (a take-off followed: a jump's push-off). Here it is
    told to take back the first impact it sends, one batch later, as its withdrawal dict says."""
    clock = FakeClock()
    source = SimulatedSource("heel-drops", rate_hz=80.0, adc="hx711", seed=1, clock=clock)
    person_id = store.person_id_for("Ann", changed_by="test")
    recorder = Recorder(store, source, person_id, exercise="heel-drop")
    analyzer = recorder.pipeline.analyzer
    feed, first = analyzer.feed, []

    def feed_then_withdraw_the_first_impact(t_s, force_n):
        out = feed(t_s, force_n)
        if len(first) == 1:
            out = [{"kind": "withdrawn", "t_peak_s": first[0]["t_peak_s"] + 0.01,
                    "reason": "a take-off followed: a jump's push-off"}] + out
            first.append(None)
        first.extend(e for e in out if e["kind"] == "impact" and not first)
        return out

    analyzer.feed = feed_then_withdraw_the_first_impact
    recorder.start()
    reported = []
    for _ in range(120):
        clock.advance(0.25)
        reported += recorder.ingest(source.read(100_000)).events
    reported += recorder.finish()
    (withdrawal,) = [e for e in reported if e["kind"] == "withdrawn"]
    impacts = [e for e in reported if e["kind"] == "impact"]
    assert withdrawal["seq"] == impacts[0]["seq"] and withdrawal["session"] == recorder.session_id
    assert withdrawal["reason"] == "a take-off followed: a jump's push-off"
    stored = store.events(recorder.session_id)
    assert [e["seq"] for e in stored] == [e["seq"] for e in impacts[1:]]
    assert [e["seq"] for e in store.withdrawn_events(recorder.session_id)] == [impacts[0]["seq"]]
    summary = recorder.summary()
    assert summary["events"] == store.session(recorder.session_id)["events"] == len(impacts) - 1
    assert summary["thumps"] == store.session(recorder.session_id)["thumps"] == sum(
        1 for e in impacts[1:] if e["thump"])


def test_an_impact_limit_counts_that_many_impacts_and_keeps_the_rest_uncounted(store):
    from forceplate.live.pipeline import OVER_LIMIT_REASON
    clock = FakeClock()
    source = SimulatedSource("heel-drops", rate_hz=80.0, adc="hx711", seed=1, clock=clock)
    # one batch of 40 s: its heel drops all reach the recorder at once, the limit falls inside the batch
    recorder, reported, summary, _ = record(store, source, clock, 40.0, step_s=40.0, impact_limit=2)
    impacts = [e for e in reported if e["kind"] == "impact"]
    assert len(impacts) >= 4
    assert [e["counted"] for e in impacts[:2]] == [True, True]
    assert all(e["counted"] is False and e["not_counted_reason"] == OVER_LIMIT_REASON and e["thump"] is None
               for e in impacts[2:])
    assert recorder.limit_reached and recorder.impacts == 2
    assert summary["events"] == 2 and summary["not_counted"] == len(reported) - 2
    assert store.session(recorder.session_id)["events"] == 2

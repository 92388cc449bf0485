"""LivePlate on the mock plate: forces in, total force and events out to every client, faults counted.

The mock's clock moves only when a test advances it; the tests wait on the plate's own condition
(wait_for_update), never on a sleep.
"""
import threading

import numpy as np
import pytest

from forceplate.device import flags as fl
from forceplate.device import sampling
from forceplate.device.sim.mock import MockSource
from forceplate.exc import SensorTimeout
from forceplate.live.plate import Cursor, LivePlate

WAIT_S = 5.0     # a safety net for a broken sampler, never a timing assumption


def collect(plate, cursor, n_samples, *, until_events=0):
    """Updates from ``cursor`` until ``n_samples`` samples and ``until_events`` events came (or WAIT_S)."""
    t, f, events = [], [], []
    for _ in range(200):
        update = plate.wait_for_update(cursor, timeout_s=WAIT_S)
        cursor = update.cursor
        t.append(update.t_s)
        f.append(update.force_n)
        events += update.events
        if sum(map(len, t)) >= n_samples and len(events) >= until_events:
            break
        if update.is_empty:
            break
    return np.concatenate(t), np.concatenate(f), events, cursor


def wait_for_sets(plate, n_sets):
    cursor = Cursor()
    for _ in range(100):
        update = plate.wait_for_update(cursor, timeout_s=WAIT_S)
        if update.stats["sets"] >= n_sets or update.is_empty:
            return
        cursor = update.cursor


@pytest.fixture
def source():
    with MockSource(channels=4, rate_hz=80.0) as plate:
        yield plate


def test_pushed_cell_forces_come_out_as_their_sum_at_the_sources_times(source, plate):
    cells_n = np.tile([100.0, 200.0, 300.0, 400.0], (8, 1))       # 1000 N in all
    source.push_force(cells_n)
    source.advance(8 / 80.0)                                        # all 8 sets are due
    t_s, force_n, _, _ = collect(plate, Cursor(), 8)
    # One count is about 0.005 N per cell: four rounded cells are within 0.02 N of the sum.
    np.testing.assert_allclose(force_n, 1000.0, atol=0.02)
    np.testing.assert_allclose(t_s, np.arange(1, 9) / 80.0, atol=1e-9)   # s since start, from t_ns


def test_a_flagged_word_makes_its_sample_nan_and_is_counted_on_its_channel(source, plate):
    counts = np.tile(source.offset_counts + 20_000, (5, 1))
    word_flags = np.zeros((5, 4), np.uint8)
    word_flags[3, 2] = fl.NOT_READY                                 # set 3: cell 2 never became ready
    source.push(counts, flags=word_flags)
    source.advance(5 / 80.0)
    _, force_n, _, cursor = collect(plate, Cursor(), 5)
    assert np.isnan(force_n[3])
    assert np.isfinite(np.delete(force_n, 3)).all()
    stats = plate.wait_for_update(cursor, timeout_s=0).stats
    assert stats["flagged"] == [0, 0, 1, 0]
    assert stats["flag_names"][2] == "not ready"
    assert stats["sets"] == 5


def heel_drop_session(rate_hz, body_weight_n, peak_bw):
    """Empty plate 1 s, step on over 0.5 s, 3 s quiet standing, one 0.1 s half-sine heel drop, 2 s standing."""
    def seconds(s):
        return int(round(s * rate_hz))
    step_on = np.linspace(0.0, body_weight_n, seconds(0.5))
    drop = body_weight_n + (peak_bw - 1.0) * body_weight_n * np.sin(np.linspace(0.0, np.pi, seconds(0.1) + 1))
    return np.concatenate([np.zeros(seconds(1.0)), step_on, np.full(seconds(3.0), body_weight_n), drop,
                           np.full(seconds(2.0), body_weight_n)])


def test_events_from_the_analyzer_reach_every_client():
    rate_hz, body_weight_n = 500.0, 700.0
    with MockSource(channels=4, rate_hz=rate_hz, adc="ideal") as source, LivePlate(source) as plate:
        early, late = Cursor(), None
        trace_n = heel_drop_session(rate_hz, body_weight_n, peak_bw=3.0)
        source.push_force(trace_n)
        source.advance(len(trace_n) / rate_hz)
        _, force_n, events, _ = collect(plate, early, len(trace_n), until_events=1)
        late = plate.cursor(back_s=1.0)                              # a page opened after the rep
        late_events = plate.wait_for_update(late, timeout_s=0).events

    assert force_n.max() == pytest.approx(3.0 * body_weight_n, rel=0.01)
    assert plate.body_weight_n == pytest.approx(body_weight_n, rel=0.01)
    (impact,) = [e for e in events if e["kind"] == "impact"]
    assert impact["peak_bw"] == pytest.approx(3.0, rel=0.05)
    assert impact["thump"]
    assert impact["seq"] == 0
    assert [e["seq"] for e in late_events] == [e["seq"] for e in events]


def test_stop_joins_the_sampler_and_wakes_a_waiting_client(source):
    plate = LivePlate(source).start()
    returned = threading.Event()

    def client():
        plate.wait_for_update(plate.cursor(), timeout_s=60.0)       # nothing will come: only stop() wakes it
        returned.set()

    waiter = threading.Thread(target=client, daemon=True)
    waiter.start()
    plate.stop(timeout_s=1.0)
    assert not plate.is_running
    waiter.join(WAIT_S)
    assert returned.is_set()
    assert plate.status()["status"] == "Sampling stopped"


def test_a_sampler_error_is_recorded_and_shown(source, monkeypatch):
    def broken_read(max_sets=4096, timeout_s=0.0):
        raise SensorTimeout("load cell 3 never signalled data-ready")

    monkeypatch.setattr(source, "read", broken_read)
    plate = LivePlate(source).start()
    try:
        update = plate.wait_for_update(plate.cursor(), timeout_s=WAIT_S)
        assert not update.is_running
        assert "SensorTimeout: load cell 3 never signalled data-ready" in update.status
        status = plate.status()
        assert status["error"] == "SensorTimeout: load cell 3 never signalled data-ready"
        assert status["running"] is False
    finally:
        plate.stop()


class FinishedSource(MockSource):
    """A plate that has delivered its last set, as a replay does at its end."""
    is_finished = True


def test_the_status_says_when_the_source_has_finished():
    with FinishedSource() as source, LivePlate(source) as plate:
        update = plate.wait_for_update(plate.cursor(), timeout_s=WAIT_S)
        assert not update.is_running
        assert "finished" in update.status
        assert plate.status()["finished"] is True


def test_the_history_keeps_the_newest_samples_and_a_slow_client_hears_what_it_lost(source):
    plate = LivePlate(source, history_s=1.0).start()               # the smallest ring: 1024 samples
    try:
        capacity = plate.capacity
        n = capacity + 500
        source.push_force(np.arange(n, dtype=np.float64))           # force = sample number, in N
        source.advance(n / 80.0)
        wait_for_sets(plate, n)
        update = plate.update(Cursor())                             # a client that never read anything
    finally:
        plate.stop()
    assert update.lost_samples == 500
    np.testing.assert_allclose(update.force_n, np.arange(500, n), atol=0.02)
    assert np.all(np.diff(update.t_s) > 0)


def test_a_new_client_starts_back_s_seconds_ago(source, plate):
    source.push_force(np.full(800, 500.0))                          # 10 s at 80 SPS
    source.advance(10.0)
    wait_for_sets(plate, 800)
    t_s = plate.update(plate.cursor(back_s=2.0)).t_s
    assert t_s[-1] == pytest.approx(10.0)
    assert t_s[0] == pytest.approx(10.0 - 2.0 + 1 / 80.0)           # samples later than 2 s ago


def test_status_names_the_source_and_the_kernel(source, plate):
    status = plate.status()
    assert status["source"] == source.describe()
    assert status["kernel"] == sampling.KERNEL
    assert status["is_simulated"] is True
    assert status["warning"] is None
    assert status["body_weight_n"] is None


def test_the_end_of_a_recording_settles_its_last_rep():
    rate_hz, body_weight_n = 500.0, 700.0
    trace_n = heel_drop_session(rate_hz, body_weight_n, peak_bw=3.0)[:-int(1.7 * rate_hz)]   # ends 0.3 s after
    with FinishedSource(channels=4, rate_hz=rate_hz, adc="ideal") as source:
        source.push_force(trace_n)
        source.advance(len(trace_n) / rate_hz)
        with LivePlate(source) as plate:
            assert plate.join(WAIT_S)                                # a finished source ends the sampler
            events = plate.events()
    assert plate.is_finished
    assert [e["kind"] for e in events] == ["impact"]
    assert events[0]["peak_bw"] == pytest.approx(3.0, rel=0.05)


def test_high_rates_are_processed_in_batches_not_set_by_set():
    # 1000 SPS handled one set per pass cost a third of a core; the plate gathers ~20 ms per batch.
    import time as _time

    from forceplate.device.sim.mock import FakeClock
    from forceplate.device.sim.simulator import SimulatedSource
    from forceplate.live.plate import BATCH_S, LivePlate
    sizes = []
    source = SimulatedSource("standing", rate_hz=1000.0, adc="ideal", clock=FakeClock())
    plate = LivePlate(source)
    plate.add_listener(lambda frames, events: frames is not None and sizes.append(frames.n_sets))
    with source, plate:                  # the context starts and stops the plate
        deadline = _time.monotonic() + 20.0
        while sum(sizes) < 3000 and _time.monotonic() < deadline:
            _time.sleep(0.01)
    assert sum(sizes) >= 3000
    assert np.median(sizes) >= 0.8 * BATCH_S * 1000.0


def test_the_empty_plate_is_auto_zeroed_and_large_drift_is_shown(source, plate):
    drift = np.array([6.0, 6.0, 6.0, 6.0])                         # 24 N in all, beyond the 20 N warning
    rng = np.random.default_rng(2)
    source.push_force(drift + 0.2 * rng.standard_normal((240, 4)))  # 3 s of an empty, still plate
    source.advance(3.1)
    wait_for_sets(plate, 240)
    status = plate.status()
    assert status["drift_n"] == pytest.approx(24.0, abs=0.5)
    assert "drifted by +24 N" in status["warning"]
    source.push_force(drift + 0.2 * rng.standard_normal((80, 4)))
    source.advance(1.0)
    wait_for_sets(plate, 320)
    _, force_n = plate.history(seconds=0.5)
    assert abs(np.mean(force_n)) < 1.0                              # the drift is taken out of the force


def test_a_person_standing_still_is_never_zeroed_away(source, plate):
    source.push_force(np.full((400, 4), 175.0) + 0.2 * np.random.default_rng(3).standard_normal((400, 4)))
    source.advance(5.1)
    wait_for_sets(plate, 400)
    _, force_n = plate.history(seconds=1.0)
    assert np.mean(force_n) == pytest.approx(700.0, abs=1.0)
    assert plate.status()["drift_n"] == 0.0


# -- listeners --------------------------------------------------------------------------------------------

class SetsHeard:
    """A plate listener that counts the sets it was handed (the sampler thread calls it)."""

    def __init__(self):
        self.sets = 0

    def __call__(self, frames, events):
        if frames is not None:
            self.sets += frames.n_sets


class Gate:
    """A plate listener that holds the sampler inside its first batch until the test lets it go."""

    def __init__(self):
        self.entered, self.released = threading.Event(), threading.Event()

    def __call__(self, frames, events):
        self.entered.set()
        assert self.released.wait(WAIT_S)


def push_sets(source, plate, n_sets):
    """Push ``n_sets`` sets of an empty plate and wait until the plate (and so every listener) had them."""
    total = plate.status()["stats"]["sets"] + n_sets
    source.push(np.tile(source.offset_counts, (n_sets, 1)))
    source.advance(n_sets / source.rate_hz)
    wait_for_sets(plate, total)
    assert plate.status()["stats"]["sets"] == total


def from_another_thread(call, *args):
    """Run ``call(*args)`` in a thread; it must return while the sampler is busy handing a batch on."""
    worker = threading.Thread(target=call, args=args)
    worker.start()
    worker.join(WAIT_S)
    assert not worker.is_alive(), f"{call.__name__} waited for the sampler's listeners"


def test_a_tare_and_a_set_coming_and_going_mid_batch_keep_each_others_listeners(source, plate):
    set_heard, tare_heard, gate = SetsHeard(), SetsHeard(), Gate()
    plate.add_listener(gate)
    source.push(np.tile(source.offset_counts, (8, 1)))
    source.advance(8 / 80.0)
    assert gate.entered.wait(WAIT_S)               # the sampler is handing its first batch on
    from_another_thread(plate.add_listener, tare_heard)      # a tare starts collecting,
    from_another_thread(plate.add_listener, set_heard)       # a set starts meanwhile,
    from_another_thread(plate.remove_listener, tare_heard)   # and the tare ends first
    gate.released.set()
    wait_for_sets(plate, 8)
    assert (set_heard.sets, tare_heard.sets) == (0, 0)     # added during a batch: heard from the next one

    push_sets(source, plate, 16)
    assert (set_heard.sets, tare_heard.sets) == (16, 0)    # the set kept its listener when the tare ended
    plate.add_listener(tare_heard)                         # a second tare,
    push_sets(source, plate, 8)
    plate.remove_listener(set_heard)                       # the set closes while the tare listens,
    push_sets(source, plate, 8)
    plate.remove_listener(tare_heard)                      # then the tare ends
    push_sets(source, plate, 8)
    assert (set_heard.sets, tare_heard.sets) == (16 + 8, 8 + 8)   # neither came back nor went early
    assert plate.is_running


def test_listeners_added_and_removed_from_many_threads_never_cost_a_steady_listener_a_set(source, plate):
    steady, passing = SetsHeard(), [SetsHeard() for _ in range(4)]
    for listener in passing + [steady]:                    # some ahead of the steady one, some behind later
        plate.add_listener(listener)
    start = threading.Barrier(len(passing) + 1)

    def come_and_go(listener):
        start.wait(WAIT_S)
        for _ in range(500):
            plate.remove_listener(listener)
            plate.add_listener(listener)
        plate.remove_listener(listener)

    workers = [threading.Thread(target=come_and_go, args=(p,)) for p in passing]
    for worker in workers:
        worker.start()
    start.wait(WAIT_S)
    for _ in range(40):                                    # batches flow while the others come and go
        source.push(np.tile(source.offset_counts, (4, 1)))
        source.advance(4 / 80.0)
    for worker in workers:
        worker.join(WAIT_S)
    wait_for_sets(plate, 160)
    heard_while_passing = [p.sets for p in passing]
    push_sets(source, plate, 40)
    assert steady.sets == 200
    assert [p.sets for p in passing] == heard_while_passing     # all gone: none is called any more


def test_a_failing_listener_is_logged_once_and_the_sampler_and_other_listeners_go_on(source, plate, caplog):
    def broken(frames, events):
        raise ValueError("a listener's bug")

    heard = SetsHeard()
    plate.add_listener(broken)
    plate.add_listener(heard)
    push_sets(source, plate, 8)
    push_sets(source, plate, 8)                            # two batches at least: both failed
    assert plate.is_running and plate.error is None
    assert heard.sets == 16
    failures = [r for r in caplog.records if "plate listener failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info[0] is ValueError


def test_removing_a_listener_that_is_not_listening_changes_nothing(source, plate):
    heard = SetsHeard()
    plate.add_listener(heard)
    plate.remove_listener(SetsHeard())
    push_sets(source, plate, 8)
    assert heard.sets == 8


def test_time_zero_is_the_start_on_the_sources_clock(source):
    plate = LivePlate(source)
    assert plate.t0_ns is None
    source.advance(2.5)
    with plate:
        assert plate.t0_ns == source.ticks_ns()          # the mock's clock only moves when told

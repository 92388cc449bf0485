"""LiveAnalyzer: the same events as the offline analysis, each once, from chunks of any size."""
import numpy as np
import pytest

from forceplate.signal import analyze_force
from forceplate.signal.hx711_model import filter_samples
from forceplate.signal.streaming import LiveAnalyzer
from forceplate.storage.traces import read_trace
from helpers import recordings
from signals import half_sine_impact, jump, standing


def stream(t, f, rate_hz, *, seed=0, max_chunk=300, adc="ideal", **options):
    live = LiveAnalyzer(rate_hz, adc=adc, **options)
    rng = np.random.default_rng(seed)
    events, i = [], 0
    while i < len(f):
        k = int(rng.integers(1, max_chunk))
        events += live.feed(t[i:i + k], f[i:i + k])
        i += k
    return live, events + live.flush()


def assert_same_events(live_events, offline_events, rate_hz, *, fitted=False):
    """Same kinds, times within a sample, same peaks. `fitted` (HX711 words): times and peaks come from a fit
    over a window whose edges follow the flight threshold, max(20 N, 3 % BW), and live weighs from the
    quietest second so far: a threshold a newton off moves the window by a word, so allow 5 ms and 1 %."""
    assert [e["kind"] for e in live_events] == [e["kind"] for e in offline_events]
    for a, b in zip(live_events, offline_events):
        for key in ("takeoff_s", "landing_s", "t_peak_s"):
            if b.get(key) is None:
                assert a.get(key) is None
            else:
                assert a[key] == pytest.approx(b[key], abs=max(1.0 / rate_hz, 0.005 if fitted else 0.0))
        if fitted and b["peak_n"] is not None:
            assert a["peak_n"] == pytest.approx(b["peak_n"], rel=0.01)
        else:
            assert a["peak_n"] == b["peak_n"]
        if b["peak_bw"] is not None:    # live weighs from the quietest second so far, offline from all
            assert a["peak_bw"] == pytest.approx(b["peak_bw"], rel=0.01)


@pytest.mark.parametrize("adc", ["ideal", "hx711"])
def test_every_recording_streams_to_the_offline_events(adc):
    for k, csv in enumerate(recordings()):
        trace = read_trace(csv)
        t, force, rate_hz = trace.t_s, trace.total_force_n, trace.rate_hz
        if adc == "hx711":           # what the live plate sees: the recording as HX711 words at ~86 SPS
            rate_hz = 86.0
            t_words = np.arange(0.004 * k, trace.t_s[-1], 1 / rate_hz)
            t, force = t_words, filter_samples(force, t_words, rate_hz, input_rate_hz=trace.rate_hz)
        offline = analyze_force(t, force, rate_hz, adc=adc).event_dicts()
        for seed in (k, k + 100):
            live, events = stream(t, force, rate_hz, seed=seed, adc=adc, max_chunk=300 if adc == "ideal" else 30)
            assert_same_events(events, offline, rate_hz, fitted=adc == "hx711")


def test_events_come_once_in_time_order_before_the_stream_ends():
    parts = [standing(650.0, total_s=2.0)[1], jump(650.0, stand_s=1.5)[1], half_sine_impact(650.0, 3.0)[1],
             standing(650.0, total_s=3.0)[1]]
    f = np.concatenate(parts)
    t = np.arange(f.shape[0]) / 1000.0
    live = LiveAnalyzer(1000.0, adc="ideal")
    during = []
    for i in range(0, len(f), 50):
        during += live.feed(t[i:i + 50], f[i:i + 50])
    assert [e["kind"] for e in during] == ["jump", "impact"]      # final before the end: nothing left over
    assert live.flush() == []
    times = [e.get("takeoff_s") or e["t_peak_s"] for e in during]
    assert times == sorted(times)


def test_status_follows_the_person():
    live = LiveAnalyzer(100.0, adc="ideal")
    assert live.body_weight_n is None
    live.feed(np.arange(200) / 100, np.zeros(200))
    assert live.status == "Plate empty: step on"
    live.feed(2 + np.arange(50) / 100, np.full(50, 700.0))
    assert live.status == "Stand still to be weighed"
    live.feed(2.5 + np.arange(200) / 100, np.full(200, 700.0))
    assert live.status == "Ready" and live.body_weight_n == pytest.approx(700.0)
    live.feed(4.5 + np.arange(150) / 100, np.zeros(150))
    assert live.status == "Person stepped off"
    live.feed(6.0 + np.arange(300) / 100, np.zeros(300))
    assert live.status == "Plate empty: step on" and live.body_weight_n is None


def test_given_body_mass_is_the_weight():
    live = LiveAnalyzer(80.0, body_mass_kg=70.0)
    assert live.body_weight_n == pytest.approx(70.0 * 9.80665)


def test_nan_samples_do_not_crash_it():
    t, f, truth = half_sine_impact(700.0, 3.0, total_s=6.0, rate_hz=80.0, duration_s=0.1)
    f = f.copy()
    f[10:20] = np.nan
    f[300] = np.nan
    live, events = stream(t, f, 80.0, adc="hx711")
    assert [e["kind"] for e in events] == ["impact"]
    live.feed(t[-1] + 1 + np.arange(40) / 80, np.full(40, np.nan))
    assert live.status == "No readings from the plate"


def test_samples_out_of_order_are_dropped():
    live = LiveAnalyzer(100.0, adc="ideal")
    live.feed(np.arange(100) / 100, np.full(100, 700.0))
    assert live.feed(np.array([0.5, 0.2]), np.array([5000.0, 5000.0])) == []


def test_analysis_is_throttled():
    calls = []
    live = LiveAnalyzer(1000.0, adc="ideal", analyses_per_s=10.0)
    original = live._analyse
    live._analyse = lambda **kw: calls.append(1) or original(**kw)
    t, f, _ = standing(700.0, total_s=2.0)
    for i in range(len(f)):                                     # one sample at a time
        live.feed(t[i:i + 1], f[i:i + 1])
    assert 18 <= len(calls) <= 21                               # 10 per second of stream, not 1000


def test_live_weighs_the_standing_person_not_the_seat():
    # Sit-to-stand: the feet carry ~0.25 BW while seated, and sitting is the quietest part of the session.
    from forceplate.device.sim.mock import FakeClock
    from forceplate.device.sim.simulator import SimulatedSource
    from forceplate.signal.calibration import counts_to_newtons
    clock = FakeClock()
    sim = SimulatedSource("sit-to-stand", rate_hz=80.0, seed=4, clock=clock)
    clock.advance(sim.loop_s)                    # one whole loop of the scenario, without sleeping
    frames = sim.read(100_000)
    assert frames.n_sets >= int(sim.loop_s * 80.0) - 1
    force = counts_to_newtons(frames.raw_counts, frames.flags, sim.offset_counts, sim.scale_n_per_count).sum(axis=1)
    t = (frames.t_ns - frames.t_ns[0]) / 1e9
    live = LiveAnalyzer(80.0, adc="hx711")
    live.feed(t, force)
    assert live.body_weight_n == pytest.approx(sim.body_weight_n, rel=0.01)

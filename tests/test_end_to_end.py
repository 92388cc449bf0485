"""The whole live path on a simulated plate: words -> kernel ring -> counts -> newtons -> LiveAnalyzer.

The simulator's script is the truth (its true, unfiltered force); the analysis only sees what the plate's
ADC gives. Tolerances say what each ADC can resolve.
"""
import numpy as np
import pytest

from forceplate.device.sim.mock import FakeClock
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.signal.calibration import counts_to_newtons
from forceplate.signal.streaming import LiveAnalyzer


def live_events(scenario, *, adc, rate_hz, loops=2, seed=1, chunk_s=0.25, exercise="free"):
    clock = FakeClock()
    sim = SimulatedSource(scenario, adc=adc, rate_hz=rate_hz, seed=seed, clock=clock)
    live = LiveAnalyzer(rate_hz, adc=adc, exercise=exercise)
    events, t0 = [], None
    for _ in range(int(loops * sim.loop_s / chunk_s)):
        clock.advance(chunk_s)
        frames = sim.read(100_000)
        if not frames.n_sets:
            continue
        t0 = frames.t_ns[0] if t0 is None else t0
        force = counts_to_newtons(frames.raw_counts, frames.flags, sim.offset_counts, sim.scale_n_per_count)
        events += live.feed(sim.scenario_time_s(frames.t_ns), force.sum(axis=1))
    events += live.flush()
    truth = [e for e in sim.scripted_events(until_s=loops * sim.loop_s - 1.0) if e.contract_kind]
    return sim, live, events, truth


def matched(events, truth, key="t_peak_s", tol_s=0.1):
    pairs = []
    for want in truth:
        near = [e for e in events if e["kind"] == want.contract_kind and e[key] is not None
                and abs(e[key] - getattr(want, key)) < tol_s]
        assert near, f"no {want.contract_kind} found near {getattr(want, key):.3f} s"
        pairs.append((near[0], want))
    return pairs


@pytest.mark.parametrize("scenario", ["heel-drops", "jumps"])
def test_ideal_1000_sps_finds_every_scripted_event_with_its_true_peak(scenario):
    sim, live, events, truth = live_events(scenario, adc="ideal", rate_hz=1000.0)
    assert live.body_weight_n == pytest.approx(sim.body_weight_n, rel=0.01)
    assert len(events) == len(truth)
    for event, want in matched(events, truth):
        assert event["peak_bw"] == pytest.approx(want.peak_bw, rel=0.03)      # noise: ~1 N per corner
        assert event["thump"] == (want.peak_bw >= 2.5)
        if want.contract_kind == "jump":
            assert event["flight_s"] == pytest.approx(want.flight_s, abs=0.005)


def test_hx711_80_sps_heel_drops_are_estimated_through_the_filter():
    sim, live, events, truth = live_events("heel-drops", adc="hx711", rate_hz=80.0, loops=3)
    assert live.body_weight_n == pytest.approx(sim.body_weight_n, rel=0.01)
    assert len(events) == len(truth)
    errors, verdicts = [], []
    for event, want in matched(events, truth, tol_s=0.06):
        errors.append(abs(event["peak_bw"] / want.peak_bw - 1))
        verdicts.append(event["thump"] == (want.peak_bw >= 2.5))
        assert "HX711" in event["peak_method"]
        assert event["loading_rate_bw_s"] is None
    # the goals through the HX711 at ~80 SPS: median <= 5 %, 90th percentile <= 10 %, verdicts >= 90 %
    assert np.median(errors) <= 0.05
    assert np.percentile(errors, 90) <= 0.10
    assert np.mean(verdicts) >= 0.9


def test_hx711_80_sps_heel_drop_sets_fast_verdict_meets_the_accuracy_goals():
    # the typed set's verdict from 5 words after the peak word, against the script's true peaks: 72 heel drops
    # of four seeds at exactly 80 SPS (the chips' own 82-92 SPS read closer: bench/hx711_accuracy.py)
    errors, verdicts, free_errors = [], [], []
    for seed in (1, 2, 3, 4):
        for exercise in ("heel-drop", "free"):
            sim, live, events, truth = live_events("heel-drops", adc="hx711", rate_hz=80.0, loops=3, seed=seed,
                                                   chunk_s=0.025, exercise=exercise)
            assert len(events) == len(truth) and live.corrections == 0
            for event, want in matched(events, truth, tol_s=0.06):
                (errors if exercise == "heel-drop" else free_errors).append(abs(event["peak_bw"] / want.peak_bw - 1))
                if exercise == "heel-drop":
                    verdicts.append(event["thump"] == (want.peak_bw >= 2.5))
                    assert "HX711" in event["peak_method"]
    assert len(errors) == 72
    assert np.median(errors) <= 0.05
    assert np.percentile(errors, 90) <= 0.10
    assert np.mean(verdicts) >= 0.9
    assert np.median(errors) <= np.median(free_errors) + 0.01     # at most a point worse than waiting


def test_hx711_80_sps_jumps_get_flight_times_close_to_the_truth():
    sim, live, events, truth = live_events("jumps", adc="hx711", rate_hz=80.0, loops=2)
    jumps = [(e, w) for e, w in matched(events, truth, key="takeoff_s", tol_s=0.05) if w.contract_kind == "jump"]
    assert jumps
    for event, want in jumps:
        height_error_m = abs(event["height_flight_m"] - want.height_flight_m)
        assert height_error_m < 0.02                                # the goal through the HX711

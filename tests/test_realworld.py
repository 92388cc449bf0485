"""Real-world trace defects: each one must still give the right events.

Expected values come from the analytic builders in tests/signals.py, never from forceplate's output.
"""
import numpy as np
import pytest

import signals as S
from forceplate.signal.events import analyze_force
from forceplate.signal.offset import correct_loaded_zero

RATE = 1000.0


def jumps_of(t, f, **kw):
    analysis = analyze_force(t, f, RATE, **kw)
    return analysis, [e for e in analysis.event_dicts() if e["kind"] == "jump"]


def assert_jump_matches(event, truth, *, tol_s=0.002):
    assert event["takeoff_s"] == pytest.approx(truth["takeoff_s"], abs=tol_s)
    assert event["landing_s"] == pytest.approx(truth["landing_s"], abs=tol_s)
    assert event["peak_bw"] == pytest.approx(truth["peak_bw"], rel=0.01)


def test_ringing_below_and_above_zero_after_takeoff_does_not_split_the_flight():
    t, f, truth = S.jump()
    g = f.copy()
    air = (t > truth["takeoff_s"]) & (t < truth["landing_s"])
    since = t[air] - truth["takeoff_s"]
    g[air] = -45.0 * np.sin(2 * np.pi * 30.0 * since) * np.exp(-since / 0.1)   # +-45 N, crosses 20 N
    _, jumps = jumps_of(t, g)
    assert len(jumps) == 1
    assert_jump_matches(jumps[0], truth)


def test_one_sample_spike_in_flight_does_not_split_the_jump():
    t, f, truth = S.jump()
    g = f.copy()
    g[np.searchsorted(t, truth["takeoff_s"] + 0.15)] = 400.0
    _, jumps = jumps_of(t, g)
    assert len(jumps) == 1
    assert_jump_matches(jumps[0], truth)


def test_zero_padding_before_and_after_shifts_the_events_and_changes_nothing_else():
    t, f, truth = S.jump()
    pad = 3000
    g = np.concatenate([np.zeros(pad), f, np.zeros(pad)])
    tt = np.arange(g.size) / RATE
    analysis, jumps = jumps_of(tt, g)
    assert analysis.body_weight_n == pytest.approx(truth["body_weight_n"], rel=0.001)
    assert len(jumps) == 1 and not [e for e in analysis.event_dicts() if e["kind"] == "impact"]
    shifted = {**truth, "takeoff_s": truth["takeoff_s"] + pad / RATE, "landing_s": truth["landing_s"] + pad / RATE}
    assert_jump_matches(jumps[0], shifted)


def test_per_foot_plates_are_summed():
    t, f, truth = S.jump()
    left = 0.45 * f
    _, jumps = jumps_of(t, np.column_stack([left, f - left]))
    assert len(jumps) == 1
    assert_jump_matches(jumps[0], truth)


def test_three_jumps_in_one_recording_each_with_its_own_flight():
    flights = (0.30, 0.40, 0.50)
    parts = [S.jump(flight_s=s) for s in flights]
    t, f = S.join(*parts)
    _, jumps = jumps_of(t, f)
    assert len(jumps) == 3
    offset = 0.0
    for event, (pt, _, truth) in zip(jumps, parts):
        assert event["flight_s"] == pytest.approx(truth["flight_s"], abs=0.002)
        assert event["takeoff_s"] == pytest.approx(truth["takeoff_s"] + offset, abs=0.002)
        offset += pt.size / RATE


def test_a_plate_zeroed_with_someone_on_it_is_corrected_from_its_flight():
    t, f, truth = S.jump()
    zeroed = f - truth["body_weight_n"]           # tared under the person: standing reads 0, flight -W
    corrected, correction = correct_loaded_zero(zeroed, RATE)
    assert correction.offset_n == pytest.approx(truth["body_weight_n"], abs=1.0)
    assert "zeroed with someone on it" in correction.method
    np.testing.assert_allclose(corrected, f, atol=1.0)


def test_a_correctly_zeroed_plate_is_left_alone_even_when_it_rings_below_zero():
    t, f, truth = S.jump()
    g = f.copy()
    air = (t > truth["takeoff_s"]) & (t < truth["takeoff_s"] + 0.05)
    g[air] = -60.0                                   # a brief undershoot after take-off
    corrected, correction = correct_loaded_zero(g, RATE)
    assert not correction.is_corrected and correction.method is None
    assert corrected is not None and np.array_equal(corrected, g)


def test_stepping_off_and_on_again_is_not_a_jump():
    t1, f1, truth = S.standing(700.0, total_s=3.0)
    ramp = np.linspace(700.0, 0.0, 400)                  # stepping off takes ~0.4 s, not tens of ms
    empty = np.zeros(2000)
    t, f = S.join((t1, f1), (None, ramp), (None, empty), (None, ramp[::-1]), S.standing(700.0, total_s=2.0))
    analysis = analyze_force(t, f, RATE)
    assert analysis.body_weight_n == pytest.approx(700.0, rel=0.001)
    assert analysis.event_dicts() == []


def test_analysis_of_a_plate_zeroed_under_load_weighs_and_times_the_jump():
    t, f, truth = S.jump()
    analysis, jumps = jumps_of(t, f - truth["body_weight_n"])
    assert analysis.body_weight_n == pytest.approx(truth["body_weight_n"], rel=0.005)
    assert analysis.offset.offset_n == pytest.approx(truth["body_weight_n"], abs=1.0)
    assert len(jumps) == 1
    assert_jump_matches(jumps[0], truth)

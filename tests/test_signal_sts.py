"""Sit-to-stand (forceplate.signal.sit_to_stand) on analytic traces and on the simulator's ground truth.

The analytic traces are straight ramps, so the interpolated band crossings the detector reports are exact and
worked out below from the shape: a ramp from a to b over T crosses level L at T (L - a) / (b - a).
"""
import numpy as np
import pytest

from forceplate.device.sim.mock import FakeClock
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.signal import analyze_force
from forceplate.signal.sit_to_stand import detect_sit_to_stand
from signals import half_sine_impact, jump, standing

G = 9.80665
BAND = 0.05          # the detector's default seated and standing bands, body weights


def ramp_trace(segments, *, body_weight_n=700.0, rate_hz=1000.0):
    """Piecewise-linear force: ``segments`` is [(duration_s, end_bw), ...] from a start level (first item
    ``(0, bw)``). Knots fall on samples. Returns t (s), force (N) and the knot times (s)."""
    level = segments[0][1]
    parts, knots, t_knot = [], [0.0], 0.0
    for duration_s, end_bw in segments[1:]:
        m = int(round(duration_s * rate_hz))
        parts.append(level + (end_bw - level) * np.arange(1, m + 1) / m)
        level = end_bw
        t_knot += m / rate_hz
        knots.append(t_knot)
    force_bw = np.concatenate([[segments[0][1]], *parts])
    return np.arange(force_bw.shape[0]) / rate_hz, body_weight_n * force_bw, knots


def one_rep(*, seat_bw=0.25, lower_s=3.0, up_s=0.3, peak_bw=1.5, down_s=0.2, **kw):
    """Stand 2 s, sit down (linear) over lower_s, sit 2 s, rise to peak_bw over up_s, fall to 1 BW over
    down_s, stand 2 s."""
    return ramp_trace([(0, 1.0), (2.0, 1.0), (lower_s, seat_bw), (2.0, seat_bw), (up_s, peak_bw),
                       (down_s, 1.0), (2.0, 1.0)], **kw)


def expected(seat_bw=0.25, lower_s=3.0, up_s=0.3, peak_bw=1.5, down_s=0.2):
    """Truth from the ramps: band crossings at seat + 0.05 BW and 1 -+ 0.05 BW."""
    lowering_start = 2.0 + lower_s * BAND / (1 - seat_bw)
    lowering_end = 2.0 + lower_s * (1 - seat_bw - BAND) / (1 - seat_bw)
    t_up = 2.0 + lower_s + 2.0
    rise_start = t_up + up_s * BAND / (peak_bw - seat_bw)
    t_peak = t_up + up_s
    rise_end = t_peak + down_s * (peak_bw - 1 - BAND) / (peak_bw - 1)
    return dict(lowering_start_s=lowering_start, lowering_end_s=lowering_end,
                lowering_s=lowering_end - lowering_start, rise_start_s=rise_start, rise_end_s=rise_end,
                rise_s=rise_end - rise_start, t_peak_s=t_peak, peak_bw=peak_bw)


# --------------------------------------------------------------------------------------- analytic traces

def test_rise_and_lowering_times_follow_the_ramps():
    t, f, _ = one_rep()
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    truth = expected()
    for key, value in truth.items():
        assert getattr(rep, key) == pytest.approx(value, abs=1e-6), key
    assert rep.peak_n == pytest.approx(1.5 * 700.0)
    assert rep.seated_bw == pytest.approx(0.25)
    assert rep.is_fast_rise is True and rep.is_slow_lowering is True
    assert rep.tempo == "fast up, slow down"


@pytest.mark.parametrize("rate_hz", [80.0, 100.0, 1000.0])
@pytest.mark.parametrize("up_s, down_s", [(0.4, 0.3), (0.8, 0.5), (1.5, 0.5)])
def test_rise_time_within_a_sample_at_any_rate(rate_hz, up_s, down_s):
    t, f, _ = one_rep(up_s=up_s, down_s=down_s, rate_hz=rate_hz)
    (rep,) = detect_sit_to_stand(f, rate_hz, t_s=t, body_weight_n=700.0)
    truth = expected(up_s=round(up_s * rate_hz) / rate_hz, down_s=round(down_s * rate_hz) / rate_hz)
    assert rep.rise_s == pytest.approx(truth["rise_s"], abs=1.0 / rate_hz)
    assert rep.lowering_s == pytest.approx(truth["lowering_s"], abs=1.0 / rate_hz)


def test_tempo_names_what_is_missing():
    t, f, _ = one_rep(lower_s=1.0, up_s=1.4, down_s=0.4)     # rise about 1.7 s, sit-down about 0.87 s
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    assert rep.is_fast_rise is False and rep.is_slow_lowering is False
    assert rep.tempo == "rise slower than 1 s; sit-down faster than 2 s"
    (lenient,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0, fast_rise_s=2.0, slow_lowering_s=0.5)
    assert lenient.tempo == "fast up, slow down"


def test_a_slow_rise_without_overshoot_settles_on_entering_the_band():
    t, f, _ = ramp_trace([(0, 1.0), (1.0, 1.0), (2.0, 0.3), (1.5, 0.3), (1.0, 1.0), (2.0, 1.0)])
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    t_up = 1.0 + 2.0 + 1.5
    assert rep.rise_start_s == pytest.approx(t_up + 1.0 * BAND / 0.7, abs=1e-6)
    assert rep.rise_end_s == pytest.approx(t_up + 1.0 * (0.95 - 0.3) / 0.7, abs=1e-6)
    assert rep.peak_bw == pytest.approx(1.0)


def test_mean_power_is_alcazar_formula_over_the_rise():
    t, f, _ = one_rep()
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0, body_height_m=1.70, chair_height_m=0.45)
    rise_s = expected()["rise_s"]
    # 0.9 m g (0.5 x 1.70 - 0.45) / t, and m g is the body weight, 700 N
    assert rep.mean_power_w == pytest.approx(0.9 * 700.0 * 0.40 / rise_s)
    assert rep.mean_power_w_kg == pytest.approx(0.9 * G * 0.40 / rise_s)
    assert "Alcazar" in rep.power_method
    (no_power,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    assert no_power.mean_power_w is None and "chair height" in no_power.power_method


def test_impossible_heights_are_refused():
    t, f, _ = one_rep()
    with pytest.raises(ValueError, match="chair height"):
        detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0, body_height_m=0.8, chair_height_m=0.45)


def test_reps_are_counted_in_order():
    segs = [(0, 1.0), (2.0, 1.0)]
    for _ in range(3):
        segs += [(2.5, 0.2), (1.5, 0.2), (0.35, 1.45), (0.25, 1.0), (2.0, 1.0)]
    t, f, _ = ramp_trace(segs)
    reps = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    assert len(reps) == 3 and all(r.has_rise and r.lowering_s is not None for r in reps)
    period = 2.5 + 1.5 + 0.35 + 0.25 + 2.0
    assert np.diff([r.t_peak_s for r in reps]) == pytest.approx([period, period])


def test_recording_that_starts_seated_has_a_rise_only():
    t, f, _ = ramp_trace([(0, 0.25), (1.5, 0.25), (0.3, 1.5), (0.2, 1.0), (2.0, 1.0)])
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    assert rep.lowering_s is None and rep.is_slow_lowering is None and rep.tempo is None
    assert rep.rise_s == pytest.approx(0.3 - 0.3 * BAND / 1.25 + 0.2 * 0.45 / 0.5, abs=1e-6)


def test_recording_that_ends_seated_has_a_sit_down_only():
    t, f, _ = ramp_trace([(0, 1.0), (2.0, 1.0), (2.5, 0.25), (1.5, 0.25)])
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    assert rep.rise_s is None and rep.peak_bw is None and rep.tempo is None
    assert rep.lowering_s == pytest.approx(2.5 * 0.65 / 0.75, abs=1e-6)


# ------------------------------------------------------------------------------- not sit-to-stand

def test_standing_heel_drops_and_jumps_are_not_sit_to_stand():
    for t, f, truth in (standing(700.0, noise_n=3.0), half_sine_impact(700.0, 3.5), jump(650.0),
                        jump(650.0, dip_bw=0.7, dip_s=0.45)):         # a deep, slow countermovement
        assert detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=truth["body_weight_n"]) == []


def test_stepping_off_and_on_one_foot_at_a_time_is_not_sit_to_stand():
    # stand, one foot on the floor (0.5 BW for 1 s), off; empty; one foot on (1 s), both feet
    t, f, _ = ramp_trace([(0, 1.0), (2.0, 1.0), (0.2, 0.5), (1.0, 0.5), (0.2, 0.0), (1.0, 0.0), (0.2, 0.5),
                          (1.0, 0.5), (0.2, 1.0), (2.0, 1.0)])
    assert detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0) == []


def test_empty_and_all_nan_give_no_reps():
    assert detect_sit_to_stand(np.zeros(0), 100.0, body_weight_n=700.0) == []
    assert detect_sit_to_stand(np.zeros(500), 100.0, body_weight_n=700.0) == []
    assert detect_sit_to_stand(np.full(500, np.nan), 100.0, body_weight_n=700.0) == []


def test_lost_samples_are_bridged_and_the_input_untouched():
    t, f, _ = one_rep()
    f[5000:5040] = np.nan                  # in the seated stretch
    f[7100:7103] = np.nan                  # just after the peak, on the straight fall: bridging is exact
    before = f.copy()
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    np.testing.assert_array_equal(f, before)
    assert rep.rise_s == pytest.approx(expected()["rise_s"], abs=1e-6)


def test_body_weight_is_required():
    t, f, _ = one_rep()
    with pytest.raises(ValueError, match="body weights"):
        detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=None)


def test_the_rise_peak_stays_an_impact_per_the_contract():
    t, f, _ = one_rep(peak_bw=1.5)
    result = analyze_force(t, f, 1000.0, body_weight_n=700.0)
    (event,) = result.event_dicts()
    assert event["kind"] == "impact" and event["peak_bw"] == pytest.approx(1.5)
    assert event["sit_to_stand"] is True
    (rep,) = result.sit_to_stands
    assert rep.t_peak_s == pytest.approx(event["t_peak_s"])


# ------------------------------------------------------------------------------------------ simulator

def simulated(scenario, *, adc="ideal", rate_hz=1000.0, seed=10):
    source = SimulatedSource(scenario, rate_hz=rate_hz, adc=adc, seed=seed, clock=FakeClock())
    t = np.arange(1, int(source.loop_s * rate_hz)) / rate_hz
    return source, t, source.corner_force_n(t).sum(axis=1)


@pytest.mark.parametrize("adc, rate_hz", [("ideal", 1000.0), ("hx711", 80.0)])
@pytest.mark.parametrize("seed", [10, 11])
def test_simulated_reps_match_the_script(adc, rate_hz, seed):
    source, t, total = simulated("sit-to-stand", adc=adc, rate_hz=rate_hz, seed=seed)
    truth = [e for e in source.scripted_events() if e.kind == "sit-to-stand"]
    reps = detect_sit_to_stand(total, rate_hz, t_s=t, body_weight_n=source.body_weight_n)
    assert len(reps) == len(truth) == 4
    for rep, script in zip(reps, truth):
        # The script: sit down over 2-3 s (half-cosine from 1 BW to a 0.22-0.28 BW seat), sit 1.5-2.5 s,
        # rise in 0.5-0.8 s ending settled at 1 BW at end_s. Its bands cut the flat ends of each ramp.
        assert 0.22 - 0.02 <= rep.seated_bw <= 0.28 + 0.02
        assert rep.lowering_start_s > script.start_s
        assert 0.6 * 2.0 < rep.lowering_s < 3.0
        assert 0.3 < rep.rise_s <= 0.8
        assert script.end_s - 0.15 < rep.rise_end_s <= script.end_s + 1.0 / rate_hz
        assert rep.is_fast_rise is True
        if adc == "ideal":
            # the top of two half-cosine ramps is flat: 2 N of noise moves the largest sample by ~10 ms
            assert rep.t_peak_s == pytest.approx(script.t_peak_s, abs=0.015)
            assert rep.peak_bw == pytest.approx(script.peak_bw, abs=0.01)   # 2 N RMS of corner noise
        else:                               # 80 SPS through the HX711 filter: slow rises pass nearly whole
            assert rep.peak_bw == pytest.approx(script.peak_bw, abs=0.08)


@pytest.mark.parametrize("scenario", ["heel-drops", "jumps", "step-on-off", "standing"])
def test_other_simulated_scenarios_have_no_sit_to_stand(scenario):
    source, t, total = simulated(scenario, seed=3)
    assert detect_sit_to_stand(total, 1000.0, t_s=t, body_weight_n=source.body_weight_n) == []


def test_simulated_session_has_two_reps_among_the_impacts():
    source, t, total = simulated("session", seed=4)
    truth = [e for e in source.scripted_events() if e.kind == "sit-to-stand"]
    reps = detect_sit_to_stand(total, 1000.0, t_s=t, body_weight_n=source.body_weight_n)
    assert len(reps) == len(truth) == 2
    assert [r.t_peak_s for r in reps] == pytest.approx([e.t_peak_s for e in truth], abs=0.015)


# ------------------------------------------------------------------------------- weighing, not sitting

def test_a_still_seat_is_not_weighed_as_the_body():
    t, f, _ = one_rep(body_weight_n=800.0, seat_bw=0.3)
    f = f + np.where(f > 0.9 * 800.0, 3.0 * np.random.default_rng(0).standard_normal(f.shape), 0.0)
    result = analyze_force(t, f, 1000.0)          # the seat (240 N = 24 kg, no noise) is the stillest second
    assert result.body_weight_n == pytest.approx(800.0, abs=1.5)
    assert "is sitting" in result.body_weight.method
    (rep,) = result.sit_to_stands
    assert rep.seated_bw == pytest.approx(0.3, abs=0.005)


@pytest.mark.parametrize("adc, rate_hz", [("ideal", 1000.0), ("hx711", 80.0)])
def test_simulated_sit_to_stand_session_weighs_the_standing_person(adc, rate_hz):
    source, t, total = simulated("sit-to-stand", adc=adc, rate_hz=rate_hz, seed=12)
    result = analyze_force(t, total, rate_hz, adc=adc)
    assert result.body_weight_n == pytest.approx(source.body_weight_n, rel=0.005)
    assert len(result.sit_to_stands) == 4
    rises = [e for e in result.event_dicts() if e["sit_to_stand"]]
    assert len(rises) == len([e for e in source.scripted_events() if e.kind == "sit-to-stand"]) == 4

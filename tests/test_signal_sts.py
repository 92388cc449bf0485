"""Sit-to-stand (forceplate.signal.sit_to_stand) on analytic traces and on the simulator's ground truth.

The analytic traces are made of half-cosine segments, each from one level to the next with zero rate at both
ends (as the simulator scripts a movement), so a phase's true start and end are the segment knots: the times
expected below are those knots, from the shape, never from the detector. Straight ramps (a kink where the
force leaves a level at a finite rate) have one test of their own: the detector's parabolic extrapolation
puts the instant 2 d / slope before the kink, d = 0.01 BW, worked out there.
"""
import numpy as np
import pytest

from forceplate.device.sim.mock import FakeClock
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.signal import analyze_force
from forceplate.signal.sit_to_stand import detect_sit_to_stand
from signals import half_sine_impact, hx711_words, jump, standing

G = 9.80665
STEP_BW = 0.01       # the detector's default smallest departure from a level (level_step_bw)


def cosine_trace(segments, *, body_weight_n=700.0, rate_hz=1000.0):
    """Force made of half-cosine segments: ``segments`` is [(duration_s, end_bw), ...] from a start level
    (first item ``(0, bw)``); each goes from the previous level to ``end_bw`` with zero slope at both ends.
    Knots fall on samples. Returns t (s), force (N) and the knot times (s)."""
    level = segments[0][1]
    parts, knots, t_knot = [], [0.0], 0.0
    for duration_s, end_bw in segments[1:]:
        m = int(round(duration_s * rate_hz))
        u = np.arange(1, m + 1) / m
        parts.append(level + (end_bw - level) * (1 - np.cos(np.pi * u)) / 2)
        level = end_bw
        t_knot += m / rate_hz
        knots.append(t_knot)
    force_bw = np.concatenate([[segments[0][1]], *parts])
    return np.arange(force_bw.shape[0]) / rate_hz, body_weight_n * force_bw, knots


def ramp_trace(segments, *, body_weight_n=700.0, rate_hz=1000.0):
    """As cosine_trace, with straight segments."""
    level = segments[0][1]
    parts = []
    for duration_s, end_bw in segments[1:]:
        m = int(round(duration_s * rate_hz))
        parts.append(level + (end_bw - level) * np.arange(1, m + 1) / m)
        level = end_bw
    force_bw = np.concatenate([[segments[0][1]], *parts])
    return np.arange(force_bw.shape[0]) / rate_hz, body_weight_n * force_bw


def rep_segments(*, seat_bw=0.25, lower_s=3.0, up_s=0.3, peak_bw=1.5, down_s=0.2):
    """Stand 2 s, sit down over lower_s, sit 2 s, rise to peak_bw over up_s, fall to 1 BW over down_s, stand
    2 s."""
    return [(0, 1.0), (2.0, 1.0), (lower_s, seat_bw), (2.0, seat_bw), (up_s, peak_bw), (down_s, 1.0), (2.0, 1.0)]


def one_rep(*, rate_hz=1000.0, body_weight_n=700.0, **kw):
    return cosine_trace(rep_segments(**kw), rate_hz=rate_hz, body_weight_n=body_weight_n)


def expected(knots):
    """Truth from the knots of rep_segments: the sit-down is segment 2, the rise segments 4 and 5."""
    return dict(lowering_start_s=knots[1], lowering_end_s=knots[2], lowering_s=knots[2] - knots[1],
                rise_start_s=knots[3], rise_end_s=knots[5], rise_s=knots[5] - knots[3], t_peak_s=knots[4])


# --------------------------------------------------------------------------------------- analytic traces

def test_rise_and_lowering_times_are_the_movement_knots():
    # A half-cosine of amplitude A and duration T is d away from its level at T acos(1 - 2 d / A) / pi; the
    # parabola through d and 4d misses the knot by T (2 acos(1 - 2d/A) - acos(1 - 8d/A)) / pi: 3 ms for the
    # 3 s sit-down to 0.25 BW (A = 0.75 BW, d = 0.01 BW), well under 1 ms for the rise.
    t, f, knots = one_rep()
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    for key, value in expected(knots).items():             # an instant within 5 ms, a duration within 10 ms
        assert getattr(rep, key) == pytest.approx(value, abs=0.01 if key in ("lowering_s", "rise_s") else 0.005), key
    assert rep.peak_n == pytest.approx(1.5 * 700.0) and rep.peak_bw == pytest.approx(1.5)
    assert rep.seated_bw == pytest.approx(0.25)
    assert rep.is_fast_rise is True and rep.is_slow_lowering is True
    assert rep.tempo == "fast up, slow down"
    assert "parabolic extrapolation" in rep.lowering_method and "parabolic extrapolation" in rep.rise_method
    assert "at or above the empty-plate threshold" in rep.seat_rule


@pytest.mark.parametrize("rate_hz", [80.0, 100.0, 1000.0])
@pytest.mark.parametrize("lower_s", [2.0, 2.5, 3.0])
@pytest.mark.parametrize("up_s, down_s", [(0.3, 0.2), (0.5, 0.3), (1.0, 0.5)])
def test_smooth_phases_measure_in_full_at_any_rate(rate_hz, lower_s, up_s, down_s):
    # Samples of the half-cosine trace itself (no ADC filter), at 80, 100 and 1000 samples per second.
    t, f, knots = one_rep(lower_s=lower_s, up_s=up_s, down_s=down_s, rate_hz=rate_hz)
    (rep,) = detect_sit_to_stand(f, rate_hz, t_s=t, body_weight_n=700.0)
    truth = expected(knots)
    assert rep.lowering_s == pytest.approx(truth["lowering_s"], rel=0.02)
    assert rep.rise_s == pytest.approx(truth["rise_s"], rel=0.03, abs=1.0 / rate_hz)


@pytest.mark.parametrize("seat_bw", [0.25, 0.01])
@pytest.mark.parametrize("lower_s", [2.0, 2.5, 3.0])
def test_hx711_words_at_80_sps_measure_the_sit_down_within_ten_percent(seat_bw, lower_s):
    # The 1 kHz half-cosine trace through the HX711 filter model (tests/signals.hx711_words), read at 80 SPS.
    t, f, knots = one_rep(lower_s=lower_s, seat_bw=seat_bw, up_s=0.35, down_s=0.25)
    t80 = np.arange(1, int(t[-1] * 80.0)) / 80.0
    words = hx711_words(f, t80, 80.0)
    (rep,) = detect_sit_to_stand(words, 80.0, t_s=t80, body_weight_n=700.0, typed=True)
    truth = expected(knots)
    assert rep.lowering_s == pytest.approx(truth["lowering_s"], rel=0.10)
    assert rep.rise_s == pytest.approx(truth["rise_s"], rel=0.10)


def test_a_straight_ramp_is_timed_from_where_its_parabola_would_start():
    # Straight segments: the force leaves 1 BW at a finite rate (slope 0.75 BW / 3 s = 0.25 BW/s). The
    # crossings of d = 0.01 BW and 4d are d / slope = 0.04 s and 0.16 s after the kink; 2 t(d) - t(4d) puts
    # the start 0.08 s before it, and the arrival at the seat 0.08 s after the next kink.
    t, f = ramp_trace(rep_segments(lower_s=3.0, up_s=1.0, down_s=0.5))
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    tau = STEP_BW / (0.75 / 3.0)
    assert rep.lowering_start_s == pytest.approx(2.0 - 2 * tau, abs=2e-3)
    assert rep.lowering_end_s == pytest.approx(5.0 + 2 * tau, abs=2e-3)


def test_tempo_names_what_is_missing():
    t, f, _ = one_rep(lower_s=1.0, up_s=1.4, down_s=0.4)     # rise 1.8 s, sit-down 1.0 s
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    assert rep.is_fast_rise is False and rep.is_slow_lowering is False
    assert rep.tempo == "rise slower than 1 s; sit-down faster than 2 s"
    (lenient,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0, fast_rise_s=2.0, slow_lowering_s=0.5)
    assert lenient.tempo == "fast up, slow down"


def test_a_slow_rise_without_overshoot_ends_where_it_reaches_standing():
    t, f, knots = cosine_trace([(0, 1.0), (1.0, 1.0), (2.0, 0.3), (1.5, 0.3), (1.0, 1.0), (2.0, 1.0)])
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    assert rep.rise_start_s == pytest.approx(knots[3], abs=0.005)
    assert rep.rise_end_s == pytest.approx(knots[4], abs=0.005)
    assert rep.peak_bw == pytest.approx(1.0)


def test_mean_power_is_alcazar_formula_over_the_rise():
    t, f, knots = one_rep()
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0, body_height_m=1.70, chair_height_m=0.45)
    # 0.9 m g (0.5 x 1.70 - 0.45) / t, and m g is the body weight, 700 N; t the measured rise (0.5 s here)
    assert rep.mean_power_w == pytest.approx(0.9 * 700.0 * 0.40 / rep.rise_s)
    assert rep.mean_power_w_kg == pytest.approx(0.9 * G * 0.40 / rep.rise_s)
    assert rep.mean_power_w == pytest.approx(0.9 * 700.0 * 0.40 / expected(knots)["rise_s"], rel=0.01)
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
    t, f, _ = cosine_trace(segs)
    reps = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    assert len(reps) == 3 and all(r.has_rise and r.lowering_s is not None for r in reps)
    period = 2.5 + 1.5 + 0.35 + 0.25 + 2.0
    assert np.diff([r.t_peak_s for r in reps]) == pytest.approx([period, period])
    assert [r.lowering_s for r in reps] == pytest.approx([2.5] * 3, abs=0.01)
    assert [r.rise_s for r in reps] == pytest.approx([0.6] * 3, abs=0.01)


def test_recording_that_starts_seated_has_a_rise_only():
    t, f, knots = cosine_trace([(0, 0.25), (1.5, 0.25), (0.3, 1.5), (0.2, 1.0), (2.0, 1.0)])
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    assert rep.lowering_s is None and rep.is_slow_lowering is None and rep.tempo is None
    assert rep.lowering_method is None
    assert rep.rise_s == pytest.approx(0.5, abs=0.005)


def test_recording_that_ends_seated_has_a_sit_down_only():
    t, f, _ = cosine_trace([(0, 1.0), (2.0, 1.0), (2.5, 0.25), (1.5, 0.25)])
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    assert rep.rise_s is None and rep.peak_bw is None and rep.tempo is None and rep.rise_method is None
    assert rep.lowering_s == pytest.approx(2.5, abs=0.01)


@pytest.mark.parametrize("typed", [False, True])
@pytest.mark.parametrize("lower_s, seat_s, stand_s", [(0.6, 0.2, 0.2), (0.8, 0.3, 0.3), (1.0, 0.5, 0.5)])
def test_a_brisk_five_times_sit_to_stand_at_100_hz_with_the_feet_light_on_the_seat(typed, lower_s, seat_s,
                                                                                   stand_s):
    # As a five-times-sit-to-stand test is done: five reps with little rest, the feet nearly off the plate
    # while seated (0.01 BW, 7 N), recorded at 100 Hz with 2 N of white noise. Each rep: sit down over
    # lower_s, sit seat_s, rise to 1.4 BW over 0.35 s and back to 1 BW over 0.25 s (rise 0.6 s), stand
    # stand_s (less than settle_s when brisk); quiet standing 3 s before and after.
    segs = [(0, 1.0), (3.0, 1.0)]
    for k in range(5):
        segs += [(lower_s, 0.01), (seat_s, 0.01), (0.35, 1.4), (0.25, 1.0), (stand_s if k < 4 else 3.0, 1.0)]
    t, f, _ = cosine_trace(segs, rate_hz=100.0)
    f = f + 2.0 * np.random.default_rng(1).standard_normal(f.shape)
    reps = detect_sit_to_stand(f, 100.0, t_s=t, body_weight_n=700.0, typed=typed)
    assert len(reps) == 5
    assert [r.lowering_s for r in reps] == pytest.approx([lower_s] * 5, rel=0.10)
    assert [r.rise_s for r in reps] == pytest.approx([0.6] * 5, rel=0.10)
    assert [r.peak_bw for r in reps] == pytest.approx([1.4] * 5, abs=0.01)


# ------------------------------------------------------------------------------- not sit-to-stand

@pytest.mark.parametrize("typed", [False, True])
def test_standing_heel_drops_and_jumps_are_not_sit_to_stand(typed):
    for t, f, truth in (standing(700.0, noise_n=3.0), half_sine_impact(700.0, 3.5), jump(650.0),
                        jump(650.0, dip_bw=0.7, dip_s=0.45),          # a deep, slow countermovement
                        jump(650.0, flight_s=0.6)):                    # a flight longer than min_seated_s
        assert detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=truth["body_weight_n"], typed=typed) == []


def test_stepping_off_and_on_one_foot_at_a_time_is_not_sit_to_stand():
    # stand, one foot on the floor (0.5 BW for 1 s), off; empty; one foot on (1 s), both feet
    t, f = ramp_trace([(0, 1.0), (2.0, 1.0), (0.2, 0.5), (1.0, 0.5), (0.2, 0.0), (1.0, 0.0), (0.2, 0.5),
                       (1.0, 0.5), (0.2, 1.0), (2.0, 1.0)])
    assert detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0) == []


@pytest.mark.parametrize("wait_s", [1.0, 2.0])
def test_a_slow_step_off_and_back_on_is_not_a_sit_to_stand_untyped(wait_s):
    # Leave the plate over 1 s (slower than min_empty_lowering_s), wait, step back on over 0.4 s to 1 BW
    # without overshoot: an empty seat left by no rise peak. Told it is a sit-to-stand set, the detector
    # trusts the exercise and takes the empty stretch for a seat with the feet lifted.
    t, f, knots = cosine_trace([(0, 1.0), (2.0, 1.0), (1.0, 0.0), (wait_s, 0.0), (0.4, 1.0), (2.0, 1.0)])
    assert detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0) == []
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0, typed=True)
    assert rep.lowering_s == pytest.approx(1.0, abs=0.01) and "sit-to-stand set" in rep.seat_rule


def test_a_quick_step_off_is_not_a_seat_even_in_a_sit_to_stand_set():
    # Off the plate in 0.3 s (faster than min_empty_lowering_s), 1.5 s away, back on with a 1.2 BW step.
    t, f, _ = cosine_trace([(0, 1.0), (2.0, 1.0), (0.3, 0.0), (1.5, 0.0), (0.3, 1.2), (0.2, 1.0), (2.0, 1.0)])
    for typed in (False, True):
        assert detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0, typed=typed) == []


def test_empty_and_all_nan_give_no_reps():
    assert detect_sit_to_stand(np.zeros(0), 100.0, body_weight_n=700.0) == []
    assert detect_sit_to_stand(np.zeros(500), 100.0, body_weight_n=700.0) == []
    assert detect_sit_to_stand(np.full(500, np.nan), 100.0, body_weight_n=700.0) == []


def test_lost_samples_are_bridged_and_the_input_untouched():
    t, f, knots = one_rep()
    f[5000:5040] = np.nan                  # in the seated stretch
    f[7400:7403] = np.nan                  # on the fall after the peak: bridging is nearly exact
    before = f.copy()
    (rep,) = detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=700.0)
    np.testing.assert_array_equal(f, before)
    assert rep.rise_s == pytest.approx(expected(knots)["rise_s"], abs=0.005)


def test_body_weight_is_required():
    t, f, _ = one_rep()
    with pytest.raises(ValueError, match="body weights"):
        detect_sit_to_stand(f, 1000.0, t_s=t, body_weight_n=None)


def test_the_rise_peak_is_a_sit_to_stand_rep_and_no_impact():
    t, f, _ = one_rep(peak_bw=1.5)
    result = analyze_force(t, f, 1000.0, body_weight_n=700.0)
    assert result.event_dicts() == []
    (rep,) = result.sit_to_stands
    assert rep.peak_bw == pytest.approx(1.5)


# ------------------------------------------------------------------------------------------ simulator

def simulated(scenario, *, adc="ideal", rate_hz=1000.0, seed=10, loops=1.0, **options):
    source = SimulatedSource(scenario, rate_hz=rate_hz, adc=adc, seed=seed, clock=FakeClock(), **options)
    t = np.arange(1, int(loops * source.loop_s * rate_hz)) / rate_hz
    return source, t, source.corner_force_n(t).sum(axis=1)


@pytest.mark.parametrize("adc, rate_hz", [("ideal", 1000.0), ("hx711", 80.0)])
@pytest.mark.parametrize("seed", [10, 11])
def test_simulated_reps_match_the_script(adc, rate_hz, seed):
    # The scenario's own draws: sit down over 2-3 s (a half-cosine from 1 BW to a 0.22-0.28 BW seat), sit
    # 1.5-2.5 s, rise in 0.5-0.8 s to a 1.35-1.6 BW peak and settle at 1 BW at the event's end_s.
    source, t, total = simulated("sit-to-stand", adc=adc, rate_hz=rate_hz, seed=seed)
    truth = [e for e in source.scripted_events() if e.kind == "sit-to-stand"]
    reps = detect_sit_to_stand(total, rate_hz, t_s=t, body_weight_n=source.body_weight_n)
    assert len(reps) == len(truth) == 4
    lag = 0.0 if adc == "ideal" else 0.05       # the HX711 filter spans 4 periods (50 ms at 80 SPS)
    for rep, script in zip(reps, truth):
        assert 0.22 - 0.02 <= rep.seated_bw <= 0.28 + 0.02
        assert rep.lowering_start_s == pytest.approx(script.start_s, abs=0.05 + lag)
        assert 2.0 * 0.9 < rep.lowering_s < 3.0 * 1.1
        assert 0.5 * 0.9 < rep.rise_s <= 0.8 * 1.1
        assert script.end_s - 0.05 < rep.rise_end_s <= script.end_s + 0.05 + lag
        assert rep.is_fast_rise is True
        if adc == "ideal":
            # the top of two half-cosine ramps is flat: 2 N of noise moves the largest sample by ~10 ms
            assert rep.t_peak_s == pytest.approx(script.t_peak_s, abs=0.015)
            assert rep.peak_bw == pytest.approx(script.peak_bw, abs=0.01)   # 2 N RMS of corner noise
        else:                               # 80 SPS through the HX711 filter: slow rises pass nearly whole
            assert rep.peak_bw == pytest.approx(script.peak_bw, abs=0.08)


@pytest.mark.parametrize("adc, rate_hz", [("ideal", 1000.0), ("hx711", 80.0)])
@pytest.mark.parametrize("sit_down_s, rise_s", [(2.0, 0.5), (2.5, 0.65), (3.0, 0.8)])
@pytest.mark.parametrize("seated_bw", [0.25, 0.02])
def test_simulated_sit_downs_and_rises_measure_their_scripted_durations(adc, rate_hz, sit_down_s, rise_s,
                                                                        seated_bw):
    # Made with the simulator's options: every rep sits down over sit_down_s (a half-cosine from 1 BW to
    # seated_bw) and rises over rise_s (half-cosines up to the peak, down to 0.9 BW, up to 1 BW), so those
    # are the true durations. 0.02 BW of a 55-90 kg person is 11-18 N: under the 20 N empty-plate threshold.
    source, t, total = simulated("sit-to-stand", adc=adc, rate_hz=rate_hz, seed=12, seated_bw=seated_bw,
                                 sit_down_s=sit_down_s, rise_s=rise_s)
    reps = detect_sit_to_stand(total, rate_hz, t_s=t, body_weight_n=source.body_weight_n)
    assert len(reps) == 4
    for rep in reps:
        assert rep.lowering_s == pytest.approx(sit_down_s, rel=0.10)
        assert rep.rise_s == pytest.approx(rise_s, rel=0.10)
        if sit_down_s > 2.0:                   # 2 s is the "slow down" limit itself: no verdict tested there
            assert rep.tempo == "fast up, slow down"


@pytest.mark.parametrize("typed", [False, True])
@pytest.mark.parametrize("seated_bw", [0.0, 0.02])
@pytest.mark.parametrize("adc, rate_hz", [("ideal", 1000.0), ("hx711", 80.0)])
def test_five_reps_with_the_seat_under_the_empty_plate_threshold(typed, seated_bw, adc, rate_hz):
    # The simulator's sit-to-stand with the feet resting lightly while seated (seated_bw 0 or 0.02 BW: under
    # 20 N), played on into its second loop (which begins with a step off and on) until five reps are done.
    source, t, total = simulated("sit-to-stand", adc=adc, rate_hz=rate_hz, seed=13, loops=2.0,
                                 seated_bw=seated_bw)
    first = [e for e in source.scripted_events() if e.kind == "sit-to-stand"]
    five_s = source.loop_s + first[0].end_s + 1.0
    keep = t < five_s
    truth = [e for e in source.scripted_events(until_s=five_s) if e.kind == "sit-to-stand"]
    reps = detect_sit_to_stand(total[keep], rate_hz, t_s=t[keep], body_weight_n=source.body_weight_n, typed=typed)
    assert len(truth) == 5 and len(reps) == 5
    lag = 0.0 if adc == "ideal" else 0.05
    for rep, script in zip(reps, truth):
        assert rep.seated_n < 20.0 and "under the empty-plate threshold" in rep.seat_rule
        assert rep.lowering_start_s == pytest.approx(script.start_s, abs=0.05 + lag)
        assert script.end_s - 0.05 < rep.rise_end_s <= script.end_s + 0.05 + lag


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
    assert result.event_dicts() == []                     # the rises' peaks are no impacts
    assert len([e for e in source.scripted_events() if e.kind == "sit-to-stand"]) == 4

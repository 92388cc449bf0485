"""The simulated plate's physics: forces, corners, the HX711 model, the scenarios and their ground truth.

Expected values come from physics (g, the plate's geometry), the HX711 datasheet and design note, and the
scenario brief (peak ranges in body weights), checked against the decoded words the source delivers.
"""
import numpy as np
import pytest

from forceplate.device.sim.mock import FakeClock
from forceplate.exc import ConfigError
from forceplate.device.sim.simulator import (CORNERS_M, PLATE_DEPTH_M, PLATE_WIDTH_M, SCENARIOS, SimulatedSource,
                                         split_by_centre_of_pressure)
from signals import hx711_words
from forceplate.signal.calibration import counts_to_newtons

G_M_S2 = 9.80665
CORNER_NOISE_N = 1.0        # the simulator's stated sensor noise per corner, RMS at 1 kHz


def play(source, clock, seconds, *, step_s=2.0):
    """Every set of the first ``seconds`` scenario seconds: scenario times (s) and calibrated force (N) per cell."""
    times, forces = [], []
    played = 0.0
    while played < seconds - 1e-9:
        step = min(step_s, seconds - played)
        clock.advance(step / source.speed)
        played += step
        while True:
            frames = source.read(4096)
            if frames.n_sets == 0:
                break
            times.append(source.scenario_time_s(frames.t_ns))
            forces.append(counts_to_newtons(frames.raw_counts, frames.flags, source.offset_counts,
                                            source.scale_n_per_count))
    return np.concatenate(times), np.concatenate(forces)


def ideal(scenario, **options):
    clock = FakeClock()
    return SimulatedSource(scenario, rate_hz=1000.0, adc="ideal", clock=clock, **options), clock


def quiet_window(source):
    """The quiet standing after the first step-on: from 0.5 s after it to 0.5 s before the next movement."""
    events = source.scripted_events()
    step_on = events[0]
    assert step_on.kind == "step-on"
    return step_on.end_s + 0.5, events[1].start_s - 0.5


# ------------------------------------------------------------------------------------- force and weight

@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ideal_force_is_the_true_force_plus_corner_noise(scenario):
    source, clock = ideal(scenario, seed=5)
    t_s, force_n = play(source, clock, source.loop_s)
    residual_n = force_n.sum(axis=1) - source.true_force_n(t_s)
    # Four independent corners of 1 N RMS: the total carries 2 N RMS; counts round by < 0.004 N.
    assert abs(residual_n.mean()) < 0.05
    assert residual_n.std() == pytest.approx(2 * CORNER_NOISE_N, rel=0.1)
    assert np.abs(residual_n).max() < 6 * 2 * CORNER_NOISE_N


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_quiet_standing_weighs_body_mass_times_g(seed):
    source, clock = ideal("standing", seed=seed)
    assert 55.0 <= source.body_mass_kg <= 90.0
    assert source.body_weight_n == pytest.approx(source.body_mass_kg * G_M_S2)
    t_s, force_n = play(source, clock, source.loop_s)
    total_n = force_n.sum(axis=1)
    start_s, end_s = quiet_window(source)
    assert end_s - start_s > 15.0
    quiet = (t_s >= start_s) & (t_s < end_s)
    assert total_n[quiet].mean() == pytest.approx(source.body_mass_kg * G_M_S2, rel=0.005)
    # Body weight is estimated from a quiet second: every one must be steady (SD well under 1 % BW) but
    # not flat (sway: about 0.3 % BW of force fluctuation, as in the real recordings).
    quiet_t = t_s[quiet]
    one_s = [total_n[quiet][(quiet_t >= a) & (quiet_t < a + 1.0)] for a in np.arange(start_s, end_s - 1.0, 0.5)]
    sd_bw = np.array([window.std() for window in one_s]) / source.body_weight_n
    assert sd_bw.max() < 0.007
    truth_bw = source.true_force_n(quiet_t) / source.body_weight_n
    assert 0.0015 < truth_bw.std() < 0.005


def test_given_body_mass_is_used():
    source, clock = ideal("standing", body_mass_kg=70.0)
    assert source.body_weight_n == pytest.approx(70.0 * G_M_S2)
    t_s, force_n = play(source, clock, 6.0)
    quiet = (t_s > 2.0) & (t_s < 5.0)
    assert force_n[quiet].sum(axis=1).mean() == pytest.approx(70.0 * G_M_S2, rel=0.005)


def test_empty_plate_reads_zero():
    source, clock = ideal("standing", seed=2)
    t_s, force_n = play(source, clock, 0.8)
    assert abs(force_n.sum(axis=1).mean()) < 0.5
    assert force_n.std(axis=0) == pytest.approx(np.full(4, CORNER_NOISE_N), rel=0.15)


def test_the_sensor_noise_can_be_chosen_and_the_same_seed_draws_the_same_noise_scaled():
    t_s, default_n = play(*ideal("standing", seed=2), 0.8)
    source, clock = ideal("standing", seed=2, noise_n=0.25)
    _, quieter_n = play(source, clock, 0.8)
    assert quieter_n.std(axis=0) == pytest.approx(np.full(4, 0.25), rel=0.15)
    np.testing.assert_allclose(quieter_n - quieter_n.mean(axis=0), 0.25 * (default_n - default_n.mean(axis=0)),
                               atol=0.005)           # within a count of rounding
    with pytest.raises(ConfigError, match="noise_n"):
        SimulatedSource("standing", noise_n=-1)


# ------------------------------------------------------------------------------------ corners and CoP

def test_centre_of_pressure_at_the_centre_loads_each_corner_a_quarter():
    corners = split_by_centre_of_pressure([800.0], [0.0], [0.0])
    np.testing.assert_allclose(corners, [[200.0, 200.0, 200.0, 200.0]])


@pytest.mark.parametrize("corner", range(4))
def test_centre_of_pressure_on_a_corner_loads_only_that_corner(corner):
    x_m, y_m = CORNERS_M[corner]
    expected = np.zeros((1, 4))
    expected[0, corner] = 700.0
    np.testing.assert_allclose(split_by_centre_of_pressure([700.0], [x_m], [y_m]), expected, atol=1e-9)


def test_corner_forces_sum_to_the_total_and_balance_its_moment():
    rng = np.random.default_rng(7)
    force_n = rng.uniform(0, 3000, 200)
    x_m = rng.uniform(-PLATE_WIDTH_M / 2, PLATE_WIDTH_M / 2, 200)
    y_m = rng.uniform(-PLATE_DEPTH_M / 2, PLATE_DEPTH_M / 2, 200)
    corners = split_by_centre_of_pressure(force_n, x_m, y_m)
    np.testing.assert_allclose(corners.sum(axis=1), force_n, rtol=1e-12)
    assert (corners >= 0).all()
    np.testing.assert_allclose(corners @ CORNERS_M[:, 0], force_n * x_m, atol=1e-9)     # moments, N m
    np.testing.assert_allclose(corners @ CORNERS_M[:, 1], force_n * y_m, atol=1e-9)


def test_each_corner_reads_its_share_of_the_true_force():
    source, clock = ideal("heel-drops", seed=3)
    t_s, force_n = play(source, clock, 12.0)
    cop_m = source.centre_of_pressure_m(t_s)
    expected_n = split_by_centre_of_pressure(source.true_force_n(t_s), cop_m[:, 0], cop_m[:, 1])
    residual_n = force_n - expected_n
    assert residual_n.std(axis=0) == pytest.approx(np.full(4, CORNER_NOISE_N), rel=0.1)
    # the person sways about 1 cm: the CoP is neither still nor wandering off
    standing = source.true_force_n(t_s) > 0.9 * source.body_weight_n
    assert 0.002 < cop_m[standing, 0].std() < 0.03


# -------------------------------------------------------------------------------------- the HX711 model

@pytest.mark.parametrize("rate_hz", [10.0, 80.0, 92.0])
def test_hx711_step_settles_in_four_output_periods(rate_hz):
    """Datasheet: output settling time 4 periods (400 ms at 10 SPS, 50 ms at 80 SPS)."""
    step_s, load_n = 1.0, 500.0
    force_n = np.where(np.arange(3000) / 1000.0 >= step_s, load_n, 0.0)
    period_s = 1 / rate_hz
    t_s = 0.0123 + np.arange(int(2.5 * rate_hz)) * period_s        # an arbitrary phase to the step
    out_n = hx711_words(force_n, t_s, rate_hz)
    since_s = t_s - step_s
    settled = since_s >= 4 * period_s + 0.001
    np.testing.assert_allclose(out_n[settled], load_n, rtol=1e-9)
    assert (out_n[since_s < 0] == 0).all()
    assert (out_n[(since_s >= 0) & (since_s < 3.5 * period_s)] < 0.99 * load_n).all()


def test_hx711_mean_of_a_long_constant_load_is_the_load():
    rng = np.random.default_rng(1)
    force_n = 650.0 + rng.normal(0, 2.0, 20_000)
    t_s = 0.1 + np.arange(1500) / 80.0
    out_n = hx711_words(force_n, t_s, 80.0)
    assert out_n.mean() == pytest.approx(650.0, abs=0.05)
    assert out_n.std() < 2.0 / 3          # averaging ~30 effective samples cuts the noise


def test_hx711_source_reads_body_weight_while_standing():
    clock = FakeClock()
    source = SimulatedSource("standing", adc="hx711", rate_hz=80.0, seed=4, clock=clock)
    t_s, force_n = play(source, clock, source.loop_s)
    start_s, end_s = quiet_window(source)
    quiet = (t_s >= start_s) & (t_s < end_s)
    assert force_n[quiet].sum(axis=1).mean() == pytest.approx(source.body_weight_n, rel=0.005)


def skewed_impact(t_s, onset_s, *, base_n=700.0, peak_n=2100.0, rise_s=0.012, total_s=0.030):
    """Fast half-cosine rise, slower half-cosine fall back to base (analytic)."""
    force_n = np.full(t_s.shape, base_n)
    rising = (t_s >= onset_s) & (t_s < onset_s + rise_s)
    force_n[rising] = base_n + (peak_n - base_n) * (1 - np.cos(np.pi * (t_s[rising] - onset_s) / rise_s)) / 2
    falling = (t_s >= onset_s + rise_s) & (t_s < onset_s + total_s)
    fall_s = total_s - rise_s
    force_n[falling] = base_n + (peak_n - base_n) * (1 + np.cos(np.pi * (t_s[falling] - onset_s - rise_s) / fall_s)) / 2
    return force_n


def test_hx711_largest_sample_under_reads_a_30ms_impact():
    """Design note: the largest sample of a 25-35 ms skewed impact reads about 13-21 % low at 82-92 SPS."""
    rng = np.random.default_rng(11)
    t_in_s = np.arange(2000) / 1000.0
    errors = []
    for _ in range(25):
        rate_hz = rng.uniform(82.0, 92.0)
        force_n = skewed_impact(t_in_s, 1.0) - 700.0                 # the impact above standing
        t_out_s = rng.uniform(0, 1 / rate_hz) + np.arange(int(1.9 * rate_hz)) / rate_hz
        out_n = hx711_words(force_n + 700.0, t_out_s, rate_hz)
        errors.append(out_n.max() / 2100.0 - 1)
        assert out_n.max() < 2100.0
    assert -0.25 < np.mean(errors) < -0.10


def test_hx711_source_under_reads_every_heel_drop():
    clock = FakeClock()
    source = SimulatedSource("heel-drops", adc="hx711", seed=6, clock=clock)
    t_s, force_n = play(source, clock, source.loop_s)
    total_n = force_n.sum(axis=1)
    drops = [e for e in source.scripted_events() if e.kind == "heel-drop"]
    assert len(drops) == 6
    for drop in drops:
        near = (t_s > drop.t_peak_s - 0.05) & (t_s < drop.t_peak_s + 0.1)     # the filter delays by 25 ms
        assert total_n[near].max() < drop.peak_n
        assert total_n[near].max() > 0.5 * drop.peak_n


# ----------------------------------------------------------------------------------------- scenarios

def test_heel_drops_match_the_script():
    source, clock = ideal("heel-drops", seed=8)
    t_s, force_n = play(source, clock, source.loop_s)
    total_bw = force_n.sum(axis=1) / source.body_weight_n
    bw_n = source.body_weight_n
    events = source.scripted_events()
    assert [e.kind for e in events] == ["step-on"] + ["heel-drop"] * 6 + ["step-off"]
    assert events[1].start_s - events[0].end_s >= 2.5          # quiet standing before the first rep
    drops = events[1:-1]
    peaks_bw = np.array([d.peak_bw for d in drops])
    assert ((peaks_bw >= 2.0) & (peaks_bw <= 3.8)).all()
    assert (peaks_bw < 2.5).any() and (peaks_bw >= 2.5).any()  # some reps too soft to count
    assert len(set(np.round(peaks_bw, 2))) == 6                # each rep its own
    for drop in drops:
        assert drop.contract_kind == "impact"
        assert drop.peak_n == pytest.approx(drop.peak_bw * bw_n)
        at_peak = np.argmin(np.abs(t_s - drop.t_peak_s))
        assert total_bw[at_peak] == pytest.approx(drop.peak_bw, abs=6 * 2 * CORNER_NOISE_N / bw_n)
        before = (t_s > drop.t_peak_s - 0.2) & (t_s < drop.t_peak_s)
        assert 0.45 < total_bw[before].min() < 0.75                 # the heels fall: unloading dip
        # the impact: a fast rise (12-30 ms from the dip) and back under 1.5 BW within 60 ms
        leaves_dip = np.flatnonzero(total_bw[before] <= total_bw[before].min() + 0.05)[-1]
        assert 0.010 <= drop.t_peak_s - t_s[before][leaves_dip] <= 0.031
        after = (t_s > drop.t_peak_s + 0.045) & (t_s < drop.t_peak_s + 0.3)
        assert total_bw[after].max() < 1.5
        assert 10.0 < drop.loading_rate_bw_s < 300.0


def test_jumps_match_the_script_and_ballistics():
    source, clock = ideal("jumps", seed=9)
    t_s, force_n = play(source, clock, source.loop_s)
    total_n = force_n.sum(axis=1)
    bw_n = source.body_weight_n
    jumps = [e for e in source.scripted_events() if e.kind == "jump"]
    assert len(jumps) == 3
    for jump in jumps:
        assert 0.3 <= jump.flight_s <= 0.5 + 0.01
        assert 3.5 <= jump.peak_bw <= 5.0
        assert jump.height_flight_m == pytest.approx(G_M_S2 * jump.flight_s ** 2 / 8)
        # one take-off velocity gives both the push-off impulse and the flight time (ballistics)
        assert jump.height_impulse_m == pytest.approx(jump.height_flight_m, rel=0.06)
        in_flight = (t_s > jump.takeoff_s + 0.005) & (t_s < jump.landing_s - 0.005)
        assert np.abs(total_n[in_flight]).max() < 12.0                  # empty plate in the air
        push = (t_s > jump.start_s) & (t_s < jump.takeoff_s - 0.13)          # before the final drop to 0 N
        assert 0.25 < total_n[push].min() / bw_n < 0.55                  # countermovement unloading
        assert 1.9 < total_n[push].max() / bw_n < 2.6                    # propulsion
        # the 20 N crossings in the delivered samples agree with the ground truth to the millisecond
        crossed = np.flatnonzero((total_n[:-1] >= 20.0) & (total_n[1:] < 20.0) & (t_s[:-1] > jump.start_s))[0]
        assert t_s[crossed] == pytest.approx(jump.takeoff_s, abs=0.002)
        landing = (t_s > jump.landing_s - 0.05) & (t_s < jump.landing_s + 0.1)
        assert total_n[landing].max() == pytest.approx(jump.peak_n, abs=12.0)


def test_sit_to_stand_matches_the_script():
    source, clock = ideal("sit-to-stand", seed=10)
    t_s, force_n = play(source, clock, source.loop_s)
    total_bw = force_n.sum(axis=1) / source.body_weight_n
    reps = [e for e in source.scripted_events() if e.kind == "sit-to-stand"]
    assert len(reps) == 4
    for rep in reps:
        assert 1.3 <= rep.peak_bw <= 1.6
        seated = (t_s > rep.t_peak_s - 1.2) & (t_s < rep.t_peak_s - 0.5)
        assert total_bw[seated].mean() == pytest.approx(0.25, abs=0.05)   # the chair carries the rest
        sit_down = (t_s > rep.start_s) & (t_s < rep.start_s + 2.0)
        assert total_bw[sit_down].max() < 1.05                          # a slow sit, no impact


def test_step_on_off_has_only_steps():
    source, clock = ideal("step-on-off", seed=12)
    t_s, force_n = play(source, clock, source.loop_s)
    kinds = [e.kind for e in source.scripted_events()]
    assert set(kinds) == {"step-on", "step-off"} and kinds.count("step-on") == kinds.count("step-off") == 3
    assert force_n.sum(axis=1).max() < 1.2 * source.body_weight_n
    assert all(e.contract_kind is None for e in source.scripted_events())


def test_session_has_a_bit_of_everything():
    source = SimulatedSource(clock=FakeClock())
    assert source.name == "sim:session" and source.adc == "hx711" and source.rate_hz == 80.0
    kinds = {e.kind for e in source.scripted_events()}
    assert {"heel-drop", "jump", "sit-to-stand", "step-on", "step-off"} <= kinds


def test_events_of_later_loops_are_shifted_by_the_loop_length():
    source, _ = ideal("jumps", seed=1)
    one = source.scripted_events()
    three = source.scripted_events(until_s=3 * source.loop_s)
    assert len(three) == 3 * len(one)
    assert three[len(one) + 1].t_peak_s == pytest.approx(one[1].t_peak_s + source.loop_s)
    np.testing.assert_allclose(source.true_force_n([one[1].t_peak_s + 2 * source.loop_s]), one[1].peak_n, rtol=1e-6)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_loop_is_continuous_at_the_seam(scenario):
    source, clock = ideal(scenario, seed=13)
    t_s, force_n = play(source, clock, source.loop_s + 1.0)
    seam = (t_s > source.loop_s - 0.5) & (t_s < source.loop_s + 0.5)
    # empty plate on both sides; no step between samples beyond the noise (1 N RMS per corner)
    assert np.abs(force_n[seam].sum(axis=1)).max() < 12.0
    assert np.abs(np.diff(force_n[seam], axis=0)).max() < 8.0
    # the same person does the same reps again
    n_loop = source.loop_samples
    np.testing.assert_array_equal(force_n[n_loop:n_loop + 500], force_n[:500])


def test_hx711_output_is_continuous_at_the_seam():
    clock = FakeClock()
    source = SimulatedSource("jumps", adc="hx711", seed=14, clock=clock)
    t_s, force_n = play(source, clock, source.loop_s + 1.0)
    seam = (t_s > source.loop_s - 0.5) & (t_s < source.loop_s + 0.5)
    assert np.abs(force_n[seam].sum(axis=1)).max() < 3.0       # filtered noise of an empty plate


# ------------------------------------------------------------------------------------- reproducibility

def first_counts(**options):
    clock = FakeClock()
    source = SimulatedSource("heel-drops", clock=clock, **options)
    clock.advance(6.0)
    return source.read().raw_counts


def test_same_seed_gives_the_same_samples():
    np.testing.assert_array_equal(first_counts(seed=3), first_counts(seed=3))


def test_another_seed_gives_other_samples():
    a, b = first_counts(seed=3), first_counts(seed=4)
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_calibration_keeps_five_body_weights_on_one_corner_in_24_bits():
    for seed in range(10):
        source = SimulatedSource("jumps", seed=seed, body_mass_kg=90.0, clock=FakeClock())
        assert (np.abs(source.offset_counts) >= 10_000).all()
        counts = source.offset_counts + 5 * source.body_weight_n / source.scale_n_per_count
        assert (np.abs(counts) < 0x7FFFFF).all()
        assert ((source.scale_n_per_count >= 0.001) & (source.scale_n_per_count <= 0.01)).all()


def test_loop_is_small_enough_for_a_pi_zero():
    source = SimulatedSource("session", clock=FakeClock())
    held = source._corners_n.nbytes + source._total_n.nbytes + source._cop_m.nbytes
    assert held < 20e6


@pytest.mark.parametrize("adc,rate_hz", [("ideal", 1000.0), ("hx711", 80.0)])
def test_drop_landings_with_and_without_a_rebound_are_analysed_as_scripted(adc, rate_hz):
    # the person steps back onto a box, drops onto the plate and either rebounds into a jump or stands
    from forceplate.signal import analyze_force
    clock = FakeClock()
    source = SimulatedSource("drop-landings", rate_hz=rate_hz, adc=adc, clock=clock, seed=4)
    t_s, force_n = play(source, clock, source.loop_s)
    scripted = [e for e in source.scripted_events() if e.contract_kind is not None]
    assert [e.kind for e in scripted] == ["drop-landing", "jump", "drop-landing", "drop-landing", "jump"]
    assert all(3.5 <= e.peak_bw <= 5.0 for e in scripted if e.kind == "drop-landing")
    found = analyze_force(t_s, force_n, rate_hz, adc=adc, exercise="drop-landing").event_dicts()
    assert [e["kind"] for e in found] == [e.contract_kind for e in scripted]
    for event, truth in zip(found, scripted):
        assert event["t_peak_s"] == pytest.approx(truth.t_peak_s, abs=0.02)
        assert event["peak_bw"] == pytest.approx(truth.peak_bw, rel=0.10)
        if truth.kind == "jump":
            assert event["takeoff_s"] == pytest.approx(truth.takeoff_s, abs=0.01)
            assert event["flight_s"] == pytest.approx(truth.flight_s, abs=0.015)
            assert event["height_impulse_m"] is None        # no quiet standing before a rebound
        else:
            assert event["landing"] == "drop onto the plate"

"""Centre of pressure, lean and sway (forceplate.signal.cop): statics, analytic paths and the simulator's CoP.

The real recordings carry per-foot totals, not corners, so CoP is checked on loads placed at known points
(moment balance of a rigid plate), on analytic sway paths, and against the simulator's scripted CoP.
"""
import math

import numpy as np
import pytest

from forceplate.device.sim.mock import FakeClock
from forceplate.device.sim.simulator import CORNERS_M, SimulatedSource, split_by_centre_of_pressure
from forceplate.signal import estimate_body_weight
from forceplate.signal.cop import DEFAULT_CORNERS_M, centre_of_pressure, lean_during_impacts, sway_measures

CORNER_NOISE_N = 1.0        # the simulator's stated noise per corner, RMS


def corners_for(total_n, x_m, y_m, half_w=0.25, half_d=0.20):
    """Corner forces of a load at (x, y) on a rigid rectangular plate on four corners (FL, FR, BL, BR):
    sum = total, and the moments about x and y balance (bilinear shares, the statically determinate split)."""
    fx = 0.5 + np.asarray(x_m) / (2 * half_w)
    fy = 0.5 + np.asarray(y_m) / (2 * half_d)
    total_n = np.asarray(total_n, dtype=float)
    return np.stack([total_n * (1 - fx) * fy, total_n * fx * fy, total_n * (1 - fx) * (1 - fy),
                     total_n * fx * (1 - fy)], axis=-1)


def test_default_corners_are_the_simulators():
    np.testing.assert_array_equal(DEFAULT_CORNERS_M, CORNERS_M)


@pytest.mark.parametrize("x_m, y_m", [(0.0, 0.0), (0.10, -0.05), (-0.2, 0.15), (0.25, 0.20)])
def test_a_load_at_a_known_point(x_m, y_m):
    cop = centre_of_pressure(corners_for([700.0], x_m, y_m).reshape(1, 4))
    assert cop.x_m[0] == pytest.approx(x_m, abs=1e-12)
    assert cop.y_m[0] == pytest.approx(y_m, abs=1e-12)
    assert cop.total_n[0] == pytest.approx(700.0)


def test_all_on_one_corner_is_that_corner():
    for k in range(4):
        forces = np.zeros((1, 4))
        forces[0, k] = 500.0
        cop = centre_of_pressure(forces)
        assert (cop.x_m[0], cop.y_m[0]) == pytest.approx(tuple(CORNERS_M[k]))


def test_two_equal_loads_balance_between_them():
    # 300 N at (-0.1, 0) and 600 N at (0.2, 0.1): CoP = (300*-0.1 + 600*0.2) / 900, (600*0.1) / 900
    forces = corners_for([300.0], -0.1, 0.0) + corners_for([600.0], 0.2, 0.1)
    cop = centre_of_pressure(forces.reshape(1, 4))
    assert cop.x_m[0] == pytest.approx(0.1)
    assert cop.y_m[0] == pytest.approx(60.0 / 900.0)


def test_a_plate_of_another_size():
    corners = np.array([(-0.3, 0.3), (0.3, 0.3), (-0.3, -0.3), (0.3, -0.3)])
    forces = corners_for([800.0], 0.12, -0.09, half_w=0.3, half_d=0.3).reshape(1, 4)
    cop = centre_of_pressure(forces, corners)
    assert (cop.x_m[0], cop.y_m[0]) == pytest.approx((0.12, -0.09))


def test_empty_plate_and_nan_give_nan():
    forces = np.array([[1.0, 2.0, 3.0, 4.0], [np.nan, 200.0, 200.0, 200.0], [200.0, 200.0, 200.0, 200.0]])
    cop = centre_of_pressure(forces)          # 10 N total is below the 20 N empty-plate threshold
    assert np.isnan(cop.x_m[:2]).all() and np.isnan(cop.y_m[:2]).all()
    assert (cop.x_m[2], cop.y_m[2]) == pytest.approx((0.0, 0.0))


def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="one column per corner"):
        centre_of_pressure(np.ones((5, 3)))
    with pytest.raises(ValueError, match="corners_m"):
        centre_of_pressure(np.ones((5, 2)), np.zeros((2, 2)))


def test_the_simulators_corners_give_its_scripted_cop():
    source = SimulatedSource("session", rate_hz=1000.0, adc="ideal", seed=7, clock=FakeClock())
    t = np.arange(1, int(source.loop_s * 1000)) / 1000.0
    cop = centre_of_pressure(source.corner_force_n(t))
    truth = source.centre_of_pressure_m(t)
    total = source.true_force_n(t)
    loaded = total > 0.5 * source.body_weight_n
    # Noise n_i on corner i moves x by sum(n_i (x_i - x)) / F: SD = 1 N x sqrt(sum (x_i - x)^2) / F
    # (about 0.7 mm at 700 N), and the same for y.
    for axis, measured in ((0, cop.x_m), (1, cop.y_m)):
        spread_m = np.sqrt(((CORNERS_M[None, :, axis] - truth[:, axis, None]) ** 2).sum(axis=1))
        z = ((measured - truth[:, axis]) * total / (CORNER_NOISE_N * spread_m))[loaded]
        assert abs(z.mean()) < 0.05
        assert z.std() == pytest.approx(1.0, rel=0.05)
    assert np.isnan(cop.x_m[source.true_force_n(t) < 5.0]).all()          # the empty plate has no CoP


# ---------------------------------------------------------------------------------------------- lean

def impact_with_cop(dx_m, dy_m, *, rate_hz=1000.0):
    """4 s: standing at (0.01, -0.02); a 3 BW half-sine impact at 2.0-2.05 s with the CoP moved by
    (dx, dy) throughout it."""
    t = np.arange(int(4 * rate_hz)) / rate_hz
    phase = (t - 2.0) / 0.05
    total = 700.0 * (1 + 2.0 * np.where((phase >= 0) & (phase <= 1), np.sin(np.pi * np.clip(phase, 0, 1)), 0))
    during = (t >= 1.95) & (t <= 2.1)
    x = 0.01 + np.where(during, dx_m, 0.0)
    y = -0.02 + np.where(during, dy_m, 0.0)
    return t, corners_for(total, x, y)


@pytest.mark.parametrize("dx_m, dy_m, direction", [(0.0, 0.05, "forward"), (0.0, -0.05, "back"),
                                                   (0.045, 0.0, "right"), (-0.045, 0.0, "left"),
                                                   (-0.04, 0.06, "forward-left"), (0.02, -0.03, "centred")])
def test_lean_at_the_impact(dx_m, dy_m, direction):
    t, corners = impact_with_cop(dx_m, dy_m)
    cop = centre_of_pressure(corners)
    (lean,) = lean_during_impacts(cop, t, [2.025], quiet_window_s=(0.5, 1.5))
    assert lean.dx_m == pytest.approx(dx_m, abs=1e-9)
    assert lean.dy_m == pytest.approx(dy_m, abs=1e-9)
    assert lean.displacement_m == pytest.approx(math.hypot(dx_m, dy_m), abs=1e-9)
    assert lean.direction == direction
    assert lean.is_leaning is (direction != "centred")


def test_lean_threshold_is_configurable():
    t, corners = impact_with_cop(0.0, 0.03)
    cop = centre_of_pressure(corners)
    assert lean_during_impacts(cop, t, [2.025], quiet_window_s=(0.5, 1.5))[0].is_leaning is False
    assert lean_during_impacts(cop, t, [2.025], quiet_window_s=(0.5, 1.5), threshold_m=0.02)[0].direction == "forward"


def test_no_reference_or_no_cop_gives_no_verdict():
    t, corners = impact_with_cop(0.0, 0.05)
    cop = centre_of_pressure(corners)
    assert lean_during_impacts(cop, t, [2.025], quiet_window_s=None)[0].is_leaning is None
    empty = centre_of_pressure(np.zeros_like(corners))
    (lean,) = lean_during_impacts(empty, t, [2.025], quiet_window_s=(0.5, 1.5))
    assert lean.direction is None and lean.dx_m is None


def test_simulated_heel_drops_lean_as_scripted():
    # The script moves the CoP 2 cm back (toward the heels) at a heel drop's impact: below the 3.5 cm line.
    source = SimulatedSource("heel-drops", rate_hz=1000.0, adc="ideal", seed=2, clock=FakeClock())
    t = np.arange(1, int(source.loop_s * 1000)) / 1000.0
    corners = source.corner_force_n(t)
    weight = estimate_body_weight(corners.sum(axis=1), 1000.0, t_s=t)
    drops = [e for e in source.scripted_events() if e.kind == "heel-drop"]
    leans = lean_during_impacts(centre_of_pressure(corners), t, [e.t_peak_s for e in drops],
                                quiet_window_s=(weight.start_s, weight.end_s))
    truth = source.centre_of_pressure_m(t)
    quiet = (t >= weight.start_s) & (t <= weight.end_s)
    for lean, drop in zip(leans, drops):
        at = np.abs(t - drop.t_peak_s) <= 0.025          # the CoP of the load summed over the window
        force = source.true_force_n(t[at])
        expected_dy = np.sum(force * truth[at, 1]) / np.sum(force) - truth[quiet, 1].mean()
        assert lean.dy_m == pytest.approx(expected_dy, abs=0.003)
        assert lean.is_leaning is False


# ---------------------------------------------------------------------------------------------- sway

def circle(radius_m=0.01, period_s=4.0, turns=3, rate_hz=100.0):
    t = np.arange(int(turns * period_s * rate_hz) + 1) / rate_hz
    w = 2 * np.pi / period_s
    return t, radius_m * np.cos(w * t), radius_m * np.sin(w * t)


def test_sway_of_a_circle_is_analytic():
    r, period, turns, rate = 0.01, 4.0, 3, 100.0
    t, x, y = circle(r, period, turns, rate)
    sway = sway_measures(x, y, rate)
    n_steps = int(turns * period * rate)
    chord = 2 * r * math.sin(math.pi / (period * rate))      # each step is a chord of the circle
    assert sway.path_length_m == pytest.approx(n_steps * chord, rel=1e-9)
    assert sway.path_length_m == pytest.approx(turns * 2 * math.pi * r, rel=1e-4)
    assert sway.duration_s == pytest.approx(turns * period)
    assert sway.mean_velocity_m_s == pytest.approx(2 * math.pi * r / period, rel=1e-4)
    assert sway.rms_m == pytest.approx(r, rel=1e-3)          # every point is r from the centre
    assert sway.rms_x_m == pytest.approx(r / math.sqrt(2), rel=1e-3)
    # covariance diag(r^2/2, r^2/2): area = pi x 5.991 x r^2 / 2
    assert sway.ellipse_area_m2 == pytest.approx(math.pi * 5.991464547 * r * r / 2, rel=1e-3)


def test_ellipse_area_of_an_elongated_sway():
    # x = a cos, y = b sin: variances a^2/2, b^2/2, no covariance
    t = np.arange(4000) / 100.0
    a, b = 0.02, 0.005
    sway = sway_measures(a * np.cos(2 * np.pi * t / 5), b * np.sin(2 * np.pi * t / 5), 100.0)
    assert sway.ellipse_area_m2 == pytest.approx(math.pi * 5.991464547 * a * b / 2, rel=1e-3)
    assert sway.rms_y_m == pytest.approx(b / math.sqrt(2), rel=1e-3)


def test_the_window_limits_the_measures():
    t, x, y = circle(turns=4)
    sway = sway_measures(x, y, 100.0, t_s=t, window_s=(4.0, 12.0))
    assert sway.duration_s == pytest.approx(8.0)
    assert sway.path_length_m == pytest.approx(2 * 2 * math.pi * 0.01, rel=1e-4)
    assert "4.00-12.00 s" in sway.method


def test_lowpass_removes_noise_and_keeps_slow_sway():
    t, x, y = circle(radius_m=0.01, period_s=4.0, turns=5, rate_hz=100.0)
    rng = np.random.default_rng(0)
    noisy_x, noisy_y = x + 0.001 * rng.standard_normal(x.shape), y + 0.001 * rng.standard_normal(y.shape)
    true_path = 5 * 2 * math.pi * 0.01
    raw = sway_measures(noisy_x, noisy_y, 100.0)
    assert raw.path_length_m > 2 * true_path                  # 1 mm of noise per sample dominates the path
    smooth = sway_measures(noisy_x, noisy_y, 100.0, lowpass_hz=2.0)
    assert smooth.path_length_m == pytest.approx(true_path, rel=0.1)
    clean = sway_measures(x, y, 100.0, lowpass_hz=5.0)       # a 0.25 Hz circle passes a 5 Hz low-pass whole
    assert clean.path_length_m == pytest.approx(true_path, rel=0.005)
    assert "Butterworth" in clean.method


def test_nan_gaps_leave_the_path_out():
    t, x, y = circle(turns=2)
    x = x.copy()
    x[100:200] = np.nan                                       # one second lost (e.g. a step off)
    sway = sway_measures(x, y, 100.0)
    n_steps = len(t) - 1 - 101                               # steps touching a NaN sample are left out
    chord = 2 * 0.01 * math.sin(math.pi / 400)
    assert sway.path_length_m == pytest.approx(n_steps * chord, rel=1e-9)
    assert sway.samples == len(t) - 100


def test_too_few_samples_give_nan():
    sway = sway_measures([np.nan, np.nan, 0.01], [0.0, 0.0, 0.0], 100.0)
    assert sway.samples == 1 and math.isnan(sway.path_length_m) and math.isnan(sway.ellipse_area_m2)


def test_standing_still_has_no_sway():
    sway = sway_measures(np.full(500, 0.02), np.full(500, -0.01), 100.0)
    assert sway.path_length_m == 0.0 and sway.rms_m == 0.0 and sway.ellipse_area_m2 == 0.0


def test_simulated_standing_sway_matches_the_scripted_cop():
    source = SimulatedSource("standing", rate_hz=100.0, adc="ideal", seed=3, clock=FakeClock())
    t = np.arange(1, int(source.loop_s * 100)) / 100.0
    events = source.scripted_events()
    window = (events[0].end_s + 1.0, events[1].start_s - 1.0)        # after the step-on, before the step-off
    cop = centre_of_pressure(source.corner_force_n(t))
    measured = sway_measures(cop.x_m, cop.y_m, 100.0, t_s=t, window_s=window)
    truth_xy = source.centre_of_pressure_m(t)
    truth = sway_measures(truth_xy[:, 0], truth_xy[:, 1], 100.0, t_s=t, window_s=window)
    # RMS and area come from centimetres of sway: sub-millimetre noise barely moves them
    assert measured.rms_m == pytest.approx(truth.rms_m, rel=0.03)
    assert measured.ellipse_area_m2 == pytest.approx(truth.ellipse_area_m2, rel=0.06)
    # the path adds up every noisy step; a 5 Hz low-pass (the sway is 0.2-0.5 Hz) brings it back
    filtered = sway_measures(cop.x_m, cop.y_m, 100.0, t_s=t, window_s=window, lowpass_hz=5.0)
    assert filtered.path_length_m == pytest.approx(truth.path_length_m, rel=0.1)


def test_split_and_cop_are_inverse():
    # the simulator's split of a total by a CoP, read back by centre_of_pressure
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-0.2, 0.2, 50), rng.uniform(-0.15, 0.15, 50)
    cop = centre_of_pressure(split_by_centre_of_pressure(np.full(50, 650.0), x, y))
    np.testing.assert_allclose(cop.x_m, x, atol=1e-12)
    np.testing.assert_allclose(cop.y_m, y, atol=1e-12)

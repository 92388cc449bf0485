"""Weighing from quiet standing (forceplate.signal.bodyweight)."""
import numpy as np
import pytest

from forceplate.signal import estimate_body_weight
from signals import half_sine_impact, standing


def test_quiet_standing_gives_its_mean():
    t, f, truth = standing(700.0, total_s=3.0, rate_hz=1000.0, noise_n=2.0)
    bw = estimate_body_weight(f, 1000.0, t_s=t)
    assert bw.weight_n == pytest.approx(700.0, abs=0.5)        # 2 N noise averaged over 1000 samples
    assert bw.sd_n == pytest.approx(2.0, rel=0.15)
    assert bw.mass_kg == pytest.approx(700.0 / 9.80665, abs=0.05)
    assert bw.end_s - bw.start_s == pytest.approx(0.999)


def test_the_quietest_second_wins():
    noisy = standing(700.0, total_s=2.0, noise_n=4.0, seed=1)[1]
    calm = standing(690.0, total_s=1.5, noise_n=0.5, seed=2)[1]
    f = np.concatenate([noisy, calm])
    bw = estimate_body_weight(f, 1000.0)
    assert bw.weight_n == pytest.approx(690.0, abs=0.2)
    assert bw.start_s >= 2.0 - 1e-9


def test_swaying_gives_no_weight_and_says_so():
    t = np.arange(3000) / 1000.0
    f = 700.0 + 30.0 * np.sin(2 * np.pi * 1.5 * t)             # SD 21 N > max(7 N, 5 N)
    bw = estimate_body_weight(f, 1000.0)
    assert bw.weight_n is None
    assert "stand still" in bw.method


def test_sd_limit_is_one_percent_or_five_newtons():
    rng = np.random.default_rng(3)
    for weight, sd, accepted in [(1000.0, 9.0, True), (1000.0, 11.5, False), (300.0, 4.5, True), (300.0, 5.8, False)]:
        z = rng.standard_normal(1000)
        f = weight + sd * (z - z.mean()) / z.std(ddof=1)        # exactly this SD
        assert (estimate_body_weight(f, 1000.0).weight_n is not None) is accepted, (weight, sd)


def test_empty_plate_is_not_a_person():
    bw = estimate_body_weight(np.zeros(5000), 1000.0)
    assert bw.weight_n is None and "step on" in bw.method


def test_too_short_a_recording_has_no_weight():
    assert estimate_body_weight(np.full(50, 700.0), 100.0).weight_n is None


def test_invalid_samples_are_never_weighed():
    f = np.full(3000, 700.0)
    valid = np.ones(3000, dtype=bool)
    valid[::400] = False                                        # no clean second anywhere
    assert estimate_body_weight(f, 1000.0, valid=valid).weight_n is None


def test_impact_does_not_move_the_weight():
    t, f, truth = half_sine_impact(650.0, 3.0)
    assert estimate_body_weight(f, 1000.0).weight_n == pytest.approx(650.0)


def test_input_is_not_modified():
    f = standing(700.0, noise_n=1.0)[1]
    copy = f.copy()
    estimate_body_weight(f, 1000.0)
    np.testing.assert_array_equal(f, copy)

"""Tare, known-mass scale fit and auto-zero, on plates whose true calibration the test sets."""
import numpy as np
import pytest

from forceplate.signal.calibration import AutoZero, counts_to_newtons, fit_scales, tare

G = 9.80665
OFFSET = np.array([41_000.0, -12_500.0, 3_300.0, 77_000.0])
SCALE = np.array([0.0031, 0.0029, 0.0033, 0.0030])          # N per count
CORNERS = np.array([[-0.25, 0.2], [0.25, 0.2], [-0.25, -0.2], [0.25, -0.2]])


def counts_for(weight_n, x_m, y_m, *, noise=0.0, n=1, seed=0):
    """Counts of each cell for a weight at (x, y) on a rigid plate (bilinear share over the corners)."""
    u, v = (x_m + 0.25) / 0.5, (y_m + 0.2) / 0.4
    share = np.array([(1 - u) * v, u * v, (1 - u) * (1 - v), u * (1 - v)])
    rng = np.random.default_rng(seed)
    return OFFSET + weight_n * share / SCALE + noise * rng.standard_normal((n, 4))


def test_tare_is_the_mean_of_an_empty_still_plate():
    result = tare(counts_for(0.0, 0, 0, noise=30.0, n=400))
    np.testing.assert_allclose(result.offset_counts, OFFSET, atol=10)    # 30 / sqrt(400) = 1.5 counts SE


def test_tare_refuses_a_plate_that_moves_and_names_the_cell():
    counts = counts_for(0.0, 0, 0, noise=5.0, n=100)
    counts[50:, 2] += 5_000                      # someone touched the back-left corner
    with pytest.raises(ValueError, match="load cell 2: the reading moved"):
        tare(counts)


def test_tare_leaves_out_flagged_words():
    counts = counts_for(0.0, 0, 0, n=20)
    flags = np.zeros_like(counts, dtype=np.uint8)
    counts[3, 1], flags[3, 1] = 8_388_607, 2     # a saturated word
    np.testing.assert_allclose(tare(counts, flags).offset_counts, OFFSET, atol=1e-6)


def test_known_mass_at_centre_and_corners_recovers_every_cell_scale():
    mass_kg = 20.0
    spots = [(0, 0), (-0.2, 0.15), (0.2, 0.15), (-0.2, -0.15), (0.2, -0.15)]
    placements = np.array([counts_for(mass_kg * G, x, y)[0] for x, y in spots])
    fit = fit_scales(OFFSET, placements, mass_kg)
    np.testing.assert_allclose(fit.scale_n_per_count, SCALE, rtol=1e-6)
    assert fit.worst_error_n < 1e-6
    standing = counts_for(700.0, 0.05, -0.03)
    assert counts_to_newtons(standing, np.zeros((1, 4)), OFFSET, fit.scale_n_per_count).sum() == pytest.approx(700.0)


def test_a_cell_that_reads_wrong_shows_in_the_residuals():
    mass_kg = 20.0
    spots = [(0, 0), (-0.2, 0.15), (0.2, 0.15), (-0.2, -0.15), (0.2, -0.15)]
    placements = np.array([counts_for(mass_kg * G, x, y)[0] for x, y in spots])
    placements[1] += [3_000, 0, 0, 0]            # one placement where a cell slipped
    assert fit_scales(OFFSET, placements, mass_kg).worst_error_n > 1.0


def test_too_few_placements_are_refused_with_advice():
    with pytest.raises(ValueError, match="centre and at each corner"):
        fit_scales(OFFSET, counts_for(100.0, 0, 0, n=2), 10.0)


def test_autozero_takes_out_drift_of_an_empty_still_plate():
    zero = AutoZero(4, 80.0, window_s=1.0)
    drift = np.array([2.0, -1.0, 0.5, 3.0])        # N per cell
    rng = np.random.default_rng(1)
    cells = drift + 0.3 * rng.standard_normal((80, 4))
    assert zero.feed(cells) is True
    np.testing.assert_allclose(zero.offset_n, drift, atol=0.2)
    assert zero.drift_n == pytest.approx(drift.sum(), abs=0.3)
    assert not zero.needs_attention


def test_autozero_never_zeroes_a_person_away():
    zero = AutoZero(4, 80.0, window_s=1.0)
    person = np.full((400, 4), 700.0 / 4)          # perfectly still, but someone is on the plate
    assert zero.feed(person) is False
    np.testing.assert_array_equal(zero.offset_n, 0.0)


def test_autozero_waits_while_the_empty_plate_moves():
    zero = AutoZero(4, 80.0, window_s=1.0)
    t = np.arange(80) / 80.0
    wobble = 10.0 * np.sin(2 * np.pi * 2 * t)[:, None] * np.ones(4) / 4   # total swings +-10 N: not still
    assert zero.feed(wobble) is False


def test_large_drift_asks_for_attention():
    zero = AutoZero(4, 80.0, window_s=1.0, warn_drift_n=5.0)
    zero.feed(np.full((80, 4), 2.0))
    assert zero.needs_attention

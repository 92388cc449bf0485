"""The shared helpers the detectors lean on: runs of a mask, rolling statistics shared across detectors."""
import numpy as np
import pytest

from forceplate.signal.common import Rolling, median, moving_average, rolling_stats, runs, window_ok
from forceplate.signal.bodyweight import estimate_body_weight
from forceplate.signal.events import weigh_standing
from forceplate.signal.jumps import detect_jumps
from signals import jump, standing


def _runs_by_loop(mask):
    starts, ends = [], []
    for i, value in enumerate(mask):
        if value and (i == 0 or not mask[i - 1]):
            starts.append(i)
        if value and (i == len(mask) - 1 or not mask[i + 1]):
            ends.append(i + 1)
    return starts, ends


def test_runs_are_the_runs_of_true():
    rng = np.random.default_rng(0)
    for n in [0, 1, 2, 3, 7, 50]:
        for _ in range(50):
            mask = rng.random(n) < rng.random()
            starts, ends = runs(mask)
            assert (starts.tolist(), ends.tolist()) == _runs_by_loop(mask.tolist())
            assert starts.dtype == np.intp and ends.dtype == np.intp


def test_rolling_stats_are_each_window_mean_and_sample_sd():
    rng = np.random.default_rng(1)
    force = 700.0 + rng.normal(0.0, 3.0, 500)
    stats = rolling_stats(force, 50)
    windows = np.lib.stride_tricks.sliding_window_view(force, 50)
    assert stats.mean_n == pytest.approx(windows.mean(axis=1), abs=1e-9)
    assert stats.sd_n == pytest.approx(windows.std(axis=1, ddof=1), abs=1e-9)
    assert stats.fits(500, 50) and not stats.fits(500, 49) and not stats.fits(499, 50)
    assert rolling_stats(force[:10], 50).mean_n.size == 0 and rolling_stats(force, 50).window == 50


def test_a_window_holding_an_invalid_sample_is_not_ok():
    valid = np.ones(20, dtype=bool)
    valid[7] = False
    valid[19] = False                                        # the last sample: only the last window holds it
    assert window_ok(valid, 5, 16).tolist() == [not (k <= 7 < k + 5) and k != 15 for k in range(16)]
    assert window_ok(None, 5, 16).all()                      # no validity mask: every window counts


def test_given_rolling_stats_give_the_same_results_as_computing_them():
    f1 = standing(700.0, total_s=2.0, noise_n=2.0)[1]
    force = np.concatenate([f1, jump(700.0, stand_s=1.5)[1], f1])
    rate = 1000.0
    stats = rolling_stats(force, 1000)
    assert estimate_body_weight(force, rate, rolling=stats) == estimate_body_weight(force, rate)
    assert weigh_standing(force, rate, rolling=stats) == weigh_standing(force, rate)
    jumps = detect_jumps(force, rate, body_weight_n=700.0)
    assert len(jumps) == 1 and jumps[0].height_impulse_m is not None
    assert detect_jumps(force, rate, body_weight_n=700.0, rolling=stats) == jumps
    wrong = Rolling(999, stats.mean_n, stats.sd_n)           # another window length: ignored, not misused
    assert estimate_body_weight(force, rate, rolling=wrong) == estimate_body_weight(force, rate)


def _moving_average_by_definition(values, width):
    n = values.shape[0]
    half = width // 2
    return np.array([values[max(0, i - half):min(n, i - half + width)].mean() for i in range(n)])


@pytest.mark.parametrize("n", [0, 1, 4, 9, 10, 11, 200])
@pytest.mark.parametrize("width", [1, 2, 5, 10, 30])
def test_moving_average_is_centred_and_shrinks_at_the_ends(n, width):
    values = np.random.default_rng(n * 100 + width).normal(300.0, 50.0, n)
    assert moving_average(values, width) == pytest.approx(_moving_average_by_definition(values, width), abs=1e-9)


def test_median_is_numpys_median():
    rng = np.random.default_rng(2)
    for n in [1, 2, 3, 4, 101, 1000]:
        values = np.round(rng.normal(700.0, 50.0, n))        # ties too
        copy = values.copy()
        assert median(values) == float(np.median(values))
        assert np.array_equal(values, copy)                  # the caller's array is not reordered
    with_nan = np.array([1.0, np.nan, 3.0])
    assert np.isnan(median(with_nan)) and np.isnan(np.median(with_nan))

"""The HX711 model and the estimators that see peaks and flight edges through it (forceplate.signal.hx711_model).

Expected values come from the model's definition (a B-spline of order 4: settles in 4 periods, DC gain 1,
step response 1/2 at its centre, 2 periods), analytic pulses of known peak, physics (h = g t^2 / 8), and the
authors' 1 kHz / 600 Hz recordings in tests/data as the truth. Never from our own output.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forceplate.signal import detect_impacts
from forceplate.signal.events import event_dict
from forceplate.signal.hx711_model import (DEFAULT_MODEL, Hx711Model, estimate_edge, estimate_impact, filter_samples,
                                           kernel, respond, skewed_pulse)
from helpers import data_path

G = 9.80665


def half_sine(onset_s, duration_s, peak_n, base_n):
    def force(t):
        u = (np.asarray(t) - onset_s) / duration_s
        return base_n + (peak_n - base_n) * np.where((u > 0) & (u < 1), np.sin(np.pi * np.clip(u, 0, 1)), 0.0)
    return force


def step_words(lag_s, rate_hz, *, model=DEFAULT_MODEL):
    """What the model's words read `lag_s` (s) after a unit step in force (its step response)."""
    return respond(lambda t: (np.asarray(t) >= 0).astype(np.float64), np.atleast_1d(lag_s), rate_hz, model=model)


def words(force_fn, rate_hz, phase_s, n_before=8, n_after=12, at_s=1.0, noise_n=0.0, rng=None):
    t = at_s + phase_s + np.arange(-n_before, n_after) / rate_hz
    y = respond(force_fn, t, rate_hz)
    if noise_n:
        y = y + rng.normal(0, noise_n, t.size)
    return t, y


# ------------------------------------------------------------------------------------------ the model

@pytest.mark.parametrize("rate_hz", [10.0, 80.0, 92.0])
def test_step_settles_in_order_periods_and_dc_gain_is_one(rate_hz):
    period = 1 / rate_hz
    lag = np.linspace(-period, 6 * period, 701)
    s = step_words(lag, rate_hz)
    assert (s[lag <= 0] == 0).all()
    np.testing.assert_allclose(s[lag >= 4 * period], 1.0, atol=1e-12)          # datasheet: 4 periods
    assert (s[(lag > 0) & (lag < 3.9 * period)] < 1.0).all()
    assert step_words(2 * period, rate_hz)[0] == pytest.approx(0.5, abs=1e-12)  # symmetric B-spline
    k = kernel(lag, rate_hz)
    area = float(np.sum((k[1:] + k[:-1]) * np.diff(lag)) / 2)        # trapezoid rule (numpy >= 1.24)
    assert area == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(respond(lambda t: np.full(np.shape(t), 650.0), [0.1, 0.7], rate_hz), 650.0,
                               rtol=1e-12)


def test_order_and_delay_are_configurable():
    model = Hx711Model(order=3, delay_s=0.005)
    rate = 80.0
    assert model.span_s(rate) == pytest.approx(0.005 + 3 / 80)
    assert step_words(0.005, rate, model=model)[0] == 0.0
    assert step_words(0.005 + 3 / 80, rate, model=model)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        Hx711Model(order=0)


def test_sampled_filter_matches_the_analytic_response():
    """The simulator's path (1 kHz samples, weights) and quadrature of the analytic force agree."""
    force = half_sine(1.0, 0.030, 2500.0, 700.0)
    t_in = np.arange(3000) / 1000.0
    t = 1.0 + 0.0041 + np.arange(-5, 10) / 86.0
    np.testing.assert_allclose(filter_samples(force(t_in), t, 86.0), respond(force, t, 86.0), rtol=0, atol=3.0)


# ------------------------------------------------------------------------------------------ impacts

def test_half_sine_peak_recovered_at_random_phases():
    """A 25-60 ms half-sine of known peak, 82-92 SPS, random phase, 2 N noise: within 12 %, median within 7 %
    (measured 5.2 %: the spiked shapes the words cannot rule out pull the median of the plausible peaks a few
    % high; the largest word reads 5-25 % low)."""
    rng = np.random.default_rng(5)
    errors, largest = [], []
    for _ in range(30):
        rate, d = rng.uniform(82, 92), rng.uniform(0.025, 0.060)
        t, y = words(half_sine(1.0, d, 2500.0, 700.0), rate, rng.uniform(0, 1 / rate), noise_n=2.0, rng=rng)
        est = estimate_impact(t, y, baseline_n=None)
        errors.append(est.peak_n / 2500.0 - 1)
        largest.append(y.max() / 2500.0 - 1)
        assert est.method.startswith("fit of skewed pulses and heel spikes through a 4-boxcar HX711 model")
        assert est.low_n <= est.peak_n <= est.high_n
    assert np.max(np.abs(errors)) < 0.12
    assert np.median(np.abs(errors)) < 0.07
    assert np.median(np.abs(errors)) < np.median(np.abs(largest)) / 2


def test_range_contains_the_truth_for_skewed_pulses():
    rng = np.random.default_rng(8)
    inside = 0
    for _ in range(30):
        rate, d = rng.uniform(82, 92), rng.uniform(0.025, 0.060)
        r = d * rng.uniform(0.2, 0.5)
        peak = rng.uniform(1.5, 5) * 700.0
        f = lambda t: skewed_pulse(t, onset_s=1.0, rise_s=r, fall_s=d - r, peak_n=peak, before_n=700.0)  # noqa
        t, y = words(f, rate, rng.uniform(0, 1 / rate), noise_n=2.0, rng=rng)
        est = estimate_impact(t, y, baseline_n=None)
        inside += est.low_n <= peak <= est.high_n
        assert est.low_n <= est.peak_n <= est.high_n
    assert inside >= 23                           # about 80 % (measured: 78-92 % over the bench's draws)


def test_slow_pulse_is_recovered_almost_exactly():
    """A 200 ms push (a slow loading) barely feels a 47 ms filter: estimate within 1 %."""
    f = lambda t: skewed_pulse(t, onset_s=1.0, rise_s=0.1, fall_s=0.1, peak_n=1400.0, before_n=700.0)  # noqa
    t, y = words(f, 85.0, 0.004, n_before=6, n_after=25, noise_n=2.0, rng=np.random.default_rng(1))
    est = estimate_impact(t, y, baseline_n=None)
    assert est.peak_n == pytest.approx(1400.0, rel=0.01)
    assert est.t_peak_s == pytest.approx(1.1, abs=0.006)


@settings(max_examples=15, deadline=None)
@given(scale=st.floats(0.5, 3.0), shift_s=st.floats(-0.5, 0.5))
def test_estimate_scales_with_force_and_shifts_with_time(scale, shift_s):
    f = half_sine(1.0, 0.035, 2500.0, 700.0)
    t, y = words(f, 86.0, 0.003)
    ref = estimate_impact(t, y, baseline_n=None)
    est = estimate_impact(t + shift_s, y * scale, baseline_n=None)
    assert est.peak_n == pytest.approx(ref.peak_n * scale, rel=1e-3)
    assert est.low_n == pytest.approx(ref.low_n * scale, rel=1e-3)
    assert est.t_peak_s == pytest.approx(ref.t_peak_s + shift_s, abs=1e-3)


def test_drop_landing_with_a_known_flight_level():
    """Empty plate (0 N) before, body weight after: the estimate uses the level it is given."""
    f = lambda t: skewed_pulse(t, onset_s=1.0, rise_s=0.012, fall_s=0.030, peak_n=2800.0, before_n=0.0,  # noqa
                               after_n=700.0, rise_kind="abrupt")
    t, y = words(f, 88.0, 0.007, noise_n=2.0, rng=np.random.default_rng(3))
    est = estimate_impact(t, y, baseline_n=0.0)
    assert y.max() < 0.85 * 2800.0
    assert est.peak_n == pytest.approx(2800.0, rel=0.05)
    assert est.onset_s == pytest.approx(1.0, abs=0.006)
    assert est.low_n >= 2.5 * 700.0          # 4 BW, far from the line: even the range's low end is a thump


def heel_spike_landing(onset_s, bw, spike_bw, spike_at_s=0.035, spike_s=0.020):
    """A landing from flight: a slow rise to 2 BW over 90 ms with a smooth 20 ms heel spike on top."""
    def force(t):
        t = np.asarray(t, dtype=float) - onset_s
        slow = 2 * bw * np.clip(np.sin(np.pi / 2 * np.clip(t / 0.09, 0, 1)), 0, 1) * (t > 0)
        u = (t - spike_at_s) / spike_s
        spike = spike_bw * bw * np.where((u > 0) & (u < 1), (1 - np.cos(2 * np.pi * np.clip(u, 0, 1))) / 2, 0.0)
        return slow + spike
    return force


def test_heel_spike_on_a_slow_rise_is_inside_the_range():
    """What the single-pulse family missed on real hard landings: a 20 ms spike (raised cosine, outside the
    family's exact shapes) on a slow rise. The truth, found on a fine grid, lies inside [low, high] at most
    phases, and the estimate beats the largest word."""
    rng = np.random.default_rng(4)
    bw = 700.0
    inside, err, err_largest = 0, [], []
    for _ in range(12):
        rate = rng.uniform(82, 92)
        f = heel_spike_landing(1.0, bw, rng.uniform(2.0, 4.0))
        fine = np.arange(0.9, 1.3, 1e-4)
        truth = f(fine).max()
        t, y = words(f, rate, rng.uniform(0, 1 / rate), noise_n=2.0, rng=rng)
        est = estimate_impact(t, y, baseline_n=0.0)
        inside += est.low_n <= truth <= est.high_n
        err.append(abs(est.peak_n / truth - 1))
        err_largest.append(abs(y.max() / truth - 1))
    assert inside >= 9
    assert np.median(err) < np.median(err_largest) / 2
    assert np.median(err) < 0.08


def test_borderline_exactly_when_the_range_straddles_the_threshold():
    """An impact found in HX711 words is thump_borderline exactly when its plausible range straddles the
    thump line (low < threshold <= high); off the line, its thump verdict is the whole range's, since the
    estimate lies inside it (low <= peak <= high)."""
    rng = np.random.default_rng(6)
    bw = 700.0
    for _ in range(20):
        rate = rng.uniform(82, 92)
        peak = rng.uniform(2.0, 3.0) * bw
        f = half_sine(1.0, rng.uniform(0.025, 0.05), peak, bw)
        t, y = words(f, rate, rng.uniform(0, 1 / rate), noise_n=2.0, rng=rng)
        (impact,) = detect_impacts(y, rate, t_s=t, body_weight_n=bw, adc="hx711")
        event = event_dict(impact, 2.5)
        low_bw, high_bw = impact.peak_low_n / bw, impact.peak_high_n / bw
        assert low_bw <= impact.peak_bw <= high_bw
        assert event["thump_borderline"] == (low_bw < 2.5 <= high_bw)
        if not event["thump_borderline"]:
            assert event["thump"] == (low_bw >= 2.5)


@pytest.mark.parametrize("case", ["few", "nan", "flat", "all-nan"])
def test_degenerate_input_is_an_error_or_flagged(case):
    t = 1.0 + np.arange(12) / 86.0
    if case == "few":
        est = estimate_impact(t[:4], np.array([700.0, 900, 1500, 800]), baseline_n=None)
        assert not est.is_reliable and "words" in est.note
    elif case == "nan":
        t2, y = words(half_sine(1.0, 0.035, 2500.0, 700.0), 86.0, 0.003)
        y[3] = np.nan                                   # a lost word: skipped
        est = estimate_impact(t2, y, baseline_n=None)
        assert "lost" in est.note and est.peak_n == pytest.approx(2500.0, rel=0.10)
        assert est.low_n <= 2500.0 <= est.high_n
    elif case == "flat":
        est = estimate_impact(t, np.full(12, 700.0), baseline_n=None)
        assert not est.is_reliable and "flat" in est.note
    else:
        with pytest.raises(ValueError, match="finite"):
            estimate_impact(t, np.full(12, np.nan), baseline_n=None)


# ------------------------------------------------------------------------------------------ edges

def flight_trace(rate_hz, phase_s, flight_s=0.45, bw=700.0):
    """Push-off falling linearly to 0 over 60 ms, flight, landing rising at full slope over 40 ms."""
    t_off, t_on = 1.0, 1.0 + flight_s

    def force(t):
        t = np.asarray(t)
        push = 1.8 * bw * np.clip((t_off - t) / 0.06, 0, 1)
        land = skewed_pulse(t, onset_s=t_on, rise_s=0.04, fall_s=0.08, peak_n=3 * bw, before_n=0.0,
                            after_n=bw, rise_kind="abrupt")
        return np.where(t < t_off, push, np.where(t < t_on, 0.0, land))
    true_off = t_off - 0.06 * 20.0 / (1.8 * bw)
    true_on = t_on + 0.04 * 2 / np.pi * np.arcsin(20.0 / (3 * bw))
    t = 0.6 + phase_s + np.arange(int(1.2 * rate_hz)) / rate_hz
    return t, respond(force, t, rate_hz, nodes=32), true_off, true_on


@pytest.mark.parametrize("rate_hz,phase", [(82.0, 0.1), (86.0, 0.5), (92.0, 0.9)])
def test_edges_of_a_synthetic_flight_within_a_few_ms(rate_hz, phase):
    t, y, true_off, true_on = flight_trace(rate_hz, phase / rate_hz)
    y = y + np.random.default_rng(2).normal(0, 2.0, y.size)
    below = np.flatnonzero(y < 20.0)
    i0, i1 = below[0], below[-1] + 1
    off = estimate_edge(t[i0 - 4:i0 + 6], y[i0 - 4:i0 + 6], kind="takeoff")
    on = estimate_edge(t[i1 - 7:i1 + 2], y[i1 - 7:i1 + 2], kind="landing")
    assert off.t_s == pytest.approx(true_off, abs=0.004)
    assert on.t_s == pytest.approx(true_on, abs=0.004)
    assert off.low_s <= off.t_s <= off.high_s
    # the plain crossing reads the flight short; the estimate gets the height within 1 cm
    plain = on.sample_crossing_s - off.sample_crossing_s
    true = true_on - true_off
    assert plain < true - 0.010
    assert G * (on.t_s - off.t_s) ** 2 / 8 == pytest.approx(G * true ** 2 / 8, abs=0.01)


def test_edge_without_a_crossing_is_an_error():
    t = np.arange(10) / 86.0
    with pytest.raises(ValueError, match="take-off"):
        estimate_edge(t, np.full(10, 700.0), kind="takeoff")
    with pytest.raises(ValueError, match="kind"):
        estimate_edge(t, np.full(10, 700.0), kind="jump")


# ------------------------------------------------------------------------------------ real recordings

RECORDINGS = ("gidiel_vj_single_cmj", "gidiel_vj_single_sj", "gidiel_vj_single_dj", "acl_squat_jump_bfr003",
              "acl_squat_jump_bfr007", "bmc_duarte_grfzjump", "bmc_duarte_grfzjump_m")


def test_real_recordings_through_the_model():
    """The authors' 1 kHz / 600 Hz landings through the model (82-92 SPS, random phase, 2 N noise). Goals we
    reach: flight height within 2 cm (p90 well under 1 cm); peak median error <= 5 % and p90 <= 10 %; the
    truth inside [low, high] in at least 80 % (measured about 90-97 %); thump verdicts at 2.5 BW at least
    90 % right. The truth here is the recordings' own fast samples."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import hx711_accuracy as bench
    rng = np.random.default_rng(11)
    peaks, flights = bench.real_set(rng, draws=3)
    p = bench.summarise_peaks(peaks)
    f = bench.summarise_flights(flights)
    assert p["n"] >= 30 and f["n"] >= 20
    assert p["estimate_abs_err_pct"]["median"] <= p["largest_word_abs_err_pct"]["median"] + 0.5
    assert p["estimate_abs_err_pct"]["median"] <= 5.0
    assert p["estimate_abs_err_pct"]["p90"] <= 10.0
    assert p["range_coverage_pct"] >= 80.0
    assert p["thump_agreement_pct"]["estimate"] >= 90.0
    assert f["estimate"]["height_err_cm"]["max_abs"] < 2.0
    assert f["estimate"]["height_err_cm"]["p90_abs"] < 1.0
    assert abs(f["estimate"]["flight_err_ms"]["median"]) < 5.0
    assert f["plain"]["flight_err_ms"]["median"] < -8.0            # the filter shortens plain flights
    # the recordings are the ones the data README lists, loaded as their own check values say
    meta = json.loads(data_path("bmc_duarte_grfzjump.json").read_text())
    assert meta["sample_rate_hz"] == 600.0

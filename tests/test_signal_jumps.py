"""Flights and jumps (forceplate.signal.jumps) on analytic traces."""
import numpy as np
import pytest

from forceplate.signal import detect_jumps, find_flights
from forceplate.signal.hx711_model import filter_samples
from signals import G, jump, parabolic_flight_s, standing

HX711_RATE_HZ = 86.0        # a typical part at "80 SPS" (the chip's oscillator runs fast)


def hx711_words(t_s, force_n, phase_s):
    """The words an HX711 at HX711_RATE_HZ reads from a 1 kHz force (the filter model), starting at `phase_s`."""
    t_words = np.arange(phase_s, t_s[-1], 1 / HX711_RATE_HZ)
    return t_words, filter_samples(force_n, t_words, HX711_RATE_HZ, input_rate_hz=1000.0)


def test_flight_time_gives_textbook_height():
    t, f, truth = jump(650.0, flight_s=parabolic_flight_s(0.30))
    (j,) = detect_jumps(f, 1000.0, t_s=t, body_weight_n=650.0)
    assert j.takeoff_s == pytest.approx(truth["takeoff_s"], abs=1e-6)
    assert j.landing_s == pytest.approx(truth["landing_s"], abs=1e-6)
    assert j.flight_s == pytest.approx(truth["flight_s"], abs=1e-6)
    assert j.height_flight_m == pytest.approx(G * truth["flight_s"] ** 2 / 8, rel=1e-6)


def test_impulse_height_matches_the_analytic_takeoff_velocity():
    t, f, truth = jump(650.0, flight_s=0.45)
    (j,) = detect_jumps(f, 1000.0, t_s=t, body_weight_n=650.0)
    # the contract integrates to the 20 N crossing, not to 0 N: 6 mm/s more here (the last 0.6 ms at ~ -W)
    assert j.takeoff_velocity_m_s == pytest.approx(truth["takeoff_velocity_20n_m_s"], abs=1e-4)
    assert j.takeoff_velocity_m_s == pytest.approx(truth["takeoff_velocity_m_s"], abs=0.01)
    assert j.height_impulse_m == pytest.approx(truth["height_impulse_m"], rel=0.01)


def test_landing_peak_and_loading_rate():
    t, f, truth = jump(650.0, land_peak_bw=4.0, land_rise_s=0.04)
    (j,) = detect_jumps(f, 1000.0, t_s=t, body_weight_n=650.0)
    assert j.peak_n == pytest.approx(truth["peak_n"], rel=1e-3)
    assert j.peak_bw == pytest.approx(4.0, rel=1e-3)
    assert j.t_peak_s == pytest.approx(truth["t_peak_s"], abs=0.0011)
    assert j.loading_rate_bw_s == pytest.approx(truth["loading_rate_bw_s"], rel=0.03)


def test_no_quiet_standing_means_no_impulse_height():
    t, f, truth = jump(650.0, stand_s=0.3)
    (j,) = detect_jumps(f, 1000.0, t_s=t, body_weight_n=650.0)
    assert j.height_impulse_m is None and "no quiet standing" in j.impulse_method
    assert j.height_flight_m == pytest.approx(truth["height_flight_m"], rel=1e-6)


def test_one_sample_spike_in_flight_does_not_split_the_jump():
    t, f, truth = jump(650.0, flight_s=0.4)
    mid = int(np.searchsorted(t, truth["takeoff_s"] + 0.2))
    f = f.copy()
    f[mid] = 300.0
    jumps = detect_jumps(f, 1000.0, t_s=t, body_weight_n=650.0)
    assert len(jumps) == 1
    assert jumps[0].flight_s == pytest.approx(truth["flight_s"], abs=1e-6)


def test_recording_that_ends_in_flight_reports_the_jump_with_nulls():
    t, f, truth = jump(650.0, flight_s=0.4)
    cut = int(np.searchsorted(t, truth["takeoff_s"] + 0.2))
    (j,) = detect_jumps(f[:cut], 1000.0, t_s=t[:cut], body_weight_n=650.0)
    assert j.takeoff_s == pytest.approx(truth["takeoff_s"], abs=1e-6)
    assert j.landing_s is None and j.flight_s is None and j.height_flight_m is None
    assert j.peak_n is None and j.peak_bw is None and j.loading_rate_bw_s is None


def test_stepping_off_is_not_a_jump():
    on = standing(700.0, total_s=2.0)[1]
    off_ramp = np.linspace(700.0, 0.0, 400)                    # weight shifted off over 0.4 s
    f = np.concatenate([on, off_ramp, np.zeros(500)])          # only 0.5 s empty at the end
    flights = find_flights(f, 1000.0, body_weight_n=700.0)
    assert [fl.kind for fl in flights] == ["empty plate"]
    assert detect_jumps(f, 1000.0, body_weight_n=700.0) == []


def test_long_empty_plate_is_not_a_jump():
    on = standing(700.0, total_s=2.0)[1]
    f = np.concatenate([on, np.linspace(700, 0, 20), np.zeros(1500), np.linspace(0, 700, 20), on])
    assert detect_jumps(f, 1000.0, body_weight_n=700.0) == []


def test_threshold_is_three_percent_of_a_heavy_body_weight():
    t, f, truth = jump(1000.0, flight_s=0.4)
    (j,) = detect_jumps(f, 1000.0, t_s=t, body_weight_n=1000.0)
    assert j.flight_threshold_n == pytest.approx(30.0)
    # the straight take-off edge crosses 30 N at unload_s x 30 / W before reaching zero
    assert j.takeoff_s == pytest.approx(truth["takeoff_s"] - 0.02 * (30.0 - 20.0) / 1000.0, abs=1e-6)


@pytest.mark.parametrize("rate_hz", [80.0, 100.0, 600.0])
def test_flight_is_found_at_low_rates(rate_hz):
    t, f, truth = jump(650.0, flight_s=0.4, rate_hz=rate_hz, unload_s=0.05, land_rise_s=0.06)
    (j,) = detect_jumps(f, rate_hz, t_s=t, body_weight_n=650.0)
    assert j.flight_s == pytest.approx(truth["flight_s"], abs=1.0 / rate_hz)


def test_input_is_not_modified():
    t, f, truth = jump(650.0)
    copy = f.copy()
    detect_jumps(f, 1000.0, t_s=t, body_weight_n=650.0)
    np.testing.assert_array_equal(f, copy)



@pytest.mark.parametrize("phase_s", [0.0, 0.004, 0.008])
def test_hx711_flight_is_timed_on_the_true_force(phase_s):
    # The filter spans 4 output periods: the words fall through 20 N late after take-off and rise through it
    # a little late at landing, so their plain crossings read the flight 15-20 ms short (2 cm of a 30 cm
    # jump). Through the model both edges come within a few milliseconds of the true force's crossings.
    t, f, truth = jump(650.0, flight_s=parabolic_flight_s(0.30))
    t_words, words = hx711_words(t, f, phase_s)
    (plain,) = detect_jumps(words, HX711_RATE_HZ, t_s=t_words, body_weight_n=650.0)       # words as samples
    (j,) = detect_jumps(words, HX711_RATE_HZ, t_s=t_words, body_weight_n=650.0, adc="hx711")
    assert plain.flight_s < truth["flight_s"] - 0.010
    assert j.takeoff_s == pytest.approx(truth["takeoff_s"], abs=0.003)
    assert j.landing_s == pytest.approx(truth["landing_s"], abs=0.003)
    assert j.flight_s == pytest.approx(truth["flight_s"], abs=0.003)
    assert j.height_flight_m == pytest.approx(G * j.flight_s ** 2 / 8, rel=1e-12)
    assert "edge fit" in j.height_method and "uncorrected" in j.impulse_method
    # a word is a weighted mean of the force: the true landing peak is at least the largest word (less the
    # 2 x 2 N of word noise the estimate allows for), and the plausible range holds it; 86 SPS cannot show a
    # 40 ms rise, so no loading rate
    assert words.max() - 4.0 <= j.peak_n <= j.peak_high_n
    assert j.peak_low_n <= truth["peak_n"] <= j.peak_high_n
    assert j.loading_rate_bw_s is None and j.loading_rate_method.startswith("not resolved")


def test_a_takeoff_seen_through_the_hx711_filter_is_still_a_jump():
    # unload_s 0.085: force falls from 75 % of the push-off peak (54.7 ms before the straight fall begins) to
    # 20 N in 137 ms, under the 150 ms that tells a take-off from stepping off. The words fall up to 4 output
    # periods (47 ms) more slowly; the limit allows for that at every phase.
    t, f, _ = jump(650.0, unload_s=0.085)
    assert [flight.kind for flight in find_flights(f, 1000.0, t_s=t, body_weight_n=650.0)] == ["jump"]
    for phase_s in np.arange(0.0, 1 / HX711_RATE_HZ, 0.002):
        t_words, words = hx711_words(t, f, phase_s)
        flights = find_flights(words, HX711_RATE_HZ, t_s=t_words, body_weight_n=650.0, adc="hx711")
        assert [flight.kind for flight in flights] == ["jump"]


def test_stepping_off_seen_through_the_hx711_filter_is_not_a_jump():
    # unload_s 0.25: 297 ms from 75 % of the push-off peak to 20 N, longer than the limit even with the
    # filter's 4 output periods added: the person stepped off.
    t, f, _ = jump(650.0, unload_s=0.25)
    for phase_s in np.arange(0.0, 1 / HX711_RATE_HZ, 0.004):
        t_words, words = hx711_words(t, f, phase_s)
        flights = find_flights(words, HX711_RATE_HZ, t_s=t_words, body_weight_n=650.0, adc="hx711")
        assert [flight.kind for flight in flights] == ["empty plate"]

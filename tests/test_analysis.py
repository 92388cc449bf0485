"""analyze_force and analyze_file: analytic properties, and the real recordings in tests/data.

Expected values come from the recordings' authors (``reference_author``) or from the README's description of
each movement, never from forceplate's own output.
"""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from forceplate.analyze import analyze_file, format_report
from forceplate.exc import ConfigError
from forceplate.signal import analyze_force
from helpers import data_path, quiet_stance_csv, recordings
from signals import half_sine_impact, jump, standing


def analyse(name, **options):
    return analyze_file(data_path(f"{name}.csv"), **options)


def reference(name):
    return json.loads(data_path(f"{name}.json").read_text())


# -- analytic --------------------------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.5, 2.0))
def test_scaling_force_scales_newtons_and_leaves_body_weights(scale):
    t, f, truth = half_sine_impact(650.0, 3.2, duration_s=0.05)
    base = analyze_force(t, f, 1000.0).event_dicts()
    scaled = analyze_force(t, f * scale, 1000.0).event_dicts()
    assert [e["kind"] for e in scaled] == [e["kind"] for e in base] == ["impact"]
    assert scaled[0]["peak_n"] == pytest.approx(base[0]["peak_n"] * scale, abs=0.1)
    assert scaled[0]["peak_bw"] == pytest.approx(base[0]["peak_bw"], abs=1e-3)
    assert scaled[0]["loading_rate_bw_s"] == pytest.approx(base[0]["loading_rate_bw_s"], abs=0.1)


@settings(max_examples=25, deadline=None)
@given(shift_s=st.floats(-100.0, 1000.0))
def test_a_time_shift_shifts_the_events(shift_s):
    t, f, truth = jump(650.0, flight_s=0.4)
    base = analyze_force(t, f, 1000.0).event_dicts()
    moved = analyze_force(t + shift_s, f, 1000.0).event_dicts()
    assert len(moved) == len(base) == 1
    for key in ("takeoff_s", "landing_s", "t_peak_s"):
        assert moved[0][key] == pytest.approx(base[0][key] + shift_s, abs=2e-4)
    for key in ("flight_s", "peak_n", "height_flight_m", "height_impulse_m"):
        assert moved[0][key] == pytest.approx(base[0][key], abs=2e-4)


def test_jump_with_body_weight_from_standing():
    t, f, truth = jump(650.0, flight_s=0.45)
    result = analyze_force(t, f, 1000.0)
    assert result.body_weight_n == pytest.approx(650.0)
    (event,) = result.event_dicts()
    assert event["kind"] == "jump"
    assert event["height_flight_m"] == pytest.approx(truth["height_flight_m"], abs=1e-4)
    assert event["peak_bw"] == pytest.approx(truth["peak_bw"], abs=1e-3)
    assert event["thump"] is True


def test_no_body_weight_nulls_every_bw_field():
    t, f, truth = jump(650.0, stand_s=0.3, after_s=0.3)
    result = analyze_force(t, f, 1000.0)
    assert result.body_weight_n is None
    (event,) = result.event_dicts()
    assert event["peak_bw"] is None and event["thump"] is None and event["loading_rate_bw_s"] is None
    assert event["peak_n"] == pytest.approx(truth["peak_n"], abs=0.1)


def test_nan_samples_are_bridged_not_fatal():
    t, f, truth = half_sine_impact(700.0, 3.0)
    f = f.copy()
    f[100:110] = np.nan
    result = analyze_force(t, f, 1000.0)
    assert result.invalid_samples == 10
    assert result.body_weight_n == pytest.approx(700.0)
    (event,) = result.event_dicts()
    assert event["peak_bw"] == pytest.approx(3.0, abs=1e-3)


def test_all_zeros_and_empty_traces():
    assert analyze_force(np.arange(1000) / 100, np.zeros(1000), 100.0).event_dicts() == []
    empty = analyze_force(np.empty(0), np.empty(0), 100.0)
    assert empty.event_dicts() == [] and empty.body_weight_n is None


def test_per_cell_columns_are_summed():
    t, f, truth = half_sine_impact(800.0, 2.0)
    cells = np.column_stack([f * 0.1, f * 0.2, f * 0.3, f * 0.4])
    (event,) = analyze_force(t, cells, 1000.0).event_dicts()
    assert event["peak_n"] == pytest.approx(1600.0, abs=0.1)


def test_events_are_json_safe(tmp_path):
    t, f, _ = jump(650.0)
    path = tmp_path / "jump.csv"
    np.savetxt(path, np.column_stack([t, f]), delimiter=",", header="t_s,fz_n", comments="", fmt="%.6f")
    result = analyze_file(path)
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text)["contract"] == 1
    assert "jump" in format_report(result) and "THUMP" in format_report(result)


@pytest.mark.parametrize("options, what", [
    ({"body_mass_kg": 19.0}, "--body-mass"), ({"body_mass_kg": 301.0}, "--body-mass"),
    ({"body_mass_kg": float("nan")}, "--body-mass"), ({"thump_bw": 0.0}, "--thump-bw"),
    ({"thump_bw": -1.0}, "--thump-bw"), ({"min_peak_bw": 0.5}, "--min-peak-bw"),
    ({"min_peak_bw": float("inf")}, "--min-peak-bw"),
])
def test_bad_options_are_named(tmp_path, options, what):
    with pytest.raises(ConfigError, match=what):
        analyze_file(tmp_path / "never-read.csv", **options)


# -- real recordings --------------------------------------------------------------------------------------------

def kinds(result):
    return [e["kind"] for e in result["events"]]


def test_quiet_standing_has_a_weight_and_no_events(tmp_path):
    path = quiet_stance_csv(tmp_path)
    force_n = np.loadtxt(path, delimiter=",", skiprows=1)[:, 1]
    result = analyze_file(path)
    assert result["events"] == []
    assert result["body_weight_n"] == pytest.approx(force_n.mean(), rel=0.005)    # standing still: mean force
    assert result["sample_rate_hz"] == 1000.0 and result["duration_s"] == pytest.approx(1.5, abs=0.002)


def test_bmc_duarte_jump_against_the_author():
    """Author: take-off 0.907 s and landing 1.323 s, the first and last sample below 10 N above the series'
    minimum (about 3 N absolute), not interpolated; h = 0.213 m with g = 9.8. We cross 20 N, interpolated, so
    our take-off comes earlier and our landing later (the edges take a few ms to pass from 3 N to 20 N),
    and our height is a little larger."""
    author = reference("bmc_duarte_grfzjump")["reference_author"]
    result = analyse("bmc_duarte_grfzjump")
    assert result["body_weight_n"] is None                      # only 0.19 s of stance: no quiet second
    (event,) = result["events"]
    assert event["kind"] == "jump" and event["peak_bw"] is None and event["thump"] is None
    assert author["takeoff_s"] - 0.006 <= event["takeoff_s"] <= author["takeoff_s"]
    assert author["landing_s"] <= event["landing_s"] <= author["landing_s"] + 0.008
    author_height_m = 9.80665 * (author["landing_s"] - author["takeoff_s"]) ** 2 / 8
    assert author["jump_height_flight_time_m"] == pytest.approx(author_height_m, abs=0.002)
    assert author_height_m <= event["height_flight_m"] <= author_height_m + 0.01


def test_bmc_duarte_body_mass_gives_body_weights():
    result = analyse("bmc_duarte_grfzjump", body_mass_kg=65.0)
    assert result["body_weight_n"] == pytest.approx(65.0 * 9.80665, abs=0.1)
    (event,) = result["events"]
    assert event["peak_bw"] == pytest.approx(event["peak_n"] / (65.0 * 9.80665), abs=1e-3)
    assert event["thump"] is (event["peak_bw"] >= 2.5)


def test_bfr007_jumps_against_the_hand_marked_phases():
    """Author phases are hand-marked boundaries, not threshold crossings: the 'Concentric Phase' ends a few
    ms after a threshold take-off and the 'Landing Phase' starts before the threshold landing (README)."""
    phases = reference("acl_squat_jump_bfr007")["reference_author"]["phases"]
    result = analyse("acl_squat_jump_bfr007")
    assert kinds(result) == ["jump", "jump", "jump"]             # the step-off at the end is not a jump
    for k, event in enumerate(result["events"], start=1):
        concentric_end_s = phases["Concentric Phase"][f"jump{k}"]["end_s"]
        landing_start_s = phases["Landing Phase"][f"jump{k}"]["start_s"]
        assert concentric_end_s - 0.025 <= event["takeoff_s"] <= concentric_end_s
        assert landing_start_s <= event["landing_s"] <= landing_start_s + 0.03
        span = phases["Event"][f"jump{k}"]
        assert span["start_s"] < event["takeoff_s"] < event["t_peak_s"] < span["end_s"]


def test_bfr003_three_jumps():
    result = analyse("acl_squat_jump_bfr003")
    assert kinds(result) == ["jump", "jump", "jump"]
    assert result["body_weight_n"] is not None


def test_drop_jump_is_an_impact_then_a_jump():
    result = analyse("gidiel_vj_single_dj")
    assert kinds(result) == ["impact", "jump"]
    drop, rebound = result["events"]
    assert 1.85 < drop["t_peak_s"] < 2.1 and drop["peak_bw"] > 4.0      # README: about 4.7 BW
    assert drop["landing"] == "drop onto the plate"
    assert drop["t_peak_s"] < rebound["takeoff_s"]
    assert rebound["height_impulse_m"] is None                  # no quiet standing before a rebound


@pytest.mark.parametrize("name", ["gidiel_vj_single_cmj", "gidiel_vj_single_sj"])
def test_single_jumps_from_standing(name):
    result = analyse(name)
    (event,) = result["events"]
    assert event["kind"] == "jump" and event["thump"] is True
    assert result["body_weight_n"] is not None
    # two independent methods on one jump: flight time and impulse agree within a few centimetres
    assert event["height_impulse_m"] == pytest.approx(event["height_flight_m"], abs=0.03)


def test_sj_landing_is_very_hard():
    (event,) = analyse("gidiel_vj_single_sj")["events"]
    assert event["peak_bw"] > 5.0                                # README: about 6 BW


def test_step_on_and_rebound_hop():
    result = analyse("bmc_duarte_grfzjump_m")
    assert result["body_weight_n"] is not None
    # the CMJ, then the ~44 ms rebound hop: a flight of more than 2 samples is a jump by the contract
    assert kinds(result) == ["jump", "jump"]
    hop = result["events"][1]
    assert hop["flight_s"] == pytest.approx(0.044, abs=0.005)


def test_every_recording_is_json_safe_in_both_adc_modes():
    for csv in recordings():
        for adc in ("ideal", "hx711"):
            result = analyze_file(csv, adc=adc)
            json.dumps(result, allow_nan=False)
            for event in result["events"]:
                if adc == "hx711":
                    assert event["loading_rate_bw_s"] is None
                    if event["peak_n"] is not None:      # the method names the chip: a fit, or the raw word
                        assert "HX711" in event["peak_method"]
                for value in event.values():
                    assert not (isinstance(value, float) and not math.isfinite(value))

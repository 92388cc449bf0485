"""Session summary (forceplate.signal.summary) and the optional fields it adds to `forceplate analyze`.

Expected values are worked by hand from known lists of peaks: OI = median peak (BW) x ln(reps + 1).
"""
import math

import numpy as np
import pytest

from forceplate.analyze import analyze_file, format_report
from forceplate.signal import analyze_force
from forceplate.signal.summary import intensity_band, is_caution, summarize_session
from helpers import data_path, quiet_stance_csv
from signals import half_sine_impact, join, jump, standing


def impacts(*peaks_bw):
    return [{"kind": "impact", "peak_n": 700.0 * p, "peak_bw": p, "thump": p >= 2.5} for p in peaks_bw]


def test_osteogenic_index_by_hand():
    s = summarize_session(impacts(1.8, 2.6, 3.1, 3.4, 5.2), thump_bw=2.5)
    assert s.reps == 5 and s.thumps == 4
    assert s.median_peak_bw == pytest.approx(3.1)
    assert s.osteogenic_index == pytest.approx(3.1 * math.log(6))        # 5.5544
    assert s.cautions == 1
    assert s.intensity_counts == {"non-impact": 0, "low": 1, "moderate": 1, "high": 2, "very high": 1}
    assert "ln(reps + 1)" in s.osteogenic_index_method


def test_even_number_of_reps_takes_the_middle_two():
    s = summarize_session(impacts(2.0, 3.0, 2.2, 4.0))
    assert s.median_peak_bw == pytest.approx(2.6)
    assert s.osteogenic_index == pytest.approx(2.6 * math.log(5))


@pytest.mark.parametrize("peak_bw, band", [(1.3, "non-impact"), (1.4999, "non-impact"), (1.5, "low"),
                                           (1.99, "low"), (2.0, "moderate"), (2.999, "moderate"), (3.0, "high"),
                                           (3.99, "high"), (4.0, "very high"), (7.0, "very high"),
                                           (None, None), (float("nan"), None)])
def test_intensity_bands_have_closed_lower_edges(peak_bw, band):
    assert intensity_band(peak_bw) == band


@pytest.mark.parametrize("peak_bw, caution", [(4.99, False), (5.0, False), (5.01, True), (None, None)])
def test_caution_is_strictly_above_5_bw(peak_bw, caution):
    assert is_caution(peak_bw) is caution


def test_no_reps_is_zero_not_unknown():
    s = summarize_session([])
    assert s.reps == 0 and s.thumps == 0 and s.cautions == 0
    assert s.median_peak_bw is None
    assert s.osteogenic_index == 0.0                                      # ln(0 + 1) = 0
    assert set(s.intensity_counts.values()) == {0}


def test_without_body_weight_reps_count_but_are_not_rated():
    events = [{"kind": "jump", "peak_n": 2500.0, "peak_bw": None, "thump": None}]
    s = summarize_session(events)
    assert s.reps == 1 and s.thumps is None and s.median_peak_bw is None and s.osteogenic_index is None
    assert s.intensity_counts is None and "no body weight" in s.osteogenic_index_method


def test_a_jump_that_ends_in_flight_is_not_a_rep():
    s = summarize_session([{"kind": "jump", "peak_n": None, "peak_bw": None}] + impacts(3.0))
    assert s.reps == 1 and s.osteogenic_index == pytest.approx(3.0 * math.log(2))


def test_thump_line_is_configurable():
    assert summarize_session(impacts(2.6, 2.9, 3.2), thump_bw=3.0).thumps == 1


def test_dataclass_events_work_too():
    t, f = join(half_sine_impact(700.0, 2.2)[:2], half_sine_impact(700.0, 3.6)[:2])
    result = analyze_force(t, f, 1000.0, body_weight_n=700.0)
    s = summarize_session(result.impacts)
    assert s.reps == 2 and s.median_peak_bw == pytest.approx(2.9)
    assert result.summary() == s


# ------------------------------------------------------------------------------ in forceplate analyze

def write_csv(path, t, f):
    np.savetxt(path, np.column_stack([t, f]), delimiter=",", header="t_s,fz_n", comments="", fmt="%.6f")
    return path


def test_analyze_json_has_summary_and_event_bands(tmp_path):
    t, f = join(half_sine_impact(700.0, 2.2)[:2], half_sine_impact(700.0, 5.5)[:2],
                jump(700.0, land_peak_bw=4.2)[:2])
    out = analyze_file(write_csv(tmp_path / "run.csv", t, f), body_mass_kg=700.0 / 9.80665)
    assert [e["kind"] for e in out["events"]] == ["impact", "impact", "jump"]
    assert [e["intensity"] for e in out["events"]] == ["moderate", "very high", "very high"]
    assert [e["caution"] for e in out["events"]] == [False, True, False]
    s = out["summary"]
    assert s["reps"] == 3 and s["thumps"] == 2 and s["cautions"] == 1
    assert s["median_peak_bw"] == pytest.approx(4.2, abs=0.01)
    assert s["osteogenic_index"] == pytest.approx(4.2 * math.log(4), abs=0.02)
    assert out["sit_to_stand"] == []
    report = format_report(out)
    assert "Osteogenic Index" in report and "caution: 1 peak above 5 BW" in report


def test_analyze_json_has_sit_to_stand(tmp_path):
    # stand 2 s, sit down over 3 s to 0.25 BW, sit 2 s, rise to 1.5 BW in 0.3 s and back to 1 BW in 0.2 s,
    # each a half-cosine (smooth, as a body moves): the sit-down lasts 3 s and the rise 0.5 s
    rate = 1000.0
    segs = [(2.0, 1.0), (3.0, 0.25), (2.0, 0.25), (0.3, 1.5), (0.2, 1.0), (2.0, 1.0)]
    level, parts = 1.0, [np.array([1.0])]
    for duration, end in segs:
        m = int(duration * rate)
        parts.append(level + (end - level) * (1 - np.cos(np.pi * np.arange(1, m + 1) / m)) / 2)
        level = end
    f = 700.0 * np.concatenate(parts)
    t = np.arange(f.shape[0]) / rate
    out = analyze_file(write_csv(tmp_path / "sts.csv", t, f), body_mass_kg=700.0 / 9.80665)
    (rep,) = out["sit_to_stand"]
    assert rep["rise_s"] == pytest.approx(0.5, abs=0.01)
    assert rep["lowering_s"] == pytest.approx(3.0, abs=0.01)
    assert rep["tempo"] == "fast up, slow down" and rep["mean_power_w"] is None
    assert out["events"] == []                               # a sit-to-stand rise's peak is no impact
    assert "Sit-to-stand: 1 rise" in format_report(out)
    powered = analyze_file(tmp_path / "sts.csv", body_mass_kg=700.0 / 9.80665, body_height_m=1.7,
                           chair_height_m=0.45)
    assert powered["sit_to_stand"][0]["mean_power_w"] == pytest.approx(0.9 * 700.0 * 0.4 / rep["rise_s"], abs=0.5)


def test_quiet_standing_recording_summarises_to_nothing(tmp_path):
    out = analyze_file(quiet_stance_csv(tmp_path))
    assert out["body_weight_n"] is not None                   # weighed, so reps could have been rated
    assert out["events"] == [] and out["sit_to_stand"] == []
    assert out["summary"]["reps"] == 0 and out["summary"]["osteogenic_index"] == 0.0


def test_summary_without_body_weight(tmp_path):
    t, f, _ = standing(700.0, total_s=0.5)                    # too short to weigh
    out = analyze_file(write_csv(tmp_path / "short.csv", t, f))
    assert out["body_weight_n"] is None
    assert out["summary"]["reps"] == 0 and out["summary"]["median_peak_bw"] is None

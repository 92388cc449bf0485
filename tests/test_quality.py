"""Notes say when a number rests on shaky ground."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import signals as S
from forceplate.signal.quality import event_notes, find_clipping
from helpers import data_path

FORCEPLATE = Path(sys.executable).parent / "forceplate"


def write_csv(path, t, f):
    path.write_text("t_s,fz_n\n" + "".join(f"{a:.4f},{b:.2f}\n" for a, b in zip(t, f)))
    return path


def analyze(path):
    r = subprocess.run([str(FORCEPLATE), "analyze", str(path), "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_a_clipped_peak_is_found_at_its_level():
    t, f, truth = S.half_sine_impact(700.0, 3.0, duration_s=0.05)
    clipped = np.minimum(f, 1800.0)                  # the ADC saturates at 1800 N, below the 2100 N peak
    (start, end, level), = find_clipping(clipped, 1000.0)
    assert level == 1800.0
    on_top = np.flatnonzero(f >= 1800.0)
    assert (start, end) == (on_top[0], on_top[-1] + 1)


def test_a_rounded_peak_is_not_clipping():
    t, f, truth = S.half_sine_impact(700.0, 3.0, duration_s=0.05)
    assert find_clipping(f, 1000.0) == []


def test_clipped_impact_says_its_peak_is_a_lower_bound(tmp_path):
    t, f, truth = S.half_sine_impact(700.0, 3.0, duration_s=0.05)
    result = analyze(write_csv(tmp_path / "clip.csv", t, np.minimum(f, 1800.0)))
    (impact,) = result["events"]
    assert any("clipped at 1800 N" in note and "at least" in note for note in impact["notes"])
    assert any("clipped" in note for note in result["notes"])


def test_a_very_short_flight_is_flagged_and_a_normal_one_is_not(tmp_path):
    t, f, truth = S.jump(flight_s=0.04, land_peak_bw=2.0)
    (event,) = [e for e in analyze(write_csv(tmp_path / "hop.csv", t, f))["events"] if e["kind"] == "jump"]
    assert any(note.startswith("very short flight") for note in event["notes"])
    t, f, truth = S.jump(flight_s=0.4)
    (event,) = [e for e in analyze(write_csv(tmp_path / "jump.csv", t, f))["events"] if e["kind"] == "jump"]
    assert not any(note.startswith("very short flight") for note in event["notes"])


def test_a_recording_that_ends_in_flight_says_so():
    notes = event_notes({"kind": "jump", "takeoff_s": 1.0, "landing_s": None, "flight_s": None})
    assert notes == ["the recording ends in flight: no landing, no flight height"]


def test_borderline_thump_is_explained():
    notes = event_notes({"kind": "impact", "thump_borderline": True, "peak_low_bw": 2.41, "peak_high_bw": 2.63})
    assert notes == ["borderline: the plausible peak (2.41-2.63 BW) straddles the thump line"]


def test_no_quiet_second_is_a_recording_note():
    result = analyze(data_path("bmc_duarte_grfzjump.csv"))
    assert result["body_weight_n"] is None
    assert any(note.startswith("no body weight") and "stand still" in note for note in result["notes"])

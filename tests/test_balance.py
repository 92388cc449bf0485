"""Centre of pressure in `forceplate analyze` for four-corner recordings: lean at each impact, sway."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import signals as S
from forceplate.device.sim.simulator import CORNERS_M, split_by_centre_of_pressure
from helpers import data_path

FORCEPLATE = Path(sys.executable).parent / "forceplate"


def write_corners_csv(path, t, corners_n, *, corners_m=CORNERS_M):
    cols = ",".join(f"fz{i + 1}_n" for i in range(4))
    rows = "".join(f"{a:.4f}," + ",".join(f"{v:.3f}" for v in row) + "\n" for a, row in zip(t, corners_n))
    path.write_text(f"t_s,{cols}\n{rows}")
    if corners_m is not None:
        path.with_suffix(".json").write_text(json.dumps({"corners_m": np.asarray(corners_m).tolist()}))
    return path


def analyze(path, env=None):
    r = subprocess.run([str(FORCEPLATE), "analyze", str(path), "--json"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def heel_drop_with_cop(forward_at_impact_m):
    """Standing centred with a 2 mm, 1 Hz side-to-side sway; at the impact the CoP moves
    `forward_at_impact_m` forward."""
    t, f, truth = S.half_sine_impact(700.0, 3.0, duration_s=0.05, total_s=4.0)
    x = 0.002 * np.sin(2 * np.pi * 1.0 * t)
    y = np.where(f > 1.05 * 700.0, forward_at_impact_m, 0.0)
    return t, split_by_centre_of_pressure(f, x, y), truth


def test_an_impact_landed_leaning_forward_is_flagged(tmp_path):
    t, corners, _ = heel_drop_with_cop(0.06)                  # 6 cm forward, beyond the 3.5 cm default
    (impact,) = analyze(write_corners_csv(tmp_path / "lean.csv", t, corners))["events"]
    assert impact["lean"] == "forward" and impact["is_leaning"] is True
    assert impact["lean_cm"] == pytest.approx(6.0, abs=0.3)


def test_a_centred_impact_is_not_flagged_and_sway_is_measured(tmp_path):
    t, corners, _ = heel_drop_with_cop(0.0)
    result = analyze(write_corners_csv(tmp_path / "centred.csv", t, corners))
    (impact,) = result["events"]
    assert impact["lean"] == "centred" and impact["is_leaning"] is False
    sway = result["balance"]["sway"]
    # x = 2 mm sin(2 pi t) over any 1 s window (one whole period): RMS 2 mm / sqrt(2), path 4 x 2 mm
    assert sway["rms_m"] == pytest.approx(0.002 / np.sqrt(2), rel=0.05)
    assert sway["path_length_m"] == pytest.approx(0.008, rel=0.05)


def test_without_corner_positions_there_is_no_cop_and_it_says_why(tmp_path):
    t, corners, _ = heel_drop_with_cop(0.06)
    env = {k: v for k, v in __import__("os").environ.items()}
    env["FORCEPLATE_CONFIG"] = str(tmp_path / "none.toml")
    (tmp_path / "none.toml").write_text("")
    result = analyze(write_corners_csv(tmp_path / "nocorners.csv", t, corners, corners_m=None), env=env)
    assert result["balance"]["sway"] is None and "corner positions unknown" in result["balance"]["sway_method"]
    assert "lean" not in result["events"][0]


def test_per_foot_recordings_have_no_cop():
    result = analyze(data_path("acl_squat_jump_bfr003.csv"))              # one column per foot plate
    assert result["balance"]["sway"] is None
    assert "2 force column(s)" in result["balance"]["sway_method"]


def test_corner_positions_can_come_from_the_config_file(tmp_path):
    t, corners, _ = heel_drop_with_cop(0.06)
    (tmp_path / "plate.toml").write_text(f"plate_corners_m = {np.asarray(CORNERS_M).tolist()}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORCEPLATE_")}
    env["FORCEPLATE_CONFIG"] = str(tmp_path / "plate.toml")
    result = analyze(write_corners_csv(tmp_path / "bare.csv", t, corners, corners_m=None), env=env)
    (impact,) = result["events"]
    assert impact["lean"] == "forward" and impact["lean_cm"] == pytest.approx(6.0, abs=0.3)


def test_malformed_configured_corners_stop_analyze_naming_the_key(tmp_path):
    t, corners, _ = heel_drop_with_cop(0.0)
    (tmp_path / "plate.toml").write_text("plate_corners_m = [[0, 0], [0.4, 0]]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORCEPLATE_")}
    env["FORCEPLATE_CONFIG"] = str(tmp_path / "plate.toml")
    path = write_corners_csv(tmp_path / "bare.csv", t, corners, corners_m=None)
    r = subprocess.run([str(FORCEPLATE), "analyze", str(path), "--json"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "plate.toml: plate_corners_m = " in r.stderr

"""`forceplate analyze` as a user runs it: the console script in a subprocess."""
import json
import subprocess
from pathlib import Path

import pytest

from helpers import data_path

ROOT = Path(__file__).resolve().parent.parent
FORCEPLATE = ROOT / ".venv" / "bin" / "forceplate"
# Optional: the maintainers' contract checker, where their shared folder sits beside the repository.
CHECK_CONTRACT = ROOT.parent / "shared" / "tools" / "check-contract"


def run(*args, stdin=None):
    return subprocess.run([str(FORCEPLATE), "analyze", *map(str, args)], input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_json_output_is_one_contract_object():
    r = run(data_path("gidiel_vj_single_cmj.csv"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["contract"] == 1 and out["adc"] == "ideal" and [e["kind"] for e in out["events"]] == ["jump"]


def test_report_names_the_verdicts():
    r = run(data_path("gidiel_vj_single_dj.csv"))
    assert r.returncode == 0, r.stderr
    assert "Body weight:" in r.stdout and "THUMP" in r.stdout and "drop onto the plate" in r.stdout


def test_soft_impact_is_too_soft(tmp_path):
    rows = ["t_s,fz_n"] + [f"{i / 100:.2f},{700 if i != 200 else 1400}" for i in range(400)]
    path = tmp_path / "soft.csv"
    path.write_text("\n".join(rows) + "\n")
    r = run(path)
    assert r.returncode == 0 and "too soft" in r.stdout


def test_standard_input():
    text = data_path("gidiel_vj_single_cmj.csv").read_text()
    r = run("-", "--json", stdin=text)
    assert r.returncode == 0 and len(json.loads(r.stdout)["events"]) == 1


@pytest.mark.parametrize("text, extra, expected", [
    ("", [], "bad.csv:"),
    ("t_s,fz_n\n", [], "bad.csv:"),
    ("t_s,fz_n\n0,700\n0.001,abc\n", [], "bad.csv:3: 'abc' in column fz_n is not a number"),
    ("t_s,fz_n\n0,700\n0.002,701\n0.001,702\n", [], "bad.csv:4:"),
    ("t_s,x\n0,1\n0.001,2\n", [], "bad.csv:1: no force column"),
    ("fz_n\n700\n701\n", [], "--rate"),
    ("t_s,fz_n\n0,700\n0.001,701,5\n", [], "bad.csv:3:"),
    ("t_s,fz_n\n0,700\n0.001,nan\n", [], "bad.csv:3:"),
    ("t_s,fz_n\n0,700\n0.001,701\n", ["--rate", "0"], "not a positive number"),
    ("t_s,fz_n\n0,700\n0.001,701\n", ["--rate", "-5"], "not a positive number"),
    ("t_s,fz_n\n0,700\n0.001,701\n", ["--body-mass", "5"], "--body-mass"),
    ("t_s,fz_n\n0,700\n0.001,701\n", ["--thump-bw", "-1"], "--thump-bw"),
    ("t_s,fz_n\n0,700\n0.001,701\n", ["--min-peak-bw", "0"], "--min-peak-bw"),
])
@pytest.mark.parametrize("as_json", [True, False])
def test_bad_input_exits_2_with_one_line(tmp_path, text, extra, expected, as_json):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    r = run(path, *extra, *(["--json"] if as_json else []))
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith("forceplate: ") and expected in lines[0]


def test_missing_file_exits_2(tmp_path):
    r = run(tmp_path / "nope.csv", "--json")
    assert r.returncode == 2 and r.stdout == "" and r.stderr.strip() == f"forceplate: {tmp_path / 'nope.csv'}: no such file"


def test_bad_stdin_names_stdin():
    r = run("-", "--json", stdin="t_s,fz_n\n0,x\n")
    assert r.returncode == 2 and r.stderr.strip() == "forceplate: <stdin>:2: 'x' in column fz_n is not a number"


@pytest.mark.skipif(not CHECK_CONTRACT.exists(), reason=f"optional contract checker {CHECK_CONTRACT} not present")
def test_shared_contract_check_holds():
    r = subprocess.run([str(CHECK_CONTRACT)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all hold" in r.stdout


def test_analyze_accepts_data_dir_like_every_command(tmp_path):
    # docs/contracts.md section 3: every command takes --data-dir; analyze needs no database and creates none.
    r = subprocess.run([str(FORCEPLATE), "analyze", str(data_path("gidiel_vj_single_cmj.csv")), "--json",
                        "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["contract"] == 1
    assert not (tmp_path / "data").exists()

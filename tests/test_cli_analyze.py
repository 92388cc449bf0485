"""`forceplate analyze` as a user runs it: the console script in a subprocess."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import data_path

ROOT = Path(__file__).resolve().parent.parent
FORCEPLATE = Path(sys.executable).parent / "forceplate"      # the command of the venv running the tests
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


TINY_MACHINE = """
import sys
from forceplate.storage import traces
traces.available_memory_bytes = lambda: 4_000_000     # a quarter of it holds some 11 000 samples
from forceplate.cli import main
main(["analyze", *sys.argv[1:]])
"""


@pytest.mark.parametrize("as_json", [True, False])
def test_a_file_too_large_for_this_machine_exits_2_with_one_line(tmp_path, as_json):
    path = tmp_path / "long.csv"
    path.write_text("t_s,fz_n\n" + "".join(f"{i / 1000:.3f},700\n" for i in range(20_000)))
    r = subprocess.run([str(FORCEPLATE.parent / "python"), "-c", TINY_MACHINE, str(path),
                        *(["--json"] if as_json else [])], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    limit = 1_000_000 // 88
    assert r.stderr == (f"forceplate: {path}:{limit + 2}: too large for this machine: more than {limit:,} samples "
                        f"(what can be analysed in 25% of the 4 MB of memory available); analyse a shorter part "
                        f"of it\n")


# `forceplate analyze`, then its peak resident memory since exec (VmHWM) into a file; ru_maxrss from wait4
# would start at the size of the test process that forked it.
PEAK_CLI = """
import atexit, sys
def report():
    with open("/proc/self/status") as status, open(sys.argv[1], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(report)
from forceplate.cli import main
main(["analyze", *sys.argv[2:]])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmHWM from /proc/self/status")
def test_an_endless_line_on_stdin_exits_2_early_and_small(tmp_path):
    # A 1 GB line used about 13 GB. Now the reader stops a block after the 64 KiB limit: what was fed is
    # what the pipe and one block of reading took, and the process stays at its usual size (about 35 MB).
    peak_file = tmp_path / "peak_kib"
    proc = subprocess.Popen([str(FORCEPLATE.parent / "python"), "-c", PEAK_CLI, str(peak_file), "-", "--json"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fed = 0
    try:
        proc.stdin.write(b"t_s,fz_n\n0,")
        chunk = b"7" * (1 << 16)
        while fed < (32 << 20):              # enough to show it stops early; a regression stays small
            proc.stdin.write(chunk)
            fed += len(chunk)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=60)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        try:
            pipe.close()
        except BrokenPipeError:
            pass
    assert proc.returncode == 2 and stdout == b""
    assert stderr == b"forceplate: <stdin>:2: line longer than 65,536 bytes; a trace's rows are a few numbers " \
                     b"(is this a CSV trace?)\n"
    assert fed < 16 << 20
    assert int(peak_file.read_text()) * 1024 < 100_000_000


def test_running_out_of_memory_in_the_analysis_is_one_line(monkeypatch):
    import forceplate.analyze as analyze_module
    from forceplate.exc import TraceFormatError

    def no_memory(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(analyze_module, "analyze_force", no_memory)
    path = data_path("gidiel_vj_single_cmj.csv")
    with pytest.raises(TraceFormatError, match=rf"^{path}: too large for this machine: out of memory analysing "):
        analyze_module.analyze_file(path)

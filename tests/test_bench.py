"""bench/run.py: the runner's registry and errors, and a smoke run of the ``analysis`` benchmark.

No timing is asserted here: the figures come from ``python bench/run.py NAME``. The peers
(jumpmetrics, plateforce) come with the ``bench`` extra, which the test suite does not install: without them
only our side is checked.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import DATA_DIR, load_module

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "bench" / "run.py"
PEERS = ("jumpmetrics", "plateforce")


runner = load_module("_test_bench_run", RUN)
analysis = load_module("_test_bench_analysis", ROOT / "bench" / "analysis.py")


def bench(*args, timeout=240):
    return subprocess.run([sys.executable, str(RUN), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_unknown_name_lists_the_known_ones_and_exits_2():
    done = bench("nonesuch", "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "unknown benchmark 'nonesuch'" in done.stderr
    for name in runner.BENCHMARKS:
        assert name in done.stderr


def test_no_name_exits_2():
    assert bench().returncode == 2


def test_the_contract_names_are_registered():
    assert set(runner.BENCHMARKS) >= {"sampler", "analysis", "latency", "footprint", "storage", "load"}


def test_machine_names_cpu_cores_python_numpy():
    info = runner.machine()
    assert info["cpu"] and info["cores"] >= 1
    assert info["python"].split()[-1] == ".".join(map(str, sys.version_info[:3]))
    assert info["numpy"]


def test_cuts_start_with_a_quiet_loaded_second_when_there_is_one():
    cmj, = [r for r in analysis.load_recordings(DATA_DIR) if r.name == "gidiel_vj_single_cmj"]
    cut, = analysis.cut_jumps(cmj)
    rate_hz = cmj.rate_hz
    assert cut.weighing_sd_n is not None and cut.weighing_sd_n < 10.0
    assert cut.start + rate_hz <= cut.takeoff - analysis.MIN_MOVEMENT_S * rate_hz
    assert cut.end == cut.landing + round(rate_hz)          # 1 s after landing
    assert cut.force_n.base is not None                      # a view of the array ours gets, not a copy


def test_a_drop_onto_an_empty_plate_has_no_quiet_second():
    recordings = {r.name: r for r in analysis.load_recordings(DATA_DIR)}
    cut, = analysis.cut_jumps(recordings["gidiel_vj_single_dj"])
    assert cut.weighing_sd_n is None
    assert cut.recording.force_n[cut.start] < analysis.LOADED_N      # the plate is still empty there


@pytest.mark.slow
def test_analysis_quick_json_has_the_contract_keys():
    done = bench("analysis", "--json", "--quick", "--data", str(DATA_DIR))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)                     # exactly one JSON object on stdout

    assert result["benchmark"] == "analysis"
    assert result["signal_s_per_cpu_s"] > 0
    assert result["cpu_s"] > 0 and result["signal_s"] > 0
    assert result["files"] and all(name.endswith(".csv") for name in result["files"])
    assert all((DATA_DIR / name).exists() for name in result["files"])
    assert result["jumps_found"] >= result["jumps_given"] > 0
    assert result["signal_s_per_cpu_s_ours_on_cuts"] > 0
    assert {"cpu", "cores", "python", "numpy"} <= set(result["machine"])

    for peer in PEERS:
        if importlib.util.find_spec(peer) is None:
            assert f"signal_s_per_cpu_s_{peer}" not in result
            assert "bench" in result[f"skipped_{peer}"]
            continue
        assert result[f"signal_s_per_cpu_s_{peer}"] > 0
        assert result[f"cpu_s_{peer}"] > 0 and result[f"signal_s_{peer}"] > 0
        ok, failed = result[f"analysed_{peer}"], result[f"failed_{peer}"]
        assert len(ok) == result[f"jumps_found_{peer}"]
        assert len(ok) + len(failed) == result["jumps_given"]
        assert all(peer in row for row in result["cuts"])

    table = analysis.format_table(result)
    assert "forceplate" in table and all(peer in table for peer in PEERS)


def test_analysis_without_the_peers_still_measures_ours():
    # sys.modules[name] = None makes `import name` fail, as if the bench extra were not installed
    hide = "; ".join(f"sys.modules[{peer!r}] = None" for peer in PEERS)
    code = (f"import runpy, sys; {hide}; sys.argv = [{str(RUN)!r}, 'analysis', '--json', '--quick', "
            f"'--data', {str(DATA_DIR)!r}]; runpy.run_path({str(RUN)!r}, run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["signal_s_per_cpu_s"] > 0 and result["jumps_found"] > 0
    for peer in PEERS:
        assert "not installed" in result[f"skipped_{peer}"]
        assert f"signal_s_per_cpu_s_{peer}" not in result and peer not in result["cuts"][0]

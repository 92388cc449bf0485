"""The installed package: the standard library stays unshadowed, the build is loud about what it made."""
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
FORCEPLATE = VENV_BIN / "forceplate"


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def test_stdlib_signal_is_not_shadowed_by_forceplate_signal():
    code = ("import forceplate.signal.calibration, signal, sys; "
            "assert signal.SIGTERM and signal.SIGINT; print(signal.__file__)")
    for cwd in (ROOT, ROOT / "tests"):
        r = run([sys.executable, "-c", code], cwd=cwd)
        assert r.returncode == 0, r.stderr
        assert Path(r.stdout.strip()).parent == Path(sysconfig.get_paths()["stdlib"])


def test_console_script_runs_from_inside_the_package_folder():
    # Running from forceplate/ must not let forceplate/signal/ stand in for the standard library.
    r = run([str(FORCEPLATE), "--version"], cwd=ROOT / "forceplate")
    assert r.returncode == 0, r.stderr
    assert "sampling kernel: compiled" in r.stdout and "raw-trace coder: compiled" in r.stdout


def test_version_says_when_the_pure_python_twin_is_in_use():
    r = run([str(FORCEPLATE), "--version"], env={**os.environ, "FORCEPLATE_PUREPYTHON": "1"})
    assert r.returncode == 0, r.stderr
    assert "sampling kernel: pure-python" in r.stdout and "raw-trace coder: pure-python" in r.stdout


BLOCK_CYTHON = """
import sys, runpy
class NoCython:
    def find_spec(self, name, path=None, target=None):
        if name == "Cython" or name.startswith("Cython."):
            raise ImportError("No module named 'Cython' (blocked by the test)")
sys.meta_path.insert(0, NoCython())
sys.argv = ["setup.py", "--name"]
runpy.run_path("setup.py", run_name="__main__")
"""


def test_build_fails_loudly_without_cython():
    env = {k: v for k, v in os.environ.items() if k != "FORCEPLATE_PUREPYTHON"}
    r = run([sys.executable, "-c", BLOCK_CYTHON], cwd=ROOT, env=env)
    assert r.returncode != 0
    assert "Cython is required" in r.stderr and "FORCEPLATE_PUREPYTHON=1" in r.stderr


def test_pure_python_build_is_chosen_out_loud():
    r = run([sys.executable, "-c", BLOCK_CYTHON], cwd=ROOT, env={**os.environ, "FORCEPLATE_PUREPYTHON": "1"})
    assert r.returncode == 0, r.stderr
    assert "PURE-PYTHON" in r.stderr


HIDE_EXTENSIONS = """
import sys, warnings
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name in ("forceplate.storage._rawcodec", "forceplate.device._hx711", "forceplate.device._gpio"):
            raise ImportError(f"{name} hidden by the test")
sys.meta_path.insert(0, Refuse())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import forceplate.storage.rawcodec, forceplate.device.sampling, forceplate.device.gpio
print(forceplate.storage.rawcodec.KERNEL, forceplate.device.sampling.KERNEL, forceplate.device.gpio.HAS_EXTENSION)
for w in caught:
    print(w.category.__name__, w.message)
"""


def test_a_missing_compiled_kernel_falls_back_to_its_twin_and_says_so():
    r = run([sys.executable, "-c", HIDE_EXTENSIONS])
    assert r.returncode == 0, r.stderr
    first, *warned = r.stdout.splitlines()
    assert first == "pure-python pure-python False"
    assert len(warned) == 3 and all(line.startswith("ExtensionFallback compiled ") for line in warned)
    assert any("raw-trace coder missing" in line for line in warned)
    assert any("sampling kernel missing" in line for line in warned)

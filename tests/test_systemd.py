"""The systemd unit that starts forceplate at boot on Raspberry Pi OS."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def render(tmp_path):
    r = subprocess.run([str(ROOT / "scripts" / "install-service.sh"), "--dest", str(tmp_path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return (tmp_path / "forceplate.service").read_text()


def test_the_unit_runs_serve_from_this_checkout_and_stops_with_sigterm(tmp_path):
    unit = render(tmp_path)
    assert f"ExecStart={ROOT}/.venv/bin/forceplate serve" in unit
    assert "KillSignal=SIGTERM" in unit and "TimeoutStopSec=10" in unit     # serve ends within 5 s
    assert "Environment=FORCEPLATE_DATA_DIR=/var/lib/forceplate" in unit
    assert "@" not in unit.replace("Documentation=file://", "")             # every placeholder filled
    assert "User=forceplate" in unit and "NoNewPrivileges=yes" in unit


def test_systemd_accepts_the_unit(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: Debian's systemd package provides it")
    render(tmp_path)
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "forceplate.service")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_unknown_options_are_refused_with_exit_2(tmp_path):
    r = subprocess.run([str(ROOT / "scripts" / "install-service.sh"), "--frobnicate"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "unknown option --frobnicate" in r.stderr

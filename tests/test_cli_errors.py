"""Faults the user or the machine causes, through the console script in a real process: each is one line on
stderr and exit status 2, never a traceback (docs/contracts.md sections 1 and 3)."""
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORCEPLATE = Path(sys.executable).parent / "forceplate"      # the command of the venv running the tests
SIM = "sim:heel-drops?speed=20&adc=ideal&rate_hz=1000"


def forceplate(*args, timeout=60, env=None, **kw):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FORCEPLATE_")} | (env or {})
    return subprocess.run([str(FORCEPLATE), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=clean, **kw)


def one_line_error(run) -> str:
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("forceplate: ")
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data_dir, *extra, **kw):
    return forceplate("serve", "--host", "127.0.0.1", "--port", free_port(), "--source", "sim:standing",
                      "--data-dir", data_dir, *extra, timeout=30, **kw)


@contextlib.contextmanager
def unwritable(path: Path):
    """``path`` that even its owner cannot change: immutable for root (who ignores modes), mode 0 otherwise."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("running as root on a filesystem without chattr +i: nothing is unwritable to root")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0)
        try:
            yield
        finally:
            path.chmod(mode)


def test_record_on_a_full_disk_keeps_the_session_interrupted_and_says_so_in_one_line(tmp_path):
    from forceplate.storage.store import Store

    def small_disk():                # writes past 300 kB fail (EFBIG) as a full disk's fail (ENOSPC)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    run = forceplate("record", "--person", "Ann", "--seconds", "60", "--source", SIM, "--data-dir", tmp_path,
                     preexec_fn=small_disk, timeout=120)
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 2
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("forceplate: recording stopped") and "interrupted" in line
    summary = json.loads(run.stdout.splitlines()[-1])
    assert summary["kind"] == "summary" and summary["status"] == "interrupted"
    with Store(tmp_path) as store:
        assert store.session(1)["status"] == "interrupted"
        assert store.integrity_check() == "ok"


def test_analyze_refuses_a_rate_no_plate_has(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("t_s,fz_n\n0,700\n0.001,701\n")
    assert "sample rate" in one_line_error(forceplate("analyze", path, "--rate", "1e308"))


def test_serve_on_a_host_that_is_no_address(tmp_path):
    assert "999.1.1.1" in one_line_error(serve(tmp_path / "data", "--host", "999.1.1.1"))


def test_serve_on_a_data_folder_that_is_a_file(tmp_path):
    (tmp_path / "data").write_text("not a folder")
    assert "data folder" in one_line_error(serve(tmp_path / "data"))


def test_serve_on_a_data_folder_it_cannot_write(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with unwritable(data):
        assert "secret key" in one_line_error(serve(data))


def test_serve_with_a_secret_key_it_cannot_make_private(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    key = data / "secret_key"
    key.write_text("0123456789abcdef" * 4 + "\n")
    key.chmod(0o444)                 # readable by everyone: serve must make it 0600 or refuse
    with unwritable(key):
        assert "secret_key" in one_line_error(serve(data))


def test_a_config_file_that_is_not_text(tmp_path):
    config = tmp_path / "config.toml"
    config.write_bytes(bytes(range(128, 256)) * 4)
    assert "config.toml" in one_line_error(forceplate("sessions", "--json", "--data-dir", tmp_path / "data",
                                                      env={"FORCEPLATE_CONFIG": str(config)}))


def test_replaying_a_device_that_never_ends(tmp_path):
    def bounded_memory():            # a regression must fail this test, not exhaust the machine
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    run = forceplate("record", "--person", "Ann", "--source", "replay:/dev/zero", "--data-dir", tmp_path,
                     preexec_fn=bounded_memory)
    assert "/dev/zero" in one_line_error(run)

"""`forceplate serve` as a real process on loopback: the stream arrives promptly over HTTP, signals end it cleanly.

These run the console script against the simulated plate (4x real time) and read the Server-Sent Events
with http.client, as a browser's EventSource would, after signing in through the login form (the clinic
password is set first with `forceplate set-password`, as an installer would). The server is started, waited
for and stopped by bench/_serving.py's ``serving``, the benchmarks' own (through tests/helpers.py).
"""
import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import time
from contextlib import contextmanager

import pytest

from helpers import bench_serving, parse_sse

BODY_MASS_KG = 72.0
STANDARD_GRAVITY_M_S2 = 9.80665
SPEC = f"sim:heel-drops?speed=4&seed=7&body_mass_kg={BODY_MASS_KG:g}"
START_S = 30.0          # safety nets for a slow machine, not timing claims
CLEAN_END_S = 5.0       # docs/contracts.md section 3
PASSWORD = "clinic password 1"

bench = bench_serving()
FORCEPLATE = bench.FORCEPLATE
free_port = bench.free_port


@contextmanager
def serving(tmp_path, spec=SPEC, password=PASSWORD):
    """A `forceplate serve` process on a free loopback port; yields (process, port, log path).

    Its data folder is ``tmp_path / "data"`` and its log ``tmp_path / "serve.log"`` (kept after it stops).
    The clinic password is set to ``password`` first (None: none, so the server starts in first-start setup).
    """
    with bench.serving(spec, traced=False, data_dir=tmp_path / "data", password=password,
                       log_path=tmp_path / "serve.log") as served:
        yield served.process, served.port, served.log_path


def sign_in(port, password=PASSWORD) -> str:
    """Sign in through the login form over HTTP; returns the Cookie header of the signed-in session."""
    return bench.sign_in(port, password)


def open_stream(port, cookie):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10.0)
    conn.request("GET", "/live/stream", headers={"Accept": "text/event-stream", "Cookie": cookie})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    return conn, response


def sse_messages(response):
    """Yield (arrival monotonic s, message dict) from an event stream; comments count as messages too."""
    lines = []
    while True:
        line = response.readline()
        if not line:
            return
        if line.rstrip(b"\r\n") == b"":
            arrived = time.monotonic()
            message = parse_sse(b"".join(lines))
            if message:
                yield arrived, message
            lines = []
            continue
        lines.append(line)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("serve")) as served:
        yield served


@pytest.fixture(scope="module")
def cookie(server):
    """The Cookie header of a session signed in to ``server``."""
    return sign_in(server[1])


def test_stream_delivers_samples_promptly_with_increasing_times_and_weighs_the_person(server, cookie):
    _, port, _ = server
    conn, response = open_stream(port, cookie)
    try:
        messages = sse_messages(response)
        _, hello = next(messages)
        assert hello["event"] == "hello"
        assert int(hello["retry"]) > 0
        assert hello["data"]["plate"]["source"].startswith("sim:heel-drops")
        assert hello["data"]["plate"]["is_simulated"] is True

        times, arrivals, body_weight_n = list(hello["data"]["t"]), [], None
        deadline = time.monotonic() + START_S
        for arrived, message in messages:
            if "data" not in message or message.get("event"):
                continue
            arrivals.append(arrived)
            times += message["data"]["t"]
            body_weight_n = message["data"]["body_weight_n"]
            if (body_weight_n is not None and arrivals[-1] - arrivals[0] >= 2.0) or arrived > deadline:
                break
    finally:
        conn.close()
    assert all(b > a for a, b in zip(times, times[1:])), "sample times must increase"
    # The server writes each message as it is made (no buffering): about 15 a second, not one lump.
    first_two_s = [a for a in arrivals if a - arrivals[0] <= 2.0]
    assert len(first_two_s) >= 10, f"{len(first_two_s)} messages in the first 2 s"
    assert body_weight_n == pytest.approx(BODY_MASS_KG * STANDARD_GRAVITY_M_S2, rel=0.02)


def test_status_over_http_names_the_source_with_security_headers(server, cookie):
    _, port, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10.0)
    try:
        conn.request("GET", "/api/live/status", headers={"Cookie": cookie})
        response = conn.getresponse()
        status = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 200
    assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert status["source"].startswith("sim:heel-drops") and status["running"] is True


def test_several_live_pages_do_not_starve_other_requests(server, cookie):
    _, port, _ = server
    streams = [open_stream(port, cookie) for _ in range(4)]
    try:
        for _, response in streams:
            _, hello = next(sse_messages(response))
            assert hello["event"] == "hello"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10.0)
        conn.request("GET", "/", headers={"Cookie": cookie})
        page = conn.getresponse()
        assert page.status == 200 and b"forceplate" in page.read()
        conn.close()
    finally:
        for conn, _ in streams:
            conn.close()


def test_serve_logs_source_kernel_and_url_and_makes_its_data_folder(server, tmp_path_factory):
    _, port, log_path = server
    log = log_path.read_text()
    assert "source: sim:heel-drops" in log
    assert "sampling kernel: compiled" in log
    assert f"http://127.0.0.1:{port}/" in log
    key_file = log_path.parent / "data" / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_serve_cleanly_within_5_s_even_with_a_live_page_open(tmp_path, signum):
    with serving(tmp_path) as (process, port, log_path):
        conn, response = open_stream(port, sign_in(port))
        messages = sse_messages(response)
        next(messages)
        signalled = time.monotonic()
        process.send_signal(signum)
        assert process.wait(timeout=CLEAN_END_S) == 0, log_path.read_text()
        assert time.monotonic() - signalled < CLEAN_END_S
        for _ in messages:                      # the stream ends (EOF) rather than hanging
            pass
        conn.close()
    log = log_path.read_text()
    assert "Traceback" not in log
    assert "stopped" in log


def test_a_port_in_use_gives_one_line_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(FORCEPLATE), "serve", "--host", "127.0.0.1", "--port", str(port), "--source", "sim:standing",
             "--data-dir", str(tmp_path / "data")],
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(port) in lines[0] and "in use" in lines[0]


def test_serve_makes_a_data_folder_and_database_only_its_owner_can_read_whatever_the_umask(tmp_path):
    data = tmp_path / "data"
    with socket.socket() as taken:             # it makes its folder and database, then stops at the port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = subprocess.run(
            [str(FORCEPLATE), "serve", "--host", "127.0.0.1", "--port", str(taken.getsockname()[1]),
             "--source", "sim:standing", "--data-dir", str(data)],
            capture_output=True, text=True, timeout=60, preexec_fn=lambda: os.umask(0))
    assert result.returncode == 2, result.stderr
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    for name in ("forceplate.db", "forceplate.db-wal", "forceplate.db-shm", "secret_key"):
        if (data / name).exists():
            assert stat.S_IMODE(os.stat(data / name).st_mode) == 0o600, name
    assert (data / "forceplate.db").exists()

"""What nobody on the LAN can do before signing in: exhaust the memory, guess from rotating addresses, fill the
disk, or hold every connection.

The first tests use Flask's test client (``REMOTE_ADDR`` set per request stands for many machines) and a fake
clock; the last ones run `forceplate serve` as a real process and talk to it over loopback.
"""
import logging
import os
import re
import socket
import threading
import time

import pytest

from forceplate.device.sim.mock import FakeClock
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.webui import auth as auth_module

from helpers import bench_serving
from test_auth import PASSWORD, error_text, form_token, make_app, set_password
import test_people_pages as people_pages
import test_webui as webui

WRONG = "not the password at all"


@pytest.fixture
def app(tmp_path):
    set_password(tmp_path / "instance", PASSWORD)
    app = make_app(tmp_path / "instance")
    app.extensions["forceplate.auth"].throttle.clock = FakeClock()
    return app


def auth_of(app):
    return app.extensions["forceplate.auth"]


def login_from(client, address, password=WRONG, token=None):
    return client.post("/login", data={"csrf_token": token or form_token(client), "password": password},
                       environ_base={"REMOTE_ADDR": address})


class HeldChecks:
    """Stands in for the scrypt check: each call waits until ``release()``; counts calls and the most at once."""

    def __init__(self):
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()
        self._released = threading.Event()

    def __call__(self, pwhash, password):
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self._released.wait(10.0)
        with self._lock:
            self.running -= 1
        return False

    def release(self):
        self._released.set()


def simultaneous_logins(app, n, address="10.0.0.7"):
    """``n`` wrong passwords posted at once from ``address`` (each its own browser); their responses."""
    clients = [app.test_client() for _ in range(n)]
    tokens = [form_token(c) for c in clients]
    responses = [None] * n

    def post(i):
        responses[i] = login_from(clients[i], address, token=tokens[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, responses


# -- memory: one scrypt hash at a time, the rest refused at once --------------------------------------------

def test_sixteen_simultaneous_passwords_are_hashed_one_at_a_time_and_the_rest_refused_at_once(app, monkeypatch):
    held = HeldChecks()
    monkeypatch.setattr(auth_module, "check_password_hash", held)
    threads, responses = simultaneous_logins(app, 16)
    deadline = time.monotonic() + 20.0
    while sum(r is not None for r in responses) < 15 and time.monotonic() < deadline:
        time.sleep(0.01)                # the 15 refused answer while the one check is still held
    refused = [r for r in responses if r is not None]
    held.release()
    for t in threads:
        t.join(10.0)
    assert held.most_at_once == 1 and held.calls == 1
    assert len(refused) == 15
    assert all(r.status_code == 503 and r.headers["Retry-After"] == "1" for r in refused)
    assert "one password or PIN at a time" in error_text(refused[0])
    assert sorted(r.status_code for r in responses) == [401] + [503] * 15


def test_simultaneous_tries_from_one_address_are_counted_before_they_are_checked(app, monkeypatch):
    auth_of(app)._hash_slots = threading.BoundedSemaphore(16)     # room for all: only the counting stops them
    held = HeldChecks()
    monkeypatch.setattr(auth_module, "check_password_hash", held)
    threads, responses = simultaneous_logins(app, 16)
    deadline = time.monotonic() + 20.0
    while held.calls + sum(r is not None for r in responses) < 16 and time.monotonic() < deadline:
        time.sleep(0.01)
    held.release()
    for t in threads:
        t.join(10.0)
    assert held.calls == 5                                          # login_max_failures, not 16
    assert all(r.status_code == 429 for r in responses)             # the checked ones end the count too
    assert sum(error_text(r).startswith("Wrong password.") for r in responses) == 5


# -- guessing from rotating addresses: a limit in all ---------------------------------------------------------

def test_twenty_wrong_passwords_from_twenty_addresses_pause_every_address_longer_each_time(app):
    clock = auth_of(app).throttle.clock
    client = app.test_client()
    for i in range(20):
        response = login_from(client, f"10.1.0.{i}")
        assert response.status_code == (401 if i < 19 else 429)
    response = login_from(client, "10.2.0.1", password=PASSWORD)    # a new address, the right password
    assert response.status_code == 429 and "wait 60 seconds" in error_text(response)
    clock.advance(60)
    assert login_from(client, "10.2.0.1", password=PASSWORD).status_code == 303
    for i in range(20):                                             # again: the pause doubles
        login_from(app.test_client(), f"10.3.0.{i}")
    response = login_from(app.test_client(), "10.2.0.2", password=PASSWORD)
    assert response.status_code == 429 and "wait 120 seconds" in error_text(response)


def test_the_limit_in_all_counts_only_a_minute_of_failures(app):
    clock = auth_of(app).throttle.clock
    client = app.test_client()
    for i in range(19):
        assert login_from(client, f"10.1.0.{i}").status_code == 401
    clock.advance(61)                                               # those 19 are forgotten
    for i in range(19):
        assert login_from(client, f"10.4.0.{i}").status_code == 401
    assert login_from(client, "10.5.0.1", password=PASSWORD).status_code == 303


def test_the_limit_in_all_is_a_setting(tmp_path):
    set_password(tmp_path / "instance", PASSWORD)
    app = make_app(tmp_path / "instance", LOGIN_MAX_FAILURES_ALL_PER_MIN=3)
    client = app.test_client()
    assert [login_from(client, f"10.1.0.{i}").status_code for i in range(3)] == [401, 401, 429]
    assert login_from(client, "10.9.9.9", password=PASSWORD).status_code == 429


def setup_from(client, address, code):
    return client.post("/setup", data={"csrf_token": form_token(client, "/setup"), "code": code,
                                       "password": PASSWORD, "password2": PASSWORD},
                       environ_base={"REMOTE_ADDR": address})


def test_the_setup_code_has_ten_digits(tmp_path):
    app = make_app(tmp_path / "instance")
    assert re.fullmatch(r"\d{10}", auth_of(app).setup_code)


def test_ten_wrong_setup_codes_replace_the_code_and_log_the_new_one(tmp_path, caplog):
    app = make_app(tmp_path / "instance")
    auth_of(app).throttle.clock = FakeClock()
    old = auth_of(app).setup_code
    wrong = f"{(int(old) + 1) % 10**10:010d}"
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="forceplate.webui.auth"):
        for i in range(10):
            assert setup_from(client, f"10.6.0.{i}", wrong).status_code == 401
    new = auth_of(app).setup_code
    assert new != old and re.fullmatch(r"\d{10}", new)
    assert f"enter the new code {new}" in caplog.text
    assert setup_from(client, "10.6.1.1", old).status_code == 401          # the old code is gone
    assert setup_from(client, "10.6.1.2", new).status_code == 303


def test_wrong_setup_codes_from_rotating_addresses_meet_the_limit_in_all(tmp_path):
    app = make_app(tmp_path / "instance", SETUP_CODE_MAX_FAILURES=1000)
    auth_of(app).throttle.clock = FakeClock()
    code = auth_of(app).setup_code
    wrong = f"{(int(code) + 1) % 10**10:010d}"
    client = app.test_client()
    statuses = [setup_from(client, f"10.7.0.{i}", wrong).status_code for i in range(21)]
    assert statuses[:19] == [401] * 19 and statuses[19:] == [429, 429]
    assert setup_from(client, "10.7.1.1", code).status_code == 429         # even the right one waits


# -- the clinician PIN: the same limit in all ----------------------------------------------------------------

def test_wrong_pins_from_rotating_addresses_pause_every_address(tmp_path):
    app = webui.standing_app(tmp_path)
    client = people_pages.signed_in(app)
    people_pages.restricted_person(client)
    app.extensions["forceplate.pin_throttle"].clock = FakeClock()

    def approve_from(address, pin):
        return client.post("/people/1/approval", data={
            "csrf_token": people_pages.token(client), "action": "approve", "clinician": "Dr Jones", "pin": pin},
            environ_base={"REMOTE_ADDR": address})

    statuses = [approve_from(f"10.8.0.{i}", f"{i:04d}").status_code for i in range(20)]
    assert statuses == [400] * 19 + [429]
    response = approve_from("10.8.1.1", people_pages.PIN)
    assert response.status_code == 429 and "Too many tries" in people_pages.text(response)


# -- the disk: a floor of free space for recording -----------------------------------------------------------

def test_a_set_does_not_start_below_the_free_space_floor_and_says_why(tmp_path, monkeypatch):
    from forceplate.live import sets as sets_module
    from forceplate.webui import close_app
    import test_history_pages as history_pages

    source = SimulatedSource("standing", speed=10.0)
    app = webui.make_app(tmp_path, source=source)            # min_free_disk_mb: 200 by default
    plate = app.extensions["forceplate"]
    with source:
        plate.start()
        try:
            client = people_pages.signed_in(app)
            person_id = history_pages.add_person(client)
            monkeypatch.setattr(sets_module, "free_disk_mb", lambda path: 150.0)
            response = history_pages.post_json(client, "/live/set/start", person_id=str(person_id))
            assert response.status_code == 409
            assert response.get_json()["error"].startswith(
                "only 150 MB free on the data disk; a set needs at least 200 MB")
            assert app.extensions["forceplate.sets"].current() is None
            monkeypatch.setattr(sets_module, "free_disk_mb", lambda path: 5000.0)
            response = history_pages.post_json(client, "/live/set/start", person_id=str(person_id))
            assert response.status_code == 200
            assert history_pages.post_json(client, "/live/set/stop").status_code == 200
        finally:
            close_app(app)
            plate.stop()


def test_free_disk_space_is_read_from_the_databases_disk(tmp_path):
    import shutil
    from forceplate.live.sets import free_disk_mb

    assert free_disk_mb(tmp_path / "forceplate.db") == pytest.approx(shutil.disk_usage(tmp_path).free / 1e6,
                                                                     rel=0.01)


# -- a real `forceplate serve` on loopback --------------------------------------------------------------------

bench = bench_serving()
SLOW_CLIENTS = 110               # waitress's own connection_limit is 100
REQUEST_TIMEOUT_S = 3.0          # short, for the test; 15 s by default


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    spool = tmp / "spool"
    spool.mkdir()
    env = os.environ | {"TMPDIR": str(spool), "FORCEPLATE_REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S),
                        "FORCEPLATE_CLEANUP_INTERVAL_S": "0.5"}
    with bench.serving("sim:standing", traced=False, data_dir=tmp / "data", password=PASSWORD, env=env,
                       log_path=tmp / "serve.log") as served:
        served.spool = spool
        yield served


def raw_request(port, head: bytes, body: bytes = b"", *, timeout_s=10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(head + body)
        return sock.recv(4096)


def test_a_body_over_the_cap_is_refused_before_it_is_sent(served):
    answer = raw_request(served.port, b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                                      b"Content-Length: 1000000000\r\n\r\n")    # and no body: none is awaited
    assert answer.startswith(b"HTTP/1.1 413")


def files_open_under(pid, folder) -> list[str]:
    fd_dir = f"/proc/{pid}/fd"
    paths = []
    for fd in os.listdir(fd_dir):
        try:
            paths.append(os.readlink(os.path.join(fd_dir, fd)))
        except OSError:
            pass
    return [p for p in paths if p.startswith(str(folder))]


def test_a_body_below_the_cap_is_never_spooled_to_a_file(served):
    size = 1024 * 1024                                   # the app's MAX_CONTENT_LENGTH; waitress spools > 512 KiB
    with socket.create_connection(("127.0.0.1", served.port), timeout=10.0) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     + f"Content-Length: {size}\r\n\r\n".encode() + b"a" * (size - 1))
        spooled, deadline = [], time.monotonic() + 2.0
        while not spooled and time.monotonic() < deadline:   # the server reads what was sent meanwhile
            spooled = files_open_under(served.pid, served.spool)
            time.sleep(0.05)
        sock.sendall(b"a")
        answer = sock.recv(4096)
    assert spooled == []
    assert answer.startswith(b"HTTP/1.1 ") and not answer.startswith(b"HTTP/1.1 413")


def test_110_slow_clients_neither_block_a_normal_page_nor_stay_connected(served):
    with bench.SlowClients(served.port, SLOW_CLIENTS, trickle_s=0.5) as slow:
        # At the connection limit the stalest slow client makes room, so the page answers at once (10 s:
        # a safety net for a loaded machine; before, it waited as long as the slow clients trickled).
        status, body, took_s = bench.get(served.port, "/login", "")
        assert status == 200 and b"password" in body and took_s < 10.0
        # Trickling is not idleness: each is closed REQUEST_TIMEOUT_S after its first byte all the same.
        deadline = time.monotonic() + REQUEST_TIMEOUT_S + 10.0
        while slow.still_open() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert slow.still_open() == 0
    assert "Traceback" not in served.log()


def test_sixteen_wrong_passwords_at_once_leave_the_server_memory_for_recording(served):
    before_mb = bench.proc_memory_mb(served.pid)["VmRSS"]
    bench.reset_peak_rss(served.pid)
    statuses = bench.wrong_passwords_at_once(served.port, 16)
    peak_mb = bench.proc_memory_mb(served.pid)["VmHWM"]
    assert set(statuses) <= {401, 429, 503} and statuses.count(401) >= 1
    # Each scrypt check holds 32 MiB: one at a time adds about that, not 16 times it (about 512 MB).
    assert peak_mb - before_mb < 100, (before_mb, peak_mb, statuses)

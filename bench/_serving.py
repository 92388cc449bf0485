"""What the live benchmarks (``latency``, ``footprint``, ``load``) share: a `serve` process, signing in, SSE clients,
/proc readings. Not a benchmark itself (not in run.py's list). The tests that run `forceplate serve` use its
``serving`` and ``sign_in`` too (through tests/helpers.py); nothing here imports from tests/.

Two ways to serve:

- ``forceplate serve`` itself (the console script), for ``footprint``: nothing is added to the process.
- ``python bench/_serving.py serve-traced ...``, for ``latency`` and ``load``: the same ``run_server`` the console
  script calls, given the source object the spec names, with one addition: the source's ``ticks_ns`` is wrapped
  so that the first call (``ForcePipeline.start``: the plate's time zero) is written to a JSON file together
  with the simulator's own start instant and its scripted events. Both are ``CLOCK_MONOTONIC`` nanoseconds,
  the clock this process reads with ``time.monotonic()``: a sample at plate time ``t`` was due at
  ``origin + t / speed``, and a scripted event at scenario time ``s`` happened at ``start + s / speed``.
  Nothing in forceplate is changed for this.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

REPO_ROOT = Path(__file__).resolve().parent.parent
FORCEPLATE = Path(sys.executable).parent / "forceplate"
PASSWORD = "benchmark password 1"
START_S = 60.0              # safety net for a slow, loaded machine
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def load_note(before: list[float]) -> str:
    """A result's ``load``: the machine's load average before a run (``before``, from load_avg) and now."""
    return (f"other agents' work on a shared machine; load average {before} before, "
            f"{load_avg()} after (1, 5, 15 min)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_password(data_dir, password=PASSWORD) -> None:
    """`forceplate set-password`, the password on standard input."""
    done = subprocess.run([str(FORCEPLATE), "set-password", "--data-dir", str(data_dir)],
                          input=password + "\n", capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"set-password failed: {done.stderr.strip()}")


class Served:
    """A running server: ``process``, ``port``, ``url``, ``log_path`` and, when traced, ``info``."""

    def __init__(self, process, port, log_path, info_path=None):
        self.process, self.port, self.log_path, self.info_path = process, port, log_path, info_path
        self.url = f"http://127.0.0.1:{port}/"
        self.info: dict | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for_info(self, timeout_s: float = START_S) -> dict:
        """The traced server's clock origin (written once the plate has started)."""
        deadline = time.monotonic() + timeout_s
        while self.info is None:
            try:
                self.info = json.loads(Path(self.info_path).read_text())
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no clock origin from the traced server: {self.log()}") from None
                time.sleep(0.05)           # polling a file another process writes
        return self.info

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text()[-4000:]
        except OSError:
            return ""


@contextmanager
def serving(spec: str, *, traced: bool, data_dir=None, env=None, port=None, password=PASSWORD, log_path=None):
    """A server on loopback with a password set; stopped with SIGTERM (then killed).

    Also the tests' way to run ``forceplate serve`` (tests/test_http.py, tests/test_browser.py), hence:
    ``data_dir``: its data folder (default a temporary one). ``port``: default a free one. ``password``: set
    with `forceplate set-password` unless the folder has one already (a new one would end the sessions);
    None: none, so a new folder starts in first-start setup. ``log_path``: where its standard error goes
    (default a temporary file, gone with the server). ``env``: the server's environment (default this
    process's).
    """
    with tempfile.TemporaryDirectory(prefix="forceplate-bench-") as tmp:
        tmp = Path(tmp)
        data_dir = Path(data_dir) if data_dir is not None else tmp / "data"
        if password is not None and not (data_dir / "auth.json").exists():
            set_password(data_dir, password)
        port = port or free_port()
        log_path = Path(log_path) if log_path is not None else tmp / "serve.log"
        info_path = tmp / "origin.json"
        if traced:
            argv = [sys.executable, str(Path(__file__).resolve()), "serve-traced", "--port", str(port),
                    "--source", spec, "--data-dir", str(data_dir), "--info", str(info_path)]
        else:
            argv = [str(FORCEPLATE), "serve", "--host", "127.0.0.1", "--port", str(port), "--source", spec,
                    "--data-dir", str(data_dir)]
        with open(log_path, "w") as log:
            process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, cwd=REPO_ROOT, env=env)
        served = Served(process, port, log_path, info_path if traced else None)
        try:
            deadline = time.monotonic() + START_S
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"serve exited with {process.returncode}: {served.log()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"serve did not listen within {START_S} s: {served.log()}") from None
                    time.sleep(0.05)       # polling a process we do not control
            if traced:
                served.wait_for_info()
            yield served
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


# ------------------------------------------------------------------------------------------ HTTP clients

def _session_cookie(response) -> str | None:
    for header in response.msg.get_all("Set-Cookie") or []:
        morsel = SimpleCookie(header).get("session")
        if morsel is not None:
            return f"session={morsel.value}"
    return None


def sign_in(port: int, password: str = PASSWORD) -> str:
    """Sign in through the login form (its csrf_token); the Cookie header of the signed-in session.

    RuntimeError unless the form is there (200) and the answer sends the signed-in session on to "/" (303).
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30.0)
    try:
        conn.request("GET", "/login")
        page = conn.getresponse()
        html = page.read().decode("utf-8")
        if page.status != 200:
            raise RuntimeError(f"the login page answered {page.status}: {html[:500]}")
        cookie = _session_cookie(page)
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        conn.request("POST", "/login", body=urlencode({"csrf_token": token, "password": password, "next": "/"}),
                     headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        answer = conn.getresponse()
        answer.read()
    finally:
        conn.close()
    if answer.status != 303 or answer.getheader("Location") != "/":
        raise RuntimeError(f"sign-in answered {answer.status} (Location {answer.getheader('Location')})")
    return _session_cookie(answer)


def get(port: int, path: str, cookie: str) -> tuple[int, bytes, float]:
    """One GET: status, body and the seconds it took."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30.0)
    try:
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    return response.status, body, time.monotonic() - started


class StreamClient(threading.Thread):
    """One live page's stream read over raw HTTP (as an EventSource would), in a thread.

    Each message is kept as a dict: ``at`` (time.monotonic() when its blank line arrived), ``event`` (None,
    "hello" or "bye"), ``t`` (sample times, plate s), ``events`` (their seq and t_peak_s), ``sets`` and
    ``dropped`` (the plate's counters when it was made), ``lost``, ``bytes``. A "bye" reconnects. ``refused``
    is the HTTP status of a refused stream (e.g. 503 beyond MAX_STREAMS); the thread then ends, unless
    ``retry_refused_s`` says to try again (``refusals`` counts those).
    """

    def __init__(self, port: int, cookie: str, name: str = "client", retry_refused_s: float = 0.0):
        super().__init__(name=name, daemon=True)
        self.port, self.cookie = port, cookie
        self.retry_refused_s = retry_refused_s      # a refused stream is tried again every 0.2 s this long
        self.refusals = 0
        self.connected_after_s: float | None = None
        self.messages: list[dict] = []
        self.refused: int | None = None
        self.error: str | None = None
        self.connections = 0
        self.bytes = 0
        self._ending = threading.Event()
        self._conn = None
        self.connected = threading.Event()

    def stop(self) -> None:
        self._ending.set()
        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)     # wakes the blocked read
            except OSError:
                pass

    def run(self) -> None:
        began = time.monotonic()
        try:
            while not self._ending.is_set():
                if self._one_connection(began):
                    continue
                if self.refused is None or time.monotonic() - began >= self.retry_refused_s:
                    return
                self.refusals += 1
                self.refused = None
                self._ending.wait(0.2)
        except Exception as exc:  # noqa: BLE001 - reported by the benchmark, not raised in a thread
            if not self._ending.is_set():
                self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.connected.set()

    def _one_connection(self, began: float) -> bool:
        """Read one stream until it ends; True to reconnect (a bye)."""
        conn = self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30.0)
        try:
            conn.request("GET", "/live/stream", headers={"Accept": "text/event-stream", "Cookie": self.cookie})
            response = conn.getresponse()
            if response.status != 200:
                self.refused = response.status
                response.read()
                return False
            self.connections += 1
            if self.connected_after_s is None:
                self.connected_after_s = time.monotonic() - began
            event, data, size = None, None, 0
            while not self._ending.is_set():
                line = response.readline()
                if not line:
                    return False
                size += len(line)
                if line in (b"\n", b"\r\n"):
                    at = time.monotonic()
                    self.bytes += size
                    if data is not None:
                        self._keep(at, event, data, size)
                        if event == "hello":
                            self.connected.set()
                        elif event == "bye":
                            return True
                    event, data, size = None, None, 0
                    continue
                field, _, value = line.decode("utf-8").rstrip("\r\n").partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event = value
                elif field == "data":
                    data = value
            return False
        finally:
            self._conn = None
            conn.close()

    def _keep(self, at: float, event, data: str, size: int) -> None:
        body = json.loads(data)
        if event == "bye":
            self.messages.append({"at": at, "event": event})
            return
        stats = body.get("stats") or {}
        self.messages.append({
            "at": at, "event": event, "t": body.get("t", []), "lost": body.get("lost", 0),
            "events": [{"seq": e.get("seq"), "t_peak_s": e.get("t_peak_s"), "kind": e.get("kind")}
                       for e in body.get("events", [])],
            "sets": stats.get("sets"), "dropped": stats.get("dropped"), "bytes": size})


@contextmanager
def reading(clients: list[StreamClient], connect_s: float = 30.0):
    """The stream clients started, each waited for (up to ``connect_s``) until connected; stopped and joined
    after."""
    for client in clients:
        client.start()
    for client in clients:
        client.connected.wait(connect_s)
    try:
        yield clients
    finally:
        for client in clients:
            client.stop()
        for client in clients:
            client.join(5)


def wrong_passwords_at_once(port: int, n: int = 16, password: str = "not the password 0") -> list[int]:
    """``n`` browsers post a wrong password to /login at the same instant; their HTTP statuses.

    Each first gets the login page (its own session cookie and CSRF token), so every post is a real try.
    """
    forms = []
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30.0)
        conn.request("GET", "/login")
        page = conn.getresponse()
        html = page.read().decode("utf-8")
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        forms.append((conn, _session_cookie(page), token))
    statuses: list[int | None] = [None] * n
    start = threading.Barrier(n)

    def post(i: int) -> None:
        conn, cookie, token = forms[i]
        body = urlencode({"csrf_token": token, "password": password, "next": "/"})
        start.wait(30.0)
        try:
            conn.request("POST", "/login", body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
            answer = conn.getresponse()
            answer.read()
            statuses[i] = answer.status
        finally:
            conn.close()

    threads = [threading.Thread(target=post, args=(i,), name=f"wrong-password-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120.0)
    return statuses


class SlowClients:
    """``n`` connections that each send a request line, then one header line every ``trickle_s`` and never
    finish (slowloris). ``open()`` connects them all; ``still_open()`` counts those the server has not closed;
    ``close()`` ends them. A thread does the trickling; the server closing a connection is noticed there."""

    def __init__(self, port: int, n: int = 110, trickle_s: float = 1.0):
        self.port, self.n, self.trickle_s = port, n, trickle_s
        self.sockets: list[socket.socket] = []
        self.closed_by_server: set[int] = set()
        self._lock = threading.Lock()
        self._ending = threading.Event()
        self._thread = threading.Thread(target=self._trickle, name="slow-clients", daemon=True)

    def open(self) -> "SlowClients":
        for i in range(self.n):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10.0)
            sock.sendall(f"GET /?slow={i} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
            self.sockets.append(sock)
        self._thread.start()
        return self

    def _is_closed(self, sock: socket.socket) -> bool:
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _trickle(self) -> None:
        beat = 0
        while not self._ending.wait(self.trickle_s):
            beat += 1
            for i, sock in enumerate(self.sockets):
                if i in self.closed_by_server:
                    continue
                try:
                    if self._is_closed(sock):
                        raise ConnectionResetError
                    sock.sendall(f"X-Slow-{beat}: a\r\n".encode())
                except OSError:
                    with self._lock:
                        self.closed_by_server.add(i)

    def still_open(self) -> int:
        with self._lock:
            closed = set(self.closed_by_server)
        return sum(1 for i, sock in enumerate(self.sockets) if i not in closed and not self._is_closed(sock))

    def close(self) -> None:
        self._ending.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        for sock in self.sockets:
            sock.close()

    def __enter__(self) -> "SlowClients":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def reset_peak_rss(pid: int) -> bool:
    """Start the process's VmHWM (peak resident memory) afresh from now (Linux 4.0+); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------------------------------- /proc

def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK       # fields 14 and 15 of proc(5)


def proc_memory_mb(pid: int) -> dict:
    """RSS, its peak (VmHWM), PSS and the thread count of a process, in MB (10^6 bytes)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024 / 1e6
        elif key == "Threads":
            out["threads"] = int(value)
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return out


def proc_maps_any(pid: int, fragment: str) -> bool:
    """Whether any file mapped into a process has ``fragment`` in its path (e.g. a library's folder)."""
    try:
        return fragment in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


class ProcWatch:
    """CPU and memory of a process over a window: ``start()``, then ``stop()`` returns the figures."""

    def __init__(self, pid: int, every_s: float = 0.5):
        self.pid, self.every_s = pid, every_s
        self._samples: list[dict] = []
        self._ending = threading.Event()
        self._thread = threading.Thread(target=self._run, name="procwatch", daemon=True)

    def start(self) -> "ProcWatch":
        self._wall0, self._cpu0 = time.monotonic(), proc_cpu_s(self.pid)
        self._samples.append(proc_memory_mb(self.pid))
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._ending.wait(self.every_s):
            try:
                self._samples.append(proc_memory_mb(self.pid))
            except OSError:
                return

    def stop(self) -> dict:
        cpu1, wall1 = proc_cpu_s(self.pid), time.monotonic()
        self._samples.append(proc_memory_mb(self.pid))
        self._ending.set()
        self._thread.join(2.0)
        wall_s, cpu_s = wall1 - self._wall0, cpu1 - self._cpu0
        rss = [s["VmRSS"] for s in self._samples if "VmRSS" in s]
        pss = [s["Pss"] for s in self._samples if "Pss" in s]
        return {"wall_s": round(wall_s, 2), "cpu_s": round(cpu_s, 2),
                "cpu_pct_one_core": round(100.0 * cpu_s / wall_s, 2) if wall_s > 0 else None,
                "rss_mb_end": round(rss[-1], 1), "rss_mb_max": round(max(rss), 1),
                "rss_mb_start": round(rss[0], 1),
                "pss_mb_max": round(max(pss), 1) if pss else None,
                "vm_hwm_mb": round(self._samples[-1].get("VmHWM", 0.0), 1),
                "threads": self._samples[-1].get("threads")}


def percentile(values, q: float):
    import numpy as np
    values = [v for v in values if v is not None]
    return round(float(np.percentile(values, q)), 1) if values else None


# ----------------------------------------------------------------------------------- the traced server

def serve_traced(argv: list[str]) -> int:
    """`run_server` on a source object whose first ``ticks_ns`` (the plate's time zero) is written to --info."""
    import argparse
    parser = argparse.ArgumentParser(prog="bench/_serving.py serve-traced")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--info", required=True)
    args = parser.parse_args(argv)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from forceplate.device.sources import source_from_spec
    from forceplate.signal.hx711_model import Hx711Model
    from forceplate.signal.streaming import LiveAnalyzer
    from forceplate.webui.server import run_server

    source = source_from_spec(args.source)
    original = source.ticks_ns
    written = threading.Event()

    def ticks_ns() -> int:
        now = original()
        if not written.is_set():
            written.set()
            scripted = []
            if hasattr(source, "scripted_events"):
                scripted = [{"kind": e.kind, "contract_kind": e.contract_kind, "t_peak_s": e.t_peak_s,
                             "peak_bw": e.peak_bw, "landing_s": e.landing_s}
                            for e in source.scripted_events()]
            info = {"clock_origin_ns": int(now), "source_start_ns": getattr(source, "start_ns", None),
                    "speed": float(getattr(source, "speed", 1.0) or 1.0), "rate_hz": float(source.rate_hz),
                    "adc": source.adc, "channels": int(source.channels), "spec": args.source,
                    "loop_s": getattr(source, "loop_s", None), "scripted_events": scripted,
                    "hx711_group_delay_s": Hx711Model().group_delay_s(float(source.rate_hz)),
                    "horizon_s": LiveAnalyzer.HORIZON_S, "pid": os.getpid()}
            tmp = Path(args.info + ".tmp")
            tmp.write_text(json.dumps(info))
            tmp.replace(args.info)          # whole or not at all, for the reader polling it
        return now

    source.ticks_ns = ticks_ns
    run_server("127.0.0.1", args.port, source, args.data_dir)
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve-traced":
        sys.exit(serve_traced(sys.argv[2:]))
    sys.exit("usage: python bench/_serving.py serve-traced --port N --source SPEC --data-dir DIR --info FILE")

"""CPU per sample set of the compiled HX711 sampler, its pure-Python twin and the `hx711` package.

All three read the same four emulated HX711 chips (forceplate.device._gpio.EmulatedLines, the C chip
model, in real time on CLOCK_MONOTONIC) under the same background load: two busy Python threads and a
loopback HTTP server with a client fetching from it without pause. CPU is each reader thread's own CPU
time (CLOCK_THREAD_CPUTIME_ID), emulated chips included (the same C calls for all three). The compiled
sampler runs as HX711Source runs it by default: its thread asks for SCHED_FIFO priority 50
(``hx711_source.set_thread_priority``) and samples on at normal priority when refused;
``realtime_priority_used`` is what the thread really had (read back from the kernel; 0: SCHED_OTHER). The
twin and the `hx711` package run at normal priority (SCHED_OTHER, nice 0), as does the load.

Our sampler waits for data-ready through the line backend's ``wait_ready``: on the plate a DOUT
falling-edge event from the kernel (ppoll), here the emulator sleeping until its next DOUT edge on
CLOCK_MONOTONIC: the same wake-ups, without the kernel's interrupt work (not in a thread's CPU time
anyway). ``sleeps_per_set`` and ``dout_reads_per_set`` count them.

A ready slot is a conversion of the chip with the fewest, from the one the first set read to the last set
(``ready_slots``); ``ready_slots_since_open`` also counts those that passed while the thread was starting.
A set is captured when every word in it is clean (``sets_clean``); ``missed_by_slowest_chip`` counts that
chip's words overwritten unread, and ``late_ms_*`` how long after the set was ready it was read.

The `hx711` package (1.1.2.3) imports RPi.GPIO; the bench gives it a stand-in module (injected in
sys.modules) whose output()/input() drive the same emulated chips, wired as docs/wiring.md (one shared
SCK). The package reads one chip at a time, so each of its reads also clocks the other three: it needs
about four conversion periods per 4-chip set. Its figures are per 4-chip set it completed.
"""
from __future__ import annotations

import http.server
import os
import sys
import threading
import time
import types
import urllib.request

import numpy as np

DESCRIPTION = "CPU per sample set of the compiled HX711 sampler vs its pure-Python twin and the hx711 package"
LOAD = ("two busy Python threads plus a loopback HTTP server answering a client that fetches without "
        "pause, all in this process")
SCK, DOUTS = 5, (6, 13, 19, 26)
RATES_HZ = (86.0, 86.4, 85.7, 86.2)         # the emulator's defaults, named here to count slots
PHASES_S = (0.0, 0.0031, 0.0062, 0.0093)


def add_arguments(parser):
    parser.add_argument("--seconds", type=float, default=20.0, help="compiled sampler run (s); the others half")


class _Load:
    """The background load: two busy threads and HTTP-like request/response work."""

    def __init__(self):
        self.stop = threading.Event()
        self.requests = 0
        self.errors = 0

    def __enter__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b'{"force_n": [1, 2, 3, 4]}' * 40
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.threads = [threading.Thread(target=self.server.serve_forever, daemon=True),
                        threading.Thread(target=self._fetch, args=(url,), daemon=True),
                        threading.Thread(target=self._busy, daemon=True),
                        threading.Thread(target=self._busy, daemon=True)]
        for t in self.threads:
            t.start()
        return self

    def _busy(self):
        while not self.stop.is_set():
            sum(i * i for i in range(2000))

    def _fetch(self, url):
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    response.read()
                self.requests += 1
            except OSError:                 # a reset under load must not end the load
                self.errors += 1

    def __exit__(self, *exc):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        for t in self.threads:
            t.join(timeout=5)


def _chips(words):
    from forceplate.device import _gpio
    return _gpio.EmulatedLines(words, rates_hz=RATES_HZ, phases_s=PHASES_S, virtual=False)


def _slots(chips, t_first, t_last):
    """Ready slots the sampler had, from its first set to its last: the conversions of the chip with the
    fewest in (t_first - its period, t_last] (the first set read the one just before t_first)."""
    counts = []
    for c, period in enumerate(chips.period_ns):
        t0 = chips.start_ns + int(round(PHASES_S[c % len(PHASES_S)] * 1e9))   # conversion k at t0 + (k+1) P
        counts.append((t_last - t0) // period - (t_first - period - t0) // period)
    return int(min(counts))


def _run_sampler(sampler_module, ring_module, words, seconds, priority=0):
    from forceplate.device import _gpio
    from forceplate.device.hx711 import set_thread_priority
    chips = _chips(words)
    sampler = sampler_module.Sampler(4)
    ring = ring_module.SampleRing(4, 16384)
    out = {}

    def work():
        _, out["realtime_refused"] = set_thread_priority(priority)
        fifo = os.sched_getscheduler(0) == os.SCHED_FIFO
        out["realtime_priority_used"] = os.sched_getparam(0).sched_priority if fifo else 0
        c0 = _gpio.thread_cpu_ns()
        sampler.run(chips, ring)
        out["cpu_ns"] = _gpio.thread_cpu_ns() - c0

    thread = threading.Thread(target=work, name="sampler")
    t0 = time.monotonic()
    thread.start()
    stamps = []
    while time.monotonic() - t0 < seconds:
        time.sleep(0.05)
        stamps.append(ring.pop().t_ns)      # the reader drains, as HX711Source.read does
    sampler.stop()
    thread.join()
    stamps.append(ring.pop().t_ns)
    t_ns = np.concatenate(stamps)
    sets = max(1, sampler.sets)
    gaps_ms = np.diff(t_ns) / 1e6 if len(t_ns) > 1 else np.zeros(1)
    late_ms = _late_ms(chips, t_ns)
    return {"cpu_us_per_set": out["cpu_ns"] / 1000 / sets, "sets": sampler.sets,
            "sets_captured": sampler.sets_clean,
            "ready_slots": _slots(chips, int(t_ns[0]), int(t_ns[-1])) if len(t_ns) else 0,
            "ready_slots_since_open": int(min(chips.conversions)),
            "first_set_ms": (int(t_ns[0]) - chips.start_ns) / 1e6 if len(t_ns) else None,
            "missed_by_slowest_chip": int(chips.overwritten[int(np.argmax(chips.period_ns))]),
            "gap_max_ms": float(gaps_ms.max()), "gaps_over_1_5_periods": int((gaps_ms > 17.5).sum()),
            "late_ms_p50": float(np.median(late_ms)), "late_ms_p99": float(np.percentile(late_ms, 99)),
            "late_ms_max": float(late_ms.max()), "sleeps_per_set": getattr(chips, "sleeps", 0) / sets,
            "dout_reads_per_set": getattr(chips, "dout_reads", 0) / sets,
            "sck_high_max_us": sampler.sck_high_max_ns / 1000, "sck_high_over_50us": sampler.pulses_long,
            "pulses": sampler.pulses, "timeouts": sampler.timeouts, "duration_s": time.monotonic() - t0,
            "realtime_priority_asked": priority, "realtime_priority_used": out["realtime_priority_used"],
            "realtime_refused": out["realtime_refused"]}


def _late_ms(chips, t_ns):
    """How long after its last chip got ready each set was read (ms)."""
    ready = np.zeros(len(t_ns), dtype=np.int64)
    for c, period in enumerate(chips.period_ns):
        first = chips.start_ns + int(round(PHASES_S[c % len(PHASES_S)] * 1e9)) + period
        ready = np.maximum(ready, first + (t_ns - first) // period * period)
    return (t_ns - ready) / 1e6 if len(t_ns) else np.zeros(1)


def _fake_rpi_gpio(chips):
    """A stand-in RPi.GPIO whose pins are the emulated chips' (BCM numbering, shared SCK)."""
    gpio = types.ModuleType("RPi.GPIO")
    gpio.BCM, gpio.BOARD, gpio.OUT, gpio.IN, gpio.HIGH, gpio.LOW = 11, 10, 0, 1, 1, 0
    channel_of = {pin: ch for ch, pin in enumerate(DOUTS)}
    gpio.setmode = gpio.setwarnings = gpio.cleanup = lambda *a, **k: None
    gpio.setup = lambda *a, **k: None

    def output(pin, value):
        if pin == SCK:
            chips.set_sck(1 if value else 0)

    def input_(pin):
        return (chips.read_dout() >> channel_of[pin]) & 1

    gpio.output, gpio.input = output, input_
    package = types.ModuleType("RPi")
    package.GPIO = gpio
    return package, gpio


def _run_hx711pkg(words, seconds):
    from forceplate.device import _gpio
    chips = _chips(words)
    package, gpio = _fake_rpi_gpio(chips)
    saved = {name: sys.modules.get(name) for name in ("RPi", "RPi.GPIO", "hx711")}
    sys.modules["RPi"], sys.modules["RPi.GPIO"] = package, gpio
    sys.modules.pop("hx711", None)
    try:
        import hx711
        version = getattr(hx711, "__version__", "?")
        readers = [hx711.HX711(dout_pin=pin, pd_sck_pin=SCK) for pin in DOUTS]   # ~1 s each: settles
        stop = threading.Event()
        out = {"sets": 0, "complete": 0}

        def work():
            c0 = _gpio.thread_cpu_ns()
            while not stop.is_set():
                values = [reader._read() for reader in readers]      # what get_raw_data does per reading
                out["sets"] += 1
                out["complete"] += all(v is not False for v in values)
            out["cpu_ns"] = _gpio.thread_cpu_ns() - c0

        conversions0 = min(chips.conversions)
        reads0 = getattr(chips, "dout_reads", 0)
        thread = threading.Thread(target=work, name="hx711pkg")
        t0 = time.monotonic()
        thread.start()
        time.sleep(seconds)
        stop.set()
        thread.join()
        return {"cpu_us_per_set": out["cpu_ns"] / 1000 / max(1, out["sets"]), "sets": out["sets"],
                "sets_captured": out["complete"], "ready_slots": int(min(chips.conversions)) - conversions0,
                "duration_s": time.monotonic() - t0, "version": version,
                "dout_reads_per_set": (getattr(chips, "dout_reads", 0) - reads0) / max(1, out["sets"])}
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def run_from_args(args) -> dict:
    from forceplate.device import _gpio, _gpio_py, _hx711
    from forceplate.device.sim.emulator import plate_words
    from forceplate.device.hx711 import DEFAULT_REALTIME_PRIORITY

    seconds = 3.0 if args.quick else float(args.seconds)
    words, _ = plate_words(60.0, scenario="session", seed=1)
    with _Load() as load:
        ours = _run_sampler(_gpio, _hx711, words, seconds, priority=DEFAULT_REALTIME_PRIORITY)   # as shipped
        twin = _run_sampler(_gpio_py, _hx711, words, seconds / 2)
        try:
            pkg = _run_hx711pkg(words, seconds / 2)
        except ImportError as exc:
            pkg = {"skipped": f"hx711 package not installed ({exc}); `make bench NAME=sampler` installs it"}
        requests, errors = load.requests, load.errors
    result = {
        "cpu_us_per_set": ours["cpu_us_per_set"],
        "cpu_us_per_set_twin": twin["cpu_us_per_set"],
        "cpu_us_per_set_hx711pkg": pkg.get("cpu_us_per_set"),
        "sck_high_max_us": ours["sck_high_max_us"],
        "sck_high_over_50us": ours["sck_high_over_50us"],
        "ready_slots": ours["ready_slots"],
        "sets_captured": ours["sets_captured"],
        "duration_s": ours["duration_s"],
        "load": LOAD,
        "realtime_priority_used": ours["realtime_priority_used"],
        "load_average": os.getloadavg(),
        "captured_pct": 100.0 * ours["sets_captured"] / max(1, ours["ready_slots"]),
        "cpu_ratio_hx711pkg": (pkg["cpu_us_per_set"] / ours["cpu_us_per_set"]) if "cpu_us_per_set" in pkg else None,
        "ours": ours, "twin": twin, "hx711pkg": pkg,
        "load_http_requests": requests, "load_http_errors": errors,
        "chips": "4 emulated HX711 (C model, real time), 86.0/86.4/85.7/86.2 SPS, one shared SCK",
        "quick": bool(args.quick),
    }
    return result


def format_table(result) -> str:
    rows = [("compiled sampler", result["ours"]), ("pure-Python twin", result["twin"]),
            ("hx711 package", result["hx711pkg"])]
    lines = [f"load: {result['load']}",
             f"compiled sampler priority: SCHED_FIFO {result['realtime_priority_used']}"
             if result["realtime_priority_used"] else
             f"compiled sampler priority: normal (SCHED_OTHER); {result['ours']['realtime_refused']}", "",
             f"{'reader':<18} {'CPU us/set':>11} {'sets':>7} {'captured':>9} {'slots':>7} {'SCK max us':>11}"]
    for name, r in rows:
        if "skipped" in r:
            lines.append(f"{name:<18} skipped: {r['skipped']}")
            continue
        sck = f"{r['sck_high_max_us']:.1f}" if "sck_high_max_us" in r else "-"
        lines.append(f"{name:<18} {r['cpu_us_per_set']:>11.1f} {r['sets']:>7} {r['sets_captured']:>9} "
                     f"{r['ready_slots']:>7} {sck:>11}")
    lines += ["", f"SCK-high over 50 us (compiled): {result['sck_high_over_50us']}",
              f"ready slots captured (compiled): {result['captured_pct']:.2f} %",
              f"hx711 package / compiled CPU per set: {result['cpu_ratio_hx711pkg']}",
              f"compiled: {result['ours']['sleeps_per_set']:.2f} wake-ups and "
              f"{result['ours']['dout_reads_per_set']:.1f} DOUT reads per set; read "
              f"{result['ours']['late_ms_p50']:.2f} ms (median), {result['ours']['late_ms_max']:.1f} ms (max) "
              f"after ready"]
    return "\n".join(lines)

"""``load``: many live pages reading one server at once: sample sets lost, and how late samples arrive.

One server (the simulated plate ``sim:session``, 4 cells at 80 SPS, real time) on loopback, served by the same
``run_server`` as ``forceplate serve`` through bench/_serving.py's traced server, which writes down the plate's
time zero on ``CLOCK_MONOTONIC``: a sample at plate second ``t`` was due at ``origin + t``, and this process
reads the same clock. Signed-in SSE clients (raw HTTP in threads here, as an EventSource reads) connect
together and read for a while; three phases, side by side in one run on the same server:

- ``one``: 1 client (the unloaded baseline),
- ``many``: ``clients`` clients (default 10): the contract's figures,
- ``max``: ``MAX_STREAMS`` (12) clients, plus one more, which must be refused (HTTP 503), and a status
  request timed while they all stream.

``sets_lost``: per client, the sample sets the plate produced between its first and last message (the
``stats.sets`` counter each message carries) that it did not receive, summed over the clients; plus the sets
the source itself dropped in the phase (``stats.dropped``, counted once: it is the plate's). ``p95_ms``: over
every sample each client received after its first ("hello") message, arrival minus the instant the sample
was due at the source. Samples wait for the stream's pacing (at most one message every 1/15 s), so about
35 ms of the delay is by design. The server's CPU over each phase comes from /proc.

Then, on the same server, what a hostile visitor on the LAN could do before signing in (``guards``):

- ``rss_mb_16_wrong_passwords``: the server's peak resident memory (VmHWM, started afresh just before, else
  sampled every 20 ms) while 16 browsers post a wrong password at the same instant. Each scrypt check takes
  32 MiB, so 16 at once would add about 512 MB; the goal is under 200 MB (the Pi Zero 2 W has 512 MB).
- ``page_ms_with_110_slow_clients``: the slowest of 5 loads of the live page ("/", signed in) while 110
  connections each trickle a header line every second and never finish (waitress's own limit is 100
  connections); the goal is under 1000 ms. ``slow_clients_dropped_s``: how long until the server had closed
  all 110 (the ``request_timeout_s`` setting, 15 s by default, plus the check's interval).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

DESCRIPTION = "SSE clients reading one `serve` at once: sample sets lost, p95 delay from source to client"

DEFAULT_SPEC = "sim:session"
DEFAULT_CLIENTS = 10
MAX_STREAMS = 12          # forceplate.webui.DEFAULTS["MAX_STREAMS"]
RETRY_S = 20.0            # how long a refused client of a phase keeps trying
WRONG_PASSWORDS = 16      # at once: as many as the server has threads
SLOW_CLIENTS = 110        # waitress's own connection_limit is 100
PAGE_LOADS = 5
DROP_WAIT_S = 60.0        # a safety net for the slow clients to be closed (request_timeout_s is 15 s)



def client_figures(messages: list[dict], origin_s: float, speed: float) -> dict:
    """Sets received and lost, and each sample's delay (ms), for one client's messages."""
    delays, received, produced, lost_field = [], 0, 0, 0
    segment_first = None            # (sets counter, newest t) at the client's first message of a connection
    last_t = None
    dropped = [m["dropped"] for m in messages if m.get("dropped") is not None]
    for m in messages:
        if m["event"] == "bye":
            segment_first = None
            continue
        t = m["t"]
        if m["event"] == "hello" or segment_first is None:
            if segment_first is not None:        # a reconnection: count what came between
                produced += m["sets"] - segment_first
            segment_first = m["sets"]
            last_t = t[-1] if t else last_t
            continue
        new = [x for x in t if last_t is None or x > last_t]
        received += len(new)
        lost_field += m["lost"]
        produced += m["sets"] - segment_first
        segment_first = m["sets"]
        if new:
            last_t = new[-1]
        for x in new:
            delays.append((m["at"] - (origin_s + x / speed)) * 1000.0)
    return {"received": received, "produced": produced, "lost": max(0, produced - received),
            "lost_field": lost_field, "delays_ms": delays,
            "dropped_first": dropped[0] if dropped else 0, "dropped_last": dropped[-1] if dropped else 0,
            "messages": sum(1 for m in messages if m["event"] is None)}


def phase(served, cookie: str, clients: int, seconds: float, *, extra: bool = False) -> dict:
    import _serving as serving     # bench/ is on sys.path: run.py's own folder, or the tests put it there
    info = served.info
    # The previous phase's streams end on the server only when it next writes to them: a new client that
    # finds every slot still taken (503) tries again, and the phase starts once all are in.
    readers = [serving.StreamClient(served.port, cookie, name=f"client-{i}", retry_refused_s=RETRY_S)
               for i in range(clients)]
    load_before = serving.load_avg()
    with serving.reading(readers):
        out = {"clients": clients,
               "connect_s_max": round(max((r.connected_after_s or 0.0) for r in readers), 2),
               "refused_then_retried": sum(r.refusals for r in readers)}
        watch = serving.ProcWatch(served.pid).start()
        if extra:
            refused = serving.StreamClient(served.port, cookie, name="one-too-many")
            refused.start()
            refused.join(30)
            out["extra_client_status"] = refused.refused if refused.refused is not None else "accepted"
            refused.stop()
            status, _, took_s = serving.get(served.port, "/api/live/status", cookie)
            out["status_request"] = {"status": status, "ms": round(took_s * 1000, 1)}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        proc = watch.stop()
    figures = [client_figures(r.messages, info["clock_origin_ns"] / 1e9, info["speed"]) for r in readers]
    delays = [d for f in figures for d in f["delays_ms"]]
    dropped = max((f["dropped_last"] for f in figures), default=0) - min((f["dropped_first"] for f in figures),
                                                                       default=0)
    p = serving.percentile
    out.update({
        "seconds": proc["wall_s"],
        "sets_lost": sum(f["lost"] for f in figures) + dropped,
        "sets_lost_by_clients": [f["lost"] for f in figures],
        "sets_dropped_by_source": dropped,
        "sets_received": sum(f["received"] for f in figures),
        "sets_produced_per_client": [f["produced"] for f in figures],
        "lost_reported_by_server": sum(f["lost_field"] for f in figures),
        "p50_ms": p(delays, 50), "p95_ms": p(delays, 95), "p99_ms": p(delays, 99),
        "max_ms": round(max(delays), 1) if delays else None,
        "messages_per_s_per_client": round(sum(f["messages"] for f in figures) / max(clients, 1)
                                           / proc["wall_s"], 1),
        "client_errors": [r.error for r in readers if r.error],
        "refused": [r.refused for r in readers if r.refused is not None],
        "server_cpu_pct_one_core": proc["cpu_pct_one_core"], "server_rss_mb_max": proc["rss_mb_max"],
        "load_avg_before": load_before, "load_avg_after": serving.load_avg(),
    })
    return out


def guards(served, cookie: str) -> dict:
    """Memory under simultaneous wrong passwords, and page times while slow clients hold connections."""
    import _serving as serving     # bench/ is on sys.path: run.py's own folder, or the tests put it there
    pid = served.pid
    rss_before_mb = serving.proc_memory_mb(pid)["VmRSS"]
    is_exact_peak = serving.reset_peak_rss(pid)
    watch = serving.ProcWatch(pid, every_s=0.02).start()
    started = time.monotonic()
    statuses = serving.wrong_passwords_at_once(served.port, WRONG_PASSWORDS)
    burst_s = time.monotonic() - started
    proc = watch.stop()
    peak_mb = serving.proc_memory_mb(pid)["VmHWM"] if is_exact_peak else proc["rss_mb_max"]

    with serving.SlowClients(served.port, SLOW_CLIENTS) as slow:
        opened = time.monotonic()
        pages = [serving.get(served.port, "/", cookie) for _ in range(PAGE_LOADS)]
        while slow.still_open() and time.monotonic() - opened < DROP_WAIT_S:
            time.sleep(0.2)
        dropped_s = time.monotonic() - opened
        still_open = slow.still_open()
    return {
        "rss_mb_16_wrong_passwords": round(peak_mb, 1),
        "rss_mb_before_wrong_passwords": round(rss_before_mb, 1),
        "rss_peak_is": "VmHWM" if is_exact_peak else "sampled every 20 ms",
        "wrong_password_statuses": {str(code): statuses.count(code) for code in sorted(set(statuses), key=str)},
        "wrong_passwords_s": round(burst_s, 2),
        "page_ms_with_110_slow_clients": round(max(took for _, _, took in pages) * 1000, 1),
        "page_ms_with_110_slow_clients_each": [round(took * 1000, 1) for _, _, took in pages],
        "page_statuses_with_110_slow_clients": [status for status, _, _ in pages],
        "slow_clients_dropped_s": round(dropped_s, 1) if still_open == 0 else None,
        "slow_clients_still_open": still_open,
    }


def run(*, quick: bool = False, clients: int = DEFAULT_CLIENTS, seconds: float | None = None,
        spec: str = DEFAULT_SPEC) -> dict:
    import _serving as serving     # bench/ is on sys.path: run.py's own folder, or the tests put it there
    if not 1 <= clients <= MAX_STREAMS:
        raise SystemExit(f"--clients must be 1 to {MAX_STREAMS} (the server's MAX_STREAMS)")
    seconds = float(seconds if seconds is not None else (5.0 if quick else 30.0))
    started = time.monotonic()
    load_before = serving.load_avg()
    with serving.serving(spec, traced=True) as served:
        cookie = serving.sign_in(served.port)
        time.sleep(1.0 if quick else 3.0)          # the sampler and the first analyses are under way
        phases = {"one": phase(served, cookie, 1, seconds / 2),
                  "many": phase(served, cookie, clients, seconds),
                  "max": phase(served, cookie, MAX_STREAMS, seconds * 2 / 3, extra=True)}
        guarded = guards(served, cookie)
        info = served.info
    many = phases["many"]
    result = {"sse_clients": clients, "sets_lost": many["sets_lost"], "p95_ms": many["p95_ms"],
              "p50_ms": many["p50_ms"], "seconds": many["seconds"],
              "p95_ms_one_client": phases["one"]["p95_ms"], "sets_lost_one_client": phases["one"]["sets_lost"],
              "p95_ms_max_streams": phases["max"]["p95_ms"], "sets_lost_max_streams": phases["max"]["sets_lost"],
              "max_streams": MAX_STREAMS, "extra_client_status": phases["max"].get("extra_client_status"),
              "server_cpu_pct_one_core": many["server_cpu_pct_one_core"],
              "rss_mb_16_wrong_passwords": guarded["rss_mb_16_wrong_passwords"],
              "page_ms_with_110_slow_clients": guarded["page_ms_with_110_slow_clients"],
              "guards": guarded, "phases": phases, "spec": spec, "rate_hz": info["rate_hz"], "quick": quick,
              "load": serving.load_note(load_before),
              "total_s": round(time.monotonic() - started, 1)}
    return result


def format_table(result: dict) -> str:
    lines = [f"{'phase':<6} {'clients':>7} {'s':>5} {'sets lost':>9} {'received':>9} {'p50 ms':>7} {'p95 ms':>7} "
             f"{'max ms':>7} {'msg/s':>6} {'server CPU %':>12} {'load':>5}"]
    for name, ph in result["phases"].items():
        lines.append(f"{name:<6} {ph['clients']:>7} {ph['seconds']:>5.0f} {ph['sets_lost']:>9} "
                     f"{ph['sets_received']:>9} {ph['p50_ms']!s:>7} {ph['p95_ms']!s:>7} {ph['max_ms']!s:>7} "
                     f"{ph['messages_per_s_per_client']:>6} {ph['server_cpu_pct_one_core']:>12} "
                     f"{ph['load_avg_before'][0]:>5}")
    mx = result["phases"]["max"]
    lines.append("")
    lines.append(f"a {result['max_streams'] + 1}th stream: {mx.get('extra_client_status')}; a status request "
                 f"meanwhile: {mx.get('status_request')}")
    g = result["guards"]
    lines.append(f"16 wrong passwords at once: peak RSS {g['rss_mb_16_wrong_passwords']} MB (before "
                 f"{g['rss_mb_before_wrong_passwords']} MB; goal < 200), answers {g['wrong_password_statuses']}")
    lines.append(f"110 slow clients: slowest of {len(g['page_ms_with_110_slow_clients_each'])} page loads "
                 f"{g['page_ms_with_110_slow_clients']} ms (goal < 1000), all dropped after "
                 f"{g['slow_clients_dropped_s']} s")
    lines.append(f"{result['spec']} at {result['rate_hz']:g} SPS; load: {result['load']}")
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS,
                        help=f"clients in the main phase (default {DEFAULT_CLIENTS}, at most {MAX_STREAMS})")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds of the main phase (default 30, 5 with --quick; the others are shorter)")
    parser.add_argument("--spec", default=DEFAULT_SPEC, help=f"source spec, real time (default {DEFAULT_SPEC})")


def run_from_args(args) -> dict:
    return run(quick=args.quick, clients=args.clients, seconds=args.seconds, spec=args.spec)

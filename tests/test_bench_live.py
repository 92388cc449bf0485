"""bench/latency.py, bench/footprint.py, bench/load.py: smoke runs with ``--quick`` and their bookkeeping.

Keys present and values sane, never how fast: the figures come from
``python bench/run.py NAME``. The only ordering checked is causality (a page cannot show an impact before it
happened), which a slow machine cannot break.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import bench_serving, load_module

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "bench" / "run.py"
CHROMIUM = os.environ.get("FORCEPLATE_CHROMIUM", "/usr/bin/chromium")


serving = bench_serving()
load_bench = load_module("_test_bench_load", ROOT / "bench" / "load.py")


def bench_json(name, *args, timeout=240):
    done = subprocess.run([sys.executable, str(RUN), name, "--json", "--quick", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)                       # exactly one JSON object on stdout
    assert result["benchmark"] == name
    assert {"cpu", "cores", "python"} <= set(result["machine"])
    assert "load average" in result["load"]
    return result


# ------------------------------------------------------------------------------------- bookkeeping, fast

def _message(at, t, sets, *, event=None, lost=0, dropped=0):
    return {"at": at, "event": event, "t": t, "lost": lost, "events": [], "sets": sets, "dropped": dropped,
            "bytes": 100}


def test_a_client_that_got_every_set_lost_none_and_its_delays_are_from_the_due_instants():
    period = 1 / 80
    origin = 100.0
    messages = [_message(origin + 0.5, [i * period for i in range(10)], 10, event="hello")]
    for j in range(3):                         # 5 new sets a message, each 50 ms after its newest set
        ts = [(10 + 5 * j + i) * period for i in range(5)]
        messages.append(_message(origin + ts[-1] + 0.05, ts, 15 + 5 * j))
    figures = load_bench.client_figures(messages, origin, 1.0)
    assert figures["received"] == 15 and figures["produced"] == 15 and figures["lost"] == 0
    assert figures["delays_ms"][4] == pytest.approx(50.0)          # the newest set of a message: 50 ms
    assert figures["delays_ms"][0] == pytest.approx(100.0)         # the oldest waited 4 periods more


def test_sets_the_plate_counted_but_the_client_never_got_are_lost():
    period = 1 / 80
    messages = [_message(1.0, [0.0], 1, event="hello"),
                _message(1.1, [period, 2 * period], 3),             # sets 2 and 3
                _message(1.2, [5 * period], 6)]                     # 3 sets produced, 1 received
    figures = load_bench.client_figures(messages, 0.0, 1.0)
    assert figures["produced"] == 5 and figures["received"] == 3 and figures["lost"] == 2


def test_proc_readings_of_this_process():
    if os.environ.get("FORCEPLATE_ARCH_CHROOT"):        # set by scripts/arch-chroot.sh
        pytest.skip("qemu-user makes up this process's /proc/PID/stat, with CPU times of 0")
    assert serving.proc_cpu_s(os.getpid()) > 0
    memory = serving.proc_memory_mb(os.getpid())
    assert memory["VmRSS"] > 1 and memory["threads"] >= 1
    watch = serving.ProcWatch(os.getpid(), every_s=0.05).start()
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:      # some CPU to count
        pass
    figures = watch.stop()
    assert figures["cpu_s"] > 0 and figures["rss_mb_max"] >= figures["rss_mb_start"] > 1


# --------------------------------------------------------------------------------------- quick runs, slow

@pytest.mark.slow
def test_footprint_quick_json_has_the_contract_keys():
    result = bench_json("footprint")
    assert 10 < result["rss_mb"] < 2000
    assert result["cpu_pct_one_core"] > 0
    assert result["duration_s"] > 0
    for name in ("idle", "ideal_1000", "no_pandas"):
        assert 10 < result[f"rss_mb_{name}"] < 2000
        assert result[f"cpu_pct_one_core_{name}"] > 0
    cases = result["cases"]
    assert cases["one_client"]["spec"] == "sim:session" and cases["one_client"]["clients"] == 1
    assert cases["idle"]["clients"] == 0 and "rate_hz=1000" in cases["ideal_1000"]["spec"]
    assert cases["one_client"]["messages_per_s"] > 0 and cases["one_client"]["client_errors"] == []
    assert cases["no_pandas"]["pandas_loaded"] is False                 # the stub hid it


@pytest.mark.slow
def test_load_quick_json_has_the_contract_keys():
    result = bench_json("load")
    assert result["sse_clients"] == 10
    assert isinstance(result["sets_lost"], int) and result["sets_lost"] >= 0
    assert result["p95_ms"] > 0 and result["p95_ms"] >= result["p50_ms"]
    many = result["phases"]["many"]
    assert many["clients"] == 10 and many["client_errors"] == [] and many["refused"] == []
    assert many["sets_received"] > 0
    assert result["extra_client_status"] == 503              # MAX_STREAMS + 1 is refused, not queued
    assert result["phases"]["max"]["status_request"]["status"] == 200
    assert 10 < result["rss_mb_16_wrong_passwords"] < 2000
    assert result["guards"]["rss_mb_before_wrong_passwords"] > 10
    assert sum(result["guards"]["wrong_password_statuses"].values()) == 16
    assert result["page_ms_with_110_slow_clients"] > 0
    assert result["guards"]["page_statuses_with_110_slow_clients"] == [200] * 5
    assert result["guards"]["slow_clients_still_open"] == 0           # each dropped after request_timeout_s


@pytest.mark.slow
@pytest.mark.browser
def test_latency_quick_json_has_the_contract_keys():
    pytest.importorskip("playwright", reason="Playwright is not installed (PyPI has no wheel for 32-bit ARM)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; never `playwright install`)")
    from forceplate.signal.hx711_model import Hx711Model

    result = bench_json("latency")
    assert result["n"] >= 1
    assert result["adc_delay_ms"] == pytest.approx(Hx711Model().group_delay_s(80.0) * 1000)
    assert result["p95_ms"] >= result["p50_ms"] > 0          # causality: shown after it happened
    assert result["trace_p50_ms"] > 0 and result["http_p50_ms"] > 0
    # the faded provisional marker comes after the peak and well before the final one
    assert result["provisional_n"] >= 1
    assert 0 < result["provisional_p50_ms"] < result["p50_ms"]
    assert result["unmatched_events"] == [] and result["page_errors"] == []
    row = result["impacts"][0]
    assert {"latency_ms", "provisional_ms", "trace_ms", "http_ms", "analyser_wait_ms", "transport_ms",
            "draw_ms"} <= set(row)
    # then a heel-drop set, started on the page: its verdicts are final and drawn after the true peak
    assert result["typed_exercise"] == "heel-drop"
    assert result["typed_n"] >= 1 and result["typed_corrections"] == 0
    assert result["typed_verdict_p95_ms"] >= result["typed_verdict_p50_ms"] > 0

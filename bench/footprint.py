"""``footprint``: memory and CPU of ``forceplate serve`` with one live page open, the plate at 4 cells x 80 SPS.

Three servers, one after the other on the same machine in one run, each the real console script
(``forceplate serve --source SPEC`` on loopback, the benchmark password set with ``forceplate set-password``):

- ``one_client``: ``sim:session`` (the simulated plate: 4 cells at 80 SPS through the HX711 model, a person
  doing heel drops, jumps and sit-to-stands) with one signed-in live stream read over raw HTTP, as a browser's
  EventSource would. This is the contract's figure.
- ``idle``: the same plate, nobody watching (the sampler and the live analysis still run).
- ``ideal_1000``: ``sim:session?rate_hz=1000&adc=ideal``, a fast ADC's 1000 SPS, with one live stream.
- ``no_pandas``: ``one_client`` again, with pandas hidden from the server (a stub package first on its
  ``PYTHONPATH`` that raises ImportError). sqlite-utils imports pandas whenever it can; pandas is not a
  dependency of forceplate, but the ``bench`` extra (jumpmetrics) puts it into the project's environment, so a
  plate installed without that extra runs as this case does. Each case says whether pandas was mapped
  (``pandas_loaded``, from /proc/PID/maps).

Each server gets ``warmup_s`` to start sampling (imports, the first analyses, the client's first message),
then ``/proc/PID`` is read over ``duration_s``: CPU is utime + stime of all its threads over the window
(percent of one core), memory is VmRSS sampled every 0.5 s (the largest; also PSS, which shares the
libraries' pages fairly, and VmHWM, the peak since the process began). The client runs in this process, so
its CPU is not counted.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

DESCRIPTION = "RSS and CPU of `forceplate serve` with one live client (4 cells, 80 SPS), vs idle and 1000 SPS"

SPEC_80 = "sim:session"
SPEC_1000 = "sim:session?rate_hz=1000&adc=ideal"
CASES = (("one_client", SPEC_80, 1, False), ("idle", SPEC_80, 0, False), ("ideal_1000", SPEC_1000, 1, False),
         ("no_pandas", SPEC_80, 1, True))
HIDE_PANDAS = 'raise ImportError("pandas is hidden by bench/footprint.py (a plate without the bench extra)")\n'




def measure(spec: str, clients: int, *, duration_s: float, warmup_s: float, data_dir, env=None) -> dict:
    import _serving as serving     # bench/ is on sys.path: run.py's own folder, or the tests put it there
    load_before = serving.load_avg()
    with serving.serving(spec, traced=False, data_dir=data_dir, env=env) as served:
        readers = []
        if clients:
            cookie = serving.sign_in(served.port)
            readers = [serving.StreamClient(served.port, cookie, name=f"client-{i}") for i in range(clients)]
        with serving.reading(readers):
            time.sleep(warmup_s)
            sent_before = [(len(r.messages), r.bytes) for r in readers]
            watch = serving.ProcWatch(served.pid).start()
            time.sleep(duration_s)
            figures = watch.stop()
            figures["pandas_loaded"] = serving.proc_maps_any(served.pid, "/pandas/")
            sent_after = [(len(r.messages), r.bytes) for r in readers]
    out = {"spec": spec, "clients": clients, **figures,
           "load_avg_before": load_before, "load_avg_after": serving.load_avg()}
    if readers:
        window = figures["wall_s"]
        out["messages_per_s"] = round((sent_after[0][0] - sent_before[0][0]) / window, 1)
        out["stream_kb_per_s"] = round((sent_after[0][1] - sent_before[0][1]) / window / 1000, 2)
        out["client_errors"] = [r.error for r in readers if r.error]
    return out


def run(*, quick: bool = False, duration_s: float | None = None, warmup_s: float | None = None) -> dict:
    import tempfile
    import _serving as serving     # bench/ is on sys.path: run.py's own folder, or the tests put it there
    duration_s = float(duration_s if duration_s is not None else (5.0 if quick else 45.0))
    warmup_s = float(warmup_s if warmup_s is not None else (2.0 if quick else 8.0))
    started = time.monotonic()
    load_before = serving.load_avg()
    cases = {}
    with tempfile.TemporaryDirectory(prefix="forceplate-footprint-") as tmp:
        data_dir = Path(tmp) / "data"
        serving.set_password(data_dir)                  # once: every server signs in against the same folder
        stub = Path(tmp) / "hide" / "pandas"
        stub.mkdir(parents=True)
        (stub / "__init__.py").write_text(HIDE_PANDAS)
        hidden = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(stub.parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        for name, spec, clients, hide in CASES:
            cases[name] = measure(spec, clients, duration_s=duration_s, warmup_s=warmup_s, data_dir=data_dir,
                                  env=hidden if hide else None)
    main = cases["one_client"]
    result = {"rss_mb": main["rss_mb_max"], "cpu_pct_one_core": main["cpu_pct_one_core"],
              "duration_s": main["wall_s"]}
    for name in ("idle", "ideal_1000", "no_pandas"):
        result[f"rss_mb_{name}"] = cases[name]["rss_mb_max"]
        result[f"cpu_pct_one_core_{name}"] = cases[name]["cpu_pct_one_core"]
    result["pss_mb"] = main["pss_mb_max"]
    result["stream_kb_per_s"] = main.get("stream_kb_per_s")
    result["cases"] = cases
    result["warmup_s"] = warmup_s
    result["quick"] = quick
    result["load"] = serving.load_note(load_before)
    result["total_s"] = round(time.monotonic() - started, 1)
    return result


def format_table(result: dict) -> str:
    lines = [f"{'case':<12} {'spec':<36} {'clients':>7} {'RSS MB':>7} {'PSS MB':>7} {'CPU % core':>10} "
             f"{'stream kB/s':>11} {'pandas':>6} {'load (1 min)':>12}"]
    for name, case in result["cases"].items():
        lines.append(f"{name:<12} {case['spec']:<36} {case['clients']:>7} {case['rss_mb_max']:>7} "
                     f"{case['pss_mb_max']!s:>7} {case['cpu_pct_one_core']:>10} "
                     f"{case.get('stream_kb_per_s', '-')!s:>11} {'yes' if case['pandas_loaded'] else 'no':>6} "
                     f"{case['load_avg_before'][0]:>12}")
    lines.append("")
    lines.append(f"each measured over {result['duration_s']} s after {result['warmup_s']} s of warm-up; "
                 f"load: {result['load']}")
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("--duration", type=float, default=None, dest="duration_s",
                        help="seconds measured per server (default 45, 5 with --quick)")
    parser.add_argument("--warmup", type=float, default=None, dest="warmup_s",
                        help="seconds before measuring (default 8, 2 with --quick)")


def run_from_args(args) -> dict:
    return run(quick=args.quick, duration_s=args.duration_s, warmup_s=args.warmup_s)

"""Peak memory of reading and analysing a long recording: ``.venv/bin/python bench/csv_memory.py [--rows N]``.

Not a contract benchmark (docs/contracts.md section 4): a measurement of the reader's promise that memory holds
the numbers, not the text. It writes a recording of ``--rows`` rows (default 10 M: 2.8 hours at 1 kHz, 168 MB
with one force column) in a temporary folder, the gidiel countermovement jump of tests/data over and over, then
runs, each in a fresh process, and reports its peak resident memory (``VmHWM``, counted from the process'
exec; ``ru_maxrss`` would start at the size of this process, which forked it):

- ``idle_mb``: python importing forceplate's analysis and reading nothing (what every process pays);
- ``read_mb``: :func:`forceplate.storage.traces.read_trace` of the file;
- ``analyze_mb``: ``forceplate analyze FILE --json``, what a user runs;

and the bytes per sample above ``idle_mb`` that :data:`forceplate.storage.traces.ANALYSIS_BYTES_PER_SAMPLE`
(plus ``ANALYSIS_BYTES_PER_FORCE_COLUMN`` per column) must cover for the default sample limit to be honest.
Prints one JSON object. It takes about 20 s for 10 M rows on an x86_64 laptop core.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = REPO_ROOT / "tests" / "data" / "gidiel_vj_single_cmj.csv"
VENV_BIN = REPO_ROOT / ".venv" / "bin"

# Each run reports its own VmHWM at exit into the file named by its first argument.
REPORT = """
import atexit, sys
def report():
    with open("/proc/self/status") as status, open(sys.argv[1], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(report)
import forceplate.analyze, forceplate.storage.traces, numpy
"""
IDLE = REPORT
READ = REPORT + "forceplate.storage.traces.read_trace(sys.argv[2])\n"
ANALYZE = REPORT + "from forceplate.cli import main\nmain(['analyze', sys.argv[2], '--json'])\n"


def write_recording(path: Path, rows: int, channels: int) -> None:
    from forceplate.storage.traces import read_trace

    force = read_trace(SOURCE).force_n[:, 0] / channels
    with open(path, "w") as out:
        out.write("t_s," + ",".join(f"fz{c + 1}_n" for c in range(channels)) + "\n")
        for start in range(0, rows, 100_000):
            idx = np.arange(start, min(rows, start + 100_000))
            out.write("".join(f"{i / 1000:.3f}" + f",{f:.3f}" * channels + "\n"
                              for i, f in zip(idx.tolist(), force[idx % force.size].tolist())))


def peak_mb(code: str, *args) -> tuple[float, float]:
    """Peak resident memory (MB) and wall time (s) of ``python -c code`` run to its end; it must succeed."""
    with tempfile.NamedTemporaryFile("r") as peak_kib:
        start = time.perf_counter()
        r = subprocess.run([str(VENV_BIN / "python"), "-c", code, peak_kib.name, *map(str, args)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
        if r.returncode != 0:
            raise SystemExit(f"{code.strip().splitlines()[-1]} failed: {r.stderr.strip()}")
        return int(peak_kib.read()) * 1024 / 1e6, seconds


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--channels", type=int, default=1, help="force columns (fz1_n ... fzN_n)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.csv"
        write_recording(path, args.rows, args.channels)
        idle, _ = peak_mb(IDLE)
        read, read_s = peak_mb(READ, path)
        analyze, analyze_s = peak_mb(ANALYZE, path)
        file_mb = path.stat().st_size / 1e6
    numbers_mb = args.rows * (args.channels + 1) * 8 / 1e6
    return {"rows": args.rows, "channels": args.channels, "file_mb": round(file_mb, 1),
            "numbers_mb": round(numbers_mb, 1), "idle_mb": round(idle, 1), "read_mb": round(read, 1),
            "read_s": round(read_s, 2), "analyze_mb": round(analyze, 1), "analyze_s": round(analyze_s, 2),
            "analyze_bytes_per_sample": round((analyze - idle) * 1e6 / args.rows, 1)}


if __name__ == "__main__":
    print(json.dumps(main()))
    sys.exit(0)

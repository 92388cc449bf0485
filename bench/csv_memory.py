"""Peak memory of reading and analysing a long recording: ``.venv/bin/python bench/csv_memory.py [--rows N]``.

Not a contract benchmark (docs/contracts.md section 4): a measurement of the reader's promise that memory holds
the numbers, not the text. It writes a recording of ``--rows`` rows (default 10 M: 2.8 hours at 1 kHz, 168 MB
with one force column) in a temporary folder, the gidiel countermovement jump of tests/data over and over, then
runs, each in a fresh process, and reports its peak resident memory (``ru_maxrss`` from ``wait4``):

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
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = REPO_ROOT / "tests" / "data" / "gidiel_vj_single_cmj.csv"
VENV_BIN = REPO_ROOT / ".venv" / "bin"

IDLE = "import forceplate.analyze, forceplate.storage.traces, numpy"
READ = "import sys; from forceplate.storage.traces import read_trace; read_trace(sys.argv[1])"


def write_recording(path: Path, rows: int, channels: int) -> None:
    from forceplate.storage.traces import read_trace

    force = read_trace(SOURCE).force_n[:, 0] / channels
    with open(path, "w") as out:
        out.write("t_s," + ",".join(f"fz{c + 1}_n" for c in range(channels)) + "\n")
        for start in range(0, rows, 100_000):
            idx = np.arange(start, min(rows, start + 100_000))
            out.write("".join(f"{i / 1000:.3f}" + f",{f:.3f}" * channels + "\n"
                              for i, f in zip(idx.tolist(), force[idx % force.size].tolist())))


def peak_mb(argv: list) -> tuple[float, float]:
    """Peak resident memory (MB) and wall time (s) of a command run to its end; it must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed: {stderr.decode(errors='replace').strip()}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start     # ru_maxrss is in KiB on Linux


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--channels", type=int, default=1, help="force columns (fz1_n ... fzN_n)")
    args = parser.parse_args(argv)
    python = str(VENV_BIN / "python")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.csv"
        write_recording(path, args.rows, args.channels)
        idle, _ = peak_mb([python, "-c", IDLE])
        read, read_s = peak_mb([python, "-c", READ, str(path)])
        analyze, analyze_s = peak_mb([str(VENV_BIN / "forceplate"), "analyze", str(path), "--json"])
        file_mb = path.stat().st_size / 1e6
    numbers_mb = args.rows * (args.channels + 1) * 8 / 1e6
    return {"rows": args.rows, "channels": args.channels, "file_mb": round(file_mb, 1),
            "numbers_mb": round(numbers_mb, 1), "idle_mb": round(idle, 1), "read_mb": round(read, 1),
            "read_s": round(read_s, 2), "analyze_mb": round(analyze, 1), "analyze_s": round(analyze_s, 2),
            "analyze_bytes_per_sample": round((analyze - idle) * 1024 * 1024 / args.rows, 1)}


if __name__ == "__main__":
    print(json.dumps(main()))
    sys.exit(0)

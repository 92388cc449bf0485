"""Run one benchmark: ``python bench/run.py NAME [--json] [--quick]`` from the repository root.

Each benchmark is a module ``bench/<NAME>.py`` listed in :data:`BENCHMARKS` (docs/contracts.md section 4). A module
provides ``DESCRIPTION``, ``run_from_args(args) -> dict`` (one JSON-able object with the contract's keys) and
optionally ``add_arguments(parser)`` for its own options and ``format_table(result) -> str`` for the readable
output. A name whose module does not exist yet is known but not implemented: exit 2 with a message.

``--json`` prints exactly one JSON object on stdout (the machine is under ``"machine"``); without it, a table.
Exit status: 0 done, 2 unknown or unimplemented benchmark or bad arguments.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

# The contract's benchmarks, in its order. Adding one: write bench/<name>.py with run_from_args().
BENCHMARKS = {
    "sampler": "CPU per sample set of the compiled HX711 sampler vs its pure-Python twin and the hx711 package",
    "analysis": "signal seconds analysed per CPU second, ours vs jumpmetrics and plateforce on the same files",
    "latency": "impact entering the source to shown in a real browser, p50 and p95",
    "footprint": "RSS and CPU of `serve` with one live client, 4 cells at 80 SPS",
    "storage": "bytes per stored sample set, history page server time",
    "load": "SSE clients served without losing sample sets, latency under that load",
}


def machine() -> dict:
    """What the numbers were measured on."""
    info = {"cpu": _cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
            "system": f"{platform.system()} {platform.release()}",
            "python": f"{platform.python_implementation()} {platform.python_version()}"}
    try:
        info["cores_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:                      # not on Linux
        pass
    board = Path("/proc/device-tree/model")     # a Raspberry Pi names itself here
    if board.exists():
        info["board"] = board.read_bytes().rstrip(b"\0").decode(errors="replace")
    try:
        import numpy
        info["numpy"] = numpy.__version__
    except ImportError:
        info["numpy"] = None
    return info


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    # x86 says "model name"; ARM kernels often give only the CPU part number, and a Pi its "model" line
    for key in ("model name", "model", "hardware", "processor"):
        if fields.get(key) and not fields[key].isdigit():
            return fields[key]
    return platform.processor() or platform.machine()


def load(name: str):
    """The module of a known benchmark, or None when it is not implemented yet."""
    path = BENCH_DIR / f"{name}.py"
    if not path.exists():
        return None
    if str(REPO_ROOT) not in sys.path:        # forceplate from this checkout when it is not installed
        sys.path.insert(1, str(REPO_ROOT))
    # loaded by path, under a private name: bench/ is not a package and "analysis" is a common name
    spec = importlib.util.spec_from_file_location(f"_forceplate_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module           # dataclasses look their module up while the body runs
    spec.loader.exec_module(module)
    return module


def _usage_error(message: str) -> int:
    print(f"bench/run.py: {message}", file=sys.stderr)
    print("known benchmarks:", file=sys.stderr)
    for name, description in BENCHMARKS.items():
        state = "" if (BENCH_DIR / f"{name}.py").exists() else "  [not yet implemented]"
        print(f"  {name:<10} {description}{state}", file=sys.stderr)
    return 2


def _jsonable(value):
    """NaN and infinity are not JSON: print them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = [a for a in argv if not a.startswith("-")]
    if not names or names[0] not in BENCHMARKS:
        if "-h" in argv or "--help" in argv:
            return _usage_error("usage: python bench/run.py NAME [--json] [--quick] [options of NAME]")
        return _usage_error(f"unknown benchmark {names[0]!r}" if names else "which benchmark? give a NAME")
    name = names[0]
    module = load(name)
    if module is None:
        print(f"bench/run.py: benchmark {name!r} is not yet implemented (no bench/{name}.py); "
              f"implemented: {', '.join(n for n in BENCHMARKS if (BENCH_DIR / f'{n}.py').exists())}",
              file=sys.stderr)
        return 2

    parser = argparse.ArgumentParser(prog=f"bench/run.py {name}", description=module.DESCRIPTION)
    parser.add_argument("name", choices=[name])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--quick", action="store_true",
                        help="a few short repetitions: checks that it runs, the numbers are not stable")
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2

    result = module.run_from_args(args)
    result = {"benchmark": name, **result, "machine": machine()}
    if args.json:
        print(json.dumps(_jsonable(result)))
        return 0
    m = result["machine"]
    print(f"{name}: {module.DESCRIPTION}")
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['machine']}, {m['python']}, numpy {m['numpy']}"
          + (" (--quick: not stable numbers)" if args.quick else ""))
    print()
    if hasattr(module, "format_table"):
        print(module.format_table(result))
    else:
        for key, value in result.items():
            if key != "machine":
                print(f"{key:<32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

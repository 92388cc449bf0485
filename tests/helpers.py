"""Plain helpers more than one test module uses (fixtures are in conftest.py).

- bench/ code for the tests: bench/ is not a package, so its modules are loaded by path. The tests that run
  ``forceplate serve`` as a real process use bench/_serving.py's ``serving``, ``sign_in`` and ``free_port``:
  one way to start, wait for and stop a server, for the benchmarks and the tests alike.
- ``parse_sse``: one Server-Sent Events message.
"""
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "bench") not in sys.path:     # as for `python bench/run.py`: bench modules import _serving
    sys.path.insert(0, str(ROOT / "bench"))


def load_module(name, path):
    """The module in the file ``path``, under ``name`` in sys.modules (loaded on the first call, then shared)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module              # dataclasses look their module up while the body runs
        spec.loader.exec_module(module)
    return sys.modules[name]


def bench_serving():
    """bench/_serving.py, imported as the benchmarks import it (so they and the tests share one module)."""
    return importlib.import_module("_serving")


def parse_sse(chunk: bytes) -> dict:
    """One SSE message -> {"event", "data" (parsed JSON), "retry", "comment"}."""
    message = {}
    for line in filter(None, chunk.decode("utf-8").splitlines()):
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "":
            message["comment"] = value
        elif field == "data":
            message["data"] = json.loads(value)
        else:
            message[field] = value
    return message

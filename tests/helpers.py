"""Plain helpers more than one test module uses (fixtures are in conftest.py).

- bench/ code for the tests: bench/ is not a package, so its modules are loaded by path. The tests that run
  ``forceplate serve`` as a real process use bench/_serving.py's ``serving``, ``sign_in`` and ``free_port``:
  one way to start, wait for and stop a server, for the benchmarks and the tests alike.
- ``parse_sse``: one Server-Sent Events message.
- ``data_path``: a real recording in tests/data (``DATA_DIR``), or a skip saying why it is not there;
  ``recordings``: every recording there.
"""
import importlib.util
import json
import sys
import threading
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "bench") not in sys.path:     # as for `python bench/run.py`: bench modules import _serving
    sys.path.insert(0, str(ROOT / "bench"))

DATA_DIR = ROOT / "tests" / "data"


def data_path(name: str) -> Path:
    """tests/data/<name>: a real recording (``.csv``) or its licence and reference values (``.json``).

    A missing name is an error, never a skip: a test that silently skipped would prove nothing."""
    path = DATA_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such recording in tests/data (see tests/data/README.md)")
    return path


def recordings() -> list[Path]:
    """Every CSV recording in tests/data, sorted; an empty folder is an error, not a loop that proves nothing."""
    paths = sorted(DATA_DIR.glob("*.csv"))
    if not paths:
        raise FileNotFoundError(f"no recordings in {DATA_DIR} (see tests/data/README.md)")
    return paths


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


QUIET_STANCE_S = 1.5    # gidiel_vj_single_cmj stands still for its first 1.5 s (its JSON: "from 1 s of quiet stance")


def quiet_stance_csv(folder: Path) -> Path:
    """A real recording of quiet standing: the first 1.5 s of gidiel_vj_single_cmj (1000 Hz), before it moves."""
    lines = data_path("gidiel_vj_single_cmj.csv").read_text(encoding="utf-8").splitlines()
    out = Path(folder) / "quiet_stance.csv"
    out.write_text("\n".join(lines[:1 + int(QUIET_STANCE_S * 1000)]) + "\n", encoding="utf-8")
    return out


HEARD_WAIT_S = 10.0       # a safety net for a broken writer, never a timing assumption


class Heard:
    """A listener that keeps what it hears and lets a test wait for a kind of event."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, kind, count=1):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.kinds(kind)) >= count, HEARD_WAIT_S), (kind, self.events)
            return self.kinds(kind)

    def kinds(self, kind):
        return [e for e in self.events if e["kind"] == kind]

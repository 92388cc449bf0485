"""The package's layout rules: one folder per subsystem, a small root, no reaching into private names."""
import ast
import json
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "forceplate"
SUBSYSTEMS = ("device", "device/sim", "signal", "storage", "live", "calibration", "programme", "webui")
# A compiled kernel and its pure-Python twin are private modules by design: the one module that chooses
# between them (and the tests of both) imports them by name.
KERNELS = {"_hx711", "_hx711_py", "_gpio", "_gpio_py", "_rawcodec", "_rawcodec_py"}


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_root_holds_only_the_package_face():
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= 8, root
    assert {"__init__.py", "__main__.py", "cli.py", "config.py", "exc.py"} <= set(root)


def test_every_subsystem_is_one_folder():
    for name in SUBSYSTEMS:
        assert (PACKAGE / name / "__init__.py").is_file(), name
        assert not (PACKAGE / f"{name}.py").exists(), f"{name}.py beside the {name}/ folder"


def private_imports(source: str) -> list[tuple[int, str]]:
    """(line, name) of every private name an import statement in `source` takes from another module."""
    return [(node.lineno, alias.name) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if alias.name.startswith("_") and not alias.name.startswith("__") and alias.name not in KERNELS]


def test_no_module_imports_a_private_name_from_another():
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: imports {name}"
             for path in modules() for line, name in private_imports(path.read_text(encoding="utf-8"))]
    assert not found, "\n".join(found)


def test_the_private_import_check_can_fail():
    # A made-up module that reaches into another's private helper; the kernel twin is allowed.
    source = "from .jumps import _loading_rate, find_flights\nfrom . import _gpio_py\n"
    assert private_imports(source) == [(1, "_loading_rate")]


def test_signal_code_does_not_branch_on_the_adc_everywhere():
    # The HX711 is one refinement pass over events found on its words, not a flag threaded through detectors.
    pattern = re.compile(r"is_hx711|adc == .hx711")
    lines = [f"{p.name}:{i}" for p in (PACKAGE / "signal").glob("*.py")
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert len(lines) <= 3, lines


def test_code_tests_and_docs_say_what_not_which_request():
    repo = PACKAGE.parent
    pattern = re.compile(r"issue [0-9]", re.IGNORECASE)
    hits = [f"{p.relative_to(repo)}:{i}"
            for folder in ("forceplate", "tests", "docs") for p in (repo / folder).rglob("*")
            if p.is_file() and p.suffix in {".py", ".pyx", ".md", ".html", ".js"} and p.name != Path(__file__).name
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not hits, hits


DATA = PACKAGE.parent / "tests" / "data"
PERMISSIVE = re.compile(r"^(MIT|CC BY( \d\.\d)?|CC0( 1\.0)?)$")


def test_every_recording_in_the_repository_carries_a_permissive_licence_and_its_attribution():
    csvs = sorted(DATA.glob("*.csv"))
    assert csvs, "tests/data holds no recordings"
    listing = (DATA / "README.md").read_text(encoding="utf-8")
    for csv in csvs:
        meta = json.loads(csv.with_suffix(".json").read_text(encoding="utf-8"))
        assert PERMISSIVE.match(meta["licence"]), f"{csv.name}: licence {meta['licence']!r}"
        assert meta.get("licence_notice"), f"{csv.name}: no licence notice"
        assert csv.stem in listing, f"{csv.name} is not listed in tests/data/README.md"


def test_the_licence_rule_refuses_what_is_not_plainly_permissive():
    for licence in ("CC BY-NC 4.0", "CC BY 4.0 (original data set); the copy has no licence file", "", "GPL-3.0"):
        assert not PERMISSIVE.match(licence), licence
    for licence in ("MIT", "CC BY 4.0", "CC0 1.0"):
        assert PERMISSIVE.match(licence), licence


def imported_modules(path: Path) -> set[str]:
    """The forceplate modules `path` imports, as absolute dotted names."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            names.add(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_storage_speaks_sql_and_calls_no_layer_above_it():
    # The programme's rules, the live plate and the web UI call the store; the store calls none of them.
    above = ("forceplate.programme", "forceplate.live", "forceplate.webui", "forceplate.calibration")
    found = [f"{path.name}: {name}" for path in (PACKAGE / "storage").glob("*.py")
             for name in imported_modules(path) if name.startswith(above)]
    assert not found, found

"""The README's pictures of the live page: docs/live-phone.png (390x844) and docs/live-desktop.png (1366x900).

Serves the simulated heel drops with `forceplate serve` in a fresh data folder, adds a person, starts a heel-drop
set and waits for reps, then saves each size in Debian's headless Chromium (never a downloaded browser), the same
harness the browser tests use (tests/browserkit.py)::

    .venv/bin/python scripts/screenshots.py            # both, into docs/
    .venv/bin/python scripts/screenshots.py --out /tmp  # elsewhere
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import browserkit  # noqa: E402  (tests/ on the path first)

SPEC = "sim:heel-drops?speed=2&seed=11&body_mass_kg=68"
SIZES = {"live-phone.png": {"width": 390, "height": 844}, "live-desktop.png": {"width": 1366, "height": 900}}


def add_person(data_dir: Path, name: str, mass_kg: float) -> int:
    from forceplate.storage.store import Store
    with Store(data_dir) as store:
        person_id = store.add_person(name, changed_by="screenshots", birth_year=1953)
        store.add_body_mass(person_id, mass_kg, changed_by="screenshots")
    return person_id


def shoot(out: Path, *, min_reps: int = 4, timeout_s: float = 90.0) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        person_id = add_person(data_dir, "Ann Example", 68.0)
        with browserkit.serving(data_dir, SPEC) as served, browserkit.chromium() as browser:
            url = served.url
            pages = {}
            for name, size in SIZES.items():
                page = browserkit.open_page(browser, url, size)
                browserkit.sign_in(page, url)
                page.goto(f"{url}?person={person_id}")
                page.wait_for_function("() => window.forceplateLive && window.forceplateLive.state.messages > 0",
                                       timeout=timeout_s * 1000)
                pages[name] = page
            first = pages["live-desktop.png"]
            first.locator("#set-exercise").select_option("heel-drop")
            first.get_by_role("button", name="Start set").click()
            for name, page in pages.items():        # the phone follows the set started on the desktop
                page.wait_for_function("() => window.forceplateLive.sets.events.filter("
                                       f"e => window.forceplateLive.isCounted(e)).length >= {min_reps}",
                                       timeout=timeout_s * 1000)
            for name, page in pages.items():
                page.evaluate("() => window.scrollTo(0, 0)")
                page.wait_for_timeout(300)          # the last frame drawn
                page.screenshot(path=str(out / name))
                saved.append({"saved": str(out / name), **page.viewport_size,
                              "reps": page.evaluate("() => window.forceplateLive.sets.events.length")})
    return saved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs (default docs/)")
    args = parser.parse_args(argv)
    why = browserkit.have_chromium()
    if why:
        print(why, file=sys.stderr)
        return 1
    for line in shoot(args.out):
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())

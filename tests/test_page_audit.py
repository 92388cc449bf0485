"""Every page at a phone's and a laptop's size, in Debian's Chromium: no serious or critical accessibility
violation (axe-core, vendored), nothing wider than the screen, a heading, touch targets of 44 px, no request
off the plate and no script error.

The data folder holds one person with a heel-drop set recorded by `forceplate record` (a real subprocess on the
simulated plate), so the person, history and session pages have something to show.
"""
import subprocess

import pytest

import browserkit
from browserkit import VIEWPORTS, open_page, page_problems, sign_in

pytestmark = pytest.mark.browser

SPEC = "sim:heel-drops?speed=4&seed=5&body_mass_kg=70"
PAGES = ["/", "/people", "/people/new", "/people/1", "/people/1/edit", "/people/1/history", "/sessions/1",
         "/settings"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("audit") / "data"
    subprocess.run([str(browserkit.bench.FORCEPLATE), "record", "--person", "Audit Person", "--seconds", "12",
                    "--source", "sim:heel-drops?speed=8&seed=5&body_mass_kg=70", "--exercise", "heel-drop",
                    "--data-dir", str(data_dir)], check=True, capture_output=True, timeout=120)
    with browserkit.serving(data_dir, SPEC) as served:
        yield served.url.rstrip("/")


@pytest.fixture(scope="module", params=sorted(VIEWPORTS))
def signed_in(request, browser, site):
    page = open_page(browser, site, request.param)
    sign_in(page, site + "/")
    yield page
    page.context.close()


def _check(page, url):
    page.wait_for_load_state("networkidle") if "/live" not in url and url != "/" else page.wait_for_timeout(1500)
    return page_problems(page)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_accessible_fits_the_screen_and_has_big_targets(signed_in, site, path):
    page = signed_in
    page.console_errors.clear()
    page.goto(site + path)
    problems = _check(page, path)
    assert not problems, f"{path} at {page.viewport_size}: {problems}"


def test_the_login_page_is_accessible_too(browser, site):
    for name in VIEWPORTS:
        page = open_page(browser, site, name)
        try:
            page.goto(site + "/login")
            problems = _check(page, "/login")
            assert not problems, f"/login at {name}: {problems}"
        finally:
            page.context.close()

"""The Settings page in Debian's Chromium at a phone's and a laptop's size, on a real `forceplate serve`: the
password change end to end (typed with the keyboard alone), the tare button's report, the backup download, and
the page's own controls big enough and the page accessible (the top navigation is the pages' own, judged by
tests/test_page_audit.py)."""
import re
import sqlite3
import subprocess

import pytest

import browserkit
from browserkit import PASSWORD, VIEWPORTS, axe_violations, open_page, sign_in, small_targets, too_wide

pytestmark = pytest.mark.browser

SPEC = "sim:standing?body_mass_kg=70"
NEW_PASSWORD = "a new clinic password 2"


def record_a_set(data_dir):
    subprocess.run([str(browserkit.bench.FORCEPLATE), "record", "--person", "Backup Person", "--seconds", "8",
                    "--source", "sim:heel-drops?speed=8&seed=5&body_mass_kg=70", "--exercise", "heel-drop",
                    "--data-dir", str(data_dir)], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("settings") / "data"
    record_a_set(data_dir)
    with browserkit.serving(data_dir, SPEC) as served:
        yield served.url.rstrip("/")


@pytest.fixture(scope="module", params=sorted(VIEWPORTS))
def settings_page(request, browser, site):
    page = open_page(browser, site, request.param)
    sign_in(page, site + "/settings")
    yield page
    page.context.close()


def own_small_targets(page):
    """Small targets outside the top navigation."""
    nav = set(page.evaluate("""() => Array.from(document.querySelectorAll('.topnav a, .topnav button'))
                                      .map(el => (el.textContent || '').trim().slice(0, 30))"""))
    return [t for t in small_targets(page) if re.search(r'"([^"]*)"', t).group(1) not in nav]


def test_the_page_is_accessible_fits_and_its_controls_are_big_enough(settings_page, site):
    page = settings_page
    page.goto(site + "/settings")
    assert page.locator("h1").count() == 1
    assert axe_violations(page) == []
    assert too_wide(page) == []
    assert own_small_targets(page) == []
    assert page.console_errors == [] and page.foreign_requests == []


def test_the_tare_button_says_it_is_taring_then_reports(settings_page, site):
    page = settings_page
    page.goto(site + "/settings")
    # what the status line says while the server takes its 3 s of readings, kept across the page's reload
    page.evaluate("""() => {
        const status = document.getElementById('tare-status');
        new MutationObserver(() => sessionStorage.setItem('tare-status', status.textContent))
            .observe(status, {childList: true, characterData: true, subtree: true});
    }""")
    with page.expect_navigation(url=re.compile(r"/settings#plate$"), timeout=20_000):
        page.get_by_role("button", name="Tare now").click()
    assert "Taring: keep the plate empty and still" in page.evaluate("() => sessionStorage.getItem('tare-status')")
    # the simulated person stands on the plate, so the report is a refusal that says why
    assert page.url.endswith("/settings#plate")
    report = page.locator("#plate-problem, #plate-done")
    assert report.count() == 1
    assert re.search(r"(Not tared: the plate reads \d+ N: step off before taring|Not tared: .*still|Tared: )",
                     report.inner_text()), report.inner_text()


def test_the_backup_downloads_as_a_database_holding_the_people_and_sessions(settings_page, site, tmp_path):
    page = settings_page
    page.goto(site + "/settings#backup")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download a backup of the whole database").click()
    download = download_info.value
    assert re.fullmatch(r"forceplate-backup-\d{8}-\d{4}\.sqlite3", download.suggested_filename)
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    db = sqlite3.connect(target)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in db.execute("SELECT name FROM people")] == ["Backup Person"]
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] > 0
    finally:
        db.close()


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_changing_the_password_by_keyboard_works_and_the_old_one_fails_afterwards(browser, tmp_path, viewport):
    from playwright.sync_api import expect
    with browserkit.serving(tmp_path / "data", SPEC) as served:
        site = served.url.rstrip("/")
        page = open_page(browser, site, viewport)
        other = open_page(browser, site, viewport)           # another browser, signed in before the change
        try:
            sign_in(other, site + "/people")
            sign_in(page, site + "/settings")
            page.get_by_label("Current password").focus()
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Tab")
            page.keyboard.type(NEW_PASSWORD)
            page.keyboard.press("Tab")
            page.keyboard.type(NEW_PASSWORD)
            with page.expect_navigation():
                page.keyboard.press("Enter")
            expect(page.locator("#password-done")).to_contain_text("The clinic password is changed")
            page.goto(site + "/people")                          # this browser stays signed in
            expect(page).to_have_url(site + "/people")
            other.goto(site + "/people")                         # the other one is signed out
            expect(other).to_have_url(re.compile(r"/login\?next="))
            other.get_by_label("Clinic password").fill(PASSWORD)
            other.get_by_role("button", name="Sign in").click()
            expect(other.locator("#auth-error")).to_contain_text("Wrong password")
            other.get_by_label("Clinic password").fill(NEW_PASSWORD)
            other.get_by_role("button", name="Sign in").click()
            expect(other).to_have_url(site + "/people")
            assert page.console_errors == []        # (the other's wrong password was a 401: Chromium logs it)
        finally:
            page.context.close()
            other.context.close()


def audit(page):
    problems = {}
    if page.locator("h1").count() != 1:
        problems["headings"] = page.locator("h1").count()
    for name, found in (("accessibility", axe_violations(page)), ("too wide", too_wide(page)),
                        ("small targets", small_targets(page)), ("script errors", page.console_errors)):
        if found:
            problems[name] = found
    return problems


def test_the_first_start_page_is_accessible_fits_and_has_big_targets(browser, tmp_path):
    with browserkit.serving(tmp_path / "data", SPEC, password=None) as served:
        site = served.url.rstrip("/")
        for viewport in sorted(VIEWPORTS):
            page = open_page(browser, site, viewport)
            try:
                page.goto(site + "/")
                assert page.url == site + "/setup"
                assert page.locator("h1").all_inner_texts() == ["Welcome: choose the clinic password"]
                assert audit(page) == {}, viewport
                assert page.get_by_label("Setup code").is_visible()
                assert page.get_by_label("New password again").is_visible()
            finally:
                page.context.close()


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_signing_in_works_by_keyboard_alone(browser, site, viewport):
    page = open_page(browser, site, viewport)
    try:
        page.goto(site + "/settings")
        assert audit(page) == {}
        # the password field has the focus on arrival; Tab reaches "Show password" and then the button
        assert page.evaluate("() => document.activeElement.id") == "password"
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Tab")
        page.keyboard.press("Space")                                   # show the password
        assert page.get_by_label("Clinic password").get_attribute("type") == "text"
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent.trim()") == "Sign in"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == site + "/settings"
    finally:
        page.context.close()


def test_the_sign_in_page_is_headed_by_what_it_is_for(browser, site):
    page = open_page(browser, site, "phone")
    try:
        page.goto(site + "/login")
        assert page.locator("h1").all_inner_texts() == ["Sign in"]
    finally:
        page.context.close()

"""The live page in a real headless Chromium (Debian's, through Playwright), served by `forceplate serve`.

The clinic password is set first with `forceplate set-password`; every page signs in through the real login form.

Never downloads a browser: Playwright drives /usr/bin/chromium (FORCEPLATE_CHROMIUM overrides it).

The README's screenshots come from scripts/screenshots.py.
"""
import re
from contextlib import contextmanager

import pytest

import browserkit
from browserkit import PASSWORD, WAIT_MS, sign_in

pytestmark = pytest.mark.browser

BODY_MASS_KG = 68.0
STANDARD_GRAVITY_M_S2 = 9.80665
SPEC = f"sim:heel-drops?speed=4&seed=11&body_mass_kg={BODY_MASS_KG:g}"


@contextmanager
def serving(data_dir, spec=SPEC, port=None):
    """`forceplate serve` on loopback (a free port unless given); yields the page's URL. Stopped with SIGTERM.

    The clinic password is PASSWORD (set unless the data folder has one: a new one would end the sessions).
    """
    with browserkit.serving(data_dir, spec, port=port) as served:
        yield served.url


@pytest.fixture(scope="module")
def live_url(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("browser") / "data") as url:
        yield url


def open_page(browser, base_url):
    """A 1280x800 page that records console errors and refuses (and records) requests off ``base_url``."""
    return browserkit.open_page(browser, base_url, {"width": 1280, "height": 800})


@pytest.fixture
def page(browser, live_url):
    page = open_page(browser, live_url)
    yield page
    page.context.close()


def latest_t(page):
    return page.evaluate("() => window.forceplateLive.state.latestT")


def test_live_page_draws_a_moving_trace_weighs_and_shows_reps(page, live_url):
    from playwright.sync_api import expect

    sign_in(page, live_url)
    expect(page.locator("#source-banner")).to_contain_text("SIMULATED PLATE: not real measurements")
    page.wait_for_function("() => window.forceplateLive && window.forceplateLive.state.latestT !== null",
                           timeout=WAIT_MS)
    first_t = latest_t(page)
    first_x = page.evaluate("() => window.forceplateLive.plot().scales.x.max")
    # The trace moves: newer samples arrive and the x range follows them.
    page.wait_for_function("() => window.forceplateLive && "
                           f"window.forceplateLive.state.latestT > {first_t} + 1.0", timeout=WAIT_MS)
    page.wait_for_function(f"() => window.forceplateLive.plot().scales.x.max > {first_x} + 1.0", timeout=WAIT_MS)
    assert page.evaluate("() => window.forceplateLive.plot().data[0].length") > 10

    # A body weight appears, matching the simulated person.
    expect(page.locator("#bw-value")).to_have_text(re.compile(r"^\d+\.\d kg$"), timeout=WAIT_MS)
    shown_kg = float(page.locator("#bw-value").inner_text().split()[0])
    assert shown_kg == pytest.approx(BODY_MASS_KG, rel=0.02)
    expect(page.locator("#trace-unit")).to_have_text("Force (body weights)")

    # A rep appears with its peak in body weights and a verdict; the big panel shows the newest.
    first_rep = page.locator("#rep-list li").first
    expect(first_rep).to_be_visible(timeout=WAIT_MS)
    expect(first_rep.locator(".rep-peak")).to_have_text(re.compile(r"^\d+\.\d BW$"))
    expect(first_rep.locator(".rep-verdict")).to_have_text(re.compile(r"^(THUMP|too soft)$"))
    expect(page.locator("#last-peak")).to_have_text(re.compile(r"^\d+\.\d\s*BW$"))
    expect(page.locator("#last-verdict")).to_have_text(re.compile(r"^(THUMP|too soft)$"))
    # Its marker: the rep's peak time lies on the plotted x axis.
    marked = page.evaluate("""() => {
        const live = window.forceplateLive, x = live.plot().scales.x;
        return live.state.events.some(e => e.t_peak_s >= x.min && e.t_peak_s <= x.max && e.peak_bw !== null);
    }""")
    assert marked
    expect(page.locator("#connection-lost")).to_be_hidden()

    assert page.console_errors == []
    assert page.foreign_requests == []


def test_a_rep_shows_a_provisional_verdict_then_the_final_one(page, live_url):
    sign_in(page, live_url)
    # Soon after a peak: its marker and the big number, marked as still being checked.
    # (the peak time is read in the same check: a moment later the rep may be final already)
    key = page.wait_for_function("""() => {
        const live = window.forceplateLive;
        return live && live.state.pending.length > 0 && live.state.pending.every(p => p.provisional === true)
            && document.getElementById("last-verdict").classList.contains("provisional")
            && document.getElementById("last-verdict").textContent.endsWith("\u2026")
            && live.state.pending.slice(-1)[0].t_peak_s;
    }""", timeout=WAIT_MS).json_value()
    # Then the final event takes its place: same peak time, no longer pending.
    page.wait_for_function(f"""() => {{
        const st = window.forceplateLive.state;
        return st.events.some(e => Math.abs(e.t_peak_s - {key}) <= 0.05)
            && !st.pending.some(p => Math.abs(p.t_peak_s - {key}) <= 0.05);
    }}""", timeout=WAIT_MS)
    assert page.console_errors == []


def test_connection_lost_shows_while_the_server_is_away_and_clears_when_it_returns(browser, tmp_path):
    from playwright.sync_api import expect

    port = browserkit.bench.free_port()
    with serving(tmp_path / "data", port=port) as url:
        page = open_page(browser, url)
        sign_in(page, url)
        page.wait_for_function("() => window.forceplateLive && window.forceplateLive.state.messages > 2",
                               timeout=WAIT_MS)
        expect(page.locator("#connection-lost")).to_be_hidden()
    # The server has stopped (SIGTERM): the page says so instead of freezing on the last trace.
    expect(page.locator("#connection-lost")).to_be_visible(timeout=WAIT_MS)
    with serving(tmp_path / "data", port=port):
        expect(page.locator("#connection-lost")).to_be_hidden(timeout=WAIT_MS)
        page.wait_for_function("() => window.forceplateLive !== undefined", timeout=WAIT_MS)
        seen = page.evaluate("() => window.forceplateLive.state.messages")
        page.wait_for_function("() => window.forceplateLive && "
                               f"window.forceplateLive.state.messages > {seen}", timeout=WAIT_MS)
    page.context.close()


def test_login_form_says_wrong_password_plainly_then_signs_in_and_out(page, live_url):
    from playwright.sync_api import expect

    page.goto(live_url)
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    field = page.get_by_label("Clinic password")
    expect(field).to_be_focused()
    field.fill("not the password")
    page.get_by_label("Show password").check()
    expect(field).to_have_attribute("type", "text")           # older eyes can check what they typed
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong password. Please try again.")

    page.get_by_label("Clinic password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_url)
    expect(page.locator("#signed-in")).to_have_text("Signed in: clinic")
    page.wait_for_function("() => window.forceplateLive && window.forceplateLive.state.messages > 0",
                           timeout=WAIT_MS)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(live_url)                                         # signed out: back to the form
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    # Chromium reports the wrong password's HTTP 401 answer itself; nothing else may complain.
    assert page.console_errors == ["Failed to load resource: the server responded with a status of 401 "
                                   "(UNAUTHORIZED)"]
    assert page.foreign_requests == []


def add_person(page, base_url, name, *, mass_kg=BODY_MASS_KG):
    """Add a person through the People pages, as a physio would; returns to the live page for them."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="People", exact=True).click()
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Year of birth").fill("1953")
    page.get_by_label("Body mass (kg)").fill(f"{mass_kg:g}")
    page.get_by_role("button", name="Add this person").click()
    expect(page.locator("#person-name")).to_have_text(name)
    page.get_by_role("link", name="Start a set").click()
    expect(page.locator("#set-person")).to_have_value(re.compile(r"^\d+$"))


def test_a_set_is_recorded_for_a_person_answered_and_found_in_the_history(page, live_url):
    from playwright.sync_api import expect

    sign_in(page, live_url)
    add_person(page, live_url, "Browser Example")
    expect(page.locator("#set-person option:checked")).to_have_text("Browser Example")
    page.get_by_role("button", name="Start set").click()
    expect(page.locator("#set-status")).to_contain_text("Recording:", timeout=WAIT_MS)
    expect(page.locator("#set-detail")).to_contain_text("Browser Example")
    expect(page.locator("#set-status")).to_contain_text("target 2.0 BW")
    expect(page.get_by_role("button", name="Start set")).to_be_hidden()
    # Reps are counted against the person's target as they happen.
    expect(page.locator("#set-status")).to_contain_text(re.compile(r"Recording: ([2-9]|\d\d+) of 10 reps"), timeout=WAIT_MS)
    expect(page.locator("#rep-list li").first.locator(".rep-verdict")).to_have_text(re.compile(r"^(THUMP|too soft)$"))
    reps = int(re.search(r"(\d+) of 10 reps", page.locator("#set-status").inner_text()).group(1))
    page.get_by_role("button", name="Stop set").click()
    expect(page.get_by_text("Did anything hurt?")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#set-status")).to_contain_text("Set ended:")
    page.get_by_role("button", name="No", exact=True).click()
    expect(page.locator("#pain-thanks")).to_have_text("Thank you. Well done!")
    page.get_by_role("link", name="See this set in the history").click()
    expect(page.locator("#session-pain")).to_have_text("no")
    stored_reps = int(page.locator("#session-reps").inner_text())
    assert stored_reps >= reps                        # the last reps may have settled after the count was read
    expect(page.locator("#events tbody tr")).to_have_count(stored_reps)
    page.wait_for_function("() => window.forceplateCharts && window.forceplateCharts.ready", timeout=WAIT_MS)
    assert page.evaluate("() => window.forceplateCharts.points") > 10
    page.get_by_role("link", name="All sets").click()
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    expect(page.locator("#sessions tbody tr td").nth(1)).to_have_text(str(stored_reps))
    page.wait_for_function("() => window.forceplateCharts && window.forceplateCharts.ready", timeout=WAIT_MS)
    assert page.evaluate("() => window.forceplateCharts.sessions") == 1
    assert page.console_errors == []
    assert page.foreign_requests == []


def test_a_sit_to_stand_set_is_chosen_started_with_its_tempo_target_and_found_in_the_history(page, live_url):
    from playwright.sync_api import expect

    sign_in(page, live_url)
    add_person(page, live_url, "Sit Example")
    exercise = page.locator("#set-exercise")
    expect(exercise.locator("option")).to_have_text(["Heel drops", "Sit-to-stand", "Free (untyped)"])
    expect(exercise).to_have_value("heel-drop")                # the first prescribed
    exercise.select_option(label="Sit-to-stand")
    page.get_by_role("button", name="Start set").click()
    expect(page.locator("#set-status")).to_contain_text("Recording:", timeout=WAIT_MS)
    expect(page.locator("#set-status")).to_contain_text("target rise \u2264 1 s, sit-down \u2265 2 s")
    expect(page.locator("#set-detail")).to_contain_text("Sit Example \u00b7 Sit-to-stand")
    expect(exercise).to_be_disabled()
    page.get_by_role("button", name="Stop set").click()
    expect(page.get_by_text("Did anything hurt?")).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("button", name="No", exact=True).click()
    page.get_by_role("link", name="See this set in the history").click()
    expect(page.locator("#session-exercise")).to_have_text("Sit-to-stand")
    page.get_by_role("link", name="All sets").click()
    expect(page.locator("#sessions tbody tr td.exercise")).to_have_text(["Sit-to-stand"])
    page.goto(live_url)                                        # the choice is remembered for the panel's button
    expect(page.locator("#set-exercise")).to_have_value("sit-to-stand")
    assert page.console_errors == []
    assert page.foreign_requests == []

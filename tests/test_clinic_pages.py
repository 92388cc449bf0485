"""The clinic pages (people, a person, history, a set) in Debian's Chromium at a phone's and a laptop's size.

One served plate (`forceplate serve` on the simulated plate's mixed scenario: heel drops, jumps, sit-to-stands)
and one data folder for the module:

- Rita (a vertebral fracture: waiting for clinician approval, no jumps) records a free set through the live
  page's own requests on the served plate, so her jumps are stored as reps that do not count;
- Ann has sets on fixed past days (two on one day: one session of two sets);
- Carl was approved by a clinician; a clinician PIN is set;
- Nora records heel drops while another screen watches the nav.

Expected values come from the store's events as recorded (their kinds and peaks), never from the page's own
summary. Each browser context reads dates in en-GB on UTC, so times can be written down in Python.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import statistics
import time

import pytest
from werkzeug.security import generate_password_hash

import browserkit
from browserkit import VIEWPORTS, page_problems, sign_in
from forceplate.storage.store import Store
from forceplate.webui.auth import HASH_METHOD

pytestmark = pytest.mark.browser

SPEC = "sim:session?speed=8&seed=5&body_mass_kg=70"
PIN = "482916"
WAIT_S = 90.0                # a safety net for a loaded machine, not a timing claim
ANN_SETS = [("2025-01-06T10:00:00+00:00", [2.4, 2.8, 3.1]),
            ("2025-02-10T09:00:00+00:00", [2.2, 2.6]),
            ("2025-02-10T15:30:00+00:00", [3.0, 3.3, 2.9, 3.4]),
            ("2025-03-17T10:00:00+00:00", [2.5])]


def open_in(browser, base_url, viewport):
    """browserkit.open_page, read in en-GB on UTC (the expected dates and times are worked out that way)."""
    return browserkit.open_page(browser, base_url, viewport, locale="en-GB", timezone_id="UTC")


def csrf(page) -> str:
    return page.locator('meta[name="csrf-token"]').get_attribute("content")


def post_form(page, url, **fields):
    return page.request.post(url, form=fields, headers={"X-CSRF-Token": csrf(page), "Accept": "application/json"})


def wait_until(check, what, timeout_s=WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {timeout_s:g} s")


@pytest.fixture(scope="module")
def site(tmp_path_factory, browser):
    data_dir = tmp_path_factory.mktemp("clinic") / "data"
    data_dir.mkdir(parents=True)
    db = data_dir / "forceplate.db"
    with Store(db) as store:
        ann = store.add_person("Ann Example", changed_by="test", birth_year=1950, has_vertebral_fracture=0,
                               has_balance_problems=0)
        store.add_body_mass(ann, 66.0, changed_by="test")
        for started, peaks in ANN_SETS:
            sid = store.start_session(ann, source="sim", rate_hz=80.0, adc="hx711", cells=["fz1_n"],
                                      offset_counts=[0], scale_n_per_count=[0.01], clock_origin_ns=0,
                                      started_at=started, exercise="heel-drop")
            store.add_events(sid, [{"kind": "impact", "t_peak_s": 2.0 + 3 * i, "peak_n": p * 647.0, "peak_bw": p,
                                    "loading_rate_bw_s": 40.0, "thump": p >= 2.5} for i, p in enumerate(peaks)])
            store.end_session(sid)
        rita = store.add_person("Rita Restricted", changed_by="test", birth_year=1948, has_vertebral_fracture=1)
        store.add_fracture(rita, "2019-04", changed_by="test", site="spine (T12), after a fall on ice", is_vertebral=True)
        carl = store.add_person("Carl Approved", changed_by="test", birth_year=1955, has_balance_problems=1)
        store.update_person(carl, changed_by="test", approved_by="Dr Jones",
                            approved_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
        nora = store.add_person("Nora Example", changed_by="test", birth_year=1952)
        store.set_setting("clinician_pin", {"hash": generate_password_hash(PIN, method=HASH_METHOD),
                                            "set_by": "test", "set_at": dt.datetime.now(dt.timezone.utc).isoformat()})
    with browserkit.serving(data_dir, SPEC) as served:
        url = served.url.rstrip("/")
        page = open_in(browser, url, "desktop")
        try:
            sign_in(page, url + "/people")
            response = post_form(page, url + "/live/set/start", person_id=str(rita), exercise="free")
            assert response.status == 200, response.text()
            session_id = response.json()["current"]["session"]

            def a_jump_and_a_heel_drop_are_in():
                with Store(db, mark_interrupted=False) as store:
                    kinds = [e["kind"] for e in store.events(session_id)]
                return "jump" in kinds and "impact" in kinds and kinds[-1] != "jump"
            wait_until(a_jump_and_a_heel_drop_are_in, "a jump and a heel drop in Rita's set")
            assert post_form(page, url + "/live/set/stop").status == 200
        finally:
            page.context.close()
        yield {"url": url, "db": db, "ann": ann, "rita": rita, "carl": carl, "nora": nora, "rita_set": session_id}


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport(request):
    return request.param


@pytest.fixture
def page(browser, site, viewport):
    page = open_in(browser, site["url"], viewport)
    sign_in(page, site["url"] + "/people")
    yield page
    page.context.close()


def problems_of(page):
    """What the page audit checks (browserkit.page_problems), once the page has loaded."""
    page.wait_for_load_state("networkidle")
    return page_problems(page)


def into_set(t_s: float) -> str:
    return f"{int(t_s // 60)}:{t_s % 60:04.1f}"


# -- a rep that does not count ---------------------------------------------------------------------------------

def test_a_jump_while_waiting_for_approval_is_listed_as_not_counted_and_left_out_of_every_count(page, site, viewport):
    with Store(site["db"], mark_interrupted=False) as store:
        events = store.events(site["rita_set"])
        started_at = dt.datetime.fromisoformat(store.session(site["rita_set"])["started_at"])
    jumps = [e for e in events if e["kind"] == "jump"]
    counting = [e for e in events if e["kind"] != "jump"]            # Rita may not jump: only her jumps are out
    impacts = [e for e in counting if e["kind"] == "impact"]
    assert jumps and impacts
    peaks = [e["peak_bw"] for e in impacts]
    median = statistics.median(peaks)
    thumps = sum(1 for e in impacts if e["thump"] is True)

    page.goto(f"{site['url']}/sessions/{site['rita_set']}")
    rows = page.locator("#events tbody tr")
    assert rows.count() == len(events)
    for e in events:
        row = page.locator(f'#events tbody tr[data-seq="{e["seq"]}"]')
        verdict = row.locator("td.rep-verdict").inner_text().strip()
        if e["kind"] == "jump":
            assert verdict.startswith("not counted: ") and len(verdict) > len("not counted: "), verdict
            assert "THUMP" not in row.inner_text()
        elif e["kind"] == "impact":
            assert verdict == ("THUMP" if e["thump"] else "too soft"), (e, verdict)
    assert page.locator("#session-reps").inner_text() == str(len(counting))
    assert page.locator("#session-thumps").inner_text() == str(thumps)
    assert page.locator("#session-median").inner_text() == f"{median:.2f} BW"
    assert page.locator("#session-oi").inner_text() == f"{median * math.log(len(peaks) + 1):.2f}"
    # One clock: each rep's time into the set, and the clock time (the set's start plus that), en-GB on UTC.
    first = impacts[0]
    cell = page.locator(f'#events tbody tr[data-seq="{first["seq"]}"] td').nth(0)
    wall = started_at + dt.timedelta(seconds=first["t_peak_s"])
    assert cell.inner_text().replace("Time:", "").split() == [into_set(first["t_peak_s"]),
                                                              f"({wall.astimezone(dt.timezone.utc):%H:%M:%S})"]
    assert not problems_of(page), problems_of(page)


# -- one truth on every screen ---------------------------------------------------------------------------------

def test_every_page_names_who_is_recording_while_a_set_records_elsewhere(page, site, browser, viewport):
    url = site["url"]
    page.goto(f"{url}/people/{site['ann']}/history")
    status = page.locator("#nav-status")
    assert status.inner_text() == "Plate ready"
    other = open_in(browser, url, "desktop")              # the live page's requests, from another screen
    try:
        sign_in(other, url + "/people")
        started = post_form(other, url + "/live/set/start", person_id=str(site["nora"]), exercise="heel-drop")
        assert started.status == 200, started.text()
        try:
            # the open page, never reloaded, follows the plate
            page.wait_for_function("() => document.getElementById('nav-status').textContent === "
                                   "'Recording: Nora Example, Heel drops'", timeout=15_000)
            # and a page opened now says so at once, before any script has run
            for path in ("/people", f"/people/{site['rita']}", "/settings", "/"):
                response = other.request.get(url + path)
                assert re.search(r'id="nav-status"[^>]*>Recording: Nora Example, Heel drops<', response.text()), path
        finally:
            assert post_form(other, url + "/live/set/stop").status == 200
        page.wait_for_function("() => document.getElementById('nav-status').textContent === 'Plate ready'",
                               timeout=15_000)
    finally:
        other.context.close()
    assert not page.console_errors


# -- cards on the phone, nothing wider than the screen ----------------------------------------------------------

@pytest.mark.parametrize("path, table", [("/people", "#people"), ("/people/{rita}", "#audit-log"),
                                         ("/people/{rita}", "#fracture-list"),
                                         ("/people/{ann}/history", "#sessions"), ("/sessions/{rita_set}", "#events")])
def test_tables_are_cards_on_the_phone_and_no_page_is_wider_than_the_screen(page, site, viewport, path, table):
    page.goto(site["url"] + path.format(**site))
    rows = page.locator(f"{table} tbody tr")
    assert rows.count() >= 1
    display = rows.first.evaluate("(el) => getComputedStyle(el).display")
    assert display == ("block" if viewport == "phone" else "table-row")
    if viewport == "phone":                  # each value labelled by its column on the card
        cell = page.locator(f"{table} tbody tr td[data-label]").first
        label = cell.get_attribute("data-label")
        assert cell.evaluate("(el) => getComputedStyle(el, '::before').content") == f'"{label}: "'
    assert not problems_of(page), problems_of(page)


# -- words -----------------------------------------------------------------------------------------------------

def test_the_mode_reads_as_waiting_for_approval_or_approved(page, site):
    page.goto(site["url"] + "/people")
    row = {name: page.locator("#people tbody tr", has_text=name).inner_text() for name in
           ("Ann Example", "Rita Restricted", "Carl Approved")}
    assert "Waiting for clinician approval: no jumps" in row["Rita Restricted"]
    assert "Full programme" in row["Ann Example"] and "Full programme" in row["Carl Approved"]
    page.goto(f"{site['url']}/people/{site['rita']}")
    assert page.locator("#mode").inner_text().startswith("Waiting for clinician approval: no jumps or drop landings")
    page.goto(f"{site['url']}/people/{site['carl']}")
    assert page.locator("#mode").inner_text().startswith("Approved by clinician: Dr Jones, on")
    for path in ("/people", f"/people/{site['rita']}", f"/people/{site['rita']}/history",
                 f"/sessions/{site['rita_set']}"):
        page.goto(site["url"] + path)
        assert "clinician-approved mode" not in page.locator("main").inner_text().lower(), path


def test_the_audit_log_is_in_plain_words_and_local_times(page, site):
    page.goto(f"{site['url']}/people/{site['carl']}")
    log = page.locator("#audit-log").inner_text()
    assert "Added" in log and "Balance problems or falls: yes" in log and "Year of birth: 1955" in log
    assert "Approved by clinician" in log and "Approved by: none \u2192 Dr Jones" in log
    for raw in ("has_balance_problems", "approved_by", "approved_at", "True", "False", "birth_year"):
        assert raw not in log, raw
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", log)                  # no ISO times
    today = dt.datetime.now(dt.timezone.utc)
    when = page.locator("#audit-log tbody tr").first.locator("time").inner_text()
    assert when.startswith(f"{today:%a}, {today.day} {today:%b %Y}"), when      # en-GB: "Sun, 6 Dec 2026, 12:49"


def test_saving_a_plan_says_it_was_saved_and_what_it_is_now(page, site):
    page.goto(f"{site['url']}/people/{site['carl']}")
    summary = page.locator("details.plan-edit summary")
    summary.focus()
    page.keyboard.press("Enter")                                    # opened from the keyboard
    page.locator("#level").select_option("intermediate")
    page.locator("#target_intermediate").fill("2.8")
    page.locator("#plan_pin").fill(PIN)
    page.get_by_role("button", name="Save the plan").click()
    page.wait_for_url(re.compile(r"saved=plan"))
    notice = page.locator("#saved")
    assert notice.is_visible()
    assert notice.inner_text() == ("The plan was saved. Level Intermediate, target peak 2.8 body weights, "
                                   "at most 100 impacts a day.")
    assert "Plan changed" in page.locator("#audit-log").inner_text()


# -- history ---------------------------------------------------------------------------------------------------

def test_the_history_date_filter_shows_only_those_days_and_counts_sessions_as_days(page, site):
    page.goto(f"{site['url']}/people/{site['ann']}/history")
    summary = page.locator("#range-summary").inner_text()
    assert summary == "3 sessions, 4 sets."                       # two sets on 10 Feb 2025: one session
    page.locator("#date-from").fill("2025-02-01")
    page.locator("#date-to").fill("2025-02-28")
    page.get_by_role("button", name="Show these dates").click()
    page.wait_for_url(re.compile(r"from=2025-02-01&to=2025-02-28"))
    page.wait_for_function("() => window.forceplateCharts && window.forceplateCharts.ready")
    assert page.locator("#sessions tbody tr").count() == 2
    assert page.locator("#range-summary").inner_text() == ("From Sat, 1 Feb 2025 to Fri, 28 Feb 2025: "
                                                           "1 session, 2 sets.")
    dates = page.locator("#sessions tbody tr th time").all_inner_texts()
    assert dates == ["Mon, 10 Feb 2025, 15:30", "Mon, 10 Feb 2025, 09:00"]
    assert page.evaluate("() => window.forceplateCharts.sessions") == 2
    # weeks from 10 Feb to the last day's week: the two sets of 10 Feb are one session; 17 and 24 Feb none
    assert page.evaluate("() => window.forceplateCharts.weeks.data[1].slice()") == [1, 0, 0]


def test_one_set_draws_no_axis_into_the_future(page, site):
    page.goto(f"{site['url']}/people/{site['rita']}/history")
    page.wait_for_function("() => window.forceplateCharts && window.forceplateCharts.ready")
    now = time.time()
    for chart in ("peak", "oi", "weeks"):
        x_max = page.evaluate(f"() => window.forceplateCharts.{chart}.scales.x.max")
        assert x_max <= now + 1, (chart, x_max - now)
    assert page.evaluate("() => window.forceplateCharts.sessions") == 1


def test_exports_are_linked_from_the_set_and_the_person(page, site):
    page.goto(f"{site['url']}/sessions/{site['rita_set']}")
    assert page.get_by_role("link", name="The reps (CSV)").get_attribute("href") == f"/sessions/{site['rita_set']}/reps.csv"
    assert page.get_by_role("link", name="The force trace (CSV)").get_attribute("href") == \
        f"/sessions/{site['rita_set']}/export.csv"
    page.goto(f"{site['url']}/people/{site['rita']}")
    assert page.get_by_role("link", name="Every rep (CSV)").get_attribute("href") == f"/people/{site['rita']}/reps.csv"


# -- keyboard --------------------------------------------------------------------------------------------------

def test_the_nav_is_reached_by_keyboard_with_a_visible_focus(page, site):
    page.goto(f"{site['url']}/people/{site['ann']}")
    names = []
    for _ in range(7):
        page.keyboard.press("Tab")
        names.append(page.evaluate("() => document.activeElement.textContent.trim()"))
        if names[-1] == "People":
            break
    assert names[0] == "Skip to the page" and names[-1] == "People", names
    outline = page.evaluate("() => { const s = getComputedStyle(document.activeElement);"
                            " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }")
    assert outline[0] != "none" and outline[1] >= 3, outline
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/people$"))


def test_the_first_tab_offers_to_skip_the_nav_and_shows_it(page, site):
    page.goto(f"{site['url']}/people/{site['ann']}")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the page")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Skip to the page"
    box = skip.bounding_box()
    assert box["y"] >= 0 and box["height"] >= 44                       # on the screen once focused
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")                                          # on from the page, not the nav again
    assert page.evaluate("() => !document.activeElement.closest('nav')")


def test_forms_showing_their_problems_still_fit_and_pass_the_audit(page, site):
    page.goto(site["url"] + "/people/new")
    page.get_by_role("button", name="Add this person").click()
    assert page.locator("#form-problems").inner_text().startswith("Please correct one thing below:")
    # the refused form comes back as 400 by design: the browser logs that status, which is no script error
    page.console_errors[:] = [e for e in page.console_errors if "status of 400" not in e]
    assert not problems_of(page), problems_of(page)
    page.locator("#form-problems a").first.click()                      # the problem's link leads to its field
    assert page.evaluate("() => location.hash") == "#name"
    page.goto(f"{site['url']}/people/{site['ann']}/history?from=2025-03-01&to=2025-02-01")
    assert "The last day is before the first day" in page.locator("#form-problems").inner_text()
    assert page.locator("#sessions tbody tr").count() == len(ANN_SETS)          # that filter is ignored
    assert not problems_of(page), problems_of(page)

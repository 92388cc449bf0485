"""The live page as the people at the plate see it, in Debian's Chromium at a phone's and a laptop's size, on the
simulated plate served by `forceplate serve`: safety shown (a forbidden jump counts nothing, the daily impact
limit ends a set and refuses the next plainly, a very hard landing is a caution, the set's body weight is said),
one truth on every open page, sound on and off, and the stand-back view (number, verdict and trace on one
screen, upright and sideways).
"""
import re
from contextlib import contextmanager

import pytest

import browserkit
from browserkit import VIEWPORTS, WAIT_MS, axe_violations, open_page, sign_in, small_targets, too_wide

pytestmark = pytest.mark.browser

MASS_KG = 70.0
HEEL_DROPS = f"sim:heel-drops?speed=4&seed=11&body_mass_kg={MASS_KG:g}"
JUMPS = f"sim:jumps?speed=3&seed=3&body_mass_kg={MASS_KG:g}"
LONG_WAIT_MS = 60_000


def add_people(data_dir, *people):
    """Put people in the data folder before the server starts; their ids. Each is (name, fields), fields may
    hold ``daily_impact_cap``."""
    from forceplate.programme.standing import default_plan
    from forceplate.storage.store import Store
    ids = []
    with Store(data_dir) as store:
        for name, fields in people:
            fields = dict(fields)
            cap = fields.pop("daily_impact_cap", None)
            person_id = store.add_person(name, changed_by="test", birth_year=1953, **fields)
            store.add_body_mass(person_id, MASS_KG, changed_by="test")
            if cap is not None:
                store.set_plan(person_id, changed_by="test", default=default_plan(), daily_impact_cap=cap)
            ids.append(person_id)
    return ids


@contextmanager
def site(tmp_path, spec, *people):
    data_dir = tmp_path / "data"
    ids = add_people(data_dir, *people)
    with browserkit.serving(data_dir, spec) as served:
        yield served.url, ids


@contextmanager
def live_page(browser, url, viewport, person_id=None):
    page = open_page(browser, url, viewport)
    try:
        target = url + (f"?person={person_id}" if person_id is not None else "")
        sign_in(page, url)
        if person_id is not None:
            page.goto(target)
        page.wait_for_function("() => window.forceplateLive && window.forceplateLive.state.messages > 0",
                               timeout=WAIT_MS)
        yield page
    finally:
        page.context.close()


def watch_verdicts(page):
    """Record every text the big verdict shows from now on, each with the rep it was about (window.seen)."""
    page.evaluate("""() => {
        window.seen = [];
        const el = document.getElementById('last-verdict'), st = window.forceplateLive.state;
        new MutationObserver(() => {
            const final = st.events[st.events.length - 1], pending = st.pending[st.pending.length - 1];
            const ev = pending && (!final || pending.t_peak_s > final.t_peak_s) ? pending : final;
            window.seen.push({text: el.textContent, ev});
        }).observe(el, {childList: true, characterData: true, subtree: true});
    }""")


def seen_verdicts(page):
    """What the big verdict said, and whether the rep it was about finally counted (null: a provisional one
    never confirmed)."""
    return page.evaluate("""() => window.seen.map(s => ({text: s.text, t: s.ev ? s.ev.t_peak_s : null,
        counted: !s.ev ? null : (s.ev.provisional ? null : window.forceplateLive.isCounted(s.ev))}))""")


def start_set(page, exercise="Heel drops"):
    from playwright.sync_api import expect
    page.locator("#set-exercise").select_option(label=exercise)
    page.get_by_role("button", name="Start set").click()
    expect(page.locator("#set-status")).to_contain_text("Recording:", timeout=WAIT_MS)


# -- safety that holds ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_a_forbidden_jump_counts_no_rep_no_thump_and_never_shows_thump(browser, tmp_path, viewport):
    from playwright.sync_api import expect

    with site(tmp_path, JUMPS, ("Bea Example", {"has_vertebral_fracture": 1})) as (url, (bea,)), \
            live_page(browser, url, viewport, bea) as page:
        expect(page.locator("#set-mode")).to_contain_text("Waiting for clinician approval")
        page.get_by_role("button", name="Sound: off").click()
        start_set(page)
        watch_verdicts(page)                  # from the set's start: before it the plate judges nobody's plan
        sounds_before = page.evaluate("() => window.forceplateLive.sounds.length")
        # three jumps a loop: wait for two of them as the set's events
        page.wait_for_function("""() => window.forceplateLive.sets.events.filter(
            e => e.kind === 'jump' && !e.withdrawn).length >= 2""", timeout=LONG_WAIT_MS)
        jumps = page.evaluate("""() => window.forceplateLive.sets.events.filter(e => e.kind === 'jump' && !e.withdrawn)
            .map(e => ({counted: e.counted, reason: e.not_counted_reason,
                        shown: window.forceplateLive.isCounted(e),
                        colour: window.forceplateLive.markerStyle(e, false).colour}))""")
        assert all(j["counted"] is False and j["reason"] for j in jumps), jumps
        assert all(j["shown"] is False and j["colour"] == "#8a939e" for j in jumps), jumps   # grey, never green
        expect(page.locator("#jump-warning")).to_be_visible()
        page.get_by_role("button", name="Stop set").click()
        expect(page.locator("#set-status")).to_contain_text("Set ended:", timeout=WAIT_MS)
        final = page.evaluate("""() => { const L = window.forceplateLive, ev = L.sets.events;
            return {info: L.sets.last, jumps: ev.filter(e => e.kind === 'jump' && !e.withdrawn).length,
                    counted: ev.filter(e => L.isCounted(e)).length,
                    thumps: ev.filter(e => L.isCounted(e) && e.thump === true).length}; }""")
        # the page counts what the set counts (the jumps are not in it), and says how many did not count
        assert final["counted"] == final["info"]["reps"] and final["thumps"] == final["info"]["thumps"], final
        assert final["info"]["not_counted"] == final["jumps"] >= 2, final
        expect(page.locator("#set-status")).to_contain_text(
            f"Set ended: {final['counted']} of 10 reps \u00b7 {final['thumps']} thump")
        expect(page.locator("#set-status")).to_contain_text(f"{final['jumps']} not counted")
        expect(page.locator("#rep-counts")).to_contain_text(f"{final['jumps']} not counted")
        expect(page.locator("#rep-list .rep-nocount").first).to_contain_text("NO JUMPS: not counted")
        assert page.locator("#rep-list .rep-thump").count() == final["thumps"]
        # never a THUMP, not even a faded one first, for a jump's landing or its push-off
        seen = seen_verdicts(page)
        assert [v for v in seen if v["text"].startswith("THUMP") and v["counted"] is not True] == [], seen
        assert [v for v in seen if v["text"].startswith("NO JUMPS")], seen
        played = page.evaluate(f"() => window.forceplateLive.sounds.slice({sounds_before})"
                               ".filter(s => s.kind === 'thump').length")
        assert played <= final["thumps"], page.evaluate(
            f"() => ({{sounds: window.forceplateLive.sounds.slice({sounds_before}), events: "
            "window.forceplateLive.sets.events.map(e => [e.kind, e.t_peak_s, e.thump, e.counted, !!e.withdrawn])})")
        assert page.console_errors == [] and page.foreign_requests == []


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_the_daily_limit_ends_a_set_and_refuses_the_next_with_a_clear_message(browser, tmp_path, viewport):
    from playwright.sync_api import expect

    with site(tmp_path, HEEL_DROPS, ("Cal Example", {"daily_impact_cap": 3})) as (url, (cal,)), \
            live_page(browser, url, viewport, cal) as page:
        start_set(page)
        cap = page.locator("#cap-message")
        expect(cap).to_contain_text("Set stopped: today's impact limit reached (3 impacts)", timeout=LONG_WAIT_MS)
        expect(cap).to_have_attribute("role", "alert")
        assert cap.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 20      # not small grey text
        expect(page.get_by_role("button", name="Start set")).to_be_visible()
        page.get_by_role("button", name="Start set").click()
        refusal = page.locator("#set-error")
        expect(refusal).to_contain_text("No impacts left today for Cal Example")
        expect(refusal).to_have_attribute("role", "alert")
        assert refusal.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 20
        expect(cap).to_contain_text("No more impacts today")
        assert page.evaluate("() => window.forceplateLive.sets.recording") is False
        assert page.console_errors == ["Failed to load resource: the server responded with a status of 409 "
                                       "(CONFLICT)"]


def test_a_very_hard_landing_is_a_caution_and_the_sets_body_weight_is_said(browser, tmp_path):
    """The page's handling of a set message (as the stream sends it): a 5.4 BW landing with caution, and a set
    whose body weight came from the profile although the plate weighed someone else."""
    from playwright.sync_api import expect

    with site(tmp_path, "sim:standing?speed=2&seed=2", ("Dee Example", {})) as (url, _), \
            live_page(browser, url, "phone") as page:
        page.evaluate("""() => {
            const info = {session: 99, person_id: 1, person: 'Dee Example', started_at: new Date().toISOString(),
                target_bw: 2.0, exercise: 'heel-drop', exercise_label: 'Heel drops', reps: 1, thumps: 1,
                not_counted: 0, reps_per_set: 10, plate_offset_s: 0, target: 'peak \u2265 2.0 BW', restricted: false,
                body_mass_kg: 68.5, body_weight: {kg: 68.5, source: 'profile', plate_kg: 77.3, profile_kg: 68.5,
                    warning: 'The plate weighs 77.3 kg but the profile says 68.5 kg: check who is on the plate'}};
            const t = window.forceplateLive.state.latestT || 1;
            window.forceplateLive.handle({t: [], f: [], events: [], pending: [], body_weight_n: 758, status: 'Ready',
                stats: null, lost: 0, running: true, set: {state: 'recording', current: info, last: null,
                selected: {person_id: 1, exercise: 'heel-drop'},
                events: [{kind: 'impact', seq: 1, t_peak_s: 1.2, t_plate_s: t, peak_n: 3660, peak_bw: 5.4,
                          thump: true, caution: true, counted: true}]}});
        }""")
        expect(page.locator("#last-verdict")).to_have_text("THUMP")
        expect(page.locator("#last-caution")).to_contain_text("CAUTION: 5.4 BW is a very hard landing")
        expect(page.locator("#rep-list li").first).to_contain_text("CAUTION")
        expect(page.locator("#bw-detail")).to_contain_text("this set uses 68.5 kg, from the profile")
        expect(page.locator("#bw-detail")).to_contain_text("plate 77.3 kg")
        expect(page.locator("#bw-warning")).to_contain_text("The plate weighs 77.3 kg")
        expect(page.locator("#last-when")).to_contain_text("0:01.2 into the set")


# -- one truth on every screen ----------------------------------------------------------------------------------

def test_two_open_pages_agree_on_who_records_and_what_happened_through_a_set(browser, tmp_path):
    from playwright.sync_api import expect

    with site(tmp_path, HEEL_DROPS, ("Ann Example", {}), ("Ben Example", {})) as (url, (ann, ben)), \
            live_page(browser, url, "desktop", ben) as desk, live_page(browser, url, "phone", ben) as phone:
        expect(phone.locator("#set-person")).to_have_value(str(ben))
        desk.locator("#set-person").select_option(label="Ann Example")          # chosen on the desktop...
        expect(phone.locator("#set-person")).to_have_value(str(ann), timeout=1500)   # ...the phone follows
        expect(phone.locator("#who-recording")).to_have_text("Chosen: Ann Example")
        start_set(desk)
        expect(phone.locator("#who-recording")).to_have_text("Recording now: Ann Example \u00b7 Heel drops",
                                                             timeout=1500)
        expect(phone.locator("#guide")).to_contain_text("Ann Example: Heel drops \u00b7 set 1 of 2 \u00b7 rep ")
        expect(phone.get_by_role("button", name="Start set")).to_be_hidden()      # no second set from here
        expect(phone.locator("#set-person")).to_be_disabled()
        desk.wait_for_function("() => window.forceplateLive.sets.events.length >= 3", timeout=LONG_WAIT_MS)
        # the same count and the same clock for the same rep on both (time into the set, the wall time)
        for page in (desk, phone):
            page.wait_for_function("() => window.forceplateLive.sets.events.length >= 3", timeout=WAIT_MS)
        first = [p.locator("#rep-list li").last.locator(".rep-meta").inner_text() for p in (desk, phone)]
        assert first[0] == first[1] and re.search(r"Impact \u00b7 0:\d\d\.\d \u00b7 \S", first[0]), first
        assert "uptime" not in first[0]
        phone.get_by_role("button", name="Stop set").click()
        expect(desk.locator("#set-status")).to_contain_text("Set ended:", timeout=1500)
        ended = [p.locator("#set-status").inner_text() for p in (desk, phone)]
        assert ended[0] == ended[1], ended
        expect(desk.locator("#summary")).to_be_visible()
        for page in (desk, phone):               # the body weight the set used, and where it came from
            expect(page.locator("#bw-detail")).to_contain_text(re.compile(r"this set uses \d+\.\d kg, "))
        expect(desk.locator("#summary-list")).to_contain_text("Reps on target")
        expect(desk.locator("#guide")).to_contain_text("Next for Ann Example: Heel drops \u00b7 set 2 of 2")
        expect(desk.locator("#rest-timer")).to_contain_text(re.compile(r"Rest \d:\d\d, then Heel drops set 2"))
        for page in (desk, phone):
            assert page.console_errors == [] and page.foreign_requests == []


# -- sound ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_sound_plays_the_reps_verdict_when_on_and_nothing_when_off(browser, tmp_path, viewport):
    from playwright.sync_api import expect

    with site(tmp_path, HEEL_DROPS) as (url, _), live_page(browser, url, viewport) as page:
        toggle = page.locator("#sound-toggle")
        expect(toggle).to_have_text("Sound: off")
        expect(toggle).to_have_attribute("aria-pressed", "false")
        page.wait_for_function("() => window.forceplateLive.state.events.length >= 2", timeout=LONG_WAIT_MS)
        page.wait_for_timeout(3000)
        assert page.evaluate("() => window.forceplateLive.sounds.length") == 0      # off: silent
        toggle.click()
        expect(toggle).to_have_attribute("aria-pressed", "true")
        before = page.evaluate("() => window.forceplateLive.state.events.length")
        page.wait_for_function(f"() => window.forceplateLive.state.events.length >= {before} + 3",
                               timeout=LONG_WAIT_MS)
        played = page.evaluate("""() => window.forceplateLive.sounds.map(s => {
            const ev = window.forceplateLive.state.events.find(e => e.t_peak_s === s.key);
            return {kind: s.kind, thump: ev ? ev.thump : 'missing'};
        })""")
        assert len(played) >= 3, played
        assert all(p["kind"] == ("thump" if p["thump"] else "soft") for p in played), played
        assert {"thump", "soft"} & {p["kind"] for p in played}
        page.reload()                                                   # the choice is remembered
        expect(page.locator("#sound-toggle")).to_have_text("Sound: on")
        page.locator("#sound-toggle").click()
        expect(page.locator("#sound-toggle")).to_have_text("Sound: off")
        page.wait_for_function("() => window.forceplateLive && window.forceplateLive.state.events.length >= 1",
                               timeout=LONG_WAIT_MS)
        before = page.evaluate("() => window.forceplateLive.state.events.length")
        page.wait_for_function(f"() => window.forceplateLive.state.events.length >= {before} + 2",
                               timeout=LONG_WAIT_MS)
        assert page.evaluate("() => window.forceplateLive.sounds.length") == 0      # off again: silent


# -- the stand-back view ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [{"width": 390, "height": 844}, {"width": 844, "height": 390},
                                  VIEWPORTS["desktop"]], ids=["portrait", "landscape", "desktop"])
def test_number_verdict_and_trace_show_together_without_scrolling(browser, tmp_path, size):
    from playwright.sync_api import expect

    with site(tmp_path, HEEL_DROPS, ("Eve Example", {})) as (url, (eve,)), \
            live_page(browser, url, size, eve) as page:
        start_set(page)
        page.wait_for_function("() => window.forceplateLive.sets.events.length >= 2", timeout=LONG_WAIT_MS)
        expect(page.locator("#last-verdict")).to_have_text(re.compile(r"^(THUMP|too soft)$"))
        page.evaluate("() => window.scrollTo(0, 0)")
        boxes = page.evaluate("""() => ['last-peak', 'last-verdict', 'chart'].map(id => {
            const r = document.getElementById(id).getBoundingClientRect();
            return {id, top: r.top, bottom: r.bottom, height: r.height};
        })""")
        for box in boxes:
            assert box["top"] >= 0 and box["bottom"] <= size["height"] and box["height"] > 30, (size, boxes)
        assert boxes[2]["height"] >= 120                                   # a trace worth looking at
        # every marker inside the chart's range, the estimate's upper bound too; the method in a details view
        top, highest = page.evaluate("""() => {
            const live = window.forceplateLive, x = live.plot().scales.x;
            const dots = live.state.events.filter(e => e.t_peak_s >= x.min).map(live.dotHigh).filter(v => v !== null);
            return [live.plot().scales.y.max, Math.max(0, ...dots)];
        }""")
        assert highest <= top, (highest, top)
        expect(page.locator("#last-note")).to_be_hidden()
        expect(page.locator("#last-peak")).to_have_text(re.compile(r"^\d+\.\d\s*BW$"))
        assert too_wide(page) == []
        assert page.console_errors == []


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_the_live_page_has_one_heading_big_targets_and_no_serious_accessibility_problem(browser, tmp_path,
                                                                                          viewport):
    with site(tmp_path, HEEL_DROPS, ("Fay Example", {})) as (url, (fay,)), \
            live_page(browser, url, viewport, fay) as page:
        start_set(page)
        page.wait_for_function("() => window.forceplateLive.sets.events.length >= 1", timeout=LONG_WAIT_MS)
        page.get_by_role("button", name="Stop set").click()
        page.get_by_text("Did anything hurt?").wait_for(timeout=WAIT_MS)
        assert page.locator("h1").count() == 1
        assert axe_violations(page) == []
        # the navigation bar is the clinic pages' (its own fix); everything of the live page is 44 px or more
        small = [s for s in small_targets(page) if not re.match(r'(a "(forceplate|Live|People|Settings)"|'
                                                                r'button "Sign out")', s)]
        assert small == []
        # keyboard only: Tab reaches the sound switch, Enter turns it on; Tab reaches the answer to the question
        reached = set()
        for _ in range(40):
            page.keyboard.press("Tab")
            focused = page.evaluate("() => document.activeElement && document.activeElement.id")
            reached.add(focused)
            if focused == "sound-toggle" and page.locator("#sound-toggle").get_attribute("aria-pressed") == "false":
                page.keyboard.press("Enter")
        assert {"sound-toggle", "pain-no", "set-person", "set-exercise", "start-set"} <= reached, reached
        assert page.locator("#sound-toggle").get_attribute("aria-pressed") == "true"


def test_a_sit_to_stand_set_shows_rise_and_lowering_against_the_tempo_never_an_impact_verdict(browser, tmp_path):
    from playwright.sync_api import expect

    spec = f"sim:sit-to-stand?speed=4&seed=4&body_mass_kg={MASS_KG:g}"
    with site(tmp_path, spec, ("Gus Example", {})) as (url, (gus,)), live_page(browser, url, "phone", gus) as page:
        watch_verdicts(page)
        start_set(page, "Sit-to-stand")
        page.wait_for_function("() => window.forceplateLive.sets.events.some(e => e.kind === 'sit-to-stand')",
                               timeout=LONG_WAIT_MS)
        expect(page.locator("#last-peak")).to_have_text(re.compile(r"^up \d\.\d\d s$"))
        expect(page.locator("#last-why")).to_contain_text(re.compile(r"up \d\.\d s .* down \d\.\d s"))
        expect(page.locator("#last-why")).to_contain_text(re.compile(r"W \(|no power"))
        seen = seen_verdicts(page)
        assert not [v for v in seen if re.match(r"(THUMP|too soft)", v["text"])], seen

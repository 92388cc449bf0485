"""People, plans, the clinician PIN and settings through Flask's test client, signed in through the real login.

Every store is a real SQLite file under tmp_path; what the pages claim is checked against the store.
"""
import datetime as dt
import html
import re

import pytest

from forceplate.programme.standing import default_plan
from forceplate.storage.store import Store

from test_webui import signed_in, standing_app

PIN = "482916"


@pytest.fixture
def app(tmp_path):
    return standing_app(tmp_path)


@pytest.fixture
def client(app):
    return signed_in(app)


def token(client, path="/people/new"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def store_of(app):
    return Store(app.config["DATABASE"], mark_interrupted=False)


def add(client, **fields):
    data = {"name": "Ann Example", "birth_year": "1952", "mass_kg": "68.5", "t_score": "-2.6",
            "has_vertebral_fracture": "no", "has_balance_problems": "no"} | fields
    return client.post("/people/new", data={"csrf_token": token(client)} | data)


def set_pin(client, pin=PIN):
    return client.post("/settings", data={"csrf_token": token(client, "/settings"), "pin": pin, "pin2": pin})


def text(response):
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


# -- adding and editing --------------------------------------------------------------------------------------

def test_adding_a_person_stores_them_with_body_mass_and_audits_who(client, app):
    response = add(client)
    assert response.status_code == 303
    person_id = int(response.headers["Location"].split("/people/")[1].split("?")[0])
    with store_of(app) as store:
        person = store.person(person_id)
        assert (person["name"], person["birth_year"], person["t_score"]) == ("Ann Example", 1952, -2.6)
        assert person["has_vertebral_fracture"] == 0 and person["has_balance_problems"] == 0
        assert store.latest_body_mass(person_id) == 68.5
        actions = [(a["action"], a["changed_by"]) for a in store.audit_log(person_id)]
    assert actions == [("create", "clinic"), ("body_mass", "clinic")]
    page = text(client.get(response.headers["Location"]))
    assert "Ann Example was added" in page and "68.5 kg" in page
    assert "Ann Example" in text(client.get("/people"))


@pytest.mark.parametrize("fields, message", [
    ({"name": "  "}, "Please enter the name."),
    ({"name": "Ann\x85Example"}, "A name cannot hold control or invisible characters (it has U+0085)."),   # C1 NEL
    ({"name": "Ann \x9b31m"}, "A name cannot hold control or invisible characters (it has U+009B)."),    # C1 CSI
    ({"name": "\u200b\u200c\u2060"}, "A name cannot hold control or invisible characters"),            # zero-width
    ({"name": "A" * 101}, "A name can have at most 100 characters."),
    ({"birth_year": "nineteen fifty"}, "The birth year must be a whole number"),
    ({"birth_year": "1850"}, "The birth year must be between 1900 and"),
    ({"mass_kg": "700"}, "The body mass must be between 20 and 300 kg."),
    ({"t_score": "-2.5x"}, "The T-score must be a number"),
    ({"has_balance_problems": "maybe"}, "Choose Yes, No or Not known for balance problems."),
])
def test_bad_input_is_refused_with_a_plain_message_and_kept_in_the_form(client, app, fields, message):
    response = add(client, **fields)
    assert response.status_code == 400
    page = text(response)
    assert message in page
    assert "Please correct one thing below" in page
    assert 'aria-invalid="true"' in page or "field-bad" in page
    with store_of(app) as store:
        assert store.people() == []


def test_a_name_already_taken_is_refused(client):
    add(client)
    response = add(client, name="ann example")
    assert response.status_code == 400
    assert "Someone already has that name" in text(response)


def test_a_comma_decimal_is_understood(client, app):
    add(client, mass_kg="71,5", t_score="-1,8")
    with store_of(app) as store:
        (person,) = store.people()
        assert person["mass_kg"] == 71.5 and person["t_score"] == -1.8


def test_editing_keeps_the_body_mass_history_and_audits_old_and_new(client, app):
    add(client)
    response = client.post("/people/1/edit", data={
        "csrf_token": token(client), "name": "Ann B. Example", "birth_year": "1952", "mass_kg": "66",
        "t_score": "-2.6", "has_vertebral_fracture": "yes", "has_balance_problems": "unknown"})
    assert response.status_code == 303
    with store_of(app) as store:
        assert [m["mass_kg"] for m in store.body_mass_history(1)] == [68.5, 66.0]
        update = [a for a in store.audit_log(1) if a["action"] == "update"][0]
        assert update["changes"]["name"] == ["Ann Example", "Ann B. Example"]
        assert update["changes"]["has_vertebral_fracture"] == [0, 1]
        assert update["changed_by"] == "clinic"


def test_an_unknown_person_is_a_plain_404(client):
    response = client.get("/people/99", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "there is no person number 99" in text(response).lower()


# -- fractures and the safety gating --------------------------------------------------------------------------

def test_a_recent_fracture_puts_the_person_in_clinician_approved_mode_with_the_reason(client, app):
    add(client)
    recent = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    response = client.post("/people/1/fractures", data={"csrf_token": token(client), "occurred_on": recent,
                                                        "site": "wrist"})
    assert response.status_code == 303
    page = text(client.get("/people/1"))
    assert "Waiting for clinician approval: no jumps or drop landings, beginner targets." in page
    assert f"A fracture on {recent}, within the last 6 months" in page
    with store_of(app) as store:
        assert store.fractures(1) == [{"occurred_on": recent, "site": "wrist", "is_vertebral": 0}]
        assert store.audit_log(1)[-1]["action"] == "fracture"
    assert "Waiting for clinician approval: no jumps" in text(client.get("/people"))


@pytest.mark.parametrize("when, message", [
    ("", "Please enter the fracture date"),
    ("last spring", "Write the fracture date as a year"),
    ("2019-02-30", "is not a real date"),
    ((dt.date.today() + dt.timedelta(days=2)).isoformat(), "between 1900 and today"),
])
def test_a_bad_fracture_date_is_refused(client, app, when, message):
    add(client)
    response = client.post("/people/1/fractures", data={"csrf_token": token(client), "occurred_on": when,
                                                        "site": "hip"})
    assert response.status_code == 400
    assert message in text(response)
    with store_of(app) as store:
        assert store.fractures(1) == []


def test_no_restriction_says_so_plainly(client):
    add(client)
    assert "No safety restrictions: the full programme (heel drops, jumps, drop landings, sit-to-stand)." in text(client.get("/people/1"))


def plan_exercises(client, person_id=1):
    page = client.get(f"/people/{person_id}").get_data(as_text=True)
    return html.unescape(re.search(r'id="plan-exercises">([^<]*)<', page).group(1))


def test_the_plan_shows_the_exercises_its_level_prescribes_and_none_with_impacts_while_restricted(client, app):
    add(client)
    assert plan_exercises(client) == "Heel drops, Sit-to-stand"                     # beginner
    with store_of(app) as store:
        store.set_plan(1, changed_by="test", default=default_plan(), level="advanced")
    assert plan_exercises(client) == "Heel drops, Jumps, Drop landings, Sit-to-stand"
    client.post("/people/1/fractures", data={"csrf_token": token(client), "site": "hip",
                                             "occurred_on": (dt.date.today() - dt.timedelta(days=30)).isoformat()})
    assert plan_exercises(client) == "Heel drops, Sit-to-stand"                     # restricted: beginner, no jumps


# -- the clinician PIN ---------------------------------------------------------------------------------------

def test_the_pin_is_set_once_hashed_and_changing_it_needs_the_old_one(client, app):
    assert "No clinician PIN is set yet" in text(client.get("/settings"))
    assert set_pin(client).status_code == 200
    with store_of(app) as store:
        record = store.setting("clinician_pin")
    assert PIN not in str(record) and record["hash"].startswith("scrypt:")
    response = client.post("/settings", data={"csrf_token": token(client, "/settings"), "old_pin": "000000",
                                              "pin": "1234", "pin2": "1234"})
    assert response.status_code == 400 and "Wrong clinician PIN" in text(response)
    response = client.post("/settings", data={"csrf_token": token(client, "/settings"), "old_pin": PIN,
                                              "pin": "1234", "pin2": "1234"})
    assert response.status_code == 200 and "The clinician PIN is saved" in text(response)


@pytest.mark.parametrize("pin, pin2, message", [("12", "12", "4 to 8 digits"), ("12ab", "12ab", "4 to 8 digits"),
                                                ("1234", "4321", "not the same")])
def test_a_bad_new_pin_is_refused(client, pin, pin2, message):
    response = client.post("/settings", data={"csrf_token": token(client, "/settings"), "pin": pin, "pin2": pin2})
    assert response.status_code == 400 and message in text(response)


def restricted_person(client):
    add(client, has_balance_problems="yes")
    set_pin(client)


def approve(client, pin=PIN, clinician="Dr Jones"):
    return client.post("/people/1/approval", data={"csrf_token": token(client), "action": "approve",
                                                   "clinician": clinician, "pin": pin})


def test_approval_with_the_pin_lifts_the_restriction_and_is_audited(client, app):
    restricted_person(client)
    assert approve(client).status_code == 303
    page = text(client.get("/people/1"))
    assert "Approved by clinician: Dr Jones, on" in page
    assert "Waiting for clinician approval" not in page
    with store_of(app) as store:
        assert store.person(1)["approved_by"] == "Dr Jones"
        entry = store.audit_log(1)[-1]
        assert entry["changed_by"] == "clinic" and entry["changes"]["approved_by"] == [None, "Dr Jones"]


def test_a_wrong_pin_is_refused_then_throttled(client, app):
    restricted_person(client)
    for _ in range(4):
        response = approve(client, pin="000000")
        assert response.status_code == 400 and "Wrong clinician PIN. Please try again." in text(response)
    response = approve(client, pin="000000")
    assert response.status_code == 429 and "Too many tries" in text(response)
    response = approve(client)                                  # even the right PIN waits now
    assert response.status_code == 429
    with store_of(app) as store:
        assert store.person(1)["approved_at"] is None
    assert "Waiting for clinician approval: no jumps or drop landings, beginner targets." in text(client.get("/people/1"))


def test_approval_needs_the_clinicians_name(client):
    restricted_person(client)
    response = approve(client, clinician="")
    assert response.status_code == 400 and "Please enter the clinician's name." in text(response)


def test_without_a_pin_set_approval_says_where_to_set_one(client):
    add(client, has_balance_problems="yes")
    response = approve(client)
    assert response.status_code == 400 and "set one on the Settings page" in text(response)


def test_withdrawing_the_approval_needs_the_pin(client, app):
    restricted_person(client)
    approve(client)
    response = client.post("/people/1/approval", data={"csrf_token": token(client), "action": "withdraw",
                                                       "pin": PIN})
    assert response.status_code == 303
    with store_of(app) as store:
        assert store.person(1)["approved_at"] is None


# -- plans ---------------------------------------------------------------------------------------------------

def plan_form(client, **fields):
    data = {"csrf_token": token(client), "level": "intermediate", "target_beginner": "2.0",
            "target_intermediate": "2.7", "target_advanced": "3.0", "daily_impact_cap": "80", "pin": PIN}
    return client.post("/people/1/plan", data=data | fields)


def test_a_plan_change_needs_the_pin_and_is_audited(client, app):
    add(client)
    set_pin(client)
    response = plan_form(client, pin="999999")
    assert response.status_code == 400 and "Wrong clinician PIN" in text(response)
    with store_of(app) as store:
        assert store.plan(1, default=default_plan())["updated_at"] is None
    assert plan_form(client).status_code == 303
    with store_of(app) as store:
        plan = store.plan(1, default=default_plan())
        assert plan["level"] == "intermediate" and plan["targets_bw"]["intermediate"] == 2.7
        assert plan["daily_impact_cap"] == 80
        entry = store.audit_log(1)[-1]
    assert entry["action"] == "plan" and entry["changed_by"] == "clinic"
    assert entry["changes"]["level"] == ["beginner", "intermediate"]
    assert entry["changes"]["target_intermediate_bw"] == [2.5, 2.7]
    page = text(client.get("/people/1"))
    assert "Intermediate" in page and "2.7 BW" in page and "of 80 a day" in page


def test_a_restricted_person_trains_at_beginner_targets_whatever_the_plan(client, app):
    restricted_person(client)
    plan_form(client, level="advanced")
    page = text(client.get("/people/1"))
    assert re.search(r'id="plan-level">Beginner<', page)
    assert "(advanced once approved)" in page
    assert re.search(r'id="plan-target">2.0 BW<', page)


@pytest.mark.parametrize("fields, message", [
    ({"target_beginner": "9"}, "The beginner target peak must be between 1.3 and 8 body weights."),
    ({"daily_impact_cap": "0"}, "The impacts a day must be between 1 and 500."),
    ({"level": "expert"}, "Choose one of: beginner, intermediate, advanced for the level."),
])
def test_bad_plan_values_are_refused(client, app, fields, message):
    add(client)
    set_pin(client)
    response = plan_form(client, **fields)
    assert response.status_code == 400 and message in text(response)
    with store_of(app) as store:
        assert store.plan(1, default=default_plan())["updated_at"] is None


def test_the_plan_shows_review_adherence_dose_and_impacts_left(client):
    add(client)
    page = text(client.get("/people/1"))
    assert "Two-week review" in page and "Stay at beginner." in page
    # Added a minute ago: no week of the programme has passed, so none is "under 2" and nothing is missed.
    assert "under 2" not in page
    assert page.count("not a whole week in the programme yet") == 4
    assert "Ann Example was added less than a week ago: no week is judged yet." in page
    assert "Today: 0.0" in page and 'id="impacts-left">100<' in page


def test_weeks_since_a_person_was_added_without_sessions_are_under_2(client, app):
    add(client)
    with store_of(app) as store:     # added 30 days ago: every one of the last 4 weeks is a whole programme week
        store.db.execute("UPDATE people SET created_at = ?",
                         [(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)).isoformat()])
    page = text(client.get("/people/1"))
    assert page.count("under 2") == 4 and "not a whole week" not in page
    assert "0 of the last 4 weeks in the programme had them." in page


# -- CSRF on every new form ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/people/new", "/people/1/edit", "/people/1/fractures", "/people/1/approval",
                                  "/people/1/plan", "/settings", "/live/set/start", "/live/set/stop",
                                  "/live/set/select", "/sessions/1/pain"])
def test_every_new_form_refuses_a_post_without_its_csrf_token(client, app, path):
    add(client)
    before = None
    with store_of(app) as store:
        before = (store.audit_log(1), store.people())
    response = client.post(path, data={"name": "Mallory", "pin": PIN, "person_id": "1", "pain": "yes",
                                       "csrf_token": "not the token"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    with store_of(app) as store:
        assert (store.audit_log(1), store.people()) == before


def test_pages_need_signing_in(app):
    anonymous = app.test_client()
    for path in ["/people", "/people/new", "/settings", "/people/1", "/people/1/history", "/sessions/1"]:
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


# -- ids in paths and fields ----------------------------------------------------------------------------------

# 2^63 overflows SQLite's INTEGER, 5000 digits is past int()'s limit, "²" and "٣" pass str.isdigit() but are
# no person's number: each was a 500.
BAD_IDS = ["9223372036854775808", "9" * 5000, "²", "٣", "1" * 19, "-1", "0x1"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_id_that_is_not_a_bounded_number_is_a_404_in_every_path(client, bad):
    add(client)                                                 # person 1 exists; their pages work
    assert client.get("/people/1").status_code == 200
    csrf = token(client)
    for path in ["/people/{}", "/people/{}/edit", "/people/{}/history", "/people/{}/history.json",
                 "/sessions/{}", "/sessions/{}/trace.json", "/sessions/{}/export.csv", "/sessions/{}/export.json"]:
        assert client.get(path.format(bad)).status_code == 404, path
    for path in ["/people/{}/edit", "/people/{}/fractures", "/people/{}/approval", "/people/{}/plan",
                 "/sessions/{}/pain"]:
        response = client.post(path.format(bad), data={"csrf_token": csrf, "pain": "no"})
        assert response.status_code == 404, path


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_person_id_field_that_is_not_a_bounded_number_is_a_400(client, bad):
    add(client)
    csrf = token(client)
    for path in ["/live/set/select", "/live/set/start"]:
        response = client.post(path, data={"csrf_token": csrf, "person_id": bad},
                               headers={"Accept": "application/json"})
        assert response.status_code == 400, path
    assert client.get("/", query_string={"person": bad}).status_code == 200   # a bad choice is no choice


# -- confirmations, the audit log in plain words, the nav ------------------------------------------------------

def test_saving_a_plan_confirms_it_with_what_was_saved(client, app):
    add(client)
    set_pin(client)
    response = plan_form(client)
    assert response.status_code == 303 and response.headers["Location"].endswith("?saved=plan#plan")
    page = text(client.get(response.headers["Location"]))
    assert re.search(r'<p class="notice" role="status" id="saved">The plan was saved. Level Intermediate, target peak '
                     r'2.7 body weights, at most 80 impacts a day.</p>', page)
    assert "The plan was saved" not in text(client.get("/people/1"))         # said once, not on every visit


def test_approving_and_adding_a_fracture_confirm_it_too(client, app):
    restricted_person(client)
    response = approve(client)
    assert "saved=approved" in response.headers["Location"]
    assert "Approved by clinician: the full programme is open." in text(client.get(response.headers["Location"]))
    response = client.post("/people/1/fractures", data={"csrf_token": token(client), "occurred_on": "2019",
                                                        "site": "wrist"})
    assert "The fracture was added." in text(client.get(response.headers["Location"]))


def audit_cells(client):
    page = client.get("/people/1").get_data(as_text=True)
    table = re.search(r'<table class="table audit-table cards" id="audit-log">(.*?)</table>', page, re.S).group(1)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " | ", table)))


def test_the_audit_log_says_what_changed_in_plain_words(client, app):
    add(client)                                   # t_score -2.6, vertebral fracture no, balance problems no
    set_pin(client)
    client.post("/people/1/edit", data={"csrf_token": token(client), "name": "Ann Example", "birth_year": "1952",
                                        "mass_kg": "68.5", "t_score": "-3.1", "has_vertebral_fracture": "yes",
                                        "has_balance_problems": "unknown"})
    plan_form(client)
    with store_of(app) as store:
        session_id = store.start_session(1, source="sim", rate_hz=80.0, adc="hx711", cells=["fz1_n"],
                                         offset_counts=[0], scale_n_per_count=[0.01], clock_origin_ns=0)
        store.end_session(session_id)
        store.set_pain(session_id, True, changed_by="clinic")
    log = audit_cells(client)
    for said in ("Added", "Name: Ann Example", "Year of birth: 1952", "T-score: -2.6",
                 "Vertebral (spine) fracture: no", "Body mass entered", "Body mass: 68.5 kg",
                 "Details changed", "T-score: -2.6 \u2192 -3.1", "Vertebral (spine) fracture: no \u2192 yes",
                 "Balance problems or falls: no \u2192 not known",
                 "Plan changed", "Level: Beginner \u2192 Intermediate",
                 "Target peak at intermediate: 2.5 body weights \u2192 2.7 body weights",
                 "Impacts a day, at most: 100 \u2192 80",
                 "Answered \u201cDid anything hurt?\u201d", "Did anything hurt?: yes", f"Set: number {session_id}"):
        assert said in log, said
    for raw in ("has_vertebral_fracture", "has_balance_problems", "t_score", "mass_kg", "daily_impact_cap",
                "target_intermediate_bw", "body_mass |", "True", "False", "None"):
        assert raw not in log, raw
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d", log)           # no ISO time as text (only in datetime="")
    now = dt.datetime.now().astimezone()
    assert f"{now:%a} {now.day} {now:%b %Y}, " in log             # the clinic's local date and time


def test_the_words_for_the_restricted_mode_say_waiting_for_approval(client, app):
    restricted_person(client)
    for path in ("/people", "/people/1", "/people/1/history"):
        page = text(client.get(path)).lower()
        assert "clinician-approved mode" not in page, path
    assert "Waiting for clinician approval: no jumps" in text(client.get("/people"))


def test_every_page_with_the_nav_says_the_plate_is_ready_when_nothing_records(client):
    add(client)
    for path in ("/people", "/people/new", "/people/1", "/people/1/edit", "/people/1/history", "/settings"):
        page = client.get(path).get_data(as_text=True)
        assert re.search(r'<p class="topnav-status topnav-status-ready" id="nav-status" role="status" '
                         r'data-url="/api/set">Plate ready</p>', page), path
        assert '<script src="/static/nav.js" defer></script>' in page, path
        assert '<a class="topnav-link" href="/settings"' in page or 'href="/settings" aria-current="page"' in page


def test_a_persons_page_and_history_link_their_reps_export(client):
    add(client)
    for path in ("/people/1", "/people/1/history"):
        assert 'href="/people/1/reps.csv" download>Every rep (CSV)</a>' in client.get(path).get_data(as_text=True)


def test_each_week_of_the_last_four_counts_the_days_trained_in_it(client, app):
    add(client)
    today = dt.datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)
    with store_of(app) as store:
        store.db.execute("UPDATE people SET created_at = ?", [(today - dt.timedelta(days=60)).isoformat()])
        for days_ago, hour in ((7, 9), (7, 15), (13, 10), (20, 10)):     # two sets 7 days ago: one session
            sid = store.start_session(1, source="sim", rate_hz=80.0, adc="hx711", cells=["fz1_n"], offset_counts=[0],
                                      scale_n_per_count=[0.01], clock_origin_ns=0,
                                      started_at=(today - dt.timedelta(days=days_ago)).replace(hour=hour).isoformat())
            store.add_events(sid, [{"kind": "impact", "t_peak_s": 1.0, "peak_n": 1800.0, "peak_bw": 2.7,
                                    "loading_rate_bw_s": 40.0, "thump": True}])
            store.end_session(sid)
    weeks = re.findall(r'<li class="week[^"]*"> <span class="week-n">(\d+)</span> <span class="week-label">([^<]+)</span>',
                       text(client.get("/people/1")))
    assert weeks == [("0", "sessions, 21 to 27 days ago"), ("1", "session, 14 to 20 days ago"),
                     ("2", "sessions, 7 to 13 days ago"), ("0", "sessions, the last 7 days (today too)")]

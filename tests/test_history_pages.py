"""Sets from the live page and the history pages, through Flask's test client signed in through the real login.

A simulated plate plays heel drops 10 times faster than real time; the tests wait on the set controller's
listener (never a sleep), then check the pages against the store and against `forceplate export`'s files.
"""
import csv
import datetime as dt
import html
import io
import json
import re
import threading

import pytest

from forceplate.device.sim.simulator import SimulatedSource
from forceplate.live.sets import SetController
from forceplate.storage.export import export_session
from forceplate.storage.store import Store
from forceplate.webui import close_app

from test_webui import running_app, signed_in

WAIT_S = 60.0            # a safety net for a loaded machine, not a timing claim
MASS_KG = 66.0


@pytest.fixture
def app(tmp_path):
    with running_app(tmp_path, SimulatedSource("heel-drops", speed=10.0, seed=5, body_mass_kg=MASS_KG)) as app:
        yield app


@pytest.fixture
def client(app):
    return signed_in(app)


def token(client):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/people/new").get_data(as_text=True)).group(1)


def text(response):
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def add_person(client, **fields):
    data = {"csrf_token": token(client), "name": "Ann Example", "birth_year": "1950", "mass_kg": f"{MASS_KG:g}",
            "has_vertebral_fracture": "no", "has_balance_problems": "no"} | fields
    response = client.post("/people/new", data=data)
    assert response.status_code == 303
    return int(response.headers["Location"].split("/people/")[1].split("?")[0])


def wait_for_reps(app, n):
    sets: SetController = app.extensions["forceplate.sets"]
    done = threading.Event()

    def listener(event):
        current = sets.current()
        if event["kind"] == "rep" and current is not None and current["reps"] >= n:
            done.set()

    sets.add_listener(listener)
    try:
        current = sets.current()
        if current is None or current["reps"] < n:
            assert done.wait(WAIT_S), "no reps came"
    finally:
        sets.remove_listener(listener)


def post_json(client, path, **data):
    return client.post(path, data={"csrf_token": token(client)} | data, headers={"Accept": "application/json"})


def record_a_set(client, app, person_id, reps=2):
    response = post_json(client, "/live/set/start", person_id=str(person_id))
    assert response.status_code == 200, response.get_json()
    session_id = response.get_json()["current"]["session"]
    wait_for_reps(app, reps)
    response = post_json(client, "/live/set/stop")
    assert response.status_code == 200
    return session_id, response.get_json()["summary"]


def test_a_set_from_the_live_page_is_stored_with_its_pain_answer_and_shown_in_the_history(client, app):
    person_id = add_person(client)
    session_id, summary = record_a_set(client, app, person_id)
    assert summary["status"] == "complete" and summary["reps"] >= 2 and summary["target_bw"] == 2.0
    response = post_json(client, f"/sessions/{session_id}/pain", pain="yes")
    assert response.status_code == 200 and "Progression is paused" in response.get_json()["message"]

    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        (row,) = store.person_history(person_id)
        events = store.events(session_id)
        assert store.audit_log(person_id)[-1]["action"] == "pain"
    assert row["pain"] == 1 and row["events"] == summary["reps"] == len(events)
    assert row["thump_bw"] == 2.0                                   # judged by the beginner target
    peaks = sorted(e["peak_bw"] for e in events)
    assert row["peak_bw_median"] == pytest.approx(peaks[len(peaks) // 2] if len(peaks) % 2 else
                                                  (peaks[len(peaks) // 2 - 1] + peaks[len(peaks) // 2]) / 2)

    page = text(client.get(f"/people/{person_id}/history"))
    assert "1 session, 1 set." in re.sub(r"<[^>]+>", "", page) and "Sets (1)" in page
    assert re.search(rf'data-session="{session_id}">.*?<td class="reps" data-label="Reps">{row["events"]}</td>', page)
    assert "yes" in page and "complete" in page
    # Any pain pauses progression: the plan page says so.
    plan_page = text(client.get(f"/people/{person_id}"))
    assert re.search(r'id="review"><strong>Progression paused.</strong> Pain was reported in the last 14 days', plan_page)

    detail = text(client.get(f"/sessions/{session_id}"))
    assert detail.count("THUMP") + detail.count("too soft") == len(events)
    assert f'id="session-reps">{len(events)}<' in detail


def test_the_session_exports_are_the_same_files_as_forceplate_export(client, app, tmp_path):
    person_id = add_person(client)
    session_id, _ = record_a_set(client, app, person_id, reps=1)
    csv_response = client.get(f"/sessions/{session_id}/export.csv")
    json_response = client.get(f"/sessions/{session_id}/export.json")
    assert csv_response.status_code == json_response.status_code == 200
    assert f"session-{session_id}.csv" in csv_response.headers["Content-Disposition"]
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        csv_path, json_path = export_session(store, session_id, tmp_path / "cli")
    assert csv_response.get_data() == csv_path.read_bytes()
    assert json_response.get_json() == json.loads(json_path.read_text())
    header = next(csv.reader(io.StringIO(csv_response.get_data(as_text=True))))
    assert header == ["t_s", "fz1_n", "fz2_n", "fz3_n", "fz4_n"]                 # docs/contracts.md section 2


def test_the_trace_and_chart_data_come_from_the_store(client, app):
    person_id = add_person(client)
    session_id, summary = record_a_set(client, app, person_id, reps=1)
    trace = client.get(f"/sessions/{session_id}/trace.json").get_json()
    assert len(trace["t"]) == len(trace["f"]) > 10
    assert trace["t"] == sorted(trace["t"])
    standing = [f for f in trace["f"] if f is not None]
    assert max(standing) > 1.5 * MASS_KG * 9.80665                       # a heel drop's peak is in it
    assert len(trace["events"]) == summary["reps"]
    data = client.get(f"/people/{person_id}/history.json").get_json()
    assert len(data["t"]) == 1 and data["median_bw"][0] == pytest.approx(summary["peak_bw_median"])
    assert data["week_sessions"][-1] == 1 and data["min_per_week"] == 2


def test_only_one_set_at_a_time_and_errors_are_plain(client, app):
    person_id = add_person(client)
    assert post_json(client, "/live/set/start", person_id="").get_json()["error"] == "choose who is on the plate first"
    assert post_json(client, "/live/set/start", person_id="77").status_code == 404
    assert post_json(client, "/live/set/start", person_id=str(person_id)).status_code == 200
    response = post_json(client, "/live/set/start", person_id=str(person_id))
    assert response.status_code == 409 and "already recording" in response.get_json()["error"]
    post_json(client, "/live/set/stop")
    response = post_json(client, "/live/set/stop")
    assert response.status_code == 409 and response.get_json()["error"] == "no set is recording"
    assert post_json(client, "/sessions/1/pain", pain="maybe").status_code == 400


def test_a_restricted_person_sets_at_beginner_targets_in_clinician_approved_mode(client, app):
    person_id = add_person(client, has_balance_problems="yes")
    state = post_json(client, "/live/set/start", person_id=str(person_id)).get_json()
    assert state["current"]["restricted"] is True and state["current"]["level"] == "beginner"
    assert state["current"]["restriction_reasons"] == ["balance problems"]
    post_json(client, "/live/set/stop")
    assert "no jumps: waiting for approval" in text(client.get(f"/people/{person_id}/history"))


def test_the_set_ends_complete_when_the_server_stops(client, app):
    person_id = add_person(client)
    post_json(client, "/live/set/start", person_id=str(person_id))
    wait_for_reps(app, 1)
    close_app(app)                                  # what run_server does on SIGTERM
    with Store(app.config["DATABASE"]) as store:
        (row,) = store.person_history(person_id)
    assert row["status"] == "complete" and row["events"] >= 1


def test_an_interrupted_session_shows_as_interrupted(client, app):
    person_id = add_person(client)
    with Store(app.config["DATABASE"]) as store:
        session_id = store.start_session(person_id, source="sim", rate_hz=80.0, adc="hx711", cells=["fz1_n"],
                                         offset_counts=[0], scale_n_per_count=[0.01], clock_origin_ns=0)
        store.end_session(session_id, status="interrupted")
    page = text(client.get(f"/people/{person_id}/history"))
    assert "interrupted" in page


def test_the_history_list_is_paged(client, app):
    person_id = add_person(client)
    with Store(app.config["DATABASE"]) as store:
        start = dt.datetime(2025, 1, 6, 9, tzinfo=dt.timezone.utc)
        for i in range(60):
            sid = store.start_session(person_id, source="sim", rate_hz=80.0, adc="hx711", cells=["fz1_n"],
                                      offset_counts=[0], scale_n_per_count=[0.01], clock_origin_ns=0,
                                      started_at=(start + dt.timedelta(days=i)).isoformat())
            store.add_events(sid, [{"kind": "impact", "t_peak_s": 1.0, "peak_n": 2000.0, "peak_bw": 3.0,
                                    "loading_rate_bw_s": 50.0, "thump": True}])
            store.end_session(sid)
    first = text(client.get(f"/people/{person_id}/history"))
    assert "60 sessions, 60 sets." in re.sub(r"<[^>]+>", "", first) and "Page 1 of 2" in first and first.count("data-session=") == 50
    second = text(client.get(f"/people/{person_id}/history?page=2"))
    assert second.count("data-session=") == 10
    data = client.get(f"/people/{person_id}/history.json").get_json()
    assert len(data["t"]) == 60 and data["oi"][0] == pytest.approx(3.0 * 0.6931, rel=1e-3)


# -- exercises --------------------------------------------------------------------------------------------

def test_the_live_page_offers_each_persons_prescribed_exercises_heel_drops_first(client, app):
    ann = add_person(client)
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        from forceplate.programme.standing import default_plan
        bob = store.add_person("Bob Example", changed_by="test", birth_year=1950)
        store.set_plan(bob, changed_by="test", default=default_plan(), level="intermediate")
    page = client.get(f"/?person={ann}").get_data(as_text=True)
    assert re.search(rf'<option value="{ann}" data-exercises="heel-drop sit-to-stand free" selected>', page)
    assert f'<option value="{bob}" data-exercises="heel-drop jump sit-to-stand free">' in page
    select = re.search(r'<select id="set-exercise" name="exercise"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]+)"', select) == ["heel-drop", "sit-to-stand", "free"]
    assert re.search(r'<option value="heel-drop" selected>Heel drops</option>', select)


def test_a_set_started_with_an_exercise_keeps_it_and_the_history_pages_show_it(client, app):
    person_id = add_person(client)
    response = post_json(client, "/live/set/start", person_id=str(person_id), exercise="sit-to-stand")
    assert response.status_code == 200, response.get_json()
    current = response.get_json()["current"]
    assert (current["exercise"], current["target"]) == ("sit-to-stand", "rise \u2264 1 s, sit-down \u2265 2 s")
    assert response.get_json()["selected_exercise"] == "sit-to-stand"
    session_id = current["session"]
    assert post_json(client, "/live/set/stop").status_code == 200
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        assert store.session(session_id)["exercise"] == "sit-to-stand"
    history = client.get(f"/people/{person_id}/history").get_data(as_text=True)
    assert re.search(rf'data-session="{session_id}">.*?<td class="exercise" data-label="Exercise">Sit-to-stand</td>', history, re.S)
    assert 'id="session-exercise">Sit-to-stand<' in client.get(f"/sessions/{session_id}").get_data(as_text=True)


def test_a_set_of_jumps_for_a_restricted_person_or_of_no_exercise_is_refused(client, app):
    person_id = add_person(client, has_vertebral_fracture="yes")
    response = post_json(client, "/live/set/start", person_id=str(person_id), exercise="jump")
    assert response.status_code == 409
    assert "Jumps are not allowed for Ann Example today: waiting for clinician approval" in response.get_json()["error"]
    assert post_json(client, "/live/set/start", person_id=str(person_id), exercise="hopping").status_code == 400
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        assert store.sessions() == []
    assert post_json(client, "/live/set/select", person_id=str(person_id),
                     exercise="sit-to-stand").get_json()["selected_exercise"] == "sit-to-stand"


def test_the_session_page_lists_a_withdrawn_rep_apart_and_leaves_it_out_of_the_reps(client, app):
    person_id = add_person(client)
    session_id, _ = record_a_set(client, app, person_id, reps=2)
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        first = store.events(session_id)[0]
        store.withdraw_event(session_id, first["t_peak_s"], "that was a jump's push-off")
        reps = len(store.events(session_id))
    page = text(client.get(f"/sessions/{session_id}"))
    assert f'id="session-reps">{reps}<' in page
    assert re.search(r'<ul id="withdrawn-events"> <li>[^<]*impact of [0-9.]+ BW withdrawn: that was a jump\'s push-off</li>',
                     page)


# -- sessions are days of sets, the date filter, reps that do not count, the nav --------------------------------

def stored_set(store, person_id, started_at, events, exercise="heel-drop"):
    sid = store.start_session(person_id, source="sim", rate_hz=80.0, adc="hx711", cells=["fz1_n"], offset_counts=[0],
                              scale_n_per_count=[0.01], clock_origin_ns=0, started_at=started_at, exercise=exercise)
    store.add_events(sid, events)
    store.end_session(sid)
    return sid


def impact(t, peak_bw, **extra):
    return {"kind": "impact", "t_peak_s": t, "peak_n": peak_bw * 650, "peak_bw": peak_bw, "loading_rate_bw_s": 40.0,
            "thump": peak_bw >= 2.5} | extra


def test_a_rep_that_does_not_count_is_listed_with_its_reason_and_left_out_of_the_counts(client, app):
    person_id = add_person(client, has_vertebral_fracture="yes")
    jump = {"kind": "jump", "takeoff_s": 7.6, "landing_s": 8.0, "flight_s": 0.4, "height_flight_m": 0.2,
            "height_impulse_m": 0.19, "t_peak_s": 8.02, "peak_n": 2800.0, "peak_bw": 4.3, "loading_rate_bw_s": None,
            "thump": None, "counted": False, "not_counted_reason": "No jumps in clinician-approved mode"}
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        sid = stored_set(store, person_id, "2026-03-02T09:30:00+00:00",
                         [impact(2.0, 2.4), impact(5.0, 3.0), jump], exercise="free")
    page = text(client.get(f"/sessions/{sid}"))
    rows = re.findall(r'<tr class="(rep-[a-z-]+)" data-seq="(\d)">(.*?)</tr>', page)
    assert [(cls, seq) for cls, seq, _ in rows] == [("rep-counted", "0"), ("rep-counted", "1"), ("rep-not-counted", "2")]
    assert "not counted: no jumps while waiting for clinician approval" in rows[2][2]
    assert "THUMP" not in rows[2][2] and "THUMP" in rows[1][2] and "too soft" in rows[0][2]
    assert 'id="session-reps">2<' in page and "and 1 not counted" in page       # the two heel drops
    assert 'id="session-thumps">1<' in page                                   # 3.0 BW; the jump's 4.3 is out
    assert 'id="session-median">2.70 BW<' in page                             # median of 2.4 and 3.0
    assert 'id="session-oi">2.97<' in page                                    # 2.7 x ln(2 + 1)
    trace_events = client.get(f"/sessions/{sid}/trace.json").get_json()["events"]
    assert [e["counted"] for e in trace_events] == [True, True, False]


def test_each_rep_has_its_time_into_the_set_and_on_the_clock(client, app):
    person_id = add_person(client)
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        sid = stored_set(store, person_id, "2026-03-02T09:30:00+00:00", [impact(65.25, 2.6)])
    page = client.get(f"/sessions/{sid}").get_data(as_text=True)
    wall = dt.datetime(2026, 3, 2, 9, 31, 5, 250000, tzinfo=dt.timezone.utc)       # 09:30:00 + 65.25 s
    assert re.search(r'<span class="into">1:05.2</span> <span class="clock">\(<time datetime="2026-03-02T09:31:05.250\+00:00" '
                     rf'data-format="time">{wall.astimezone():%H:%M:%S}</time>\)</span>', page)


def test_a_session_is_a_day_of_sets_and_the_date_filter_keeps_only_those_days(client, app):
    person_id = add_person(client)
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        for started in ("2025-01-06T10:00:00+00:00", "2025-02-10T09:00:00+00:00", "2025-02-10T15:00:00+00:00",
                        "2025-02-12T10:00:00+00:00", "2025-03-17T10:00:00+00:00"):
            stored_set(store, person_id, started, [impact(2.0, 2.6)])
    plain = lambda response: re.sub(r"<[^>]+>", "", text(response))                 # noqa: E731
    assert "4 sessions, 5 sets." in plain(client.get(f"/people/{person_id}/history"))
    feb = client.get(f"/people/{person_id}/history?from=2025-02-01&to=2025-02-28")
    assert feb.status_code == 200
    assert ": 2 sessions, 3 sets." in plain(feb) and text(feb).count("data-session=") == 3
    assert re.findall(r'class="hint set-of-day">([^<]+)<', text(feb)) == ["set 2 of 2 that day", "set 1 of 2 that day"]
    data = client.get(f"/people/{person_id}/history.json?from=2025-02-01&to=2025-02-28").get_json()
    assert len(data["t"]) == 3
    assert data["week_sessions"] == [2, 0, 0]          # the week of 10 Feb: two days (three sets); 17 and 24 Feb
    everything = client.get(f"/people/{person_id}/history.json").get_json()
    assert everything["week_sessions"][:6] == [1, 0, 0, 0, 0, 2]
    assert max(everything["week_t"]) <= everything["now"]
    empty = client.get(f"/people/{person_id}/history?from=2024-01-01&to=2024-12-31")
    assert "No sets between these dates." in text(empty) and "data-session=" not in text(empty)


@pytest.mark.parametrize("query, message", [
    ("from=2025-02-30", "The first day must be a date like 2026-03-02."),
    ("to=yesterday", "The last day must be a date like 2026-03-02."),
    ("from=2025-03-01&to=2025-02-01", "The last day is before the first day: swap them, or change one."),
])
def test_a_bad_date_in_the_filter_is_said_plainly(client, app, query, message):
    person_id = add_person(client)
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        stored_set(store, person_id, "2025-02-10T09:00:00+00:00", [impact(2.0, 2.6)])
    response = client.get(f"/people/{person_id}/history?{query}")
    assert response.status_code == 200 and message in text(response)      # the page, with what to change
    assert text(response).count("data-session=") == 1                    # that end is ignored: all is shown


def test_the_nav_names_who_is_recording_on_every_page_while_a_set_records(client, app):
    person_id = add_person(client)
    assert post_json(client, "/live/set/start", person_id=str(person_id), exercise="heel-drop").status_code == 200
    try:
        for path in ("/people", f"/people/{person_id}", f"/people/{person_id}/history", "/settings", "/"):
            assert re.search(r'id="nav-status" role="status" data-url="/api/set">Recording: Ann Example, Heel drops<',
                             client.get(path).get_data(as_text=True)), path
    finally:
        post_json(client, "/live/set/stop")
    assert 'data-url="/api/set">Plate ready<' in client.get("/people").get_data(as_text=True)


def test_a_set_page_links_its_reps_export_beside_the_trace(client, app):
    person_id = add_person(client)
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        sid = stored_set(store, person_id, "2025-02-10T09:00:00+00:00", [impact(2.0, 2.6)])
    page = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert f'href="/sessions/{sid}/reps.csv" download>The reps (CSV)</a>' in page
    assert f'href="/sessions/{sid}/export.csv" download>The force trace (CSV)</a>' in page

"""The rep tables for a spreadsheet (a set's, a person's) through Flask's test client, signed in through the real
login; the sets are written with the Store as the recorder writes them."""
import csv
import datetime as dt
import io

import pytest

from forceplate.storage.store import Store
from forceplate.webui.exports import PERSON_COLUMNS, REP_COLUMNS

from test_webui import signed_in, standing_app

STARTED = "2026-03-02T09:30:00.000000+00:00"
CAL = {"offset_counts": [0.0], "scale_n_per_count": [0.01]}
IMPACT = {"kind": "impact", "t_peak_s": 1.5, "peak_n": 2100.0, "peak_bw": 3.0, "loading_rate_bw_s": 80.0,
          "thump": True, "onset_s": 1.45, "landing": None, "intensity": "high", "caution": False,
          "peak_method": "largest sample", "peak_low_n": 2000.0, "peak_high_n": 2250.0,
          "peak_low_bw": 2.86, "peak_high_bw": 3.21, "thump_borderline": False}
SOFT = IMPACT | {"t_peak_s": 3.0, "peak_n": 1200.0, "peak_bw": 1.71, "thump": False, "peak_low_n": None,
                 "peak_high_n": None, "peak_low_bw": None, "peak_high_bw": None, "thump_borderline": None}
JUMP = {"kind": "jump", "takeoff_s": 5.0, "landing_s": 5.4, "flight_s": 0.4, "height_flight_m": 0.196,
        "height_impulse_m": 0.2, "t_peak_s": 5.45, "peak_n": 3500.0, "peak_bw": 5.0, "loading_rate_bw_s": 150.0,
        "thump": True, "caution": True, "peak_method": "largest sample"}
STS = {"kind": "sit-to-stand", "seated_start_s": 2.0, "seated_end_s": 4.1, "seated_n": 180.0, "seated_bw": 0.26,
       "lowering_start_s": 0.9, "lowering_end_s": 2.0, "lowering_s": 1.1, "rise_start_s": 4.1, "rise_end_s": 4.9,
       "rise_s": 0.8, "t_peak_s": 4.4, "peak_n": 1050.0, "peak_bw": 1.52, "is_fast_rise": True,
       "is_slow_lowering": False, "tempo": "fast up, fast down", "mean_power_w": 310.2, "mean_power_w_kg": 4.43}


def record_set(path, person, events, *, exercise="heel-drop", started=STARTED, speed=1.0, withdraw=()):
    with Store(path) as store:
        person_id = store.person_id_for(person, changed_by="test")
        session_id = store.start_session(person_id, source="sim:test", rate_hz=80.0, adc="hx711", cells=["fz_n"],
                                         offset_counts=CAL["offset_counts"], scale_n_per_count=CAL["scale_n_per_count"],
                                         clock_origin_ns=0, started_at=started, exercise=exercise, speed=speed)
        store.add_events(session_id, events)
        for t_peak_s, reason in withdraw:
            assert store.withdraw_event(session_id, t_peak_s, reason) is not None
        store.end_session(session_id)
        return person_id, session_id


@pytest.fixture
def app(tmp_path):
    return standing_app(tmp_path)


@pytest.fixture
def client(app):
    return signed_in(app)


def table(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_a_sets_reps_are_one_row_each_with_verdict_time_and_estimate(app, client):
    _, session_id = record_set(app.config["DATABASE"], "Ann Example", [IMPACT, SOFT, JUMP], exercise="jump",
                               withdraw=[(3.0, "a jump's push-off")])
    response = client.get(f"/sessions/{session_id}/reps.csv")
    assert response.headers["Content-Disposition"] == f'attachment; filename="session-{session_id}-reps.csv"'
    assert response.mimetype == "text/csv"
    rows = table(response)
    assert list(rows[0]) == list(REP_COLUMNS)
    assert [(r["rep"], r["kind"], r["verdict"], r["counted"]) for r in rows] == [
        ("1", "impact", "thump", "yes"), ("2", "impact", "not counted", "no"), ("3", "jump", "thump", "yes")]
    first, withdrawn, jump = rows
    assert float(first["t_s"]) == 1.5 and first["time"] == "2026-03-02T09:30:01.500+00:00"
    assert (float(first["peak_n"]), float(first["peak_bw"]), first["peak_method"]) == (2100.0, 3.0, "largest sample")
    assert (float(first["peak_low_n"]), float(first["peak_high_n"])) == (2000.0, 2250.0)
    assert first["exercise"] == "jump" and first["caution"] == "no" and float(first["loading_rate_bw_s"]) == 80.0
    assert withdrawn["not_counted_reason"] == "a jump's push-off" and withdrawn["peak_low_n"] == ""
    assert jump["caution"] == "yes" and float(jump["height_flight_m"]) == 0.196 and float(jump["t_s"]) == 5.45


def test_a_rep_that_does_not_count_says_why(app, client):
    jump = JUMP | {"counted": False, "not_counted_reason": "a jump in the clinician-approved mode"}
    _, session_id = record_set(app.config["DATABASE"], "Ann Example", [IMPACT, jump], exercise="heel-drop")
    rows = table(client.get(f"/sessions/{session_id}/reps.csv"))
    assert [(r["kind"], r["verdict"], r["counted"], r["not_counted_reason"]) for r in rows] == [
        ("impact", "thump", "yes", ""), ("jump", "not counted", "no", "a jump in the clinician-approved mode")]


def test_a_faster_replay_puts_reps_at_their_wall_clock_time(app, client):
    _, session_id = record_set(app.config["DATABASE"], "Ann Example", [IMPACT], speed=4.0)
    (row,) = table(client.get(f"/sessions/{session_id}/reps.csv"))
    # 1.5 s into the set on the source's time scale was 0.375 s of wall-clock time at 4x
    assert dt.datetime.fromisoformat(row["time"]) == dt.datetime.fromisoformat(STARTED) + dt.timedelta(seconds=0.375)


def test_a_sit_to_stand_rep_has_its_tempo_and_timings(app, client):
    _, session_id = record_set(app.config["DATABASE"], "Ann Example", [STS], exercise="sit-to-stand")
    (row,) = table(client.get(f"/sessions/{session_id}/reps.csv"))
    assert row["verdict"] == row["tempo"] == "fast up, fast down"
    assert (float(row["rise_s"]), float(row["lowering_s"]), float(row["mean_power_w"])) == (0.8, 1.1, 310.2)
    assert float(row["seated_bw"]) == 0.26 and row["counted"] == "yes"


def test_a_persons_reps_are_every_rep_of_their_sets_and_no_one_elses(app, client):
    path = app.config["DATABASE"]
    person_id, first = record_set(path, "Ann Example", [IMPACT, SOFT])
    record_set(path, "Bob Other", [JUMP], exercise="jump", started="2026-03-03T09:00:00+00:00")
    _, second = record_set(path, "Ann Example", [STS], exercise="sit-to-stand",
                           started="2026-03-04T10:00:00+00:00")
    response = client.get(f"/people/{person_id}/reps.csv")
    assert response.headers["Content-Disposition"] == f'attachment; filename="person-{person_id}-reps.csv"'
    rows = table(response)
    assert list(rows[0]) == list(PERSON_COLUMNS)
    assert [(int(r["session"]), r["exercise"], r["kind"], r["verdict"]) for r in rows] == [
        (first, "heel-drop", "impact", "thump"), (first, "heel-drop", "impact", "too soft"),
        (second, "sit-to-stand", "sit-to-stand", "fast up, fast down")]
    assert rows[0]["session_started"] == STARTED and rows[2]["session_started"].startswith("2026-03-04T10:00")


def test_text_that_looks_like_a_formula_is_shown_as_text_and_numbers_stay_numbers(app, client):
    events = [IMPACT | {"peak_method": '=HYPERLINK("http://evil.example","x")'},
              SOFT | {"t_peak_s": 2.0, "peak_method": "@SUM(A1)"},
              IMPACT | {"t_peak_s": 4.0, "peak_method": "+1+2", "loading_rate_bw_s": -3.5},
              IMPACT | {"t_peak_s": 6.0, "peak_method": "\tx"},
              IMPACT | {"t_peak_s": 8.0, "peak_method": "\rcmd"}]
    person_id, session_id = record_set(app.config["DATABASE"], "Ann Example", events,
                                       withdraw=[(6.0, "-2+3 cmd|' /C calc'!A0")])
    for url in (f"/sessions/{session_id}/reps.csv", f"/people/{person_id}/reps.csv"):
        rows = table(client.get(url))
        by_t = {float(r["t_s"]): r for r in rows}
        assert by_t[1.5]["peak_method"] == '\'=HYPERLINK("http://evil.example","x")'
        assert by_t[2.0]["peak_method"] == "'@SUM(A1)"
        assert by_t[4.0]["peak_method"] == "'+1+2" and by_t[4.0]["loading_rate_bw_s"] == "-3.5"
        assert by_t[6.0]["peak_method"] == "'\tx" and by_t[6.0]["not_counted_reason"] == "'-2+3 cmd|' /C calc'!A0"
        assert by_t[8.0]["peak_method"] == "'\rcmd"
        for row in rows:
            assert not any(str(v).startswith(("=", "+", "@", "\t", "\r")) for k, v in row.items()
                           if k not in ("t_s", "loading_rate_bw_s"))


def test_unknown_ids_are_404_in_plain_words(client):
    response = client.get("/sessions/999/reps.csv")
    assert response.status_code == 404 and "there is no session number 999" in response.get_data(as_text=True)
    response = client.get("/people/999/reps.csv")
    assert response.status_code == 404 and "there is no person number 999" in response.get_data(as_text=True)
    assert client.get("/people/x1/reps.csv").status_code == 404


def test_the_exports_need_sign_in(app):
    person_id, session_id = record_set(app.config["DATABASE"], "Ann Example", [IMPACT])
    stranger = app.test_client()
    for url in (f"/sessions/{session_id}/reps.csv", f"/people/{person_id}/reps.csv"):
        response = stranger.get(url)
        assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
        assert "Ann" not in response.get_data(as_text=True) and "2100" not in response.get_data(as_text=True)
        response = stranger.get(url, headers={"Accept": "application/json"})
        assert response.status_code in (302, 401)
    assert signed_in(app).post(f"/sessions/{session_id}/reps.csv").status_code in (400, 405)

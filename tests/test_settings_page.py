"""The Settings page through Flask's test client, signed in through the real login: the backup, the password
change, the thump threshold, the tare and the calibration status. Every store is a real SQLite file."""
import dataclasses
import datetime as dt
import html
import logging
import os
import re
import sqlite3
import threading

import numpy as np
import pytest

from forceplate.calibration.saved import Calibration, load_calibration, save_calibration
from forceplate.device.sim.mock import FakeClock, MockSource
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.live.panel_link import PanelLink
from forceplate.live.plate import LivePlate
from forceplate.storage.store import Store
from forceplate.webui import create_app
from forceplate.webui.settings import THUMP_SETTING

from test_webui import PASSWORD, make_app, signed_in, standing_app

NEW_PASSWORD = "a new clinic password"
IMPACT = {"kind": "impact", "t_peak_s": 1.5, "peak_n": 2100.0, "peak_bw": 3.0, "loading_rate_bw_s": 80.0,
          "thump": True}


@pytest.fixture
def app(tmp_path):
    return standing_app(tmp_path)


@pytest.fixture
def client(app):
    return signed_in(app)


def token(client):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/settings").get_data(as_text=True)).group(1)


def text(response):
    page = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return html.unescape(re.sub(r"\s+", " ", page))


def add_people_and_sets(path, people=("Ann Example", "Bob Other")):
    with Store(path) as store:
        for name in people:
            person_id = store.person_id_for(name, changed_by="test")
            session_id = store.start_session(person_id, source="sim:test", rate_hz=80.0, adc="hx711", cells=["fz_n"],
                                             offset_counts=[0.0], scale_n_per_count=[0.01], clock_origin_ns=0)
            store.add_events(session_id, [IMPACT])
            store.end_session(session_id)


def backup_files_open() -> int:
    """How many backup temporary files this process holds open that are already unlinked (Linux)."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return sum(1 for n in names if ".forceplate-backup-" in n and n.endswith(" (deleted)"))


def sign_in_fresh(app, password):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client, client.post("/login", data={"csrf_token": csrf, "password": password})


# -- the page --------------------------------------------------------------------------------------------------

def test_the_page_has_one_h1_and_a_heading_for_every_section(client):
    page = client.get("/settings").get_data(as_text=True)
    assert len(re.findall(r"<h1\b", page)) == 1
    headings = re.findall(r"<h2 [^>]*>([^<]+)</h2>", page)
    assert headings == ["Plate", "Thump threshold", "Clinic password", "Clinician PIN", "Backup"]
    subheadings = set(re.findall(r"<h3 [^>]*>([^<]+)</h3>", page))
    assert {"Tare (zero the empty plate)", "Calibration", "Plate self-check"} <= subheadings


def test_every_form_on_the_page_carries_the_csrf_token(client):
    page = client.get("/settings").get_data(as_text=True)
    forms = re.findall(r"<form\b.*?</form>", page, re.S)
    assert len(forms) >= 6
    csrf = token(client)
    for form in forms:
        assert f'name="csrf_token" value="{csrf}"' in form, form[:120]


# -- the backup ------------------------------------------------------------------------------------------------

def test_the_backup_is_a_whole_consistent_database_streamed_as_an_attachment(app, client, tmp_path, caplog):
    path = app.config["DATABASE"]
    add_people_and_sets(path)
    writer = sqlite3.connect(path, isolation_level=None)         # another writer, mid-transaction
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO people (name, created_at) VALUES ('Not Committed', 'x')")
    caplog.set_level(logging.INFO, logger="forceplate.webui.settings")
    try:
        response = client.post("/settings/backup", data={"csrf_token": token(client)})
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert response.status_code == 200
    # streamed from the temporary file itself, open and already unlinked, never a copy in memory
    assert response.is_streamed and backup_files_open() == 1
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r"attachment; filename=forceplate-backup-\d{8}-\d{4}\.sqlite3", disposition), disposition
    data = response.get_data()
    response.close()                                              # as a WSGI server does once it is sent
    assert backup_files_open() == 0
    assert int(response.headers["Content-Length"]) == len(data) and response.headers["Cache-Control"] == "no-store"
    copy = tmp_path / "downloaded.sqlite3"
    copy.write_bytes(data)
    db = sqlite3.connect(copy)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"     # one file, nothing beside it
        assert [r[0] for r in db.execute("SELECT name FROM people ORDER BY name")] == ["Ann Example", "Bob Other"]
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 2
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2
    finally:
        db.close()
    with Store(copy, mark_interrupted=False) as store:           # forceplate itself can use it
        assert [s["person"] for s in store.sessions()] == ["Ann Example", "Bob Other"]
    folder = os.path.dirname(path)
    assert not [n for n in os.listdir(folder) if n.startswith(".forceplate-backup-")]    # no copy left behind
    assert any("database backup downloaded by clinic" in r.getMessage() for r in caplog.records)


def test_the_backup_needs_sign_in_a_post_and_the_csrf_token(app, client):
    add_people_and_sets(app.config["DATABASE"])
    stranger = app.test_client()
    response = stranger.post("/settings/backup", data={})
    assert response.status_code == 401 and b"Ann" not in response.get_data()
    assert stranger.get("/settings/backup").status_code in (302, 401)
    assert client.get("/settings/backup").status_code == 405
    response = client.post("/settings/backup", data={"csrf_token": "forged"})
    assert response.status_code == 400 and b"SQLite" not in response.get_data()
    assert client.post("/settings/backup", data={}).status_code == 400


def test_a_backup_that_would_eat_the_room_recording_needs_is_refused_and_says_why(tmp_path):
    app = make_app(tmp_path, source=SimulatedSource("standing", clock=FakeClock()), MIN_FREE_DISK_MB=10 ** 12)
    add_people_and_sets(app.config["DATABASE"])
    client = signed_in(app)
    response = client.post("/settings/backup", data={"csrf_token": token(client)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings#backup")
    assert "There is not room for a backup on the data disk" in text(client.get("/settings"))
    assert not [n for n in os.listdir(os.path.dirname(app.config["DATABASE"])) if n.startswith(".forceplate-backup-")]


def test_one_backup_is_made_at_a_time(app, client):
    with app.extensions["forceplate.backup_lock"]:
        response = client.post("/settings/backup", data={"csrf_token": token(client)})
    assert response.status_code == 303 and "A backup is being made right now" in text(client.get("/settings"))


# -- the clinic password ---------------------------------------------------------------------------------------

def change(client, current, new, again=None):
    return client.post("/settings/password", data={
        "csrf_token": token(client), "current_password": current, "new_password": new,
        "new_password2": new if again is None else again})


def test_changing_the_password_signs_every_other_browser_out_and_keeps_this_one(app, client):
    other = signed_in(app)
    assert other.get("/settings").status_code == 200
    response = change(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings#password")
    page = client.get("/settings")
    assert page.status_code == 200 and "The clinic password is changed" in text(page)
    response = other.get("/settings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    _, response = sign_in_fresh(app, PASSWORD)
    assert response.status_code == 401
    _, response = sign_in_fresh(app, NEW_PASSWORD)
    assert response.status_code == 303


@pytest.mark.parametrize("current, new, again, status, says", [
    ("not the password", NEW_PASSWORD, None, 401, "Wrong current password"),
    (PASSWORD, "short", None, 400, "at least 8 characters"),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", 400, "not the same"),
    (PASSWORD, PASSWORD, None, 400, "same as the current one"),
])
def test_a_refused_change_says_why_and_the_password_stays(app, client, current, new, again, status, says):
    response = change(client, current, new, again)
    assert response.status_code == status and says in text(response)
    assert client.get("/settings").status_code == 200              # still signed in
    _, response = sign_in_fresh(app, PASSWORD)
    assert response.status_code == 303


def test_wrong_current_passwords_are_limited_as_sign_in_is(app, client):
    for _ in range(int(app.config["LOGIN_MAX_FAILURES"]) - 1):
        assert change(client, "guess guess", NEW_PASSWORD).status_code == 401
    response = change(client, "guess again", NEW_PASSWORD)
    assert response.status_code == 429 and "Too many tries" in text(response)
    response = change(client, PASSWORD, NEW_PASSWORD)               # even the right one waits now
    assert response.status_code == 429 and 1 <= int(response.headers["Retry-After"]) <= 30
    _, response = sign_in_fresh(app, PASSWORD)
    assert response.status_code in (303, 429)                       # the same address: paused, or unchanged


def test_the_password_form_needs_the_csrf_token_and_sign_in(app, client):
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert client.post("/settings/password", data=data).status_code == 400
    assert client.post("/settings/password", data=data | {"csrf_token": "forged"}).status_code == 400
    assert app.test_client().post("/settings/password", data=data).status_code == 401
    _, response = sign_in_fresh(app, PASSWORD)
    assert response.status_code == 303                               # unchanged


# -- the thump threshold ---------------------------------------------------------------------------------------

def thump(client, value, **more):
    return client.post("/settings/thump", data={"csrf_token": token(client), "thump_bw": value, **more})


def stored(app):
    with Store(app.config["DATABASE"], mark_interrupted=False) as store:
        return store.setting(THUMP_SETTING)


def test_the_thump_threshold_asks_to_confirm_then_is_saved_logged_and_used_at_the_next_start(app, client, tmp_path,
                                                                                              caplog):
    response = thump(client, "3.2")
    assert response.status_code == 200
    assert "Change the thump threshold of reps outside a set from 2.5 to 3.2 body weights ?" in text(response)
    assert stored(app) is None                                       # not before the confirmation
    caplog.set_level(logging.INFO, logger="forceplate.webui.settings")
    response = thump(client, "3.2", confirm="yes")
    assert response.status_code == 303
    value = stored(app)
    assert value["value"] == 3.2 and value["was"] == 2.5 and value["set_by"] == "clinic"
    assert any("changed from 2.5 to 3.2 body weights by clinic" in r.getMessage() for r in caplog.records)
    assert "3.2 body weights is saved and applies from the next start" in text(client.get("/settings"))
    restarted = create_app({"TESTING": True}, source=SimulatedSource("standing", clock=FakeClock()),
                           instance_path=tmp_path / "instance")
    assert restarted.extensions["forceplate"].thump_bw == 3.2


@pytest.mark.parametrize("saved", [{"value": 0.0}, {"value": "lots"}, {"value": 99}, "3.0", {"no value": 1}])
def test_a_saved_thump_threshold_that_is_not_usable_leaves_the_configured_one(tmp_path, saved):
    (tmp_path / "instance").mkdir(mode=0o700)
    with Store(tmp_path / "instance" / "forceplate.db") as store:
        store.set_setting(THUMP_SETTING, saved)
    started = create_app({"TESTING": True, "THUMP_BW": 2.7}, source=SimulatedSource("standing", clock=FakeClock()),
                         instance_path=tmp_path / "instance")
    assert started.extensions["forceplate"].thump_bw == 2.7


@pytest.mark.parametrize("value, says", [("", "Please enter the thump threshold"),
                                         ("lots", "must be a number"), ("1.0", "between 1.3 and 8"),
                                         ("12", "between 1.3 and 8"), ("nan", "must be")])
def test_a_thump_threshold_out_of_range_is_refused_and_nothing_saved(app, client, value, says):
    response = thump(client, value, confirm="yes")
    assert response.status_code == 400 and says in text(response)
    assert stored(app) is None


def test_the_thump_form_needs_the_csrf_token(app, client):
    assert client.post("/settings/thump", data={"thump_bw": "3", "confirm": "yes"}).status_code == 400
    assert stored(app) is None


def test_the_page_says_per_person_targets_exist_and_links_to_people(client):
    page = client.get("/settings").get_data(as_text=True)
    assert 'href="/people"' in page and "target peak of their plan" in page


# -- the tare and the calibration ------------------------------------------------------------------------------

@pytest.fixture
def mock_plate():
    source = MockSource(channels=4, rate_hz=80.0)
    plate = LivePlate(source).start()
    yield plate
    plate.stop()
    source.close()


def calibration_of(source, **more):
    return Calibration(offset_counts=tuple(source.offset_counts), scale_n_per_count=tuple(source.scale_n_per_count),
                       calibrated_at="2026-11-20T10:00:00+00:00", mass_kg=20.0, residual_n={"middle": 1.5},
                       tared_at="2026-11-20T10:00:00+00:00", source="hx711", **more)


def tare_with(client, app, plate, *, load_n=0.0):
    """Press "Tare now" while the plate reads 1.2 s of an empty (or loaded) plate; the response."""
    link = app.extensions["forceplate.tare"] = PanelLink(plate, app.extensions["forceplate.sets"],
                                                         app.config["DATABASE"], tare_s=1.0)
    listening, add_listener = threading.Event(), plate.add_listener

    def add_and_tell(callback):
        add_listener(callback)
        listening.set()

    plate.add_listener = add_and_tell
    result, csrf = {}, token(client)
    worker = threading.Thread(target=lambda: result.setdefault(
        "response", client.post("/settings/tare", data={"csrf_token": csrf})))
    worker.start()
    assert listening.wait(10.0)
    source = plate.source
    n = int(1.2 * source.rate_hz)
    cells_n = np.tile(np.array([1.0, -2.0, 0.5, 3.0]) + load_n / 4, (n, 1))
    source.push(np.rint(cells_n / source.scale_n_per_count + source.offset_counts).astype(np.int64))
    source.advance(1.3)
    worker.join(15.0)
    return result["response"], link


def test_tare_now_zeroes_the_plate_saves_the_tare_and_says_so(tmp_path, mock_plate):
    app = make_app(tmp_path, plate=mock_plate)
    with Store(app.config["DATABASE"]) as store:
        save_calibration(store, calibration_of(mock_plate.source))
    client = signed_in(app)
    offsets_before = np.array(mock_plate.source.offset_counts, dtype=float)
    response, link = tare_with(client, app, mock_plate)
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings#plate")
    assert link.last_tare.startswith("done: +2.5 N")
    assert not np.allclose(mock_plate.source.offset_counts, offsets_before)
    with Store(app.config["DATABASE"]) as store:
        saved = load_calibration(store)
    np.testing.assert_allclose(saved.offset_counts, mock_plate.source.offset_counts)
    assert saved.tared_at > "2026-11-20T10:00:00+00:00"
    assert "Tared: +2.5 N of drift taken out." in text(client.get("/settings"))


def test_tare_now_with_someone_on_the_plate_is_refused_and_says_why(tmp_path, mock_plate):
    app = make_app(tmp_path, plate=mock_plate)
    client = signed_in(app)
    offsets_before = np.array(mock_plate.source.offset_counts, dtype=float)
    response, _ = tare_with(client, app, mock_plate, load_n=650.0)
    assert response.status_code == 303
    np.testing.assert_array_equal(mock_plate.source.offset_counts, offsets_before)
    assert "Not tared: the plate reads" in text(client.get("/settings"))


def test_a_second_tare_at_once_is_refused_and_the_form_needs_the_token(app, client):
    lock = app.extensions["forceplate.tare_lock"]
    with lock:
        assert client.post("/settings/tare", data={"csrf_token": token(client)}).status_code == 303
    assert "A tare is already running" in text(client.get("/settings"))
    assert client.post("/settings/tare", data={}).status_code == 400
    assert "forceplate.tare" not in app.extensions                   # nothing tared without the token


def test_the_calibration_status_says_when_how_and_not_calibrated_plainly(tmp_path):
    source = MockSource(channels=4, rate_hz=80.0)
    source.is_simulated = False                                      # as the HX711 plate
    try:
        app = make_app(tmp_path, source=source)
        client = signed_in(app)
        page = text(client.get("/settings"))
        assert "Not calibrated." in page and "run forceplate calibrate on the Pi" in page
        assert "never been calibrated" in page                       # the reminder
        when = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)).isoformat(timespec="seconds")
        with Store(app.config["DATABASE"]) as store:
            save_calibration(store, dataclasses.replace(
                calibration_of(source, warnings=("the back-left placement was 9 N off",)),
                calibrated_at=when, tared_at=when))
        page = text(client.get("/settings"))
        assert "Not calibrated" not in page and "(3 days ago)" in page
        assert "the guided procedure ( forceplate calibrate ) with a known mass of 20 kg" in page
        assert "Largest error of a placement 1.5 N" in page and "the back-left placement was 9 N off" in page
    finally:
        source.close()

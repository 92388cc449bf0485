"""The live page's set API through Flask's test client: today's plan with the set state, who is chosen in every
stream message (so every open page follows), and a start from a page that had not seen another screen's choice
refused rather than recording the wrong person."""
import json

import pytest

from forceplate.device.sim.simulator import SimulatedSource

from test_history_pages import add_person, post_json, token  # noqa: F401  (the People form, as a physio)
from test_webui import running_app, signed_in


@pytest.fixture
def app(tmp_path):
    with running_app(tmp_path, SimulatedSource("heel-drops", speed=10.0, seed=5, body_mass_kg=66.0)) as app:
        yield app


@pytest.fixture
def client(app):
    return signed_in(app)


def test_the_set_state_carries_the_chosen_persons_plan_for_today(client):
    ann = add_person(client, name="Ann Example")
    assert client.get("/api/set").get_json()["plan"] is None              # nobody chosen yet
    post_json(client, "/live/set/select", person_id=str(ann), exercise="heel-drop")
    plan = client.get("/api/set").get_json()["plan"]
    assert plan["person_id"] == ann and plan["person"] == "Ann Example" and plan["level"] == "beginner"
    heel = plan["exercises"][0]
    assert (heel["exercise"], heel["label"], heel["sets_planned"], heel["sets_done"], heel["reps_per_set"]) == \
        ("heel-drop", "Heel drops", 2, 0, 10)
    assert plan["next"] == {"exercise": "heel-drop", "set_number": 1}
    assert plan["impacts_left_today"] == plan["daily_impact_cap"] == 100 and plan["rest_s"] > 0


def test_a_start_from_a_page_that_missed_another_screens_choice_is_refused(client, app):
    ann = add_person(client, name="Ann Example")
    ben = add_person(client, name="Ben Example")
    post_json(client, "/live/set/select", person_id=str(ben))          # the phone showed Ben...
    post_json(client, "/live/set/select", person_id=str(ann))          # ...then the desktop chose Ann
    stale = post_json(client, "/live/set/start", person_id=str(ben), seen_selected=str(ben))
    assert stale.status_code == 409
    assert "another screen has chosen Ann Example" in stale.get_json()["error"]
    assert app.extensions["forceplate.sets"].current() is None
    # a page that saw the choice starts the chosen person; one that chose Ben itself may start Ben
    assert post_json(client, "/live/set/start", person_id=str(ann), seen_selected=str(ann)).status_code == 200
    post_json(client, "/live/set/stop")
    post_json(client, "/live/set/select", person_id=str(ben))
    assert post_json(client, "/live/set/start", person_id=str(ben), seen_selected=str(ben)).status_code == 200


def test_every_stream_message_says_who_is_chosen(client, app):
    ann = add_person(client, name="Ann Example")
    post_json(client, "/live/set/select", person_id=str(ann), exercise="sit-to-stand")
    with client.get("/live/stream") as response:
        chunk = next(response.response)
        assert chunk.startswith(b"retry:") or b"event: hello" in chunk
        data = json.loads([line for line in chunk.decode().splitlines() if line.startswith("data: ")][0][6:])
    assert data["set"]["selected"] == {"person_id": ann, "exercise": "sit-to-stand"}

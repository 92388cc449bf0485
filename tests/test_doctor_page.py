"""The Settings page's plate self-check: the last report shown, the button that runs the checks (signed in,
CSRF-checked), through Flask's test client and the real login."""
import html
import json
import re

from forceplate.device import doctor
from forceplate.device.sim.mock import FakeClock
from forceplate.device.sim.simulator import SimulatedSource

from test_webui import make_app, signed_in


def text(response):
    page = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return html.unescape(re.sub(r"\s+", " ", page))


def token(client):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/settings").get_data(as_text=True)).group(1)


def app_at(tmp_path):
    return make_app(tmp_path, source=SimulatedSource("standing", clock=FakeClock()))


def test_the_last_report_is_shown_with_what_to_do(tmp_path):
    app = app_at(tmp_path)
    client = signed_in(app)
    assert "The plate has not checked itself yet" in text(client.get("/settings"))
    checks = [doctor.Check("front-left noise", "warn", "300 counts RMS = 1.40 N over 10 s", "check grounding"),
              doctor.Check("free disk", "ok", "9,000 MB free", "never shown when ok")]
    doctor.save_report(tmp_path / "instance", doctor.report_json(checks, source="hx711", started="x"))
    page = text(client.get("/settings"))
    assert "Last check" in page and "on hx711: WARN" in page
    assert "front-left noise WARN 300 counts RMS = 1.40 N over 10 s check grounding" in page
    assert "free disk OK 9,000 MB free" in page and "never shown when ok" not in page


def test_the_button_runs_the_checks_and_keeps_the_report(tmp_path):
    app = app_at(tmp_path)
    client = signed_in(app)
    response = client.post("/settings/doctor", data={"csrf_token": token(client)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings#doctor")
    report = json.loads((tmp_path / "instance" / doctor.REPORT_NAME).read_text())
    names = [c["name"] for c in report["checks"]]
    assert names[0] == "hardware" and report["checks"][0]["status"] == "skip"     # the simulated plate
    assert {"calibration", "free disk", "clock"} <= set(names)
    page = text(client.get("/settings"))
    assert "no hardware: sim:standing is the simulated plate" in page


def test_the_button_needs_sign_in_and_a_csrf_token(tmp_path):
    app = app_at(tmp_path)
    anonymous = app.test_client()
    response = anonymous.post("/settings/doctor", data={})
    assert response.status_code == 401 or "/login" in response.headers.get("Location", "")
    client = signed_in(app)
    assert client.post("/settings/doctor", data={"csrf_token": "forged"}).status_code == 400
    assert client.post("/settings/doctor", data={}).status_code == 400
    assert not (tmp_path / "instance" / doctor.REPORT_NAME).exists()


def test_the_button_on_emulated_chips_checks_the_sampler(tmp_path):
    from forceplate.device import _gpio
    from forceplate.device.hx711 import HX711Source
    from forceplate.device.sim.emulator import ball_plate_words
    words, truth = ball_plate_words(5.0)
    source = HX711Source(lines=_gpio.EmulatedLines(words, virtual=False), realtime_priority=0,
                         offset_counts=truth["offset_counts"], scale_n_per_count=truth["scale_n_per_count"])
    source.name = "hx711:emulated"
    try:
        app = make_app(tmp_path, source=source)
        client = signed_in(app)
        assert client.post("/settings/doctor", data={"csrf_token": token(client)}).status_code == 303
    finally:
        source.close()
    checks = {c["name"]: c for c in json.loads((tmp_path / "instance" / doctor.REPORT_NAME).read_text())["checks"]}
    assert checks["hardware"]["status"] == "ok"
    # asked for normal priority (rt 0): the check says so and what to do
    assert checks["sampler priority"]["status"] == "warn" and "normal priority" in checks["sampler priority"]["value"]
    assert checks["empty plate, noise and the ball drops"]["status"] == "skip"

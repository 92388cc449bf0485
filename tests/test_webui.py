"""The web UI through Flask's test client: the live page, its security, the status API and the stream.

Every client here signs in through the login form first (tests/test_auth.py covers signing in itself).
"""
import functools
import json
import math
import os
import re
import stat
import tempfile
from contextlib import contextmanager

import numpy as np
import pytest

from forceplate.device import sampling
from forceplate.device.sim.mock import FakeClock, MockSource
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.exc import ConfigError
from forceplate.live.plate import Cursor, LivePlate, Update
from forceplate.webui import close_app, create_app, stop_streams
from forceplate.webui.auth import AUTH_FILE, set_password
from forceplate.webui.stream import decimate_min_max, update_message

from helpers import parse_sse

SIMULATED_BANNER = "SIMULATED PLATE: not real measurements"
PASSWORD = "clinic password 1"


class HardwarePlate(MockSource):
    """What the page sees of a real plate: a source that is not simulated (the hardware edge, mocked)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.is_simulated = False


@functools.cache
def password_record() -> str:
    """auth.json for PASSWORD, hashed once for the module (scrypt is slow on purpose)."""
    with tempfile.TemporaryDirectory() as folder:
        return set_password(folder, PASSWORD).read_text()


def make_app(tmp_path, source=None, plate=None, **config):
    """An app whose clinic password is PASSWORD."""
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700, exist_ok=True)
    auth_file = instance / AUTH_FILE
    auth_file.write_text(password_record())
    auth_file.chmod(0o600)
    test_config = {"TESTING": True, "STREAM_INTERVAL_S": 0.0, **config}
    return create_app(test_config, source=source, plate=plate, instance_path=instance)


def signed_in(app):
    """A test client signed in through the login form (its CSRF token, then the password)."""
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    response = client.post("/login", data={"csrf_token": token, "password": PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def standing_app(tmp_path):
    """An app on a simulated person standing still, on a fake clock: nothing runs by itself."""
    return make_app(tmp_path, source=SimulatedSource("standing", clock=FakeClock()))


@contextmanager
def running_app(tmp_path, source):
    """An app whose plate runs ``source`` in real time; the app closed and the plate stopped after."""
    app = make_app(tmp_path, source=source)
    plate = app.extensions["forceplate"]
    with source:
        plate.start()
        try:
            yield app
        finally:
            close_app(app)
            plate.stop()


@pytest.fixture
def sim_app(tmp_path):
    return standing_app(tmp_path)


@pytest.fixture
def client(sim_app):
    return signed_in(sim_app)


# -- the page ------------------------------------------------------------------------------------------------

def test_live_page_uses_only_local_assets(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not re.search(r"(https?:)?//", re.sub(r"<!--.*?-->", "", html)), "a URL to another host"
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(u.endswith("uPlot.iife.min.js") for u in urls)
    for url in urls:
        assert url.startswith("/") or url == "data:,", url
        if url.startswith("/"):
            with client.get(url) as asset:
                assert asset.status_code == 200, url


def test_live_page_has_no_inline_script_style_or_handlers(client):
    html = client.get("/").get_data(as_text=True)
    assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", html)), "an inline script"
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"


def test_vendored_uplot_carries_its_licence(client):
    with client.get("/static/vendor/uPlot.LICENSE") as response:
        licence = response.get_data(as_text=True)
    assert "MIT" in licence and "Leon Sorokin" in licence


@pytest.mark.parametrize("path", ["/", "/api/live/status", "/static/live.js", "/no-such-page"])
def test_security_headers_on_every_response(client, path):
    with client.get(path) as response:
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"


def test_dynamic_responses_are_never_cached(client):
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert client.get("/api/live/status").headers["Cache-Control"] == "no-store"


def source_banner(html):
    """(classes, text) of the banner about the source, or None."""
    found = re.search(r'<div id="source-banner" class="([^"]+)"[^>]*>(.*?)</div>', html, re.S)
    return None if found is None else (found.group(1).split(), " ".join(re.sub(r"<[^>]+>", "", found.group(2)).split()))


def test_simulated_plate_shows_the_simulated_banner(client):
    classes, text = source_banner(client.get("/").get_data(as_text=True))
    assert text == SIMULATED_BANNER
    assert "banner-simulated" in classes and "banner-fallback" not in classes


def test_a_fallback_nobody_asked_for_shows_a_red_banner_with_the_warning(tmp_path):
    source = SimulatedSource("standing", clock=FakeClock())
    source.warning = "No load-cell hardware answered. Showing the SIMULATED plate."
    classes, text = source_banner(signed_in(make_app(tmp_path, source=source)).get("/").get_data(as_text=True))
    assert "banner-fallback" in classes                        # red
    assert SIMULATED_BANNER in text
    assert "No load-cell hardware answered." in text


def test_a_real_plate_shows_no_simulated_banner(tmp_path):
    html = signed_in(make_app(tmp_path, source=HardwarePlate())).get("/").get_data(as_text=True)
    assert source_banner(html) is None
    assert SIMULATED_BANNER not in html


def test_footer_names_the_source_and_the_kernel(client, sim_app):
    html = client.get("/").get_data(as_text=True)
    footer = re.search(r"<footer.*?</footer>", html, re.S).group(0)
    assert sim_app.extensions["forceplate"].source.describe() in footer
    assert sampling.KERNEL in footer


def test_page_asks_to_stand_still_until_weighed(client):
    assert "Stand still to be weighed" in client.get("/").get_data(as_text=True)


# -- the API and errors ----------------------------------------------------------------------------------------

def test_status_json_describes_the_plate(client, sim_app):
    response = client.get("/api/live/status")
    assert response.status_code == 200 and response.is_json
    status = response.get_json()
    assert status["source"] == sim_app.extensions["forceplate"].source.describe()
    assert status["kernel"] == sampling.KERNEL
    assert status["is_simulated"] is True
    assert status["warning"] is None
    assert status["body_weight_n"] is None
    assert status["running"] is False
    assert status["stats"]["sets"] == 0


@pytest.mark.parametrize("method, path, code", [("get", "/no-such-page", 404),
                                                ("post", "/api/live/status", 405),
                                                ("delete", "/", 405)])
def test_bad_requests_get_json_errors(client, method, path, code):
    response = getattr(client, method)(path)
    assert response.status_code == code
    assert response.is_json
    assert response.get_json()["status"] == code


def test_debug_mode_is_never_on(tmp_path):
    app = make_app(tmp_path, source=HardwarePlate(), DEBUG=True)
    assert app.debug is False


@pytest.fixture
def config_toml(tmp_path, monkeypatch):
    """The TOML config file the app reads; no FORCEPLATE_* variable is set."""
    for name in [n for n in os.environ if n.startswith("FORCEPLATE_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "config.toml"
    path.write_text("")
    monkeypatch.setenv("FORCEPLATE_CONFIG", str(path))
    return path


def test_environment_configures_the_app(tmp_path, monkeypatch, config_toml):
    monkeypatch.setenv("FORCEPLATE_THUMP_BW", "3.0")
    app = create_app(source=HardwarePlate(), instance_path=tmp_path)
    assert app.config["THUMP_BW"] == 3.0
    assert app.extensions["forceplate"].thump_bw == 3.0


def test_the_config_file_configures_the_app_below_the_environment(tmp_path, monkeypatch, config_toml):
    config_toml.write_text("thump_bw = 3.0\nmin_peak_bw = 1.5\nmax_streams = 3\nsession_lifetime_s = 600\n")
    monkeypatch.setenv("FORCEPLATE_MIN_PEAK_BW", "1.4")
    app = create_app(source=HardwarePlate(), instance_path=tmp_path)
    plate = app.extensions["forceplate"]
    assert (plate.thump_bw, plate.min_peak_bw) == (3.0, 1.4)
    assert app.config["MAX_STREAMS"] == 3 and app.config["PERMANENT_SESSION_LIFETIME"] == 600


def test_the_old_config_py_in_the_data_folder_still_configures_the_app_with_a_warning(tmp_path, config_toml):
    (tmp_path / "config.py").write_text("THUMP_BW = 3.5\nDEBUG = True\n")
    with pytest.warns(FutureWarning, match="config.py is deprecated"):
        app = create_app(source=HardwarePlate(), instance_path=tmp_path)
    assert app.extensions["forceplate"].thump_bw == 3.5 and app.debug is False


def test_a_bad_setting_stops_the_app_naming_it(tmp_path, config_toml):
    config_toml.write_text("max_streams = 0\n")
    with pytest.raises(ConfigError, match=r"config.toml: max_streams = 0: must be at least 1"):
        create_app(source=HardwarePlate(), instance_path=tmp_path)


# -- the secret key ----------------------------------------------------------------------------------------

def test_secret_key_is_made_once_in_the_instance_folder_readable_only_by_us(tmp_path):
    first = make_app(tmp_path, source=HardwarePlate())
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(first.config["SECRET_KEY"]) >= 32
    second = make_app(tmp_path, source=HardwarePlate())
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]


def test_a_secret_key_file_others_can_read_is_made_private(tmp_path):
    make_app(tmp_path, source=HardwarePlate())
    key_file = tmp_path / "instance" / "secret_key"
    os.chmod(key_file, 0o644)
    make_app(tmp_path, source=HardwarePlate())
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_a_configured_secret_key_is_used_and_nothing_is_written(tmp_path):
    app = make_app(tmp_path, source=HardwarePlate(), SECRET_KEY="k" * 40)
    assert app.config["SECRET_KEY"] == "k" * 40
    assert not (tmp_path / "instance" / "secret_key").exists()


# -- the stream ----------------------------------------------------------------------------------------------

@pytest.fixture
def mock_plate():
    with MockSource(channels=4, rate_hz=80.0) as source, LivePlate(source) as plate:
        yield source, plate


def test_stream_starts_with_the_recent_trace_then_sends_what_is_new(tmp_path, mock_plate):
    source, plate = mock_plate
    app = make_app(tmp_path, plate=plate, STREAM_HEARTBEAT_S=30.0)
    source.push_force(np.full(8, 700.0))
    source.advance(8 / 80.0)
    plate.wait_for_update(plate.cursor(), timeout_s=5.0)
    response = signed_in(app).get("/live/stream", buffered=False)
    assert response.mimetype == "text/event-stream"
    chunks = iter(response.response)
    hello = parse_sse(next(chunks))
    assert hello["event"] == "hello" and int(hello["retry"]) > 0
    assert hello["data"]["t"] == pytest.approx(np.arange(1, 9) / 80.0)
    assert hello["data"]["f"] == pytest.approx([700.0] * 8, abs=0.1)
    assert hello["data"]["plate"]["source"] == source.describe()

    source.push_force(np.full(4, 1400.0))
    source.advance(4 / 80.0)
    message = parse_sse(next(chunks))
    assert message["data"]["t"] == pytest.approx(np.arange(9, 13) / 80.0)
    assert message["data"]["f"] == pytest.approx([1400.0] * 4, abs=0.1)

    stop_streams(app)
    assert list(chunks) == []                   # the stream ends when the server stops
    response.close()


def test_stream_sends_heartbeats_when_nothing_happens(tmp_path, mock_plate):
    _, plate = mock_plate
    app = make_app(tmp_path, plate=plate, STREAM_HEARTBEAT_S=0.05)
    response = signed_in(app).get("/live/stream", buffered=False)
    chunks = iter(response.response)
    next(chunks)                                                # hello
    assert parse_sse(next(chunks)) == {"comment": "heartbeat"}
    response.close()


def test_stream_says_bye_at_its_time_limit(tmp_path, mock_plate):
    _, plate = mock_plate
    app = make_app(tmp_path, plate=plate, STREAM_MAX_S=0.0)
    response = signed_in(app).get("/live/stream", buffered=False)
    messages = [parse_sse(chunk) for chunk in response.response]
    assert [m.get("event") for m in messages] == ["hello", "bye"]


def test_too_many_streams_get_a_json_503_until_one_closes(tmp_path, mock_plate):
    _, plate = mock_plate
    app = make_app(tmp_path, plate=plate, MAX_STREAMS=1)
    client = signed_in(app)
    first = client.get("/live/stream", buffered=False)
    next(iter(first.response))
    refused = client.get("/live/stream")
    assert refused.status_code == 503 and refused.is_json
    first.close()                                               # the browser went away
    again = client.get("/live/stream", buffered=False)
    assert again.status_code == 200
    again.close()


def test_invalid_samples_stream_as_null():
    update = Update(cursor=Cursor(), t_s=np.array([0.1, 0.2]), force_n=np.array([700.0, np.nan]), events=[],
                    body_weight_n=None, status="Ready", stats={"rate_hz": float("nan")})
    message = update_message(update, 80.0)
    assert message["f"] == [700.0, None]
    assert message["stats"]["rate_hz"] is None
    json.dumps(message, allow_nan=False)


# -- decimation ------------------------------------------------------------------------------------------------

def test_decimation_keeps_a_one_sample_peak_and_the_point_budget():
    rate_hz = 1000.0
    t_s = np.arange(5000) / rate_hz
    force_n = np.full(5000, 700.0)
    force_n[2345] = 2100.0                                      # a 1 ms spike: 3 BW
    force_n[3001] = 350.0
    t_out, f_out = decimate_min_max(t_s, force_n, rate_hz, max_points_per_s=200.0)
    assert len(t_out) <= 200 * 5
    assert f_out.max() == 2100.0 and t_out[f_out.argmax()] == t_s[2345]
    assert f_out.min() == 350.0
    assert np.all(np.diff(t_out) > 0)


def test_decimation_leaves_hx711_rates_alone():
    t_s, force_n = np.arange(80) / 80.0, np.linspace(0, 700, 80)
    t_out, f_out = decimate_min_max(t_s, force_n, 80.0)
    np.testing.assert_array_equal(t_out, t_s)
    np.testing.assert_array_equal(f_out, force_n)


def test_decimation_keeps_gaps_where_every_sample_was_invalid():
    t_s = np.arange(100) / 1000.0
    force_n = np.full(100, 700.0)
    force_n[:20] = np.nan
    _, f_out = decimate_min_max(t_s, force_n, 1000.0, max_points_per_s=200.0)
    assert math.isnan(f_out[0])
    assert np.isfinite(f_out[-1])


def test_a_server_error_is_json_without_a_traceback(tmp_path, monkeypatch):
    app = make_app(tmp_path, source=HardwarePlate(), TESTING=False)

    def broken_status():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.extensions["forceplate"], "status", broken_status)
    app.logger.disabled = True                  # Flask logs the traceback; the client must not see it
    response = signed_in(app).get("/api/live/status")
    assert response.status_code == 500 and response.is_json
    assert response.get_json() == {"error": "internal server error", "status": 500}
    assert b"secret internals" not in response.data and b"Traceback" not in response.data


def test_stream_messages_carry_the_provisional_impacts(tmp_path, mock_plate):
    source, plate = mock_plate
    app = make_app(tmp_path, plate=plate, STREAM_HEARTBEAT_S=30.0)
    bump = 700.0 * (1 + 2.0 * np.sin(np.pi * np.arange(1, 6) / 6))      # a 3 BW heel drop over 5 words
    source.push_force(np.concatenate([np.full(160, 700.0), bump, np.full(32, 700.0)]))     # 0.4 s past it
    source.advance(197 / 80.0)
    while plate.update(plate.cursor(back_s=100.0)).t_s.size < 197:
        plate.wait_for_update(plate.cursor(), timeout_s=5.0)
    response = signed_in(app).get("/live/stream", buffered=False)
    chunks = iter(response.response)
    hello = parse_sse(next(chunks))["data"]
    assert hello["events"] == []
    (pending,) = hello["pending"]
    assert pending["provisional"] is True and pending["kind"] == "impact" and pending["thump"] is True
    assert pending["t_peak_s"] == pytest.approx(163 / 80.0, abs=0.08)    # HX711 words: a fitted peak
    source.push_force(np.full(160, 700.0))                                # 2 s more: the impact is final
    source.advance(160 / 80.0)
    events, last = [], None
    while not events:
        last = parse_sse(next(chunks))["data"]
        events += last["events"]
    (final,) = events
    assert final["t_peak_s"] == pytest.approx(pending["t_peak_s"], abs=0.05)
    assert last["pending"] == []
    response.close()


def test_update_message_always_has_a_pending_list():
    update = Update(cursor=Cursor(), t_s=np.array([0.1]), force_n=np.array([700.0]), events=[],
                    body_weight_n=700.0, status="Ready", stats={})
    assert update_message(update, 80.0)["pending"] == []


# -- the package's own hygiene --------------------------------------------------------------------------------

def test_no_web_module_imports_a_private_name_of_another():
    # A blueprint reaching into another's underscore helpers ties their insides together; shared helpers
    # are public where they belong (auth.too_many_tries, people.person_or_404).
    import ast
    from pathlib import Path

    import forceplate.webui
    folder = Path(forceplate.webui.__file__).parent
    offenders = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("forceplate")):
                offenders += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert offenders == []

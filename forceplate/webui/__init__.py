"""The web UI: an application factory, so each call (and each test) gets its own configured app.

Config: the web UI's settings from forceplate.config (a ``FORCEPLATE_*`` variable such as
``FORCEPLATE_THUMP_BW=3.0``, else the TOML config file, else the instance folder's deprecated ``config.py``,
else the default), or a test's mapping instead. The LivePlate lives in
``app.extensions["forceplate"]``; nothing is wired at import.

Health data on a clinic LAN: never debug mode, strict security headers (no inline scripts, no framing, no
referrer), JSON errors (an HTML page for a browser's own navigation), every asset served locally, a SECRET_KEY
kept in the instance folder (0600), and a signed-in session for everything but the login and setup pages
(see auth.py).
"""
from __future__ import annotations

import logging
import os
import secrets
import stat
import threading

from flask import Flask, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from .. import config
from ..exc import ConfigError

log = logging.getLogger(__name__)

# The web UI's settings (thump_bw, the stream's pacing, sign-in limits...) are declared in forceplate/config.py;
# the rest is fixed policy for health data on a LAN, not a setting: a clinic cannot loosen it by mistake.
DEFAULTS = {
    **config.defaults().app_config(),
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Strict",
    "MAX_CONTENT_LENGTH": 1024 * 1024,
}

SECRET_KEY_FILE = "secret_key"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",              # no inline scripts, no eval
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def create_app(test_config=None, *, source=None, plate=None, instance_path=None):
    """Build the web app around one LivePlate.

    Parameters
    ----------
    test_config : mapping, optional
        Flask config keys (``THUMP_BW``, ``TESTING``...), used instead of the configured settings.
    source : str or LoadCellSource, optional
        The plate to sample when ``plate`` is not given (see forceplate.device.sources.open_source).
    plate : LivePlate, optional
        An existing plate. The app never starts or stops it: the caller does (run_server does).
    instance_path : path, optional
        The instance folder (secret key, password, deprecated config.py); run_server passes the data directory.
    """
    app = Flask(__name__, instance_path=None if instance_path is None else os.fspath(instance_path),
                instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        legacy_pyfile = os.path.join(app.instance_path, config.LEGACY_PYFILE)
        app.config.update(config.load(legacy_pyfile=legacy_pyfile).app_config())
    else:
        app.config.update(test_config)
    if app.config.get("DEBUG"):
        log.warning("DEBUG was configured; ignoring it: the debugger must never face a clinic network")
    app.config["DEBUG"] = False
    app.debug = False
    _load_secret_key(app)

    app.config.setdefault("DATABASE", os.path.join(app.instance_path, "forceplate.db"))
    os.makedirs(os.path.dirname(os.path.abspath(app.config["DATABASE"])), mode=0o700, exist_ok=True)
    if plate is None:
        from ..device.sources import open_source
        from ..live.plate import LivePlate
        from .settings import stored_thump_bw
        saved_thump_bw = stored_thump_bw(app.config["DATABASE"])     # chosen on the Settings page
        if saved_thump_bw is not None:
            log.info("thump threshold of reps outside a set: %g body weights (saved on the Settings page)",
                     saved_thump_bw)
            app.config["THUMP_BW"] = saved_thump_bw
        plate = LivePlate(open_source(source), thump_bw=float(app.config["THUMP_BW"]),
                          min_peak_bw=float(app.config["MIN_PEAK_BW"]),
                          history_s=float(app.config["HISTORY_S"]))
    app.extensions["forceplate"] = plate
    app.extensions["forceplate.stopping"] = threading.Event()
    from ..live.sets import SetController
    app.extensions["forceplate.sets"] = SetController(plate, app.config["DATABASE"],
                                                      source_spec=getattr(plate.source, "name", None),
                                                      min_free_disk_mb=float(app.config["MIN_FREE_DISK_MB"]))
    app.teardown_appcontext(_close_store)
    from .forms import RecordIdConverter
    app.url_map.converters["id"] = RecordIdConverter      # before the routes that use <id:...>

    app.after_request(_add_security_headers)
    app.register_error_handler(HTTPException, _json_error)

    from . import api, auth, history, live, people, sessions
    auth.init_app(app)
    people.init_app(app)
    app.extensions["forceplate.streams"] = live.StreamCount()
    for module in (live, api, people, history, sessions):
        app.register_blueprint(module.bp)
    from . import doctor, exports, settings
    settings.init_app(app)
    exports.init_app(app)
    doctor.init_app(app)
    return app


def stop_streams(app) -> None:
    """End every live stream promptly (the server is stopping)."""
    app.extensions["forceplate.stopping"].set()
    app.extensions["forceplate"].wake_waiters()


def close_app(app) -> None:
    """The server is stopping: end the recording set cleanly (complete) and the set writer."""
    app.extensions["forceplate.sets"].close()


def get_store():
    """This request's Store (opened on first use, closed when the request ends)."""
    from ..storage.store import Store
    if "store" not in g:
        g.store = Store(current_app.config["DATABASE"], mark_interrupted=False)
    return g.store


def _close_store(_exc=None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def _load_secret_key(app) -> None:
    """Use the configured SECRET_KEY, else the instance folder's, else make one there (mode 0600)."""
    if app.config.get("SECRET_KEY"):
        return
    path = os.path.join(app.instance_path, SECRET_KEY_FILE)
    try:
        key = _read_or_make_secret_key(path)
    except (OSError, UnicodeDecodeError) as exc:     # a folder or key it cannot read, write or make private
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read or make the secret key: {reason}") from None
    if len(key) < 32:
        raise ConfigError(f"{path}: the secret key is missing or too short; delete the file to make a new one")
    app.config["SECRET_KEY"] = key


def _read_or_make_secret_key(path: str) -> str:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o); making it 0600", path, mode)
            os.chmod(path, 0o600)
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    log.info("made a new secret key in %s", path)
    return key


def _add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")   # health data: never cached
    return response


def _json_error(exc: HTTPException):
    if isinstance(exc, InternalServerError):
        body = {"error": "internal server error", "status": 500}
    else:
        body = {"error": exc.description or exc.name, "status": exc.code}
    if _browser_page_wanted():
        response = current_app.make_response(render_template("error.html", error=body))
    else:
        response = jsonify(body)
    response.status_code = exc.code or 500
    for name, value in (exc.get_headers() if exc.code == 405 else []):
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def _browser_page_wanted() -> bool:
    """A browser navigating (it prefers HTML to JSON) outside the API: it gets the error as a page."""
    if request.path.startswith(("/api/", "/live/stream", "/static/")):
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"

"""Signing in: one clinic password, a one-time setup code on first start, sessions, CSRF and a login throttle.

The password lives hashed (werkzeug's scrypt) in the instance folder's ``auth.json`` (0600, replaced
atomically). With no password yet, every page leads to ``/setup``, which wants the 10-digit code ``forceplate
serve`` printed, so nobody else on the LAN can claim the plate first; after ``setup_code_max_failures`` wrong
codes in all it is replaced by a new one, logged the same way. ``forceplate set-password`` sets or
changes it from a terminal. Changing the password ends every session (each carries the password's
``generation``); changing it on the Settings page (:func:`change_password`: the current password, counted and
limited as a sign-in is, then the new one twice) keeps only the browser that changed it signed in. Every
POST/PUT/PATCH/DELETE carries the session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``).
Everything needs a signed-in session except the login and setup pages, static files and ``/healthz``.

Guessing and exhaustion before sign-in: every try (password, setup code, clinician PIN) counts as a failure
*before* it is checked, per address and in all (``login_max_failures_all_per_min``, then everyone waits, longer
each time), and only ``HASH_CHECKS_AT_ONCE`` scrypt hashes run at once; the rest are refused at once.

Room for per-person accounts later: the session holds ``user`` ("clinic" for the shared password).
"""
from __future__ import annotations

import collections
import contextlib
import hmac
import json
import logging
import math
import os
import secrets
import stat
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, jsonify, redirect, render_template, request, session,
                   url_for)
from werkzeug.security import check_password_hash, generate_password_hash

from ..device.sources import MonotonicClock
from ..exc import ConfigError
from ..storage.files import write_file_atomically

log = logging.getLogger(__name__)

AUTH_FILE = "auth.json"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024        # a guard for the hash's work, far beyond any typed password
HASH_METHOD = "scrypt"            # werkzeug's scrypt: n=2**15, r=8, p=1, a 16-character salt
SETUP_CODE_DIGITS = 10            # 10^10 codes: with the limit in all, guessing one takes centuries
# Each scrypt hash takes 32 MiB for its run; the Pi Zero 2 W has 512 MB for everything, and the server has 16
# threads: 16 simultaneous wrong passwords took it from 134 to 625 MB. More than this many at once are refused.
HASH_CHECKS_AT_ONCE = 1
BUSY_MESSAGE = ("Too many tries at once: the plate checks one password or PIN at a time. "
                "Please try again in a moment.")
CLINIC_USER = "clinic"            # the shared login; per-person accounts would put a name here

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC_ENDPOINTS = frozenset({"static", "auth.login", "auth.setup", "auth.healthz", "auth.logout"})
JSON_PATH_PREFIXES = ("/api/", "/live/stream")

bp = Blueprint("auth", __name__)


# ------------------------------------------------------------------------------------------ the password file

def password_problem(password: str, again: str | None = None) -> str | None:
    """What is wrong with a new password, said plainly; None when it will do."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password can have at most {MAX_PASSWORD_LENGTH} characters."
    if not password.strip():
        return "The password cannot be only spaces."
    if again is not None and not hmac.compare_digest(password.encode(), again.encode()):
        return "The two passwords are not the same. Please type them again."
    return None


class PasswordFile:
    """The clinic password's hash in ``auth.json``; re-read when the file changes (``set-password`` may run
    while the server does)."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen = None            # (inode, mtime_ns, size) of the file last read
        self._record = None

    def _load(self) -> dict | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            with self._lock:
                self._seen, self._record = None, None
            return None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if key == self._seen:
                return self._record
            if stat.S_IMODE(st.st_mode) & 0o077:
                log.warning("%s was readable by others (mode %o); making it 0600", self.path,
                            stat.S_IMODE(st.st_mode))
                os.chmod(self.path, 0o600)
            try:
                record = json.loads(self.path.read_text(encoding="utf-8"))
                if not (isinstance(record, dict) and isinstance(record.get("password_hash"), str)
                        and isinstance(record.get("generation"), str)):
                    raise ValueError("no password_hash or generation")
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{self.path}: cannot read the password file ({exc}); "
                                  "run `forceplate set-password` to write a new one") from None
            self._seen, self._record = key, record
            return record

    def is_set(self) -> bool:
        return self._load() is not None

    def generation(self) -> str | None:
        """Changes with every new password; a session from an older one is over."""
        record = self._load()
        return None if record is None else record["generation"]

    def check(self, password: str) -> bool:
        record = self._load()
        if record is None or not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            return False
        return check_password_hash(record["password_hash"], password)

    def set(self, password: str) -> Path:
        """Hash and store a new password (replacing any old one). Raises ValueError saying what is wrong."""
        problem = password_problem(password)
        if problem:
            raise ValueError(problem)
        record = {
            "version": 1,
            "user": CLINIC_USER,
            "password_hash": generate_password_hash(password, method=HASH_METHOD),
            "generation": secrets.token_hex(16),
            "changed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_file_atomically(self.path, json.dumps(record, indent=1) + "\n", mode=0o600)   # 0600 from the start
        return self.path


def set_password(data_dir, password: str) -> Path:
    """Set the clinic password kept in ``data_dir`` (for ``forceplate set-password``); returns the file."""
    return PasswordFile(Path(data_dir) / AUTH_FILE).set(password)


# ------------------------------------------------------------------------------------------------ the throttle

class LoginThrottle:
    """Wrong tries per address and in all, counted *before* each check.

    After ``max_failures`` from one address, that address waits ``lockout_s`` seconds. After
    ``max_failures_all_per_min`` within a minute from all addresses together (None: no such limit), every
    address waits: a minute, then twice as long each time the limit is reached again (up to an hour), until an
    hour passes without a wrong try. So rotating addresses buys nothing.

    A try is counted by :meth:`attempt` before it is checked, so simultaneous tries cannot all slip in before the
    first is counted; :meth:`succeeded` takes the count back for a right one. In memory (a restart forgets it).
    Failures older than ``forget_s`` no longer count against their address.
    """

    MAX_ADDRESSES = 10_000           # a bound on the memory a flood of addresses can take
    WINDOW_ALL_S = 60.0              # the limit in all counts failures within this long
    PAUSE_ALL_MAX_S = 3600.0         # the longest pause for everyone
    FORGET_ALL_S = 3600.0            # this long without a wrong try: the pause for everyone starts small again

    def __init__(self, *, max_failures: int = 5, lockout_s: float = 30.0, forget_s: float = 900.0,
                 max_failures_all_per_min: int | None = None, clock=None):
        self.max_failures = int(max_failures)
        self.lockout_s = float(lockout_s)
        self.forget_s = float(forget_s)
        self.max_failures_all = None if max_failures_all_per_min is None else int(max_failures_all_per_min)
        self.clock = clock or MonotonicClock()
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}   # address -> (count, time of the last failure)
        self._locked_until: dict[str, float] = {}
        self._recent_all: collections.deque[float] = collections.deque()   # failures in all, last minute
        self._all_until = -math.inf      # everyone waits until then
        self._all_pauses = 0             # pauses for everyone since the last quiet hour
        self._last_failure_all = -math.inf

    def _now(self) -> float:
        return self.clock.now_ns() / 1e9

    def wait_s(self, address: str) -> float:
        """Seconds this address must wait before its next try (0: it may try now)."""
        with self._lock:
            return self._wait_s(address, self._now())

    def _wait_s(self, address: str, now: float) -> float:
        left_all = max(0.0, self._all_until - now)
        until = self._locked_until.get(address)
        if until is None:
            return left_all
        left = until - now
        if left <= 0:
            del self._locked_until[address]
            return left_all
        return max(left, left_all)

    def attempt(self, address: str) -> float:
        """Before checking a try: 0 when it may be checked (it now counts as a failure until
        :meth:`succeeded`), else the seconds to wait (the try is refused and not counted)."""
        with self._lock:
            now = self._now()
            wait_s = self._wait_s(address, now)
            if wait_s:
                return wait_s
            self._count(address, now)
            return 0.0

    def failed(self, address: str) -> float:
        """Count a wrong try that was not counted by :meth:`attempt`; the seconds to wait now."""
        with self._lock:
            now = self._now()
            self._count(address, now)
            return self._wait_s(address, now)

    def _count(self, address: str, now: float) -> None:
        count, last = self._failures.get(address, (0, now))
        if now - last > self.forget_s:
            count = 0
        count += 1
        if count >= self.max_failures:
            self._failures.pop(address, None)
            self._locked_until[address] = now + self.lockout_s
        else:
            if len(self._failures) >= self.MAX_ADDRESSES:
                self._forget_old(now)
            self._failures[address] = (count, now)
        if self.max_failures_all is None:
            return
        if now - self._last_failure_all > self.FORGET_ALL_S:
            self._all_pauses = 0
        self._last_failure_all = now
        while self._recent_all and now - self._recent_all[0] > self.WINDOW_ALL_S:
            self._recent_all.popleft()
        self._recent_all.append(now)
        if len(self._recent_all) >= self.max_failures_all:
            pause_s = min(self.WINDOW_ALL_S * 2 ** self._all_pauses, self.PAUSE_ALL_MAX_S)
            self._all_pauses += 1
            self._all_until = now + pause_s
            self._recent_all.clear()
            log.warning("%d wrong tries from all addresses within a minute: every address waits %.0f s",
                        self.max_failures_all, pause_s)

    def succeeded(self, address: str) -> None:
        """A right try: its address starts afresh, and the failure :meth:`attempt` counted in all is taken back."""
        with self._lock:
            self._failures.pop(address, None)
            self._locked_until.pop(address, None)
            if self._recent_all:
                self._recent_all.pop()

    def _forget_old(self, now: float) -> None:
        for address, (_, last) in list(self._failures.items()):
            if now - last > self.forget_s:
                del self._failures[address]
        if len(self._failures) >= self.MAX_ADDRESSES:     # still full: the oldest go
            for address, _ in sorted(self._failures.items(), key=lambda item: item[1][1])[:len(self._failures) // 2]:
                del self._failures[address]
        for address, until in list(self._locked_until.items()):
            if until <= now:
                del self._locked_until[address]


def too_many_tries(wait_s: float) -> str:
    """What a throttled person reads (any LoginThrottle's ``wait_s``: passwords, setup codes, PINs)."""
    seconds = max(1, math.ceil(wait_s))
    return f"Too many tries: wait {seconds} second{'s' if seconds != 1 else ''}, then try again."


# ------------------------------------------------------------------------------------------ the app's auth state

class Auth:
    """Per-app: the password file, the throttle, the setup code (None once a password is set), wall clock."""

    def __init__(self, instance_path, *, max_failures: int, lockout_s: float, max_failures_all_per_min=None,
                 setup_code_max_failures: int = 10, clock=None, wall_clock=time.time):
        self.password_file = PasswordFile(Path(instance_path) / AUTH_FILE)
        self.throttle = LoginThrottle(max_failures=max_failures, lockout_s=lockout_s,
                                      max_failures_all_per_min=max_failures_all_per_min, clock=clock)
        self.wall_clock = wall_clock
        self.setup_lock = threading.Lock()
        self.setup_code = None if self.password_file.is_set() else new_setup_code()
        self.setup_code_max_failures = int(setup_code_max_failures)
        self.setup_code_failures = 0     # wrong tries at the current setup code, from every address
        self._hash_slots = threading.BoundedSemaphore(HASH_CHECKS_AT_ONCE)
        self._ended_lock = threading.Lock()
        self._ended: dict[str, float] = {}    # session id -> when it would have expired (wall clock)

    @contextlib.contextmanager
    def hash_slot(self):
        """Yields True while this request may run one scrypt hash, False when as many run already (refuse it:
        waiting would hold a server thread, and 16 waiting tries are what exhausted the memory)."""
        got = self._hash_slots.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                self._hash_slots.release()

    def setup_code_failed(self) -> None:
        """Count a wrong setup code; after ``setup_code_max_failures`` of them, a new code (logged).

        Call with ``setup_lock`` held. Guesses spread over many codes never add up to one code's chances.
        """
        self.setup_code_failures += 1
        if self.setup_code_failures >= self.setup_code_max_failures:
            self.setup_code = new_setup_code()
            self.setup_code_failures = 0
            log.warning("%d wrong setup codes were tried: the old code no longer works. Open /setup and enter "
                        "the new code %s", self.setup_code_max_failures, self.setup_code)

    def end_session(self, session_id, lifetime_s: float) -> None:
        """Refuse this session's cookie from now on, though its signature is still good (signed out).

        In memory: a restart forgets it, so a copied cookie would work again until its 12 hours are up.
        """
        if not isinstance(session_id, str):
            return
        now = self.wall_clock()
        with self._ended_lock:
            self._ended = {sid: until for sid, until in self._ended.items() if until > now}
            self._ended[session_id] = now + lifetime_s

    def session_ended(self, session_id) -> bool:
        with self._ended_lock:
            return session_id in self._ended

    def pending_setup_code(self) -> str | None:
        """The code /setup wants while no password is set (a new one, logged, if the file went away)."""
        if self.password_file.is_set():
            return None
        with self.setup_lock:
            if self.setup_code is None:
                self.setup_code = new_setup_code()
                log.warning("No password is set: open /setup and enter the code %s", self.setup_code)
            return self.setup_code


def new_setup_code() -> str:
    return f"{secrets.randbelow(10 ** SETUP_CODE_DIGITS):0{SETUP_CODE_DIGITS}d}"


def init_app(app, *, clock=None) -> Auth:
    """Wire sign-in into ``app``: the Auth state, the guard before every request, csrf_token() and the pages."""
    auth = Auth(app.instance_path, max_failures=int(app.config["LOGIN_MAX_FAILURES"]),
                lockout_s=float(app.config["LOGIN_LOCKOUT_S"]),
                max_failures_all_per_min=int(app.config["LOGIN_MAX_FAILURES_ALL_PER_MIN"]),
                setup_code_max_failures=int(app.config["SETUP_CODE_MAX_FAILURES"]), clock=clock)
    app.extensions["forceplate.auth"] = auth
    app.before_request(_guard)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["signed_in_user"] = signed_in_user
    app.register_blueprint(bp)
    return auth


def _auth() -> Auth:
    return current_app.extensions["forceplate.auth"]


def _equal(a, b) -> bool:
    """Constant-time comparison of two strings (any characters)."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# ------------------------------------------------------------------------------------------- sessions and CSRF

def csrf_token() -> str:
    """This session's CSRF token (made on first use); forms put it in a hidden ``csrf_token`` field."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_valid() -> bool:
    sent = request.form.get(CSRF_FIELD) if request.form else None
    sent = sent or request.headers.get(CSRF_HEADER)
    return _equal(sent, session.get("csrf"))


def signed_in_user() -> str | None:
    """Who is signed in (``"clinic"``), or None: no session, an old password's session, or too old a one."""
    user = session.get("user")
    if not user:
        return None
    auth = _auth()
    login_at = session.get("login_at")
    lifetime_s = current_app.permanent_session_lifetime.total_seconds()
    if (not _equal(session.get("gen"), auth.password_file.generation()) or auth.session_ended(session.get("sid"))
            or not isinstance(login_at, (int, float)) or not 0 <= auth.wall_clock() - login_at < lifetime_s):
        session.clear()
        return None
    return user


def _start_session(auth: Auth) -> None:
    session.clear()                                  # a fresh session: nothing from before signing in survives
    session.permanent = True
    session["user"] = CLINIC_USER
    session["gen"] = auth.password_file.generation()
    session["login_at"] = auth.wall_clock()
    session["sid"] = secrets.token_hex(16)
    session["csrf"] = secrets.token_urlsafe(32)


def local_path(target) -> str | None:
    """``target`` when it is a path on this site (so redirecting there is safe), else None."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _wants_json() -> bool:
    return request.path.startswith(JSON_PATH_PREFIXES) or request.method not in ("GET", "HEAD")


def _json_refusal(message: str, status: int):
    response = jsonify({"error": message, "status": status})
    response.status_code = status
    return response


def _guard():
    """Before every request: signed in (or a public page), and a valid CSRF token on anything that changes."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    auth = _auth()
    if not auth.password_file.is_set():
        auth.pending_setup_code()
        if _wants_json():
            return _json_refusal("no password is set yet: open /setup to set one", 401)
        return redirect(url_for("auth.setup"))
    if signed_in_user() is None:
        if _wants_json():
            return _json_refusal("sign in first", 401)
        here = request.path + (f"?{request.query_string.decode('latin-1')}" if request.query_string else "")
        return redirect(url_for("auth.login", next=here))
    if request.method in UNSAFE_METHODS and request.routing_exception is None and not csrf_valid():
        abort(400, description="the form or request had no valid CSRF token: reload the page and try again")
    return None


# ----------------------------------------------------------------------------------------------------- the pages

def _client() -> str:
    return request.remote_addr or "unknown"


def _page(template: str, status: int = 200, *, retry_after_s: float | None = None, **context):
    response = current_app.make_response((render_template(template, **context), status))
    if retry_after_s:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return response


def change_password(current: str, new: str, again: str) -> tuple[int, str | None]:
    """Change the clinic password for the signed-in browser: ``(status, problem)``; problem None when changed.

    The new password must meet :func:`password_problem`; the current one is checked as a sign-in is (one
    hash at a time, every try counted per address and in all before it is checked), so a browser left signed
    in cannot be used to guess it. Afterwards every other session is over (a new ``generation``) and this
    browser gets a fresh session, with a new CSRF token.
    """
    auth = _auth()
    client, user, old_sid = _client(), signed_in_user() or CLINIC_USER, session.get("sid")
    problem = password_problem(new if isinstance(new, str) else "", again if isinstance(again, str) else "")
    if problem:
        return 400, problem
    wait_s = auth.throttle.wait_s(client)
    if wait_s:
        return 429, too_many_tries(wait_s)
    with auth.hash_slot() as free:
        if not free:
            return 503, BUSY_MESSAGE
        wait_s = auth.throttle.attempt(client)       # counted before the check: see LoginThrottle
        if wait_s:
            return 429, too_many_tries(wait_s)
        is_right = auth.password_file.check(current if isinstance(current, str) else "")
        if is_right:
            auth.throttle.succeeded(client)
            if _equal(current, new):
                return 400, "The new password is the same as the current one. Please choose another."
            auth.password_file.set(new)
    if not is_right:
        wait_s = auth.throttle.wait_s(client)
        log.info("wrong current password from %s when changing the password", client)
        if wait_s:
            return 429, "Wrong current password. " + too_many_tries(wait_s)
        return 401, "Wrong current password. Please try again."
    log.warning("the clinic password was changed by %s from %s: every other browser is signed out", user, client)
    auth.end_session(old_sid, current_app.permanent_session_lifetime.total_seconds())
    _start_session(auth)
    return 200, None


@bp.get("/healthz")
def healthz():
    """For monitors: the server answers. No personal data."""
    return jsonify({"ok": True})


@bp.route("/login", methods=["GET", "POST"])
def login():
    auth = _auth()
    if not auth.password_file.is_set():
        return redirect(url_for("auth.setup"), code=303)
    next_path = local_path(request.values.get("next")) or "/"
    if request.method == "GET":
        if signed_in_user() is not None:
            return redirect(next_path)
        return _page("login.html", next_path=next_path)

    client = _client()
    wait_s = auth.throttle.wait_s(client)
    if wait_s:
        return _page("login.html", 429, retry_after_s=wait_s, next_path=next_path, error=too_many_tries(wait_s))
    if not csrf_valid():
        return _page("login.html", 400, next_path=next_path,
                     error="This page had expired. Please type the password again.")
    with auth.hash_slot() as free:
        if not free:
            return _page("login.html", 503, retry_after_s=1, next_path=next_path, error=BUSY_MESSAGE)
        wait_s = auth.throttle.attempt(client)       # counted before the check: see LoginThrottle
        if wait_s:
            return _page("login.html", 429, retry_after_s=wait_s, next_path=next_path,
                         error=too_many_tries(wait_s))
        is_right = auth.password_file.check(request.form.get("password", ""))
    if not is_right:
        wait_s = auth.throttle.wait_s(client)
        log.info("wrong password from %s", client)
        if wait_s:
            return _page("login.html", 429, retry_after_s=wait_s, next_path=next_path,
                         error="Wrong password. " + too_many_tries(wait_s))
        return _page("login.html", 401, next_path=next_path, error="Wrong password. Please try again.")
    auth.throttle.succeeded(client)
    _start_session(auth)
    log.info("signed in from %s", client)
    return redirect(next_path, code=303)


@bp.post("/logout")
def logout():
    if signed_in_user() is not None:
        if not csrf_valid():
            abort(400, description="the sign-out form had no valid CSRF token: reload the page and try again")
        _auth().end_session(session.get("sid"), current_app.permanent_session_lifetime.total_seconds())
        log.info("signed out from %s", _client())
    session.clear()
    return redirect(url_for("auth.login"), code=303)


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    auth = _auth()
    if auth.pending_setup_code() is None:            # a password is set: setup is closed
        return redirect(url_for("auth.login"), code=303)
    if request.method == "GET":
        return _page("setup.html")

    client = _client()
    wait_s = auth.throttle.wait_s(client)
    if wait_s:
        return _page("setup.html", 429, retry_after_s=wait_s, error=too_many_tries(wait_s))
    if not csrf_valid():
        return _page("setup.html", 400, error="This page had expired. Please fill it in again.")
    code = "".join(request.form.get("code", "").split())          # "123 456" is fine too
    password, again = request.form.get("password", ""), request.form.get("password2", "")
    with auth.hash_slot() as free:                   # the right code leads to hashing the new password
        if not free:
            return _page("setup.html", 503, retry_after_s=1, error=BUSY_MESSAGE)
        with auth.setup_lock:
            if auth.setup_code is None or auth.password_file.is_set():
                return redirect(url_for("auth.login"), code=303)
            wait_s = auth.throttle.attempt(client)
            if wait_s:
                return _page("setup.html", 429, retry_after_s=wait_s, error=too_many_tries(wait_s))
            if not _equal(code, auth.setup_code):
                auth.setup_code_failed()
                wait_s = auth.throttle.wait_s(client)
                log.info("wrong setup code from %s", client)
                error = ("Wrong setup code. It is the number shown where forceplate was started (after many wrong "
                         "tries a new one is shown there).")
                if wait_s:
                    return _page("setup.html", 429, retry_after_s=wait_s, error=error + " " + too_many_tries(wait_s))
                return _page("setup.html", 401, error=error)
            auth.throttle.succeeded(client)
            problem = password_problem(password, again)
            if problem:
                return _page("setup.html", 400, error=problem, code=code)
            auth.password_file.set(password)
            auth.setup_code = None
    log.info("the clinic password was set through /setup from %s", client)
    _start_session(auth)
    return redirect(url_for("live.page"), code=303)

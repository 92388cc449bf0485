"""The Settings page: the plate (tare now, its calibration, the self-check of doctor.py), the thump threshold of
reps outside a set, the clinic password, the clinician PIN and a backup of the whole database.

Every form here is a POST carrying the session's CSRF token, checked by the guard every page has (auth.py).
What each form did is said on the page after it (a 303 back to its section) and, for what matters to
security or to the clinic (the password, the threshold, a backup: a bulk read of health data), in the server log.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import os
import shutil
import sqlite3
import tempfile
import threading
import time

from flask import (Blueprint, current_app, flash, get_flashed_messages, redirect, render_template, request,
                   send_file, url_for)
from werkzeug.security import generate_password_hash

from ..calibration.saved import calibration_reminder, load_calibration
from ..programme.rules import LEVELS
from . import forms, get_store
from .auth import HASH_METHOD, change_password, signed_in_user
from .people import PIN_SETTING, TARGET_RANGE_BW, check_pin, pin_is_set

log = logging.getLogger(__name__)

bp = Blueprint("settings", __name__)

THUMP_SETTING = "thump_bw"          # the store's setting: {"value", "was", "set_by", "set_at"}
BACKUP_PREFIX = ".forceplate-backup-"
BACKUP_LEFTOVER_S = 3600.0          # a backup's temporary file older than this was left by a killed server


def init_app(app) -> None:
    app.register_blueprint(bp)
    # The page was people.settings; a template still naming it gets the same URL (built, never matched).
    app.add_url_rule("/settings", endpoint="people.settings", build_only=True)
    app.extensions["forceplate.tare_lock"] = threading.Lock()
    app.extensions["forceplate.backup_lock"] = threading.Lock()      # one copy made at a time


def stored_thump_bw(database) -> float | None:
    """The thump threshold saved on this page (for the plate's next start), or None."""
    from ..storage.store import Store
    if not os.path.isfile(database):           # a first start: nothing saved, and nothing made here
        return None
    store = Store(database, mark_interrupted=False)
    try:
        value = store.setting(THUMP_SETTING)
    finally:
        store.close()
    try:
        saved = float(value["value"]) if isinstance(value, dict) else None
    except (KeyError, TypeError, ValueError):
        saved = math.nan
    if saved is not None and not TARGET_RANGE_BW[0] <= saved <= TARGET_RANGE_BW[1]:     # NaN too
        log.warning("the saved thump threshold %r is not usable: the configured one applies", value)
        return None
    return saved


def _user() -> str:
    return signed_in_user() or "unknown"


def _render(status=200, **context):
    store = get_store()
    plate = current_app.extensions["forceplate"]
    calibration = load_calibration(store)
    rehearsal = load_calibration(store, rehearsal=True) if calibration is None else None
    saved_thump = store.setting(THUMP_SETTING)
    notices = {}
    for section, message in get_flashed_messages(with_categories=True):
        notices.setdefault(section, []).append(message)
    context.setdefault("errors", {})
    context.setdefault("data", {})
    return render_template(
        "settings.html", pin_is_set=pin_is_set(store), notices=notices,
        source=plate.source, calibration=calibration, rehearsal=rehearsal,
        reminder=calibration_reminder(calibration) if not getattr(plate.source, "is_simulated", True) else None,
        thump_now=plate.thump_bw, thump_saved=saved_thump if isinstance(saved_thump, dict) else None,
        thump_range=TARGET_RANGE_BW, min_peak_bw=plate.min_peak_bw, levels=LEVELS,
        **context), status


def _back(section: str):
    return redirect(url_for("settings.page") + "#" + section, code=303)


# -- the page and the clinician PIN --------------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
def page():
    """The page; its POST is the clinician PIN's form."""
    if request.method == "GET":
        return _render()
    store = get_store()
    is_set = pin_is_set(store)
    errors = {}
    form = forms.Form(request.form)
    if is_set:
        problem = check_pin(store, request.form.get("old_pin"))
        if problem:
            errors["old_pin"] = problem
    new = form.read("pin", forms.pin)
    if new is not None and request.form.get("pin2", "").strip() != new:
        form.errors["pin2"] = "The two PINs are not the same. Please type them again."
    errors |= form.errors
    if errors:
        return _render(400, errors=errors)
    store.set_setting(PIN_SETTING, {"hash": generate_password_hash(new, method=HASH_METHOD),
                                    "set_by": _user(), "set_at": dt.datetime.now(dt.timezone.utc).isoformat()})
    current_app.logger.info("the clinician PIN was %s by %s", "changed" if is_set else "set", _user())
    return _render(pin_saved=True)


# -- the plate: tare now ---------------------------------------------------------------------------------------

def _tare_link():
    """The front panel's tare (live/panel_link.py), without a panel: the same checks, the same saved tare."""
    app = current_app
    link = app.extensions.get("forceplate.tare")
    if link is None:
        from ..live.panel_link import PanelLink
        link = app.extensions["forceplate.tare"] = PanelLink(
            app.extensions["forceplate"], app.extensions["forceplate.sets"], app.config["DATABASE"])
    return link


@bp.post("/settings/tare")
def tare():
    """Zero the empty plate from its next few seconds of readings (refused while a set records, with someone
    on the plate, or while another tare runs)."""
    lock = current_app.extensions["forceplate.tare_lock"]
    if not lock.acquire(blocking=False):
        flash("A tare is already running: wait for it to finish.", "plate-problem")
        return _back("plate")
    try:
        link = _tare_link()
        done = link.tare()
        result = link.last_tare or ("done" if done else "refused")
    finally:
        lock.release()
    log.info("tare from the Settings page by %s: %s", _user(), result)
    if done:
        flash(f"Tared: {result.removeprefix('done: ')}.", "plate")
    else:
        flash(f"Not tared: {result.removeprefix('refused: ')}.", "plate-problem")
    return _back("plate")


# -- the thump threshold ---------------------------------------------------------------------------------------

@bp.post("/settings/thump")
def thump():
    """Save the thump threshold of reps outside a set: asks to confirm first (``confirm=yes`` saves)."""
    plate = current_app.extensions["forceplate"]
    form = forms.Form(request.form)
    low = max(TARGET_RANGE_BW[0], plate.min_peak_bw)
    value = form.read("thump_bw", forms.required_number, label="thump threshold", low=low,
                      high=TARGET_RANGE_BW[1], unit="body weights")
    if not form.is_valid:
        return _render(400, errors=form.errors, data=request.form)
    if request.form.get("confirm") != "yes":
        return _render(thump_confirm=value)
    store = get_store()
    before = store.setting(THUMP_SETTING)
    was = before["value"] if isinstance(before, dict) and "value" in before else plate.thump_bw
    store.set_setting(THUMP_SETTING, {"value": value, "was": was, "set_by": _user(),
                                      "set_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    log.warning("the thump threshold of reps outside a set was changed from %g to %g body weights by %s "
                "(from the next start)", was, value, _user())
    flash(f"Saved: {value:g} body weights, used from the next start of forceplate.", "thump")
    return _back("thump")


# -- the clinic password ---------------------------------------------------------------------------------------

@bp.post("/settings/password")
def password():
    status, problem = change_password(request.form.get("current_password", ""),
                                      request.form.get("new_password", ""), request.form.get("new_password2", ""))
    if problem:
        response = current_app.make_response(_render(status, password_error=problem))
        if status in (429, 503):
            wait_s = current_app.extensions["forceplate.auth"].throttle.wait_s(request.remote_addr or "unknown")
            response.headers["Retry-After"] = str(max(1, math.ceil(wait_s))) if status == 429 else "1"
        return response
    flash("The clinic password is changed. Every other browser is signed out and needs the new password.",
          "password")
    return _back("password")


# -- a backup of the whole database ----------------------------------------------------------------------------

def _remove_leftovers(folder: str) -> None:
    now = time.time()
    for name in os.listdir(folder):
        if name.startswith(BACKUP_PREFIX):
            path = os.path.join(folder, name)
            try:
                if now - os.stat(path).st_mtime > BACKUP_LEFTOVER_S:
                    os.unlink(path)
            except OSError:
                pass


def backup_to(database, target) -> None:
    """Copy the database into ``target`` (a new, empty file) with SQLite's online backup, from a read-only
    connection: one consistent snapshot even while a set records. The copy is a single file (no WAL)."""
    source = sqlite3.connect(f"file:{os.path.abspath(database)}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)                 # every page in one step: one read transaction, one snapshot
            copy.execute("PRAGMA journal_mode = DELETE")
        finally:
            copy.close()
    finally:
        source.close()


def _no_room_for_a_copy(database, folder) -> str | None:
    """Why a copy of the database would not fit on the data disk beside what recording needs, or None.

    The copy lives there until it is sent; a set does not start below ``MIN_FREE_DISK_MB`` (live/sets.py), so a
    backup never takes the room a set needs."""
    size = sum(os.path.getsize(p) for p in (database, database + "-wal") if os.path.exists(p))
    floor = float(current_app.config["MIN_FREE_DISK_MB"]) * 1e6
    free = shutil.disk_usage(folder).free
    if free - size < floor:
        return (f"There is not room for a backup on the data disk: the copy needs {size / 1e6:.0f} MB and "
                f"{floor / 1e6:.0f} MB must stay free for recording ({free / 1e6:.0f} MB free). Free some space "
                "first.")
    return None


@bp.post("/settings/backup")
def backup():
    """The whole database as one SQLite file, streamed from a private temporary file beside it (never held in
    memory; the file is unlinked as soon as it is open). Logged: it is a bulk read of health data."""
    database = current_app.config["DATABASE"]
    folder = os.path.dirname(os.path.abspath(database))
    lock = current_app.extensions["forceplate.backup_lock"]
    if not lock.acquire(blocking=False):
        flash("A backup is being made right now: try again in a moment.", "backup-problem")
        return _back("backup")
    try:
        _remove_leftovers(folder)
        problem = _no_room_for_a_copy(database, folder)
        if problem:
            log.warning("a database backup was refused: %s", problem)
            flash(problem, "backup-problem")
            return _back("backup")
        fd, path = tempfile.mkstemp(prefix=BACKUP_PREFIX, suffix=".sqlite3", dir=folder)     # 0600
        os.close(fd)
        try:
            backup_to(database, path)           # into the empty private file: SQLite takes it as a new database
            handle = open(path, "rb")
        except (OSError, sqlite3.Error) as exc:
            log.error("a database backup failed: %s", exc)
            flash(f"The backup could not be made: {exc}. Check the free space on the data disk.", "backup-problem")
            return _back("backup")
        finally:
            try:
                os.unlink(path)                  # open or not, the file goes: the open handle still reads it
            except FileNotFoundError:
                pass
    finally:
        lock.release()
    size = os.fstat(handle.fileno()).st_size
    now = dt.datetime.now().astimezone()
    name = f"forceplate-backup-{now:%Y%m%d-%H%M}.sqlite3"
    log.warning("database backup downloaded by %s from %s: %s, %d bytes (every person and session)",
                _user(), request.remote_addr or "unknown", name, size)
    response = send_file(handle, mimetype="application/vnd.sqlite3", as_attachment=True, download_name=name,
                         conditional=False, max_age=0)
    response.headers["Content-Length"] = str(size)
    response.headers["Cache-Control"] = "no-store"         # health data: never cached
    return response

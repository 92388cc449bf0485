"""The Settings page: the clinician PIN and the plate self-check (doctor.py).

Every form here is a POST carrying the session's CSRF token, checked by the guard every page has (auth.py).
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, render_template, request
from werkzeug.security import generate_password_hash

from . import forms, get_store
from .auth import HASH_METHOD, signed_in_user
from .people import PIN_SETTING, check_pin, pin_is_set

bp = Blueprint("settings", __name__)


def init_app(app) -> None:
    app.register_blueprint(bp)
    # The page was people.settings; a template still naming it gets the same URL (built, never matched).
    app.add_url_rule("/settings", endpoint="people.settings", build_only=True)


def _user() -> str:
    return signed_in_user() or "unknown"


@bp.route("/settings", methods=["GET", "POST"])
def page():
    store = get_store()
    is_set = pin_is_set(store)
    errors, saved = {}, False
    if request.method == "POST":
        form = forms.Form(request.form)
        if is_set:
            problem = check_pin(store, request.form.get("old_pin"))
            if problem:
                errors["old_pin"] = problem
        new = form.read("pin", forms.pin)
        if new is not None and request.form.get("pin2", "").strip() != new:
            form.errors["pin2"] = "The two PINs are not the same. Please type them again."
        errors |= form.errors
        if not errors:
            store.set_setting(PIN_SETTING, {"hash": generate_password_hash(new, method=HASH_METHOD),
                                            "set_by": _user(), "set_at": dt.datetime.now(dt.timezone.utc).isoformat()})
            current_app.logger.info("the clinician PIN was %s by %s", "changed" if is_set else "set", _user())
            is_set, saved = True, True
    status = 400 if errors else 200
    return render_template("settings.html", pin_is_set=is_set, errors=errors, saved=saved), status

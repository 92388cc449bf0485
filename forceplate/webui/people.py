"""People, their plans and the clinician PIN: list, add, edit, fractures, approval, plan targets, settings.

Every change goes into the people audit log as made by the signed-in user. Approving impact training and
changing a plan need the clinician PIN (set once on the settings page, kept hashed with scrypt; wrong PINs
are throttled per address and in all, like the password, and share its limit of hashes at once).
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.security import check_password_hash, generate_password_hash

from ..programme.rules import LEVEL_NAMES, LEVELS, MIN_SESSIONS_PER_WEEK
from ..programme.standing import default_plan, standing_of
from ..signal.exercises import LABELS
from . import forms
from . import get_store
from .auth import BUSY_MESSAGE, HASH_METHOD, LoginThrottle, signed_in_user, too_many_tries

bp = Blueprint("people", __name__)

PIN_SETTING = "clinician_pin"
PIN_MAX_FAILURES = 5
PIN_LOCKOUT_S = 60.0
TARGET_RANGE_BW = (1.3, 8.0)
CAP_RANGE = (1, 500)


def init_app(app) -> None:
    # A 4-digit PIN falls to 10^4 guesses: the limit in all stops guessing from rotating addresses.
    app.extensions["forceplate.pin_throttle"] = LoginThrottle(
        max_failures=PIN_MAX_FAILURES, lockout_s=PIN_LOCKOUT_S,
        max_failures_all_per_min=int(app.config["LOGIN_MAX_FAILURES_ALL_PER_MIN"]))
    app.jinja_env.globals["level_names"] = LEVEL_NAMES
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["time_tag"] = time_tag
    app.jinja_env.filters["plain_words"] = plain_words
    app.jinja_env.filters["exercise_label"] = exercise_label
    app.jinja_env.globals["plate_status"] = plate_status
    app.jinja_env.globals["audit_entry"] = audit_entry


def plain_words(text) -> str:
    """The programme's words as the pages say them: the restricted mode is "waiting for clinician approval"
    (people read "clinician-approved mode" as approved, the opposite of what it means)."""
    text = str(text)
    for said in ("in the clinician-approved mode", "in clinician-approved mode"):
        text = text.replace(said, "while waiting for clinician approval")
    return text.replace("clinician-approved mode", "waiting for clinician approval")


def plate_status() -> dict:
    """What the nav says of the plate on every page, as /api/set would (nav.js keeps it current): who is
    recording which exercise, else "Plate ready" (or the fault). ``{"state", "text", "session"}``."""
    sets = current_app.extensions.get("forceplate.sets")
    if sets is None:
        return {"state": "ready", "text": "Plate ready", "session": None}
    state, current = sets.state, sets.current()
    if current is not None:
        return {"state": "recording", "session": current.get("session"),
                "text": f"Recording: {current.get('person')}, {current.get('exercise_label') or ''}".rstrip(", ")}
    if state == "fault":
        return {"state": "fault", "text": "Plate stopped: see the live page", "session": None}
    return {"state": "ready", "text": "Plate ready", "session": None}


def exercise_label(name) -> str:
    """An exercise's name (``heel-drop``) as people read it (``Heel drops``); the name itself if unknown."""
    return LABELS.get(name, str(name))


def when(iso_time) -> str:
    """A stored time as the clinic's local date and time, e.g. ``Mon 2 Mar 2026, 09:30``."""
    if not iso_time:
        return ""
    t = dt.datetime.fromisoformat(iso_time).astimezone()
    return f"{t:%a} {t.day} {t:%b %Y, %H:%M}"


def day(iso_time) -> str:
    """A stored time (or a date) as the clinic's local date, e.g. ``Mon 2 Mar 2026``."""
    if not iso_time:
        return ""
    if len(str(iso_time)) == 10:
        t = dt.date.fromisoformat(iso_time)
    else:
        t = dt.datetime.fromisoformat(iso_time).astimezone()
    return f"{t:%a} {t.day} {t:%b %Y}"


def clock(iso_time) -> str:
    if not iso_time:
        return ""
    return f"{dt.datetime.fromisoformat(iso_time).astimezone():%H:%M:%S}"


TIME_STYLES = {"datetime": when, "date": day, "time": clock}


def time_tag(iso_time, style: str = "datetime", plus_s: float | None = None) -> Markup:
    """A stored time as ``<time>``: the clinic's local time as text, and the instant in ``datetime`` for the
    browser to write in the reader's own format (nav.js: the same style on every page). ``plus_s``: seconds
    after it (a rep's time into its set)."""
    if not iso_time:
        return Markup("")
    t = dt.datetime.fromisoformat(iso_time) if len(str(iso_time)) > 10 else None
    if t is not None and plus_s is not None:
        t = t + dt.timedelta(seconds=float(plus_s))
    iso = t.isoformat(timespec="milliseconds") if t is not None else str(iso_time)
    shown = TIME_STYLES[style](iso)
    return Markup(f'<time datetime="{escape(iso)}" data-format="{escape(style)}">{escape(shown)}</time>')


# -- the audit log in plain words ------------------------------------------------------------------------------

AUDIT_ACTIONS = {"create": "Added", "update": "Details changed", "body_mass": "Body mass entered",
                 "fracture": "Fracture added", "plan": "Plan changed", "pain": "Answered \u201cDid anything hurt?\u201d"}
YES_NO = {None: "not known", 1: "yes", 0: "no", True: "yes", False: "no"}
AUDIT_FIELDS = {
    "name": ("Name", str),
    "birth_year": ("Year of birth", str),
    "t_score": ("T-score", lambda v: f"{v:g}"),
    "has_vertebral_fracture": ("Vertebral (spine) fracture", lambda v: YES_NO.get(v, str(v))),
    "has_balance_problems": ("Balance problems or falls", lambda v: YES_NO.get(v, str(v))),
    "approved_by": ("Approved by", str),
    "approved_at": ("Approved on", when),
    "mass_kg": ("Body mass", lambda v: f"{v:.1f} kg"),
    "measured_at": ("Weighed on", when),
    "level": ("Level", lambda v: str(v).capitalize()),
    "target_beginner_bw": ("Target peak at beginner", lambda v: f"{v:g} body weights"),
    "target_intermediate_bw": ("Target peak at intermediate", lambda v: f"{v:g} body weights"),
    "target_advanced_bw": ("Target peak at advanced", lambda v: f"{v:g} body weights"),
    "daily_impact_cap": ("Impacts a day, at most", str),
    "occurred_on": ("When", str),
    "site": ("Where", str),
    "is_vertebral": ("Vertebral (spine)", lambda v: YES_NO.get(v, str(v))),
    "session": ("Set", lambda v: f"number {v}"),
    "pain": ("Did anything hurt?", lambda v: YES_NO.get(v, str(v))),
}


def _audit_value(key, value) -> str:
    if value is None:
        return "none" if key in ("approved_by", "approved_at") else "not known"
    label_format = AUDIT_FIELDS.get(key)
    try:
        return label_format[1](value) if label_format else str(value)
    except (TypeError, ValueError):
        return str(value)


def audit_entry(entry: dict) -> dict:
    """One audit-log entry as people read it: ``{"what": "Plan changed", "changes": ["Level: Beginner ->
    Intermediate", ...]}``: labels for field names, yes/no for flags, local times for ISO times."""
    changes = entry.get("changes") or {}
    action = entry.get("action")
    what = AUDIT_ACTIONS.get(action, str(action).replace("_", " ").capitalize())
    if action == "update" and "approved_by" in changes:
        what = "Approved by clinician" if changes["approved_by"][1] else "Clinician approval withdrawn"
    lines = []
    for key, (old, new) in changes.items():
        if action == "body_mass" and key == "measured_at":
            continue
        if action in ("create", "fracture", "body_mass", "pain") and new is None:
            continue
        label = AUDIT_FIELDS.get(key, (key.replace("_", " ").capitalize(),))[0]
        if old is None and action != "update" or (action == "pain" and key == "session"):
            lines.append(f"{label}: {_audit_value(key, new)}")
        else:
            lines.append(f"{label}: {_audit_value(key, old)} \u2192 {_audit_value(key, new)}")
    return {"what": what, "changes": lines}


def person_or_404(store, person_id: int) -> dict:
    """The person's row, or a 404 naming the number (for every page under /people/<id>)."""
    person = store.person(person_id)
    if person is None:
        abort(404, description=f"there is no person number {person_id}")
    return person


def _user() -> str:
    return signed_in_user() or "unknown"


# -- the clinician PIN -----------------------------------------------------------------------------------------

def pin_is_set(store) -> bool:
    return store.setting(PIN_SETTING) is not None


def check_pin(store, raw) -> str | None:
    """None when ``raw`` is the clinician PIN; else the message to show (wrong, throttled, not set)."""
    throttle = current_app.extensions["forceplate.pin_throttle"]
    client = request.remote_addr or "unknown"
    wait_s = throttle.wait_s(client)
    if wait_s:
        return too_many_tries(wait_s)
    record = store.setting(PIN_SETTING)
    if record is None:
        return "No clinician PIN is set yet: set one on the Settings page first."
    value = str(raw or "").strip()
    if not value or len(value) > 8:
        wait_s = throttle.failed(client)
        return "Wrong clinician PIN." + (" " + too_many_tries(wait_s) if wait_s else " Please try again.")
    with current_app.extensions["forceplate.auth"].hash_slot() as free:
        if not free:
            return BUSY_MESSAGE           # says "Too many tries": the call sites answer 429
        wait_s = throttle.attempt(client)           # counted before the check: see LoginThrottle
        if wait_s:
            return too_many_tries(wait_s)
        is_right = check_password_hash(record["hash"], value)
    if not is_right:
        wait_s = throttle.wait_s(client)
        return "Wrong clinician PIN." + (" " + too_many_tries(wait_s) if wait_s else " Please try again.")
    throttle.succeeded(client)
    return None


# -- people --------------------------------------------------------------------------------------------------

@bp.get("/people")
def people_list():
    store = get_store()
    people = store.people()
    today = dt.date.today()
    restricted = {p["id"]: standing_of(store, p["id"], today).is_restricted for p in people}
    return render_template("people.html", people=people, restricted=restricted)


PERSON_FIELDS = ("name", "birth_year", "t_score", "has_vertebral_fracture", "has_balance_problems")


def _read_person_form(data) -> forms.Form:
    this_year = dt.date.today().year
    form = forms.Form(data)
    form.read("name", forms.person_name)
    form.read("birth_year", forms.number, label="birth year", low=1900, high=this_year, integer=True)
    form.read("t_score", forms.number, label="T-score", low=-10, high=10)
    form.read("mass_kg", forms.number, label="body mass", low=20, high=300, unit="kg")
    form.read("has_vertebral_fracture", forms.yes_no_unknown, label="vertebral fracture")
    form.read("has_balance_problems", forms.yes_no_unknown, label="balance problems")
    return form


def _name_taken(store, name, person_id=None) -> bool:
    other = store.person_by_name(name)
    return other is not None and other["id"] != person_id


@bp.route("/people/new", methods=["GET", "POST"])
def person_new():
    if request.method == "GET":
        return render_template("person_form.html", person=None, data={}, errors={})
    store = get_store()
    form = _read_person_form(request.form)
    if form.is_valid and _name_taken(store, form.values["name"]):
        form.errors["name"] = "Someone already has that name. Add a middle initial or a number to tell them apart."
    if not form.is_valid:
        return render_template("person_form.html", person=None, data=request.form, errors=form.errors), 400
    values = form.values
    fields = {k: values[k] for k in PERSON_FIELDS[1:] if values.get(k) is not None}
    person_id = store.add_person(values["name"], changed_by=_user(), **fields)
    if values.get("mass_kg") is not None:
        store.add_body_mass(person_id, values["mass_kg"], changed_by=_user())
    return redirect(url_for("people.person_page", person_id=person_id, added=1), code=303)


@bp.get("/people/<id:person_id>")
def person_page(person_id):
    store = get_store()
    person_or_404(store, person_id)
    return _render_person(store, person_id)


def _render_person(store, person_id, status=200, **context):
    standing = standing_of(store, person_id)
    return render_template(
        "person.html", s=standing, person=standing.person, plan_row=store.plan(person_id, default=default_plan()),
        levels=LEVELS, min_per_week=MIN_SESSIONS_PER_WEEK, fractures=store.fractures(person_id),
        masses=store.body_mass_history(person_id)[::-1], audit=store.audit_log(person_id)[::-1][:30],
        pin_is_set=pin_is_set(store), errors=context.pop("errors", {}), data=context.pop("data", {}),
        added=request.args.get("added"), saved=SAVED_MESSAGES.get(request.args.get("saved", "")), saved_key=request.args.get("saved"),
        **context), status


# What a change's redirect confirms (``?saved=...``), above the section it changed.
SAVED_MESSAGES = {"plan": "The plan was saved.", "approved": "Approved by clinician: the full programme is open.",
                  "withdrawn": "The clinician approval was withdrawn.", "fracture": "The fracture was added.",
                  "details": "The changes were saved."}


@bp.route("/people/<id:person_id>/edit", methods=["GET", "POST"])
def person_edit(person_id):
    store = get_store()
    person = person_or_404(store, person_id)
    current_mass = store.latest_body_mass(person_id)
    if request.method == "GET":
        data = {k: ("" if person[k] is None else person[k]) for k in PERSON_FIELDS}
        for k in ("has_vertebral_fracture", "has_balance_problems"):
            data[k] = {None: "unknown", 1: "yes", 0: "no"}[person[k]]
        data["mass_kg"] = "" if current_mass is None else f"{current_mass:g}"
        return render_template("person_form.html", person=person, data=data, errors={})
    form = _read_person_form(request.form)
    if form.is_valid and _name_taken(store, form.values["name"], person_id):
        form.errors["name"] = "Someone else already has that name."
    if not form.is_valid:
        return render_template("person_form.html", person=person, data=request.form, errors=form.errors), 400
    values = form.values
    store.update_person(person_id, changed_by=_user(), **{k: values.get(k) for k in PERSON_FIELDS})
    mass = values.get("mass_kg")
    if mass is not None and (current_mass is None or abs(mass - current_mass) > 1e-9):
        store.add_body_mass(person_id, mass, changed_by=_user())     # a new entry: the history is kept
    return redirect(url_for("people.person_page", person_id=person_id, saved="details"), code=303)


@bp.post("/people/<id:person_id>/fractures")
def fracture_add(person_id):
    store = get_store()
    person_or_404(store, person_id)
    form = forms.Form(request.form)
    form.read("occurred_on", forms.partial_date, label="fracture date", today=dt.date.today())
    form.read("site", forms.text, label="fracture site", required=True, max_length=60)
    if not form.is_valid:
        return _render_person(store, person_id, 400, errors=form.errors, data=request.form)
    store.add_fracture(person_id, form.values["occurred_on"], changed_by=_user(), site=form.values["site"],
                       is_vertebral=request.form.get("is_vertebral") == "yes")
    return redirect(url_for("people.person_page", person_id=person_id, saved="fracture") + "#fractures", code=303)


@bp.post("/people/<id:person_id>/approval")
def approval(person_id):
    """Approve impact training for a restricted person (or withdraw it): the clinician's name and PIN."""
    store = get_store()
    person_or_404(store, person_id)
    withdraw = request.form.get("action") == "withdraw"
    form = forms.Form(request.form)
    clinician = form.read("clinician", forms.text, label="clinician's name", required=not withdraw, max_length=80)
    problem = check_pin(store, request.form.get("pin"))
    if problem:
        form.errors["pin"] = problem
    if not form.is_valid:
        status = 429 if "Too many tries" in form.errors.get("pin", "") else 400
        return _render_person(store, person_id, status, errors=form.errors, data=request.form)
    if withdraw:
        store.update_person(person_id, changed_by=_user(), approved_by=None, approved_at=None)
    else:
        store.update_person(person_id, changed_by=_user(), approved_by=clinician,
                            approved_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    return redirect(url_for("people.person_page", person_id=person_id, saved="withdrawn" if withdraw else "approved")
                    + "#safety", code=303)


@bp.post("/people/<id:person_id>/plan")
def plan_edit(person_id):
    """Change the level, the target peak of each level and the daily impact cap: clinician PIN needed."""
    store = get_store()
    person_or_404(store, person_id)
    form = forms.Form(request.form)
    level = form.read("level", forms.choice, label="level", options=LEVEL_NAMES)
    targets = {name: form.read(f"target_{name}", forms.required_number, label=f"{name} target peak",
                               low=TARGET_RANGE_BW[0], high=TARGET_RANGE_BW[1], unit="body weights")
               for name in LEVEL_NAMES}
    cap = form.read("daily_impact_cap", forms.required_number, label="impacts a day", low=CAP_RANGE[0],
                    high=CAP_RANGE[1], integer=True)
    problem = check_pin(store, request.form.get("pin"))
    if problem:
        form.errors["plan_pin"] = problem
    if not form.is_valid:
        status = 429 if "Too many tries" in form.errors.get("plan_pin", "") else 400
        return _render_person(store, person_id, status, errors=form.errors, data=request.form, plan_open=True)
    store.set_plan(person_id, changed_by=_user(), default=default_plan(), level=level, targets_bw=targets, daily_impact_cap=cap)
    return redirect(url_for("people.person_page", person_id=person_id, saved="plan") + "#plan", code=303)

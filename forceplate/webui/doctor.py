"""The Settings page's "Plate self-check" section: the last `forceplate doctor` report, and a button that runs
the checks needing nobody at the plate (the plate as it samples now, its sampler, the calibration, free disk,
the clock). The full check, with the empty-plate noise and the ball drops, is `forceplate doctor` on the Pi.

The report is kept as ``doctor-report.json`` in the data folder (written whole: storage/files.py), wherever it
came from. The button is a POST form: signed in and CSRF-checked by the guard every page has.
"""
from __future__ import annotations

import datetime as dt
import os

from flask import Blueprint, current_app, redirect, url_for

from ..device import doctor

bp = Blueprint("doctor", __name__)


def init_app(app) -> None:
    app.jinja_env.globals["doctor_report"] = last_report
    app.register_blueprint(bp)


def data_folder() -> str:
    return os.path.dirname(os.path.abspath(current_app.config["DATABASE"]))


def last_report() -> dict | None:
    return doctor.load_report(data_folder())


@bp.route("/settings/doctor", methods=["POST"])
def run_checks():
    from . import get_store
    plate = current_app.extensions["forceplate"]
    source = plate.source
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    checks = [doctor.check_hardware(source)]
    if checks[0].status == "ok":
        stats_fn = getattr(source, "stats", None)
        if callable(stats_fn):
            checks += doctor.check_sampler(doctor.Frames.empty(source.channels), stats_fn())[:1]
    checks += doctor.system_checks(store=get_store(), data_folder=data_folder(),
                                   min_free_mb=float(current_app.config["MIN_FREE_DISK_MB"]))
    checks.append(doctor.Check("empty plate, noise and the ball drops", "skip", "not run from the browser",
                               "Run `forceplate doctor` on the Pi (with the service stopped) for the full check."))
    doctor.save_report(data_folder(), doctor.report_json(checks, source=source.name, started=started))
    return redirect(url_for("settings.page") + "#doctor", code=303)

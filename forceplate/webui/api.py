"""JSON API for scripts and the live page."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from .stream import json_safe

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/live/status")
def live_status():
    """The plate: source, warning, kernel, sampler state, body weight, counts of sets and flagged words."""
    return jsonify(json_safe(current_app.extensions["forceplate"].status()))

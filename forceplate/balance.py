"""Centre of pressure for a recording whose four force columns are the plate's corners.

The CoP needs the corners' positions, which a CSV alone does not give. They come from the JSON beside the
CSV (``corners_m``: four [x, y] pairs in metres, in the order of the force columns, as forceplate's
exports write it), else from the config file (``plate_corners_m``), else there is no CoP. Per-foot plates
(two columns) have no corners, so no CoP either.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import config
from .exc import ConfigError
from .signal.cop import centre_of_pressure, lean_during_impacts, sway_measures


def corners_for(path, n_columns: int):
    """The corner positions (4, 2) in metres for this recording, and where they came from; (None, reason)."""
    if n_columns != 4:
        return None, f"{n_columns} force column(s): the centre of pressure needs the four corners"
    if path not in (None, "-"):
        sidecar = Path(path).with_suffix(".json")
        if sidecar.is_file():
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{sidecar}: cannot read the recording's metadata: {exc}") from None
            if isinstance(meta, dict) and "corners_m" in meta:
                return _checked(meta["corners_m"], str(sidecar)), f"corner positions from {sidecar.name}"
    configured = config.load_config().get("plate_corners_m")
    if configured is not None:
        return _checked(configured, "config plate_corners_m"), "corner positions from the config file"
    return None, "corner positions unknown (give plate_corners_m in the config file)"


def _checked(value, where: str) -> np.ndarray:
    try:
        corners = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        corners = None
    if corners is None or corners.shape != (4, 2) or not np.all(np.isfinite(corners)):
        raise ConfigError(f"{where}: corners_m must be four [x, y] pairs in metres")
    return corners


def balance_for(trace, analysis, corners_m) -> tuple[dict, dict]:
    """Lean at each impact (by event time) and sway over the weighing second.

    Returns ``(lean_by_t_peak, balance)``: a dict from impact peak time (s) to its lean fields, and the
    top-level ``balance`` object (sway measures and the method).
    """
    cop = centre_of_pressure(trace.force_n, corners_m)
    weight = analysis.body_weight
    quiet = None if weight.start_s is None else (weight.start_s, weight.end_s)
    impacts = [e for e in analysis.impacts]
    leans = lean_during_impacts(cop, trace.t_s, [e.t_peak_s for e in impacts], quiet_window_s=quiet)
    lean_by_t = {}
    for impact, lean in zip(impacts, leans):
        lean_by_t[impact.t_peak_s] = {
            "lean": lean.direction, "is_leaning": lean.is_leaning,
            "lean_cm": None if lean.displacement_m is None else round(lean.displacement_m * 100, 1),
            "lean_method": lean.method}
    balance = {"sway": None, "sway_method": "no quiet second of standing"}
    if quiet is not None:
        sway = sway_measures(cop.x_m, cop.y_m, trace.rate_hz, t_s=trace.t_s, window_s=quiet)
        balance = {"sway": {"path_length_m": round(sway.path_length_m, 4),
                            "mean_velocity_m_s": round(sway.mean_velocity_m_s, 4),
                            "rms_m": round(sway.rms_m, 4), "ellipse_area_m2": round(sway.ellipse_area_m2, 6),
                            "duration_s": round(sway.duration_s, 3)},
                   "sway_method": sway.method}
    return lean_by_t, balance

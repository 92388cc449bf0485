"""`forceplate analyze`: a recorded trace in, the docs/contracts.md section 1 result out.

:func:`analyze_file` reads and checks, then calls the one analysis the live page uses too
(:func:`forceplate.signal.analyze_force`); :func:`format_report` words the result for people.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from . import config
from .exc import ConfigError, TraceFormatError
from .signal.common import STANDARD_GRAVITY_M_S2
from .signal.bodyweight import MAX_BODY_MASS_KG, MIN_BODY_MASS_KG
from .signal.cop import centre_of_pressure, lean_during_impacts, sway_measures
from .signal.events import analyze_force, json_number
from .signal.exercises import EXERCISES, LABELS
from .signal.quality import event_notes, find_clipping, recording_notes
from .storage.traces import STDIN_NAME, read_trace

CONTRACT_VERSION = 1


def check_options(*, body_mass_kg=None, thump_bw=2.5, min_peak_bw=1.3, body_height_m=None,
                  chair_height_m=None) -> None:
    """Raise ConfigError (a ValueError), naming the option, for numbers the analysis cannot use."""
    if (body_height_m is None) != (chair_height_m is None):
        raise ConfigError("--body-height and --chair-height go together: give both (m) for sit-to-stand power")
    if body_height_m is not None:
        if not (_finite(body_height_m) and 0.5 <= body_height_m <= 2.5):
            raise ConfigError(f"--body-height {body_height_m:g} m is outside 0.5-2.5 m")
        if not (_finite(chair_height_m) and 0.2 <= chair_height_m < 0.5 * body_height_m):
            raise ConfigError(f"--chair-height {chair_height_m:g} m must be at least 0.2 m and below half the "
                              f"body height ({0.5 * body_height_m:g} m)")
    if body_mass_kg is not None and not (_finite(body_mass_kg) and MIN_BODY_MASS_KG <= body_mass_kg
                                         <= MAX_BODY_MASS_KG):
        raise ConfigError(f"--body-mass {body_mass_kg:g} kg is outside {MIN_BODY_MASS_KG:g}-"
                          f"{MAX_BODY_MASS_KG:g} kg")
    if not (_finite(thump_bw) and thump_bw > 0):
        raise ConfigError(f"--thump-bw {thump_bw:g} is not a positive number of body weights")
    if not (_finite(min_peak_bw) and min_peak_bw > 1):
        raise ConfigError(f"--min-peak-bw {min_peak_bw:g} must be above 1 body weight (standing still is 1)")


def analyze_file(path, *, rate_hz=None, adc="ideal", body_mass_kg=None, thump_bw=2.5, min_peak_bw=1.3,
                 body_height_m=None, chair_height_m=None, exercise="free") -> dict:
    """Analyse a recorded force trace (CSV, ``-`` for standard input) into the contract's JSON object.

    Parameters are the command's options: `rate_hz` (Hz, wins over ``t_s``), `adc` ("ideal" or "hx711"),
    `body_mass_kg` (kg; fixes body weight at mass x 9.80665 m/s^2), `thump_bw` and `min_peak_bw` (body
    weights). `body_height_m` and `chair_height_m` (m, both or neither: ``--body-height``, ``--chair-height``)
    give each sit-to-stand rise a mean power. `exercise`: what the person was asked to do (see
    :func:`forceplate.signal.analyze_force`).

    Returns
    -------
    dict
        ``contract``, ``sample_rate_hz``, ``duration_s``, ``adc``, ``body_weight_n``, ``body_mass_kg`` and
        ``events`` exactly as docs/contracts.md section 1 says (JSON-safe: no NaN), plus a few extra fields
        (``file``, ``exercise``, ``body_weight_method``, ``thump_bw``, ``min_peak_bw``; on each event
        ``intensity`` and ``caution``), and two optional top-level fields:

        - ``sit_to_stand``: the sit-to-stand visits (sit-down and rise), see
          :func:`forceplate.signal.sit_to_stand.detect_sit_to_stand`. They are not ``events``, and a rise's
          force peak is never an impact.
        - ``summary``: reps, thumps, median peak, Osteogenic Index, intensity bands and cautions, see
          :func:`forceplate.signal.summary.summarize_session`.

    Raises
    ------
    TraceFormatError, ConfigError
        Bad input; both are ValueErrors whose message names the file (and line) or the option.
    """
    check_options(body_mass_kg=body_mass_kg, thump_bw=thump_bw, min_peak_bw=min_peak_bw,
                  body_height_m=body_height_m, chair_height_m=chair_height_m)
    if adc not in ("ideal", "hx711"):
        raise ConfigError(f"--adc {adc!r} is not ideal or hx711")
    if exercise not in EXERCISES:
        raise ConfigError(f"--exercise {exercise!r} is not one of {', '.join(EXERCISES)}")
    trace = read_trace(path, rate_hz=rate_hz)
    body_weight_n = None if body_mass_kg is None else body_mass_kg * STANDARD_GRAVITY_M_S2
    try:
        result = analyze_force(trace.t_s, trace.force_n, trace.rate_hz, adc=adc, body_weight_n=body_weight_n,
                               thump_bw=thump_bw, min_peak_bw=min_peak_bw, body_height_m=body_height_m,
                               chair_height_m=chair_height_m, exercise=exercise)
    except MemoryError:
        # The reader's sample limit leaves room for the analysis; this is for a machine short of memory anyway.
        raise TraceFormatError(f"{trace.name}: too large for this machine: out of memory analysing "
                               f"{trace.n_samples:,} samples") from None
    weight = result.body_weight
    total_n = trace.force_n.sum(axis=1)
    clipped_s = [(float(trace.t_s[a]), float(trace.t_s[b - 1]), level)
                 for a, b, level in find_clipping(total_n, trace.rate_hz)]
    events = result.event_dicts()
    for event in events:
        event["notes"] = event_notes(event, clipped_s=clipped_s)
    corners_m, corners_method = corners_for(path, trace.force_n.shape[1])
    balance = {"sway": None, "sway_method": corners_method, "corners_method": corners_method}
    if corners_m is not None:
        lean_by_t, balance = balance_for(trace, result, corners_m)
        balance["corners_method"] = corners_method
        for event in events:
            if event["kind"] == "impact":
                event.update(_lean_of(lean_by_t, event["t_peak_s"]))
    return {
        "contract": CONTRACT_VERSION,
        "sample_rate_hz": float(f"{result.rate_hz:.6g}"),
        "duration_s": json_number("duration_s", result.duration_s),
        "adc": adc,
        "body_weight_n": json_number("body_weight_n", weight.weight_n),
        "body_mass_kg": None if weight.mass_kg is None else round(weight.mass_kg, 2),
        "events": events,
        "file": trace.name or STDIN_NAME,
        "exercise": exercise,
        "body_weight_method": weight.method,
        "thump_bw": thump_bw,
        "min_peak_bw": min_peak_bw,
        "sit_to_stand": result.sit_to_stand_dicts(),
        "summary": result.summary().as_dict(),
        "offset_corrected_n": json_number("offset_corrected_n", result.offset.offset_n),
        "offset_method": result.offset.method,
        "notes": recording_notes(result, clipped_s=clipped_s),
        "balance": balance,
    }


def _lean_of(lean_by_t: dict, t_peak_s: float) -> dict:
    """The lean of the impact at `t_peak_s` (event times are rounded to 0.1 ms in the JSON)."""
    for t, lean in lean_by_t.items():
        if abs(t - t_peak_s) < 1e-3:
            return lean
    return {}


def format_report(result: dict) -> str:
    """A readable report of :func:`analyze_file`'s result: body weight, then each event with its verdict."""
    lines = [f"{result.get('file', 'recording')}: {result['duration_s']:.2f} s at {result['sample_rate_hz']:g} Hz"
             + (" (HX711 words)" if result["adc"] == "hx711" else "")
             + ("" if result.get("exercise", "free") == "free" else f", a set of {LABELS[result['exercise']].lower()}")]
    method = result.get("body_weight_method", "")
    if result.get("offset_method"):
        lines.append(f"Offset: {result['offset_method']}")
    if result["body_weight_n"] is None:
        lines.append(f"Body weight: unknown ({method}); give --body-mass KG to judge impacts")
    else:
        lines.append(f"Body weight: {result['body_weight_n']:.1f} N ({result['body_mass_kg']:.1f} kg), {method}")
    events = result["events"]
    thump_bw = result.get("thump_bw", 2.5)
    thumps = sum(1 for e in events if e["thump"])
    if not events:
        lines.append("No impacts or jumps.")
    else:
        lines.append(f"{len(events)} event{'s' if len(events) != 1 else ''}, {thumps} thump"
                     f"{'s' if thumps != 1 else ''} (at least {thump_bw:g} BW):")
    for e in events:
        lines.extend(_event_lines(e, thump_bw))
        lines.extend(f"             note: {note}" for note in e.get("notes") or [])
        if e.get("is_leaning"):
            lines.append(f"             lean: {e['lean']} by {e['lean_cm']:.1f} cm at the impact: land centred")
    lines.extend(f"Note: {note}" for note in result.get("notes") or []
                 if not note.startswith(("no body weight", "the plate read")))   # said above already
    sway = (result.get("balance") or {}).get("sway")
    if sway:
        lines.append(f"Sway while weighed: path {sway['path_length_m'] * 100:.1f} cm in {sway['duration_s']:.1f} s, "
                     f"RMS {sway['rms_m'] * 1000:.1f} mm, 95 % ellipse {sway['ellipse_area_m2'] * 1e4:.1f} cm2")
    lines.extend(_sit_to_stand_lines(result.get("sit_to_stand") or []))
    if result.get("summary") is not None:
        lines.extend(_summary_lines(result["summary"]))
    return "\n".join(lines)


def _sit_to_stand_lines(reps: list) -> list[str]:
    if not reps:
        return []
    rises = sum(1 for r in reps if r["rise_s"] is not None)
    out = [f"Sit-to-stand: {rises} rise{'s' if rises != 1 else ''} (sit-down: leaving standing to reaching the "
           f"seat; rise: leaving the seat to settled at standing):"]
    for r in reps:
        parts = []
        if r["lowering_s"] is not None:
            parts.append(f"sit-down {r['lowering_s']:.2f} s")
        if r["rise_s"] is not None:
            parts.append(f"rise {r['rise_s']:.2f} s, peak {r['peak_bw']:.2f} BW at {r['t_peak_s']:.3f} s")
        else:
            parts.append("no rise seen")
        if r["mean_power_w"] is not None:
            parts.append(f"mean power {r['mean_power_w']:.0f} W ({r['mean_power_w_kg']:.1f} W/kg, estimate)")
        when = r["rise_start_s"] if r["rise_start_s"] is not None else r["lowering_start_s"]
        tempo = f": {r['tempo']}" if r["tempo"] else ""
        out.append(f"  {when:8.3f} s  {', '.join(parts)}{tempo}")
    return out


def _summary_lines(summary: dict) -> list[str]:
    if summary["median_peak_bw"] is None:
        if summary["reps"]:
            return [f"Summary: {summary['reps']} reps; {summary['osteogenic_index_method']}"]
        return []
    counts = ", ".join(f"{v} {k}" for k, v in summary["intensity_counts"].items() if v)
    out = [f"Summary: {summary['reps']} reps, {summary['thumps']} thumps, median peak "
           f"{summary['median_peak_bw']:.2f} BW; Osteogenic Index {summary['osteogenic_index']:.2f} "
           f"(median peak x ln(reps + 1))",
           f"  intensity: {counts}"]
    if summary["cautions"]:
        out.append(f"  caution: {summary['cautions']} peak{'s' if summary['cautions'] != 1 else ''} above "
                   f"{summary['caution_bw']:g} BW")
    return out


def _event_lines(e: dict, thump_bw: float) -> list[str]:
    verdict = {True: "THUMP", False: "too soft", None: "no verdict (no body weight)"}[e["thump"]]
    peak = "no landing (recording ends in flight)" if e["peak_n"] is None else f"peak {e['peak_n']:.0f} N"
    if e["peak_bw"] is not None:
        peak += f" = {e['peak_bw']:.2f} BW"
    if e["t_peak_s"] is not None:
        peak += f" at {e['t_peak_s']:.3f} s"
    rate = "" if e["loading_rate_bw_s"] is None else f", loading rate {e['loading_rate_bw_s']:.0f} BW/s"
    if e["kind"] == "jump":
        head = f"  {e['takeoff_s']:8.3f} s  jump: "
        if e["flight_s"] is not None:
            head += f"flight {e['flight_s']:.3f} s, height {100 * e['height_flight_m']:.1f} cm"
        else:
            head += "take-off, then the recording ends in flight"
        if e["height_impulse_m"] is not None:
            head += f" ({100 * e['height_impulse_m']:.1f} cm by impulse)"
        out = [head + f"; landing {peak}{rate}: {verdict}",
               f"             height: {e['height_method']}", f"             impulse: {e['impulse_method']}"]
    else:
        what = "drop onto the plate" if e.get("landing") == "drop onto the plate" else "impact"
        out = [f"  {e['t_peak_s']:8.3f} s  {what}: {peak}{rate}: {verdict}"]
    out.append(f"             peak: {e['peak_method']}; loading rate: {e['loading_rate_method']}")
    return out


def _finite(x) -> bool:
    try:
        return math.isfinite(x)
    except TypeError:
        return False


# --- centre of pressure ---------------------------------------------------------------------------------
# The CoP needs the corners' positions, which a CSV alone does not give. They come from the JSON beside the
# CSV (``corners_m``: four [x, y] pairs in metres, in the order of the force columns, as forceplate's
# exports write it), else from the ``plate_corners_m`` setting (forceplate.config), else there is no CoP.
# Per-foot plates (two columns) have no corners, so no CoP either.
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
    settings = config.load()                # checks plate_corners_m: four [x, y] pairs of finite numbers
    if settings["plate_corners_m"] is not None:
        where = settings.origin("plate_corners_m")
        return (np.asarray(settings["plate_corners_m"], dtype=np.float64),
                f"corner positions from {'the config file' if where.endswith('.toml') else where}")
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

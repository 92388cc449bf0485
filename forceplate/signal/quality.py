"""Say when a number rests on shaky ground: notes for people, beside the numbers.

Users distrust black boxes, and rightly: a 44 ms hop, a landing that saturated the load cells or a recording
with no quiet second give numbers that are true to the samples but weak as measurements. These functions
turn such conditions into short sentences (``notes``) that the report, the JSON and the live page show.
"""
from __future__ import annotations

import numpy as np

from .common import as_force, runs
from .refine import LARGEST_WORD_METHOD

SHORT_FLIGHT_S = 0.1        # below this a "jump" is a hop or a rebound: a few millimetres, few samples


def find_clipping(force_n, rate_hz, *, min_run_s: float = 0.003, min_level_n: float = 200.0):
    """Stretches where the force sits flat at its maximum: a saturated load cell or ADC.

    A real impact's peak is a rounded top; a run of at least `min_run_s` (s, 3 samples at least) of
    identical values at the recording's largest force above `min_level_n` (N) is a clipped one.

    Returns
    -------
    list of (start, end, level_n)
        Sample ranges ``[start, end)`` and the clipped level (N).
    """
    force_n = as_force(force_n)
    finite = force_n[np.isfinite(force_n)]
    if finite.size < 3:
        return []
    top = float(finite.max())
    if top < min_level_n:
        return []
    min_run = max(3, int(round(min_run_s * rate_hz)))
    starts, ends = runs(force_n == top)
    return [(int(a), int(b), top) for a, b in zip(starts, ends) if b - a >= min_run]


def event_notes(event: dict, *, clipped_s=()) -> list[str]:
    """Notes for one contract event dict (see docs/contracts.md section 1 and its extra fields).

    `clipped_s`: (start_s, end_s, level_n) of clipped stretches, from :func:`find_clipping` in seconds.
    """
    notes = []
    if event.get("kind") == "jump":
        flight_s = event.get("flight_s")
        if event.get("landing_s") is None:
            notes.append("the recording ends in flight: no landing, no flight height")
        elif flight_s is not None and flight_s < SHORT_FLIGHT_S:
            notes.append(f"very short flight ({flight_s * 1000:.0f} ms): a hop or a rebound; its height rests on "
                         "a few samples")
    if event.get("thump_borderline"):
        notes.append(f"borderline: the plausible peak ({event['peak_low_bw']:.2f}-{event['peak_high_bw']:.2f} BW) "
                     "straddles the thump line")
    if event.get("peak_method", "").startswith(LARGEST_WORD_METHOD):
        notes.append("the HX711 words could not be fitted: the largest word is shown, the true peak is higher")
    t_peak = event.get("t_peak_s")
    for start_s, end_s, level_n in clipped_s:
        if t_peak is not None and start_s - 0.01 <= t_peak <= end_s + 0.01:
            notes.append(f"the force was clipped at {level_n:.0f} N (a saturated load cell or ADC): "
                         "the true peak is at least this")
    return notes


def recording_notes(analysis, *, clipped_s=()) -> list[str]:
    """Notes for a whole analysis (:class:`~forceplate.signal.events.Analysis`)."""
    notes = []
    if analysis.body_weight_n is None:
        notes.append(f"no body weight: {analysis.body_weight.method}")
    if analysis.invalid_samples:
        notes.append(f"{analysis.invalid_samples} invalid samples (lost or saturated words) were bridged")
    offset = getattr(analysis, "offset", None)
    if offset is not None and offset.method:
        notes.append(offset.method)
    for start_s, end_s, level_n in clipped_s:
        notes.append(f"force clipped at {level_n:.0f} N from {start_s:.3f} to {end_s:.3f} s")
    return notes

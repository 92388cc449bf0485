"""A stored session as files and arrays: the docs/contracts.md section 2 export (CSV and JSON) and its total force.

The store (:mod:`forceplate.storage.store`) only reads and writes the database; this module turns what it
reads into newtons through the session's calibration and writes files (whole or not at all).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..signal.calibration import counts_to_newtons
from .files import write_file_atomically
from .store import Store, StoreError


def export_session(store: Store, session_id: int, out_dir, *, dir_fd: int | None = None) -> tuple[Path, Path]:
    """Write a session's raw trace as a docs/contracts.md section 2 CSV, and its metadata as JSON beside it.

    The CSV has ``t_s`` (seconds since the session's start, on the source's time scale, exactly the times
    the live analysis had) and one ``*_n`` column per load cell: the stored counts through the session's
    calibration. A set with a flagged word has no force to give, so it is left out (the live analysis had
    NaN there); the JSON says how many. Files are written whole or not at all (a temporary file renamed).

    With ``dir_fd`` (an open folder, e.g. on a USB stick) the files are written in that folder, resolving
    nothing by path, and ``out_dir`` only names it in messages and in the returned paths.

    The JSON's ``events`` are the events that stand, each with ``counted`` and ``not_counted_reason`` (a rep
    stored and shown that counts for nothing, e.g. a jump in the clinician-approved mode); ``withdrawn_events`` those the live analysis sent and
    took back (each with ``withdrawn_reason``); ``exercise`` what the person was asked to do, which the
    ``analyze`` command line passes on (``--exercise``, left out for ``free``), so the analysis applies the rules
    the live page applied.

    Returns the paths written (CSV, JSON). Raises UnknownSession, or StoreError for a folder that cannot be
    written (its message names the path and the reason, e.g. a full disk).
    """
    session = store.session(session_id)
    frames = store.raw_frames(session_id)
    calibration = session["calibration"]
    cells_n = counts_to_newtons(frames.raw_counts, frames.flags, calibration["offset_counts"],
                                calibration["scale_n_per_count"])
    t_s = (frames.t_ns - session["clock_origin_ns"]) * (session["speed"] / 1e9)
    valid = np.isfinite(cells_n).all(axis=1)
    increasing = t_s > np.maximum.accumulate(np.concatenate(([-np.inf], t_s[:-1])))
    keep = valid & increasing
    table = np.column_stack([t_s[keep], cells_n[keep]]).tolist()
    header = ",".join(spreadsheet_safe(name) for name in ["t_s", *session["cells"]])
    csv_text = header + "\n" + "".join(",".join(map(repr, row)) + "\n" for row in table)

    out_dir = Path(out_dir)
    csv_path = out_dir / f"session-{session_id}.csv"
    json_path = out_dir / f"session-{session_id}.json"
    meta = {
        "session": session_id, "person": session["person"], "started": session["started_at"],
        "ended": session["ended_at"], "status": session["status"], "source": session["source"],
        "rate_hz": session["rate_hz"], "adc": session["adc"], "cells": session["cells"],
        "speed": session["speed"], "clock_origin_ns": session["clock_origin_ns"],
        "calibration": calibration, "body_weight_n": session["body_weight_n"],
        "thump_bw": session["thump_bw"], "min_peak_bw": session["min_peak_bw"],
        "csv": csv_path.name, "sets": int(frames.n_sets), "sets_exported": int(keep.sum()),
        "sets_left_out_flagged": int((~valid).sum()),
        "analyze": (f"forceplate analyze {csv_path.name} --adc {session['adc']} --thump-bw {session['thump_bw']:g} "
                    f"--min-peak-bw {session['min_peak_bw']:g}"
                    + ("" if session["exercise"] == "free" else f" --exercise {session['exercise']}")),
        "events": store.events(session_id),
        "exercise": session["exercise"],
        "withdrawn_events": store.withdrawn_events(session_id),
    }
    try:
        if dir_fd is None:
            out_dir.mkdir(parents=True, exist_ok=True)
        write_file_atomically(csv_path, csv_text, dir_fd=dir_fd)
        write_file_atomically(json_path, json.dumps(meta, indent=1, allow_nan=False) + "\n", dir_fd=dir_fd)
    except OSError as exc:
        raise StoreError(f"cannot write the export to {out_dir}: {exc.strerror or exc}") from None
    return csv_path, json_path


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A text cell a spreadsheet shows as text: one that starts like a formula gets a leading ``'``.

    Column names come from whatever file was replayed, so ``=HYPERLINK(...)_n`` can reach an export that a
    clinician opens in a spreadsheet, which would run it. The ``'`` keeps the name's ``_n`` ending, so
    ``forceplate analyze`` still reads the column as a force; the contract's names (``t_s``, ``fz1_n``...) and
    the numbers are never changed. Every text cell of every CSV forceplate writes goes through here."""
    cell = str(cell)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def session_force(store: Store, session_id: int) -> tuple[np.ndarray, np.ndarray]:
    """A session's stored trace as total vertical force: ``(t_s, force_n)``, seconds since its start on the
    source's time scale (as the events' times) and newtons (NaN where a cell's word was flagged)."""
    session = store.session(session_id)
    frames = store.raw_frames(session_id)
    calibration = session["calibration"]
    if not frames.n_sets:
        return np.zeros(0), np.zeros(0)
    cells_n = counts_to_newtons(frames.raw_counts, frames.flags, calibration["offset_counts"],
                                calibration["scale_n_per_count"])
    return (frames.t_ns - session["clock_origin_ns"]) * (session["speed"] / 1e9), cells_n.sum(axis=1)

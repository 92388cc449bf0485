"""Guided calibration: tare the empty plate, then a known mass at the centre and at each corner.

The procedure is a plain function over a LoadCellSource and three callbacks, so the terminal (``forceplate
calibrate``), a test or a web page can drive it:

- ``instruct(step)``: tell the person what to do (the step's ``instruction``); a simulated helper or a test
  acts here.
- ``confirm(step)``: wait until they say it is done (Enter), or return at once (``--yes``).
- ``progress(reading)``: live counts while the plate settles (a :class:`Reading`, about 4 a second).

Every reading is judged on the source's own clock (the sets' timestamps), never on wall time, so a plate on a
fake clock runs the whole procedure instantly. Sets stamped before a step's instruction are ignored: they
show the plate before the person acted.

Each step waits for a *still* window: every cell's SD under ``max_sd_counts`` over ``tare_s`` (the empty
plate) or ``window_s`` (the mass), with the mass clearly on the plate and moved since the previous spot.
The tare is refused when the plate does not keep still within ``timeout_s``, naming the cell that moved.
"""
from __future__ import annotations

import datetime as _dt
import re
import time
from dataclasses import dataclass

import numpy as np

from .saved import CELL_NAMES, Calibration, cell_name
from ..exc import ForcePlateError, SensorTimeout
from ..signal.calibration import STANDARD_GRAVITY_M_S2, fit_scales, tare

PLACEMENTS = ("centre", "front-left", "front-right", "back-left", "back-right")
DEFAULT_MASS_KG = 20.0


class CalibrationError(ForcePlateError, ValueError):
    """The calibration cannot go on (the plate moved, a cell gives nothing); the message says what to do."""


@dataclass(frozen=True)
class Step:
    """One step of the procedure: ``kind`` is ``"tare"`` or ``"placement"``; ``spot`` None for the tare."""
    number: int
    kind: str
    spot: str | None
    instruction: str


@dataclass(frozen=True)
class Reading:
    """What the plate shows while a step settles: counts above the tare of each cell (raw counts before it)."""
    step: Step
    counts: np.ndarray           # (ch,) mean of the last ~0.25 s, above the tare once there is one
    sd_counts: np.ndarray        # (ch,) SD over the window being judged
    is_still: bool
    elapsed_s: float             # source seconds since the instruction


@dataclass(frozen=True)
class Outcome:
    """The procedure's result: the calibration to save and plain-language warnings (empty when all is well)."""
    calibration: Calibration
    warnings: tuple[str, ...]


def steps(mass_kg: float, channels: int = 4) -> list[Step]:
    out = [Step(1, "tare", None, "Empty the plate and keep it still (nothing touching it).")]
    for i, spot in enumerate(PLACEMENTS, start=2):
        where = "at the centre" if spot == "centre" else f"at the {spot} corner (about 5 cm in from the edges)"
        out.append(Step(i, "placement", spot, f"Put the {mass_kg:g} kg mass {where}, then let go."))
    return out


def run_calibration(source, mass_kg: float = DEFAULT_MASS_KG, *, instruct, confirm=None, progress=None,
                    tare_s: float = 3.0, window_s: float = 2.0, tare_timeout_s: float = 10.0, timeout_s: float = 30.0,
                    max_sd_counts: float = 200.0, min_load_counts: float = 4000.0,
                    max_residual_frac: float = 0.01, no_data_s: float = 5.0, now=None) -> Outcome:
    """Run the guided calibration on ``source``; nothing is saved (see ``save_calibration``).

    Parameters
    ----------
    source : LoadCellSource
        Opened by the caller.
    mass_kg : float
        The known mass (kg): a dumbbell plate or a bag of known weight, weighed on kitchen scales.
    instruct, confirm, progress : callables
        See the module docstring. ``confirm`` and ``progress`` may be None.
    tare_s, window_s : float
        Seconds of still readings that make the tare, and each placement's mean (source time, s).
    tare_timeout_s, timeout_s : float
        How long the tare, and each placement, may take to become still (source time, s).
    max_sd_counts : float
        Stillness: every cell's SD under this (counts).
    min_load_counts : float
        A placement must move the cells' total this far from the tare, and from the previous spot (counts).
    max_residual_frac : float
        Warn when a placement's fitted total misses the mass's weight by more than this fraction.
    no_data_s : float
        Real seconds without a single set before the plate is declared silent.
    now : callable, optional
        Returns the calibration's UTC datetime (tests).

    Raises
    ------
    CalibrationError
        The plate would not keep still, the mass never showed, or the placements cannot fix the scales.
    SensorTimeout
        The source sent nothing for ``no_data_s``.
    """
    if not mass_kg > 0:
        raise CalibrationError(f"the known mass must be positive, not {mass_kg:g} kg")
    channels = int(source.channels)
    if channels > len(PLACEMENTS):
        raise CalibrationError(f"{len(PLACEMENTS)} placements cannot calibrate {channels} load cells")
    plan = steps(mass_kg, channels)
    sampler = _Sampler(source, no_data_s=no_data_s)

    # (a) the empty plate
    step = plan[0]
    t0 = sampler.begin()
    instruct(step)
    if confirm is not None:
        confirm(step)
    counts = sampler.still_window(step, t0, seconds=tare_s, timeout_s=tare_timeout_s, max_sd_counts=max_sd_counts,
                                  progress=progress, judge=None)
    try:
        empty = tare(counts, max_sd_counts=max_sd_counts)
    except ValueError as exc:
        raise CalibrationError(f"tare refused: {_name_cells(str(exc), channels)}") from None
    offsets = empty.offset_counts

    # (b) the mass at each spot
    placed = []
    for step in plan[1:]:
        t0 = sampler.begin()
        instruct(step)
        if confirm is not None:
            confirm(step)
        previous = placed[-1] if placed else offsets

        def judge(mean, _prev=previous):
            if np.abs(mean - offsets).sum() < min_load_counts:
                return "waiting for the mass"
            if np.abs(mean - _prev).sum() < min_load_counts:
                return "waiting for the mass to move"
            return None

        counts = sampler.still_window(step, t0, seconds=window_s, timeout_s=timeout_s,
                                      max_sd_counts=max_sd_counts, progress=progress, judge=judge,
                                      offsets=offsets)
        placed.append(counts.mean(axis=0))

    # (c) the fit
    try:
        fit = fit_scales(offsets, np.array(placed), mass_kg)
    except ValueError as exc:
        raise CalibrationError(f"the placements cannot be fitted: {exc}") from None
    weight_n = mass_kg * STANDARD_GRAVITY_M_S2
    spots = [s.spot for s in plan[1:]]
    warnings = []
    # A rigid plate hands the whole weight to the cells wherever the mass stands, so the fitted totals agree
    # to a fraction of a percent. With 5 placements and 4 scales there is one check: a cell that slipped or
    # a loose wire at any spot shows up as residuals at every spot, largest at the centre. Say so, plainly.
    worst = int(np.argmax(np.abs(fit.residual_n)))
    if abs(fit.residual_n[worst]) > max_residual_frac * weight_n:
        residual = float(fit.residual_n[worst])
        warnings.append(
            f"The placements do not add up: at the {spots[worst]} spot the cells add up to "
            f"{weight_n + residual:.1f} N, not the mass's {weight_n:.1f} N ({residual / weight_n:+.1%}). A load "
            "cell may have slipped, a foot may rest on something, or a wire is loose: check the feet and the "
            "wiring, then calibrate again.")
    for channel, scale in enumerate(fit.scale_n_per_count):
        if scale < 0:
            warnings.append(f"{cell_name(channel, channels).capitalize()} reads lower under load: its A+ and "
                            "A- wires are swapped. Forces are still right; swap them to tidy up.")
    when = (now() if now is not None else _dt.datetime.now(_dt.timezone.utc)).isoformat(timespec="seconds")
    calibration = Calibration(
        offset_counts=tuple(float(v) for v in offsets), scale_n_per_count=tuple(float(v) for v in fit.scale_n_per_count),
        calibrated_at=when, mass_kg=float(mass_kg),
        residual_n={spot: float(r) for spot, r in zip(spots, fit.residual_n)},
        placement_counts={spot: [float(c) for c in counts] for spot, counts in zip(spots, placed)},
        tared_at=when, tare_sd_counts=tuple(float(v) for v in empty.sd_counts), source=str(source.name),
        warnings=tuple(warnings))
    return Outcome(calibration, tuple(warnings))


class _Sampler:
    """Reads sets for the procedure and finds still windows on the source's clock."""

    def __init__(self, source, *, no_data_s: float):
        self.source = source
        self.no_data_s = float(no_data_s)
        self.rate_hz = float(source.rate_hz)

    def begin(self) -> int:
        """Drop what the source has buffered; sets stamped after the returned time belong to the next step."""
        while self.source.read(4096).n_sets:
            pass
        return int(self.source.ticks_ns())

    def still_window(self, step, t0_ns, *, seconds, timeout_s, max_sd_counts, progress, judge, offsets=None):
        """The counts (n, ch) of the first still window of ``seconds`` after ``t0_ns`` that ``judge`` accepts.

        ``judge(mean_counts) -> None`` accepts, or returns what the step is waiting for. On timeout the error
        says why the last window failed (the tare's own check names the moving cell).
        """
        channels = int(self.source.channels)
        need = max(2, int(round(seconds * self.rate_hz)))
        t_parts, c_parts, f_parts = [], [], []
        last_data = time.monotonic()
        next_progress_ns = None
        waiting_for = None
        while True:
            frames = self.source.read(4096, timeout_s=0.05)
            if frames.n_sets == 0:
                if time.monotonic() - last_data > self.no_data_s:
                    raise SensorTimeout(f"the plate sent no readings for {self.no_data_s:g} s: check that it is "
                                        "powered and connected")
                if getattr(self.source, "is_finished", False):
                    raise CalibrationError("the source ended before the calibration did")
                continue
            last_data = time.monotonic()
            keep = frames.t_ns > t0_ns
            t_parts.append(frames.t_ns[keep])
            c_parts.append(frames.raw_counts[keep].astype(np.float64))
            f_parts.append(frames.flags[keep])
            t = np.concatenate(t_parts)
            if t.size == 0:
                continue
            counts, flags = np.concatenate(c_parts), np.concatenate(f_parts)
            t_parts, c_parts, f_parts = [t[-need:]], [counts[-need:]], [flags[-need:]]   # only the window
            elapsed_s = (int(t[-1]) - t0_ns) / 1e9 * getattr(self.source, "speed", 1.0)
            window, window_flags = counts[-need:], flags[-need:]
            flagged_frac = (window_flags != 0).mean(axis=0)
            if window.shape[0] == need and flagged_frac.max() > 0.5:
                worst = int(np.argmax(flagged_frac))
                raise CalibrationError(f"{cell_name(worst, channels)} sends no valid readings: check its wiring "
                                       "(docs/wiring.md)")
            valid = window[~window_flags.any(axis=1)]
            full = window.shape[0] == need and valid.shape[0] >= 2
            sd = valid.std(axis=0, ddof=1) if valid.shape[0] >= 2 else np.full(channels, np.inf)
            is_still = bool(full and np.all(sd <= max_sd_counts))
            mean = valid.mean(axis=0) if valid.shape[0] else np.full(channels, np.nan)
            if is_still:
                waiting_for = judge(mean) if judge is not None else None
                if waiting_for is None:
                    if progress is not None:
                        progress(Reading(step, _above(mean, offsets), sd, True, elapsed_s))
                    return valid
            if progress is not None and (next_progress_ns is None or t[-1] >= next_progress_ns):
                recent = valid[-max(1, need // 8):] if valid.shape[0] else window[-1:]
                progress(Reading(step, _above(recent.mean(axis=0), offsets), sd, is_still, elapsed_s))
                next_progress_ns = int(t[-1]) + 250_000_000 / getattr(self.source, "speed", 1.0)
            if elapsed_s > timeout_s:
                raise CalibrationError(self._timeout_message(step, valid, max_sd_counts, waiting_for, timeout_s,
                                                             channels))

    @staticmethod
    def _timeout_message(step, valid, max_sd_counts, waiting_for, timeout_s, channels):
        if step.kind == "tare":
            try:
                tare(valid, max_sd_counts=max_sd_counts)
            except ValueError as exc:
                return f"tare refused: {_name_cells(str(exc), channels)}"
            return f"tare refused: the plate did not keep still for {timeout_s:g} s"
        if waiting_for is not None:
            return (f"{waiting_for} at the {step.spot} spot for {timeout_s:g} s: put the mass there and let go "
                    "(a load cell that does not respond also shows this: check the wiring)")
        sd = valid.std(axis=0, ddof=1) if valid.shape[0] >= 2 else np.zeros(channels)
        worst = int(np.argmax(sd))
        return (f"the reading did not settle within {timeout_s:g} s at the {step.spot} spot "
                f"({cell_name(worst, channels)} varies by {sd[worst]:.0f} counts): is the mass resting still, "
                "not rocking, and is nothing else touching the plate?")


def _above(counts, offsets):
    return counts if offsets is None else counts - offsets


def _name_cells(message: str, channels: int) -> str:
    """``"load cell 2: ..."`` -> ``"load cell 2 (back-left): ..."``."""
    if channels != 4:
        return message
    return re.sub(r"load cell (\d)\b(?! \()", lambda m: cell_name(int(m.group(1)), 4), message)


__all__ = ["CELL_NAMES", "CalibrationError", "Outcome", "PLACEMENTS", "Reading", "Step", "run_calibration", "steps"]

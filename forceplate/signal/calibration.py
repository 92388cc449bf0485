"""Counts to newtons: per-load-cell offset (tare) and scale (known-mass calibration), and drift tracking."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import STANDARD_GRAVITY_M_S2


def counts_to_newtons(raw_counts, flags, offset_counts, scale_n_per_count):
    """Convert raw ADC counts to force per load cell.

    force_n = (raw_counts - offset_counts) * scale_n_per_count, per column.

    Parameters
    ----------
    raw_counts : array_like, shape (n, ch)
        Signed ADC counts. Not modified.
    flags : array_like, shape (n, ch)
        Word flags (forceplate.device.flags); any non-zero flag makes that cell's force NaN, so a
        saturated or missing word is never averaged in as a reading.
    offset_counts, scale_n_per_count : array_like, shape (ch,)
        The empty-plate reading in counts, and newtons per count, of each load cell.

    Returns
    -------
    ndarray, shape (n, ch), float64
        Force in newtons (N), NaN where the word was flagged.
    """
    counts = np.asarray(raw_counts, dtype=np.float64)
    force_n = (counts - np.asarray(offset_counts, dtype=np.float64)) * np.asarray(scale_n_per_count, dtype=np.float64)
    force_n[np.asarray(flags) != 0] = np.nan
    return force_n


def newtons_to_counts(force_n, offset_counts, scale_n_per_count):
    """The inverse of counts_to_newtons, rounded to whole counts (int64); for simulated and replayed plates."""
    force_n = np.asarray(force_n, dtype=np.float64)
    return np.rint(force_n / np.asarray(scale_n_per_count, dtype=np.float64)
                   + np.asarray(offset_counts, dtype=np.float64)).astype(np.int64)


def counts_to_words(counts):
    """Signed counts (int) -> raw 24-bit two's-complement words (uint32), clipped to the HX711's range.

    Values beyond full scale become the saturation words 0x7FFFFF / 0x800000, as the chip reports them.
    """
    counts = np.clip(np.asarray(counts, dtype=np.int64), -0x800000, 0x7FFFFF)
    return (counts & 0xFFFFFF).astype(np.uint32)


@dataclass(frozen=True)
class Tare:
    """The empty-plate reading of each load cell (counts) and how steady it was."""

    offset_counts: np.ndarray      # (ch,)
    sd_counts: np.ndarray          # (ch,)
    n_sets: int


@dataclass(frozen=True)
class ScaleFit:
    """Newtons per count of each load cell from known-mass placements, and how well they agree.

    ``residual_n`` is, for each placement, the fitted total force minus the known weight (N): a corner that
    reads wrong shows as a placement that does not add up.
    """

    scale_n_per_count: np.ndarray  # (ch,)
    residual_n: np.ndarray         # (placements,)
    method: str

    @property
    def worst_error_n(self) -> float:
        return float(np.max(np.abs(self.residual_n)))


def tare(raw_counts, flags=None, *, max_sd_counts: float = 200.0) -> Tare:
    """The offset of each load cell from sets taken on an empty, still plate.

    Parameters
    ----------
    raw_counts : array_like, shape (n, ch)
        Signed counts of an empty plate. Not modified.
    flags : array_like, shape (n, ch), optional
        Word flags; flagged words are left out.
    max_sd_counts : float
        A cell whose counts vary more than this (SD, counts) is not still: the tare is refused.

    Raises
    ------
    ValueError
        Too few valid sets, or the plate was not still (the message names the cell).
    """
    counts = np.asarray(raw_counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] < 2:
        raise ValueError("a tare needs at least 2 sets of counts, shape (n, cells)")
    valid = np.ones(counts.shape, dtype=bool) if flags is None else np.asarray(flags) == 0
    offsets, sds = [], []
    for ch in range(counts.shape[1]):
        cell = counts[valid[:, ch], ch]
        if cell.size < 2:
            raise ValueError(f"load cell {ch}: fewer than 2 valid words: check its wiring")
        sd = float(cell.std(ddof=1))
        if sd > max_sd_counts:
            raise ValueError(f"load cell {ch}: the reading moved (SD {sd:.0f} counts): keep the plate empty and still")
        offsets.append(float(cell.mean()))
        sds.append(sd)
    return Tare(np.array(offsets), np.array(sds), int(counts.shape[0]))


def fit_scales(offset_counts, placements_counts, mass_kg: float) -> ScaleFit:
    """Newtons per count of each cell from one known mass placed in turn at several spots.

    Each placement p gives the mean counts c_p (ch,) with the mass on the plate; its weight W = m g
    (g = 9.80665 m/s^2) is shared by the cells, so sum_c s_c (c_pc - offset_c) = W for every p. With the
    mass at the centre and at each corner (5 placements, 4 unknowns) the least-squares solution fixes every
    cell's scale, and the residuals show a placement that does not add up.

    Parameters
    ----------
    offset_counts : array_like, shape (ch,)
        The tare of each cell (counts).
    placements_counts : array_like, shape (p, ch)
        Mean counts of each cell for each placement (p >= ch, spots spread so every cell carries load).
    mass_kg : float
        The known mass (kg).
    """
    offset = np.asarray(offset_counts, dtype=np.float64)
    loaded = np.asarray(placements_counts, dtype=np.float64)
    if loaded.ndim != 2 or loaded.shape[1] != offset.shape[0]:
        raise ValueError(f"placements must have one column per cell ({offset.shape[0]})")
    if loaded.shape[0] < loaded.shape[1]:
        raise ValueError(f"{loaded.shape[0]} placements cannot fix {loaded.shape[1]} cells: "
                         "place the mass at the centre and at each corner")
    if not (mass_kg > 0):
        raise ValueError("the known mass must be positive (kg)")
    weight_n = mass_kg * STANDARD_GRAVITY_M_S2
    a = loaded - offset
    if np.linalg.matrix_rank(a) < a.shape[1]:
        raise ValueError("the placements do not load every cell independently: use the centre and each corner")
    scale, *_ = np.linalg.lstsq(a, np.full(a.shape[0], weight_n), rcond=None)
    if np.any(scale == 0) or np.any(~np.isfinite(scale)):
        raise ValueError("a cell does not respond to the mass: check its wiring")
    residual = a @ scale - weight_n
    return ScaleFit(scale, residual, f"least squares over {a.shape[0]} placements of a {mass_kg:g} kg mass")


class AutoZero:
    """Track the empty plate's drift and re-zero only while the plate is empty and still.

    Feed it calibrated force per cell (N, with the current offsets applied). When the total has stayed
    within `empty_n` of zero with an SD under `still_sd_n` for `window_s`, the mean of that window is the
    drift of each cell; it is folded into ``offset_n`` (N, subtract it from the force). Anyone on the plate,
    or anything moving, stops the tracking: a person's weight is never zeroed away.
    """

    def __init__(self, channels: int, rate_hz: float, *, window_s: float = 2.0, empty_n: float = 30.0,
                 still_sd_n: float = 3.0, warn_drift_n: float = 20.0):
        self.offset_n = np.zeros(channels)
        self.warn_drift_n = float(warn_drift_n)
        self._window = max(2, int(round(window_s * rate_hz)))
        self._empty_n = float(empty_n)
        self._still_sd_n = float(still_sd_n)
        self._buffer = np.empty((0, channels))
        self.zeroed_count = 0

    @property
    def drift_n(self) -> float:
        """The total drift taken out since the start (N)."""
        return float(self.offset_n.sum())

    @property
    def needs_attention(self) -> bool:
        """True when the empty plate has drifted more than `warn_drift_n`: recalibrate or check the cells."""
        return abs(self.drift_n) > self.warn_drift_n

    def feed(self, cells_n) -> bool:
        """Add sets of force per cell (n, ch), N. Returns True when this call re-zeroed the plate."""
        cells = np.asarray(cells_n, dtype=np.float64) - self.offset_n
        self._buffer = np.concatenate([self._buffer, cells])[-self._window:]
        if self._buffer.shape[0] < self._window or not np.all(np.isfinite(self._buffer)):
            return False
        total = self._buffer.sum(axis=1)
        if np.max(np.abs(total)) > self._empty_n or total.std(ddof=1) > self._still_sd_n:
            return False
        self.offset_n = self.offset_n + self._buffer.mean(axis=0)
        self._buffer = np.empty((0, self.offset_n.shape[0]))
        self.zeroed_count += 1
        return True

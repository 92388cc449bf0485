"""Undo a plate that was zeroed with someone standing on it.

Zeroing (taring) a plate under a person makes standing read about 0 N and flight read about minus the body
weight. Nothing but a flight reveals that: in the air the true force is 0 N, so a sustained plateau far
below zero is the tare offset, and adding it back restores the true force. Ringing after take-off dips below
zero too, but for tens of milliseconds and by tens of newtons, not for a whole flight by a body weight.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import as_force, check_rate, runs


@dataclass(frozen=True)
class OffsetCorrection:
    """The offset added to every sample (N; 0 when none was needed) and how it was found."""

    offset_n: float
    method: str | None

    @property
    def is_corrected(self) -> bool:
        return self.offset_n != 0.0


def correct_loaded_zero(force_n, rate_hz, *, min_plateau_s: float = 0.15, min_offset_n: float = 150.0):
    """Find a tare offset from flights that read far below zero, and remove it.

    Parameters
    ----------
    force_n : array_like, shape (n,)
        Total vertical force in newtons (N); NaN allowed (ignored). Not modified.
    rate_hz : float
        Sample rate in hertz (Hz).
    min_plateau_s, min_offset_n : float
        A plateau is at least `min_plateau_s` (s) of force below -`min_offset_n` (N). Its median (the middle
        half of each plateau, away from the smeared edges) is the reading of an empty plate.

    Returns
    -------
    corrected_n : ndarray, shape (n,)
        The force with the offset added (a copy; the input itself when no offset was found).
    correction : OffsetCorrection
    """
    force_n = as_force(force_n)
    rate_hz = check_rate(rate_hz)
    min_len = max(2, int(round(min_plateau_s * rate_hz)))
    with np.errstate(invalid="ignore"):
        below = force_n < -min_offset_n
    if not below.any():              # the usual case: nothing far below zero, no plateau to look for
        return force_n, OffsetCorrection(0.0, None)
    starts, ends = runs(below)
    plateaus = [(a, b) for a, b in zip(starts.tolist(), ends.tolist()) if b - a >= min_len]
    if not plateaus:
        return force_n, OffsetCorrection(0.0, None)
    middles = [force_n[a + (b - a) // 4: b - (b - a) // 4] for a, b in plateaus]
    empty_reading_n = float(np.nanmedian(np.concatenate(middles)))
    offset_n = -empty_reading_n
    method = (f"the plate read {empty_reading_n:.0f} N in flight ({len(plateaus)} plateau(s) of at least "
              f"{min_plateau_s:g} s): it was zeroed with someone on it, so {offset_n:.0f} N was added back")
    return force_n + offset_n, OffsetCorrection(offset_n, method)

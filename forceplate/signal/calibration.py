"""Counts to newtons: per-load-cell offset and scale."""
from __future__ import annotations

import numpy as np


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

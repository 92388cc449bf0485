"""Frames: a batch of sample sets as the sources deliver them."""
from typing import NamedTuple

import numpy as np


class Frames(NamedTuple):
    """``n`` sample sets from a plate with ``ch`` load cells.

    t_ns : (n,) int64, the source clock's time of each set in nanoseconds.
    raw_counts : (n, ch) int32, the signed ADC count of each load cell (0 where flagged).
    flags : (n, ch) uint8, forceplate.device.flags bits; 0 is a valid word.
    """
    t_ns: np.ndarray
    raw_counts: np.ndarray
    flags: np.ndarray

    @property
    def n_sets(self) -> int:
        return int(self.t_ns.shape[0])

    @classmethod
    def empty(cls, channels):
        return cls(np.zeros(0, np.int64), np.zeros((0, channels), np.int32), np.zeros((0, channels), np.uint8))

"""Replay a recorded force trace (docs/contracts.md section 1) as if a plate were sending it, in real time.

Each ``*_n`` column is one load cell. Forces become counts with offset 0 and 0.01 N per count (so they come
back to within 0.005 N) and go through the real kernel's ring, like every other source. Sample ``i`` is due
``(t_s[i] - t_s[0] + 1 / rate_hz) / speed`` seconds after the source is made; with ``loop`` the recording
starts again one sample period after its last sample, forever.
"""
from __future__ import annotations

import os
import stat

import numpy as np

from ...exc import ConfigError
from ...signal.calibration import counts_to_words, newtons_to_counts
from ..flags import WORD_NOT_READY
from .simulator import ADCS, PacedSource

REPLAY_SCALE_N_PER_COUNT = 0.01
MAX_REPLAY_BYTES = 100 * 1024 * 1024   # a replay is held in memory whole (several times its size while parsed)


class ReplaySource(PacedSource):
    """A recorded trace played back on the source's clock.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV as in docs/contracts.md section 1. Read at once: a missing or malformed file raises
        ``TraceFormatError`` (naming the file and line) here, not later.
    speed : float
        Playback speed; 1 is real time.
    loop : bool
        Start again after the end, forever; otherwise ``is_finished`` turns True once all is read.
    rate_hz : float, optional
        Sample rate in hertz (Hz); wins over the file's ``t_s`` (sample ``i`` at ``i / rate_hz``).
    adc : {"ideal", "hx711"}
        What the samples are (reported to the analysis; the replay does not filter them).
    clock : object with ``now_ns()`` and ``sleep(seconds)``, optional
    """

    OPTION_TYPES = {"speed": float, "loop": bool, "rate_hz": float, "adc": str}

    def __init__(self, path, *, speed: float = 1.0, loop: bool = False, rate_hz: float | None = None,
                 adc: str = "ideal", clock=None):
        from ...storage.traces import read_trace  # the CSV reader of `forceplate analyze`: one format, one reader

        adc = str(adc).strip().lower()
        if adc not in ADCS:
            raise ConfigError(f"adc {adc!r} must be hx711 or ideal")
        speed = float(speed)
        if not 0.01 <= speed <= 1000.0:
            raise ConfigError(f"speed {speed:g} is outside 0.01-1000")
        _check_replay_file(path)
        trace = read_trace(path, rate_hz=rate_hz)
        force_n = np.asarray(trace.force_n, dtype=np.float64)
        channels = force_n.shape[1]
        super().__init__(channels=channels, clock=clock)
        self.path = str(path)
        self.name = f"replay:{self.path}"
        self.trace = trace
        self.columns = tuple(trace.columns)
        self.channels = channels
        self.rate_hz = float(trace.rate_hz)
        self.adc = adc
        self.speed = speed
        self.loop = bool(loop)
        self.is_simulated = True
        self.offset_counts = np.zeros(channels)
        self.scale_n_per_count = np.full(channels, REPLAY_SCALE_N_PER_COUNT)
        words = counts_to_words(newtons_to_counts(np.nan_to_num(force_n), self.offset_counts,
                                                  self.scale_n_per_count))
        words[~np.isfinite(force_n)] = WORD_NOT_READY     # a missing value is a missing word, never 0 N
        self._words_all = words
        self._n = force_n.shape[0]
        period_s = 1.0 / self.rate_hz
        self._t_rel_s = np.asarray(trace.t_s, dtype=np.float64) - float(trace.t_s[0]) + period_s
        self._loop_span_s = float(self._t_rel_s[-1])      # the next loop's first sample one period later
        self.total_sets = None if self.loop else self._n

    @property
    def duration_s(self) -> float:
        """Scenario seconds one pass of the recording lasts (from start to its last sample)."""
        return self._loop_span_s

    @property
    def is_finished(self) -> bool:
        return not self.loop and self._next_k >= self._n and self._ring.available == 0

    def _offsets_ns(self, k):
        k = np.asarray(k, dtype=np.int64)
        t_s = (k // self._n) * self._loop_span_s + self._t_rel_s[k % self._n]
        return np.rint(t_s * (1e9 / self.speed)).astype(np.int64)

    def _estimate_due(self, elapsed_ns):
        t_s = elapsed_ns * self.speed / 1e9
        laps = int(t_s // self._loop_span_s)
        return laps * self._n + int(np.searchsorted(self._t_rel_s, t_s - laps * self._loop_span_s, side="right"))

    def _words(self, k):
        return self._words_all[np.asarray(k, dtype=np.int64) % self._n]


def _check_replay_file(path) -> None:
    """Refuse, before reading, what would never end (a device, a pipe: ``/dev/zero``) or not fit in memory."""
    if os.fspath(path) == "-":
        return                               # standard input: the trace reader's own concern
    try:
        info = os.stat(path)
    except OSError:
        return                               # the trace reader names a missing or unreadable file
    if stat.S_ISDIR(info.st_mode):
        return
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"replay:{path}: not a regular file (a device or a pipe cannot be replayed)")
    if info.st_size > MAX_REPLAY_BYTES:
        raise ConfigError(f"replay:{path}: {info.st_size / 2**20:.0f} MiB is more than a replay can hold in "
                          f"memory ({MAX_REPLAY_BYTES / 2**20:.0f} MiB)")

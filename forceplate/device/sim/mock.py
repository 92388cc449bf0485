"""A plate you drive by hand, and a clock that moves only when told: the test doubles at the hardware edge.

A test reads like a lab note: the chips say this (``push``), half a second passes (``advance``), our code
read that (``reads``)::

    with MockSource(channels=4, rate_hz=80.0) as plate:
        plate.push(np.full((8, 4), 41_000), flags=[VALID, VALID, NOT_READY, VALID])
        plate.advance(0.1)                      # 8 sample periods at 80 SPS: all 8 sets are due
        frames = plate.read()

Nothing sleeps and no thread runs: sets wait in a queue until the fake clock passes their timestamps, then
go through the real kernel's ring (decoding, flags, overflow), as they would from the hardware sampler.
"""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from ...exc import ConfigError
from ...signal.calibration import counts_to_words, newtons_to_counts
from .. import flags as fl
from .. import sampling
from ..frames import Frames
from ..sources import LoadCellSource

# The mock plate's calibration (cycled over channels): offsets far from zero and unequal scales, so code
# that forgets either shows it.
MOCK_OFFSETS_COUNTS = (41_000, -23_000, 12_500, 65_000)
MOCK_SCALES_N_PER_COUNT = (0.0050, 0.0048, 0.0052, 0.0049)


class FakeClock:
    """A monotonic clock that moves only when told: ``advance(seconds)``, or ``sleep(seconds)``.

    ``now_ns()`` and ``sleep(seconds)`` make it a drop-in for a source's ``clock=``; sleeping advances it at
    once, so nothing waits for real.
    """

    def __init__(self, start_ns: int = 1_000_000_000):
        self._now_ns = int(start_ns)
        self._lock = threading.Lock()
        self._listeners: list = []

    def now_ns(self) -> int:
        return self._now_ns

    def advance(self, seconds: float) -> int:
        """Move the clock ``seconds`` forward (never back); returns the new time in ns."""
        if seconds < 0:
            raise ValueError(f"a monotonic clock cannot go back {seconds} s")
        with self._lock:
            self._now_ns += int(round(seconds * 1e9))
            now = self._now_ns
        for listener in list(self._listeners):
            listener()
        return now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def add_listener(self, callback) -> None:
        """Call ``callback()`` after each advance (a source waiting on the clock wakes up)."""
        self._listeners.append(callback)


class MockSource(LoadCellSource):
    """A scriptable plate on a fake clock. See the module docstring.

    Parameters
    ----------
    channels : int
    rate_hz : float
        Sets pushed are stamped ``1 / rate_hz`` apart.
    adc : {"hx711", "ideal"}
        Only reported (the mock plays what it is given).
    clock : FakeClock, optional
    offset_counts, scale_n_per_count : array_like (channels,), optional
        The calibration ``push_force`` uses and the source exposes (defaults: ``MOCK_OFFSETS_COUNTS``,
        ``MOCK_SCALES_N_PER_COUNT``).
    capacity : int
        Sets the kernel ring holds; more due and unread are dropped (``dropped``), as on the hardware.

    Attributes
    ----------
    reads : list of Frames
        What each ``read`` returned, in order.
    """

    def __init__(self, channels: int = 4, rate_hz: float = 80.0, adc: str = "hx711", *, clock=None,
                 offset_counts=None, scale_n_per_count=None, capacity: int = 4096, name: str = "mock"):
        if channels < 1:
            raise ConfigError(f"a plate needs at least one load cell, not {channels}")
        if not rate_hz > 0:
            raise ConfigError(f"rate_hz {rate_hz!r} must be positive")
        if adc not in ("hx711", "ideal"):
            raise ConfigError(f"adc {adc!r} must be hx711 or ideal")
        self.name = name
        self.channels = int(channels)
        self.rate_hz = float(rate_hz)
        self.adc = adc
        self.is_simulated = True
        self.clock = clock if clock is not None else FakeClock()
        cycle = np.arange(self.channels) % len(MOCK_OFFSETS_COUNTS)
        self.offset_counts = np.asarray(offset_counts if offset_counts is not None
                                        else np.take(MOCK_OFFSETS_COUNTS, cycle), dtype=np.float64)
        self.scale_n_per_count = np.asarray(scale_n_per_count if scale_n_per_count is not None
                                            else np.take(MOCK_SCALES_N_PER_COUNT, cycle), dtype=np.float64)
        if self.offset_counts.shape != (self.channels,) or self.scale_n_per_count.shape != (self.channels,):
            raise ConfigError(f"offset_counts and scale_n_per_count need one value per channel ({self.channels})")
        self.reads: list[Frames] = []
        self.is_closed = False
        self._ring = sampling.SampleRing(self.channels, capacity)
        self._cond = threading.Condition()
        self._queue: deque = deque()            # blocks of (t_ns (n,), words (n, ch), extra flags (n, ch))
        self._in_ring_extra = np.zeros((0, self.channels), np.uint8)   # LONG_PULSE etc. for sets in the ring
        self._last_ns: int | None = None
        if hasattr(self.clock, "add_listener"):     # a waiting read wakes when the test advances the clock
            self.clock.add_listener(self._notify)

    # -- the world
    def push(self, counts, *, flags=None) -> np.ndarray:
        """Queue sets of signed counts, shape (n, channels) ((n,) with one channel).

        ``flags`` (forceplate.device.flags bits), per channel (channels,) or per word (n, channels), turn
        words into what the chip would send: NOT_READY -> WORD_NOT_READY, GARBAGE -> bits beyond 24,
        SATURATED_HI/LO -> 0x7FFFFF/0x800000; LONG_PULSE (a sampler's flag) is added to the read flags.
        Returns the timestamps (ns) the sets got.
        """
        counts = self._as_sets(counts, "counts")
        words = counts_to_words(counts)
        extra = np.zeros(words.shape, np.uint8)
        if flags is not None:
            f = np.broadcast_to(np.asarray(flags, dtype=np.uint8), words.shape)
            words = words.copy()
            words[(f & fl.SATURATED_LO) != 0] = 0x800000
            words[(f & fl.SATURATED_HI) != 0] = 0x7FFFFF
            garbage = (f & fl.GARBAGE) != 0
            words[garbage] = (words[garbage] & fl.WORD_MASK) | 0x1000000
            words[(f & fl.NOT_READY) != 0] = fl.WORD_NOT_READY
            extra = (f & fl.LONG_PULSE).astype(np.uint8)
        return self._enqueue(words, extra)

    def push_words(self, words) -> np.ndarray:
        """Queue raw uint32 words (n, channels) as the sampler reads them (WORD_NOT_READY, garbage...)."""
        words = self._as_sets(words, "words")
        if words.min(initial=0) < 0 or words.max(initial=0) > 0xFFFFFFFF:
            raise ValueError("words must fit in 32 bits")
        words = words.astype(np.uint32)
        return self._enqueue(words, np.zeros(words.shape, np.uint8))

    def push_force(self, force_n, *, flags=None) -> np.ndarray:
        """Queue forces in newtons: (n,) total, split evenly over the cells, or (n, channels) per cell.

        They become counts through the mock's calibration (``offset_counts``, ``scale_n_per_count``).
        """
        force_n = np.asarray(force_n, dtype=np.float64)
        if force_n.ndim == 1:
            force_n = np.repeat(force_n[:, None] / self.channels, self.channels, axis=1)
        return self.push(newtons_to_counts(force_n, self.offset_counts, self.scale_n_per_count), flags=flags)

    def advance(self, seconds: float) -> int:
        """Let ``seconds`` pass on the fake clock; returns the new time (ns)."""
        return self.clock.advance(seconds)

    @property
    def pending(self) -> int:
        """Sets pushed whose time has not come yet."""
        with self._cond:
            return sum(block[0].shape[0] for block in self._queue)

    @property
    def dropped(self) -> int:
        return int(self._ring.dropped)

    # -- LoadCellSource
    def read(self, max_sets: int = 4096, timeout_s: float = 0.0) -> Frames:
        """The queued sets stamped at or before the fake clock's now (at most ``max_sets``), oldest first.

        With ``timeout_s > 0`` and nothing due, waits (real time, at most ``timeout_s``) for a push or an
        advance from another thread to make something due; no sampler thread spins meanwhile.
        """
        with self._cond:
            self._move_due()
            if self._ring.available == 0 and timeout_s > 0:
                deadline = time.monotonic() + timeout_s
                while self._ring.available == 0:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                    self._move_due()
            frames = self._ring.pop(max(0, int(max_sets)))
            n = frames.n_sets
            if n:
                extra, self._in_ring_extra = self._in_ring_extra[:n], self._in_ring_extra[n:]
                if extra.any():
                    frames = frames._replace(flags=frames.flags | extra)
            self.reads.append(frames)
            return frames

    def pause(self, seconds: float) -> None:
        """Nothing: the mock's time moves only when the test calls advance()."""

    def ticks_ns(self) -> int:
        return int(self.clock.now_ns())

    def close(self) -> None:
        self.is_closed = True

    # -- inside
    def _as_sets(self, values, what: str) -> np.ndarray:
        values = np.asarray(values)
        if values.ndim == 1 and self.channels == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[1] != self.channels:
            raise ValueError(f"{what} must have shape (n, {self.channels}), not {values.shape}")
        return values.astype(np.int64)

    def _enqueue(self, words: np.ndarray, extra: np.ndarray) -> np.ndarray:
        with self._cond:
            now = int(self.clock.now_ns())
            # Sets continue from the last one pushed, or from now if that is already past.
            base = now if self._last_ns is None else max(self._last_ns, now)
            t_ns = base + np.rint(np.arange(1, words.shape[0] + 1) * (1e9 / self.rate_hz)).astype(np.int64)
            if t_ns.size:
                self._last_ns = int(t_ns[-1])
                self._queue.append((t_ns, np.ascontiguousarray(words, dtype=np.uint32), extra))
            self._cond.notify_all()
            return t_ns

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _move_due(self) -> None:
        """Hand the sets whose time has come to the kernel ring (it drops what it cannot hold)."""
        now = int(self.clock.now_ns())
        while self._queue:
            t_ns, words, extra = self._queue[0]
            n = int(np.searchsorted(t_ns, now, side="right"))
            if n == 0:
                break
            stored = self._ring.push_block(t_ns[:n], words[:n])
            self._in_ring_extra = np.concatenate([self._in_ring_extra, extra[:stored]])
            if n == t_ns.shape[0]:
                self._queue.popleft()
            else:
                self._queue[0] = (t_ns[n:], words[n:], extra[n:])
                break

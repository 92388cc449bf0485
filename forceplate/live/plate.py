"""The live plate: a sampler thread that turns a LoadCellSource into a force history and events for clients.

One daemon thread drains the source, converts counts to newtons, sums the cells into total vertical force,
keeps the last ``history_s`` seconds in a fixed numpy ring, feeds the same LiveAnalyzer that
``forceplate analyze`` agrees with, and wakes waiting clients. Clients (the web UI's streams) never slow it:
they copy what is new under a short lock and format it outside.

Time is in seconds since :meth:`LivePlate.start`, on the source's own clock (``Frames.t_ns``), so a fake
clock in tests is the only clock. A source played faster than real time (a simulator or a replay with
``speed``) is put back on its own time scale, so durations (flight times, loading rates) keep their meaning.
"""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from ..device import sampling
from ..device.flags import NAMES as FLAG_NAMES
from .listeners import Listeners

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.05        # the sampler wakes at least this often, so stop() is prompt
READ_MAX_SETS = 4096
BATCH_S = 0.02                # a pass takes at least this long, so sets come in batches: 1000 SPS handled
                              # set by set cost 36 % of a core
RECENT_EVENTS = 50           # events a newly connected client is shown
MAX_EVENTS_KEPT = 1000       # older events are forgotten (the store keeps sessions, not the live plate)
RATE_WINDOW_S = 2.0          # the measured rate is over this much of the newest history


@dataclass(frozen=True)
class Cursor:
    """Where a client is: how many samples and events it has already had, counted since start."""
    samples: int = 0
    events: int = 0


@dataclass(frozen=True)
class Update:
    """What is new for one client since its cursor. Arrays are copies the client owns."""
    cursor: Cursor                     # pass this to the next wait_for_update
    t_s: np.ndarray                    # (n,) s since start
    force_n: np.ndarray                # (n,) total vertical force, N; NaN where any cell was flagged
    events: list[dict]                 # newly final events, each with "seq"
    body_weight_n: float | None
    status: str
    stats: dict
    lost_samples: int = 0              # samples that left the history before this client read them
    is_running: bool = True
    pending: list = field(default_factory=list)   # impacts not final yet, with a provisional verdict

    @property
    def is_empty(self) -> bool:
        return self.t_s.size == 0 and not self.events


@dataclass
class _Stats:
    sets: int = 0
    flagged: list[int] = field(default_factory=list)        # flagged words per channel, since start
    flag_bits: list[int] = field(default_factory=list)      # OR of every flag seen per channel


class LivePlate:
    """Samples one source in a daemon thread and serves what it saw to any number of clients.

    Parameters
    ----------
    source : LoadCellSource
        An open source. The plate reads it but neither opens nor closes it.
    thump_bw, min_peak_bw : float
        Passed to the LiveAnalyzer: a thump reaches ``thump_bw`` body weights; smaller peaks than
        ``min_peak_bw`` body weights are not impacts.
    history_s : float
        Seconds of total force kept in memory for clients (the ring is sized from the source's nominal
        rate with room for a faster real one).
    body_mass_kg : float, optional
        Fixes body weight instead of estimating it from quiet standing.

    Listeners (``add_listener``) are called in the sampler thread with ``(frames, events)`` after each batch
    is analysed, and with ``(None, events)`` for the last events of a finished recording. They must only hand
    them on (e.g. put them on a queue for a recorder thread), never block: no SQLite in the sampler thread.
    """

    def __init__(self, source, *, thump_bw=2.5, min_peak_bw=1.3, history_s=60.0, body_mass_kg=None):
        self.source = source
        self.thump_bw = float(thump_bw)
        self.min_peak_bw = float(min_peak_bw)
        self.history_s = float(history_s)
        self.body_mass_kg = body_mass_kg
        self.capacity = max(1024, int(math.ceil(history_s * float(source.rate_hz) * 1.5)))
        self._t_s = np.full(self.capacity, np.nan)
        self._force_n = np.full(self.capacity, np.nan)
        self._written = 0                       # samples ever written; ring index = written % capacity
        self._events: list[dict] = []
        self._events_forgotten = 0              # events dropped from the front of _events
        self._stats = _Stats(flagged=[0] * source.channels, flag_bits=[0] * source.channels)
        self._body_weight_n: float | None = None
        self._analyzer_status = "Starting"
        self._pending: list[dict] = []          # the analyser's provisional impacts, replaced whole each batch
        self._cond = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0_ns: int | None = None
        self._finished = False
        self._error: str | None = None
        self._pipeline = None
        self._listeners = Listeners("plate listener")     # called in the sampler thread after each batch

    # -- the sampler ---------------------------------------------------------------------------------------

    def start(self) -> "LivePlate":
        """Start sampling in a daemon thread. Time zero is now, on the source's clock."""
        if self._thread is not None:
            raise RuntimeError("this LivePlate was already started")
        from .pipeline import ForcePipeline  # the same path from counts to events as `forceplate record`
        self._pipeline = ForcePipeline(self.source, thump_bw=self.thump_bw, min_peak_bw=self.min_peak_bw,
                                       body_mass_kg=self.body_mass_kg)
        self._analyzer_status = self._pipeline.status
        self._track_drift_from(self._pipeline.offset_counts)
        self._t0_ns = self._pipeline.start()
        self._thread = threading.Thread(target=self._run, name="forceplate-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop sampling and wake every waiting client; joins the thread within ``timeout_s``."""
        self._stop.set()
        self.wake_waiters()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("the sampler thread did not stop within %.1f s", timeout_s)

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the sampler to end by itself (a finished recording, an error); True if it has."""
        if self._thread is not None:
            self._thread.join(timeout_s)
        return not self.is_running

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def set_offsets(self, offset_counts) -> None:
        """A new tare: the empty-plate counts of each cell, used from the next batch on."""
        if self._pipeline is not None:       # one reference swap: the sampler thread never sees half an array
            self._track_drift_from(offset_counts)
            self._pipeline.offset_counts = np.asarray(offset_counts, dtype=np.float64).copy()

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def t0_ns(self) -> int | None:
        """Time zero on the source's clock (ns): when start() was called; None before."""
        return self._t0_ns

    def add_listener(self, callback) -> None:
        """Call ``callback(frames, events)`` in the sampler thread after each batch (see the class docstring).

        Safe from any thread while the plate samples. A listener added during a batch hears from the next one.
        """
        self._listeners.add(callback)

    def remove_listener(self, callback) -> None:
        """Stop calling ``callback`` (nothing happens if it is not listening). Safe from any thread.

        A batch already being handed on when this is called may still reach ``callback`` once.
        """
        self._listeners.remove(callback)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started_ns = self.source.ticks_ns()
                frames = self.source.read(READ_MAX_SETS, timeout_s=READ_TIMEOUT_S)
                if frames.n_sets:
                    self._ingest(frames)
                    left_s = BATCH_S - (self.source.ticks_ns() - started_ns) / 1e9
                    if left_s > 0 and not self._stop.is_set():
                        self.source.pause(left_s)        # the source keeps its sets (its ring) meanwhile
                elif self.source.is_finished:
                    events = self._pipeline.flush()      # the end of the recording settles the last events
                    self._listeners.call(None, events)
                    with self._cond:
                        self._append_events(events)
                        self._pending = []
                        self._finished = True
                        self._cond.notify_all()
                    break
        except Exception as exc:          # noqa: BLE001 - recorded and shown, never silent
            log.exception("the sampler stopped")
            with self._cond:
                self._error = f"{type(exc).__name__}: {exc}"
                self._cond.notify_all()

    def _track_drift_from(self, offset_counts) -> None:
        """Auto-zero against these offsets: only while the plate is empty and still, never a person away."""
        from ..signal.calibration import AutoZero
        self._base_offsets = np.asarray(offset_counts, dtype=np.float64).copy()
        self._auto_zero = AutoZero(int(self.source.channels), float(self.source.rate_hz))

    def _follow_drift(self, cells_n) -> None:
        zero = self._auto_zero
        if zero.feed(cells_n + zero.offset_n):             # back to the calibration's frame, then track
            self._pipeline.offset_counts = (self._base_offsets
                                            + zero.offset_n / np.asarray(self._pipeline.scale_n_per_count))

    def _ingest(self, frames) -> None:
        processed = self._pipeline.process(frames)
        t_s, total_n, events = processed.t_s, processed.total_n, processed.events
        if processed.cells_n is not None:
            self._follow_drift(processed.cells_n)
        self._listeners.call(frames, events)
        flags = np.asarray(frames.flags)
        is_flagged = flags != 0
        flagged_per_channel = is_flagged.sum(axis=0) if is_flagged.any() else None
        flag_bits = np.bitwise_or.reduce(flags, axis=0) if flagged_per_channel is not None else None
        body_weight_n = self._pipeline.body_weight_n
        analyzer_status = self._pipeline.status
        pending = self._pipeline.provisional()       # kept from the last analysis: no analysis added
        with self._cond:
            self._write_ring(t_s, total_n)
            self._stats.sets += frames.n_sets
            if flagged_per_channel is not None:
                for ch in range(len(self._stats.flagged)):
                    self._stats.flagged[ch] += int(flagged_per_channel[ch])
                    self._stats.flag_bits[ch] |= int(flag_bits[ch])
            self._append_events(events)
            self._body_weight_n = None if body_weight_n is None else float(body_weight_n)
            self._analyzer_status = analyzer_status
            self._pending = pending
            self._cond.notify_all()

    def _append_events(self, events) -> None:
        for event in events:
            self._events.append({**event, "seq": self._events_forgotten + len(self._events)})
        if len(self._events) > MAX_EVENTS_KEPT:
            drop = len(self._events) - MAX_EVENTS_KEPT
            del self._events[:drop]
            self._events_forgotten += drop

    def _write_ring(self, t_s, force_n) -> None:
        n = t_s.shape[0]
        if n > self.capacity:                 # more than the ring holds: keep the newest
            skip = n - self.capacity
            self._written += skip
            t_s, force_n, n = t_s[skip:], force_n[skip:], self.capacity
        start = self._written % self.capacity
        first = min(n, self.capacity - start)
        self._t_s[start:start + first] = t_s[:first]
        self._force_n[start:start + first] = force_n[:first]
        if first < n:
            self._t_s[:n - first] = t_s[first:]
            self._force_n[:n - first] = force_n[first:]
        self._written += n

    # -- clients ------------------------------------------------------------------------------------------

    def cursor(self, back_s: float = 10.0, recent_events: int = RECENT_EVENTS) -> Cursor:
        """A cursor for a new client: the last ``back_s`` seconds of history and the recent events."""
        with self._cond:
            start = self._written
            if self._written:
                newest_t = self._t_s[(self._written - 1) % self.capacity]
                start = self._first_sample_after(newest_t - back_s)
            n_events = self._events_forgotten + len(self._events)
            return Cursor(samples=start, events=max(self._events_forgotten, n_events - recent_events))

    def wake_waiters(self) -> None:
        """Wake every client blocked in wait_for_update (e.g. because the server is stopping)."""
        with self._cond:
            self._cond.notify_all()

    def wait_for_update(self, cursor: Cursor, timeout_s: float) -> Update:
        """What is new since ``cursor``, waiting up to ``timeout_s`` for something new.

        Returns early when the sampler stops or wake_waiters() is called; the update may then be empty.
        """
        with self._cond:
            if not self._has_news(cursor) and self.is_running and not self._stop.is_set():
                self._cond.wait(timeout_s)
            return self._update_locked(cursor)

    def update(self, cursor: Cursor) -> Update:
        """What is new since ``cursor``, without waiting."""
        with self._cond:
            return self._update_locked(cursor)

    def _first_sample_after(self, t_s: float) -> int:
        """The first kept sample (counted since start) later than ``t_s``; times increase, so bisect."""
        lo, hi = max(0, self._written - self.capacity), self._written
        while lo < hi:
            mid = (lo + hi) // 2
            if self._t_s[mid % self.capacity] > t_s:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _has_news(self, cursor: Cursor) -> bool:
        return (self._written > cursor.samples
                or self._events_forgotten + len(self._events) > cursor.events)

    def _update_locked(self, cursor: Cursor) -> Update:
        oldest = max(0, self._written - self.capacity)
        begin = max(cursor.samples, oldest)
        lost = begin - cursor.samples
        idx = np.arange(begin, self._written) % self.capacity
        t_s, force_n = self._t_s[idx], self._force_n[idx]        # fancy indexing copies
        first_event = max(cursor.events, self._events_forgotten)
        events = [dict(e) for e in self._events[first_event - self._events_forgotten:]]
        new_cursor = Cursor(samples=self._written, events=self._events_forgotten + len(self._events))
        return Update(cursor=new_cursor, t_s=t_s, force_n=force_n, events=events,
                      body_weight_n=self._body_weight_n, status=self._status_locked(),
                      stats=self._stats_locked(), lost_samples=lost, is_running=self.is_running,
                      pending=[dict(e) for e in self._pending])

    def _status_locked(self) -> str:
        if self._error is not None:
            return f"Sampling stopped by an error: {self._error}"
        if self._finished:
            return "The recording has finished: no more samples will come"
        if self._thread is None:
            return "Not started"
        if not self._thread.is_alive():
            return "Sampling stopped"
        return self._analyzer_status

    def _stats_locked(self) -> dict:
        rate_hz = None
        if self._written >= 2:
            newest = self._written - 1
            t_newest = self._t_s[newest % self.capacity]
            first = self._first_sample_after(t_newest - RATE_WINDOW_S)
            span_s = t_newest - self._t_s[first % self.capacity]
            if span_s > 0:
                rate_hz = float((newest - first) / span_s)
        return {
            "sets": self._stats.sets,
            "rate_hz": rate_hz,
            "flagged": list(self._stats.flagged),
            "flag_names": [", ".join(name for bit, name in FLAG_NAMES.items() if bits & bit)
                           for bits in self._stats.flag_bits],
            "dropped": int(getattr(self.source, "dropped", 0) or 0),   # sets the source lost, if it counts
        }

    # -- summaries ----------------------------------------------------------------------------------------

    @property
    def body_weight_n(self) -> float | None:
        with self._cond:
            return self._body_weight_n

    @property
    def error(self) -> str | None:
        with self._cond:
            return self._error

    @property
    def is_finished(self) -> bool:
        with self._cond:
            return self._finished

    def history(self, seconds: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the kept history (t_s, total force_n), oldest first; the last ``seconds`` if given."""
        cursor = self.cursor(back_s=seconds) if seconds is not None else Cursor(0, 0)
        update = self.update(cursor)
        return update.t_s, update.force_n

    def events(self) -> list[dict]:
        """Copies of the events still kept, oldest first."""
        with self._cond:
            return [dict(e) for e in self._events]

    def pending(self) -> list[dict]:
        """Copies of the impacts not final yet (each with ``"provisional": True``), oldest first."""
        with self._cond:
            return [dict(e) for e in self._pending]

    def _drift_warning(self) -> str | None:
        zero = getattr(self, "_auto_zero", None)
        if zero is None or not zero.needs_attention:
            return None
        return (f"The empty plate has drifted by {zero.drift_n:+.0f} N since it was calibrated (auto-zeroed): "
                "recalibrate, or check the load cells and their cables.")

    def status(self) -> dict:
        """What the live page and /api/live/status show about the plate and the sampler."""
        with self._cond:
            text, stats, body_weight_n = self._status_locked(), self._stats_locked(), self._body_weight_n
            error, finished = self._error, self._finished
            n_events = self._events_forgotten + len(self._events)
        source = self.source
        return {
            "source": source.describe(),
            "source_name": source.name,
            "is_simulated": bool(source.is_simulated),
            "warning": source.warning or self._drift_warning(),
            "drift_n": None if self._pipeline is None else round(self._auto_zero.drift_n, 1),
            "kernel": sampling.KERNEL,
            "channels": int(source.channels),
            "nominal_rate_hz": float(source.rate_hz),
            "adc": source.adc,
            "running": self.is_running,
            "finished": finished,
            "error": error,
            "status": text,
            "body_weight_n": body_weight_n,
            "thump_bw": self.thump_bw,
            "min_peak_bw": self.min_peak_bw,
            "events": n_events,
            "stats": stats,
        }

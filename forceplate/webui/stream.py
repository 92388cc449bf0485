"""Server-Sent Events for the live page: the messages, and the loop that paces them.

Formatting happens here, in the web server's thread, on copies the LivePlate handed out: never in the sampler.
"""
from __future__ import annotations

import json
import math
import threading
import time

import numpy as np


def decimate_min_max(t_s, force_n, rate_hz, *, max_points_per_s=200.0):
    """Thin a trace to at most about ``max_points_per_s`` points per second, keeping each bucket's min and max.

    A plain every-n-th sample would miss a short impact peak; min and max of each bucket keep every peak
    and trough visible, in their time order. Traces already at or below the limit come back unchanged.

    Parameters
    ----------
    t_s, force_n : array_like, shape (n,)
        Sample times (s) and force (N, NaN for invalid samples). Not modified.
    rate_hz : float
        The trace's sample rate (Hz).
    max_points_per_s : float
        The budget; each bucket of ceil(2 * rate_hz / max_points_per_s) samples gives two points.

    Returns
    -------
    (t_s, force_n) : ndarrays
        A bucket whose samples are all NaN gives one NaN point, so the trace shows a gap.
    """
    t_s = np.asarray(t_s, dtype=np.float64)
    force_n = np.asarray(force_n, dtype=np.float64)
    if not rate_hz or rate_hz <= max_points_per_s or t_s.size <= 2:
        return t_s, force_n
    bucket = int(math.ceil(2.0 * rate_hz / max_points_per_s))
    if bucket < 3:   # a bucket of 2 samples gives 2 points: nothing to gain
        return t_s, force_n
    out_t, out_f = [], []
    for start in range(0, t_s.size, bucket):
        seg_t, seg_f = t_s[start:start + bucket], force_n[start:start + bucket]
        valid = ~np.isnan(seg_f)
        if not valid.any():
            out_t.append(seg_t[0])
            out_f.append(np.nan)
            continue
        idx = np.flatnonzero(valid)
        i_min, i_max = idx[np.argmin(seg_f[idx])], idx[np.argmax(seg_f[idx])]
        for i in sorted({i_min, i_max}):
            out_t.append(seg_t[i])
            out_f.append(seg_f[i])
    return np.array(out_t), np.array(out_f)


def json_safe(value):
    """``value`` with numpy scalars as Python numbers and NaN or infinity as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _rounded(values, digits):
    return [None if math.isnan(v) else round(v, digits) for v in values.tolist()]


def update_message(update, rate_hz, *, max_points_per_s=200.0) -> dict:
    """The JSON body of one stream message, from a LivePlate Update.

    ``t`` in s since the plate started (ms resolution), ``f`` total force in N (0.1 N), null for invalid.
    ``pending``: the impacts not final yet (``"provisional": true``, ``"key"``), the current list in full.
    """
    t_s, force_n = decimate_min_max(update.t_s, update.force_n, rate_hz, max_points_per_s=max_points_per_s)
    return {
        "t": _rounded(t_s, 4),
        "f": _rounded(force_n, 1),
        "events": json_safe(update.events),
        "pending": json_safe(getattr(update, "pending", [])),   # provisional impacts, the whole list each time
        "body_weight_n": json_safe(update.body_weight_n),
        "status": update.status,
        "stats": json_safe(update.stats),
        "lost": update.lost_samples,
        "running": update.is_running,
    }


def sse(data: dict | None = None, *, event: str | None = None, comment: str | None = None,
        retry_ms: int | None = None) -> bytes:
    """One Server-Sent Events message (text/event-stream), ending in the blank line that dispatches it."""
    lines = []
    if comment is not None:
        lines.append(f": {comment}")
    if retry_ms is not None:
        lines.append(f"retry: {int(retry_ms)}")
    if event is not None:
        lines.append(f"event: {event}")
    if data is not None:
        lines.append("data: " + json.dumps(data, allow_nan=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


class SetFeed:
    """What one live-page connection has had of the sets (SetController): the set's summary in every
    message, and each of its committed events once."""

    def __init__(self, sets):
        self.sets = sets
        self.session = None
        self.count = 0

    def message(self) -> dict | None:
        if self.sets is None:
            return None
        current, last = self.sets.current(), self.sets.last()
        owner = current or last
        events = []
        if owner is not None:
            if owner["session"] != self.session:
                self.session, self.count = owner["session"], 0
            events = self.sets.events(self.session, self.count)
            self.count += len(events)
        return json_safe({"state": self.sets.state, "fault": self.sets.fault, "current": current, "last": last,
                          "events": events, "selected": {"person_id": self.sets.selected_person_id,
                                                         "exercise": self.sets.selected_exercise}})


def stream_messages(plate, stopping, *, trace_s=10.0, interval_s=1 / 15, heartbeat_s=5.0, max_s=180.0,
                    retry_ms=2000, max_points_per_s=200.0, clock=time.monotonic, sets=None):
    """Yield the SSE messages of one live-page connection.

    First a ``hello`` event with the plate's status and the last ``trace_s`` seconds and recent events (the
    client starts afresh on every hello), then a message at most every ``interval_s`` while there is news,
    a heartbeat comment after ``heartbeat_s`` of silence, and after ``max_s`` a ``bye`` event so the client
    reconnects (no stream lives forever). Ends within about ``interval_s`` of ``stopping`` being set
    (the server calls plate.wake_waiters() too). With ``sets`` (a SetController) every message carries
    ``set``: the recording or last set, who is chosen (``selected``: person_id and exercise, so every open page
    shows the same person) and the set's events not sent before on this connection; a set's new rep
    goes out at once, without waiting for the rest of the interval (a typed set's verdict is due within
    0.2 s of the peak).
    """
    news = threading.Event()              # a set's rep (or its start, end, a withdrawal): send now

    def on_set_event(event: dict) -> None:
        if event.get("kind") in ("rep", "withdrawn", "set_started", "set_ended", "fault", "selected", "cap_reached"):
            news.set()

    if sets is not None:
        sets.add_listener(on_set_event)
    try:
        yield from _stream_messages(plate, stopping, news, trace_s=trace_s, interval_s=interval_s,
                                    heartbeat_s=heartbeat_s, max_s=max_s, retry_ms=retry_ms,
                                    max_points_per_s=max_points_per_s, clock=clock, sets=sets)
    finally:
        if sets is not None:
            sets.remove_listener(on_set_event)


def _stream_messages(plate, stopping, news, *, trace_s, interval_s, heartbeat_s, max_s, retry_ms, max_points_per_s,
                     clock, sets):
    cursor = plate.cursor(back_s=trace_s)
    rate_hz = float(plate.source.rate_hz)
    first = plate.update(cursor)
    cursor = first.cursor
    feed = SetFeed(sets)
    hello = {"plate": json_safe(plate.status()), "trace_s": trace_s} | update_message(
        first, rate_hz, max_points_per_s=max_points_per_s)
    if sets is not None:
        hello["set"] = feed.message()
    yield sse(hello, event="hello", retry_ms=retry_ms)
    started = last_sent = clock()
    while not stopping.is_set():
        now = clock()
        if now - started >= max_s:
            yield sse({"reason": "stream time limit; reconnect"}, event="bye")
            return
        # Pace the messages: batch whatever arrives within one interval into one message; a set's rep at once.
        news.wait(max(0.0, interval_s - (now - last_sent)))
        if stopping.is_set():
            return
        news.clear()
        update = plate.wait_for_update(cursor, timeout_s=min(heartbeat_s, 0.5))
        if stopping.is_set():
            return
        if update.is_empty and update.is_running:
            if clock() - last_sent >= heartbeat_s:
                yield sse(comment="heartbeat")
                last_sent = clock()
            continue
        cursor = update.cursor
        message = update_message(update, rate_hz, max_points_per_s=max_points_per_s)
        if sets is not None:
            message["set"] = feed.message()
        yield sse(message)
        last_sent = clock()
        if not update.is_running:
            # Sampling has ended (a finished replay, or an error the status names): tell the client, then
            # keep the connection quiet but alive with heartbeats rather than reconnecting in a loop.
            while not stopping.wait(heartbeat_s):
                if clock() - started >= max_s:
                    yield sse({"reason": "stream time limit; reconnect"}, event="bye")
                    return
                yield sse(comment="heartbeat")
            return

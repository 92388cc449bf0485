"""Recording sessions: the live pipeline (counts -> newtons -> LiveAnalyzer) and its writes to the store.

:class:`ForcePipeline` is the one path from a source's Frames to total force and events, shared by the live
page (:class:`forceplate.live.plate.LivePlate`) and ``forceplate record``, so both see the same events.
:class:`SessionWriter` puts one session into the store as it happens: each batch of events committed before
anyone is told of it, the raw sample sets in chunks of about a second (committed at least once a second of
the source's clock). :class:`Recorder` joins the two into one recorded session, for ``forceplate record``
and for each set of the live page (forceplate.live.sets).

Time is in seconds since the session's start on the source's own clock, put back on the source's time scale
when it plays faster than real time (``speed``): ``t_s = (t_ns - clock_origin_ns) * speed / 1e9``. The store
keeps ``clock_origin_ns`` and ``speed``, so an export gives the analysis exactly the times the live run had.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..device.frames import Frames
from ..signal.calibration import counts_to_newtons
from ..storage.store import LOADING_KINDS, not_counted_reason

OVER_LIMIT_REASON = "Over today's impact limit"
CHUNK_S = 1.0              # seconds of recording per raw chunk
MAX_CHUNK_CLOCK_S = 1.0    # a chunk is committed at least this often on the source's clock, whatever the speed


@dataclass(frozen=True)
class Processed:
    """One batch through the pipeline."""
    t_s: np.ndarray          # (n,) s since start, on the source's time scale
    total_n: np.ndarray      # (n,) total vertical force, N; NaN where any cell's word was flagged
    events: list[dict]       # events that became final with this batch (contract dicts)
    cells_n: np.ndarray | None = None   # (n, ch) force of each cell, N (NaN where flagged)


class ForcePipeline:
    """Counts to newtons to the LiveAnalyzer, for one source. Not thread-safe: one thread feeds it.

    Parameters
    ----------
    source : LoadCellSource
        Read by the caller; the pipeline uses its calibration, rate, adc, clock and ``speed``, and the
        chips' fitted filter when it carries one (``hx711_model``, set from `forceplate doctor`'s fit).
    thump_bw, min_peak_bw, body_mass_kg, exercise, body_height_m, chair_height_m
        As for the LiveAnalyzer (and ``forceplate analyze``).
    """

    def __init__(self, source, *, thump_bw=2.5, min_peak_bw=1.3, body_mass_kg=None, exercise="free",
                 body_height_m=None, chair_height_m=None):
        from ..signal.streaming import LiveAnalyzer
        self.source = source
        self.exercise = exercise
        self.thump_bw = float(thump_bw)
        self.min_peak_bw = float(min_peak_bw)
        self.analyzer = LiveAnalyzer(source.rate_hz, adc=source.adc, thump_bw=thump_bw,
                                     min_peak_bw=min_peak_bw, body_mass_kg=body_mass_kg, exercise=exercise,
                                     body_height_m=body_height_m, chair_height_m=chair_height_m,
                                     hx711_model=getattr(source, "hx711_model", None))
        self.body_height_m, self.chair_height_m = body_height_m, chair_height_m
        self.speed = float(getattr(source, "speed", 1.0) or 1.0)
        self.offset_counts = np.asarray(source.offset_counts, dtype=np.float64).copy()
        self.scale_n_per_count = np.asarray(source.scale_n_per_count, dtype=np.float64).copy()
        self.clock_origin_ns: int | None = None

    def start(self) -> int:
        """Time zero is now, on the source's clock; returns it (ns)."""
        self.clock_origin_ns = int(self.source.ticks_ns())
        return self.clock_origin_ns

    def t_s(self, t_ns) -> np.ndarray:
        """Seconds since start on the source's time scale, of clock timestamps (ns)."""
        return (np.asarray(t_ns, dtype=np.int64) - self.clock_origin_ns) * (self.speed / 1e9)

    def process(self, frames: Frames) -> Processed:
        cells_n = counts_to_newtons(frames.raw_counts, frames.flags, self.offset_counts, self.scale_n_per_count)
        total_n = cells_n.sum(axis=1)                        # NaN when any cell's word was flagged
        t_s = self.t_s(frames.t_ns)
        return Processed(t_s, total_n, self.analyzer.feed(t_s, total_n), cells_n)

    def flush(self) -> list[dict]:
        """The stream has ended: the events still pending (as analysing the whole recording would give)."""
        return self.analyzer.flush()

    def provisional(self) -> list[dict]:
        """The impacts not final yet whose verdict can already be shown (LiveAnalyzer.provisional)."""
        return self.analyzer.provisional()

    @property
    def body_weight_n(self) -> float | None:
        return self.analyzer.body_weight_n

    @property
    def status(self) -> str:
        return self.analyzer.status


def cell_names(source) -> list[str]:
    """The force column of each load cell: a replay's own columns, else fz1_n, fz2_n, ..."""
    columns = getattr(source, "columns", None)
    if columns and len(columns) == source.channels:
        return [str(c) for c in columns]
    return [f"fz{i + 1}_n" for i in range(source.channels)]


def is_impact(event: dict) -> bool:
    """An impact or jump with a peak (a landing): one of the daily cap's impacts. A jump still in the air at
    the end has none."""
    return event.get("kind") in LOADING_KINDS and any(
        isinstance(event.get(k), (int, float)) and np.isfinite(event.get(k)) for k in ("peak_n", "peak_bw"))


class SessionWriter:
    """Writes one session to the store as it is recorded. Use from one thread (the store's).

    Raw sets are buffered and committed as a chunk once the buffer holds ``CHUNK_S`` seconds of recording
    or spans ``MAX_CHUNK_CLOCK_S`` of the source's clock; events are committed at once.
    """

    def __init__(self, store, session_id: int, *, rate_hz: float):
        self.store = store
        self.session_id = session_id
        self.chunk_sets = max(1, int(round(CHUNK_S * float(rate_hz))))
        self.max_chunk_clock_ns = int(MAX_CHUNK_CLOCK_S * 1e9)
        self._pending: list[Frames] = []
        self._pending_sets = 0
        self.sets = 0
        self.events = 0          # reps that count
        self.thumps = 0
        self.not_counted = 0     # reps stored and shown that count for nothing (``counted`` false)
        self.impacts = 0         # counted impacts and landings (with a peak): the daily cap's count

    @classmethod
    def start(cls, store, person_id: int, source, pipeline: ForcePipeline, *, source_spec: str | None = None):
        """Open a session for ``person_id`` recording ``source`` through ``pipeline`` (already started)."""
        session_id = store.start_session(
            person_id, source=source_spec or source.name, rate_hz=source.rate_hz, adc=source.adc,
            cells=cell_names(source), offset_counts=pipeline.offset_counts,
            scale_n_per_count=pipeline.scale_n_per_count, clock_origin_ns=pipeline.clock_origin_ns,
            speed=pipeline.speed, thump_bw=pipeline.thump_bw, min_peak_bw=pipeline.min_peak_bw,
            exercise=pipeline.exercise)
        return cls(store, session_id, rate_hz=source.rate_hz)

    def add_frames(self, frames: Frames) -> None:
        if not frames.n_sets:
            return
        self._pending.append(frames)
        self._pending_sets += frames.n_sets
        self.sets += frames.n_sets
        if self._pending_sets >= self.chunk_sets:
            self.flush_frames(whole_chunks_only=True)    # full chunks now, the rest waits for more
        if self._pending and int(frames.t_ns[-1]) - int(self._pending[0].t_ns[0]) >= self.max_chunk_clock_ns:
            self.flush_frames()                          # at least once a second of the clock, whatever came

    def flush_frames(self, *, whole_chunks_only: bool = False) -> None:
        """Commit the buffered sets in chunks of ``chunk_sets`` (and the remainder, unless told not to)."""
        if not self._pending:
            return
        t_ns = np.concatenate([f.t_ns for f in self._pending])
        counts = np.concatenate([f.raw_counts for f in self._pending])
        flags = np.concatenate([f.flags for f in self._pending])
        n = t_ns.shape[0]
        end = n - n % self.chunk_sets if whole_chunks_only else n
        stored = 0
        try:
            for i in range(0, end, self.chunk_sets):
                part = slice(i, min(i + self.chunk_sets, end))
                self.store.add_raw_chunk(self.session_id, Frames(t_ns[part], counts[part], flags[part]))
                stored = part.stop
        finally:       # a chunk that failed stays pending; the ones committed before it must not be stored twice
            self._pending = [Frames(t_ns[stored:], counts[stored:], flags[stored:])] if stored < n else []
            self._pending_sets = n - stored

    @property
    def pending_sets(self) -> int:
        """Sample sets buffered, not committed yet."""
        return self._pending_sets

    def add_events(self, events: list[dict]) -> list[dict]:
        """Commit events; returns them as reported: each with ``session`` and ``seq``.

        A ``{"kind": "withdrawn", "t_peak_s": T, "reason": R}`` dict takes back the impact committed earlier
        with that peak time (:meth:`Store.withdraw_event`, after this batch's events are committed): it is
        reported as given plus ``session`` and the withdrawn impact's ``seq`` (None when no stored impact
        matched: then nothing changed), and the counts go down.

        An event with ``counted`` false is stored and reported but counts in none of the totals
        (``not_counted`` counts it)."""
        if not events:
            return []
        kept = [e for e in events if e.get("kind") != "withdrawn"]
        seqs = iter(self.store.add_events(self.session_id, kept))
        counted = [e for e in kept if not_counted_reason(e) is None]
        self.events += len(counted)
        self.not_counted += len(kept) - len(counted)
        self.thumps += sum(1 for e in counted if e.get("thump") and e.get("kind") in LOADING_KINDS)
        self.impacts += sum(1 for e in counted if is_impact(e))
        reported = []
        for event in events:             # in the analyser's order; withdrawals refer to earlier impacts
            if event.get("kind") != "withdrawn":
                reported.append({**event, "session": self.session_id, "seq": next(seqs)})
                continue
            withdrawn = self.store.withdraw_event(self.session_id, event["t_peak_s"], event.get("reason") or "withdrawn")
            if withdrawn is not None and withdrawn.get("counted", True):
                self.events -= 1
                self.impacts -= 1 if is_impact(withdrawn) else 0
                self.thumps -= 1 if withdrawn.get("thump") else 0
            elif withdrawn is not None:
                self.not_counted -= 1
            reported.append({**event, "session": self.session_id,
                             "seq": None if withdrawn is None else withdrawn["seq"]})
        return reported

    def finish(self, *, status: str = "complete", body_weight_n: float | None = None) -> None:
        """Commit what is buffered and close the session."""
        self.flush_frames()
        self.store.end_session(self.session_id, status=status, body_weight_n=body_weight_n)


@dataclass(frozen=True)
class Ingested:
    """What one batch added to a recording."""
    events: list[dict]               # the new events, committed, as reported (with ``session`` and ``seq``)
    processed: Processed | None      # the batch's part of the recording through the pipeline; None if empty


class Recorder:
    """One session from one source into the store, in the calling thread: ``start``, ``ingest``, ``finish``
    (or ``interrupt``), then ``summary``.

    The one way a session is recorded: ``forceplate record`` records its whole run with one, and each set on
    the live page is one (forceplate.live.sets). Each batch's events are committed before ``ingest`` returns
    them, then its raw sets are buffered for the store (:class:`SessionWriter`).

    Parameters
    ----------
    store : Store
        This thread's store.
    source : LoadCellSource
        An open source; the recorder reads nothing itself (the caller reads and passes Frames).
    person_id : int
    source_spec : str, optional
        How the source was named (kept with the session); else the source's name.
    thump_bw, min_peak_bw, body_mass_kg
        As for the LiveAnalyzer (and ``forceplate analyze``).
    max_s : float, optional
        Sets after this many seconds of recording are left out (``record --seconds``).
    skip_sets_before_start : bool
        Leave out sets stamped before :meth:`start`: a recording that begins on a plate already sampling (a
        set) gets a batch read across its start. A source opened for this recording keeps all it delivers.
    jump_note : str, optional
        Stored with every jump (as the event's ``note``), e.g. when jumps are not allowed for this person: such
        a jump is kept and shown but does not count (``counted`` false, ``not_counted_reason`` the note): never
        a thump (``thump`` null, the measured verdict in ``thump_if_allowed``), so neither the set's reps and
        thumps, the session's counts, peaks and dose, the programme nor the buzzer count it.

    Every event the recorder reports and stores has ``counted`` (bool) and ``not_counted_reason`` (None when it
    counts).
    exercise : str
        What the person was asked to do (:mod:`forceplate.signal.exercises`): the analysis applies its rules.
    impact_limit : int, optional
        At most this many impacts count in this recording (what today's daily impact cap leaves): a further
        impact or landing is stored and shown with ``counted`` false (``not_counted_reason``
        :data:`OVER_LIMIT_REASON`), never a thump (``thump`` null, the verdict in ``thump_if_allowed``). :attr:`limit_reached` says when the limit is used up.
    """

    def __init__(self, store, source, person_id: int, *, source_spec: str | None = None, thump_bw=2.5,
                 min_peak_bw=1.3, body_mass_kg=None, max_s: float | None = None,
                 skip_sets_before_start: bool = False, jump_note: str | None = None, exercise: str = "free",
                 impact_limit: int | None = None):
        self.store = store
        self.source = source
        self.person_id = person_id
        self.source_spec = source_spec
        self.max_s = None if max_s is None else float(max_s)
        self.skip_sets_before_start = bool(skip_sets_before_start)
        self.jump_note = jump_note
        self.impact_limit = None if impact_limit is None else max(0, int(impact_limit))
        self.pipeline = ForcePipeline(source, thump_bw=thump_bw, min_peak_bw=min_peak_bw,
                                      body_mass_kg=body_mass_kg, exercise=exercise)
        self.writer: SessionWriter | None = None
        self.last_t_s = 0.0
        self.status = "recording"         # until finish() or interrupt()

    @property
    def session_id(self) -> int:
        return self.writer.session_id

    @property
    def is_done(self) -> bool:
        """True once ``max_s`` seconds have been recorded."""
        return self.max_s is not None and self.last_t_s >= self.max_s

    @property
    def events(self) -> int:
        """Events committed so far."""
        return self.writer.events

    @property
    def thumps(self) -> int:
        return self.writer.thumps

    @property
    def not_counted(self) -> int:
        """Reps stored and shown that count for nothing (a jump in the clinician-approved mode)."""
        return self.writer.not_counted

    @property
    def impacts(self) -> int:
        """Counted reps that load the skeleton (impacts and jumps; a sit-to-stand rep is none)."""
        return self.writer.impacts

    def start(self) -> int:
        """Open the session (time zero is now on the source's clock); its id."""
        self.pipeline.start()
        self.writer = SessionWriter.start(self.store, self.person_id, self.source, self.pipeline,
                                          source_spec=self.source_spec)
        return self.writer.session_id

    def ingest(self, frames: Frames) -> Ingested:
        """Analyse and store a batch: its new events (already committed) and the batch through the pipeline."""
        frames = self._sets_of_this_recording(frames)
        if not frames.n_sets:
            return Ingested([], None)
        processed = self.pipeline.process(frames)
        self.last_t_s = max(self.last_t_s, float(processed.t_s[-1]))
        reported = self._commit(processed.events)              # before anyone hears of them, before raw sets
        self.writer.add_frames(frames)
        return Ingested(reported, processed)

    def finish(self, *, status: str = "complete") -> list[dict]:
        """End the session: its last events (committed), as reported."""
        reported = self._commit(self.pipeline.flush())
        self.writer.finish(status=status, body_weight_n=self.pipeline.body_weight_n)
        self.status = status
        return reported

    def summary(self) -> dict:
        """The ended session in one line (``record``'s last): counts, duration, body weight."""
        body_weight_n = self.pipeline.body_weight_n
        return {"kind": "summary", "session": self.session_id, "person": self.store.person(self.person_id)["name"],
                "status": self.status, "duration_s": round(self.last_t_s, 3), "sets": self.writer.sets,
                "events": self.writer.events, "thumps": self.writer.thumps, "not_counted": self.writer.not_counted,
                "body_weight_n": None if body_weight_n is None else round(float(body_weight_n), 1)}

    def interrupt(self) -> str | None:
        """Something failed (the plate, the disk): end the session ``interrupted``, analysing no more.

        The buffered raw sets are committed if the store still takes them. A store that refuses (a full disk)
        loses them, and the session still ends ``interrupted``: left ``recording``, its pain answer would be
        refused and no export would take it. If even that update is refused, the session's lock is released,
        so the next ``Store.mark_interrupted`` closes it. Returns what was lost, in words (None: nothing)."""
        self.status = "interrupted"
        lost = []
        try:
            self.writer.flush_frames()
        except Exception:          # noqa: BLE001 - whatever the store raised, the session must still end
            lost.append(f"{self.writer.pending_sets} raw sample sets not stored")
        try:
            self.writer.store.end_session(self.session_id, status="interrupted",
                                          body_weight_n=self.pipeline.body_weight_n)
        except Exception:          # noqa: BLE001 - its lock is released: mark_interrupted() ends it later
            lost.append("its end time and summary not stored yet")
        return "; ".join(lost) or None

    def _sets_of_this_recording(self, frames: Frames) -> Frames:
        if not frames.n_sets or (self.max_s is None and not self.skip_sets_before_start):
            return frames
        keep = np.ones(frames.n_sets, dtype=bool)
        if self.skip_sets_before_start:
            keep &= frames.t_ns >= self.pipeline.clock_origin_ns
        if self.max_s is not None:
            is_early = self.pipeline.t_s(frames.t_ns) <= self.max_s
            if not is_early.all():
                self.last_t_s = self.max_s
            keep &= is_early
        if keep.all():
            return frames
        return Frames(frames.t_ns[keep], frames.raw_counts[keep], frames.flags[keep])

    @property
    def limit_reached(self) -> bool:
        """True once the counted impacts reach ``impact_limit``."""
        return self.impact_limit is not None and self.writer.impacts >= self.impact_limit

    def _commit(self, events: list[dict]) -> list[dict]:
        events = [self._counted(e) for e in events]
        if self.impact_limit is not None:           # never more impacts than today's cap leaves
            impacts = self.writer.impacts
            for i, event in enumerate(events):
                if event.get("kind") in LOADING_KINDS and event.get("counted") and is_impact(event):
                    if impacts >= self.impact_limit:
                        events[i] = event | {"counted": False, "not_counted_reason": OVER_LIMIT_REASON,
                                             "thump": None, "thump_if_allowed": event.get("thump")}
                    else:
                        impacts += 1
        return self.writer.add_events(events)

    def _counted(self, event: dict) -> dict:
        """The event with ``counted`` and ``not_counted_reason`` (a withdrawal as it is)."""
        if event.get("kind") == "withdrawn":
            return event
        if self.jump_note is not None and event.get("kind") == "jump":
            # a jump this person may not do yet: kept and shown, noted, counting for nothing
            return event | {"note": self.jump_note, "thump": None, "thump_if_allowed": event.get("thump"),
                            "counted": False, "not_counted_reason": self.jump_note}
        return event | {"counted": True, "not_counted_reason": None}

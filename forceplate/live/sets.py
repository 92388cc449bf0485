"""Recording sets from the live plate (``forceplate serve``): one set at a time, for one person.

:class:`SetController` listens to the LivePlate (``LivePlate.add_listener``). While a set records, the
sampler thread only puts each batch on a queue (``SimpleQueue.put`` never blocks), and a writer thread that
owns its own Store drains it into the set's :class:`~forceplate.live.pipeline.Recorder` (the one that
``forceplate record`` uses), with the person's target peak as the thump threshold and their body mass: events
committed before anyone hears of them, the raw sets about once a second. So the sampler never waits on
SQLite, and what the live page shows of a set is what the history will show.

A set ends ``complete`` when it is stopped (the page, the GPIO panel's button), when the person steps off
(the plate empty for ``step_off_end_s`` seconds after someone stood on it), when the recording source ends,
or when the server stops (:meth:`SetController.close`). A crash leaves it ``recording`` for the store to
mark ``interrupted`` (its lock dies with the process). A failing disk puts the controller in ``fault``.

Each set is one exercise (:mod:`forceplate.signal.exercises`; ``free`` when none is chosen), stored with its
session and given to the analysis. A set of an exercise the person may not do today (jumps or drop landings
in the clinician-approved mode) does not start.

Listeners (``add_listener``) hear, from the writer thread or the caller's: ``selected``, ``set_started``, ``rep``,
``withdrawn`` (the analysis took back a rep it had sent: ``{"kind": "withdrawn", "session", "event",
"message"}``), ``jump_not_allowed``, ``cap_reached`` (``{"kind", "session", "message"}``: today's impact cap
ends the set, just before its ``set_ended``), ``set_ended`` and ``fault`` dicts. They must return quickly and not raise.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import shutil
import threading

import numpy as np

from ..exc import ForcePlateError
from ..programme.rules import LEVELS
from ..programme.standing import (SIT_TO_STAND_TARGET, guided_session, next_time, reps_summary, set_plan_of,
                                  standing_of, target_text, why_no_set)
from .listeners import Listeners
from .pipeline import Recorder
from ..signal.exercises import FREE, LABELS, SIT_TO_STAND, check_exercise
from ..signal.common import STANDARD_GRAVITY_M_S2 as G_M_S2
from ..signal.jumps import flight_threshold

log = logging.getLogger(__name__)

STEP_OFF_END_S = 5.0          # the plate empty this long (s, source time scale) after someone stood on it
REPLY_TIMEOUT_S = 15.0        # a command the writer does not answer within this long is a fault
JUMP_NOTE = "No jumps while waiting for clinician approval"


def correction_message(reason: str | None) -> str:
    """What the live page and the panel say when a rep is withdrawn, e.g. "Corrected: that was a jump's
    push-off" (the analysis' reason, else a plain sentence)."""
    reason = str(reason or "").strip()
    return f"Corrected: {reason}" if reason else "Corrected: that was not a rep"


class SetError(ForcePlateError):
    """A set cannot start or stop as asked (one is already recording, nobody chosen, unknown person)."""


def free_disk_mb(store_path) -> float:
    """Free space (MB, 10^6 bytes) for an unprivileged writer on the disk holding the database."""
    folder = store_path if os.path.isdir(store_path) else os.path.dirname(os.path.abspath(store_path))
    return shutil.disk_usage(folder).free / 1e6


class SetController:
    """Start and stop sets on a running LivePlate; thread-safe.

    Parameters
    ----------
    plate : LivePlate
        Listened to from construction until :meth:`close` (other listeners are untouched).
    store_path : path
        The database (file or folder); the writer thread opens its own Store on it.
    source_spec : str, optional
        How the source was named (kept with each session).
    step_off_end_s : float
        Seconds of empty plate, after someone stood on it, that end a set.
    today : callable, optional
        Today's date (tests pass a fixed one); the programme rules judge by it.
    min_free_disk_mb : float
        A set does not start with less free space than this (MB) on the database's disk: a full disk stops a
        recording half-way, and anything else (a log, an upload) may be filling it.
    """

    def __init__(self, plate, store_path, *, source_spec: str | None = None, step_off_end_s: float = STEP_OFF_END_S,
                 today=dt.date.today, min_free_disk_mb: float = 0.0):
        self.plate = plate
        self.min_free_disk_mb = float(min_free_disk_mb)
        self.store_path = store_path
        self.source_spec = source_spec
        self.step_off_end_s = float(step_off_end_s)
        self.today = today
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._accepting = False             # read by the sampler thread without a lock (a bool is atomic)
        self._command_lock = threading.Lock()   # one start/stop at a time
        self._state_lock = threading.Lock()     # short: the snapshot the web pages read
        self._listeners = Listeners("set listener")
        self._current: dict | None = None
        self._last: dict | None = None
        self._events: list[dict] = []
        self._fault: str | None = None
        self.selected_person_id: int | None = None
        self.selected_exercise: str | None = None     # None: nobody chose one yet (toggle: free)
        self._closed = False
        plate.add_listener(self._on_batch)
        self._store_opened = threading.Event()
        self._thread = threading.Thread(target=self._writer_loop, name="forceplate-set-writer", daemon=True)
        self._thread.start()
        self._store_opened.wait(REPLY_TIMEOUT_S)     # migrations run once, before anyone else writes

    # -- the API -------------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``"recording"``, ``"fault"`` (the writer failed, or the sampler stopped with an error) or ``"ready"``."""
        with self._state_lock:
            if self._fault is not None:
                return "fault"
            if self._current is not None:
                return "recording"
        return "fault" if self.plate.error else "ready"

    @property
    def fault(self) -> str | None:
        with self._state_lock:
            return self._fault or self.plate.error

    def add_listener(self, callback) -> None:
        """Call ``callback(event_dict)`` on every set event (see the module docstring)."""
        self._listeners.add(callback)

    def remove_listener(self, callback) -> None:
        self._listeners.remove(callback)

    def select(self, person_id: int | None, exercise: str | None = None) -> None:
        """The person, and the exercise (unchanged when None), a ``toggle()`` starts a set of (the live
        page's choice). Raises SetError for an exercise that is not one of forceplate.signal.exercises.
        Listeners hear ``{"kind": "selected", "person_id", "exercise"}`` (every open page follows)."""
        if exercise is not None:
            self.selected_exercise = _checked(exercise)
        self.selected_person_id = None if person_id is None else int(person_id)
        self._notify({"kind": "selected", "person_id": self.selected_person_id, "exercise": self.selected_exercise})

    def start(self, person_id: int, exercise: str = FREE) -> int:
        """Start a set of ``exercise`` for ``person_id``; its session id. Raises SetError when one is recording,
        or when the exercise is unknown or not allowed for that person today (jumps and drop landings in the
        clinician-approved mode): then no session is opened."""
        exercise = _checked(exercise)
        with self._command_lock:
            if self._closed:
                raise SetError("the server is stopping")
            if self.state == "recording":
                raise SetError("a set is already recording: stop it first")
            if self.plate.error:
                raise SetError(f"the plate has stopped: {self.plate.error}")
            free_mb = free_disk_mb(self.store_path)
            if free_mb < self.min_free_disk_mb:
                raise SetError(f"only {free_mb:.0f} MB free on the data disk; a set needs at least "
                               f"{self.min_free_disk_mb:.0f} MB: export old sessions to USB and delete them, "
                               "or free space otherwise")
            self.selected_person_id = int(person_id)
            self.selected_exercise = exercise
            self._accepting = True               # from here on every batch reaches the writer
            try:
                info = self._ask("start", (int(person_id), exercise))
            except BaseException:
                self._accepting = False
                raise
        self._notify({"kind": "set_started"} | info)
        return info["session"]

    def stop(self, pain: bool | None = None, *, reason: str = "stopped", changed_by: str = "plate") -> dict | None:
        """End the recording set (``complete``); its summary, or None when none was recording.

        ``pain``: the answer to "did anything hurt?" when it is already known (else asked afterwards), kept
        in the audit log as said by ``changed_by``.
        """
        with self._command_lock:
            if self.current() is None:
                return None
            return self._ask("stop", (pain, reason, changed_by))

    def wait_idle(self, timeout_s: float = REPLY_TIMEOUT_S) -> None:
        """Return once the writer has handled every batch queued before this call (tests, shutdown)."""
        reply: queue.SimpleQueue = queue.SimpleQueue()
        self._queue.put(("sync", None, reply))
        reply.get(timeout=timeout_s)

    def toggle(self) -> int | dict | None:
        """The panel's button: stop the recording set, or start one of the chosen exercise (the last one
        selected or started) for the selected person."""
        if self.current() is not None:
            return self.stop(reason="stopped on the plate")
        if self.selected_person_id is None:
            raise SetError("choose a person on the live page first")
        return self.start(self.selected_person_id, self.selected_exercise or FREE)

    def plan_for(self, person_id: int) -> dict:
        """Today's guided session of a person (:func:`forceplate.programme.standing.guided_session`): the
        exercises with their sets planned and done, reps per set, target and rest, what comes next (None when
        today's plan is done) and today's numbers so far. Raises SetError for an unknown person."""
        from ..storage.store import Store
        with Store(self.store_path, mark_interrupted=False) as store:
            try:
                return guided_session(store, int(person_id), self.today())
            except LookupError:
                raise SetError("that person is not in the database (were they removed?)") from None

    def current(self) -> dict | None:
        """The recording set (session, person, target, reps, thumps, ...), or None."""
        with self._state_lock:
            return None if self._current is None else dict(self._current)

    def last(self) -> dict | None:
        """The newest set that ended (its summary), or None."""
        with self._state_lock:
            return None if self._last is None else dict(self._last)

    def events(self, session_id: int, start: int = 0) -> list[dict]:
        """The events of the recording (or last) set from number ``start`` on, as committed."""
        with self._state_lock:
            owner = self._current or self._last
            if owner is None or owner["session"] != session_id:
                return []
            return [dict(e) for e in self._events[start:]]

    def close(self, timeout_s: float = 10.0) -> None:
        """The server is stopping: end the recording set cleanly (``complete``) and stop the writer."""
        with self._command_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.stop(reason="the server stopped")
        except ForcePlateError as exc:
            log.warning("the set could not end cleanly: %s", exc)
        self.plate.remove_listener(self._on_batch)     # before the writer ends: no batch queued for nobody
        self._queue.put(("close", None, None))
        self._thread.join(timeout_s)

    # -- the sampler thread: hand on, never wait ----------------------------------------------------------

    def _on_batch(self, frames, events) -> None:
        if self._accepting:
            self._queue.put(("frames", frames, None))

    # -- commands to the writer thread ---------------------------------------------------------------------

    def _ask(self, command: str, argument):
        reply: queue.SimpleQueue = queue.SimpleQueue()
        self._queue.put((command, argument, reply))
        try:
            ok, value = reply.get(timeout=REPLY_TIMEOUT_S)
        except queue.Empty:
            self._set_fault(f"the recorder did not answer within {REPLY_TIMEOUT_S:g} s")
            raise SetError(f"the recorder did not answer within {REPLY_TIMEOUT_S:g} s") from None
        if not ok:
            raise value
        return value

    def _notify(self, event: dict) -> None:
        self._listeners.call(dict(event))

    def _set_fault(self, message: str) -> None:
        with self._state_lock:
            self._fault = message
        log.error("recording fault: %s", message)
        self._notify({"kind": "fault", "message": message})

    # -- the writer thread ---------------------------------------------------------------------------------

    def _writer_loop(self) -> None:
        from ..storage.store import Store
        store = None
        recording = None
        try:
            store = Store(self.store_path)
        except Exception as exc:          # noqa: BLE001 - shown as the controller's fault
            self._set_fault(f"cannot open the database: {exc}")
        self._store_opened.set()
        while True:
            command, argument, reply = self._queue.get()
            try:
                if command == "frames":
                    if recording is not None:
                        events, ended = recording.ingest(argument)
                        self._report(recording, events)
                        if ended and recording.recorder.limit_reached:
                            self._notify({"kind": "cap_reached", "session": recording.session_id,
                                          "message": recording.cap_message()})
                        if ended:
                            self._finish(store, recording, pain=None, reason=ended)
                            recording = None
                elif command == "start":
                    if store is None:
                        raise SetError(self.fault or "the database is not open")
                    person_id, exercise = argument
                    recording = _Recording(store, person_id, plate=self.plate, source_spec=self.source_spec,
                                           step_off_end_s=self.step_off_end_s, today=self.today(),
                                           exercise=exercise)
                    info = recording.info()
                    with self._state_lock:
                        self._events = []
                        self._current = info
                    reply.put((True, dict(info)))
                elif command == "stop":
                    pain, reason, changed_by = argument
                    summary = None
                    if recording is not None:
                        summary = self._finish(store, recording, pain=pain, reason=reason, changed_by=changed_by)
                        recording = None
                    reply.put((True, summary))
                elif command == "sync":
                    reply.put((True, None))
                elif command == "close":
                    break
            except Exception as exc:      # noqa: BLE001 - the set is kept (interrupted); the state says why
                if reply is not None:
                    reply.put((False, exc if isinstance(exc, ForcePlateError) else SetError(str(exc))))
                if not isinstance(exc, SetError):
                    log.exception("the set recorder failed")
                    if recording is not None:
                        try:
                            lost = recording.recorder.interrupt()
                            if lost:
                                log.error("session %s ended interrupted: %s", recording.session_id, lost)
                        except Exception:        # noqa: BLE001 - the store marks it on the next start
                            log.exception("session %s could not be ended", recording.session_id)
                        recording = None
                        self._accepting = False
                        with self._state_lock:
                            self._current = None
                    self._set_fault(f"recording stopped: {exc}")
        if store is not None:
            store.close()

    def _report(self, recording: "_Recording", events: list[dict]) -> None:
        """The set's progress, and its new events (already committed), to the pages and the listeners."""
        offset_s = recording.plate_offset_s
        with self._state_lock:
            for event in events:
                self._events.append(event | {"t_plate_s": _plus(event.get("t_peak_s"), offset_s),
                                             "takeoff_plate_s": _plus(event.get("takeoff_s"), offset_s)})
            if self._current is not None:
                self._current.update(recording.progress())
        session_id = recording.session_id
        for event in events:
            if event.get("kind") == "withdrawn":
                self._notify({"kind": "withdrawn", "event": event, "session": session_id,
                              "message": correction_message(event.get("reason"))})
                continue
            self._notify({"kind": "rep", "event": event, "session": session_id})
            if event.get("note") == JUMP_NOTE:
                self._notify({"kind": "jump_not_allowed", "session": session_id, "message": JUMP_NOTE})

    def _finish(self, store, recording: "_Recording", *, pain, reason: str, changed_by: str = "plate") -> dict:
        self._accepting = False
        events, summary = recording.finish(pain=pain, reason=reason, changed_by=changed_by)
        self._report(recording, events)
        with self._state_lock:
            self._current = None
            self._last = summary
        self._notify({"kind": "set_ended"} | summary)
        return summary


class _Recording:
    """One set in the writer thread: the person's standing, the set's Recorder, step-off detection.

    It reports what happened (events, why the set ended) and leaves the controller's state to the controller.
    """

    def __init__(self, store, person_id: int, *, plate, source_spec: str | None, step_off_end_s: float,
                 today: dt.date, exercise: str = FREE):
        self.store = store
        try:
            standing = standing_of(store, person_id, today)
        except LookupError:
            raise SetError("that person is not in the database (were they removed?)") from None
        refusal = why_no_set(standing, exercise)
        if refusal:
            raise SetError(refusal)
        self.is_impact_set = exercise != SIT_TO_STAND          # free sets may hold impacts: capped too
        self.daily_impact_cap = int(standing.effective.daily_impact_cap)
        self.standing = standing
        self.today = today
        self.exercise = exercise
        self.body_weight = body_weight_at_start(plate, standing.body_mass_kg)
        self.plan = set_plan_of(guided_session(store, person_id, today, standing), exercise)
        source = plate.source
        self.recorder = Recorder(store, source, person_id, source_spec=source_spec or source.name,
                                 thump_bw=standing.target_bw, min_peak_bw=plate.min_peak_bw,
                                 body_mass_kg=self.body_weight["kg"], skip_sets_before_start=True,
                                 jump_note=JUMP_NOTE if standing.is_restricted else None, exercise=exercise,
                                 impact_limit=standing.impacts_left_today if self.is_impact_set else None)
        session_id = self.recorder.start()
        store.set_session_restricted(session_id, standing.is_restricted)
        store.set_session_body_weight(session_id, mass_kg=self.body_weight["kg"], source=self.body_weight["source"],
                                      warning=self.body_weight["warning"])
        bw = self.body_weight
        if bw["warning"]:
            log.warning("session %s: %s", session_id, bw["warning"])
        log.info("session %s: body-weight multiples use %s kg (%s; plate %s kg, profile %s kg)", session_id,
                 bw["kg"], bw["source"] or "weighed during the set", bw["plate_kg"], bw["profile_kg"])
        self.step_off_end_s = float(step_off_end_s)
        self.had_person = False
        self.last_loaded_s = 0.0
        self.jumps_flagged = 0
        self.started_at = store.session(session_id)["started_at"]
        # the plate's clock starts earlier: the live chart puts a set's events at t + plate_offset_s
        pipeline = self.recorder.pipeline
        self.plate_offset_s = (0.0 if plate.t0_ns is None
                               else (pipeline.clock_origin_ns - plate.t0_ns) * pipeline.speed / 1e9)

    @property
    def session_id(self) -> int:
        return self.recorder.session_id

    @property
    def cap_reason(self) -> str:
        """Why a set ends at the cap (the set_ended summary's ``reason``)."""
        return f"today's impact limit reached ({self.daily_impact_cap} impacts)"

    def cap_message(self) -> str:
        """What the page and the panel say when the cap ends a set."""
        return (f"Today's impact limit is reached: {self.daily_impact_cap} impacts for "
                f"{self.standing.person['name']}. The set has ended; sit-to-stand is still possible.")

    def info(self) -> dict:
        """Who records what: the set as the live page shows it."""
        s = self.standing
        return {"session": self.session_id, "person_id": s.person["id"], "person": s.person["name"],
                "started_at": self.started_at, "target_bw": s.target_bw, "level": s.effective.level,
                "body_mass_kg": self.body_weight["kg"], "body_weight": dict(self.body_weight),
                "restricted": s.is_restricted,
                "restriction_reasons": list(s.restriction_reasons), "impacts_left_today": s.impacts_left_today,
                "daily_impact_cap": self.daily_impact_cap, "plan": None if self.plan is None else dict(self.plan),
                "reps_per_set": LEVELS[s.effective.level].reps_per_set[1],
                "plate_offset_s": self.plate_offset_s, "exercise": self.exercise,
                "exercise_label": LABELS[self.exercise],
                "target": target_text(self.exercise, s.target_bw),
                "prescribed_exercises": list(s.prescribed_exercises)} | self.progress()

    def progress(self) -> dict:
        """The part of :meth:`info` that changes as the set records."""
        left = self.standing.impacts_left_today
        return {"reps": self.recorder.events, "thumps": self.recorder.thumps, "not_counted": self.recorder.not_counted,
                "impacts_left": max(0, left - self.recorder.impacts) if self.is_impact_set else left,
                "cap_reached": self.recorder.limit_reached, "jumps_flagged": self.jumps_flagged,
                "duration_s": round(self.recorder.last_t_s, 3)}

    def ingest(self, frames) -> tuple[list[dict], str | None]:
        """Store and analyse a batch (None: the source has finished): the new events, already committed, and
        why the set ended (the person stepped off, the source ended), or None."""
        if frames is None:
            return [], "the recording ended"
        batch = self.recorder.ingest(frames)
        self._count_flagged(batch.events)
        if self.recorder.limit_reached:
            return batch.events, self.cap_reason
        processed = batch.processed
        if processed is None:
            return batch.events, None
        # someone is on the plate above the analyser's flight threshold; a flagged (NaN) sample is no proof of absence
        loaded = np.flatnonzero(~(processed.total_n < flight_threshold(self.recorder.pipeline.body_weight_n)))
        if loaded.size:
            self.had_person, self.last_loaded_s = True, float(processed.t_s[loaded[-1]])
        if self.had_person and self.recorder.last_t_s - self.last_loaded_s >= self.step_off_end_s:
            return batch.events, "the person stepped off"
        return batch.events, None

    def finish(self, *, pain, reason: str, changed_by: str) -> tuple[list[dict], dict]:
        """End the set ``complete``: its last events (committed) and its summary."""
        events = self.recorder.finish(status="complete")
        self._count_flagged(events)
        session_id = self.session_id
        if pain is not None:
            self.store.set_pain(session_id, bool(pain), changed_by=changed_by)
        row = self.store.session(session_id)
        counted = [{"kind": e["kind"], "peak_bw": e.get("peak_bw"),
                    "tempo_ok": bool(e.get("is_fast_rise") and e.get("is_slow_lowering"))}
                   for e in self.store.events(session_id) if e["counted"]]
        numbers = reps_summary(counted, self.standing.target_bw)
        after = standing_of(self.store, self.standing.person["id"], self.today)     # this set and its pain in
        return events, self.info() | {
            "status": row["status"], "ended_at": row["ended_at"], "reason": reason,
            "peak_bw_median": row["peak_bw_median"], "osteogenic_index": row["osteogenic_index"] or 0.0,
            "pain": None if pain is None else bool(pain), "body_weight_n": row["body_weight_n"],
            "on_target": numbers["on_target"], "best_bw": numbers["best_bw"], "median_bw": numbers["median_bw"],
            "next_time": next_time(after.review, reps=numbers["reps"], on_target=numbers["on_target"],
                                   target=target_text(self.exercise, self.standing.target_bw),
                                   restricted=after.is_restricted)}

    def _count_flagged(self, events: list[dict]) -> None:
        self.jumps_flagged += sum(1 for e in events if e.get("note") == JUMP_NOTE)


BODY_WEIGHT_TOLERANCE = 0.05       # the plate and the profile may differ this much (fraction)...
BODY_WEIGHT_TOLERANCE_KG = 3.0     # ...or this many kg before the set warns


def body_weight_at_start(plate, profile_kg: float | None) -> dict:
    """The body weight a set's multiples of body weight use: the plate's own measurement of the person standing
    still (``LivePlate.body_weight_n``; none while nobody has stood still on it, or when it was given a fixed
    mass) when there is one, else the profile's latest mass, else None (the set weighs the person itself).

    Returns ``{"kg", "source": "plate" | "profile" | None, "plate_kg", "profile_kg", "warning"}``; ``warning``
    says in plain words that the two disagree, when both exist and differ by more than 5 % or 3 kg."""
    weight_n = plate.body_weight_n if getattr(plate, "body_mass_kg", None) is None else None
    plate_kg = None if weight_n is None or not np.isfinite(weight_n) or weight_n <= 0 else round(weight_n / G_M_S2, 1)
    profile_kg = None if profile_kg is None else float(profile_kg)
    warning = None
    if plate_kg is not None and profile_kg is not None:
        differ = abs(plate_kg - profile_kg)
        if differ > BODY_WEIGHT_TOLERANCE_KG or differ > BODY_WEIGHT_TOLERANCE * plate_kg:
            warning = (f"The plate weighs {plate_kg:.1f} kg; the profile says {profile_kg:.1f} kg. Peaks use the "
                       "plate's weight: update the profile if it is out of date.")
    if plate_kg is not None:
        return {"kg": plate_kg, "source": "plate", "plate_kg": plate_kg, "profile_kg": profile_kg, "warning": warning}
    if profile_kg is not None:
        return {"kg": profile_kg, "source": "profile", "plate_kg": None, "profile_kg": profile_kg, "warning": None}
    return {"kg": None, "source": None, "plate_kg": None, "profile_kg": None, "warning": None}


def _checked(exercise) -> str:
    try:
        return check_exercise(exercise)
    except ValueError as exc:
        raise SetError(str(exc)) from None


def _plus(value, offset_s):
    return None if value is None or not np.isfinite(value) else float(value) + offset_s

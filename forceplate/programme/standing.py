"""A person's programme as it stands today: the store's records through the pure rules of programme/rules.py.

The store keeps people, fractures, plans and sessions; rules.py decides. This module only translates
(rows to Profile, Plan and SessionRecord) so the web pages, the live set and the CLI apply the same rules.
A session's day is its local calendar day (the clinic's, where the server runs).
"""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from . import rules
from ..signal.exercises import FREE, LABELS, SIT_TO_STAND
from ..signal.sit_to_stand import FAST_RISE_S, SLOW_LOWERING_S

SIT_TO_STAND_TARGET = f"rise \u2264 {FAST_RISE_S:g} s, sit-down \u2265 {SLOW_LOWERING_S:g} s"   # a tempo, not a peak

LOOK_BACK_DAYS = 28            # adherence covers 4 weeks; review 14 days; dose 7 days


def local_day(iso_time: str) -> dt.date:
    """The local calendar day of an ISO 8601 time from the store."""
    return dt.datetime.fromisoformat(iso_time).astimezone().date()


def parse_partial_date(text: str) -> dt.date:
    """A fracture date as precise as known (``2019``, ``2019-04``, ``2019-04-12``) as its latest possible day,
    so "within the last 6 months" errs on the side of caution."""
    parts = str(text).strip().split("-")
    year = int(parts[0])
    if len(parts) == 1:
        return dt.date(year, 12, 31)
    month = int(parts[1])
    if len(parts) == 2:
        following = dt.date(year + month // 12, month % 12 + 1, 1)
        return following - dt.timedelta(days=1)
    return dt.date(year, month, int(parts[2]))


def profile_of(store, person: dict) -> rules.Profile:
    fractures = store.fractures(person["id"])
    return rules.Profile(
        birth_year=person["birth_year"], t_score=person["t_score"],
        fracture_dates=tuple(parse_partial_date(f["occurred_on"]) for f in fractures),
        vertebral_fracture=bool(person["has_vertebral_fracture"]) or any(f["is_vertebral"] for f in fractures),
        balance_problems=bool(person["has_balance_problems"]),
        clinician_approved=person["approved_at"] is not None)


def default_plan() -> dict:
    """The plan a person has until someone sets one: beginner, each level's target, the daily impact cap."""
    return {"level": "beginner", "targets_bw": {name: lv.target_bw for name, lv in rules.LEVELS.items()},
            "daily_impact_cap": rules.DAILY_IMPACT_CAP}


def plan_of(store, person_id: int) -> rules.Plan:
    row = store.plan(person_id, default=default_plan())
    return rules.Plan(level=row["level"], targets_bw=dict(row["targets_bw"]),
                          daily_impact_cap=int(row["daily_impact_cap"]))


def records_of(store, person_id: int, today: dt.date) -> list[rules.SessionRecord]:
    since = dt.datetime.combine(today - dt.timedelta(days=LOOK_BACK_DAYS + 1), dt.time()).astimezone()
    return [rules.SessionRecord(day=local_day(row["started_at"]), peaks_bw=tuple(row["peaks_bw"]),
                                    pain=None if row["pain"] is None else bool(row["pain"]))
            for row in store.programme_sessions(person_id, since.astimezone(dt.timezone.utc).isoformat())]


def exercises_of(store, person: dict, today: dt.date | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A person's (prescribed, allowed) exercises today, without the rest of :func:`standing_of` (the live
    page asks this for everyone in its list)."""
    today = today or dt.date.today()
    profile = profile_of(store, person)
    return (rules.prescribed_exercises(plan_of(store, person["id"]), profile, today),
            rules.allowed_exercises(profile, today))


@dataclass(frozen=True)
class Standing:
    """Everything the people, plan and live pages say about a person's programme today."""

    person: dict
    profile: rules.Profile
    plan: rules.Plan                 # as set by the clinician
    effective: rules.Plan            # as it applies today (beginner while restricted)
    restriction_reasons: tuple[str, ...]
    is_restricted: bool
    allowed_exercises: tuple[str, ...]      # names of forceplate.signal.exercises, safe today at any level
    prescribed_exercises: tuple[str, ...]   # those the level prescribes today, heel drops first
    review: rules.Decision
    adherence: rules.Adherence
    dose: dict
    impacts_left_today: int
    body_mass_kg: float | None
    impacts_done_today: int = 0

    @property
    def target_bw(self) -> float:
        """The thump threshold of this person's sets today (BW)."""
        return self.effective.target_bw


def standing_of(store, person_id: int, today: dt.date | None = None) -> Standing:
    """A person's programme today; raises LookupError for an unknown person."""
    today = today or dt.date.today()
    person = store.person(person_id)
    if person is None:
        raise LookupError(f"no person has id {person_id}")
    profile = profile_of(store, person)
    plan = plan_of(store, person_id)
    effective = rules.effective_plan(plan, profile, today)
    history = records_of(store, person_id, today)
    added_on = local_day(person["created_at"]) if person.get("created_at") else None
    return Standing(
        person=person, profile=profile, plan=plan, effective=effective,
        restriction_reasons=tuple(rules.restriction_reasons(profile, today)),
        is_restricted=rules.is_restricted(profile, today),
        allowed_exercises=rules.allowed_exercises(profile, today),
        prescribed_exercises=rules.prescribed_exercises(plan, profile, today),
        review=rules.review(plan, profile, history, today, added_on),
        adherence=rules.adherence(plan, history, today, added_on),
        dose=rules.dose(history, today),
        impacts_left_today=rules.impacts_left_today(effective, history, today),
        body_mass_kg=store.latest_body_mass(person_id),
        impacts_done_today=rules.impacts_done_today(history, today))


def why_no_set(standing: Standing, exercise: str) -> str | None:
    """Why a set of ``exercise`` may not start for this person today, in one plain sentence; None when it may.

    Jumps and drop landings wait for a clinician's approval where the person needs one; an impact set (any
    but sit-to-stand: a free set may hold impacts) waits for tomorrow once today's impact limit is used up.
    The live page's sets and ``forceplate record`` apply the same rule."""
    name = standing.person["name"]
    if exercise != FREE and exercise not in standing.allowed_exercises:
        why = "; ".join(standing.restriction_reasons) or "not in the programme"
        return (f"{LABELS[exercise]} are not allowed for {name} today: waiting for clinician approval ({why}). "
                f"Choose {' or '.join(LABELS[e].lower() for e in standing.allowed_exercises)}")
    cap = int(standing.effective.daily_impact_cap)
    if exercise != SIT_TO_STAND and standing.impacts_left_today <= 0:
        return (f"No impacts left today for {name}: {standing.impacts_done_today} of {cap} done (the daily "
                "limit). Sit-to-stand is still possible.")
    return None


def target_text(exercise: str, target_bw: float) -> str:
    """An exercise's target in a few words: a tempo for sit-to-stand, a peak otherwise."""
    return SIT_TO_STAND_TARGET if exercise == SIT_TO_STAND else f"peak \u2265 {target_bw:.1f} BW"


def day_start_utc(today: dt.date) -> str:
    """The start of a local calendar day as the store's ISO UTC time."""
    return dt.datetime.combine(today, dt.time()).astimezone().astimezone(dt.timezone.utc).isoformat()


def rep_on_target(rep: dict, target_bw: float) -> bool:
    """A counted rep at or above its target: an impact's peak at least ``target_bw``; a sit-to-stand rep
    fast up and slow down."""
    if rep["kind"] == SIT_TO_STAND:
        return bool(rep.get("tempo_ok"))
    return rep.get("peak_bw") is not None and rep["peak_bw"] >= target_bw


def reps_summary(reps: list[dict], target_bw: float) -> dict:
    """``{"reps", "on_target", "best_bw", "median_bw", "osteogenic_index"}`` of counted reps: peaks (BW) and
    dose of the impacts among them (a sit-to-stand rep is none); None without an impact peak."""
    peaks = [r["peak_bw"] for r in reps if r["kind"] != SIT_TO_STAND and r.get("peak_bw") is not None]
    return {"reps": len(reps), "on_target": sum(1 for r in reps if rep_on_target(r, target_bw)),
            "best_bw": round(max(peaks), 2) if peaks else None,
            "median_bw": round(statistics.median(peaks), 2) if peaks else None,
            "osteogenic_index": round(rules.osteogenic_index(peaks), 2) if peaks else None}


def guided_session(store, person_id: int, today: dt.date | None = None, standing: Standing | None = None) -> dict:
    """Today's guided session of a person (the live page runs it): the prescription set by set, what is done,
    what comes next and today's numbers so far.

    Returns ``{"person_id", "person", "level", "restricted", "restriction_reasons", "target_bw",
    "daily_impact_cap", "impacts_left_today", "rest_s", "exercises": [{"exercise", "label", "sets_planned",
    "sets_done", "reps_per_set", "target", "allowed", "rest_s"}], "next": {"exercise", "set_number"} or None,
    "today": {"sets", "reps", "on_target", "best_bw", "median_bw", "osteogenic_index"}}``.

    A set is done when it holds at least one counted rep; a free set is no exercise's. ``next`` is the first
    exercise, in the level's order, with sets still to do that can start now (no impact exercise once today's
    impacts are used up); None when today's plan is done (or only impact sets remain and no impacts do)."""
    today = today or dt.date.today()
    standing = standing or standing_of(store, person_id, today)
    sets = [row for row in store.sets_since(person_id, day_start_utc(today))
            if local_day(row["started_at"]) == today and row["reps"] > 0]
    prescription = rules.todays_prescription(standing.plan, standing.profile, today)
    target_bw = standing.target_bw
    exercises, following = [], None
    for item in prescription:
        name = item["exercise"]
        done = sum(1 for row in sets if row["exercise"] == name)
        exercises.append({"exercise": name, "label": LABELS[name], "sets_planned": item["sets"], "sets_done": done,
                          "reps_per_set": item["reps_per_set"], "target": target_text(name, target_bw),
                          "allowed": item["allowed"], "rest_s": rules.REST_BETWEEN_SETS_S})
        can_start = item["allowed"] and (name == SIT_TO_STAND or standing.impacts_left_today > 0)
        if following is None and can_start and done < item["sets"]:
            following = {"exercise": name, "set_number": done + 1}
    reps = [rep | {"target_bw": row["thump_bw"]} for row in sets for rep in row["reps_detail"]]
    summary = reps_summary(reps, target_bw) | {
        "on_target": sum(1 for r in reps if rep_on_target(r, r["target_bw"]))}
    summary["osteogenic_index"] = summary["osteogenic_index"] or 0.0
    person = standing.person
    return {"person_id": person["id"], "person": person["name"], "level": standing.effective.level,
            "restricted": standing.is_restricted, "restriction_reasons": list(standing.restriction_reasons),
            "target_bw": target_bw, "daily_impact_cap": standing.effective.daily_impact_cap,
            "impacts_left_today": standing.impacts_left_today, "rest_s": rules.REST_BETWEEN_SETS_S,
            "exercises": exercises, "next": following, "today": {"sets": len(sets)} | summary}


def set_plan_of(guided: dict, exercise: str) -> dict | None:
    """The ``plan`` of a set of ``exercise`` in today's guided session: ``{"exercise", "label", "set_number"
    (1-based, among today's sets of that exercise), "sets_planned", "reps_planned", "rest_s"}``; None for a
    free set or an exercise today's plan does not hold."""
    if exercise == FREE:
        return None
    for item in guided["exercises"]:
        if item["exercise"] == exercise and item["allowed"]:
            return {"exercise": exercise, "label": item["label"], "set_number": item["sets_done"] + 1,
                    "sets_planned": item["sets_planned"], "reps_planned": item["reps_per_set"],
                    "rest_s": item["rest_s"]}
    return None


def next_time(decision: rules.Decision, *, reps: int, on_target: int, target: str, restricted: bool) -> str:
    """What changes next time, in one plain sentence, from the programme's review (after this set) and this
    set's reps, e.g. "Next time: same level (beginner); 8 of 10 reps reached peak ≥ 2.0 BW."."""
    reasons = "; ".join(decision.reasons)
    if decision.action == "advance":
        return f"Next time: move up to the {decision.level} level ({reasons})."
    if decision.action == "step back":
        return f"Next time: step back to the {decision.level} level ({reasons})."
    if decision.action == "paused":
        return f"Next time: same level ({decision.level}): {reasons}."
    mode = ", waiting for clinician approval" if restricted else ""
    if reps == 0:
        return f"Next time: same level ({decision.level}{mode}); no reps counted in this set."
    return f"Next time: same level ({decision.level}{mode}); {on_target} of {reps} reps reached {target}."

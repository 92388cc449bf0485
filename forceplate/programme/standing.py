"""A person's programme as it stands today: the store's records through the pure rules of programme/rules.py.

The store keeps people, fractures, plans and sessions; rules.py decides. This module only translates
(rows to Profile, Plan and SessionRecord) so the web pages, the live set and the CLI apply the same rules.
A session's day is its local calendar day (the clinic's, where the server runs).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import rules

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

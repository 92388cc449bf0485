"""Training programmes: levels, progression, adherence, dose and safety gating. Pure rules, no I/O, no clock.

Every function takes `today` (a ``datetime.date``) and the history as plain records, so the rules can be
tested day by day on constructed histories, and the store, the CLI and the web UI all apply the same rules.

Sources for the rules (see README "Programmes"):
- Levels (reps x sets x days a week) and the 2x-a-week minimum effective dose: the bone-loading guidance the
  project follows (Beck et al. 2017, Exercise and Sports Science Australia position statement on exercise
  for osteoporosis; LIFTMOR/Onero programmes); impacts progress gradually ("too much too soon" is a common
  mistake).
- Osteogenic Index = median peak (BW) x ln(reps + 1) (Turner & Robling 2003).
- Safety gating for high fracture risk (T-score < -3.0, a recent or vertebral fracture, balance problems):
  impact exercise only after a clinician approves (Beck 2017; Giangregorio et al. 2014, Too Fit To Fracture).
- Exercises (the names of :mod:`forceplate.signal.exercises`) by level, impacts growing as the level does:
  heel drops from the start (the low-impact loading the ESSA statement starts with, Beck 2017); jumps from
  intermediate (moderate-to-high impact once low impacts are tolerated, Beck 2017); drop landings at advanced
  (the high-impact element of LIFTMOR, jumping chin-ups with drop landings, begun only after weeks of
  supervised familiarisation: Watson et al. 2018, J Bone Miner Res). Fast sit-to-stand ("fast up, slow
  down") at every level and in the clinician-approved mode: a functional strength and power exercise with no
  impact (Giangregorio 2014 recommends such training for everyone with osteoporosis; power measured after
  Alcazar et al. 2018). While restricted: no jumps and no drop landings (Giangregorio 2014 advises against
  high-impact loading with a vertebral fracture or high fracture risk until assessed).
The thresholds below, and which level first offers which exercise, are the project's documented defaults
informed by those sources, not values taken from them; a clinician can edit the target peaks.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from ..signal.exercises import DROP_LANDING, HEEL_DROP, JUMP, SIT_TO_STAND
from ..signal.summary import osteogenic_index    # the session's dose: one formula for analysis and programme

LEVEL_NAMES = ("beginner", "intermediate", "advanced")


@dataclass(frozen=True)
class Level:
    """One programme level: reps per set, sets per session and sessions per week (min, max), target peak, and
    the exercises it prescribes (names of :mod:`forceplate.signal.exercises`, in the order they are offered)."""

    name: str
    reps_per_set: tuple[int, int]
    sets: tuple[int, int]
    days_per_week: tuple[int, int]
    target_bw: float
    exercises: tuple[str, ...] = (HEEL_DROP, SIT_TO_STAND)


LEVELS = {
    "beginner": Level("beginner", (10, 10), (2, 2), (3, 3), 2.0, (HEEL_DROP, SIT_TO_STAND)),
    "intermediate": Level("intermediate", (15, 20), (2, 3), (3, 4), 2.5, (HEEL_DROP, JUMP, SIT_TO_STAND)),
    "advanced": Level("advanced", (20, 30), (3, 3), (4, 5), 3.0, (HEEL_DROP, JUMP, DROP_LANDING, SIT_TO_STAND)),
}

PROGRAMME_EXERCISES = (HEEL_DROP, JUMP, DROP_LANDING, SIT_TO_STAND)   # every exercise a level can prescribe
NOT_WHILE_RESTRICTED = (JUMP, DROP_LANDING)      # high impacts: only once a clinician has approved

REVIEW_DAYS = 14                 # progression looks back two weeks
ADVANCE_COMPLETION = 0.80        # >= 80 % of planned sessions done
ADVANCE_ON_TARGET = 0.80         # >= 80 % of reps reached the target peak
STEP_BACK_COMPLETION = 0.50      # < 50 % of planned sessions over two weeks: step back
DAILY_IMPACT_CAP = 100           # impacts a day, at most
MIN_SESSIONS_PER_WEEK = 2        # the minimum effective dose
# Rest between two sets of a guided session (s). A project default, not a value from the sources above: long
# enough to recover balance and breath before the next set of impacts, short enough to keep a session near
# 15 minutes; bone responds better to loading split into bouts with rest between them (Robling et al. 2002,
# J Bone Miner Res 17:1545, in rats, with rests of hours), which this short rest does not claim to reproduce.
REST_BETWEEN_SETS_S = 60


@dataclass(frozen=True)
class Profile:
    """What the rules need to know about a person. `fracture_dates`: dates of fractures (any site)."""

    birth_year: int | None = None
    t_score: float | None = None
    fracture_dates: tuple[date, ...] = ()
    vertebral_fracture: bool = False
    balance_problems: bool = False
    clinician_approved: bool = False


@dataclass(frozen=True)
class SessionRecord:
    """One finished session: its day, its impact peaks (BW) and the answer to "did anything hurt?"."""

    day: date
    peaks_bw: tuple[float, ...] = ()
    pain: bool | None = None       # None: not asked / not answered


@dataclass(frozen=True)
class Plan:
    """A person's current plan: the level and the (clinician-editable) target peak per level."""

    level: str = "beginner"
    targets_bw: dict = field(default_factory=lambda: {name: lv.target_bw for name, lv in LEVELS.items()})
    daily_impact_cap: int = DAILY_IMPACT_CAP

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError(f"level {self.level!r} is not one of {', '.join(LEVEL_NAMES)}")

    @property
    def target_bw(self) -> float:
        return float(self.targets_bw[self.level])


@dataclass(frozen=True)
class Decision:
    """What the review of the last two weeks says: the level to train at, the action and why."""

    level: str
    action: str                    # "advance", "step back", "stay", "paused"
    reasons: tuple[str, ...]
    completion: float | None       # sessions done / planned over the review window
    on_target: float | None        # reps at or above the target / reps


def restriction_reasons(profile: Profile, today: date) -> list[str]:
    """Why this person needs a clinician's approval before impact training (empty: none)."""
    reasons = []
    if profile.t_score is not None and profile.t_score < -3.0:
        reasons.append(f"T-score {profile.t_score:g} is below -3.0")
    recent = [d for d in profile.fracture_dates if today - timedelta(days=183) <= d <= today]
    if recent:
        reasons.append(f"a fracture on {max(recent).isoformat()}, within the last 6 months")
    if profile.vertebral_fracture:
        reasons.append("a vertebral fracture")
    if profile.balance_problems:
        reasons.append("balance problems")
    return reasons


def is_restricted(profile: Profile, today: date) -> bool:
    """True while the person trains in the clinician-approved mode: no jumps, beginner targets."""
    return bool(restriction_reasons(profile, today)) and not profile.clinician_approved


def allowed_exercises(profile: Profile, today: date) -> tuple[str, ...]:
    """The programme's exercises this person may do today, whatever their level (names of
    :mod:`forceplate.signal.exercises`): all of them, but no jumps and no drop landings while restricted."""
    if is_restricted(profile, today):
        return tuple(e for e in PROGRAMME_EXERCISES if e not in NOT_WHILE_RESTRICTED)
    return PROGRAMME_EXERCISES


def prescribed_exercises(plan: Plan, profile: Profile, today: date) -> tuple[str, ...]:
    """The exercises the plan prescribes today: those of the level it applies at (beginner while restricted)
    that are allowed today, in the level's order (heel drops first)."""
    allowed = allowed_exercises(profile, today)
    return tuple(e for e in LEVELS[effective_plan(plan, profile, today).level].exercises if e in allowed)


def effective_plan(plan: Plan, profile: Profile, today: date) -> Plan:
    """The plan as it applies today: beginner level and targets while restricted."""
    if is_restricted(profile, today) and plan.level != "beginner":
        return replace(plan, level="beginner")
    return plan


def _in_window(history, today: date, days: int):
    start = today - timedelta(days=days - 1)
    return [s for s in history if start <= s.day <= today]


def review(plan: Plan, profile: Profile, history, today: date, added_on: date | None = None) -> Decision:
    """Review the last 14 days and decide the level.

    - Any pain reported in the window: step back one level (or stay at beginner) and pause progression.
    - Fewer than 50 % of the planned sessions done: step back ("too much too soon", or life got in the way).
    - At least 80 % of planned sessions done and at least 80 % of reps at or above the target: advance,
      unless restricted (clinician-approved mode keeps beginner) or already advanced.
    - Otherwise stay. With no full two weeks of plan history yet the window is still judged on what is
      planned for 14 days (3 days a week at beginner = 6 sessions).

    ``added_on`` (the day the person was added, when known): low completion steps back only someone added at
    least a whole week ago, judged on the sessions planned for the whole days since then (at most the 14):
    nobody can have missed sessions they were never asked to do. Advancing still needs 80 % of the whole
    14 days' plan, so it never comes sooner.
    """
    plan = effective_plan(plan, profile, today)
    level = LEVELS[plan.level]
    window = _in_window(history, today, REVIEW_DAYS)
    planned = level.days_per_week[0] * REVIEW_DAYS / 7
    done_days = len({s.day for s in window})
    completion = min(1.0, done_days / planned) if planned else None
    days = REVIEW_DAYS if added_on is None else max(0, min(REVIEW_DAYS, (today - added_on).days))
    planned_since_added = level.days_per_week[0] * days / 7
    step_back = days >= 7 and done_days / planned_since_added < STEP_BACK_COMPLETION
    reps = [p for s in window for p in s.peaks_bw]
    on_target = (sum(p >= plan.target_bw for p in reps) / len(reps)) if reps else None
    index = LEVEL_NAMES.index(plan.level)
    down = LEVEL_NAMES[max(0, index - 1)]
    if any(s.pain for s in window):
        return Decision(down, "paused" if down == plan.level else "step back",
                        ("pain was reported in the last 14 days: progression paused",), completion, on_target)
    if step_back:
        return Decision(down, "stay" if down == plan.level else "step back",
                        (f"{done_days} of {round(planned_since_added, 1):g} planned sessions in {days} days (under 50 %)",),
                        completion, on_target)
    if is_restricted(profile, today):
        return Decision("beginner", "stay", ("waiting for clinician approval: beginner targets until approved",),
                        completion, on_target)
    if (completion >= ADVANCE_COMPLETION and on_target is not None and on_target >= ADVANCE_ON_TARGET
            and index + 1 < len(LEVEL_NAMES)):
        return Decision(LEVEL_NAMES[index + 1], "advance",
                        (f"{completion:.0%} of planned sessions and {on_target:.0%} of reps on target",),
                        completion, on_target)
    reasons = []
    if completion < ADVANCE_COMPLETION:
        reasons.append(f"{completion:.0%} of planned sessions (80 % to advance)")
    if on_target is None or on_target < ADVANCE_ON_TARGET:
        reasons.append("no reps yet" if on_target is None else f"{on_target:.0%} of reps on target (80 % to advance)")
    if index + 1 == len(LEVEL_NAMES):
        reasons.append("already at the advanced level")
    return Decision(plan.level, "stay", tuple(reasons), completion, on_target)


def todays_prescription(plan: Plan, profile: Profile, today: date) -> list[dict]:
    """Today's guided session, set by set: for each exercise the level offers (as the plan sets it), in its
    order, ``{"exercise", "allowed", "sets", "reps_per_set"}``: the level that applies today (beginner while
    restricted) prescribes the lower bound of its sets and the upper bound of its reps per set (a person who
    can do more reps is better served than one doing more sets of few; a stored plan holds no sets or reps
    of its own yet, so the level's are today's). An exercise not allowed today (jumps, drop landings while restricted) is listed,
    ``allowed`` false, with no sets."""
    applies = LEVELS[effective_plan(plan, profile, today).level]
    prescribed = prescribed_exercises(plan, profile, today)
    names = list(LEVELS[plan.level].exercises) + [e for e in applies.exercises if e not in LEVELS[plan.level].exercises]
    return [{"exercise": e, "allowed": e in prescribed, "sets": applies.sets[0] if e in prescribed else 0,
             "reps_per_set": applies.reps_per_set[1]} for e in names]


def impacts_done_today(history, today: date) -> int:
    """Impacts counted today (every rep with a peak in today's sessions; sit-to-stand reps are none)."""
    return sum(len(s.peaks_bw) for s in history if s.day == today)


def impacts_left_today(plan: Plan, history, today: date) -> int:
    """How many more impacts today's cap allows (never below 0)."""
    return max(0, plan.daily_impact_cap - impacts_done_today(history, today))


@dataclass(frozen=True)
class Adherence:
    """Sessions in each of the last 4 weeks (oldest first), whether the minimum dose was met, and a message.

    ``weeks_judged`` (oldest first, as ``sessions_per_week``): whether that week is a whole week since the
    person was added; a week that is not is never "under 2 a week". ``weeks_meeting_minimum`` counts judged
    weeks only."""

    sessions_per_week: tuple[int, ...]
    weeks_meeting_minimum: int
    days_since_last: int | None
    message: str | None
    restart_level: str | None      # where to resume after a break, None when no break
    weeks_judged: tuple[bool, ...] = (True, True, True, True)

    @property
    def weeks_under_minimum(self) -> int:
        """Judged weeks with fewer than the minimum sessions."""
        return sum(1 for n, judged in zip(self.sessions_per_week, self.weeks_judged)
                   if judged and n < MIN_SESSIONS_PER_WEEK)


def adherence(plan: Plan, history, today: date, added_on: date | None = None) -> Adherence:
    """Rolling 4-week adherence (>= 2 sessions in every week is the minimum effective dose) and messages
    after a break: 2 and 4 weeks off (resume a level lower), 6 months off (restart at beginner).

    ``added_on`` (the day the person was added, when known): only the weeks that began after that day are
    judged, so nobody added less than 7 days ago is "under 2 a week" (the day of being added is not a
    whole day in the programme)."""
    weeks, judged = [], []
    for k in range(3, -1, -1):
        end = today - timedelta(days=7 * k)
        weeks.append(len({s.day for s in _in_window(history, end, 7)}))
        judged.append(added_on is None or end - timedelta(days=6) > added_on)
    last = max((s.day for s in history if s.day <= today), default=None)
    days_off = None if last is None else (today - last).days
    index = LEVEL_NAMES.index(plan.level)
    message = restart = None
    if days_off is not None and days_off >= 183:
        message = "It has been over 6 months: some gains may be lost. Restart at the beginner level."
        restart = "beginner"
    elif days_off is not None and days_off >= 28:
        restart = LEVEL_NAMES[max(0, index - 1)]
        message = f"Welcome back after {days_off // 7} weeks off: resume one level lower ({restart})."
    elif days_off is not None and days_off >= 14:
        restart = LEVEL_NAMES[max(0, index - 1)]
        message = f"Two weeks off: resume gently, one level lower ({restart})."
    return Adherence(tuple(weeks), sum(w >= MIN_SESSIONS_PER_WEEK for w, j in zip(weeks, judged) if j), days_off,
                     message, restart, tuple(judged))


def dose(history, today: date) -> dict:
    """Osteogenic Index of today's sessions (each), of today (all its reps) and of the last 7 days."""
    todays = [s for s in history if s.day == today]
    week = _in_window(history, today, 7)
    return {"sessions": [osteogenic_index(s.peaks_bw) for s in todays],
            "day": osteogenic_index([p for s in todays for p in s.peaks_bw]),
            "week": osteogenic_index([p for s in week for p in s.peaks_bw])}

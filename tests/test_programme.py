"""Programme rules, day by day on constructed histories (dates are the fake clock: nothing sleeps)."""
import math
from datetime import date, timedelta

import pytest

from forceplate.programme.rules import (LEVELS, Plan, Profile, SessionRecord, adherence, allowed_exercises, dose,
                                  effective_plan, impacts_left_today, is_restricted, osteogenic_index,
                                  prescribed_exercises, restriction_reasons, review)
from forceplate.signal.exercises import EXERCISES

MONDAY = date(2026, 1, 5)
HEALTHY = Profile(birth_year=1958, t_score=-2.0)


def sessions(first_day, days, *, reps=20, peak_bw=2.2, pain_on=()):
    """One session on each of the given day offsets from first_day."""
    return [SessionRecord(first_day + timedelta(days=d), (peak_bw,) * reps, pain=(d in pain_on)) for d in days]


MON_WED_FRI_2_WEEKS = [0, 2, 4, 7, 9, 11]


def test_two_weeks_of_planned_sessions_on_target_advance_a_beginner():
    history = sessions(MONDAY, MON_WED_FRI_2_WEEKS)            # 6 of 6 planned (3 a week), all at 2.2 >= 2.0
    decision = review(Plan("beginner"), HEALTHY, history, MONDAY + timedelta(days=11))
    assert (decision.level, decision.action) == ("intermediate", "advance")
    assert decision.completion == 1.0 and decision.on_target == 1.0


def test_advance_comes_on_the_first_day_the_window_holds_enough_sessions():
    history = sessions(MONDAY, [0, 2, 4, 7, 9, 11, 14])
    first = None
    for d in range(0, 16):                                     # day by day
        if review(Plan("beginner"), HEALTHY, [s for s in history if s.day <= MONDAY + timedelta(days=d)],
                  MONDAY + timedelta(days=d)).action == "advance":
            first = d
            break
    # 80 % of 6 planned sessions is 4.8: the 5th session (day 9) is the first day it is reached
    assert first == 9


def test_too_few_reps_on_target_stay_and_say_why():
    history = [SessionRecord(MONDAY + timedelta(days=d), (2.2,) * 7 + (1.8,) * 3) for d in MON_WED_FRI_2_WEEKS]
    decision = review(Plan("beginner"), HEALTHY, history, MONDAY + timedelta(days=11))
    assert decision.action == "stay" and decision.on_target == pytest.approx(0.7)
    assert any("70% of reps on target" in r for r in decision.reasons)


def test_a_clinician_raised_target_is_the_one_judged():
    plan = Plan("beginner", targets_bw={"beginner": 2.4, "intermediate": 2.5, "advanced": 3.0})
    history = sessions(MONDAY, MON_WED_FRI_2_WEEKS, peak_bw=2.2)
    assert review(plan, HEALTHY, history, MONDAY + timedelta(days=11)).action == "stay"


def test_pain_steps_back_and_pauses_progression():
    history = sessions(MONDAY, MON_WED_FRI_2_WEEKS, peak_bw=2.8, pain_on={9})
    decision = review(Plan("intermediate"), HEALTHY, history, MONDAY + timedelta(days=11))
    assert (decision.level, decision.action) == ("beginner", "step back")
    at_bottom = review(Plan("beginner"), HEALTHY, history, MONDAY + timedelta(days=11))
    assert (at_bottom.level, at_bottom.action) == ("beginner", "paused")
    # 14 days after the pain report it no longer holds progression back
    later = history + sessions(MONDAY, [14, 16, 18, 21, 23], peak_bw=2.8)
    assert review(Plan("beginner"), HEALTHY, later, MONDAY + timedelta(days=23)).action == "advance"


def test_under_half_the_planned_sessions_steps_back():
    history = sessions(MONDAY, [0, 9], peak_bw=3.2)            # 2 of 6 planned (intermediate: 3 a week at least)
    decision = review(Plan("intermediate"), HEALTHY, history, MONDAY + timedelta(days=13))
    assert (decision.level, decision.action) == ("beginner", "step back")
    assert decision.completion == pytest.approx(2 / 6)


def test_advanced_is_the_top():
    history = sessions(MONDAY, [0, 1, 3, 4, 7, 8, 10, 11], peak_bw=3.5)
    decision = review(Plan("advanced"), HEALTHY, history, MONDAY + timedelta(days=11))
    assert decision.level == "advanced" and decision.action == "stay"
    assert "already at the advanced level" in decision.reasons


@pytest.mark.parametrize("profile, reason", [
    (Profile(t_score=-3.2), "T-score -3.2 is below -3.0"),
    (Profile(fracture_dates=(MONDAY - timedelta(days=150),)), "within the last 6 months"),
    (Profile(vertebral_fracture=True), "a vertebral fracture"),
    (Profile(balance_problems=True), "balance problems"),
])
def test_high_risk_profiles_train_in_clinician_approved_mode(profile, reason):
    assert any(reason in r for r in restriction_reasons(profile, MONDAY))
    assert is_restricted(profile, MONDAY)
    assert allowed_exercises(profile, MONDAY) == ("heel-drop", "sit-to-stand")      # no jumps, no drop landings
    assert prescribed_exercises(Plan("advanced"), profile, MONDAY) == ("heel-drop", "sit-to-stand")
    assert effective_plan(Plan("advanced"), profile, MONDAY).level == "beginner"
    history = sessions(MONDAY, MON_WED_FRI_2_WEEKS, peak_bw=2.6)
    assert review(Plan("beginner"), profile, history, MONDAY + timedelta(days=11)).level == "beginner"
    approved = Profile(**{**profile.__dict__, "clinician_approved": True})
    assert not is_restricted(approved, MONDAY)
    assert {"jump", "drop-landing"} <= set(allowed_exercises(approved, MONDAY))
    assert prescribed_exercises(Plan("advanced"), approved, MONDAY) == (
        "heel-drop", "jump", "drop-landing", "sit-to-stand")
    assert review(Plan("beginner"), approved, history, MONDAY + timedelta(days=11)).action == "advance"


def test_a_fracture_older_than_six_months_no_longer_restricts():
    assert not is_restricted(Profile(fracture_dates=(MONDAY - timedelta(days=200),)), MONDAY)
    assert not is_restricted(Profile(t_score=-3.0), MONDAY)          # -3.0 itself is not below -3.0


def test_daily_impact_cap():
    history = [SessionRecord(MONDAY, (2.5,) * 60), SessionRecord(MONDAY, (2.5,) * 30),
               SessionRecord(MONDAY - timedelta(days=1), (2.5,) * 80)]
    assert impacts_left_today(Plan(), history, MONDAY) == 10
    assert impacts_left_today(Plan(), history + [SessionRecord(MONDAY, (2.5,) * 20)], MONDAY) == 0


def test_rolling_four_week_adherence_counts_weeks_with_two_sessions():
    # weeks (oldest first): 3 sessions, 1, 2, 0 ; today is the last day of the 4th week
    today = MONDAY + timedelta(days=27)
    days = [0, 2, 4, 8, 14, 16]
    result = adherence(Plan(), sessions(MONDAY, days), today)
    assert result.sessions_per_week == (3, 1, 2, 0)
    assert result.weeks_meeting_minimum == 2
    assert result.days_since_last == 27 - 16


@pytest.mark.parametrize("days_off, level, restart, words", [
    (13, "intermediate", None, None),
    (14, "intermediate", "beginner", "Two weeks off"),
    (30, "advanced", "intermediate", "4 weeks off"),
    (200, "advanced", "beginner", "over 6 months"),
])
def test_messages_after_a_break(days_off, level, restart, words):
    result = adherence(Plan(level), sessions(MONDAY, [0]), MONDAY + timedelta(days=days_off))
    assert result.restart_level == restart
    assert (result.message is None) if words is None else (words in result.message)


def test_osteogenic_index_by_hand():
    assert osteogenic_index([2.0, 3.0, 4.0]) == pytest.approx(3.0 * math.log(4))
    assert osteogenic_index([]) == 0.0
    history = [SessionRecord(MONDAY, (2.0, 4.0)), SessionRecord(MONDAY, (3.0,)),
               SessionRecord(MONDAY - timedelta(days=3), (5.0,) * 3)]
    result = dose(history, MONDAY)
    assert result["sessions"] == pytest.approx([3.0 * math.log(3), 3.0 * math.log(2)])
    assert result["day"] == pytest.approx(3.0 * math.log(4))              # median of 2, 3, 4
    assert result["week"] == pytest.approx(4.5 * math.log(7))             # median of 2, 3, 4, 5, 5, 5


def test_levels_match_the_training_guidance():
    assert (LEVELS["beginner"].reps_per_set, LEVELS["beginner"].sets, LEVELS["beginner"].days_per_week) == \
        ((10, 10), (2, 2), (3, 3))
    assert (LEVELS["intermediate"].reps_per_set, LEVELS["intermediate"].sets,
            LEVELS["intermediate"].days_per_week) == ((15, 20), (2, 3), (3, 4))
    assert (LEVELS["advanced"].reps_per_set, LEVELS["advanced"].sets, LEVELS["advanced"].days_per_week) == \
        ((20, 30), (3, 3), (4, 5))
    assert [LEVELS[n].target_bw for n in ("beginner", "intermediate", "advanced")] == [2.0, 2.5, 3.0]
    with pytest.raises(ValueError, match="not one of"):
        Plan("expert")


@pytest.mark.parametrize("level, prescribed", [
    ("beginner", ("heel-drop", "sit-to-stand")),
    ("intermediate", ("heel-drop", "jump", "sit-to-stand")),
    ("advanced", ("heel-drop", "jump", "drop-landing", "sit-to-stand")),
])
def test_each_level_prescribes_heel_drops_first_and_sit_to_stand_and_adds_impacts_as_it_rises(level, prescribed):
    assert prescribed_exercises(Plan(level), HEALTHY, MONDAY) == prescribed
    assert set(prescribed) <= set(allowed_exercises(HEALTHY, MONDAY))
    assert all(e in EXERCISES and e != "free" for e in prescribed)          # the analysis' own names


def test_a_healthy_beginner_may_do_every_exercise_though_the_level_prescribes_two():
    assert allowed_exercises(HEALTHY, MONDAY) == ("heel-drop", "jump", "drop-landing", "sit-to-stand")
    assert "jump" not in prescribed_exercises(Plan("beginner"), HEALTHY, MONDAY)


def test_a_person_added_today_is_not_under_the_minimum_in_any_week():
    today = MONDAY + timedelta(days=27)
    result = adherence(Plan(), [], today, added_on=today)
    assert result.sessions_per_week == (0, 0, 0, 0)
    assert result.weeks_judged == (False, False, False, False)
    assert result.weeks_under_minimum == 0 and result.weeks_meeting_minimum == 0
    old = adherence(Plan(), [], today)                                  # nobody knows when: every week judged
    assert old.weeks_under_minimum == 4


@pytest.mark.parametrize("days_ago, judged", [
    (6, (False, False, False, False)),          # less than 7 days: no whole week yet
    (7, (False, False, False, True)),           # this week (the last 7 days) began after the day of adding
    (14, (False, False, True, True)),
    (28, (True, True, True, True)),
])
def test_only_whole_weeks_since_the_person_was_added_are_judged(days_ago, judged):
    today = MONDAY + timedelta(days=27)
    added = today - timedelta(days=days_ago)
    history = sessions(added, [days_ago])                              # one session, today
    result = adherence(Plan(), history, today, added_on=added)
    assert result.weeks_judged == judged
    assert result.weeks_under_minimum == sum(judged)                    # one session a week is under 2
    assert result.weeks_meeting_minimum == 0


def test_a_new_person_is_not_stepped_back_for_sessions_they_were_never_asked_to_do():
    today = MONDAY + timedelta(days=27)
    fresh = review(Plan("intermediate"), HEALTHY, [], today, added_on=today - timedelta(days=3))
    assert (fresh.level, fresh.action) == ("intermediate", "stay")
    # ten days in, one session of the 3 x 10 / 7 = 4.3 planned since then (under 50 %): step back
    late = review(Plan("intermediate"), HEALTHY, sessions(today, [0]), today, added_on=today - timedelta(days=10))
    assert (late.level, late.action) == ("beginner", "step back")
    assert late.reasons == ("1 of 4.3 planned sessions in 10 days (under 50 %)",)
    # advancing still takes 80 % of the whole two weeks' plan: two sessions in 3 days are not enough
    early = review(Plan("beginner"), HEALTHY, sessions(today, [-2, 0]), today, added_on=today - timedelta(days=3))
    assert early.action == "stay"

"""The exercises a set can be: what the person was asked to do, so the analysis applies that exercise's rules.

``free`` classifies every movement by itself (an untyped recording). The others are the programme's exercises
(docs/contracts.md section 1, ``--exercise``):

- ``heel-drop``: rise onto the toes, drop onto the heels. Every peak of at least ``min_peak_bw`` is a heel
  drop, judged at once; a take-off that follows it makes it that jump's push-off (a correction, counted).
- ``jump``: countermovement or repeated (pogo) jumps. Each landing is judged at the landing.
- ``drop-landing``: step off a low box onto the plate; the landing is the rep, a rebound after it a jump.
- ``sit-to-stand``: fast up, slow down, the chair off the plate. Each rise is a rep (rise and lowering time,
  peak, mean power), never an impact.

A take-off, flight and landing is a jump in every exercise.
"""
from __future__ import annotations

FREE = "free"
HEEL_DROP = "heel-drop"
JUMP = "jump"
DROP_LANDING = "drop-landing"
SIT_TO_STAND = "sit-to-stand"

EXERCISES = (FREE, HEEL_DROP, JUMP, DROP_LANDING, SIT_TO_STAND)

LABELS = {FREE: "Free (untyped)", HEEL_DROP: "Heel drops", JUMP: "Jumps", DROP_LANDING: "Drop landings",
          SIT_TO_STAND: "Sit-to-stand"}

# Exercises that load the skeleton with an impact: what the programme's safety gating is about.
IMPACT_EXERCISES = (HEEL_DROP, JUMP, DROP_LANDING)


def check_exercise(exercise) -> str:
    """The exercise name, or ValueError naming the known ones."""
    if exercise not in EXERCISES:
        raise ValueError(f"exercise {exercise!r} is not one of {', '.join(EXERCISES)}")
    return exercise

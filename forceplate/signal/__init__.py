"""Signal processing: pure numpy functions, no I/O, no clock. Used live and by `forceplate analyze`.

Everything the live page and `forceplate analyze` report comes from :func:`analyze_force`.
"""
from .bodyweight import BodyWeight, estimate_body_weight
from .events import Analysis, analyze_force
from .impacts import Impact, detect_impacts
from .jumps import Flight, Jump, detect_jumps, find_flights

__all__ = ["Analysis", "BodyWeight", "Flight", "Impact", "Jump", "analyze_force", "detect_impacts",
           "detect_jumps", "estimate_body_weight", "find_flights"]

"""The plate's calibration: the guided procedure, the saved calibration, the terminal guide.

The maths (tare, fitting scales) lives in ``forceplate.signal.calibration``."""

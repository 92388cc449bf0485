"""Fakes of the hardware: the simulated plate, replays, the mock, the chip emulators and the calibration rig.

The only device code that borrows the physics of ``forceplate.signal``."""

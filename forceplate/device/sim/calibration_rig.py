"""A simulated plate with a helper who does what the calibration asks: rehearse ``forceplate calibrate``.

``CalibrationRig`` is a LoadCellSource whose load is a known mass that ``place(spot, mass_kg)`` sets down at the
centre or near a corner (or ``place(None)``: the empty plate). Setting it down shows as a short, damped wobble
(the mass settling) before the reading holds still with a little noise. Its calibration is exact and known
(``offset_counts``, ``scale_n_per_count``), so a test can check what the procedure fits against it.
``CalibrationRig.from_simulator(sim)`` takes a SimulatedSource's calibration, rate and clock: ``forceplate
calibrate --source sim:standing`` rehearses on that simulated plate (the simulated person steps off first).

Mistakes to rehearse the warnings: ``misread={"back-left": (2, 0.9)}`` makes load cell 2 read 90 % of its load
while the mass is at the back-left spot (a cell that slipped); ``empty_wobble_n`` shakes the empty plate
(someone leaning on it during the tare).
"""
from __future__ import annotations

import math

import numpy as np

from ...exc import ConfigError
from ...signal.calibration import counts_to_words, newtons_to_counts
from ...signal.common import STANDARD_GRAVITY_M_S2
from .simulator import PLATE_DEPTH_M, PLATE_WIDTH_M, PacedSource, split_by_centre_of_pressure

# Where the helper puts the mass, (x, y) m from the centre: corners 5 cm in from each edge.
SPOTS_M = {
    "centre": (0.0, 0.0),
    "front-left": (-(PLATE_WIDTH_M / 2 - 0.05), PLATE_DEPTH_M / 2 - 0.05),
    "front-right": (PLATE_WIDTH_M / 2 - 0.05, PLATE_DEPTH_M / 2 - 0.05),
    "back-left": (-(PLATE_WIDTH_M / 2 - 0.05), -(PLATE_DEPTH_M / 2 - 0.05)),
    "back-right": (PLATE_WIDTH_M / 2 - 0.05, -(PLATE_DEPTH_M / 2 - 0.05)),
}
SETTLE_S = 0.15          # time constant of the wobble as a mass settles (s)
WOBBLE_HZ = 4.0


class CalibrationRig(PacedSource):
    """A plate with a known mass moved about on it (see the module docstring).

    Parameters
    ----------
    offset_counts, scale_n_per_count : array_like (channels,)
        The plate's exact calibration.
    rate_hz : float
    clock : object with ``now_ns()`` and ``sleep(seconds)``, optional
        Default the real clock; ``mock.FakeClock`` runs the rehearsal instantly.
    speed : float
        Playback speed (1: real time).
    noise_n : float
        Sensor noise on each cell, RMS (N).
    seed : int
    misread : dict, optional
        Spot -> (channel, factor): that cell reads ``factor`` times its load while the mass is at that spot.
    empty_wobble_n : float
        Amplitude (N) of a 2 Hz shake on each cell while the plate is empty.
    """

    def __init__(self, offset_counts, scale_n_per_count, *, rate_hz: float = 80.0, clock=None, speed: float = 1.0,
                 noise_n: float = 0.2, seed: int = 0, misread=None, empty_wobble_n: float = 0.0,
                 name: str = "sim:calibration"):
        self.offset_counts = np.asarray(offset_counts, dtype=np.float64).reshape(-1)
        self.scale_n_per_count = np.asarray(scale_n_per_count, dtype=np.float64).reshape(-1)
        channels = self.offset_counts.shape[0]
        if channels not in (1, 2, 4) or self.scale_n_per_count.shape != (channels,):
            raise ConfigError("a calibration rig has 1, 2 or 4 cells, with one offset and one scale each")
        super().__init__(channels=channels, clock=clock)
        self.name = name
        self.channels = channels
        self.rate_hz = float(rate_hz)
        self.speed = float(speed)
        self.adc = "hx711"
        self.is_simulated = True
        self.noise_n = float(noise_n)
        self.misread = dict(misread or {})
        self.empty_wobble_n = float(empty_wobble_n)
        self._rng = np.random.default_rng(seed)
        # Load timeline: (from_ns after start, spot, cell loads (ch,) N); starts empty.
        self._timeline = [(-(1 << 62), None, np.zeros(channels))]
        self.placed: list[tuple[str | None, float]] = []

    @classmethod
    def from_simulator(cls, sim, **options) -> "CalibrationRig":
        """A rig with a SimulatedSource's calibration, rate, speed and clock (its person steps off)."""
        return cls(sim.offset_counts, sim.scale_n_per_count, rate_hz=sim.rate_hz, clock=sim.clock,
                   speed=getattr(sim, "speed", 1.0), seed=getattr(sim, "seed", 0), name=sim.name, **options)

    def place(self, spot: str | None, mass_kg: float = 0.0) -> None:
        """Set the mass down at ``spot`` (a key of SPOTS_M) now, or take it off (``None``)."""
        if spot is not None and spot not in SPOTS_M:
            raise ValueError(f"unknown spot {spot!r}; known: {', '.join(SPOTS_M)}")
        loads = np.zeros(self.channels)
        if spot is not None:
            x, y = SPOTS_M[spot]
            weight_n = float(mass_kg) * STANDARD_GRAVITY_M_S2
            loads = split_by_centre_of_pressure(np.array([weight_n]), np.array([x]), np.array([y]),
                                                self.channels)[0]
            if spot in self.misread:
                channel, factor = self.misread[spot]
                loads[channel] *= factor
        elapsed_ns = int(self.clock.now_ns()) - self.start_ns
        self._timeline.append((elapsed_ns, spot, loads))
        self.placed.append((spot, float(mass_kg)))

    def _loads_n(self, t_ns: np.ndarray) -> np.ndarray:
        """Each cell's load (N) at set times (ns after start), wobble and noise included."""
        starts = np.array([t for t, _, _ in self._timeline], dtype=np.int64)
        index = np.searchsorted(starts, t_ns, side="right") - 1
        out = np.empty((t_ns.shape[0], self.channels))
        for i in np.unique(index):
            rows = index == i
            start, spot, loads = self._timeline[i]
            previous = self._timeline[i - 1][2] if i > 0 else loads
            since_s = (t_ns[rows] - start) / 1e9 * self.speed
            settle = np.exp(-since_s / SETTLE_S) * np.cos(2 * math.pi * WOBBLE_HZ * since_s)
            out[rows] = loads + (previous - loads) * settle[:, None]
            if spot is None and self.empty_wobble_n:
                out[rows] += self.empty_wobble_n * np.sin(2 * math.pi * 2.0 * since_s)[:, None]
        return out + self._rng.normal(0.0, self.noise_n, out.shape)

    # -- pacing (PacedSource)
    def _offsets_ns(self, k):
        return np.rint((k + 1) * (1e9 / (self.rate_hz * self.speed))).astype(np.int64)

    def _estimate_due(self, elapsed_ns):
        return int(elapsed_ns * (self.rate_hz * self.speed) / 1e9)

    def _words(self, k):
        loads = self._loads_n(self._offsets_ns(np.asarray(k, dtype=np.int64)))
        return counts_to_words(newtons_to_counts(loads, self.offset_counts, self.scale_n_per_count))

"""A simulated plate: a person doing bone-loading exercise, through the HX711 model and the real kernel.

``SimulatedSource`` plays a seeded scenario (``standing``, ``heel-drops``, ``jumps``, ``sit-to-stand``,
``step-on-off``, ``session`` or ``drop-landings``) in real time. One loop of the scenario is scripted once, at construction, at
1 kHz with vectorised numpy: the true total force, its split over the four corners by the centre of
pressure, and each corner's sensor noise. Reading turns the sets now due into HX711 words (each the 1 kHz
force averaged by the filter model of docs/hx711-model.md, or the force at that instant for
``adc="ideal"``), calibrates them into counts and 24-bit words, and pushes them through the real sampling
kernel's ring, so everything above sees what a plate would give. No thread runs: work happens in ``read``.

Scenario time: set ``k`` (``k = 1, 2, ...``) is at ``k / rate_hz`` seconds of scenario time and is due on the
clock at ``start_ns + k / (rate_hz * speed)`` seconds; its Frames timestamp is that due instant, so with
``speed != 1`` the timestamps run ``speed`` times faster than scenario time (``scenario_time_s`` converts).
The loop repeats forever (same person, same reps), ``loop_s`` long; faults are given in scenario seconds.

Ground truth for tests: ``scripted_events()`` lists the loop's events with their true values and
``true_force_n(t_s)`` gives the true total force (noise-free, unfiltered) at scenario times.
"""
from __future__ import annotations

import abc
import math
import re
from dataclasses import dataclass, replace

import numpy as np

from ...exc import ConfigError
from ...signal.calibration import counts_to_words, newtons_to_counts
from ...signal.common import STANDARD_GRAVITY_M_S2
from ...signal.hx711_model import DEFAULT_MODEL, apply_weights as _apply_weights, input_weights
from .. import sampling
from ..flags import WORD_MASK, WORD_NOT_READY
from ..frames import Frames
from ..sources import LoadCellSource, MonotonicClock

INTERNAL_RATE_HZ = 1000.0           # the scenario is scripted at 1 kHz, faster than any impact's rise
PLATE_WIDTH_M = 0.50                # corners at (+-w/2, +-d/2); x to the right, y toward the toes
PLATE_DEPTH_M = 0.40
# Corner positions in channel order: front-left, front-right, back-left, back-right.
CORNERS_M = np.array([(-PLATE_WIDTH_M / 2, PLATE_DEPTH_M / 2), (PLATE_WIDTH_M / 2, PLATE_DEPTH_M / 2),
                      (-PLATE_WIDTH_M / 2, -PLATE_DEPTH_M / 2), (PLATE_WIDTH_M / 2, -PLATE_DEPTH_M / 2)])
CORNER_NOISE_N = 1.0                # white noise on each corner at 1 kHz, RMS
FLIGHT_THRESHOLD_N = 20.0           # docs/contracts.md section 1: flight is force below about 20 N
SCENARIOS = ("standing", "heel-drops", "jumps", "sit-to-stand", "step-on-off", "session", "drop-landings")
ADCS = ("hx711", "ideal")
HX711_MAX_RATE_HZ = 125.0           # the chip runs at 10 or 80 SPS (parts reach ~94); 1 kHz must resolve a period
HX711_MODEL = DEFAULT_MODEL         # the chip's filter (4 one-period boxcars): the model the analysis sees through
_PHASE_STEPS = 256                  # HX711 filter weights are tabulated at this many phases per 1 ms
RING_CAPACITY = 8192                # sets; about 100 s at 80 SPS, 8 s at 1 kHz

_WORD_SATURATED_HI = 0x7FFFFF
_WORD_SATURATED_LO = 0x800000
_WORD_GARBAGE_BIT = 0x1000000       # a bit beyond the 24-bit word: what a glitched clock line reads


# ------------------------------------------------------------------------------------------ HX711 model

def _hx711_taps(period_samples: float) -> int:
    return input_weights(np.zeros(1), period_samples, 1.0, model=HX711_MODEL).shape[1]


def _hx711_weights(phase, period_samples: float, taps: int) -> np.ndarray:
    """Filter weights (n, taps) for output instants ``phase`` (n,) input samples after their base sample;
    tap ``m`` weighs input sample ``base - m`` (the model of forceplate.signal.hx711_model, one place)."""
    weights = input_weights(phase, period_samples, 1.0, model=HX711_MODEL)
    assert weights.shape[1] == taps
    return weights


# ----------------------------------------------------------------------------------- corners and CoP

def split_by_centre_of_pressure(force_n, cop_x_m, cop_y_m, channels=4):
    """Share a total vertical force among the plate's load cells by the centre of pressure (CoP).

    Bilinear weights over the rectangular plate (corners at (+-w/2, +-d/2), w = 0.50 m, d = 0.40 m,
    ``CORNERS_M``): the moments balance, so the corners sum to the total and the force-weighted mean of
    the corner positions is the CoP. Two channels are left and right; one channel is the total.

    Parameters
    ----------
    force_n : array_like, shape (n,)
        Total vertical force in newtons (N).
    cop_x_m, cop_y_m : array_like, shape (n,)
        Centre of pressure in metres (m) from the plate's centre; x to the right, y toward the toes.
        Clipped to the plate.
    channels : {1, 2, 4}

    Returns
    -------
    ndarray, shape (n, channels), float64
    """
    force = np.asarray(force_n, dtype=np.float64)
    fx = 0.5 + np.clip(np.asarray(cop_x_m, dtype=np.float64) / PLATE_WIDTH_M, -0.5, 0.5)   # share on the right
    fy = 0.5 + np.clip(np.asarray(cop_y_m, dtype=np.float64) / PLATE_DEPTH_M, -0.5, 0.5)   # share at the front
    if channels == 1:
        return force[:, None].copy()
    if channels == 2:
        return np.stack([force * (1 - fx), force * fx], axis=1)
    if channels == 4:
        return np.stack([force * (1 - fx) * fy, force * fx * fy, force * (1 - fx) * (1 - fy),
                         force * fx * (1 - fy)], axis=1)
    raise ConfigError(f"a simulated plate has 1, 2 or 4 load cells, not {channels}")


# ------------------------------------------------------------------------------------ ground truth

@dataclass(frozen=True)
class ScriptedEvent:
    """One scripted movement of a scenario loop, with its true values (from the noise-free force).

    Times are scenario seconds; None where a field does not apply.

    kind : "step-on", "step-off", "heel-drop", "jump" or "sit-to-stand".
    contract_kind : what ``forceplate analyze`` should report for it (docs/contracts.md section 1): "impact",
        "jump", or None (nothing: a gentle step stays under the default 1.3 BW).
    start_s, end_s : the movement's first and last instant (quiet standing or an empty plate either side).
    t_peak_s, peak_n, peak_bw : the largest true total force of the impact (the landing, for a jump).
    onset_s, loading_rate_bw_s : the contract's onset (the landing for a jump, else the last instant before
        the peak at 1 BW, interpolated) and the mean rise rate from there to the peak, in BW/s.
    takeoff_s, landing_s, flight_s, height_flight_m : the 20 N threshold crossings of the true force
        (interpolated) and the contract's flight height, 9.80665 * flight_s**2 / 8.
    height_impulse_m : the scripted take-off velocity (net impulse from quiet standing over body mass),
        squared over 2 g.
    """
    kind: str
    contract_kind: str | None
    start_s: float
    end_s: float
    t_peak_s: float | None = None
    peak_n: float | None = None
    peak_bw: float | None = None
    onset_s: float | None = None
    loading_rate_bw_s: float | None = None
    takeoff_s: float | None = None
    landing_s: float | None = None
    flight_s: float | None = None
    height_flight_m: float | None = None
    height_impulse_m: float | None = None

    def shifted(self, dt_s: float) -> "ScriptedEvent":
        """The same event ``dt_s`` seconds later (for later loops)."""
        times = ("start_s", "end_s", "t_peak_s", "onset_s", "takeoff_s", "landing_s")
        return replace(self, **{k: getattr(self, k) + dt_s for k in times if getattr(self, k) is not None})


# ----------------------------------------------------------------------------------- the scripting

def _n(seconds: float) -> int:
    return max(1, int(round(seconds * INTERNAL_RATE_HZ)))


def _ramp(a: float, b: float, n: int) -> np.ndarray:
    """Half-cosine from a to b over n samples, excluding a (the previous sample) and ending exactly at b."""
    u = np.arange(1, n + 1) / n
    return a + (b - a) * (1 - np.cos(np.pi * u)) / 2


def _sharp_ramp(a: float, b: float, n: int, *, sharp_end: bool = False) -> np.ndarray:
    """Quarter-sine from a to b: steepest at the start (a foot striking the plate), flat at b; or, with
    ``sharp_end``, flat at a and steepest at b (a foot leaving it)."""
    u = np.arange(1, n + 1) / n
    if sharp_end:
        return a + (b - a) * (1 - np.cos(np.pi / 2 * u))
    return a + (b - a) * np.sin(np.pi / 2 * u)


class _Script:
    """One loop being written: force in body weights, standing weight (sway, fluctuation) and CoP offsets."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.force_bw: list[np.ndarray] = []
        self.quiet: list[np.ndarray] = []
        self.dx_m: list[np.ndarray] = []
        self.dy_m: list[np.ndarray] = []
        self.n = 0
        self.marks: list[dict] = []     # events: kind, contract_kind, start, end (samples) and extras

    def add(self, force_bw, *, quiet=0.0, dx_m=0.0, dy_m=0.0) -> int:
        force_bw = np.asarray(force_bw, dtype=np.float64)
        n = force_bw.shape[0]
        self.force_bw.append(force_bw)
        for parts, value in ((self.quiet, quiet), (self.dx_m, dx_m), (self.dy_m, dy_m)):
            parts.append(np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)))
        start = self.n
        self.n += n
        return start

    def uniform(self, lo, hi) -> float:
        return float(self.rng.uniform(lo, hi))

    # Each movement starts where the last one ended (standing: 1 BW, no CoP offset) and ends the same way.

    def empty(self, seconds):
        self.add(np.zeros(_n(seconds)))

    def stand(self, seconds):
        n = _n(seconds)
        edge = min(_n(0.25), n // 2)    # sway and force fluctuation fade in and out: no jump in force
        quiet = np.ones(n)
        quiet[:edge] = _ramp(0.0, 1.0, edge)
        quiet[n - edge:] = _ramp(1.0, 0.0, edge)
        self.add(np.ones(n), quiet=quiet)

    def step_on(self):
        n = _n(0.4)
        u = np.arange(1, n + 1) / n
        side = self.rng.choice([-1.0, 1.0])             # the first foot lands on one side
        force = _ramp(0.0, 1.0, n) + 0.03 * np.sin(np.pi * u) ** 2
        start = self.add(force, dx_m=side * 0.10 * (1 - _ramp(0.0, 1.0, n)))
        self.marks.append(dict(kind="step-on", contract_kind=None, start=start, end=self.n))

    def step_off(self):
        n = _n(0.4)
        side = self.rng.choice([-1.0, 1.0])             # the last foot leaves from one side
        start = self.add(_ramp(1.0, 0.0, n), dx_m=side * 0.10 * _ramp(0.0, 1.0, n))
        self.marks.append(dict(kind="step-off", contract_kind=None, start=start, end=self.n))

    def heel_drop(self, peak_bw):
        u = self.uniform
        rise_on_toes = _n(u(0.5, 0.7))
        toes_y = u(0.05, 0.07)
        s = np.arange(1, rise_on_toes + 1) / rise_on_toes
        start = self.add(1 + 0.08 * np.sin(2 * np.pi * s), dy_m=_ramp(0.0, toes_y, rise_on_toes))
        self.add(np.ones(_n(u(0.3, 0.8))), dy_m=toes_y)                     # balance on the toes
        dip_bw, dip = u(0.5, 0.7), _n(u(0.10, 0.15))                        # the heels fall: unloading
        fall = int(0.6 * dip)
        self.add(np.concatenate([_ramp(1.0, dip_bw, fall), np.full(dip - fall, dip_bw)]),
                 dy_m=_ramp(toes_y, 0.0, dip))
        total_ms = u(30.0, 60.0)                                            # the impact: fast rise, slower fall
        rise = _n(u(12.0, min(30.0, 0.45 * total_ms)) / 1000)
        impact = self.add(np.concatenate([_sharp_ramp(dip_bw, peak_bw, rise), _ramp(peak_bw, 0.9, _n(total_ms / 1000) - rise)]),
                          dy_m=-0.02)
        self.add(_ramp(0.9, 1.0, _n(0.25)), dy_m=_ramp(-0.02, 0.0, _n(0.25)))
        self.marks.append(dict(kind="heel-drop", contract_kind="impact", start=start, end=self.n,
                               peak_from=impact, peak_to=self.n))

    def jump(self):
        u = self.uniform
        flight_target_s = u(0.30, 0.50)
        dip_bw, dip = u(0.30, 0.50), _n(u(0.30, 0.40))                     # countermovement unloading
        push_bw, rise, drop = u(2.0, 2.5), _n(u(0.12, 0.18)), _n(u(0.08, 0.12))
        s = np.arange(1, dip + 1) / dip
        unloading = 1 - (1 - dip_bw) * np.sin(np.pi * s)
        # Propulsion: hold push_bw long enough that the net impulse gives the flight (v = g * flight / 2).
        rising, dropping = _ramp(1.0, push_bw, rise), _sharp_ramp(push_bw, 0.0, drop, sharp_end=True)
        impulse_bw_s = (np.sum(unloading - 1) + np.sum(rising - 1) + np.sum(dropping - 1)) / INTERNAL_RATE_HZ
        hold_s = (flight_target_s / 2 - impulse_bw_s) / (push_bw - 1)
        before_takeoff = np.concatenate([unloading, rising, np.full(_n(max(hold_s, 0.02)), push_bw), dropping])
        impulse_bw_s = np.sum(before_takeoff - 1) / INTERNAL_RATE_HZ        # v_takeoff / g, in seconds
        start = self.add(before_takeoff)
        flight = _n(2 * impulse_bw_s)                                       # ballistic: t = 2 v / g
        self.add(np.zeros(flight))
        landing_bw, total_ms = u(3.5, 5.0), u(40.0, 70.0)                   # landing impact
        rise_l = _n(u(0.35, 0.45) * total_ms / 1000)
        settle_bw = u(1.10, 1.20)
        impact = np.concatenate([_sharp_ramp(0.0, landing_bw, rise_l), _ramp(landing_bw, settle_bw, _n(total_ms / 1000) - rise_l)])
        landing = self.add(impact, dy_m=0.02)
        # Absorb the landing momentum (the same v): the rest of the impulse in a slow decay to standing.
        rest_bw_s = flight / INTERNAL_RATE_HZ / 2 - np.sum(impact - 1) / INTERNAL_RATE_HZ
        settle_s = float(np.clip(2 * rest_bw_s / (settle_bw - 1), 0.3, 2.0))
        self.add(_ramp(settle_bw, 1.0, _n(settle_s)), dy_m=_ramp(0.02, 0.0, _n(settle_s)))
        v_m_s = STANDARD_GRAVITY_M_S2 * impulse_bw_s
        self.marks.append(dict(kind="jump", contract_kind="jump", start=start, end=self.n, peak_from=landing,
                               peak_to=landing + len(impact), takeoff_search=start, landing_search=landing,
                               height_impulse_m=v_m_s ** 2 / (2 * STANDARD_GRAVITY_M_S2)))

    def drop_landing(self, *, rebound: bool):
        """From an empty plate (the person on a low box beside it): a drop landing, then either a rebound
        jump straight away (a drop jump: braking, push-off, flight, landing) or absorbing into standing."""
        u = self.uniform
        peak_bw, total_ms = u(3.5, 5.0), u(40.0, 70.0)                     # the drop landing's impact
        rise = _n(u(0.35, 0.45) * total_ms / 1000)
        after_bw = u(1.6, 2.0) if rebound else u(1.1, 1.2)
        landing = self.add(np.concatenate([_sharp_ramp(0.0, peak_bw, rise),
                                           _ramp(peak_bw, after_bw, _n(total_ms / 1000) - rise)]), dy_m=0.01)
        self.marks.append(dict(kind="drop-landing", contract_kind="impact", start=landing, end=self.n,
                               peak_from=landing, peak_to=self.n))
        if not rebound:
            settle = _n(u(0.4, 0.6))
            self.add(_ramp(after_bw, 1.0, settle), dy_m=_ramp(0.01, 0.0, settle))
            return
        push_bw, hold, drop = u(1.8, 2.2), _n(u(0.12, 0.2)), _n(u(0.08, 0.12))   # braking into the push-off
        start = self.add(np.concatenate([_ramp(after_bw, push_bw, hold),
                                         _sharp_ramp(push_bw, 0.0, drop, sharp_end=True)]))
        self.add(np.zeros(_n(u(0.30, 0.45))))                                # flight
        land_bw, land_ms = u(3.0, 4.0), u(40.0, 70.0)
        rise_l = _n(u(0.35, 0.45) * land_ms / 1000)
        impact = np.concatenate([_sharp_ramp(0.0, land_bw, rise_l), _ramp(land_bw, 1.15, _n(land_ms / 1000) - rise_l)])
        land = self.add(impact, dy_m=0.02)
        self.add(_ramp(1.15, 1.0, _n(0.6)), dy_m=_ramp(0.02, 0.0, _n(0.6)))
        self.marks.append(dict(kind="jump", contract_kind="jump", start=start, end=self.n, peak_from=land,
                               peak_to=land + len(impact), takeoff_search=start, landing_search=land,
                               height_impulse_m=None))

    # Sit-to-stand options (SimulatedSource's seated_bw, sit_down_s, rise_s): None draws from the seed.
    seated_bw: float | None = None
    sit_down_s: float | None = None
    rise_s: float | None = None

    def sit_to_stand(self, peak_bw):
        """Sit down (a half-cosine from 1 BW to the seat over 2-3 s, or ``sit_down_s``), sit 1.5-2.5 s, rise
        (0.5-0.8 s, or ``rise_s``: up to ``peak_bw``, down to 0.9 BW, up to 1 BW, each a half-cosine) to
        standing. The seat (the feet's share, 0.22-0.28 BW, or ``seated_bw``) is flat. The draws are made
        whether or not an option replaces them, so the rest of the loop is the same either way."""
        u = self.uniform
        seated_bw = u(0.22, 0.28)                                           # the chair is off the plate
        sit_s = u(2.0, 3.0)                                                 # slow, controlled sit-down
        seated_bw = seated_bw if self.seated_bw is None else self.seated_bw
        sit = _n(sit_s if self.sit_down_s is None else self.sit_down_s)
        start = self.add(_ramp(1.0, seated_bw, sit), dy_m=_ramp(0.0, -0.02, sit))
        self.add(np.full(_n(u(1.5, 2.5)), seated_bw), dy_m=-0.02)
        rise_total = u(0.5, 0.8)                                            # fast rise: the rep
        rise_total = rise_total if self.rise_s is None else self.rise_s
        up, down = _n(0.45 * rise_total), _n(0.35 * rise_total)
        settle = _n(rise_total) - up - down
        rise = self.add(np.concatenate([_ramp(seated_bw, peak_bw, up), _ramp(peak_bw, 0.9, down),
                                        _ramp(0.9, 1.0, settle)]),
                        dy_m=np.concatenate([_ramp(-0.02, 0.04, up + down), _ramp(0.04, 0.0, settle)]))
        self.marks.append(dict(kind="sit-to-stand", contract_kind=None, start=start, end=self.n,
                               peak_from=rise, peak_to=self.n))


def _heel_drop_peaks(rng, reps: int) -> list[float]:
    """Peaks in body weights, 2.0-3.8; about a third of the reps too soft to count (below 2.5 BW)."""
    soft = set(rng.choice(reps, size=max(1, round(reps / 3)), replace=False).tolist())
    # Keep clear of the 2.5 BW thump threshold, so a test's verdict never hangs on noise.
    return [float(rng.uniform(2.0, 2.35)) if i in soft else float(rng.uniform(2.7, 3.8)) for i in range(reps)]


def _write_scenario(script: _Script, scenario: str) -> None:
    rng, u = script.rng, script.uniform
    script.empty(u(0.9, 1.1))
    script.step_on()
    script.stand(u(3.0, 3.5))            # quiet first: body weight comes from a quiet second

    def heel_drops(reps):
        for peak in _heel_drop_peaks(rng, reps):
            script.heel_drop(peak)
            script.stand(u(2.0, 3.0))

    def jumps(reps):
        for _ in range(reps):
            script.jump()
            script.stand(u(2.5, 3.5))

    def sit_to_stands(reps):
        for _ in range(reps):
            script.sit_to_stand(u(1.35, 1.6))
            script.stand(u(2.5, 3.0))

    if scenario == "standing":
        script.stand(u(20.0, 25.0))
    elif scenario == "heel-drops":
        heel_drops(6)
    elif scenario == "jumps":
        jumps(3)
    elif scenario == "sit-to-stand":
        sit_to_stands(4)
    elif scenario == "step-on-off":
        for _ in range(2):
            script.step_off()
            script.empty(u(1.5, 2.5))
            script.step_on()
            script.stand(u(3.0, 4.0))
    elif scenario == "drop-landings":       # off onto the box, drop onto the plate: rebound, none, rebound
        for rebound in (True, False, True):
            script.step_off()
            script.empty(u(1.5, 2.0))
            script.drop_landing(rebound=rebound)
            script.stand(u(2.0, 2.5))
    elif scenario == "session":
        heel_drops(3)
        jumps(2)
        sit_to_stands(2)
    script.step_off()
    script.empty(u(0.9, 1.1))


def _periodic_noise(rng, n: int, lo_hz: float, hi_hz: float, rms: float) -> np.ndarray:
    """Band-limited Gaussian noise that repeats seamlessly every n samples (random spectrum, inverse FFT)."""
    freqs = np.fft.rfftfreq(n, 1 / INTERNAL_RATE_HZ)
    band = (freqs >= lo_hz) & (freqs <= hi_hz)
    spectrum = np.zeros(freqs.shape, dtype=np.complex128)
    spectrum[band] = rng.normal(size=band.sum()) + 1j * rng.normal(size=band.sum())
    noise = np.fft.irfft(spectrum, n)
    return noise * (rms / np.sqrt(np.mean(noise ** 2)))


def _crossing(force_n, i: int, level: float) -> float:
    """Interpolated sample position where force goes from sample i to i + 1 across level."""
    a, b = force_n[i], force_n[i + 1]
    return i + (level - a) / (b - a)


def _true_values(mark: dict, force_n: np.ndarray, bw_n: float) -> ScriptedEvent:
    rate = INTERNAL_RATE_HZ
    values = dict(kind=mark["kind"], contract_kind=mark["contract_kind"], start_s=mark["start"] / rate,
                  end_s=mark["end"] / rate)
    if "peak_from" not in mark:
        return ScriptedEvent(**values)
    lo, hi = mark["peak_from"], mark["peak_to"]
    i_peak = lo + int(np.argmax(force_n[lo:hi]))
    peak_n = float(force_n[i_peak])
    values.update(t_peak_s=i_peak / rate, peak_n=peak_n, peak_bw=peak_n / bw_n)
    if mark["kind"] == "jump":
        seg = force_n[mark["takeoff_search"]:mark["landing_search"] + 1]
        below = np.flatnonzero((seg[:-1] >= FLIGHT_THRESHOLD_N) & (seg[1:] < FLIGHT_THRESHOLD_N))[0]
        takeoff = _crossing(force_n, mark["takeoff_search"] + below, FLIGHT_THRESHOLD_N) / rate
        seg = force_n[mark["landing_search"] - 1:i_peak + 1]
        above = np.flatnonzero((seg[:-1] < FLIGHT_THRESHOLD_N) & (seg[1:] >= FLIGHT_THRESHOLD_N))[0]
        landing = _crossing(force_n, mark["landing_search"] - 1 + above, FLIGHT_THRESHOLD_N) / rate
        flight = landing - takeoff
        values.update(takeoff_s=takeoff, landing_s=landing, flight_s=flight,
                      height_flight_m=STANDARD_GRAVITY_M_S2 * flight ** 2 / 8,
                      height_impulse_m=mark["height_impulse_m"], onset_s=landing,
                      loading_rate_bw_s=(peak_n - FLIGHT_THRESHOLD_N) / bw_n / (i_peak / rate - landing))
    else:
        at_or_below = np.flatnonzero(force_n[:i_peak] <= bw_n)
        if at_or_below.size:
            onset = _crossing(force_n, int(at_or_below[-1]), bw_n) / rate
            values.update(onset_s=onset, loading_rate_bw_s=(peak_n - bw_n) / bw_n / (i_peak / rate - onset))
    return ScriptedEvent(**values)


# ------------------------------------------------------------------------ paced sources (sim, replay)

class PacedSource(LoadCellSource):
    """A source whose sets come due on its clock at scripted instants; ``read`` makes and delivers them.

    Subclasses give the due offsets and the words of set indices ``k`` (0-based). The words go through the
    real kernel's ring: when a reader falls more than the ring's capacity behind, the newest sets are
    dropped and counted (``dropped``), as the hardware sampler would.
    """

    def __init__(self, *, channels: int, clock=None):
        self.clock = clock if clock is not None else MonotonicClock()
        self._ring = sampling.SampleRing(channels, RING_CAPACITY)
        self.start_ns = int(self.clock.now_ns())
        self._next_k = 0
        self._skipped = 0

    # -- for subclasses
    def pause(self, seconds: float) -> None:
        self.clock.sleep(seconds)           # a FakeClock moves on; the real one sleeps

    @abc.abstractmethod
    def _offsets_ns(self, k: np.ndarray) -> np.ndarray:
        """Due instants of sets k, in ns after start_ns (int64, increasing)."""

    @abc.abstractmethod
    def _estimate_due(self, elapsed_ns: int) -> int:
        """About how many sets are due after elapsed_ns (corrected by the caller)."""

    @abc.abstractmethod
    def _words(self, k: np.ndarray) -> np.ndarray:
        """Raw words (len(k), channels) uint32 of sets k."""

    total_sets: int | None = None   # None: forever

    # -- LoadCellSource
    def ticks_ns(self) -> int:
        return int(self.clock.now_ns())

    @property
    def dropped(self) -> int:
        """Sets lost because nobody read them in time (the ring was full)."""
        return int(self._ring.dropped) + self._skipped

    def _offset(self, k: int) -> int:
        return int(self._offsets_ns(np.array([k], dtype=np.int64))[0])

    def _n_due(self, elapsed_ns: int) -> int:
        if elapsed_ns < 0:
            return 0
        n = max(0, self._estimate_due(elapsed_ns))
        if self.total_sets is not None:
            n = min(n, self.total_sets)
        while (self.total_sets is None or n < self.total_sets) and self._offset(n) <= elapsed_ns:
            n += 1
        while n > 0 and self._offset(n - 1) > elapsed_ns:
            n -= 1
        return n

    def _produce(self) -> None:
        due = self._n_due(int(self.clock.now_ns()) - self.start_ns)
        n = due - self._next_k
        if n <= 0:
            return
        room = self._ring.capacity - self._ring.available
        if n > room:                    # a full ring keeps its oldest sets and loses the newest
            self._skipped += n - room
        k = np.arange(self._next_k, self._next_k + min(n, room), dtype=np.int64)
        if k.size:
            self._ring.push_block(self.start_ns + self._offsets_ns(k), self._words(k))
        self._next_k = due

    def read(self, max_sets: int = 4096, timeout_s: float = 0.0) -> Frames:
        self._produce()
        if self._ring.available == 0 and timeout_s > 0:
            deadline = int(self.clock.now_ns()) + int(timeout_s * 1e9)
            while self._ring.available == 0:
                now = int(self.clock.now_ns())
                if now >= deadline or (self.total_sets is not None and self._next_k >= self.total_sets):
                    break
                wake = min(self.start_ns + self._offset(self._next_k), deadline)
                self.clock.sleep(max(wake - now, 0) / 1e9)
                self._produce()
        return self._ring.pop(max(0, int(max_sets)))


def _sit_to_stand_options(seated_bw, sit_down_s, rise_s) -> dict:
    """The sit-to-stand options, checked: {name: value} of those given."""
    out = {}
    for name, value, lo, hi, unit in (("seated_bw", seated_bw, 0.0, 0.7, "BW"),
                                      ("sit_down_s", sit_down_s, 0.3, 10.0, "s"),
                                      ("rise_s", rise_s, 0.2, 3.0, "s")):
        if value is None:
            continue
        value = float(value)
        if not lo <= value <= hi:
            raise ConfigError(f"{name} {value:g} is outside {lo:g}-{hi:g} {unit}")
        out[name] = value
    return out


# ------------------------------------------------------------------------------------------- faults

_FAULT_WORDS = {"not_ready": WORD_NOT_READY, "unplugged": WORD_NOT_READY, "garbage": None,
                "saturate": _WORD_SATURATED_HI, "saturate_low": _WORD_SATURATED_LO}
_FAULT_RE = re.compile(r"^(?P<kind>[a-z_]+)@(?P<at>\d+(?:\.\d*)?|\.\d+)s?"
                       r"(?:\+(?P<for>\d+(?:\.\d*)?|\.\d+)s?)?(?::ch(?P<ch>\d+))?$")


@dataclass(frozen=True)
class Fault:
    """A scripted chip fault: ``KIND@TIME[s][+DURATION[s]][:chN]``, times in scenario seconds.

    Kinds: ``not_ready`` (the chip missed a conversion: WORD_NOT_READY), ``garbage`` (a corrupt read: a word
    with bits beyond 24 set), ``saturate`` (0x7FFFFF) and ``saturate_low`` (0x800000) last one set, or
    DURATION; ``unplugged`` gives WORD_NOT_READY from TIME on. Without ``:chN`` every channel is hit.
    """
    kind: str
    at_s: float
    duration_s: float | None
    channel: int | None

    @classmethod
    def parse(cls, text: str, channels: int) -> "Fault":
        match = _FAULT_RE.match(text.strip().lower())
        if not match:
            raise ConfigError(f"fault {text!r} is not KIND@SECONDS[+SECONDS][:chN], e.g. not_ready@3.0s:ch1")
        kind = match["kind"]
        if kind not in _FAULT_WORDS:
            raise ConfigError(f"fault {text!r}: unknown kind {kind!r}; known: {', '.join(_FAULT_WORDS)}")
        channel = None if match["ch"] is None else int(match["ch"])
        if channel is not None and channel >= channels:
            raise ConfigError(f"fault {text!r}: channel {channel} does not exist (channels 0-{channels - 1})")
        duration = None if match["for"] is None else float(match["for"])
        if kind == "unplugged" and duration is not None:
            raise ConfigError(f"fault {text!r}: unplugged lasts for good; use not_ready@T+D for a pause")
        return cls(kind, float(match["at"]), duration, channel)

    def set_range(self, rate_hz: float) -> tuple[int, float]:
        """First and end (exclusive) set number k (k >= 1, at k / rate_hz scenario seconds) it hits."""
        first = max(1, math.ceil(self.at_s * rate_hz - 1e-9))
        if self.kind == "unplugged":
            return first, math.inf
        if self.duration_s is None:
            return first, first + 1
        return first, max(first + 1, math.ceil((self.at_s + self.duration_s) * rate_hz - 1e-9))


def parse_faults(faults, channels: int) -> tuple[Fault, ...]:
    """Faults from a list of strings, or one comma-separated string (as in a source spec)."""
    if faults is None:
        return ()
    if isinstance(faults, str):
        faults = [part for part in faults.split(",") if part.strip()]
    return tuple(Fault.parse(str(text), channels) for text in faults)


# --------------------------------------------------------------------------------- SimulatedSource

class SimulatedSource(PacedSource):
    """A simulated plate with a person on it, in real time (or ``speed`` times faster).

    Parameters
    ----------
    scenario : str
        ``standing`` (20-25 s of quiet standing), ``heel-drops`` (6 reps, about a third too soft to count),
        ``jumps`` (3 countermovement jumps), ``sit-to-stand`` (4 reps, the chair off the plate),
        ``step-on-off`` (stepping on and off), ``session`` (3 heel drops, 2 jumps, 2 sit-to-stands; the
        default), ``drop-landings`` (3 times: step back onto a box, drop onto the plate; the first and the
        last rebound at once into a jump). Each loop: about 1 s empty, step on, >= 3 s of quiet standing, the reps with standing
        between, step off, about 1 s empty; then it repeats. ``loop_s`` gives the exact length, which
        depends on the seed: 26-31 s for standing, 29-32 s heel-drops, 22-25 s jumps, 36-39 s
        sit-to-stand, 18-20 s step-on-off, 42-48 s session.
    rate_hz : float
        Output rate in hertz (Hz), 1-2000; at most 125 with the HX711 (use 1000 with ``adc="ideal"``).
    adc : {"hx711", "ideal"}
        ``hx711``: each word is the force through the HX711 filter model; ``ideal``: the force at the instant.
    seed : int
        Seeds everything: the person, the reps, the noise, the calibration.
    channels : {4, 2, 1}
        Four corners (``CORNERS_M`` order), left/right, or the total.
    body_mass_kg : float, optional
        The person's mass (kg); default seeded between 55 and 90 kg.
    speed : float
        Playback speed; 1 is real time.
    faults : list of str, or a comma-separated str
        Scripted chip faults (see ``Fault``), e.g. ``["not_ready@3.0s", "unplugged@10s:ch1"]``.
    seated_bw, sit_down_s, rise_s : float, optional
        Every sit-to-stand rep's seat level (the feet's share of the weight while seated, 0-0.7 BW; below
        0.029 BW a 700 N person's seat is under the 20 N empty-plate threshold), sit-down duration (0.3-10 s)
        and rise duration (0.2-3 s); default drawn per rep from the seed (0.22-0.28 BW, 2-3 s, 0.5-0.8 s).
    noise_n : float
        Sensor noise on each corner, RMS in newtons at 1 kHz (white), before the ADC (default
        ``CORNER_NOISE_N``, 1 N; 0-50). The same seed draws the same noise, scaled.
    clock : object with ``now_ns()`` and ``sleep(seconds)``, optional
        Default the real monotonic clock; tests pass ``mock.FakeClock``.
    """

    OPTION_TYPES = {"rate_hz": float, "adc": str, "seed": int, "body_mass_kg": float, "speed": float,
                    "channels": int, "faults": str, "noise_n": float, "seated_bw": float, "sit_down_s": float,
                    "rise_s": float}

    def __init__(self, scenario: str = "session", *, rate_hz: float = 80.0, adc: str = "hx711", seed: int = 0,
                 channels: int = 4, body_mass_kg: float | None = None, speed: float = 1.0, faults=(),
                 noise_n: float = CORNER_NOISE_N, seated_bw: float | None = None,
                 sit_down_s: float | None = None, rise_s: float | None = None, clock=None):
        scenario = str(scenario).strip().lower()
        if scenario not in SCENARIOS:
            raise ConfigError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
        adc = str(adc).strip().lower()
        if adc not in ADCS:
            raise ConfigError(f"adc {adc!r} must be hx711 or ideal")
        rate_hz = float(rate_hz)
        if not 1.0 <= rate_hz <= 2000.0:
            raise ConfigError(f"rate_hz {rate_hz:g} is outside 1-2000 Hz")
        if adc == "hx711" and rate_hz > HX711_MAX_RATE_HZ:
            raise ConfigError(f"rate_hz {rate_hz:g} is too fast for an HX711 (10 or 80 SPS, at most "
                              f"{HX711_MAX_RATE_HZ:g}); use adc=ideal for a fast ADC")
        if channels not in (1, 2, 4):
            raise ConfigError(f"channels must be 1, 2 or 4, not {channels}")
        speed = float(speed)
        if not 0.01 <= speed <= 1000.0:
            raise ConfigError(f"speed {speed:g} is outside 0.01-1000")
        noise_n = float(noise_n)
        if not 0.0 <= noise_n <= 50.0:
            raise ConfigError(f"noise_n {noise_n:g} N is outside 0-50 N")
        if body_mass_kg is not None and not 20.0 <= float(body_mass_kg) <= 250.0:
            raise ConfigError(f"body_mass_kg {body_mass_kg:g} is outside 20-250 kg")
        sts = _sit_to_stand_options(seated_bw, sit_down_s, rise_s)
        self.faults = parse_faults(faults, channels)
        super().__init__(channels=channels, clock=clock)
        self.scenario = scenario
        self.name = f"sim:{scenario}"
        self.channels = channels
        self.rate_hz = rate_hz
        self.adc = adc
        self.speed = speed
        self.seed = int(seed)
        self.noise_n = noise_n
        self.is_simulated = True

        rng = np.random.default_rng(self.seed)
        mass = float(body_mass_kg) if body_mass_kg is not None else float(rng.uniform(55.0, 90.0))
        self.body_mass_kg = mass
        self.body_weight_n = mass * STANDARD_GRAVITY_M_S2
        # Calibration: a tared offset of tens of thousands of counts and 0.002-0.004 N/count, so 5 BW of a
        # 90 kg person on one corner (4.4 kN) stays within 24 bits (about 2.2 M of 8.4 M counts).
        self.offset_counts = (rng.choice([-1, 1], size=channels) * rng.uniform(20_000, 90_000, channels)).round()
        self.scale_n_per_count = rng.uniform(0.002, 0.004, channels)
        self.sit_to_stand_options = sts
        self._build_loop(rng)

    def _build_loop(self, rng) -> None:
        script = _Script(rng)
        for key, value in self.sit_to_stand_options.items():
            setattr(script, key, value)
        _write_scenario(script, self.scenario)
        n = script.n
        force_bw = np.concatenate(script.force_bw)
        quiet = np.concatenate(script.quiet)
        fluctuation = _periodic_noise(rng, n, 0.1, 2.0, 0.003)            # 0.3 % BW RMS while standing
        total_n = self.body_weight_n * (force_bw + fluctuation * quiet)
        stance = rng.uniform(-0.03, 0.03, 2)                                # where the person stands
        sway_x = _periodic_noise(rng, n, 0.2, 0.5, 0.007)                   # about 1 cm of sway
        sway_y = _periodic_noise(rng, n, 0.2, 0.5, 0.007)
        cop_x = stance[0] + np.concatenate(script.dx_m) + sway_x
        cop_y = stance[1] + np.concatenate(script.dy_m) + sway_y
        corners = split_by_centre_of_pressure(total_n, cop_x, cop_y, self.channels)
        corners += self.noise_n * rng.normal(0.0, 1.0, corners.shape)
        self.loop_samples = n
        self.loop_s = n / INTERNAL_RATE_HZ
        self._total_n = total_n.astype(np.float32)          # float32: a 50 s loop is 0.2 MB per signal
        self._corners_n = corners.astype(np.float32)
        self._cop_m = np.stack([cop_x, cop_y], axis=1).astype(np.float32)
        self._events = tuple(_true_values(mark, total_n, self.body_weight_n) for mark in script.marks)
        self._fault_ranges = [(f, *f.set_range(self.rate_hz)) for f in self.faults]
        if self.adc == "hx711":
            period_samples = INTERNAL_RATE_HZ / self.rate_hz
            self._hx711_table = _hx711_weights(np.arange(_PHASE_STEPS) / _PHASE_STEPS, period_samples,
                                               _hx711_taps(period_samples))

    # -- ground truth
    def scripted_events(self, until_s: float | None = None) -> list[ScriptedEvent]:
        """The scripted events with their true values: one loop's, or every one starting before ``until_s``.

        Times are scenario seconds (see ``scenario_time_s``); loop ``q`` is loop 0 shifted by ``q * loop_s``.
        """
        if until_s is None:
            return list(self._events)
        out = []
        for q in range(int(until_s // self.loop_s) + 1):
            out += [e.shifted(q * self.loop_s) for e in self._events if e.start_s + q * self.loop_s < until_s]
        return out

    def true_force_n(self, t_s) -> np.ndarray:
        """The true total force (N) at scenario times ``t_s``: no sensor noise, no ADC filter; periodic."""
        position = np.asarray(t_s, dtype=np.float64) * INTERNAL_RATE_HZ
        i = np.floor(position).astype(np.int64)
        frac = position - i
        a = self._total_n[np.mod(i, self.loop_samples)]
        b = self._total_n[np.mod(i + 1, self.loop_samples)]
        return a + (b - a) * frac

    def centre_of_pressure_m(self, t_s) -> np.ndarray:
        """The scripted centre of pressure (x, y) in metres at scenario times ``t_s``, shape (n, 2)."""
        i = np.rint(np.asarray(t_s, dtype=np.float64) * INTERNAL_RATE_HZ).astype(np.int64)
        return self._cop_m[np.mod(i, self.loop_samples)].astype(np.float64)

    def scenario_time_s(self, t_ns):
        """Scenario seconds of clock timestamps (Frames.t_ns): (t_ns - start_ns) * speed / 1e9."""
        return (np.asarray(t_ns, dtype=np.int64) - self.start_ns) * (self.speed / 1e9)

    def corner_force_n(self, t_s) -> np.ndarray:
        """What each corner's ADC reports at scenario times ``t_s`` (N), noise included, before counts."""
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        if self.adc == "hx711":
            # The chip model (as signal/hx711_model.filter_samples), with the weights looked up by phase
            # (quantised to 1/256 of a 1 ms input sample): reading then costs a gather and a dot product per set.
            position = t * INTERNAL_RATE_HZ
            base = np.floor(position).astype(np.int64)
            step = np.rint((position - base) * _PHASE_STEPS).astype(np.int64)    # 0..256
            return _apply_weights(self._corners_n, base + step // _PHASE_STEPS,
                                  self._hx711_table[step % _PHASE_STEPS], "wrap")
        position = t * INTERNAL_RATE_HZ
        i = np.floor(position).astype(np.int64)
        frac = (position - i)[:, None]
        a = self._corners_n[np.mod(i, self.loop_samples)].astype(np.float64)
        b = self._corners_n[np.mod(i + 1, self.loop_samples)].astype(np.float64)
        return a + (b - a) * frac

    # -- pacing
    def _offsets_ns(self, k):
        return np.rint((k + 1) * (1e9 / (self.rate_hz * self.speed))).astype(np.int64)

    def _estimate_due(self, elapsed_ns):
        return int(elapsed_ns * (self.rate_hz * self.speed) / 1e9)

    def _words(self, k):
        set_number = k + 1                  # set k+1 is at (k+1) / rate_hz scenario seconds
        force_n = self.corner_force_n(set_number / self.rate_hz)
        words = counts_to_words(newtons_to_counts(force_n, self.offset_counts, self.scale_n_per_count))
        for fault, first, end in self._fault_ranges:
            hit = (set_number >= first) & (set_number < end)
            if not hit.any():
                continue
            cols = slice(None) if fault.channel is None else fault.channel
            if fault.kind == "garbage":
                words[hit, cols] = (words[hit, cols] & WORD_MASK) | _WORD_GARBAGE_BIT
            else:
                words[hit, cols] = _FAULT_WORDS[fault.kind]
        return words

    def describe(self) -> str:
        return (f"{super().describe()}, {self.body_mass_kg:.1f} kg person, loop {self.loop_s:.1f} s"
                + (f", speed x{self.speed:g}" if self.speed != 1 else ""))

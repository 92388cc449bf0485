"""The plate checks itself: ``forceplate doctor`` and the Settings page's section (docs/hardware.md, "The
plate's self-check").

Each check is a plain function of what was measured (sample sets, the sampler's counters, the stored
calibration, the data folder, the clock) and returns :class:`Check` results: a name, a status (``ok``,
``warn``, ``fail`` or ``skip``), the measured value with its units and what to do about it. Only
:func:`capture` and :func:`run_doctor` touch a source; everything else can be fed recorded numbers.

The checks (thresholds and their sources in docs/hardware.md):

- hardware: is this a real plate (a simulated one skips every chip check: "no hardware");
- per corner: the chip answers (valid words), its noise in counts and newtons over an empty plate, its offset
  drift; the plate's output rate (85-94 SPS at the "80" setting) and the sampler (priority, captured sets);
- the stored calibration: how old, do the corners agree;
- free disk in the data folder, and whether the clock is set (a Pi has no real-time clock);
- the filter self-check: a ball dropped on the plate's centre is a contact much shorter than one output period,
  so each chip's words trace its own filter; :func:`fit_filter` fits the number of boxcars (the model's order)
  and says whether the model the peak estimates assume (``hx711_model.DEFAULT_MODEL``) matches, with the
  residual against the chip's own noise. A pure delay cannot be measured this way (the words give the
  contact instant plus the delay, never the two apart) and moves a fitted peak's instant only, never its size.
"""
from __future__ import annotations

import ctypes
import datetime as _dt
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import flags as _flags
from .frames import Frames

STATUSES = ("ok", "warn", "fail", "skip")
REPORT_NAME = "doctor-report.json"

# thresholds (docs/hardware.md says where each comes from)
RATE_OK_HZ = (85.0, 94.0)           # the "80" setting on the internal oscillator (README, docs/hx711-model.md)
RATE_CRYSTAL_TOLERANCE = 0.02       # a crystal-clocked chip gives the nominal rate itself
RATE_WARN_HZ = (70.0, 100.0)        # still an "80" chip, but outside the usual spread
VALID_OK = 0.999                    # words valid (no flag) for a chip that answers
VALID_WARN = 0.95
NOISE_OK_N = 1.0                    # per corner, RMS: four such corners make the 2 N the estimates assume
NOISE_WARN_N = 2.0
DATASHEET_NOISE_NV = 90.0           # HX711 datasheet: input noise at gain 128, 80 SPS
NOISE_COUNTS_WARN_FACTOR = 5.0      # a chip this much noisier than its datasheet is hurt (or its wiring)
DRIFT_OK_N_PER_MIN = 0.5            # per corner, within the empty-plate capture
DRIFT_WARN_N_PER_MIN = 2.0
TARE_OK_N = 5.0                     # the empty plate against the stored tare, all corners together
TARE_WARN_N = 20.0                  # = AutoZero's warn_drift_n: the live page asks for a re-tare beyond it
CAPTURED_OK = 0.999                 # sampler goal (bench/README.md, sampler)
CAPTURED_WARN = 0.99
CALIBRATION_MAX_AGE_DAYS = 90       # calibration.saved.DEFAULT_MAX_AGE_DAYS
CORNER_SCALE_OK = 1.25              # largest / smallest newtons per count of four like cells
CORNER_SCALE_WARN = 1.5
RESIDUAL_OK = 0.01                  # a placement's misfit, fraction of the mass's weight (procedure's own warning)
RESIDUAL_WARN = 0.03
DISK_OK_FACTOR = 5.0                # free space: min_free_disk_mb (a set does not start below) times this is ok
FIT_OK_NOISE = 1.5                  # filter fit residual, RMS, in units of the chip's own noise
MATCH_MARGIN = 0.25                 # another order must cut the squared residual by more than this to win
MIN_CONTACTS = 3
MIN_CONTACT_SNR = 8.0               # a contact's largest word over the chip's noise
ORDERS = tuple(range(1, 9))
_WIDTHS_T = (0.0, 0.15, 0.3, 0.45)  # contact lengths tried, in output periods ("well under one period")
_STRETCH = (0.98, 0.99, 1.0, 1.01, 1.02)   # a chip's own period against the plate's (lock-step: the slowest)
_HALF = 6                           # words either side of a contact's largest word that are fitted
TIME_ERROR = 5                      # adjtimex(2): the clock is not synchronised


@dataclass
class Check:
    """One check's result: ``status`` is ok, warn, fail or skip; ``value`` the measured value with units;
    ``advice`` what to do ("" when nothing); ``data`` the numbers behind it, for ``--json``."""
    name: str
    status: str
    value: str
    advice: str = ""
    data: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")

    def to_json(self) -> dict:
        return asdict(self)


def worst(checks) -> str:
    """The report's overall status: fail if any failed, else warn, else ok (skips do not count)."""
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "ok"


def _corner(ch: int, channels: int) -> str:
    from ..calibration.saved import CELL_NAMES
    return CELL_NAMES[ch] if channels == 4 and 0 <= ch < 4 else f"cell {ch}"


# --------------------------------------------------------------------------------------------- capture

def capture(source, seconds: float, *, until=None, wall_timeout_s: float | None = None) -> Frames:
    """Sample sets from ``source`` covering ``seconds`` of its clock (or until ``until(frames)`` is true).

    Stops early when the source gives nothing for 3 s of wall time (a dead chip) or at ``wall_timeout_s``.
    """
    parts, start_ns = [], None
    wall_end = time.monotonic() + (wall_timeout_s if wall_timeout_s is not None else 3 * seconds + 10)
    quiet_since = time.monotonic()
    while time.monotonic() < wall_end:
        frames = source.read(timeout_s=0.25)
        now = time.monotonic()
        if frames.n_sets == 0:
            if source.is_finished or now - quiet_since > 3.0:
                break
            source.pause(0.02)
            continue
        quiet_since = now
        parts.append(frames)
        if start_ns is None:
            start_ns = int(frames.t_ns[0])
        if int(frames.t_ns[-1]) - start_ns >= seconds * 1e9:
            break
        if until is not None and until(_join(parts, source.channels)):
            break
        source.pause(0.05)
    return _join(parts, source.channels)


def _join(parts, channels) -> Frames:
    if not parts:
        return Frames.empty(channels)
    return Frames(*(np.concatenate([getattr(p, name) for p in parts]) for name in Frames._fields))


# ------------------------------------------------------------------------------------ chips and plate

def check_hardware(source, *, fallback_reason: str | None = None) -> Check:
    """Whether the checks below are about a real plate."""
    if fallback_reason:
        return Check("hardware", "fail", "no HX711 answered", f"{fallback_reason} Check the wiring (docs/wiring.md) "
                     "and that forceplate may use the GPIO chip (the gpio group).", {"simulated": True})
    if source.is_simulated and str(source.name).startswith("hx711:"):
        return Check("hardware", "ok", f"{source.name}: {source.channels} emulated HX711 chips on mocked GPIO "
                     "lines (not a real plate)", "", {"simulated": True, "source": source.name})
    if source.is_simulated:
        return Check("hardware", "skip", f"no hardware: {source.name} is the simulated plate",
                     "Nothing about a real plate was checked: run `forceplate doctor` on the Pi with the plate "
                     "connected (source hx711).", {"simulated": True, "source": source.name})
    return Check("hardware", "ok", f"{source.name}: {source.channels} chips", "", {"simulated": False})


def check_chips(frames: Frames) -> list[Check]:
    """Per corner: does the chip answer (valid words, a reading that moves)."""
    checks = []
    n, channels = frames.raw_counts.shape
    for ch in range(channels):
        name = f"{_corner(ch, channels)} chip answers"
        fl = frames.flags[:, ch] if n else np.zeros(0, np.uint8)
        valid = float(np.mean(fl == 0)) if n else 0.0
        kinds = _flags.describe(int(np.bitwise_or.reduce(fl))) if n and fl.any() else "none"
        data = {"valid_fraction": valid, "sets": int(n), "flags": kinds}
        good = frames.raw_counts[fl == 0, ch] if n else np.zeros(0)
        if n == 0 or valid == 0.0:
            checks.append(Check(name, "fail", "no valid word", "Check this corner's DOUT wire, VCC and GND "
                                "(docs/wiring.md): the chip does not answer.", data))
        elif good.size > 20 and np.ptp(good) == 0:
            checks.append(Check(name, "fail", f"the same word {int(good[0])} every time", "The bridge is not "
                                "connected (E+/E-/A+/A-) or the chip is stuck: check the load cell's wires.", data))
        elif valid < VALID_WARN:
            checks.append(Check(name, "fail", f"{valid:.1%} of words valid ({kinds})", "Loose DOUT or SCK "
                                "wire, or interference: reseat the connectors, keep the wires short.", data))
        elif valid < VALID_OK:
            checks.append(Check(name, "warn", f"{valid:.2%} of words valid ({kinds})", "Some words were lost or "
                                "corrupt: check the connectors.", data))
        else:
            checks.append(Check(name, "ok", f"{valid:.2%} of words valid", "", data))
    return checks


def chip_rates_hz(frames: Frames) -> list:
    """Each chip's output rate (words per second; None for a chip with too few words), from the median
    interval between the sets in which it answered (a set it missed is the sampler's timeout)."""
    rates = []
    for ch in range(frames.flags.shape[1]):
        answered = (frames.flags[:, ch] & _flags.NOT_READY) == 0
        step = np.diff(frames.t_ns[answered].astype(np.int64))
        step = step[step > 0]
        rates.append(float(1e9 / np.median(step)) if step.size >= 2 else None)
    return rates


def measured_rate_hz(frames: Frames) -> float | None:
    """The plate's output rate: the median of the chips' rates."""
    rates = [r for r in chip_rates_hz(frames) if r is not None]
    return float(np.median(rates)) if rates else None


def check_rate(frames: Frames, nominal_hz: float = 80.0) -> Check:
    """The chips' real output rate: 85-94 SPS at the "80" setting (internal oscillator), the nominal rate
    itself with a crystal; about 10 means the RATE pin is low."""
    rate = measured_rate_hz(frames)
    if rate is None:
        return Check("output rate", "fail", "too few sets to tell", "The chips hardly answer: see above.", {})
    chips = chip_rates_hz(frames)
    data = {"rate_hz": rate, "nominal_hz": nominal_hz, "chips_hz": chips}
    scale = nominal_hz / 80.0
    lo, hi = RATE_OK_HZ[0] * scale, RATE_OK_HZ[1] * scale
    each = "/".join("-" if r is None else f"{r:.1f}" for r in chips)
    value = f"{rate:.1f} SPS (set to {nominal_hz:g}; each chip {each})"
    if lo <= rate <= hi or abs(rate / nominal_hz - 1) <= RATE_CRYSTAL_TOLERANCE:
        return Check("output rate", "ok", value, "", data)
    if nominal_hz == 80.0 and 8.0 <= rate <= 12.5:
        return Check("output rate", "fail", value, "The chips run at 10 SPS: tie each board's RATE pin high "
                     "(docs/hardware.md).", data)
    if RATE_WARN_HZ[0] * scale <= rate <= RATE_WARN_HZ[1] * scale:
        return Check("output rate", "warn", value, f"Outside the usual {lo:g}-{hi:g} SPS: the estimates use the "
                     "measured rate, but check the boards' oscillators (XI/XO).", data)
    return Check("output rate", "fail", value, "Not an HX711's rate: check the RATE pin and the source's "
                 "rate_hz option.", data)


def datasheet_noise_counts(avdd_v: float = 3.3, gain: int = 128) -> float:
    """The datasheet's 90 nV RMS (80 SPS, gain 128) in counts: full scale is +-0.5 AVDD / gain over 2^24."""
    lsb_v = avdd_v / gain / 2 ** 24
    return DATASHEET_NOISE_NV * 1e-9 / lsb_v


def _clean(frames: Frames, ch: int):
    ok = frames.flags[:, ch] == 0
    return frames.t_ns[ok].astype(np.int64), frames.raw_counts[ok, ch].astype(np.float64)


def empty_plate_stats(frames: Frames, scale_n_per_count) -> list[dict]:
    """Per corner over an empty plate: mean (counts), noise (RMS about a straight line, counts and N) and the
    line's slope (counts/s and N/min)."""
    out = []
    scale = np.asarray(scale_n_per_count, dtype=np.float64)
    for ch in range(frames.raw_counts.shape[1]):
        t_ns, y = _clean(frames, ch)
        if y.size < 10:
            out.append(None)
            continue
        t = (t_ns - t_ns[0]) / 1e9
        slope, intercept = np.polyfit(t, y, 1)
        resid = y - (slope * t + intercept)
        sd = float(np.sqrt(np.sum(resid ** 2) / (y.size - 2)))
        slope_se = sd / math.sqrt(max(float(np.sum((t - t.mean()) ** 2)), 1e-12))
        out.append({"mean_counts": float(np.mean(y)), "noise_counts": sd, "noise_n": sd * abs(scale[ch]),
                    "slope_counts_per_s": float(slope), "drift_n_per_min": float(slope * abs(scale[ch]) * 60),
                    "drift_se_n_per_min": float(slope_se * abs(scale[ch]) * 60), "seconds": float(t[-1])})
    return out


def check_noise(stats: list, *, calibrated: bool = True) -> list[Check]:
    """Per corner: noise of the empty plate in counts and newtons."""
    checks = []
    limit_counts = NOISE_COUNTS_WARN_FACTOR * datasheet_noise_counts()
    for ch, s in enumerate(stats):
        name = f"{_corner(ch, len(stats))} noise"
        if s is None:
            checks.append(Check(name, "skip", "no valid words", "See the chip check."))
            continue
        value = f"{s['noise_counts']:.0f} counts RMS = {s['noise_n']:.2f} N over {s['seconds']:.0f} s"
        status, advice = "ok", ""
        if s["noise_n"] > NOISE_WARN_N:
            status, advice = "fail", ("Far noisier than the estimates assume: is the plate empty and still, "
                                      "nothing touching it? Check grounding and shielding (docs/hardware.md).")
        elif s["noise_n"] > NOISE_OK_N or s["noise_counts"] > limit_counts:
            status, advice = "warn", ("Noisier than it should be: check grounding, keep the load-cell wires away "
                                      "from mains cables, make sure nothing touches the plate.")
        if not calibrated:
            advice = (advice + " " if advice else "") + "Newtons use a typical scale until the plate is calibrated."
        checks.append(Check(name, status, value, advice, dict(s)))
    return checks


def check_drift(stats: list, scale_n_per_count, tare_offset_counts=None) -> list[Check]:
    """Per corner: offset drift within the capture; then the empty plate against the stored tare."""
    checks = []
    channels = len(stats)
    for ch, s in enumerate(stats):
        name = f"{_corner(ch, channels)} offset drift"
        if s is None:
            checks.append(Check(name, "skip", "no valid words", "See the chip check."))
            continue
        rate = abs(s["drift_n_per_min"])
        value = (f"{s['drift_n_per_min']:+.2f} +- {s['drift_se_n_per_min']:.2f} N/min "
                 f"({s['slope_counts_per_s']:+.1f} counts/s)")
        # a slope within 3 standard errors of zero is the noise's, however steep it looks in a short capture
        if rate <= DRIFT_OK_N_PER_MIN or rate < 3 * s["drift_se_n_per_min"]:
            checks.append(Check(name, "ok", value, "", dict(s)))
        else:
            checks.append(Check(name, "warn" if rate <= DRIFT_WARN_N_PER_MIN else "fail", value,
                                "The empty reading creeps: let the plate warm up 10 minutes, check that nothing "
                                "leans on it, then run the doctor again; a cell that keeps creeping is damaged.",
                                dict(s)))
    if tare_offset_counts is not None and all(s is not None for s in stats):
        scale = np.asarray(scale_n_per_count, dtype=np.float64)
        off = np.asarray(tare_offset_counts, dtype=np.float64)
        total = float(sum((s["mean_counts"] - off[ch]) * scale[ch] for ch, s in enumerate(stats)))
        value = f"{total:+.1f} N on the empty plate since the stored tare"
        data = {"since_tare_n": total}
        if abs(total) <= TARE_OK_N:
            checks.append(Check("empty plate against the tare", "ok", value, "", data))
        else:
            checks.append(Check("empty plate against the tare", "warn" if abs(total) <= TARE_WARN_N else "fail",
                                value, "Make sure the plate is empty, then hold the button 2 s to tare (or run "
                                "`forceplate calibrate`).", data))
    return checks


def check_sampler(frames: Frames, stats: dict | None) -> list[Check]:
    """The sampler thread's priority and the fraction of the chips' sets it captured."""
    checks = []
    if stats is None:
        checks.append(Check("sampler priority", "skip", "no sampler thread on this source", ""))
    else:
        used, asked = int(stats.get("realtime_priority_used", 0)), int(stats.get("realtime_priority", 0))
        data = {"realtime_priority_used": used, "realtime_priority": asked}
        if used > 0:
            checks.append(Check("sampler priority", "ok", f"SCHED_FIFO {used}", "", data))
        else:
            checks.append(Check("sampler priority", "warn", "normal priority" + (f" ({asked} refused)" if asked else ""),
                                "Run forceplate as its systemd service (sudo scripts/install-service.sh), which "
                                "grants the real-time priority: under load sets can be missed.", data))
    rate = measured_rate_hz(frames)
    if rate is None:
        checks.append(Check("sets captured", "skip", "too few sets", ""))
        return checks
    step = np.median(np.diff(frames.t_ns.astype(np.int64)))
    span = int(frames.t_ns[-1]) - int(frames.t_ns[0])
    slots = int(round(span / step)) + 1
    dropped = int((stats or {}).get("dropped", 0) or 0)
    got = frames.n_sets
    fraction = got / max(slots + dropped, got)
    data = {"sets": got, "slots": slots + dropped, "captured_fraction": fraction}
    value = f"{fraction:.2%} of {slots + dropped} sets"
    if fraction >= CAPTURED_OK:
        checks.append(Check("sets captured", "ok", value, "", data))
    else:
        checks.append(Check("sets captured", "warn" if fraction >= CAPTURED_WARN else "fail", value,
                            "Sets were missed: give the sampler real-time priority (the service does), and "
                            "keep other work off the Pi while recording.", data))
    return checks


# ------------------------------------------------------------------------------- calibration, disk, clock

def check_calibration(calibration, *, now: _dt.datetime | None = None) -> list[Check]:
    """The stored calibration: how old it is, and whether the corners agree (like scales, small residuals)."""
    if calibration is None:
        return [Check("calibration", "fail", "never calibrated", "Run `forceplate calibrate` with a known mass: "
                      "until then forces are rough guesses."),
                Check("corners agree", "skip", "no calibration", "")]
    age = calibration.age_days(now)
    data = {"age_days": age, "calibrated_at": calibration.calibrated_at}
    value = f"{age:.0f} days old ({calibration.calibrated_at[:10]})"
    if age <= CALIBRATION_MAX_AGE_DAYS:
        checks = [Check("calibration", "ok", value, "", data)]
    else:
        checks = [Check("calibration", "warn", value, f"Older than {CALIBRATION_MAX_AGE_DAYS} days: calibrate again "
                        "(`forceplate calibrate`).", data)]
    scales = np.abs(np.asarray(calibration.scale_n_per_count, dtype=np.float64))
    spread = float(scales.max() / scales.min()) if scales.min() > 0 else math.inf
    weight = calibration.mass_kg * 9.80665
    resid = calibration.worst_residual_n / weight if weight > 0 else math.inf
    data = {"scale_spread": spread, "worst_residual_fraction": resid}
    value = f"scales within x{spread:.2f}, worst placement {resid:.1%} of the mass's weight"
    if spread <= CORNER_SCALE_OK and resid <= RESIDUAL_OK:
        checks.append(Check("corners agree", "ok", value, "", data))
    else:
        bad = spread > CORNER_SCALE_WARN or resid > RESIDUAL_WARN
        checks.append(Check("corners agree", "fail" if bad else "warn", value, "The corners disagree: check each "
                            "cell's wires and that every foot bears on its cell, then calibrate again.", data))
    return checks


def check_disk(folder, min_free_mb: float) -> Check:
    """Free space where the data is kept."""
    try:
        free_mb = shutil.disk_usage(folder).free / 1e6
    except OSError as exc:
        return Check("free disk", "fail", f"cannot read {folder}", str(exc.strerror or exc))
    data = {"free_mb": free_mb, "min_free_mb": float(min_free_mb), "folder": str(folder)}
    value = f"{free_mb:,.0f} MB free in {folder}"
    if free_mb < min_free_mb:
        return Check("free disk", "fail", value, f"Below {min_free_mb:g} MB no set starts: export old sessions to "
                     "USB and delete them.", data)
    if free_mb < DISK_OK_FACTOR * min_free_mb:
        return Check("free disk", "warn", value, "Getting full: export old sessions to USB.", data)
    return Check("free disk", "ok", value, "", data)


def clock_synchronised() -> bool | None:
    """Whether the kernel says the clock is synchronised (adjtimex, read-only); None when it cannot tell."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(1024)         # struct timex, modes = 0: read only
        state = libc.adjtimex(buf)
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state != TIME_ERROR


def newest_write(folder) -> float | None:
    """The newest modification time (s since the epoch) of the files directly in ``folder``."""
    try:
        times = [entry.stat().st_mtime for entry in os.scandir(folder) if entry.is_file()]
    except OSError:
        return None
    return max(times) if times else None


def check_clock(*, now: float, synchronised: bool | None, newest_write_s: float | None) -> Check:
    """Whether the clock is set: a Pi has no real-time clock and starts from its last saved time."""
    when = _dt.datetime.fromtimestamp(now, _dt.timezone.utc).isoformat(timespec="seconds")
    data = {"now": when, "synchronised": synchronised}
    if newest_write_s is not None and now + 60 < newest_write_s:
        behind = (newest_write_s - now) / 3600
        return Check("clock", "fail", f"{when}, {behind:.1f} h behind the newest data", "The clock is behind what "
                     "was already saved: connect the Pi to a network (it sets the clock) or fit a real-time clock; "
                     "sessions would get the wrong dates.", {**data, "behind_h": behind})
    if synchronised is False:
        return Check("clock", "warn", f"{when}, not synchronised", "Connect the Pi to a network once after each "
                     "start (or fit a real-time clock): session dates come from this clock.", data)
    if synchronised is None:
        return Check("clock", "warn", f"{when}, synchronisation unknown", "Check `timedatectl`.", data)
    return Check("clock", "ok", f"{when}, synchronised", "", data)


# ------------------------------------------------------------------------------------ filter self-check

@dataclass
class FilterFit:
    """What the ball drops showed: per chip and for the plate, the best order and the residuals."""
    contacts: int
    rate_hz: float
    orders: list                    # best order per chip
    order: int                      # the plate's best order (all chips together)
    residual_model: float           # RMS residual at the model's order / noise, plate
    residual_best: float            # the same at the best order
    residual_by_order: dict         # order -> plate residual / noise
    snr: float                      # median over contacts and chips of the largest word / noise
    model_order: int
    per_chip: list = field(default_factory=list)

    @property
    def matches(self) -> bool:
        """The model's order fits at the noise level and no order fits clearly better (its squared residual
        within ``MATCH_MARGIN``: about 3 standard errors of a chi-square over a few hundred words)."""
        return (self.residual_model <= FIT_OK_NOISE
                and self.residual_model ** 2 <= (1 + MATCH_MARGIN) * self.residual_best ** 2)

    def to_json(self) -> dict:
        out = asdict(self)
        out["residual_by_order"] = {str(k): v for k, v in self.residual_by_order.items()}
        out["matches"] = self.matches
        out["use_order"] = self.model_order if self.matches else self.order     # what the estimates should use
        out["delay_s"] = 0.0            # not measurable with a ball (module docstring): the model's own
        return out


def _responses(order: int, width_t: float, u):
    """Words at ``u`` periods after a contact starts, for a unit-area half-sine ``width_t`` periods long
    through ``order`` boxcars (no delay); in 1/period."""
    from ..signal.hx711_model import Hx711Model, kernel

    def _bspline(x, n):                 # the kernel in periods: rate 1 Hz makes one period one second
        return kernel(x, 1.0, model=Hx711Model(order=n))
    if width_t <= 0:
        return _bspline(u, order)
    x, w = np.polynomial.legendre.leggauss(48)
    s = (x + 1) / 2 * width_t                                   # nodes across the contact
    p = np.pi / (2 * width_t) * np.sin(np.pi * s / width_t)     # unit area
    weights = w * width_t / 2 * p
    return np.tensordot(_bspline(np.asarray(u)[..., None] - s, order), weights, axes=([-1], [0]))


_TABLE_U = np.arange(-1.0, 11.0, 0.005)


def _table(order: int, width_t: float) -> np.ndarray:
    key = (order, width_t)
    if key not in _TABLES:
        _TABLES[key] = _responses(order, width_t, _TABLE_U)
    return _TABLES[key]


_TABLES: dict = {}


def find_contacts(frames: Frames, noise_counts, *, min_snr: float = MIN_CONTACT_SNR) -> list[int]:
    """Indices of the largest word of each short, isolated contact (a ball landing) in ``frames``.

    The corners' words above their medians, in units of their noise, are summed; a contact is a local maximum
    above ``min_snr`` with the words either side back near zero (nothing else within the fitted window)."""
    n, channels = frames.raw_counts.shape
    if n < 2 * _HALF + 3:
        return []
    noise = np.maximum(np.asarray(noise_counts, dtype=np.float64), 1e-9)
    ok = (frames.flags == 0).all(axis=1)
    z = (frames.raw_counts - np.median(frames.raw_counts[ok], axis=0)) / noise
    score = np.where(ok, z.sum(axis=1) / math.sqrt(channels), 0.0)
    above = score > min_snr
    contacts = []
    i = _HALF
    while i < n - _HALF:
        if above[i] and score[i] == score[i - _HALF:i + _HALF + 1].max():
            lo, hi = i - _HALF, i + _HALF + 1
            edges_quiet = score[lo] < min_snr / 2 and score[hi - 1] < min_snr / 2
            if ok[lo:hi].all() and edges_quiet:
                contacts.append(i)
            i += _HALF
        else:
            i += 1
    return contacts


def fit_filter(frames: Frames, contacts, noise_counts, *, model_order: int = 4) -> FilterFit:
    """Fit the number of boxcars (1-8) to each chip's words around each contact (``find_contacts``).

    For each order: the contact instant, its length (0-0.45 period), the chip's period against the plate's
    (+-2 %), a baseline and an amplitude are fitted by least squares; a chip's residual at that order is the
    median over contacts of the RMS misfit, over the chip's own noise. The plate's order is the one with the
    smallest residual over all chips. Words are placed at the sets' timestamps (the chips convert in lock-step,
    so each chip's words lag by a constant that the contact instant absorbs).
    """
    n, channels = frames.raw_counts.shape
    rate = measured_rate_hz(frames)
    if rate is None or not contacts:
        raise ValueError("no contact to fit")
    period = 1.0 / rate
    noise = np.maximum(np.asarray(noise_counts, dtype=np.float64), 1e-9)
    t_all = frames.t_ns.astype(np.int64)
    per_order = {o: np.zeros((channels, len(contacts))) for o in ORDERS}      # RSS per dof / noise^2
    snr = np.zeros((channels, len(contacts)))
    for j, i in enumerate(contacts):
        lo, hi = i - _HALF, i + _HALF + 1
        t = (t_all[lo:hi] - t_all[i]) / 1e9 / period                         # in periods from the peak word
        taus = np.arange(-(max(ORDERS) + 1.0), 0.5, 0.02)                    # contact start, periods
        for ch in range(channels):
            y = frames.raw_counts[lo:hi, ch].astype(np.float64)
            snr[ch, j] = (y.max() - np.median(np.r_[y[:2], y[-2:]])) / noise[ch]
            for order in ORDERS:
                best = math.inf
                for width in _WIDTHS_T:
                    table = _table(order, width)
                    for stretch in _STRETCH:
                        u = (t[None, :] - taus[:, None]) * stretch                # (tau, word)
                        r = np.interp(u, _TABLE_U, table, left=0.0, right=0.0)
                        rm = r.mean(axis=1, keepdims=True)
                        rc = r - rm
                        yc = y - y.mean()
                        var = (rc ** 2).sum(axis=1)
                        amp = np.where(var > 0, (rc * yc).sum(axis=1) / np.maximum(var, 1e-300), 0.0)
                        amp = np.maximum(amp, 0.0)
                        rss = ((yc[None, :] - amp[:, None] * rc) ** 2).sum(axis=1)
                        best = min(best, float(rss.min()))
                per_order[order][ch, j] = best / (y.size - 5) / noise[ch] ** 2
    chip_resid = {o: np.sqrt(np.median(per_order[o], axis=1)) for o in ORDERS}        # (channels,)
    plate_resid = {o: float(np.sqrt(np.mean(chip_resid[o] ** 2))) for o in ORDERS}
    orders = [int(min(ORDERS, key=lambda o: chip_resid[o][ch])) for ch in range(channels)]
    order = int(min(ORDERS, key=lambda o: plate_resid[o]))
    per_chip = [{"order": orders[ch], "residual_model": float(chip_resid[model_order][ch]),
                 "residual_best": float(chip_resid[orders[ch]][ch]), "snr": float(np.median(snr[ch]))}
                for ch in range(channels)]
    return FilterFit(contacts=len(contacts), rate_hz=rate, orders=orders, order=order,
                     residual_model=plate_resid[model_order], residual_best=plate_resid[order],
                     residual_by_order=plate_resid, snr=float(np.median(snr)), model_order=model_order,
                     per_chip=per_chip)


def check_filter(fit: FilterFit | None, *, contacts_found: int = 0) -> Check:
    """Do this plate's chips match the filter model the peak estimates assume?"""
    name = "filter self-check"
    if fit is None or fit.contacts < MIN_CONTACTS:
        seen = fit.contacts if fit is not None else contacts_found
        return Check(name, "warn", f"{seen} drop(s) seen, {MIN_CONTACTS} needed", "Drop the ball from about 50 cm "
                     "onto the centre, one drop every 2 seconds, at least 3 times (catch it after the bounce).",
                     {} if fit is None else fit.to_json())
    data = fit.to_json()
    value = (f"order {fit.order} fits best (residual {fit.residual_best:.2f} x noise); the model's order "
             f"{fit.model_order}: {fit.residual_model:.2f} x noise; {fit.contacts} drops, chips' orders "
             f"{'/'.join(map(str, fit.orders))}")
    if fit.snr < MIN_CONTACT_SNR:
        return Check(name, "warn", value + f", drops only {fit.snr:.0f} x noise", "The drops were too soft to "
                     "see the filter: drop from higher, or a bag of rice.", data)
    if fit.matches:
        return Check(name, "ok", value + f": the chips match the model (order {fit.model_order})", "", data)
    if fit.residual_best > FIT_OK_NOISE:
        return Check(name, "fail", value + ": no number of boxcars fits", "This plate's chips do not follow "
                     "the filter model: peak estimates may be off. Report it with `forceplate doctor --json` "
                     "(docs/hx711-model.md, \"Fitting it to a real chip\").", data)
    return Check(name, "fail", value + f": the chips do not match the model (order {fit.model_order})",
                 f"Saved: the estimates use order {fit.order} from now on (docs/hx711-model.md).", data)


# ------------------------------------------------------------------------------------ the whole report

def system_checks(*, store=None, data_folder=None, min_free_mb: float = 200.0, now: float | None = None,
                  synchronised="auto") -> list[Check]:
    """The checks that need no plate: calibration, free disk, clock."""
    from ..calibration.saved import load_calibration
    checks = []
    if store is not None:
        checks += check_calibration(load_calibration(store))
    if data_folder is not None:
        checks.append(check_disk(data_folder, min_free_mb))
    now = time.time() if now is None else now
    checks.append(check_clock(now=now, synchronised=clock_synchronised() if synchronised == "auto" else synchronised,
                              newest_write_s=newest_write(data_folder) if data_folder is not None else None))
    return checks


def run_doctor(source, *, seconds: float = 10.0, ball: bool = True, ball_seconds: float = 20.0,
               drops: int = 5, store=None, data_folder=None, min_free_mb: float = 200.0,
               say=lambda text: None, wait=lambda text: None, fallback_reason: str | None = None,
               save_fit: bool = True) -> dict:
    """Every check, in order; ``wait(text)`` shows an instruction and returns when the user is ready,
    ``say(text)`` shows progress. Returns the report (``report_json``'s shape)."""
    from ..calibration.saved import load_calibration, save_filter_fit
    from ..signal.hx711_model import DEFAULT_MODEL

    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    if source is None:                  # nothing answered: say why, check what needs no plate
        checks = [Check("hardware", "fail", "no HX711 answered", f"{fallback_reason or 'No source.'} Check the "
                        "wiring (docs/wiring.md) and that forceplate may use the GPIO chip (the gpio group); if "
                        "the service is running it holds the lines: sudo systemctl stop forceplate first.")]
    else:
        checks = [check_hardware(source, fallback_reason=fallback_reason)]
    plate = source is not None and checks[0].status == "ok"
    fit = None
    if plate:
        calibration = load_calibration(store) if store is not None else None
        if calibration is not None and calibration.channels == source.channels and not source.is_simulated:
            from ..calibration.saved import apply_calibration
            apply_calibration(source, calibration)
        calibrated = calibration is not None or source.is_simulated
        wait("Empty the plate: nothing on it, nobody touching it. Press Enter when it is empty.")
        say(f"Measuring the empty plate for {seconds:g} s...")
        source.read(timeout_s=0.5)                                  # let the chips settle, drop what came first
        empty = capture(source, seconds)
        stats_fn = getattr(source, "stats", None)
        sampler_stats = stats_fn() if callable(stats_fn) else None
        checks += check_chips(empty)
        checks.append(check_rate(empty, float(getattr(source, "rate_hz", 80.0))))
        stats = empty_plate_stats(empty, source.scale_n_per_count)
        checks += check_noise(stats, calibrated=calibrated)
        tare = calibration.offset_counts if calibration is not None and not source.is_simulated else None
        checks += check_drift(stats, source.scale_n_per_count, tare)
        checks += check_sampler(empty, sampler_stats)
        if ball and all(s is not None for s in stats):
            noise = [s["noise_counts"] for s in stats]
            wait("Filter self-check: drop a tennis ball (or a small bag of rice) from about 50 cm onto the centre "
                 f"of the plate, once every 2 seconds, {drops} times. Press Enter, then start dropping.")
            say(f"Listening for {drops} drops (at most {ball_seconds:g} s)...")
            frames = capture(source, ball_seconds, until=lambda f: len(find_contacts(f, noise)) >= drops)
            contacts = find_contacts(frames, noise)
            say(f"{len(contacts)} drops seen.")
            if len(contacts) >= MIN_CONTACTS:
                fit = fit_filter(frames, contacts, noise, model_order=DEFAULT_MODEL.order)
            check = check_filter(fit, contacts_found=len(contacts))
            checks.append(check)
            if fit is not None and check.status in ("ok", "fail") and fit.snr >= MIN_CONTACT_SNR \
                    and store is not None and save_fit and fit.residual_best <= FIT_OK_NOISE:
                save_filter_fit(store, fit.to_json(), source=source.name, rehearsal=source.is_simulated)
        elif ball:
            checks.append(Check("filter self-check", "skip", "a chip gives no words", "Fix the chips first."))
        else:
            checks.append(Check("filter self-check", "skip", "skipped (--skip-ball)", ""))
    else:
        for name in ("chips answer", "output rate", "noise", "offset drift", "sampler", "filter self-check"):
            checks.append(Check(name, "skip", "no hardware", ""))
    checks += system_checks(store=store, data_folder=data_folder, min_free_mb=min_free_mb)
    return report_json(checks, source=source.name if source is not None else "hx711", started=started)


def report_json(checks, *, source: str, started: str) -> dict:
    return {"status": worst(checks), "source": source, "started": started,
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "checks": [_finite(c.to_json()) for c in checks]}


def _finite(value):
    """JSON-safe: numpy numbers as Python numbers, non-finite floats as None."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def format_report(report: dict) -> str:
    """The report as lines of text: one per check, with what to do under it."""
    lines = [f"forceplate doctor: {report['source']}"]
    for c in report["checks"]:
        lines.append(f"  [{c['status'].upper():4}] {c['name']}: {c['value']}")
        if c["advice"] and c["status"] != "ok":
            lines.append(f"         -> {c['advice']}")
    counts = {s: sum(c["status"] == s for c in report["checks"]) for s in STATUSES}
    lines.append(f"overall: {report['status'].upper()} ({counts['ok']} ok, {counts['warn']} warnings, "
                 f"{counts['fail']} failed, {counts['skip']} skipped)")
    return "\n".join(lines)


def save_report(data_folder, report: dict) -> Path:
    """Keep the report as the data folder's ``doctor-report.json`` (written whole or not at all)."""
    from ..storage.files import write_file_atomically
    return write_file_atomically(Path(data_folder) / REPORT_NAME, json.dumps(report, indent=1, allow_nan=False))


def load_report(data_folder) -> dict | None:
    """The last saved report, or None."""
    try:
        value = json.loads((Path(data_folder) / REPORT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) and isinstance(value.get("checks"), list) else None

"""``analysis``: seconds of force signal analysed per CPU second, ours against jumpmetrics and plateforce.

Ours (:func:`forceplate.signal.events.analyze_force`) gets each jump-containing recording of ``tests/data``
whole and finds every jump and impact in it. The two peers analyse one countermovement jump per call and weigh
the person on a fixed window at the start of what they are given, so each jump is cut out for them: from the
quietest loaded second before it (the weighing window, placed at the start of the cut) to 1 s after landing.
Their rate counts only the seconds of signal they were given.

Everyone gets the same float64 arrays (each file's total vertical force, loaded once, outside the timed part)
and the rate stated in the file's JSON. CPU time is ``time.process_time``; each side repeats until a round has
used at least ``min_cpu_s`` of CPU, rounds are interleaved between the sides, and the median round counts.
A peer's failures are timed too (it was given that signal), and every cut's outcome is in ``cuts``.

Data attribution (see tests/data/README.md and tests/data/*.json): gidiel_vj_single_* (c) 2025 gidiel-machado, MIT;
acl_squat_jump_* (c) 2022 andrewlba, MIT; bmc_duarte_* Marcos Duarte / BMClab, CC BY 4.0.
"""
from __future__ import annotations

import cProfile
import contextlib
import importlib.metadata
import io
import json
import logging
import pstats
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DESCRIPTION = "signal seconds analysed per CPU second: ours (whole recordings) vs jumpmetrics and plateforce (per jump)"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "tests" / "data"

FLIGHT_THRESHOLD_N = 20.0        # the contract's flight threshold; the cutter's take-off and landing
MIN_FLIGHT_S = 0.003             # shorter dips below 20 N are blips, not flights (as in the data's checks)
LOADED_N = 200.0                 # a weighing window must be someone standing, not an empty plate
WEIGH_S = 1.0                    # both peers weigh on the first second of their cut
MIN_MOVEMENT_S = 0.3             # the weighing window ends at least this long before take-off
FALLBACK_PRE_S = 2.0             # no quiet second fits: give them this much before take-off (jumpmetrics' default)
AFTER_LANDING_S = 1.0
TAKEOFF_TOLERANCE_S = 0.030      # a take-off further than this from the 20 N crossing is a wrong jump
HEIGHT_FACTOR = 2.0              # a height more than 2x off the flight-time height (g t^2 / 8) is implausible
STANDARD_GRAVITY_M_S2 = 9.80665

# jumpmetrics has a squat-jump processor; the authors of these files call their jumps squat jumps.
JUMPMETRICS_JUMP_TYPE = {
    "gidiel_vj_single_sj": "squat",
    "acl_squat_jump_bfr003": "squat",
    "acl_squat_jump_bfr007": "squat",
}
# jumpmetrics finds "on the plate" as the first sample above this; its README uses 1000 N for a heavier person.
JUMPMETRICS_ON_PLATE_N = LOADED_N


@dataclass
class Recording:
    name: str
    rate_hz: float
    t_s: np.ndarray
    force_n: np.ndarray          # total vertical force, float64, shape (n,)

    @property
    def duration_s(self) -> float:
        return self.force_n.shape[0] / self.rate_hz


@dataclass
class Cut:
    """One jump cut out of a recording for a peer."""
    recording: Recording
    number: int                  # 1-based, in the recording
    start: int                   # sample indices in the recording, [start, end)
    end: int
    takeoff: int                 # first sample below 20 N
    landing: int                 # first sample at or above 20 N again
    weighing_sd_n: float | None  # sd of the first second of the cut when it is a quiet loaded second; else None

    @property
    def force_n(self) -> np.ndarray:
        return self.recording.force_n[self.start:self.end]      # a view: the same array everyone gets

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / self.recording.rate_hz

    @property
    def label(self) -> str:
        return f"{self.recording.name}#{self.number}"

    @property
    def height_flight_m(self) -> float:
        flight_s = (self.landing - self.takeoff) / self.recording.rate_hz
        return STANDARD_GRAVITY_M_S2 * flight_s * flight_s / 8.0

    def time_s(self, index_in_cut: int | None) -> float | None:
        if index_in_cut is None:
            return None
        return round((self.start + index_in_cut) / self.recording.rate_hz, 4)


# ---------------------------------------------------------------- loading and cutting (outside the timing)

def load_recordings(data_dir: Path) -> list[Recording]:
    """Every recording in data_dir with at least one flight (take-off and landing), total force, JSON rate."""
    from forceplate.storage.traces import read_trace

    recordings = []
    for path in sorted(Path(data_dir).glob("*.csv")):
        meta_path = path.with_suffix(".json")
        rate_hz = None
        if meta_path.exists():
            rate_hz = json.loads(meta_path.read_text()).get("sample_rate_hz")
        trace = read_trace(path, rate_hz=rate_hz)
        force_n = np.ascontiguousarray(trace.total_force_n, dtype=np.float64)
        recording = Recording(path.stem, float(trace.rate_hz), trace.t_s, force_n)
        if find_flights(recording):
            recordings.append(recording)
    if not recordings:
        raise SystemExit(f"no recording with a jump in {data_dir}")
    return recordings


def find_flights(recording: Recording) -> list[tuple[int, int]]:
    """(take-off, landing) sample pairs: runs below 20 N with loaded samples on both sides."""
    force_n = recording.force_n
    low = np.r_[False, force_n < FLIGHT_THRESHOLD_N, False]
    edges = np.flatnonzero(np.diff(low.astype(np.int8)))
    min_len = max(1, int(round(MIN_FLIGHT_S * recording.rate_hz)))
    flights = []
    for start, end in zip(edges[::2], edges[1::2]):
        if start == 0 or end >= force_n.shape[0]:   # empty plate at the start, or stepped off at the end
            continue
        if end - start >= min_len:
            flights.append((int(start), int(end)))
    return flights


def _quietest_second(force_n: np.ndarray, lo: int, hi: int, width: int) -> tuple[int, float] | None:
    """Start and sd of the loaded window of `width` samples in [lo, hi) with the smallest sd (latest on ties)."""
    if hi - lo < width:
        return None
    segment = force_n[lo:hi]
    sums = np.r_[0.0, np.cumsum(segment)]
    squares = np.r_[0.0, np.cumsum(segment * segment)]
    mean = (sums[width:] - sums[:-width]) / width
    sd = np.sqrt(np.maximum((squares[width:] - squares[:-width]) / width - mean * mean, 0.0))
    low_sums = np.r_[0, np.cumsum(segment < LOADED_N)]
    loaded = (low_sums[width:] - low_sums[:-width]) == 0
    if not loaded.any():
        return None
    sd = np.where(loaded, sd, np.inf)
    best = int(np.flatnonzero(sd == sd.min())[-1])
    return lo + best, float(sd[best])


def cut_jumps(recording: Recording) -> list[Cut]:
    """Each flight with what a one-jump analyser needs: a quiet loaded second first, 1 s after landing."""
    rate_hz = recording.rate_hz
    n = recording.force_n.shape[0]
    flights = find_flights(recording)
    width = int(round(WEIGH_S * rate_hz))
    cuts = []
    previous_landing = 0
    for number, (takeoff, landing) in enumerate(flights, start=1):
        quiet = _quietest_second(recording.force_n, previous_landing,
                                 takeoff - int(round(MIN_MOVEMENT_S * rate_hz)), width)
        if quiet is not None:
            start, sd_n = quiet
        else:                    # no quiet second: the drop onto an empty plate, a hop right after a landing
            start, sd_n = max(previous_landing, takeoff - int(round(FALLBACK_PRE_S * rate_hz))), None
        next_takeoff = flights[number][0] if number < len(flights) else n
        end = min(landing + int(round(AFTER_LANDING_S * rate_hz)), next_takeoff, n)
        cuts.append(Cut(recording, number, start, end, takeoff, landing, sd_n))
        previous_landing = landing
    return cuts


# ---------------------------------------------------------------- the three sides

def analyse_ours(recordings: list[Recording]) -> list:
    from forceplate.signal.events import analyze_force
    return [analyze_force(r.t_s, r.force_n, r.rate_hz, adc="ideal") for r in recordings]


def analyse_ours_on_cuts(cuts: list[Cut]) -> list:
    """Ours given exactly the peers' cuts: the like-for-like figure (an extra, not the contract's number)."""
    from forceplate.signal.events import analyze_force
    return [analyze_force(c.recording.t_s[c.start:c.end], c.force_n, c.recording.rate_hz, adc="ideal")
            for c in cuts]


class JumpmetricsSide:
    """jumpmetrics' documented pipeline for one jump (its ``process_jump_trial``, minus a landing bug).

    0.2.0's ``process_jump_trial`` slices the landing trace up to ``NOT_FOUND + landing`` when the person does
    not leave the plate again, an empty slice, and raises IndexError on every trial that ends in standing. We
    run its steps with the documented functions instead and give the landing processor the rest of the cut.
    How ``process_jump_trial`` itself fares is recorded per cut (``process_jump_trial``), untimed.
    """

    name = "jumpmetrics"

    def __init__(self):
        import pandas as pd
        from jumpmetrics.core import io as jm_io
        from jumpmetrics.core import processors
        from jumpmetrics.core.jump_processing import process_jump_trial
        from jumpmetrics.signal_processing.filters import butterworth_filter
        self.pd, self.io, self.processors = pd, jm_io, processors
        self.butterworth_filter, self.process_jump_trial = butterworth_filter, process_jump_trial

    @staticmethod
    def jump_type(cut: Cut) -> str:
        return JUMPMETRICS_JUMP_TYPE.get(cut.recording.name, "countermovement")

    def analyse(self, cut: Cut) -> dict:
        pd, jm_io, rate_hz = self.pd, self.io, cut.recording.rate_hz
        force = pd.Series(self.butterworth_filter(arr=cut.force_n, cutoff_frequency=50, fps=rate_hz,
                                                  padding=int(round(rate_hz))))
        on_plate = jm_io.find_first_frame_where_force_exceeds_threshold(force, JUMPMETRICS_ON_PLATE_N)
        takeoff = jm_io.find_frame_when_off_plate(force[on_plate:], sampling_frequency=rate_hz)
        if takeoff < 0:
            raise LookupError("no take-off: find_frame_when_off_plate found no 0.25 s below 10 N")
        before = jm_io.get_n_seconds_before_takeoff(force, rate_hz, takeoff,
                                                    n=(takeoff + 1) / rate_hz)   # all of the cut before it
        kind = (self.processors.ForceTimeCurveCMJTakeoffProcessor if self.jump_type(cut) == "countermovement"
                else self.processors.ForceTimeCurveSQJTakeoffProcessor)
        jump = kind(force_series=before, sampling_frequency=rate_hz, weighing_time=WEIGH_S)
        jump.get_jump_events()
        jump.compute_jump_metrics()
        jump.create_jump_metrics_dataframe(pid=cut.label)
        after = force[takeoff:]
        landing = jm_io.find_landing_frame(after, sampling_frequency=rate_hz, time=0.015, threshold_value=20)
        if landing < 0:
            raise LookupError("no landing: find_landing_frame found no 15 ms above 20 N")
        land = self.processors.ForceTimeCurveJumpLandingProcessor(
            landing_force_trace=after[landing:], sampling_frequency=rate_hz, body_weight=jump.body_weight,
            takeoff_velocity=jump.jump_metrics["takeoff_velocity"])
        land.get_landing_events()
        land.compute_landing_metrics()
        land.create_landing_metrics_dataframe(pid=cut.label)
        return {"takeoff": takeoff, "landing": takeoff + landing, "body_weight_n": jump.body_weight,
                "height_m": jump.jump_metrics["jump_height_takeoff_velocity"]}

    def describe(self, cut: Cut, result: dict) -> dict:
        takeoff_s = cut.time_s(result["takeoff"])
        return {"takeoff_s": takeoff_s, "landing_s": cut.time_s(result["landing"]),
                "body_weight_n": _round(result["body_weight_n"], 1), "height_m": _round(result["height_m"], 3),
                "jump_type": self.jump_type(cut)}

    def check_wrapper(self, cut: Cut) -> str:
        """How jumpmetrics' own one-call wrapper fares on this cut (untimed)."""
        rate_hz = cut.recording.rate_hz
        if float(rate_hz).is_integer():          # it pads by sampling_frequency samples: an int is needed
            rate_hz = int(rate_hz)
        try:
            self.process_jump_trial(cut.force_n, rate_hz, self.jump_type(cut), WEIGH_S, cut.label,
                                    threshold_for_helping_determine_takeoff=JUMPMETRICS_ON_PLATE_N,
                                    seconds_before_takeoff=cut.duration_s,
                                    compute_jump_height_from_flight_time=True)
        except Exception as exc:  # noqa: BLE001 - recorded, not hidden
            return f"raised {type(exc).__name__}: {exc}"[:200]
        return "ok"


class PlateforceSide:
    """plateforce's ``analyse_countermovement_jump`` with the methods of its README (1 s weighing at 0 s,
    onset 5 SD below quiet stance, take-off at 20 N)."""

    name = "plateforce"

    def __init__(self):
        import plateforce
        self.pf = plateforce
        registry = plateforce.Registry.load()
        self.weighing = registry.method("bwepoch.fixed_window").bind(duration=WEIGH_S)
        self.onset = registry.method("onset.threshold.noise_relative").bind(k=5.0)
        self.takeoff = registry.method("takeoff.threshold.absolute_force").bind(threshold_n=FLIGHT_THRESHOLD_N)

    def analyse(self, cut: Cut):
        trial = self.pf.Trial(cut.force_n, sample_rate_hz=cut.recording.rate_hz)
        jump = self.pf.analyse_countermovement_jump(trial, weighing_epoch=self.weighing, onset=self.onset,
                                                    takeoff=self.takeoff)
        if jump.takeoff_index is None:
            reasons = "; ".join(f"{type(r).__name__} in {r.method_id}" for r in jump.refusals) or "no take-off"
            raise LookupError(f"refused: {reasons}")
        return jump

    def describe(self, cut: Cut, jump) -> dict:
        height = jump.jump_height_takeoff_frame_meters
        weight = jump.system_weight_newtons
        out = {"takeoff_s": cut.time_s(jump.takeoff_index),
               "body_weight_n": _round(weight.value if weight is not None else None, 1),
               "height_m": _round(height.value if height is not None else None, 3)}
        if jump.refusals:
            out["refusals"] = [f"{type(r).__name__} in {r.method_id}" for r in jump.refusals]
        return out


def judge(cut: Cut, takeoff_s: float | None, height_m: float | None) -> str:
    """"ok", or why a result that did not raise is still not this jump's analysis."""
    true_takeoff_s = cut.takeoff / cut.recording.rate_hz
    if takeoff_s is None or abs(takeoff_s - true_takeoff_s) > TAKEOFF_TOLERANCE_S:
        return f"wrong take-off ({takeoff_s} s; the flight starts at {true_takeoff_s:.3f} s)"
    reference_m = cut.height_flight_m
    if height_m is None or not reference_m / HEIGHT_FACTOR <= height_m <= reference_m * HEIGHT_FACTOR:
        return f"implausible height ({height_m} m; the flight time gives {reference_m:.3f} m)"
    return "ok"


def match_ours(cut: Cut, analysis) -> dict:
    """Our jump at this cut's take-off, found in the whole recording."""
    true_takeoff_s = cut.takeoff / cut.recording.rate_hz
    near = [j for j in analysis.jumps if abs(j.takeoff_s - true_takeoff_s) <= TAKEOFF_TOLERANCE_S]
    if not near:
        return {"status": "not found"}
    jump = near[0]
    height_m = jump.height_impulse_m if jump.height_impulse_m is not None else jump.height_flight_m
    return {"takeoff_s": round(jump.takeoff_s, 4), "height_m": _round(height_m, 3),
            "height_method": "impulse" if jump.height_impulse_m is not None else "flight time",
            "status": judge(cut, round(jump.takeoff_s, 4), height_m)}


def _round(value, digits):
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


@contextlib.contextmanager
def _quiet_peers():
    """The peers log warnings through the root logger and numpy/pandas may warn: keep stderr clean.

    The log records are still created (the peers pay for them); only printing is suppressed.
    """
    root = logging.getLogger()
    handler = logging.NullHandler()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                yield
    finally:
        root.removeHandler(handler)


def run_side(side, cuts: list[Cut]) -> list:
    """One pass of a peer over every cut; a failure is an outcome, and its time counts."""
    outcomes = []
    for cut in cuts:
        try:
            outcomes.append(side.analyse(cut))
        except Exception as exc:  # noqa: BLE001 - peers raise many kinds; each is recorded per cut
            outcomes.append(exc)
    return outcomes


# ---------------------------------------------------------------- timing

def measure_rounds(passes: dict, *, min_cpu_s: float, rounds: int) -> dict:
    """CPU seconds per pass for each named callable: interleaved rounds, each >= min_cpu_s; the median round."""
    per_pass = {name: [] for name in passes}
    reps = {name: 0 for name in passes}
    for fn in passes.values():
        fn()                                   # warm-up: imports, caches, first-call costs
    for _ in range(rounds):
        for name, fn in passes.items():
            count, start = 0, time.process_time()
            while True:
                fn()
                count += 1
                used = time.process_time() - start
                if used >= min_cpu_s:
                    break
            per_pass[name].append(used / count)
            reps[name] += count
    return {name: {"cpu_s": statistics.median(values), "rounds_cpu_s": values, "passes": reps[name]}
            for name, values in per_pass.items()}


def profile_ours(fn, passes: int = 20, top: int = 8) -> dict:
    """Where our CPU time goes (cProfile, untimed): the stages analyze_force calls, and the hottest functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(passes):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats

    def name(key):
        filename, line, function = key
        for marker in ("/forceplate/", "/numpy/"):
            if marker in filename:
                return f"{filename[filename.index(marker) + 1:]}:{line}({function})"
        return function

    total = sum(entry[2] for entry in stats.values()) or 1.0
    hottest = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    out = {"hot_spots_ours": [{"function": name(key), "own_pct": round(100.0 * entry[2] / total, 1),
                               "calls_per_pass": entry[1] // passes} for key, entry in hottest]}
    top_key = next((key for key in stats if key[2] == "analyze_force" and key[0].endswith("events.py")), None)
    if top_key is not None:
        whole = stats[top_key][3] or 1.0
        stages = [(name(key), entry[4][top_key][3]) for key, entry in stats.items() if top_key in entry[4]]
        stages.append(("analyze_force itself", stats[top_key][2]))
        out["stages_ours"] = {label: round(100.0 * cpu / whole, 1)
                              for label, cpu in sorted(stages, key=lambda item: item[1], reverse=True)
                              if cpu / whole >= 0.005}
    return out


# ---------------------------------------------------------------- the live path

# rate, ADC, samples per feed() (one sampler read), exercise: a heel-drop set analyses at every word near a peak
LIVE_CASES = ((80.0, "hx711", 1, "free"), (1000.0, "ideal", 10, "free"), (80.0, "hx711", 1, "heel-drop"))


def simulated_session(rate_hz: float, adc: str, *, seed: int = 0, loops: int = 2):
    """Total force and times of `loops` loops of the simulator's ``session`` scenario, read without sleeping."""
    from forceplate.device.sim.mock import FakeClock
    from forceplate.device.sim.simulator import SimulatedSource
    from forceplate.signal.calibration import counts_to_newtons

    clock = FakeClock()
    sim = SimulatedSource("session", rate_hz=rate_hz, adc=adc, seed=seed, clock=clock)
    parts = []
    for _ in range(int(np.ceil(sim.loop_s * loops))):       # a second at a time: the ring holds a few seconds
        clock.advance(1.0)
        parts.append(sim.read(100_000))
    t_ns = np.concatenate([p.t_ns for p in parts])
    force = counts_to_newtons(np.concatenate([p.raw_counts for p in parts]),
                              np.concatenate([p.flags for p in parts]), sim.offset_counts, sim.scale_n_per_count)
    return (t_ns - t_ns[0]) / 1e9, force.sum(axis=1)


def measure_live(*, quick: bool = False, rounds: int = 3) -> dict:
    """CPU of :class:`~forceplate.signal.streaming.LiveAnalyzer` per second of stream, as a percentage of one core.

    The simulated ``session`` (heel drops, jumps, sit-to-stands; two loops, about 90 s) is fed as the sampler
    would: one set per read at 80 SPS (HX711), 10 sets at 1000 SPS (ideal ADC). The analyser re-runs
    analyze_force on its trailing window about 10 times per second of stream, and in a heel-drop set also at
    every word while the force is above the impact level (its quick verdict; key suffix ``_heel_drop``); the
    median of `rounds` runs.
    """
    from forceplate.signal.streaming import LiveAnalyzer

    out = {}
    for rate_hz, adc, chunk, exercise in LIVE_CASES:
        t_s, force_n = simulated_session(rate_hz, adc, loops=1 if quick else 2)
        pcts, events = [], 0
        for _ in range(1 if quick else rounds):
            live = LiveAnalyzer(rate_hz, adc=adc, exercise=exercise)
            start = time.process_time()
            events = 0
            for i in range(0, t_s.shape[0], chunk):
                events += len(live.feed(t_s[i:i + chunk], force_n[i:i + chunk]))
            events += len(live.flush())
            pcts.append(100.0 * (time.process_time() - start) / float(t_s[-1] - t_s[0]))
        key = f"{rate_hz:.0f}sps" + ("" if exercise == "free" else "_" + exercise.replace("-", "_"))
        out[f"live_cpu_pct_{key}"] = statistics.median(pcts)
        out[f"live_rounds_cpu_pct_{key}"] = pcts
        out[f"live_signal_s_{key}"] = round(float(t_s[-1] - t_s[0]), 3)
        out[f"live_events_{key}"] = events
        out[f"live_adc_{key}"] = adc
    return out


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _load_peer(cls):
    try:
        return cls(), None
    except ImportError as exc:
        return None, f"not installed ({exc.name}): pip install '.[bench]'"


def run(*, quick: bool = False, data_dir: Path | None = None, min_cpu_s: float | None = None,
        rounds: int | None = None) -> dict:
    data_dir = Path(data_dir) if data_dir else DEFAULT_DATA_DIR
    min_cpu_s = min_cpu_s if min_cpu_s is not None else (0.02 if quick else 1.0)
    rounds = rounds if rounds is not None else (1 if quick else 5)

    recordings = load_recordings(data_dir)
    cuts = [cut for recording in recordings for cut in cut_jumps(recording)]
    ours_signal_s = sum(r.duration_s for r in recordings)
    cut_signal_s = sum(c.duration_s for c in cuts)

    sides = {}
    result = {"files": [f"{r.name}.csv" for r in recordings], "data_dir": str(data_dir),
              "quick": quick, "min_cpu_s_per_round": min_cpu_s, "rounds": rounds}
    for cls in (JumpmetricsSide, PlateforceSide):
        side, missing = _load_peer(cls)
        if side is None:
            result[f"skipped_{cls.name}"] = missing
        else:
            sides[cls.name] = side

    passes = {"ours": lambda: analyse_ours(recordings), "ours_on_cuts": lambda: analyse_ours_on_cuts(cuts)}
    for name, side in sides.items():
        passes[name] = (lambda s: lambda: run_side(s, cuts))(side)
    with _quiet_peers():
        timing = measure_rounds(passes, min_cpu_s=min_cpu_s, rounds=rounds)
        analyses = analyse_ours(recordings)
        cut_analyses = analyse_ours_on_cuts(cuts)
        outcomes = {name: run_side(side, cuts) for name, side in sides.items()}
        wrapper = ({c.label: sides["jumpmetrics"].check_wrapper(c) for c in cuts}
                   if "jumpmetrics" in sides else {})

    # ours
    result["signal_s"] = round(ours_signal_s, 3)
    result["cpu_s"] = timing["ours"]["cpu_s"]
    result["signal_s_per_cpu_s"] = ours_signal_s / timing["ours"]["cpu_s"]
    result["passes"] = timing["ours"]["passes"]
    result["rounds_cpu_s"] = timing["ours"]["rounds_cpu_s"]
    result["jumps_found"] = sum(len(a.jumps) for a in analyses)
    result["impacts_found"] = sum(len(a.impacts) for a in analyses)
    result["events_found"] = result["jumps_found"] + result["impacts_found"]
    result["cpu_s_ours_on_cuts"] = timing["ours_on_cuts"]["cpu_s"]
    result["signal_s_per_cpu_s_ours_on_cuts"] = cut_signal_s / timing["ours_on_cuts"]["cpu_s"]
    result["jumps_found_ours_on_cuts"] = sum(
        any(abs(j.takeoff_s - c.takeoff / c.recording.rate_hz) <= TAKEOFF_TOLERANCE_S for j in a.jumps)
        for c, a in zip(cuts, cut_analyses))
    result["events_by_file"] = {
        f"{r.name}.csv": {"jumps": [round(j.takeoff_s, 3) for j in a.jumps],
                          "impacts": [round(i.t_peak_s, 3) for i in a.impacts],
                          "body_weight_n": _round(a.body_weight.weight_n, 1)}
        for r, a in zip(recordings, analyses)}

    # the cuts and each peer's outcome on each
    result["jumps_given"] = len(cuts)
    result["signal_s_cuts"] = round(cut_signal_s, 3)
    cut_rows = []
    analysis_of = {r.name: a for r, a in zip(recordings, analyses)}
    for index, cut in enumerate(cuts):
        rate_hz = cut.recording.rate_hz
        row = {"cut": cut.label, "start_s": round(cut.start / rate_hz, 3), "end_s": round(cut.end / rate_hz, 3),
               "signal_s": round(cut.duration_s, 3), "takeoff_s": round(cut.takeoff / rate_hz, 4),
               "landing_s": round(cut.landing / rate_hz, 4),
               "flight_s": round((cut.landing - cut.takeoff) / rate_hz, 4),
               "height_flight_m": round(cut.height_flight_m, 3),
               "weighing": (f"quietest loaded 1 s, sd {cut.weighing_sd_n:.1f} N" if cut.weighing_sd_n is not None
                            else "no quiet loaded second before it: starts "
                                 f"{(cut.takeoff - cut.start) / rate_hz:.2f} s before take-off"),
               "ours": match_ours(cut, analysis_of[cut.recording.name])}
        for name, side in sides.items():
            outcome = outcomes[name][index]
            if isinstance(outcome, Exception):
                row[name] = {"status": f"failed: {type(outcome).__name__}: {outcome}"[:240]}
                continue
            info = side.describe(cut, outcome)
            info["status"] = judge(cut, info["takeoff_s"], info["height_m"])
            row[name] = info
        if cut.label in wrapper:
            row["jumpmetrics"]["process_jump_trial"] = wrapper[cut.label]
        cut_rows.append(row)

    result["jumps_ok"] = sum(row["ours"]["status"] == "ok" for row in cut_rows)
    for name in ("jumpmetrics", "plateforce"):
        if name not in sides:
            continue
        statuses = [row[name]["status"] for row in cut_rows]
        result[f"signal_s_{name}"] = round(cut_signal_s, 3)
        result[f"cpu_s_{name}"] = timing[name]["cpu_s"]
        result[f"signal_s_per_cpu_s_{name}"] = cut_signal_s / timing[name]["cpu_s"]
        result[f"passes_{name}"] = timing[name]["passes"]
        result[f"rounds_cpu_s_{name}"] = timing[name]["rounds_cpu_s"]
        result[f"jumps_found_{name}"] = statuses.count("ok")
        result[f"analysed_{name}"] = [row["cut"] for row, s in zip(cut_rows, statuses) if s == "ok"]
        result[f"failed_{name}"] = {row["cut"]: s for row, s in zip(cut_rows, statuses) if s != "ok"}
        result[f"version_{name}"] = _version(name)
    result["cuts"] = cut_rows
    result.update(measure_live(quick=quick))
    if not quick:
        with _quiet_peers():
            result.update(profile_ours(passes["ours"]))
    return result


def format_table(result: dict) -> str:
    """The headline rows for a terminal; --json has everything."""
    lines = [f"{'side':<13} {'signal s':>9} {'CPU s/pass':>11} {'signal s / CPU s':>17} {'jumps ok':>9}"]
    lines.append(f"{'forceplate':<13} {result['signal_s']:>9.2f} {result['cpu_s']:>11.5f} "
                 f"{result['signal_s_per_cpu_s']:>17.0f} {result['jumps_ok']:>5}/{result['jumps_given']:<3}")
    lines.append(f"{'  on the cuts':<13} {result['signal_s_cuts']:>9.2f} "
                 f"{result['cpu_s_ours_on_cuts']:>11.5f} {result['signal_s_per_cpu_s_ours_on_cuts']:>17.0f} "
                 f"{result['jumps_found_ours_on_cuts']:>5}/{result['jumps_given']:<3}")
    for name in ("jumpmetrics", "plateforce"):
        if f"cpu_s_{name}" in result:
            lines.append(f"{name:<13} {result[f'signal_s_{name}']:>9.2f} {result[f'cpu_s_{name}']:>11.5f} "
                         f"{result[f'signal_s_per_cpu_s_{name}']:>17.0f} "
                         f"{result[f'jumps_found_{name}']:>5}/{result['jumps_given']:<3}")
        else:
            lines.append(f"{name:<13} skipped: {result.get(f'skipped_{name}')}")
    lines.append("")
    lines.append(f"files: {', '.join(result['files'])}")
    lines.append(f"ours found {result['jumps_found']} jumps and {result['impacts_found']} impacts in whole files; "
                 "the peers were given one cut per jump:")
    for name in ("jumpmetrics", "plateforce"):
        for cut, status in result.get(f"failed_{name}", {}).items():
            lines.append(f"  {name} {cut}: {status}")
    for key in ("80sps", "1000sps", "80sps_heel_drop"):
        if f"live_cpu_pct_{key}" in result:
            lines.append(f"live ({result[f'live_adc_{key}']}, {key}): {result[f'live_cpu_pct_{key}']:.2f} % of a core "
                         f"per second of stream ({result[f'live_events_{key}']} events in "
                         f"{result[f'live_signal_s_{key}']:.0f} s)")
    if "stages_ours" in result:
        lines.append("where our time goes (share of analyze_force, cProfile):")
        for stage, pct in result["stages_ours"].items():
            lines.append(f"  {pct:5.1f}%  {stage}")
        lines.append("hottest functions (own time):")
        for spot in result["hot_spots_ours"]:
            lines.append(f"  {spot['own_pct']:5.1f}%  {spot['function']}")
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("--data", type=Path, default=None, help=f"recordings (default {DEFAULT_DATA_DIR})")
    parser.add_argument("--min-cpu", type=float, default=None, dest="min_cpu_s",
                        help="CPU seconds per round for each side (default 1.0, 0.02 with --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds, median kept (default 5)")


def run_from_args(args) -> dict:
    return run(quick=args.quick, data_dir=args.data, min_cpu_s=args.min_cpu_s, rounds=args.rounds)

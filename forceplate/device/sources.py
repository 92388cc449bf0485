"""The one hardware seam: every sample forceplate sees comes through a LoadCellSource.

A source delivers raw ADC counts per load cell with timestamps (Frames), and owns the clock those
timestamps come from, so tests can fake time. Nothing above this module asks whether a plate is attached.

Choosing a source: an explicit argument (a spec string or a LoadCellSource), else ``DEFAULT_SOURCE``
(tests set it), else the ``source`` setting of forceplate.config (``FORCEPLATE_SOURCE``, the config file).
Asked for explicitly, a source that fails is an error. With nothing configured, the HX711 hardware is tried
and, when it is absent, the simulated plate is used with a ``SourceFallback`` warning that also shows on the
live page.

Specs: ``hx711`` (the plate's HX711 chips) with optional ``?sck=5&dout=6,13,19,26&rate_hz=80&gain=128&rt=50&cpu=3``,
``sim`` or ``sim:SCENARIO`` with optional
``?rate_hz=1000&adc=ideal&seed=3&body_mass_kg=70&speed=2&channels=4&faults=not_ready@3s:ch1,garbage@5s``,
``replay:PATH`` with optional ``?speed=2&loop=1``, ``hx711:emulated`` (four emulated HX711 chips on mocked GPIO
lines, read by the real sampler thread: an empty plate, then a ball dropped every 1.5 s) with optional
``?order=4&delay_ms=0&empty_s=12&loop_s=40&every_s=1.5&ball=1&noise_counts=40&drift_counts_s=0&seed=0&rt=0``.
"""
from __future__ import annotations

import abc
import time
import urllib.parse
import warnings

import numpy as np

from .. import config
from ..exc import ConfigError, HardwareUnavailable, SourceFallback
from .frames import Frames

DEFAULT_SOURCE = None   # a spec or a LoadCellSource; tests swap it (and restore it)


class MonotonicClock:
    """The real clock: ``now_ns()`` and ``sleep(seconds)``, what every ``clock=`` in forceplate takes (the
    simulated sources', the login throttle's). Tests pass FakeClock (forceplate.device.sim.mock) instead."""

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class LoadCellSource(abc.ABC):
    """Raw ADC words from one plate, and the plate's clock. A context manager.

    Attributes every source sets:
      name: the spec that made it, e.g. ``sim:heel-drops``.
      channels: the number of load cells.
      rate_hz: the nominal sample-set rate (the real one comes from the timestamps).
      adc: ``"hx711"`` when each count is the HX711's filtered output word, ``"ideal"`` when it is the
        force at that instant.
      is_simulated: True for anything that is not a real plate.
      offset_counts, scale_n_per_count: (channels,) arrays, the calibration that turns counts into newtons
        (force_n = (raw_counts - offset_counts) * scale_n_per_count). Exact for simulated and replayed
        plates; for hardware, the stored calibration.
      warning: None, or a sentence the UI must show (e.g. that this is a fallback simulator).
    """

    name: str = "source"
    channels: int = 4
    rate_hz: float = 80.0
    adc: str = "hx711"
    is_simulated: bool = True
    warning: str | None = None
    offset_counts: np.ndarray
    scale_n_per_count: np.ndarray

    @abc.abstractmethod
    def read(self, max_sets: int = 4096, timeout_s: float = 0.0) -> Frames:
        """Return the sets acquired since the last read (at most ``max_sets``), oldest first.

        Waits up to ``timeout_s`` for at least one set; returns an empty Frames when none came.
        """

    def ticks_ns(self) -> int:
        """The source's clock in nanoseconds (monotonic); the timestamps in Frames use it."""
        return time.monotonic_ns()

    def pause(self, seconds: float) -> None:
        """Let `seconds` pass on the source's clock (a simulated clock moves instead of sleeping)."""
        time.sleep(seconds)

    def open(self) -> "LoadCellSource":
        return self

    def close(self) -> None:
        pass

    @property
    def is_finished(self) -> bool:
        """True when the source will never deliver another set (the end of a replay)."""
        return False

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc_info):
        self.close()

    def describe(self) -> str:
        kind = "simulated" if self.is_simulated else "hardware"
        return f"{self.name} ({kind}, {self.channels} cells, {self.rate_hz:g} SPS, adc={self.adc})"


class RingSource(LoadCellSource):
    """A hardware source whose sampler thread fills a ring that ``read()`` drains (HX711, ADS1256).

    Subclasses set ``_ring`` (SampleRing), ``_thread``, ``_lines`` (with ``now_ns()``) and ``_error`` (what
    the thread died of, or None), and may override ``_stamp`` (what ``read()`` does to a non-empty batch)
    and ``_raise_if_failed`` (more ways to fail). ``FAILED`` opens the message of a dead sampler thread.
    """

    FAILED = "the sampler thread failed"
    _error: BaseException | None = None

    def read(self, max_sets: int = 4096, timeout_s: float = 0.0) -> Frames:
        self._raise_if_failed()
        if self._ring.available == 0 and timeout_s > 0:
            deadline = time.monotonic() + timeout_s
            while self._ring.available == 0 and time.monotonic() < deadline and self._thread.is_alive():
                time.sleep(0.002)
        frames = self._ring.pop(max(0, int(max_sets)))
        if frames.n_sets == 0:
            self._raise_if_failed()
            return frames
        return self._stamp(frames)

    def _stamp(self, frames: Frames) -> Frames:
        return frames

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise HardwareUnavailable(f"{self.FAILED}: {self._error!r}")

    def ticks_ns(self) -> int:
        return int(self._lines.now_ns())

    @property
    def dropped(self) -> int:
        """Sets lost because nobody read them in time (the ring was full)."""
        return int(self._ring.dropped)


def apply_configured_calibration(source: LoadCellSource, offset_counts, scale_n_per_count, *, kind: str,
                                 uncalibrated_scale_n_per_count: float) -> None:
    """Give a hardware source its calibration: the arguments, else the settings ``<kind>_offset_counts``
    and ``<kind>_scale_n_per_count``, else zero offsets and a typical scale with a warning the page shows.
    (The stored calibration from `forceplate calibrate` is applied later by forceplate.live.panel_link.)"""
    settings = config.load() if offset_counts is None or scale_n_per_count is None else {}
    offsets = offset_counts if offset_counts is not None else settings.get(f"{kind}_offset_counts")
    scales = scale_n_per_count if scale_n_per_count is not None else settings.get(f"{kind}_scale_n_per_count")
    if offsets is None or scales is None:
        offsets = np.zeros(source.channels)
        scales = np.full(source.channels, uncalibrated_scale_n_per_count)
        if not source.is_simulated:
            source.warning = "The plate is not calibrated: forces are rough guesses until it is."
    source.offset_counts = np.asarray(offsets, dtype=np.float64).reshape(-1)
    source.scale_n_per_count = np.asarray(scales, dtype=np.float64).reshape(-1)
    if source.offset_counts.shape != (source.channels,) or source.scale_n_per_count.shape != (source.channels,):
        raise ConfigError(f"{kind} calibration needs {source.channels} offsets and {source.channels} scales")


def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """``"sim:jumps?rate_hz=1000"`` -> ``("sim", "jumps", {"rate_hz": "1000"})``."""
    kind, _, rest = spec.strip().partition(":")
    if "?" in kind:                     # "hx711?sck=5": options without an argument
        kind, _, query = spec.strip().partition("?")
        arg = ""
    else:
        arg, _, query = rest.partition("?")
    try:
        options = dict(urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise ConfigError(f"source {spec!r}: options must look like ?name=value&name=value") from None
    return kind.lower(), arg, options


def source_from_spec(spec: str) -> LoadCellSource:
    """Build the source a spec names. Raises ConfigError for a bad spec, HardwareUnavailable for hardware."""
    kind, arg, options = parse_spec(spec)
    try:
        if kind == "sim":
            from .sim.simulator import SimulatedSource
            return SimulatedSource(scenario=arg or "session", **_typed(options, SimulatedSource.OPTION_TYPES))
        if kind == "replay":
            from .sim.replay import ReplaySource
            if not arg:
                raise ConfigError(f"source {spec!r}: replay needs a path, e.g. replay:session.csv")
            return ReplaySource(arg, **_typed(options, ReplaySource.OPTION_TYPES))
        if kind == "hx711" and arg == "emulated":      # emulated chips on mocked lines (device/sim/emulator.py)
            from .sim.emulator import EMULATED_OPTION_TYPES, emulated_plate
            return emulated_plate(**_typed(options, EMULATED_OPTION_TYPES))
        if kind == "hx711":
            from .hx711 import HX711Source, from_options
            return from_options(**_typed(options, HX711Source.OPTION_TYPES))
        if kind == "ads1256":
            from .ads1256 import ADS1256Source, from_options as ads1256_from_options
            return ads1256_from_options(**_typed(options, ADS1256Source.OPTION_TYPES))
    except TypeError as exc:
        raise ConfigError(f"source {spec!r}: {exc}") from None
    raise ConfigError(f"source {spec!r}: unknown kind {kind!r}; use hx711, sim:SCENARIO or replay:PATH")


def _typed(options: dict[str, str], types: dict[str, type]) -> dict:
    out = {}
    for key, text in options.items():
        if key not in types:
            raise ConfigError(f"unknown source option {key!r}; known: {', '.join(sorted(types))}")
        kind = types[key]
        try:
            out[key] = _parse_bool(text) if kind is bool else kind(text)
        except ValueError:
            raise ConfigError(f"source option {key}={text!r} is not a {kind.__name__}") from None
    return out


def _parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def open_source(source: str | LoadCellSource | None = None) -> LoadCellSource:
    """The source to sample from (see the module docstring for the order of choice)."""
    choice = source if source is not None else DEFAULT_SOURCE
    if choice is None:
        choice = config.get("source")
    if choice:              # asked for explicitly: a failure is an error, not a fallback
        return choice if isinstance(choice, LoadCellSource) else source_from_spec(str(choice))
    try:
        return source_from_spec("hx711")
    except HardwareUnavailable as exc:
        message = (f"No load-cell hardware is configured or answered ({exc}). "
                   "Showing the SIMULATED plate: these are not real measurements.")
        warnings.warn(message, SourceFallback, stacklevel=2)
        from .sim.simulator import SimulatedSource
        sim = SimulatedSource(scenario="session")
        sim.warning = message
        return sim

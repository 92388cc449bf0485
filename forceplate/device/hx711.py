"""HX711Source: the plate's four HX711 chips, read in lock-step on one SCK by a sampler thread.

The thread runs the compiled loop (``_gpio.Sampler``) without the GIL: it waits for data-ready, clocks
the words out, times every SCK pulse, flags what the wire showed and pushes each set into a SampleRing;
``read()`` drains the ring. Nothing in the thread logs, filters or touches Python objects per set. While
waiting it sleeps: until shortly before the next set is due, then until a DOUT falling-edge event from the
kernel (``edges=1``, the default) or, where the kernel gives no edges on those lines or ``edges=0``, by
polling every ``poll_us``.

Timestamps: ``t_ns`` of the returned Frames is the chips' conversion instant, estimated from the read times
(device/timebase.py: a regular grid fitted under the earliest reads, the step constant for 64 sets); the read
time's own jitter (the thread's wake-up latency) is in ``stats()`` (``read_late_us``). The ring keeps the raw
read times (bench/sampler.py reads them there).

Options (also as spec ``hx711?sck=5&dout=6,13,19,26&rate_hz=80&gain=128&rt=50&cpu=3&edges=1&poll_us=100``):
the pins (BCM numbers, docs/wiring.md), the nominal rate (80 SPS needs the RATE pin high; 10 with it
low), the gain (128 and 64 on channel A, 32 on channel B: 25, 27 or 26 pulses), a SCHED_FIFO priority
(``rt``, 1-99, default 50; 0 keeps normal scheduling) and a CPU to pin the sampler thread to (``cpu``). Both
apply to the sampler thread only (the web server and the analysis stay at normal priority); when the system
refuses them the source samples on at normal priority and says why: a ``RealtimeUnavailable`` warning for
what was asked for explicitly, one WARNING log record per process for the default priority (the systemd
unit grants CAP_SYS_NICE for it; a plain user without that or an rtprio limit is refused).

Calibration comes from the settings ``hx711_offset_counts`` and ``hx711_scale_n_per_count`` (forceplate.config:
the config file or ``FORCEPLATE_HX711_*``, one entry per cell); without it the source is uncalibrated and says so.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import warnings


from ..exc import ConfigError, ForcePlateWarning, HardwareUnavailable
from . import _gpio_py, gpio, sampling
from .frames import Frames
from .timebase import ConversionClock
from .sources import RingSource, apply_configured_calibration

log = logging.getLogger(__name__)

DEFAULT_REALTIME_PRIORITY = 50      # SCHED_FIFO for the sampler thread: systemd/forceplate.service.in grants it
GAIN_PULSES = {128: 25, 32: 26, 64: 27}
RING_CAPACITY = 8192                # sets: 100 s at 80 SPS, so a slow reader loses nothing
UNCALIBRATED_SCALE_N_PER_COUNT = 0.003   # a typical 50 kg cell at gain 128 and 3.3 V: a placeholder


class RealtimeUnavailable(ForcePlateWarning):
    """Real-time priority or CPU pinning was asked for and refused; sampling runs at normal priority."""


class HX711Source(RingSource):
    """Four HX711 chips on one SCK (see the module docstring).

    ``read()`` returns Frames whose ``t_ns`` is the chips' conversion instant, estimated from the read times
    (device/timebase.py); the read time's own jitter is in ``stats()``.

    Parameters
    ----------
    pins : gpio.Pins
        SCK and DOUT line numbers (BCM).
    rate_hz : float
        The chips' nominal rate: 80 (RATE pin high) or 10 (low). Real chips run at 80-94 SPS.
    gain : {128, 64, 32}
    realtime_priority : int, optional
        SCHED_FIFO priority 1-99 for the sampler thread; 0: normal scheduling. Default (None):
        ``DEFAULT_REALTIME_PRIORITY`` (50), logged once at WARNING when refused instead of warned.
    cpu : int, optional
        Pin the sampler thread to this CPU.
    edges : bool
        Wait for data-ready on DOUT falling-edge events (False, or no edge support: poll).
    poll_us : float
        DOUT polling interval while waiting for data-ready without edge events.
    lines : line backend, optional
        Instead of the GPIO chip: ``_gpio.EmulatedLines`` in real time (tests, bench). Then the source is
        simulated (``is_simulated``).
    """

    OPTION_TYPES = {"sck": int, "dout": str, "rate_hz": float, "gain": int, "rt": int, "cpu": int,
                    "edges": int, "poll_us": float}

    def __init__(self, *, pins: gpio.Pins | None = None, rate_hz: float = 80.0, gain: int = 128,
                 realtime_priority: int | None = None, cpu: int | None = None, edges: bool = True,
                 poll_us: float = 100.0,
                 lines=None, offset_counts=None, scale_n_per_count=None):
        if gain not in GAIN_PULSES:
            raise ConfigError(f"gain {gain} must be 128 or 64 (channel A) or 32 (channel B)")
        if not 1 <= float(rate_hz) <= 100:
            raise ConfigError(f"rate_hz {rate_hz:g}: an HX711 runs at 10 or 80 (80-94) SPS")
        explicit_priority = realtime_priority is not None
        if not explicit_priority:
            realtime_priority = DEFAULT_REALTIME_PRIORITY
        if not 0 <= int(realtime_priority) <= 99:
            raise ConfigError(f"realtime priority {realtime_priority} is outside 0-99")
        self.realtime_priority = int(realtime_priority)     # asked for; what the thread got: stats()
        self.realtime_priority_used = 0
        self.pins = pins or gpio.Pins()
        self.is_simulated = lines is not None
        self._lines = lines if lines is not None else gpio.open_lines(self.pins, edges=edges)   # HardwareUnavailable
        if lines is not None:
            self.wait = "emulated edges"
        else:
            self.wait = "edge events" if self._lines.edges else f"polling every {poll_us:g} us"
        self.channels = int(self._lines.channels)
        self.rate_hz = float(rate_hz)
        self.adc = "hx711"
        self.name = "hx711" if lines is None else "hx711:emulated"
        compiled = gpio.compiled_kernel is not None and isinstance(self._lines, gpio.compiled_kernel.Lines)
        sampler_module = gpio.kernels if compiled else _gpio_py
        if sampler_module is _gpio_py:
            self._ring = sampling.SampleRing(self.channels, RING_CAPACITY)
        else:                           # the compiled loop pushes into the compiled ring without the GIL
            from . import _hx711
            self._ring = _hx711.SampleRing(self.channels, RING_CAPACITY)
        self.kernel = "compiled" if sampler_module is not _gpio_py else "pure-python"
        self.sampler = sampler_module.Sampler(self.channels, rate_hz=rate_hz, gain_pulses=GAIN_PULSES[gain],
                                              poll_us=poll_us)
        self.clock = ConversionClock(self.rate_hz)
        self.warning = None
        apply_configured_calibration(self, offset_counts, scale_n_per_count, kind="hx711",
                                     uncalibrated_scale_n_per_count=UNCALIBRATED_SCALE_N_PER_COUNT)
        self._error: BaseException | None = None
        self.thread_cpu_ns = 0
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(int(realtime_priority), cpu),
                                        name="hx711-sampler", daemon=True)
        self._thread.start()
        self._started.wait(2.0)
        messages = list(self._priority_messages)
        if self._priority_refusal and not explicit_priority:
            _log_default_refusal(self._priority_refusal)      # the default: said once, not a warning
        elif self._priority_refusal:
            messages.append(self._priority_refusal)
        if messages:
            warnings.warn("; ".join(messages), RealtimeUnavailable, stacklevel=2)


    def _run(self, priority: int, cpu: int | None) -> None:
        messages = []
        if cpu is not None:
            try:
                os.sched_setaffinity(0, {int(cpu)})        # pid 0: this thread only
            except (OSError, ValueError) as exc:
                messages.append(f"cannot pin the sampler thread to CPU {cpu} ({exc})")
        self.realtime_priority_used, self._priority_refusal = set_thread_priority(priority)
        self._priority_messages = messages
        self._started.set()
        start_cpu = time.thread_time_ns()
        try:
            self.sampler.run(self._lines, self._ring)
        except BaseException as exc:       # reported by read(); a sampler thread must not die silently
            self._error = exc
        finally:
            self.thread_cpu_ns = time.thread_time_ns() - start_cpu

    _priority_messages: tuple = ()
    _priority_refusal = None

    # -- LoadCellSource (read, ticks_ns and dropped: RingSource)
    def _stamp(self, frames: Frames) -> Frames:
        return frames._replace(t_ns=self.clock.stamp(frames.t_ns))     # read times -> conversion instants

    def _raise_if_failed(self):
        error = getattr(self.sampler, "error", 0)
        if error:
            raise HardwareUnavailable(f"GPIO access failed while sampling: {os.strerror(error)}")
        super()._raise_if_failed()

    def stats(self) -> dict:
        """The sampler's counters: sets, clean sets, timeouts, SCK pulses and the longest SCK-high.

        ``read_late_us``: over the last 64 sets, how long after the estimated conversion instant each set
        was read (min, p50, p99, max; None until the clock has locked); ``clock_period_us`` the estimated
        period, ``clock_resyncs`` how often a read strayed from the grid and re-anchored it.
        """
        s = self.sampler
        clock = self.clock
        return {"sets": s.sets, "sets_clean": s.sets_clean, "timeouts": s.timeouts, "pulses": s.pulses,
                "pulses_long": s.pulses_long, "power_downs": s.power_downs,
                "sck_high_max_us": s.sck_high_max_ns / 1000, "not_ready_words": s.not_ready_words,
                "garbage_words": s.garbage_words, "stuck_words": s.stuck_words,
                "long_pulse_words": s.long_pulse_words, "dropped": self.dropped, "kernel": self.kernel,
                "wait": self.wait, "realtime_priority": self.realtime_priority,
                "realtime_priority_used": self.realtime_priority_used,
                "read_late_us": clock.read_late_us,
                "clock_period_us": clock.period_ns / 1000 if clock.locked else None,
                "clock_resyncs": clock.resyncs}

    def close(self) -> None:
        self.sampler.stop()
        self._thread.join(timeout=2.0)
        if not self._thread.is_alive() and hasattr(self._lines, "close"):
            self._lines.close()

    def describe(self) -> str:
        return (f"{super().describe()}, SCK {self.pins.sck}, DOUT {list(self.pins.douts)}, {self.kernel} sampler, "
                f"waits on {self.wait}")


def set_thread_priority(priority: int) -> tuple[int, str | None]:
    """Put the calling thread (only it) under SCHED_FIFO at ``priority`` (0: leave it alone).

    Returns the SCHED_FIFO priority it got (0: normal scheduling) and, when the system refused, why.
    """
    if not priority:
        return 0, None
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(priority)))     # pid 0: this thread
    except (OSError, AttributeError) as exc:        # EPERM without CAP_SYS_NICE or an rtprio limit
        reason = getattr(exc, "strerror", None) or exc
        return 0, (f"real-time priority {priority} (SCHED_FIFO) refused ({reason}): run forceplate under its "
                   "systemd unit (sudo scripts/install-service.sh; it grants CAP_SYS_NICE), or grant "
                   "CAP_SYS_NICE or an rtprio limit (/etc/security/limits.d) to the user; sampling at normal "
                   "priority, so missed sets and long SCK pulses are likelier under load (rt=0 stops asking)")
    return int(priority), None


_default_refusal_logged = False


def _log_default_refusal(message: str) -> None:
    global _default_refusal_logged
    if not _default_refusal_logged:
        _default_refusal_logged = True
        log.warning("HX711 sampler: %s", message)


def from_options(sck=None, dout=None, rate_hz=80.0, gain=128, rt=None, cpu=None, edges=1, poll_us=100.0) -> HX711Source:
    """An HX711Source from spec options (``hx711?sck=5&dout=6,13,19,26``)."""
    pins = gpio.Pins()
    if sck is not None or dout is not None:
        try:
            douts = tuple(int(d) for d in dout.split(",")) if dout else pins.douts
        except ValueError:
            raise ConfigError(f"dout={dout!r}: give BCM line numbers separated by commas") from None
        pins = gpio.Pins(sck if sck is not None else pins.sck, douts)
    return HX711Source(pins=pins, rate_hz=rate_hz, gain=gain, realtime_priority=rt, cpu=cpu, edges=bool(edges),
                       poll_us=poll_us)

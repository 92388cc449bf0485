"""Emulated HX711 chips at the pin level: the plate's four ADCs on one shared SCK, for tests and the bench.

``EmulatedChips`` is the readable specification of the chip model; ``_gpio.EmulatedLines`` is the same
model in C, so the compiled sampler loop runs on it unchanged (tests/test_emulator.py proves they agree).
Both offer the line-backend interface the sampler talks to: ``set_sck(level)``, ``read_dout()`` (bit ``ch``
set when chip ``ch``'s DOUT is high), ``wait_ready(need, until_ns, poll_ns)``, ``now_ns()`` and
``sleep_until_ns(t_ns)``. ``wait_ready`` behaves as the plate's DOUT edge events do: it sleeps until the
next falling edge of a DOUT line that is high (the emulator knows when its chips get ready and when its
faults begin and end), reads, and repeats until every line in ``need`` is low or ``until_ns``.

The model (HX711 datasheet, with the assumptions marked):

- Each chip converts continuously from its own oscillator: conversion ``k`` completes at
  ``start + phase + (k + 1) * period`` (real chips run at 80-94 SPS with RATE high). Its value is
  ``words[k % n, ch]``: a 24-bit word, e.g. the simulator's corner force through the HX711 filter model
  (``plate_words``).
- A completed conversion drives DOUT low (ready). Unread data is overwritten by the next conversion
  (``overwritten``). Assumption: a conversion that completes while a word is being shifted out is latched
  behind it and lost (``dropped``); the word in progress stays whole.
- Each SCK rising edge shifts out one bit, MSB first: after edge ``p`` (1-24) DOUT shows bit ``24 - p``;
  the 25th edge drives DOUT high until the next conversion. 25, 26 or 27 edges select channel A gain 128,
  channel B gain 32 or channel A gain 64 for the following conversions (emulated as the A word shifted
  right by 0, 2 and 1 bits: channel B is not wired on the plate). Edges while a chip is not ready are ignored.
- SCK high for 60 us or more powers every chip down (DOUT high, conversion stops). SCK low again resets
  them: gain 128, conversions restart one period later, and the first 3 words after power-up are the
  settling filter's (1/4, 2/4, 3/4 of the value).

Faults, each over a window of emulator seconds (``until_s`` None: forever): ``unplug(ch)`` (DOUT floats
high through the pull-up), ``stick_low(ch)`` (DOUT shorted low), ``noise(ch)`` (conversions give random
words) and ``slow_host(at_s, delay_us)`` (the next SCK rising edge at or after ``at_s`` is followed by a
``delay_us`` stall while SCK is high: a host descheduled mid-pulse).

Clocks: ``virtual=True`` (tests) keeps its own nanosecond clock: sleeping jumps it, and each pin access
costs ``edge_ns`` (about a GPIO ioctl on a Pi), so a run is exact and repeatable and never waits.
``virtual=False`` (the bench, HX711Source tests) runs on CLOCK_MONOTONIC in real time.
"""
from __future__ import annotations

import time

import numpy as np

from ...exc import ConfigError

POWER_DOWN_NS = 60_000           # datasheet: SCK high > 60 us enters power-down
SETTLE_WORDS = 3                 # words after power-up that are still settling (scaled 1/4, 2/4, 3/4)
DEFAULT_RATES_HZ = (86.0, 86.4, 85.7, 86.2)     # four real-looking oscillators (80-94 SPS), cycled
DEFAULT_PHASES_S = (0.0, 0.0031, 0.0062, 0.0093)
DEFAULT_EDGE_NS = 1_000
MAX_FAULTS = 32
MAX_SLOW_HOST = 16
GAIN_SHIFT_BY_PULSES = {25: 0, 26: 2, 27: 1}    # A128, B32 (emulated), A64
FAULT_KINDS = {"unplug": 1, "stick_low": 2, "noise": 3}
_MASK64 = (1 << 64) - 1
_NEVER_NS = (1 << 62)


def _xorshift64(x: int) -> int:
    x ^= (x << 13) & _MASK64
    x ^= x >> 7
    x ^= (x << 17) & _MASK64
    return x


class EmulatedChips:
    """``channels`` HX711 chips sharing one SCK line (see the module docstring).

    Parameters
    ----------
    words : array_like, shape (n, channels)
        24-bit words; conversion ``k`` of chip ``ch`` gives ``words[k % n, ch]``.
    rates_hz, phases_s : sequences, optional
        Each chip's conversion rate (SPS) and the offset of its first conversion (s); cycled over channels.
    virtual : bool
        True: a virtual clock (see the module docstring); False: real time.
    start_ns : int
        The virtual clock's start (ignored in real time, where the start is now).
    edge_ns : int
        Virtual cost of one pin access (ns).
    seed : int
        Seeds the noise fault's words.
    slowdown : int
        Real time only: the chips' clock runs this many times slower than the host's (1: real time). A host
        that clocks SCK too slowly for the datasheet's 50 us (a CPU emulator such as qemu-user) keeps the
        chips' timing relative to its own speed: their conversions, pulse widths and stalls all stretch.
    """

    def __init__(self, words, *, rates_hz=None, phases_s=None, virtual=True, start_ns=1_000_000_000,
                 edge_ns=DEFAULT_EDGE_NS, seed=1, slowdown=1):
        words = np.asarray(words, dtype=np.uint32)
        if words.ndim != 2 or words.shape[0] < 1 or words.shape[1] < 1:
            raise ConfigError("emulated chips need words of shape (n, channels)")
        self.channels = n = int(words.shape[1])
        self._words = (words & 0xFFFFFF).tolist()
        self._n_words = words.shape[0]
        rates = list(rates_hz) if rates_hz is not None else list(DEFAULT_RATES_HZ)
        phases = list(phases_s) if phases_s is not None else list(DEFAULT_PHASES_S)
        self.period_ns = [int(round(1e9 / float(rates[c % len(rates)]))) for c in range(n)]
        phase_ns = [int(round(float(phases[c % len(phases)]) * 1e9)) for c in range(n)]
        self.virtual = bool(virtual)
        if int(slowdown) < 1:
            raise ConfigError(f"slowdown must be a whole number >= 1, not {slowdown!r}")
        self.slowdown = int(slowdown)
        self.edge_ns = int(edge_ns)
        self._now = int(start_ns)
        self.start_ns = int(start_ns) if self.virtual else time.monotonic_ns()
        self._rng = (int(seed) * 0x9E3779B97F4A7C15 + 1) & _MASK64 or 1
        self._faults = []           # (kind, ch, from_ns, until_ns)
        self._slow = []             # [at_ns, delay_ns, used]
        self.sck = 0
        self.t_high_ns = 0
        self.powered = True
        self.next_conv_ns = [self.start_ns + phase_ns[c] + self.period_ns[c] for c in range(n)]
        self.pulses = [-1] * n      # -1 no data (DOUT high); 0 ready (low); 1-24 shifting; >= 25 done
        self.shift = [0] * n
        self.gain_shift = [0] * n
        self.since_up = [SETTLE_WORDS] * n
        # counters
        self.conversions = [0] * n
        self.overwritten = [0] * n
        self.dropped = [0] * n
        self.reads = [0] * n        # words shifted out whole (24 edges)
        self.power_downs = 0
        self.slow_host_stalls = 0
        self.dout_reads = 0         # read_dout calls, those of wait_ready included: GPIO ioctls on a plate
        self.sleeps = 0             # sleeps that waited: thread wake-ups in real time

    # ------------------------------------------------------------------ fault injection
    def _window(self, at_s, until_s):
        start = self.start_ns + int(round(float(at_s) * 1e9))
        end = _NEVER_NS if until_s is None else self.start_ns + int(round(float(until_s) * 1e9))
        return start, end

    def _add_fault(self, kind, ch, at_s, until_s):
        if not 0 <= int(ch) < self.channels:
            raise ConfigError(f"no channel {ch}: the emulator has {self.channels}")
        if len(self._faults) >= MAX_FAULTS:
            raise ConfigError(f"at most {MAX_FAULTS} emulated faults")
        self._faults.append((FAULT_KINDS[kind], int(ch), *self._window(at_s, until_s)))

    def unplug(self, ch, at_s=0.0, until_s=None):
        """Chip ``ch``'s DOUT wire comes off: the line floats high (pull-up) from ``at_s`` to ``until_s``."""
        self._add_fault("unplug", ch, at_s, until_s)

    def stick_low(self, ch, at_s=0.0, until_s=None):
        """Chip ``ch``'s DOUT line is shorted low."""
        self._add_fault("stick_low", ch, at_s, until_s)

    def noise(self, ch, at_s=0.0, until_s=None):
        """Chip ``ch``'s conversions give random 24-bit words (a broken bridge, EMI)."""
        self._add_fault("noise", ch, at_s, until_s)

    def slow_host(self, at_s, delay_us):
        """Stall ``delay_us`` while SCK is high, on the first rising edge at or after ``at_s``."""
        if len(self._slow) >= MAX_SLOW_HOST:
            raise ConfigError(f"at most {MAX_SLOW_HOST} slow-host stalls")
        self._slow.append([self._window(at_s, None)[0], int(round(float(delay_us) * 1000)), 0])

    def _fault_on(self, kind, ch, t):
        for k, c, start, end in self._faults:
            if k == kind and c == ch and start <= t < end:
                return True
        return False

    # ------------------------------------------------------------------ the line backend
    def now_ns(self) -> int:
        if self.virtual:
            return self._now
        return self.start_ns + (time.monotonic_ns() - self.start_ns) // self.slowdown

    def sleep_until_ns(self, t_ns) -> None:
        t_ns = int(t_ns)
        if self.virtual:
            if t_ns > self._now:
                self._now = t_ns
                self.sleeps += 1
        else:
            delay = t_ns - self.now_ns()
            if delay > 0:
                self.sleeps += 1
                time.sleep(delay * self.slowdown / 1e9)

    def _spend(self, ns) -> None:
        if self.virtual:
            self._now += ns
        else:
            end = time.monotonic_ns() + ns * self.slowdown
            while time.monotonic_ns() < end:     # a stall is the host's CPU busy elsewhere: spin
                pass

    def set_sck(self, level) -> None:
        t = self.now_ns()
        self._advance(t)
        level = 1 if level else 0
        if level and not self.sck:
            self.sck = 1
            self.t_high_ns = t
            if self.powered:
                for c in range(self.channels):
                    p = self.pulses[c]
                    if p >= 0:
                        p = min(p + 1, 100)
                        self.pulses[c] = p
                        if p == 24:
                            self.reads[c] += 1
            for stall in self._slow:
                if not stall[2] and stall[0] <= t:
                    stall[2] = 1
                    self.slow_host_stalls += 1
                    self._spend(stall[1])
                    break
        elif not level and self.sck:
            self.sck = 0
            if not self.powered:            # SCK low again: reset and power up
                self.powered = True
                for c in range(self.channels):
                    self.next_conv_ns[c] = t + self.period_ns[c]
                    self.pulses[c] = -1
                    self.gain_shift[c] = 0
                    self.since_up[c] = 0
        if self.virtual:
            self._now += self.edge_ns

    def wait_ready(self, need, until_ns, poll_ns=0) -> int:
        """Sleep until every DOUT line in ``need`` reads low (``need`` 0: any line) or the clock reaches
        ``until_ns``, waking at each falling edge of a high line; return the DOUT bits read last.
        ``poll_ns`` is for backends that must poll: the emulator knows its edges."""
        all_lines = (1 << self.channels) - 1
        while True:
            bits = self.read_dout()
            low = ~bits & all_lines
            if (need and low & need == need) or (not need and low):
                return bits
            t = self.now_ns()
            if t >= until_ns:
                return bits
            self._advance(t)
            edge = _NEVER_NS
            for c in range(self.channels):
                if (bits >> c) & 1:
                    edge = min(edge, self._line_low_from(c, t))
            self.sleep_until_ns(min(edge, until_ns))

    def _chip_low_from(self, c, t) -> int:
        """The instant (>= t) from which chip ``c`` drives DOUT low if nobody clocks it; _NEVER_NS if not."""
        if not self.powered:
            return _NEVER_NS
        p = self.pulses[c]
        if p == 0:
            return t
        if 1 <= p <= 24:                    # mid-word: DOUT holds a data bit until the next SCK edge
            return _NEVER_NS
        if self.sck and self.next_conv_ns[c] >= self.t_high_ns + POWER_DOWN_NS:
            return _NEVER_NS                # powers down first
        return max(self.next_conv_ns[c], t)

    def _line_low_at(self, c, tau, chip_low) -> bool:
        if self._fault_on(1, c, tau):
            return False
        if self._fault_on(2, c, tau):
            return True
        return tau >= chip_low

    def _line_low_from(self, c, t) -> int:
        """The first instant >= t at which DOUT line ``c`` reads low, faults included; _NEVER_NS if none.
        The level changes only where the chip gets ready or a fault window opens or closes."""
        chip_low = self._chip_low_from(c, t)
        if self._line_low_at(c, t, chip_low):
            return t
        best = _NEVER_NS
        if chip_low < best and self._line_low_at(c, chip_low, chip_low):
            best = chip_low
        for kind, ch, start, end in self._faults:
            if ch != c or kind not in (1, 2):
                continue
            cand = end if kind == 1 else start      # unplug ends; short to ground begins
            if t < cand < best and self._line_low_at(c, cand, chip_low):
                best = cand
        return best

    def read_dout(self) -> int:
        t = self.now_ns()
        self.dout_reads += 1
        self._advance(t)
        bits = 0
        for c in range(self.channels):
            if self._fault_on(1, c, t):
                level = 1
            elif self._fault_on(2, c, t):
                level = 0
            else:
                level = self._dout(c)
            bits |= level << c
        if self.virtual:
            self._now += self.edge_ns
        return bits

    # ------------------------------------------------------------------ the chips
    def _dout(self, c) -> int:
        if not self.powered:
            return 1
        p = self.pulses[c]
        if p == 0:
            return 0
        if 1 <= p <= 24:
            return (self.shift[c] >> (24 - p)) & 1
        return 1

    def _advance(self, t) -> None:
        if self.sck and self.powered and t - self.t_high_ns >= POWER_DOWN_NS:
            self._convert_until(self.t_high_ns + POWER_DOWN_NS)
            self.powered = False
            self.power_downs += 1
            for c in range(self.channels):
                self.pulses[c] = -1
        if self.powered:
            self._convert_until(t)

    def _convert_until(self, t) -> None:
        for c in range(self.channels):
            while self.next_conv_ns[c] <= t:
                self._complete(c, self.next_conv_ns[c])
                self.next_conv_ns[c] += self.period_ns[c]

    def _complete(self, c, t) -> None:
        k = self.conversions[c]
        self.conversions[c] = k + 1
        p = self.pulses[c]
        if 1 <= p <= 24:
            self.dropped[c] += 1
            return
        if p == 0:
            self.overwritten[c] += 1
        elif p >= 25 and p in GAIN_SHIFT_BY_PULSES:
            self.gain_shift[c] = GAIN_SHIFT_BY_PULSES[p]
        if self._fault_on(3, c, t):
            self._rng = _xorshift64(self._rng)
            word = self._rng & 0xFFFFFF
        else:
            word = self._words[k % self._n_words][c]
        signed = (word ^ 0x800000) - 0x800000
        if self.since_up[c] < SETTLE_WORDS:
            signed = (signed * (self.since_up[c] + 1)) >> 2
            self.since_up[c] += 1
        signed >>= self.gain_shift[c]
        self.shift[c] = signed & 0xFFFFFF
        self.pulses[c] = 0


def plate_words(seconds=60.0, *, scenario="standing", seed=0, rates_hz=None, phases_s=None, channels=4):
    """24-bit words for emulated chips: the simulator's corner forces through the HX711 filter model.

    Returns ``(words, sim)``: words (n, channels) uint32 where row ``k`` is each chip's conversion ``k`` at
    its own rate and phase, covering ``seconds``; ``sim`` is the SimulatedSource (offsets, scales, truth).
    """
    from ...signal.calibration import counts_to_words, newtons_to_counts
    from .simulator import SimulatedSource

    rates = list(rates_hz) if rates_hz is not None else list(DEFAULT_RATES_HZ)
    phases = list(phases_s) if phases_s is not None else list(DEFAULT_PHASES_S)
    rates = [float(rates[c % len(rates)]) for c in range(channels)]
    sim = SimulatedSource(scenario, rate_hz=float(np.mean(rates)), seed=seed, channels=channels)
    n = max(1, int(seconds * min(rates)))
    words = np.empty((n, channels), dtype=np.uint32)
    k = np.arange(1, n + 1, dtype=np.float64)
    for c in range(channels):
        t_s = phases[c % len(phases)] + k / rates[c]
        force_n = sim.corner_force_n(t_s)[:, c]
        counts = newtons_to_counts(force_n[:, None], sim.offset_counts[c:c + 1], sim.scale_n_per_count[c:c + 1])
        words[:, c] = counts_to_words(counts)[:, 0]
    return words, sim


# ------------------------------------------------------------------ a chosen filter, an empty plate, a ball

BALL_CONTACT_S = 0.005          # a tennis ball on a stiff plate: a few milliseconds of contact
BALL_IMPULSE_N_S = 0.3          # 57 g from 50 cm (3.1 m/s), bouncing back at about 75 %: 0.18 * 1.75 N s
EMULATED_SCALE_N_PER_COUNT = (0.0025, 0.0027, 0.0024, 0.0026)
EMULATED_OFFSET_COUNTS = (41_000, -37_500, 52_200, -18_900)
EMULATED_NOISE_COUNTS = 40.0    # per word, RMS: about the HX711 datasheet's 90 nV at 80 SPS and gain 128
_FINE_HZ = 50_000.0             # the ball's force is sampled this finely before the filter


def chip_instants_s(n, rates_hz, phases_s, channels):
    """Conversion instants (s after the start) of each chip's words 0..n-1, as ``EmulatedChips`` makes them:
    word ``k`` of chip ``c`` at ``phase_c + (k + 1) / rate_c``. Shape (n, channels)."""
    rates = list(rates_hz) if rates_hz is not None else list(DEFAULT_RATES_HZ)
    phases = list(phases_s) if phases_s is not None else list(DEFAULT_PHASES_S)
    k = np.arange(1, n + 1, dtype=np.float64)
    return np.stack([phases[c % len(phases)] + k / float(rates[c % len(rates)]) for c in range(channels)], axis=1)


def ball_plate_words(seconds, *, drops_s=(), model=None, rates_hz=None, phases_s=None, channels=4,
                     impulse_n_s=BALL_IMPULSE_N_S, contact_s=BALL_CONTACT_S, noise_counts=EMULATED_NOISE_COUNTS,
                     drift_counts_per_s=0.0, offset_counts=EMULATED_OFFSET_COUNTS,
                     scale_n_per_count=EMULATED_SCALE_N_PER_COUNT, seed=0):
    """Words of an empty plate on which a ball lands at the centre at ``drops_s``, through a chosen filter.

    Each contact is a half-sine of ``contact_s`` carrying ``impulse_n_s`` (N s), shared equally by the corners;
    each chip's word ``k`` (at ``chip_instants_s``) is that force through ``model`` (an ``Hx711Model``; default
    the analysis's model) at the chip's own rate, plus white noise of ``noise_counts`` RMS per word and an offset
    drifting ``drift_counts_per_s`` (one value, or one per chip). Returns ``(words, truth)``: words (n, channels)
    uint32 for ``EmulatedChips``/``EmulatedLines``, truth a dict (model, offsets, scales, noise, instants).
    """
    from ...signal.calibration import counts_to_words
    from ...signal.hx711_model import DEFAULT_MODEL, filter_samples

    model = DEFAULT_MODEL if model is None else model
    rates = list(rates_hz) if rates_hz is not None else list(DEFAULT_RATES_HZ)
    rates = [float(rates[c % len(rates)]) for c in range(channels)]
    n = max(1, int(seconds * min(rates)))
    t = chip_instants_s(n, rates, phases_s, channels)
    offsets = np.resize(np.asarray(offset_counts, dtype=np.float64), channels)
    scales = np.resize(np.asarray(scale_n_per_count, dtype=np.float64), channels)
    drift = np.resize(np.asarray(drift_counts_per_s, dtype=np.float64), channels)
    rng = np.random.default_rng(seed)
    counts = offsets[None, :] + drift[None, :] * t + float(noise_counts) * rng.normal(0.0, 1.0, (n, channels))
    peak_n = np.pi / 2 * impulse_n_s / contact_s / channels        # a half-sine's peak from its area, per corner
    for t0 in drops_s:
        for c in range(channels):
            span = model.span_s(rates[c])
            near = np.flatnonzero((t[:, c] >= t0) & (t[:, c] <= t0 + contact_s + span + 1.0 / rates[c]))
            if near.size == 0:
                continue
            start = t0 - 2 * span - 0.01
            fine_t = start + np.arange(int((t[near[-1], c] - start) * _FINE_HZ) + 2) / _FINE_HZ
            u = (fine_t - t0) / contact_s
            force = np.where((u >= 0) & (u <= 1), peak_n * np.sin(np.pi * np.clip(u, 0, 1)), 0.0)
            words_n = filter_samples(force, t[near, c] - start, rates[c], input_rate_hz=_FINE_HZ, model=model)
            counts[near, c] += words_n / scales[c]
    words = counts_to_words(np.rint(counts))
    truth = {"model": model, "offset_counts": offsets, "scale_n_per_count": scales, "noise_counts": float(noise_counts),
             "drift_counts_per_s": drift, "instants_s": t, "rates_hz": rates, "drops_s": tuple(drops_s),
             "impulse_n_s": float(impulse_n_s), "contact_s": float(contact_s)}
    return words, truth


def emulated_plate(*, order=4, delay_ms=0.0, empty_s=12.0, loop_s=40.0, every_s=1.5, ball=1,
                   noise_counts=EMULATED_NOISE_COUNTS, drift_counts_s=0.0, seed=0, rt=0):
    """The spec ``hx711:emulated``: an HX711Source (the real sampler thread, in real time) on four emulated
    chips whose filter is ``order`` boxcars delayed ``delay_ms``. The plate is empty for ``empty_s``, then (with
    ``ball=1``) a ball lands at its centre every ``every_s`` until the ``loop_s`` loop starts again."""
    from ...signal.hx711_model import Hx711Model
    from .. import gpio
    from ..hx711 import HX711Source

    try:
        model = Hx711Model(order=int(order), delay_s=float(delay_ms) / 1000.0)
    except ValueError as exc:
        raise ConfigError(f"hx711:emulated: {exc}") from None
    if not (0 < empty_s < loop_s <= 600) or not 0.2 <= every_s <= 60:
        raise ConfigError("hx711:emulated: need 0 < empty_s < loop_s <= 600 and every_s from 0.2 to 60")
    drops = np.arange(empty_s + 0.5, loop_s - 0.5, every_s) if ball else ()
    words, truth = ball_plate_words(loop_s, drops_s=tuple(drops), model=model, noise_counts=noise_counts,
                                    drift_counts_per_s=drift_counts_s, seed=seed)
    lines_class = gpio.compiled_kernel.EmulatedLines if gpio.compiled_kernel is not None else EmulatedChips
    source = HX711Source(lines=lines_class(words, virtual=False), realtime_priority=int(rt),
                         offset_counts=truth["offset_counts"], scale_n_per_count=truth["scale_n_per_count"])
    source.name = "hx711:emulated"
    source.emulated_truth = truth
    return source


EMULATED_OPTION_TYPES = {"order": int, "delay_ms": float, "empty_s": float, "loop_s": float, "every_s": float,
                         "ball": int, "noise_counts": float, "drift_counts_s": float, "seed": int, "rt": int}

"""An emulated ADS1256 at the register level, on a virtual clock: for tests and the bench.

It answers the SPI messages of ``spi.EmulatedSpi`` byte by byte as the chip would, drives DRDY, and offers
the DRDY/PDWN line interface the sampler talks to: ``wait_drdy(until_ns) -> bool``, ``read_drdy()``,
``set_pdwn(level)``, ``now_ns()`` and ``sleep_until_ns(t_ns)``. The clock is virtual: each SPI byte costs
8 SCLK periods, each segment its delay, each message ``ioctl_ns`` (the Linux spidev call on a Pi) and each
DRDY wake-up ``wake_ns`` (a GPIO edge event waking the sampler), so runs are exact, repeatable and never
sleep.

The model (ADS1255/6 datasheet SBAS288K; the assumptions are marked):

- Registers STATUS (ID in bits 7-4, ``chip_id``; 3 on an ADS1256, the value drivers check), MUX, ADCON
  (PGA in bits 2-0), DRATE, IO with their reset values (Table 23). Commands WAKEUP, RDATA, RREG, WREG,
  SELFCAL, SYNC, STANDBY, RESET (Table 24); RDATAC/SDATAC are logged but not modelled. CS high between
  messages resets the command decoder.
- Conversions: after WAKEUP (following SYNC), RESET, SELFCAL or PDWN going high, the first conversion
  completes after the settling time t18 of the data rate (Table 13) and is settled (single-cycle settling);
  then the chip converts continuously every 1/DRATE. DRDY is low while a completed conversion is unread and
  goes high when RDATA has shifted out its 24 bits. SYNC stops converting (the data register keeps the last
  result, which RDATA after SYNC/WAKEUP returns: the datasheet's cycling sequence, Figure 19).
- A conversion's value is the differential input ``AINP - AINN`` at the middle of its settling window
  (completion - t18/2): assumption, the filter's weight is symmetric and the window short next to a force
  change. Code = round(V * PGA * (2^23 - 1) / (2 VREF)), clipped to 7FFFFFh / 800000h (Table 16), plus
  Gaussian noise of ``noise_counts`` (rms).
- MUX written without a SYNC (or with ``ignore_sync``): conversions go on every 1/DRATE and one completing
  less than t18 after the write mixes old and new input, weighted as a fifth-order sinc filter spanning t18
  would weigh them (assumption: the ADS1256's filter is sinc5 followed by an average; Table 15 gives the
  settling in DRDY periods, this model has the same length, t18).
- Timing rules the host must keep, recorded in ``violations``: SCLK at most fCLKIN/4, t6 (50 CLKIN
  periods) between RDATA/RREG and their first data byte, t11 (4 CLKIN periods after WREG/RREG/RDATA, 24
  after SYNC/RESET) before the next command.

Inputs: ``bridges_v(t_s)`` -> (4,) differential voltages of four bridges on AIN0-AIN1, AIN2-AIN3,
AIN4-AIN5, AIN6-AIN7 (common mode ``vref_v``), ``t_s`` in seconds from the emulator's start.

Faults: ``no_chip(miso=0xFF)`` (MISO stuck, DRDY never falls: an unplugged board), ``drdy_stops(at_s,
until_s=None)`` (DRDY never falls in that window), ``ignore_sync()`` (the chip converts on through
SYNC/WAKEUP), a wrong ``chip_id``, and ``noise_counts``.
"""
from __future__ import annotations

import math

import numpy as np

from ..ads1256 import (CHIP_ID, CLKIN_HZ, DRATE_RATES_HZ, PGA_GAINS, RDATA, RDATAC, REG_ADCON, REG_DRATE,
                      REG_MUX, REG_STATUS, RESET, RREG, SDATAC, SELFCAL, STANDBY, SYNC, WAKEUP, WREG,
                      settling_ns)

TAU_CLKIN_NS = 1e9 / CLKIN_HZ
T6_NS = 50 * TAU_CLKIN_NS
T11_SHORT_NS = 4 * TAU_CLKIN_NS      # after WREG, RREG, RDATA
T11_LONG_NS = 24 * TAU_CLKIN_NS      # after SYNC, RESET, RDATAC
RESET_REGS = (0x01, 0x01, 0x20, 0xF0, 0xE0, 0, 0, 0, 0, 0, 0x40)   # STATUS (ID added), MUX .. FSC2
SELFCAL_NS = 800_000                 # assumption: the self-calibration's length is not modelled exactly
FULL_SCALE = (1 << 23) - 1


def sinc5_weight_after(fraction: float) -> float:
    """The share of a fifth-order sinc filter's weight in the last ``fraction`` (0-1) of its window.

    The impulse response of five cascaded boxcars is the Irwin-Hall density of n = 5 over the window, so the
    share is its CDF at 5 * fraction: F(x) = sum_k (-1)^k C(5, k) (x - k)^5 / 5!, k = 0 .. floor(x).
    """
    x = 5.0 * min(1.0, max(0.0, fraction))
    return sum((-1) ** k * math.comb(5, k) * (x - k) ** 5 for k in range(int(x) + 1)) / 120.0


class EmulatedADS1256:
    """One ADS1256 with four bridges on its inputs (see the module docstring)."""

    def __init__(self, bridges_v=None, *, vref_v: float = 2.5, chip_id: int = CHIP_ID, noise_counts: float = 0.0,
                 ioctl_ns: int = 30_000, wake_ns: int = 50_000, seed: int = 0, start_ns: int = 1_000_000_000):
        self.bridges_v = bridges_v or (lambda t_s: np.zeros(4))
        self.vref_v = float(vref_v)
        self.chip_id = int(chip_id) & 0xF
        self.noise_counts = float(noise_counts)
        self.ioctl_ns = int(ioctl_ns)
        self.wake_ns = int(wake_ns)
        self._rng = np.random.default_rng(seed)
        self.start_ns = int(start_ns)
        self._now = float(start_ns)
        self.log = []            # (t_ns, command name, argument bytes): what the host sent
        self.violations = []     # (t_ns, rule broken)
        self.conversions_read = []   # (t_center_ns, mux, code): every conversion RDATA returned
        self._miso_stuck = None
        self._drdy_dead = []     # (from_ns, until_ns) windows where DRDY never falls
        self._ignore_sync = False
        self._powered = True
        self._data_code, self._data_center = 0, 0.0
        self._reset_registers()
        self._restart(self._now)

    # -------------------------------------------------------------- faults
    def no_chip(self, miso: int = 0xFF):
        """No ADS1256 on the bus: MISO reads ``miso`` (0xFF through a pull-up, 0x00 floating low), DRDY stays high."""
        self._miso_stuck = int(miso) & 0xFF
        self._drdy_dead.append((0.0, math.inf))

    def drdy_stops(self, at_s: float, until_s: float | None = None):
        """DRDY never falls from ``at_s`` (emulator seconds) to ``until_s`` (None: for ever)."""
        end = math.inf if until_s is None else self.start_ns + until_s * 1e9
        self._drdy_dead.append((self.start_ns + at_s * 1e9, end))

    def ignore_sync(self):
        """SYNC and WAKEUP have no effect: the chip converts on, so a MUX change is not settled at once."""
        self._ignore_sync = True

    # -------------------------------------------------------------- line interface
    def now_ns(self) -> int:
        return int(self._now)

    def sleep_until_ns(self, t_ns: int) -> None:
        if t_ns > self._now:
            self._now = float(t_ns)

    def set_pdwn(self, level: int) -> None:
        """SYNC/PDWN pin: low powers the chip down (DRDY high); high powers it up and restarts conversions."""
        if level and not self._powered:
            self._restart(self._now)
        if not level:
            self._latch(self._now)
            self._running = False
        self._powered = bool(level)

    def read_drdy(self) -> int:
        """The DRDY pin: 0 when a completed conversion waits to be read."""
        return 0 if self._drdy_low(self._now) else 1

    def wait_drdy(self, until_ns: int) -> bool:
        """Sleep until DRDY is low (True, after ``wake_ns`` like an edge event) or the clock reaches ``until_ns``."""
        if self._drdy_low(self._now):
            return True
        t = self._next_drdy_fall(self._now)
        if t is not None and t + self.wake_ns <= until_ns:
            self._now = t + self.wake_ns
            return True
        self._now = max(self._now, float(until_ns))
        return False

    # -------------------------------------------------------------- SPI
    def transfer(self, segments, speed_hz: int) -> bytes:
        """Clock one message (CS low throughout): segments of (tx bytes, delay after in us). Returns MISO."""
        if speed_hz > CLKIN_HZ / 4:
            self.violations.append((self.now_ns(), f"SCLK {speed_hz} Hz above fCLKIN/4"))
        byte_ns = 8e9 / speed_hz
        self._now += self.ioctl_ns
        self._state = "cmd"              # CS fell: a new command
        out = bytearray()
        for tx, delay_us in segments:
            for b in tx:
                out.append(self._byte(b, byte_ns))
            self._now += delay_us * 1000
        self._state = "cmd"              # CS rose
        if self._miso_stuck is not None:
            return bytes([self._miso_stuck]) * len(out)
        return bytes(out)

    # -------------------------------------------------------------- the chip
    def _reset_registers(self):
        self.regs = list(RESET_REGS)
        self.regs[REG_STATUS] = (self.chip_id << 4) | 0x01
        self._mux_prev = self.regs[REG_MUX]
        self._mux_changed = -math.inf

    def _restart(self, t):
        """The digital filter restarts at ``t``: the first (settled) conversion completes t18 later."""
        self._running = True
        self._conv_start = t
        self._rate_hz = DRATE_RATES_HZ.get(self.regs[REG_DRATE], 30000.0)
        self._t18 = settling_ns(self._rate_hz)
        self._period = 1e9 / self._rate_hz
        self._first_done = t + self._t18
        self._latched_k = -1        # index (this run) of the conversion in the data register
        self._read_k = -1           # index of the last conversion read out

    def _completed(self, t) -> int:
        """Index of the last conversion completed by ``t`` in this run, -1 if none."""
        if not self._running or t < self._first_done:
            return -1
        return int((t - self._first_done) // self._period)

    def _dead(self, t) -> bool:
        return any(a <= t < b for a, b in self._drdy_dead)

    def _drdy_low(self, t) -> bool:
        return self._powered and not self._dead(t) and self._completed(t) > self._read_k

    def _next_drdy_fall(self, t):
        if not self._powered or not self._running:
            return None
        k = max(self._completed(t), self._read_k) + 1
        fall = self._first_done + k * self._period
        for a, b in sorted(self._drdy_dead):
            if a <= fall < b:
                if math.isinf(b):
                    return None
                k = int(math.ceil((b - self._first_done) / self._period))
                fall = self._first_done + k * self._period
        return fall

    def _code(self, t_done) -> int:
        t_mid = t_done - self._t18 / 2
        v = self._input_v(self.regs[REG_MUX], t_mid)
        since = t_done - self._mux_changed
        if since < self._t18:               # not settled on the new input: a mix (see the docstring)
            w = sinc5_weight_after(max(0.0, since / self._t18))
            v = w * v + (1 - w) * self._input_v(self._mux_prev, t_mid)
        gain = 1 << min(self.regs[REG_ADCON] & 0x07, 6)
        code = v * gain * FULL_SCALE / (2 * self.vref_v)
        if self.noise_counts:
            code += self.noise_counts * self._rng.standard_normal()
        return int(min(FULL_SCALE, max(-FULL_SCALE - 1, round(code))))

    def _input_v(self, mux, t_ns) -> float:
        bridges = np.asarray(self.bridges_v((t_ns - self.start_ns) / 1e9), dtype=np.float64)
        pins = np.full(9, self.vref_v)          # AIN0-7 and AINCOM at the common mode
        pins[0:8:2] += bridges / 2
        pins[1:8:2] -= bridges / 2
        p, n = mux >> 4, mux & 0x0F
        return float(pins[min(p, 8)] - pins[min(n, 8)])

    def _latch(self, t):
        """Move the newest completed conversion into the data register."""
        k = self._completed(t)
        if k > self._latched_k:
            t_done = self._first_done + k * self._period
            self._data_code = self._code(t_done)
            self._data_center = t_done - self._t18 / 2
            self._latched_k = k

    def _byte(self, b: int, byte_ns: float) -> int:
        """One byte: MOSI ``b`` in, the MISO byte out; the clock moves on by one byte."""
        start = self._now
        self._latch(start)
        if self._state in ("rdata", "rreg") and self._out_index == 0 and start - self._cmd_end < T6_NS - 1:
            self.violations.append((int(start), f"t6: {start - self._cmd_end:.0f} ns before data"))
        if self._state == "cmd" and start - getattr(self, "_cmd_end", -math.inf) < self._t11 - 1:
            self.violations.append((int(start), f"t11: {start - self._cmd_end:.0f} ns between commands"))
        self._now += byte_ns
        miso = 0
        if self._state == "rdata":
            word = self._data_code & 0xFFFFFF
            miso = (word >> (16 - 8 * self._out_index)) & 0xFF
            self._out_index += 1
            if self._out_index == 3:
                self._read_k = self._latched_k       # DRDY goes high once 24 bits are out
                self.conversions_read.append((self._data_center, self.regs[REG_MUX], self._data_code))
                self._end_command(T11_SHORT_NS)
        elif self._state == "rreg":
            miso = self._status() if self._reg == REG_STATUS else self.regs[self._reg]
            self._reg = (self._reg + 1) % len(self.regs)
            self._out_index += 1
            if self._out_index == self._count:
                self._end_command(T11_SHORT_NS)
        elif self._state == "rreg_n":
            self._count = (b & 0x0F) + 1
            self._out_index = 0
            self._state = "rreg"
            self._cmd_end = self._now
        elif self._state == "wreg_n":
            self._count = (b & 0x0F) + 1
            self._state = "wreg"
        elif self._state == "wreg":
            self._write(self._reg, b)
            self.log.append((int(start), "WREG", (self._reg, b)))
            self._reg = (self._reg + 1) % len(self.regs)
            self._count -= 1
            if self._count == 0:
                self._end_command(T11_SHORT_NS)
        else:
            self._command(b)
        return miso

    _state = "cmd"
    _t11 = 0.0

    def _end_command(self, t11):
        self._state = "cmd"
        self._cmd_end = self._now
        self._t11 = t11

    def _status(self) -> int:
        drdy_bit = 0 if self._drdy_low(self._now) else 1
        return (self.regs[REG_STATUS] & 0xFE) | drdy_bit

    def _write(self, reg: int, value: int):
        if reg == REG_STATUS:
            value = (self.chip_id << 4) | (value & 0x0E) | (self.regs[REG_STATUS] & 1)   # ID and DRDY are read-only
        if reg == REG_MUX and value != self.regs[REG_MUX]:
            self._latch(self._now)
            self._mux_prev = self.regs[REG_MUX]
            self._mux_changed = self._now
        self.regs[reg] = value & 0xFF
        if reg == REG_DRATE:
            self._restart(self._now)

    def _command(self, b: int):
        t = self._now
        hi = b & 0xF0
        if b in (WAKEUP, 0xFF):
            self.log.append((int(t), "WAKEUP", ()))
            if self._sync_pending and not self._ignore_sync:
                self._restart(t)
            self._sync_pending = False
            self._end_command(T11_SHORT_NS)
        elif b == RDATA:
            self.log.append((int(t), "RDATA", ()))
            self._state, self._out_index, self._cmd_end = "rdata", 0, t
        elif b in (RDATAC, SDATAC):
            self.log.append((int(t), "RDATAC" if b == RDATAC else "SDATAC", ()))
            self._end_command(T11_LONG_NS)
        elif hi == RREG:
            self.log.append((int(t), "RREG", (b & 0x0F,)))
            self._reg, self._state = b & 0x0F, "rreg_n"
        elif hi == WREG:
            self._reg, self._state = b & 0x0F, "wreg_n"
        elif b == SELFCAL:
            self.log.append((int(t), "SELFCAL", ()))
            self._latch(t)
            self._restart(t + SELFCAL_NS)
            self._end_command(T11_SHORT_NS)
        elif b == SYNC:
            self.log.append((int(t), "SYNC", ()))
            if not self._ignore_sync:
                self._latch(t)
                self._running = False
            self._sync_pending = True
            self._end_command(T11_LONG_NS)
        elif b == STANDBY:
            self.log.append((int(t), "STANDBY", ()))
            self._latch(t)
            self._running = False
            self._sync_pending = True
            self._end_command(T11_SHORT_NS)
        elif b == RESET:
            self.log.append((int(t), "RESET", ()))
            self._reset_registers()
            self._restart(t)
            self._end_command(T11_LONG_NS)
        else:
            self.log.append((int(t), f"unknown {b:#04x}", ()))
            self._end_command(T11_SHORT_NS)

    _sync_pending = False

    # -------------------------------------------------------------- helpers for tests
    def code_for(self, volts: float, gain: int) -> int:
        """The ideal output code of a differential input (Table 16), for tests."""
        return int(min(FULL_SCALE, max(-FULL_SCALE - 1, round(volts * gain * FULL_SCALE / (2 * self.vref_v)))))

    @property
    def gain(self) -> int:
        return PGA_GAINS[min(self.regs[REG_ADCON] & 0x07, 6)]

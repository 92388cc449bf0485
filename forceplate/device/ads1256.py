"""ADS1256Source: four load cells on one TI ADS1256 (24-bit delta-sigma ADC, SPI), for true loading rates.

The HX711 (the default backend) gives about 80 SPS through a filter that spans several output periods, so a
25-60 ms impact's rise is not resolved. The ADS1256 converts at up to 30 kSPS and settles in one
conversion, so its input multiplexer can be cycled over four differential inputs: each cell gets a settled
sample every four conversions. docs/ads1256.md gives the choice, the datasheet figures and the wiring.

One channel step, the datasheet's cycling sequence (SBAS288K, "Settling Time Using the Input Multiplexer",
Figure 19, Table 14), as ONE SPI message with chip select low throughout:

1. Wait until DRDY is low: the conversion of channel ``cur`` is complete.
2. WREG MUX = channel ``cur + 1``; SYNC; WAKEUP (the digital filter restarts on the new input); RDATA and
   24 bits of data, which are still channel ``cur``'s (the data register holds the last result until the
   new conversion completes). Delays between the bytes: t11 after WREG (4 CLKIN periods) and SYNC (24),
   t6 (50 CLKIN periods) between RDATA and the data.
3. The new conversion completes t18 after WAKEUP (Table 13: 0.21 ms at 30 kSPS) and is settled.

The settled-sample rule: a DRDY seen before ``settled_at`` (the end of the message that changed the MUX,
minus the part of it after WAKEUP, plus t18) cannot be a conversion begun after the MUX change (a glitch,
or a chip that ignored SYNC): it is not used; the sampler waits one more conversion period past
``settled_at`` (in continuous conversion the newest result is then younger than the MUX change) and counts
it in ``early_drdy``. A DRDY that never comes within ``timeout_ms`` makes the channel NOT_READY for that set
and the cycle goes on: never a hang. MISO stuck at one level (000000h or FFFFFFh from all four cells for
``stuck_sets`` sets in a row) makes the words STUCK.

Timestamps. ``adc = "ideal"``: each count is the force at one instant, the middle of the conversion's
settling window (assumption: the filter's weight is symmetric and its 0.21 ms window short next to an
impact's 10+ ms rise). The data read at time ``t0`` (the start of the next message) is the newest
conversion completed before it: completed at ``settled_at`` (first after the restart) or, if DRDY was
noticed late, within the last conversion period; its middle is taken as ``max(settled_at, t0 - period/2)
- t18/2``. A set is the four cells read one after another, about 4 x 0.25 ms apart; Frames has one time
per set, the MEAN of the four channel instants. The total force (the sum of the cells) is then exact
for a force changing linearly over the set (sum f(t_i) = 4 f(mean t_i)); only curvature within the
~0.75 ms spread is lost. ``channel_offsets_ns`` gives each cell's mean offset from the set time.

The sampler is pure Python over spidev ioctls (``spi.SpiDev``): per channel it makes one DRDY wait (the
compiled GPIO backend's, GIL released) and one ioctl (ctypes, GIL released); decoding and storing run
while the next conversion converts. docs/ads1256.md gives the measured loop cost and why that is enough.

Spec: ``ads1256?bus=0&device=0&drdy=25&pdwn=24&rate=30000&gain=64&speed_hz=1800000&buffer=1&timeout_ms=5``.
Calibration comes from the settings ``ads1256_offset_counts`` and ``ads1256_scale_n_per_count`` (forceplate.config).
"""
from __future__ import annotations

import threading
import time

import numpy as np

from ..exc import ConfigError, HardwareUnavailable
from . import sampling
from .frames import Frames
from .sources import RingSource, apply_configured_calibration
from .spi import SpiDev, segments_duration_ns

# Datasheet SBAS288K (ADS1255/ADS1256), fCLKIN = 7.68 MHz
CLKIN_HZ = 7_680_000
CHIP_ID = 3                    # STATUS bits 7-4 on an ADS1256 (factory-programmed; the value drivers check)
WAKEUP, RDATA, RDATAC, SDATAC = 0x00, 0x01, 0x03, 0x0F        # Table 24
RREG, WREG = 0x10, 0x50
SELFCAL, SYNC, STANDBY, RESET = 0xF0, 0xFC, 0xFD, 0xFE
REG_STATUS, REG_MUX, REG_ADCON, REG_DRATE = 0, 1, 2, 3        # Table 23
STATUS_BUFEN = 0x02
PGA_GAINS = (1, 2, 4, 8, 16, 32, 64)                          # ADCON bits 2-0
# DRATE register codes, settling time t18 (Table 13) and multiplexer cycling throughput 1/t19 (Table 14)
DRATE_CODES = {30000.0: 0xF0, 15000.0: 0xE0, 7500.0: 0xD0, 3750.0: 0xC0, 2000.0: 0xB0, 1000.0: 0xA1,
               500.0: 0x92, 100.0: 0x82, 60.0: 0x72, 50.0: 0x63, 30.0: 0x53, 25.0: 0x43, 15.0: 0x33,
               10.0: 0x23, 5.0: 0x13, 2.5: 0x03}
DRATE_RATES_HZ = {code: rate for rate, code in DRATE_CODES.items()}
SETTLING_MS = {30000.0: 0.21, 15000.0: 0.25, 7500.0: 0.31, 3750.0: 0.44, 2000.0: 0.68, 1000.0: 1.18,
               500.0: 2.18, 100.0: 10.18, 60.0: 16.84, 50.0: 20.18, 30.0: 33.51, 25.0: 40.18, 15.0: 66.84,
               10.0: 100.18, 5.0: 200.18, 2.5: 400.18}
CYCLING_HZ = {30000.0: 4374.0, 15000.0: 3817.0, 7500.0: 3043.0, 3750.0: 2165.0, 2000.0: 1438.0,
              1000.0: 837.0, 500.0: 456.0, 100.0: 98.0, 60.0: 59.0, 50.0: 50.0, 30.0: 30.0, 25.0: 25.0,
              15.0: 15.0, 10.0: 10.0, 5.0: 5.0, 2.5: 2.5}
T6_US = 7                      # 50 CLKIN periods = 6.5 us, rounded up to whole microseconds (spidev delays)
T11_SHORT_US = 1               # 4 CLKIN periods (0.52 us) after WREG, RREG, RDATA
T11_LONG_US = 4                # 24 CLKIN periods (3.1 us) after SYNC, RESET

CELL_MUXES = (0x01, 0x23, 0x45, 0x67)   # cell k on AIN(2k)+ / AIN(2k+1)-
DEFAULT_DRDY = 25              # physical pin 22; 17 (the Waveshare board's DRDY) is the panel button's
DEFAULT_PDWN = 24              # physical pin 18
DEFAULT_SPEED_HZ = 1_800_000   # SCLK at most fCLKIN/4 = 1.92 MHz; margin for a core clock that drifts up
RING_CAPACITY = 65536          # sets: about a minute at 1 kHz, so a slow reader loses nothing
UNCALIBRATED_SCALE_N_PER_COUNT = 4.6e-4    # 50 kg, 2 mV/V cell at 5 V excitation, PGA 64, VREF 2.5 V
WORD_NOT_READY = 0xFFFFFFFF
_STUCK = 32                    # flags.STUCK


def settling_ns(rate_hz: float) -> int:
    """t18 (Table 13) in ns for a data rate in SPS."""
    return int(round(SETTLING_MS[float(rate_hz)] * 1e6))


def channel_message(mux: int):
    """The cycling step's segments: select ``mux``, restart the filter, read the previous result."""
    return (((WREG | REG_MUX, 0x00, mux), T11_SHORT_US), ((SYNC,), T11_LONG_US), ((WAKEUP,), T11_SHORT_US),
            ((RDATA,), T6_US), ((0, 0, 0), 0))


class Sampler:
    """The cycling loop over ``muxes`` (see the module docstring). Times in ns.

    ``spi``: ``prepare(segments)`` / ``transfer(message)``; ``lines``: ``wait_drdy(until_ns)``,
    ``now_ns()``, ``sleep_until_ns(t_ns)``. ``run()`` pushes one set per cycle into a SampleRing.
    """

    def __init__(self, spi, lines, *, rate_sps: float = 30000.0, muxes=CELL_MUXES, timeout_ms: float = 5.0,
                 stuck_sets: int = 8):
        self.spi, self.lines = spi, lines
        self.channels = len(muxes)
        self.t18_ns = settling_ns(rate_sps)
        self.period_ns = int(round(1e9 / float(rate_sps)))
        self.timeout_ns = int(round(float(timeout_ms) * 1e6))
        self.stuck_sets = max(2, int(stuck_sets))
        segments = [channel_message(m) for m in muxes]
        self._messages = [spi.prepare(s) for s in segments]
        # from the end of WAKEUP to the end of the message: its delay, RDATA, t6, the data
        self.post_wakeup_ns = segments_duration_ns(((b"", T11_SHORT_US),) + segments[0][3:], spi.speed_hz)
        self._stop = False
        self.sets = 0
        self.samples = 0
        self.timeouts = 0
        self.early_drdy = 0
        self.stuck_words = 0
        self.first_set_ns = 0
        self.last_set_ns = 0
        self.offset_sum_ns = np.zeros(self.channels)

    def stop(self):
        self._stop = True

    @property
    def rate_hz(self) -> float | None:
        """Sets per second measured from the timestamps, None before two sets."""
        if self.sets < 2 or self.last_set_ns <= self.first_set_ns:
            return None
        return (self.sets - 1) * 1e9 / (self.last_set_ns - self.first_set_ns)

    def _wait_settled(self, settled_at: int) -> bool:
        lines = self.lines
        if not lines.wait_drdy(settled_at + self.timeout_ns):
            return False
        if lines.now_ns() >= settled_at:
            return True
        self.early_drdy += 1     # not a conversion begun after the MUX change: let a newer one complete
        lines.sleep_until_ns(settled_at + self.period_ns)
        return lines.wait_drdy(settled_at + self.timeout_ns)

    def run(self, ring, until_ns: int = 0, max_sets: int = 0) -> int:
        """Sample into ``ring`` until ``stop()``, ``until_ns`` (if > 0) or ``max_sets`` sets (if > 0)."""
        self._stop = False
        lines, spi, messages = self.lines, self.spi, self._messages
        n, t18, half_period = self.channels, self.t18_ns, self.period_ns // 2
        words, extra, t_ch = [0] * n, [0] * n, [0] * n
        same_sets = 0
        produced = 0
        spi.transfer(messages[0])                       # select channel 0 and restart; its read is stale
        settled_at = lines.now_ns() - self.post_wakeup_ns + t18
        cur = 0
        while not self._stop:
            if (until_ns and lines.now_ns() >= until_ns) or (max_sets and produced >= max_sets):
                break
            ready = self._wait_settled(settled_at)
            nxt = cur + 1 if cur + 1 < n else 0
            t0 = lines.now_ns()
            rx = spi.transfer(messages[nxt])
            t1 = lines.now_ns()
            if ready:
                words[cur] = (rx[-3] << 16) | (rx[-2] << 8) | rx[-1]
                t_ch[cur] = max(settled_at, t0 - half_period) - t18 // 2
                self.samples += 1
            else:
                words[cur] = WORD_NOT_READY
                t_ch[cur] = settled_at - t18 // 2
                self.timeouts += 1
            settled_at = t1 - self.post_wakeup_ns + t18
            if nxt == 0:                                 # a whole set: all cells, one after another
                # MISO stuck at one level reads 000000h or FFFFFFh from every cell, set after set; four
                # bridges with noise never agree to the count for long
                if words[0] in (0, 0xFFFFFF) and words.count(words[0]) == n:
                    same_sets += 1
                else:
                    same_sets = 0
                flag = _STUCK if same_sets >= self.stuck_sets else 0
                if flag:
                    self.stuck_words += n
                for ch in range(n):
                    extra[ch] = flag
                t_set = sum(t_ch) // n
                ring.push_block(np.array([t_set], dtype=np.int64), np.array([words], dtype=np.uint32),
                                np.array([extra], dtype=np.uint8))
                for ch in range(n):
                    self.offset_sum_ns[ch] += t_ch[ch] - t_set
                if self.sets == 0:
                    self.first_set_ns = t_set
                self.last_set_ns = t_set
                self.sets += 1
                produced += 1
            cur = nxt
        return produced


class GpioDrdyLines:
    """DRDY (input, falling-edge events) and SYNC/PDWN (output) through the compiled GPIO backend.

    It reuses the HX711's line request (``_gpio.UapiLines``): its one output line is PDWN here, its one
    input DRDY; ``wait_ready`` sleeps in ppoll() until DRDY falls, with the GIL released.
    """

    def __init__(self, drdy: int, pdwn: int):
        from . import gpio
        chip = gpio.find_chip()                                   # HardwareUnavailable
        if gpio.compiled_kernel is None:
            raise HardwareUnavailable("the compiled GPIO backend (forceplate.device._gpio) is not built")
        try:
            self._lines = gpio.compiled_kernel.UapiLines(chip.path, pdwn, (drdy,), "forceplate-ads1256", True)
        except OSError as exc:
            raise HardwareUnavailable(str(exc)) from None
        self.poll_ns = 20_000

    def wait_drdy(self, until_ns: int) -> bool:
        return not self._lines.wait_ready(1, until_ns, self.poll_ns) & 1

    def read_drdy(self) -> int:
        return self._lines.read_dout() & 1

    def set_pdwn(self, level: int) -> None:
        self._lines.set_sck(level)

    def now_ns(self) -> int:
        return self._lines.now_ns()

    def sleep_until_ns(self, t_ns: int) -> None:
        self._lines.sleep_until_ns(t_ns)

    def close(self) -> None:
        self._lines.close()


class ADS1256Source(RingSource):
    """Four load cells as four differential inputs of one ADS1256, cycled through its multiplexer.

    Parameters
    ----------
    bus, device : int
        ``/dev/spidev<bus>.<device>`` (SPI0, CE0 by default).
    drdy, pdwn : int
        BCM lines of DRDY (input) and SYNC/PDWN (output, held high while sampling).
    rate : float
        The chip's data rate in SPS (a DRATE setting, Table 13); 30000 (the default) is the fastest cycling.
    gain : int
        PGA gain 1-64; 64 suits a 2 mV/V bridge at 5 V excitation (10 mV of 78 mV full scale at VREF 2.5 V).
    speed_hz : int
        SCLK, at most fCLKIN/4 = 1.92 MHz.
    buffer : bool
        The input buffer (STATUS BUFEN): without it the input impedance at PGA 64 is 4.7 kOhm, which loads a
        350 Ohm bridge; with it the inputs must stay within AGND..AVDD-2 V (a 5 V bridge sits at 2.5 V).
    timeout_ms : float
        How long to wait for DRDY before a cell is NOT_READY for that set.
    spi, lines : backends, optional
        Instead of spidev and the GPIO chip: ``spi.EmulatedSpi`` and the emulator (tests). Then the source
        is simulated, and ``run_for_s`` (emulator seconds) ends the run.
    """

    OPTION_TYPES = {"bus": int, "device": int, "drdy": int, "pdwn": int, "rate": float, "gain": int,
                    "speed_hz": int, "buffer": int, "timeout_ms": float}

    def __init__(self, *, bus: int = 0, device: int = 0, drdy: int = DEFAULT_DRDY, pdwn: int = DEFAULT_PDWN,
                 rate: float = 30000.0, gain: int = 64, speed_hz: int = DEFAULT_SPEED_HZ, buffer: bool = True,
                 timeout_ms: float = 5.0, spi=None, lines=None, run_for_s: float | None = None,
                 offset_counts=None, scale_n_per_count=None):
        rate = float(rate)
        if rate not in DRATE_CODES:
            raise ConfigError(f"rate {rate:g}: the ADS1256 data rates are {', '.join(f'{r:g}' for r in DRATE_CODES)}")
        if gain not in PGA_GAINS:
            raise ConfigError(f"gain {gain}: the ADS1256 PGA is 1, 2, 4, 8, 16, 32 or 64")
        if not 0 < int(speed_hz) <= CLKIN_HZ // 4:
            raise ConfigError(f"speed_hz {speed_hz}: SCLK must be at most fCLKIN/4 = {CLKIN_HZ // 4} Hz")
        if not float(timeout_ms) > 0:
            raise ConfigError("timeout_ms must be positive")
        self.is_simulated = spi is not None
        self.name = "ads1256:emulated" if self.is_simulated else "ads1256"
        self.adc = "ideal"
        self.channels = len(CELL_MUXES)
        self.data_rate_sps, self.gain, self.buffer = rate, int(gain), bool(buffer)
        self._spi = spi if spi is not None else SpiDev(bus, device, speed_hz=int(speed_hz))   # HardwareUnavailable
        try:
            self._lines = lines if lines is not None else GpioDrdyLines(drdy, pdwn)
            self.status = self._configure()
        except BaseException:
            self._spi.close()
            if lines is None and hasattr(self, "_lines"):
                self._lines.close()
            raise
        self.pins = {"drdy": drdy, "pdwn": pdwn, "spi": self._spi.path}
        self.rate_hz = CYCLING_HZ[rate] / self.channels      # the datasheet's figure until measured
        self.warning = None
        apply_configured_calibration(self, offset_counts, scale_n_per_count, kind="ads1256",
                                     uncalibrated_scale_n_per_count=UNCALIBRATED_SCALE_N_PER_COUNT)
        self._ring = sampling.SampleRing(self.channels, RING_CAPACITY)
        self.sampler = Sampler(self._spi, self._lines, rate_sps=rate, timeout_ms=timeout_ms)
        self._until_ns = 0 if run_for_s is None else self._lines.now_ns() + int(run_for_s * 1e9)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ads1256-sampler", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 1.0          # measure the real rate before anyone sizes a buffer on it
        while self.sampler.sets < 64 and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if self.sampler.rate_hz:
            self.rate_hz = self.sampler.rate_hz

    # -- setup
    def _command(self, segments) -> bytes:
        return self._spi.transfer(self._spi.prepare(segments))

    def _wait_ready(self, timeout_s: float, what: str) -> None:
        if not self._lines.wait_drdy(self._lines.now_ns() + int(timeout_s * 1e9)):
            raise HardwareUnavailable(f"no ADS1256 answered: DRDY never fell within {timeout_s:g} s {what} "
                                      "(no chip, no power, or DRDY/PDWN on other lines than configured)")

    def _configure(self) -> int:
        """Power up, reset, check the ID, write and verify the registers, self-calibrate. Returns STATUS."""
        lines = self._lines
        lines.set_pdwn(1)
        lines.sleep_until_ns(lines.now_ns() + 30_000_000)      # oscillator start-up (assumption: 30 ms is ample)
        self._command((((RESET,), T11_LONG_US),))
        self._wait_ready(0.5, "after RESET")
        status = self._command((((RREG | REG_STATUS, 0x00), T6_US), ((0,), 0)))[-1]
        if status >> 4 != CHIP_ID:
            stuck = " (MISO reads one level: nothing drives it)" if status in (0x00, 0xFF) else ""
            raise HardwareUnavailable(f"the chip on {self._spi.path} reads STATUS {status:#04x}, ID {status >> 4}; "
                                      f"an ADS1256 reads ID {CHIP_ID}{stuck}")
        wanted = ((STATUS_BUFEN if self.buffer else 0), CELL_MUXES[0], PGA_GAINS.index(self.gain),
                  DRATE_CODES[self.data_rate_sps])
        # STATUS: MSB first, no auto-calibration; ADCON: CLKOUT off (recommended when unused), sensor detect off
        self._command((((WREG | REG_STATUS, 0x03) + wanted, T11_SHORT_US),))
        back = self._command((((RREG | REG_STATUS, 0x03), T6_US), ((0, 0, 0, 0), 0)))[-4:]
        if (back[0] & 0x0E, *back[1:]) != wanted:
            raise HardwareUnavailable(f"ADS1256 registers did not take: wrote {bytes(wanted).hex()}, "
                                      f"read back {bytes(back).hex()} (a bad SPI connection?)")
        self._command((((SELFCAL,), T11_SHORT_US),))
        self._wait_ready(1.0, "after self-calibration")
        return status


    def _run(self) -> None:
        try:
            self.sampler.run(self._ring, until_ns=self._until_ns)
        except BaseException as exc:        # reported by read(); a sampler thread must not die silently
            self._error = exc

    # -- LoadCellSource (read, ticks_ns and dropped: RingSource)
    FAILED = "the ADS1256 sampler failed"

    @property
    def is_finished(self) -> bool:
        return not self._thread.is_alive() and self._ring.available == 0

    @property
    def channel_offsets_ns(self) -> np.ndarray:
        """Each cell's mean sample instant relative to its set's time stamp (ns): the skew within a set."""
        return self.sampler.offset_sum_ns / max(1, self.sampler.sets)

    def stats(self) -> dict:
        s = self.sampler
        return {"sets": s.sets, "samples": s.samples, "timeouts": s.timeouts, "early_drdy": s.early_drdy,
                "stuck_words": s.stuck_words, "rate_hz": s.rate_hz, "dropped": self.dropped}

    def close(self) -> None:
        self.sampler.stop()
        self._thread.join(timeout=2.0)
        if not self._thread.is_alive():
            self._spi.close()
            if hasattr(self._lines, "close"):
                self._lines.close()

    def describe(self) -> str:
        return (f"{super().describe()}, ADS1256 at {self.data_rate_sps:g} SPS cycling 4 inputs, PGA {self.gain}, "
                f"{self.pins['spi']}, DRDY GPIO {self.pins['drdy']}, PDWN GPIO {self.pins['pdwn']}")


def from_options(**options) -> ADS1256Source:
    """An ADS1256Source from spec options (``ads1256?bus=0&device=0&drdy=25&rate=30000&gain=64``)."""
    if "buffer" in options:
        options["buffer"] = bool(options["buffer"])
    return ADS1256Source(**options)

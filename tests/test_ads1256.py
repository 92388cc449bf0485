"""The ADS1256 backend on its register-level emulator: setup, counts, rate, the settled-sample rule, faults,
and an impact measured end to end.

Everything runs on the emulator's virtual clock (each SPI byte, delay, ioctl and DRDY wake-up costs its
time; nothing sleeps). Expected values come from the datasheet (SBAS288K) and the physics of the input,
never from the backend's output.
"""
import glob
import math

import numpy as np
import pytest

from forceplate.device import flags, sampling, sources
from forceplate.device.ads1256 import (ADS1256Source, CYCLING_HZ, DRATE_CODES, SETTLING_MS, Sampler,
                                       settling_ns)
from forceplate.device.sim.ads1256_emulator import EmulatedADS1256
from forceplate.device.spi import EmulatedSpi, SpiDev
from forceplate.exc import ConfigError, HardwareUnavailable
from forceplate.signal.events import analyze_force

VREF_V = 2.5
FULL_SCALE = 2**23 - 1


def lsb_v(gain):
    """Table 16: one code is 2 VREF / (PGA (2^23 - 1)) volts."""
    return 2 * VREF_V / (gain * FULL_SCALE)


def open_emulated(bridges_v=None, *, run_for_s=1.0, chip_options=None, **source_options):
    chip = EmulatedADS1256(bridges_v, vref_v=VREF_V, **(chip_options or {}))
    source = ADS1256Source(spi=EmulatedSpi(chip, speed_hz=source_options.pop("speed_hz", 1_800_000)), lines=chip,
                           run_for_s=run_for_s, offset_counts=np.zeros(4), scale_n_per_count=np.ones(4),
                           **source_options)
    source._thread.join(timeout=60)
    frames = source.read(1 << 20)
    return source, chip, frames


def test_datasheet_tables():
    assert DRATE_CODES[30000.0] == 0xF0 and DRATE_CODES[1000.0] == 0xA1 and DRATE_CODES[2.5] == 0x03
    assert SETTLING_MS[30000.0] == 0.21 and settling_ns(7500) == 310_000
    assert CYCLING_HZ[30000.0] / 4 == pytest.approx(1093.5)


def test_setup_sends_the_datasheet_sequence_and_keeps_its_timing():
    source, chip, _ = open_emulated(run_for_s=0.01, gain=64, rate=30000)
    names = [name for _, name, _ in chip.log]
    assert names[:3] == ["RESET", "RREG", "WREG"]
    writes = {arg[0]: arg[1] for _, name, arg in chip.log[:8] if name == "WREG"}
    assert writes == {0: 0x02, 1: 0x01, 2: 0x06, 3: 0xF0}    # BUFEN; AIN0/AIN1; CLKOUT off, PGA 64; 30 kSPS
    assert names[6:8] == ["RREG", "SELFCAL"]                    # read back, then self-calibrate
    cycle = names[8:]
    assert cycle[:8] == ["WREG", "SYNC", "WAKEUP", "RDATA"] * 2
    muxes = [arg[1] for _, name, arg in chip.log[8:] if name == "WREG"]
    assert muxes[:5] == [0x01, 0x23, 0x45, 0x67, 0x01]        # cell k on AIN(2k) - AIN(2k+1), in turn
    assert chip.violations == []                                # SCLK <= fCLKIN/4, t6, t11 all kept


def test_options_reach_the_registers():
    source, chip, _ = open_emulated(run_for_s=0.01, gain=8, rate=7500, buffer=False)
    assert chip.regs[2] & 0x07 == 3 and chip.gain == 8
    assert chip.regs[3] == 0xD0 and chip.regs[0] & 0x02 == 0


@pytest.mark.parametrize("spec, message", [("ads1256?rate=29000", "data rates"), ("ads1256?gain=128", "PGA"),
                                           ("ads1256?speed_hz=4000000", "fCLKIN/4"), ("ads1256?drdy=x", "int")])
def test_bad_spec_is_a_config_error(spec, message):
    with pytest.raises(ConfigError, match=message):
        sources.source_from_spec(spec)


@pytest.mark.parametrize("gain", [64, 1])
@pytest.mark.parametrize("codes", [(1, -1, 0, 123_456), (8_388_606, -8_388_607, 100, -100),
                                   (-4_000_000, 4_000_000, 7, -7)])
def test_counts_equal_the_input(codes, gain):
    volts = np.array(codes) * lsb_v(gain)
    _, _, frames = open_emulated(lambda t_s: volts, run_for_s=0.05, gain=gain)
    assert frames.n_sets > 10
    np.testing.assert_array_equal(frames.raw_counts, np.tile(codes, (frames.n_sets, 1)))
    assert not frames.flags.any()


def test_full_scale_saturates_and_is_flagged():
    fs_v = 2 * VREF_V / 64                       # Table 16: +-2 VREF / PGA is full scale
    volts = np.array([fs_v * 1.01, -fs_v * 1.01, fs_v * 0.5, 0.0])
    _, _, frames = open_emulated(lambda t_s: volts, run_for_s=0.05, gain=64)
    assert (frames.raw_counts[:, 0] == FULL_SCALE).all() and (frames.flags[:, 0] == flags.SATURATED_HI).all()
    assert (frames.raw_counts[:, 1] == -FULL_SCALE - 1).all() and (frames.flags[:, 1] == flags.SATURATED_LO).all()
    assert (frames.raw_counts[:, 2] == round(FULL_SCALE / 2)).all() and not frames.flags[:, 2:].any()


def test_rate_per_cell_meets_the_claim():
    """With a Pi's latencies (30 us per spidev ioctl, 50 us per DRDY wake-up) each cell gets >= 750 SPS."""
    source, chip, frames = open_emulated(run_for_s=2.0)
    rate_hz = (frames.n_sets - 1) / ((frames.t_ns[-1] - frames.t_ns[0]) / 1e9)
    assert 750.0 <= rate_hz <= CYCLING_HZ[30000.0] / 4
    assert source.rate_hz == pytest.approx(rate_hz, rel=0.01)        # measured at open, from the timestamps
    assert np.ptp(np.diff(frames.t_ns)) < 1000                       # evenly spaced sets on a steady chip


def test_without_host_latency_the_cycle_matches_the_datasheet_table():
    """Table 14 (1/t19 = 4374 Hz at 30 kSPS, SCLK = fCLKIN/4) is the ceiling the emulator must reproduce."""
    _, _, frames = open_emulated(run_for_s=0.5, speed_hz=1_920_000, chip_options={"ioctl_ns": 0, "wake_ns": 0})
    rate_hz = (frames.n_sets - 1) / ((frames.t_ns[-1] - frames.t_ns[0]) / 1e9)
    assert rate_hz * 4 == pytest.approx(CYCLING_HZ[30000.0], rel=0.05)


def test_set_time_is_the_mean_of_the_cells_instants():
    source, _, frames = open_emulated(run_for_s=0.2)
    offsets_ns = source.channel_offsets_ns
    assert offsets_ns.sum() == pytest.approx(0.0, abs=4)                  # the set is stamped at their mean
    assert np.all(np.diff(offsets_ns) > 0.2e6)                            # cells read in turn, > t18 apart
    assert offsets_ns[-1] - offsets_ns[0] < 3 * 1e9 / source.rate_hz / 4 + 1


def test_a_mux_change_without_sync_is_not_settled_at_once():
    """The emulator's side of the rule: conversions right after a MUX write mix the old and new input."""
    chip = EmulatedADS1256(lambda t_s: np.array([0.0, 1e-3, 0.0, 0.0]), ioctl_ns=0, wake_ns=0)
    spi = EmulatedSpi(chip)
    chip.sleep_until_ns(chip.now_ns() + 1_000_000)                  # converting AIN0/AIN1 (0 V) for 1 ms
    read = (((0x01,), 7), ((0, 0, 0), 0))                            # RDATA, t6, 24 bits
    assert int.from_bytes(chip.transfer(read, spi.speed_hz)[-3:], "big", signed=True) == 0
    chip.transfer((((0x50 | 1, 0, 0x23), 1),), spi.speed_hz)        # MUX to cell 1 (1 mV), no SYNC
    assert chip.wait_drdy(chip.now_ns() + 10**6)                     # the next conversion, < t18 later
    code = int.from_bytes(chip.transfer(read, spi.speed_hz)[-3:], "big", signed=True)
    assert 0 <= code < 0.5 * chip.code_for(1e-3, 1)
    chip.sleep_until_ns(chip.now_ns() + settling_ns(30000))         # t18 on: settled
    assert int.from_bytes(chip.transfer(read, spi.speed_hz)[-3:], "big", signed=True) == chip.code_for(1e-3, 1)


def test_the_settled_sample_rule_skips_early_conversions():
    """A chip that ignores SYNC keeps converting: DRDY comes 33 us after the MUX change. Those conversions
    are not used (they hold mostly the previous cell); every count delivered is its own cell's settled
    input, to within the tail of the filter (< 1 %) that the broken SYNC lets the next cell add."""
    volts = np.array([1e-3, -2e-3, 3e-3, -4e-3])
    chip = EmulatedADS1256(lambda t_s: volts, vref_v=VREF_V)
    chip.ignore_sync()
    source = ADS1256Source(spi=EmulatedSpi(chip), lines=chip, run_for_s=0.2, offset_counts=np.zeros(4),
                           scale_n_per_count=np.ones(4))
    source._thread.join(timeout=60)
    frames = source.read(1 << 20)
    assert source.sampler.early_drdy > 100
    expected = np.tile([chip.code_for(v, 64) for v in volts], (frames.n_sets, 1))
    np.testing.assert_allclose(frames.raw_counts, expected, rtol=1e-2)


def test_no_spidev_is_hardware_unavailable(tmp_path):
    with pytest.raises(HardwareUnavailable, match="no /dev/spidev"):
        SpiDev(0, 0, pattern=str(tmp_path / "spidev*"))
    if not glob.glob("/dev/spidev*"):
        with pytest.raises(HardwareUnavailable, match="/dev/spidev"):
            sources.source_from_spec("ads1256?bus=0&device=0&drdy=17&rate=30000&gain=64")


def test_no_chip_is_hardware_unavailable_at_open():
    chip = EmulatedADS1256()
    chip.no_chip()
    with pytest.raises(HardwareUnavailable, match="DRDY never fell"):
        ADS1256Source(spi=EmulatedSpi(chip), lines=chip, run_for_s=0.1)


@pytest.mark.parametrize("chip_id, words", [(5, "ID 5"), (0xF, "MISO reads one level")])
def test_wrong_id_is_hardware_unavailable(chip_id, words):
    chip = EmulatedADS1256(chip_id=chip_id)
    if chip_id == 0xF:
        chip._miso_stuck = 0xFF                    # DRDY works, nothing drives MISO: STATUS reads 0xFF
    with pytest.raises(HardwareUnavailable, match=words):
        ADS1256Source(spi=EmulatedSpi(chip), lines=chip, run_for_s=0.1)


def test_drdy_stopping_mid_run_flags_not_ready_and_never_hangs():
    volts = np.array([1e-3, 1e-3, 1e-3, 1e-3])
    chip = EmulatedADS1256(lambda t_s: volts, vref_v=VREF_V)
    # scheduled on the chip's clock before the sampler thread starts: on a loaded machine the thread can run
    # ahead on the emulator's virtual clock before the test gets another turn
    chip.drdy_stops(at_s=1.0, until_s=2.0)
    source = ADS1256Source(spi=EmulatedSpi(chip), lines=chip, run_for_s=3.0, timeout_ms=5.0,
                           offset_counts=np.zeros(4), scale_n_per_count=np.ones(4))
    source._thread.join(timeout=60)
    assert not source._thread.is_alive()                     # the run ended on time: no hang
    frames = source.read(1 << 20)
    t_s = (frames.t_ns - chip.start_ns) / 1e9
    dead = (t_s > 1.01) & (t_s < 1.99)
    assert dead.sum() >= 1.0 / (4 * 0.005) * 0.9              # a set every 4 timeouts while the chip is silent
    assert (frames.flags[dead] == flags.NOT_READY).all() and (frames.raw_counts[dead] == 0).all()
    after = t_s > 2.01
    assert after.sum() > 500 and not frames.flags[after].any()
    assert source.sampler.timeouts >= dead.sum() * 4


def test_miso_stuck_mid_run_is_flagged_stuck():
    """MISO stuck high reads FFFFFFh (-1) from every cell: flagged from the 8th such set, never before."""
    chip = EmulatedADS1256(lambda t_s: np.full(4, 1e-3))
    sampler = Sampler(EmulatedSpi(chip), chip)
    ring = sampling.SampleRing(4, 4096)
    sampler.run(ring, max_sets=20)
    chip._miso_stuck = 0xFF
    sampler.run(ring, max_sets=20)
    frames = ring.pop()
    assert not frames.flags[:20].any()
    assert (frames.flags[20 + 8:] & flags.STUCK).all() and not (frames.flags[20:20 + 7] & flags.STUCK).any()


def half_sine_cells_v(*, body_weight_n, peak_bw, duration_s, t_onset_s, shares, volts_per_n):
    """Four cells' bridge voltages for a standing person and one half-sine impact on the plate."""
    def bridges_v(t_s):
        phase = (t_s - t_onset_s) / duration_s
        extra = math.sin(math.pi * phase) if 0 <= phase <= 1 else 0.0
        force_n = body_weight_n * (1 + (peak_bw - 1) * extra)
        return force_n * np.asarray(shares) * volts_per_n
    return bridges_v


@pytest.mark.parametrize("noise_counts", [0.0, 30.0])
def test_a_30_ms_impact_gives_the_true_peak_and_loading_rate(noise_counts):
    body_weight_n, peak_bw, duration_s = 700.0, 3.0, 0.030
    volts_per_n = 0.002 * 5.0 / 490.0            # 2 mV/V at 5 V excitation over a 50 kg (490 N) cell
    shares = (0.31, 0.22, 0.26, 0.21)            # the person stands off centre
    t_onset_s = 2.0 + 0.000_37                    # not on a sample boundary
    chip = EmulatedADS1256(half_sine_cells_v(body_weight_n=body_weight_n, peak_bw=peak_bw, duration_s=duration_s,
                                             t_onset_s=t_onset_s, shares=shares, volts_per_n=volts_per_n),
                           vref_v=VREF_V, noise_counts=noise_counts, seed=4)
    scale_n_per_count = lsb_v(64) / volts_per_n
    source = ADS1256Source(spi=EmulatedSpi(chip), lines=chip, run_for_s=3.5, offset_counts=np.zeros(4),
                           scale_n_per_count=np.full(4, scale_n_per_count))
    source._thread.join(timeout=60)
    frames = source.read(1 << 20)
    assert not frames.flags.any()
    force_n = frames.raw_counts * scale_n_per_count
    t_s = (frames.t_ns - chip.start_ns) / 1e9
    analysis = analyze_force(t_s, force_n, source.rate_hz, adc=source.adc)
    (impact,) = analysis.impacts
    assert impact.peak_n == pytest.approx(peak_bw * body_weight_n, rel=0.02)
    assert impact.t_peak_s == pytest.approx(t_onset_s + duration_s / 2, abs=0.002)
    if noise_counts == 0:
        # With any noise the trace crosses 1 BW before the impact begins (it stands AT 1 BW), so the analysis's
        # onset moves a sample or two early: that is the analysis's definition, not this backend (the same
        # happens to tests/signals.half_sine_impact at 788 Hz with 0.014 N of noise: 124 BW/s).
        truth_bw_s = (peak_bw - 1) / (duration_s / 2)          # from the 1 BW onset to the peak: 133 BW/s
        assert impact.loading_rate_bw_s == pytest.approx(truth_bw_s, rel=0.10)

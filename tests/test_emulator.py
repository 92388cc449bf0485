"""The pin-level HX711 emulator behaves as the datasheet says, in Python and in C alike."""
import numpy as np
import pytest

from forceplate.device import _gpio
from forceplate.device.sim.emulator import EmulatedChips, plate_words

KINDS = {"python": EmulatedChips, "compiled": _gpio.EmulatedLines}
PERIOD_NS = 12_500_000                  # 80 SPS
WORDS = np.array([[0x123456, 0xABCDEF], [0x654321, 0x000F00], [0x7FFFF0, 0x800010]], dtype=np.uint32)


@pytest.fixture(params=list(KINDS))
def chips(request):
    return KINDS[request.param](WORDS, rates_hz=[80.0], phases_s=[0.0], virtual=True, start_ns=0, edge_ns=500)


def clock_word(chips, pulses=25):
    """One read as a host does it: SCK high, read, SCK low; returns the words and DOUT after."""
    words = [0] * chips.channels
    after = None
    for p in range(pulses):
        chips.set_sck(1)
        bits = chips.read_dout()
        chips.set_sck(0)
        if p < 24:
            words = [(w << 1) | ((bits >> ch) & 1) for ch, w in enumerate(words)]
        elif p == 24:
            after = bits
    return words, after


def test_dout_goes_low_when_the_first_conversion_is_ready(chips):
    chips.sleep_until_ns(PERIOD_NS - 1_000)
    assert chips.read_dout() == 0b11                   # not ready: DOUT high
    chips.sleep_until_ns(PERIOD_NS)
    assert chips.read_dout() == 0b00                   # datasheet: DOUT low = data ready


def test_24_pulses_shift_the_word_out_msb_first_and_the_25th_drives_dout_high(chips):
    chips.sleep_until_ns(PERIOD_NS)
    words, after = clock_word(chips)
    assert words == [0x123456, 0xABCDEF]
    assert after == 0b11
    assert chips.reads == [1, 1]


def test_unread_words_are_overwritten_by_the_next_conversion(chips):
    chips.sleep_until_ns(2 * PERIOD_NS + 1)
    words, _ = clock_word(chips)
    assert words == [0x654321, 0x000F00]               # the newest conversion
    assert chips.overwritten == [1, 1]


def test_27_pulses_select_gain_64_for_the_next_conversion(chips):
    chips.sleep_until_ns(PERIOD_NS)
    clock_word(chips, pulses=27)
    chips.sleep_until_ns(2 * PERIOD_NS)
    words, _ = clock_word(chips)
    assert words == [0x654321 >> 1, 0x000F00 >> 1]     # half the gain: half the count


def test_sck_high_for_60_us_powers_down_and_the_chip_settles_after_reset(chips):
    chips.sleep_until_ns(PERIOD_NS)
    chips.set_sck(1)
    chips.sleep_until_ns(PERIOD_NS + 61_000)           # datasheet: > 60 us high enters power-down
    assert chips.read_dout() == 0b11
    t_up = chips.now_ns()
    chips.set_sck(0)                                   # reset, power up
    assert chips.power_downs == 1
    chips.sleep_until_ns(t_up + PERIOD_NS - 1)
    assert chips.read_dout() == 0b11                   # conversions restart one period after reset
    chips.sleep_until_ns(t_up + PERIOD_NS)
    words, _ = clock_word(chips)
    value = (0x654321 ^ 0x800000) - 0x800000           # conversion 1 (0 was lost in power-down)
    assert words[0] == (value * 1) >> 2                # the first settling word: a quarter


def test_unplugged_dout_floats_high_and_a_shorted_one_reads_low(chips):
    chips.unplug(0, at_s=0.0, until_s=0.020)
    chips.stick_low(1, at_s=0.030)
    chips.sleep_until_ns(PERIOD_NS)
    assert chips.read_dout() == 0b01                   # chip 0 ready but its wire is off
    chips.sleep_until_ns(31_000_000)
    words, after = clock_word(chips)
    assert words[1] == 0 and not after & 0b10          # a line stuck low reads zeros, never high


def test_slow_host_stall_keeps_sck_high(chips):
    chips.slow_host(at_s=0.0, delay_us=70)
    chips.sleep_until_ns(PERIOD_NS)
    t0 = chips.now_ns()
    chips.set_sck(1)
    assert chips.now_ns() - t0 >= 70_000
    chips.set_sck(0)
    assert chips.power_downs == 1 and chips.slow_host_stalls == 1


def test_wait_ready_wakes_at_the_ready_edge_not_before(chips):
    assert chips.wait_ready(0b11, 10 * PERIOD_NS) == 0b00
    assert chips.now_ns() == PERIOD_NS + 500           # slept to the edge, then one read (edge_ns 500)
    assert chips.sleeps == 1 and chips.dout_reads == 2  # no polling in between


def test_wait_ready_gives_up_at_until_with_the_lines_as_they_are(chips):
    chips.unplug(1, at_s=0.0)
    assert chips.wait_ready(0b11, 3 * PERIOD_NS) == 0b10
    assert chips.now_ns() == 3 * PERIOD_NS + 500
    assert chips.wait_ready(0b01, 4 * PERIOD_NS) == 0b10   # chip 0 alone is awaited: ready at once


def test_wait_ready_wakes_when_an_unplugged_line_comes_back(chips):
    chips.unplug(0, at_s=0.0, until_s=0.030)
    chips.sleep_until_ns(PERIOD_NS)
    assert chips.wait_ready(0b01, 10 * PERIOD_NS) == 0b00   # chip 0 was ready all along, under the fault
    assert chips.now_ns() == 30_000_000 + 500


def test_wait_ready_for_any_line_wakes_at_the_first_edge():
    chips = EmulatedChips(WORDS, rates_hz=[80.0], phases_s=[0.004, 0.0], virtual=True, start_ns=0,
                          edge_ns=500)
    assert chips.wait_ready(0, 10 * PERIOD_NS) == 0b01      # chip 1 (no phase) first
    assert chips.now_ns() == PERIOD_NS + 500


def test_python_and_c_emulators_agree_on_a_random_host():
    words, _ = plate_words(2.0, channels=4)
    rng = np.random.default_rng(5)
    a, b = (cls(words, virtual=True, start_ns=0) for cls in KINDS.values())
    for chips in (a, b):
        chips.noise(2, 0.3, 0.6)
        chips.slow_host(0.8, 65)
        chips.unplug(1, 0.2, 0.45)
        chips.stick_low(3, 1.1, 1.3)
    ops = zip(rng.integers(0, 4, 5000), rng.integers(0, 400_000, 5000), rng.integers(0, 16, 5000))
    for op, arg, need in ops:
        outs = []
        for chips in (a, b):
            if op == 0:
                outs.append(chips.set_sck(arg % 2))
            elif op == 1:
                outs.append(chips.read_dout())
            elif op == 2:
                chips.sleep_until_ns(chips.now_ns() + int(arg))
                outs.append(chips.now_ns())
            else:
                outs.append((chips.wait_ready(int(need), chips.now_ns() + 50 * int(arg)), chips.now_ns()))
        assert outs[0] == outs[1]
    for counter in ("conversions", "overwritten", "dropped", "reads", "power_downs", "dout_reads", "sleeps"):
        assert getattr(a, counter) == getattr(b, counter), counter


def test_plate_words_are_the_simulated_corner_forces():
    words, sim = plate_words(0.5, scenario="standing", channels=4)
    counts = (words.astype(np.int64) ^ 0x800000) - 0x800000
    force_n = (counts - sim.offset_counts) * sim.scale_n_per_count
    assert np.all(np.abs(force_n) < 5.0)               # the plate is empty for the first half second

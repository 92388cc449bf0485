"""The GPIO sampler: the compiled loop and its pure-Python twin, on emulated HX711 chips.

Most tests run the real loop on the pin-level emulator with a virtual clock: seconds of sampling take
milliseconds and nothing sleeps. The HX711Source tests run the sampler thread on emulated chips in real
time, for well under two seconds, on a machine fast enough to clock an HX711 as its datasheet asks (SCK high
under 50 us). A slower one (a CPU emulator: the arm64 and armhf runs under qemu-user) stretches the chips'
clock by the slowdown it measures here first (:func:`measured_slowdown`), and the same assertions must hold.
"""
import functools
import math
import os
import time

import numpy as np
import pytest

from forceplate.device import _gpio, _gpio_py, _hx711, _hx711_py, flags, gpio, sources
from forceplate.device.sim.emulator import EmulatedChips, plate_words
from forceplate.device import hx711
from forceplate.device.hx711 import HX711Source, RealtimeUnavailable
from forceplate.exc import HardwareUnavailable, SourceFallback

# (sampler module, emulator class, ring module): the compiled loop needs the C backend and ring
LOOPS = {"compiled": (_gpio, _gpio.EmulatedLines, _hx711), "twin": (_gpio_py, EmulatedChips, _hx711_py)}
WORDS, SIM = plate_words(12.0, scenario="standing", seed=2)
SIGNED = (WORDS.astype(np.int64) ^ 0x800000) - 0x800000


def sample(loop, seconds, *, faults=(), rates_hz=None, gain_pulses=25, **sampler_options):
    sampler_module, chips_class, ring_module = LOOPS[loop]
    chips = chips_class(WORDS, rates_hz=rates_hz, virtual=True)
    for name, *args in faults:
        getattr(chips, name)(*args)
    sampler = sampler_module.Sampler(4, gain_pulses=gain_pulses, **sampler_options)
    ring = ring_module.SampleRing(4, 8192)
    produced = sampler.run(chips, ring, until_ns=chips.start_ns + int(seconds * 1e9))
    frames = ring.pop()
    assert frames.n_sets == produced == sampler.sets
    return frames, sampler, chips


def seconds(frames, chips):
    return (frames.t_ns - chips.start_ns) / 1e9


LONG_PULSE_NS = 50_000          # datasheet: a word whose SCK-high pulse exceeds this may be corrupt
PULSE_HEADROOM = 10             # real-time pulses may take this many times the loop's CPU cost per pulse


@functools.lru_cache(maxsize=None)
def measured_slowdown() -> int:
    """How many times slower than real time the emulated chips must run here so that the sampler's SCK
    pulses keep PULSE_HEADROOM-fold headroom under the datasheet's 50 us: 1 on any native machine (an x86
    PC spends about 1 us of CPU per pulse, waits included), more under emulation. Measured by running the
    compiled loop on real-time chips for a quarter of a second in this thread: its CPU time per pulse is this
    machine's own cost of one pulse, loop, clock reads and emulated pins together.
    FORCEPLATE_TEST_SLOWDOWN=N imposes N instead (N=1 under emulation shows what the stretch is for)."""
    if os.environ.get("FORCEPLATE_TEST_SLOWDOWN"):
        return int(os.environ["FORCEPLATE_TEST_SLOWDOWN"])
    chips = _gpio.EmulatedLines(WORDS, virtual=False)
    sampler = _gpio.Sampler(4)
    ring = _hx711.SampleRing(4, 8192)
    started = _gpio.thread_cpu_ns()
    sampler.run(chips, ring, until_ns=chips.now_ns() + 250_000_000)
    pulse_ns = (_gpio.thread_cpu_ns() - started) / max(1, sampler.pulses)
    return max(1, math.ceil(pulse_ns * PULSE_HEADROOM / LONG_PULSE_NS))


def test_on_a_native_machine_the_chips_run_in_real_time():
    """The slowdown is for CPU emulators only: natively the real-time tests run unstretched (under qemu-user
    the chroot runs of scripts/arch-chroot.sh set FORCEPLATE_ARCH_CHROOT and may stretch)."""
    if os.environ.get("FORCEPLATE_ARCH_CHROOT"):
        pytest.skip(f"emulated {os.environ['FORCEPLATE_ARCH_CHROOT']}: measured slowdown {measured_slowdown()}")
    assert measured_slowdown() == 1


@pytest.mark.parametrize("loop", LOOPS)
def test_a_stretched_emulator_runs_the_chips_clock_slower_than_the_hosts(loop):
    chips = LOOPS[loop][1](WORDS, virtual=False, slowdown=4)
    host_start, chips_start = time.monotonic_ns(), chips.now_ns()
    chips.sleep_until_ns(chips_start + 50_000_000)      # 50 ms of the chips' time: 200 ms of the host's
    host_ns, chips_ns = time.monotonic_ns() - host_start, chips.now_ns() - chips_start
    assert host_ns >= 199_000_000
    assert chips_ns >= 50_000_000 and abs(chips_ns - host_ns / 4) < 1_000_000


def real_time_chips(chips_class=None, **options):
    """Emulated chips on the host's clock, stretched by this machine's measured slowdown."""
    return (chips_class or _gpio.EmulatedLines)(WORDS, virtual=False, slowdown=measured_slowdown(), **options)


FAULTS = [("unplug", 1, 1.0, 2.0), ("stick_low", 2, 3.0, 3.5), ("noise", 3, 4.0, 4.3),
          ("slow_host", 5.0, 80), ("slow_host", 6.0, 55)]


def test_compiled_loop_and_twin_agree_set_for_set():
    (fa, sa, ca), (fb, sb, cb) = (sample(loop, 8.0, faults=FAULTS) for loop in LOOPS)
    for a, b in zip(fa, fb):
        np.testing.assert_array_equal(a, b)
    for stat in ("sets", "sets_clean", "timeouts", "pulses", "pulses_long", "power_downs", "sck_high_max_ns",
                 "not_ready_words", "garbage_words", "stuck_words", "long_pulse_words", "period_est_ns"):
        assert getattr(sa, stat) == getattr(sb, stat), stat
    assert ca.conversions == cb.conversions and ca.reads == cb.reads
    assert ca.dout_reads == cb.dout_reads and ca.sleeps == cb.sleeps


@pytest.mark.parametrize("loop", LOOPS)
def test_healthy_chips_give_every_slot_of_the_slowest_chip_whole(loop):
    frames, sampler, chips = sample(loop, 10.0)
    slots = min(chips.conversions)                      # lock-step: the slowest chip sets the pace
    assert not frames.flags.any()
    assert frames.n_sets >= slots - 1                   # the last slot may still be in flight
    assert sampler.sck_high_max_ns < 50_000 and sampler.timeouts == 0
    # each word is one of that chip's conversions, whole: 24 bits in the right order
    for ch in range(4):
        assert np.isin(frames.raw_counts[:, ch], SIGNED[:, ch]).all()
    # and the newest one when the set was seen ready
    slow = int(np.argmax(chips.period_ns))
    k = (frames.t_ns - chips.start_ns - 0) // chips.period_ns[slow] - 1
    np.testing.assert_array_equal(frames.raw_counts[:, slow], SIGNED[k % len(WORDS), slow])


@pytest.mark.parametrize("loop", LOOPS)
def test_the_loop_sleeps_until_ready_and_reads_at_once(loop):
    frames, sampler, chips = sample(loop, 10.0)
    # Waiting costs no polling: per set, one early wake-up, a first look, then a wake-up per DOUT
    # edge that comes later (the chips drift in phase, so at most four), against 25 reads to clock out.
    assert chips.dout_reads <= frames.n_sets * (25 + 1 + 1 + 4)
    assert chips.sleeps <= frames.n_sets * (1 + 4)
    assert chips.dout_reads / frames.n_sets < 30 and chips.sleeps / frames.n_sets < 3    # polling: 40, 16
    # The set is read the moment its last chip is ready: at the edge, plus one pin access.
    ready_ns = np.zeros(frames.n_sets, dtype=np.int64)
    phases = [int(round(p * 1e9)) for p in (0.0, 0.0031, 0.0062, 0.0093)]
    for ch, (period, phase) in enumerate(zip(chips.period_ns, phases)):
        first = chips.start_ns + phase + period                  # conversion k at first + k * period
        latest = first + (frames.t_ns - first) // period * period
        ready_ns = np.maximum(ready_ns, latest)
    late_ns = frames.t_ns - ready_ns
    assert np.all(late_ns >= 0) and np.median(late_ns) <= chips.edge_ns
    assert np.mean(late_ns <= 2 * chips.edge_ns) > 0.99


@pytest.mark.parametrize("loop", LOOPS)
def test_an_unplugged_chip_is_not_ready_and_does_not_slow_the_others(loop):
    frames, sampler, chips = sample(loop, 4.0, faults=[("unplug", 1, 1.0, 2.5)])
    t_s = seconds(frames, chips)
    off = (t_s > 1.05) & (t_s < 2.5)
    assert (frames.flags[off, 1] == flags.NOT_READY).all()
    assert (frames.raw_counts[off, 1] == 0).all()
    assert not frames.flags[off][:, [0, 2, 3]].any()    # the other corners go on
    rate = off.sum() / 1.45
    assert rate > 0.97 * 85.7                           # at the slowest chip's rate, not a third of it
    back = t_s >= 2.5
    assert frames.flags[back, 1][0] == flags.GARBAGE    # clocked while absent: its first word is suspect
    assert not frames.flags[back][1:].any()


@pytest.mark.parametrize("loop", LOOPS)
def test_a_line_stuck_low_is_garbage_then_stuck(loop):
    frames, sampler, chips = sample(loop, 3.0, faults=[("stick_low", 2, 1.0, 2.0)], stuck_sets=8)
    first = np.flatnonzero(frames.flags[:, 2])[0]
    assert 0.98 < seconds(frames, chips)[first] < 1.02
    stuck = frames.flags[first:, 2][seconds(frames, chips)[first:] < 1.99]
    assert (stuck & flags.GARBAGE).all()                # DOUT never went high after the 25th pulse
    assert (frames.raw_counts[first:, 2][seconds(frames, chips)[first:] < 1.99] == 0).all()
    assert not (stuck[:7] & flags.STUCK).any() and (stuck[7:] & flags.STUCK).all()
    assert not frames.flags[:, [0, 1, 3]].any()


@pytest.mark.parametrize("loop", LOOPS)
def test_a_pulse_over_60_us_flags_the_word_and_the_settling_sets(loop):
    frames, sampler, chips = sample(loop, 2.0, faults=[("slow_host", 1.0, 80)], settle_sets=4)
    hit = np.flatnonzero(frames.flags.any(axis=1))
    assert chips.power_downs == 1 and sampler.power_downs == 1 and sampler.pulses_long == 1
    assert sampler.sck_high_max_ns >= 80_000
    assert (frames.flags[hit] & flags.LONG_PULSE).all()
    assert len(hit) == 5 and np.all(np.diff(hit) == 1)  # the corrupt set and 4 settling ones
    assert sampler.timeouts <= 1                        # chips restart: at most one set waits long


@pytest.mark.parametrize("loop", LOOPS)
def test_a_pulse_between_50_and_60_us_is_flagged_but_the_chips_stay_on(loop):
    frames, sampler, chips = sample(loop, 2.0, faults=[("slow_host", 1.0, 55)])
    hit = np.flatnonzero(frames.flags.any(axis=1))
    assert len(hit) == 1 and (frames.flags[hit] == flags.LONG_PULSE).all()
    assert chips.power_downs == 0 and sampler.power_downs == 0


@pytest.mark.parametrize("loop", LOOPS)
def test_no_chip_at_all_never_hangs(loop):
    faults = [("unplug", ch, 0.0) for ch in range(4)]
    frames, sampler, chips = sample(loop, 2.0, faults=faults)
    assert (frames.flags == flags.NOT_READY).all()
    assert frames.n_sets == sampler.timeouts
    assert 2.0 / 0.0375 - 2 <= frames.n_sets <= 2.0 / 0.0375 + 2     # one set per 3-period timeout
    assert chips.reads == [0, 0, 0, 0]                  # nothing is clocked when nothing is ready


@pytest.mark.parametrize("loop", LOOPS)
def test_gain_64_reads_half_the_counts(loop):
    frames, sampler, chips = sample(loop, 1.0, gain_pulses=27)
    later = frames.raw_counts[1:].astype(np.int64)
    for ch in range(4):
        assert np.isin(later[:, ch], SIGNED[:, ch] >> 1).all()


@pytest.mark.parametrize("loop", LOOPS)
def test_noise_words_pass_the_wire_checks(loop):
    # Random but well-formed words cannot be told from a reading on the wire: the signal layer's job.
    frames, sampler, chips = sample(loop, 2.0, faults=[("noise", 3, 1.0, 1.2)])
    assert not frames.flags.any()


@pytest.mark.parametrize("ring_module", [_hx711_py, _hx711])
def test_ring_extra_flags_are_ored_in_and_zero_the_count(ring_module):
    ring = ring_module.SampleRing(2, 4)
    words = np.array([[5, 0x7FFFFF], [7, 9]], np.uint32)
    extra = np.array([[flags.LONG_PULSE, flags.GARBAGE], [0, flags.STUCK]], np.uint8)
    assert ring.push_block(np.array([1, 2], np.int64), words, extra) == 2
    frames = ring.pop()
    np.testing.assert_array_equal(frames.flags, [[16, 8 | flags.SATURATED_HI], [0, 32]])
    np.testing.assert_array_equal(frames.raw_counts, [[0, 0], [7, 0]])


def test_chip_info_ioctl_number_matches_the_kernel_header():
    assert gpio.GET_CHIPINFO_IOCTL == _gpio.GET_CHIPINFO_IOCTL


def test_no_pi_gpio_chip_here_means_hardware_unavailable(tmp_path):
    (tmp_path / "gpiochip0").write_bytes(b"")           # not a chip: the ioctl fails, it is skipped
    with pytest.raises(HardwareUnavailable, match="pinctrl-bcm2835"):
        gpio.find_chip(pattern=str(tmp_path / "gpiochip*"))


@pytest.mark.skipif(any(c.label in gpio.CHIP_LABELS for c in gpio.list_chips()), reason="a Pi: chips exist")
def test_hx711_source_without_a_pi_falls_back_to_the_simulator(monkeypatch):
    with pytest.raises(HardwareUnavailable, match="no Raspberry Pi GPIO chip"):
        HX711Source()
    with pytest.raises(HardwareUnavailable):
        sources.source_from_spec("hx711?sck=5&dout=6,13,19,26")
    monkeypatch.setattr(sources, "DEFAULT_SOURCE", None)
    monkeypatch.delenv("FORCEPLATE_SOURCE", raising=False)
    monkeypatch.setenv("FORCEPLATE_CONFIG", os.devnull)
    with pytest.warns(SourceFallback, match="no Raspberry Pi GPIO chip"):
        source = sources.open_source()
    assert source.is_simulated


def test_hx711_source_samples_emulated_chips_in_a_thread():
    chips = real_time_chips()
    chips.unplug(3, at_s=0.0)
    source = HX711Source(lines=chips)
    slowdown = chips.slowdown
    try:
        frames = source.read(timeout_s=1.0 * slowdown)
        time.sleep(0.5 * slowdown)                      # the chips' half second: they convert at 86 SPS
        frames = source.read()
    finally:
        source.close()
    assert source.kernel == "compiled"
    assert 30 <= frames.n_sets <= 50, f"{frames.n_sets} sets in half a second (slowdown {slowdown})"
    assert (frames.flags[:, 3] == flags.NOT_READY).all()
    assert not frames.flags[:, :3].any()
    assert np.all(np.diff(frames.t_ns) > 0)
    assert not source._thread.is_alive()


def test_refused_realtime_priority_warns_and_samples_on(monkeypatch):
    def refuse(*args):
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(os, "sched_setscheduler", refuse)       # as for a user without rtprio
    chips = real_time_chips()
    with pytest.warns(RealtimeUnavailable, match="SCHED_FIFO"):
        source = HX711Source(lines=chips, realtime_priority=50)
    try:
        assert source.read(timeout_s=1.0 * chips.slowdown).n_sets >= 1
    finally:
        source.close()


def record_priority_requests(monkeypatch, refuse=False):
    """Stand in for sched_setscheduler: note what the sampler thread asks for, grant or refuse it."""
    asked = []

    def setscheduler(pid, policy, param):
        asked.append((pid, policy, param.sched_priority))
        if refuse:
            raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(os, "sched_setscheduler", setscheduler)
    return asked


@pytest.mark.parametrize("loop", LOOPS)
def test_the_sampler_thread_asks_for_realtime_priority_50_by_default(monkeypatch, loop):
    asked = record_priority_requests(monkeypatch)
    sampler_module, chips_class, _ = LOOPS[loop]
    source = HX711Source(lines=real_time_chips(chips_class))
    try:
        assert source.kernel == ("compiled" if loop == "compiled" else "pure-python")
        assert source.read(timeout_s=1.0 * measured_slowdown()).n_sets >= 1
    finally:
        source.close()
    assert asked == [(0, os.SCHED_FIFO, 50)]                    # pid 0: the sampler thread alone
    assert source.stats()["realtime_priority"] == source.stats()["realtime_priority_used"] == 50
    assert os.sched_getscheduler(0) != os.SCHED_FIFO            # this (caller's) thread is untouched


def test_rt_0_keeps_normal_priority(monkeypatch):
    asked = record_priority_requests(monkeypatch)
    source = HX711Source(lines=real_time_chips(), realtime_priority=0)
    try:
        assert source.read(timeout_s=1.0 * measured_slowdown()).n_sets >= 1
    finally:
        source.close()
    assert asked == [] and source.stats()["realtime_priority_used"] == 0


def test_spec_options_default_to_priority_50_and_rt_0_turns_it_off(monkeypatch):
    made = []
    monkeypatch.setattr(hx711, "HX711Source", lambda **kw: made.append(kw))
    hx711.from_options()
    hx711.from_options(rt=0)
    assert made[0]["realtime_priority"] is None and made[1]["realtime_priority"] == 0


def test_refused_default_priority_is_logged_once_and_sampling_goes_on(monkeypatch, caplog):
    asked = record_priority_requests(monkeypatch, refuse=True)
    monkeypatch.setattr(hx711, "_default_refusal_logged", False)
    opened = []
    with caplog.at_level("WARNING", logger=hx711.__name__):
        for _ in range(2):                          # no Python warning: filterwarnings=error would raise
            source = HX711Source(lines=real_time_chips())
            try:
                assert source.read(timeout_s=1.0 * measured_slowdown()).n_sets >= 1
            finally:
                source.close()
            opened.append(source)
    assert len(asked) == 2 and all(s.stats()["realtime_priority_used"] == 0 for s in opened)
    records = [r for r in caplog.records if r.name == hx711.__name__]
    assert len(records) == 1 and records[0].levelname == "WARNING"
    message = records[0].getMessage()
    assert "SCHED_FIFO" in message and "CAP_SYS_NICE" in message and "systemd" in message

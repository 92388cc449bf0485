"""Sources on a fake clock: pacing of the simulator and replay, scripted faults, the mock plate, specs.

Nothing sleeps: every source here runs on FakeClock, whose sleep advances it.
"""
import os
import threading
import time

import numpy as np
import pytest

from forceplate.device import flags as fl
from forceplate.device import sources
from forceplate.device.sim.mock import FakeClock, MockSource
from forceplate.device.sim.replay import ReplaySource
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.exc import ConfigError, TraceFormatError
from forceplate.signal.calibration import counts_to_newtons
from helpers import data_path


def newtons(source, frames):
    return counts_to_newtons(frames.raw_counts, frames.flags, source.offset_counts, source.scale_n_per_count)


# ----------------------------------------------------------------------------------- simulator pacing

def test_read_returns_exactly_the_sets_due(fake_clock):
    source = SimulatedSource("heel-drops", rate_hz=80.0, clock=fake_clock)
    assert source.read().n_sets == 0                       # nothing is due the instant it starts
    fake_clock.advance(1.0)
    frames = source.read()
    assert frames.n_sets == 80                              # 80 SPS x 1 s
    assert frames.raw_counts.shape == (80, 4) and frames.raw_counts.dtype == np.int32
    assert frames.flags.shape == (80, 4) and not frames.flags.any()
    steps_ns = np.diff(frames.t_ns)
    np.testing.assert_array_equal(steps_ns, 12_500_000)    # one set per 1/80 s, in order
    assert frames.t_ns[-1] <= fake_clock.now_ns() == source.ticks_ns()
    assert source.read().n_sets == 0                       # each set is delivered once
    fake_clock.advance(0.26)
    again = source.read()
    assert abs(again.n_sets - 0.26 * 80) <= 1
    assert again.t_ns[0] == frames.t_ns[-1] + 12_500_000


def test_read_waits_on_the_clock_for_the_next_set(fake_clock):
    source = SimulatedSource("standing", rate_hz=80.0, clock=fake_clock)
    start_ns = fake_clock.now_ns()
    frames = source.read(timeout_s=1.0)
    assert frames.n_sets == 1
    assert fake_clock.now_ns() - start_ns == 12_500_000 == frames.t_ns[0] - start_ns


def test_read_gives_up_after_the_timeout(fake_clock):
    source = SimulatedSource("standing", rate_hz=10.0, clock=fake_clock)
    start_ns = fake_clock.now_ns()
    assert source.read(timeout_s=0.03).n_sets == 0
    assert fake_clock.now_ns() - start_ns == 30_000_000


def test_read_respects_max_sets_and_keeps_the_rest(fake_clock):
    source = SimulatedSource("standing", rate_hz=80.0, clock=fake_clock)
    fake_clock.advance(1.0)
    first = source.read(max_sets=30)
    rest = source.read(max_sets=1000)
    assert (first.n_sets, rest.n_sets) == (30, 50)
    assert rest.t_ns[0] - first.t_ns[-1] == 12_500_000


def test_speed_plays_faster_than_real_time(fake_clock):
    source = SimulatedSource("jumps", rate_hz=80.0, speed=4.0, clock=fake_clock)
    fake_clock.advance(1.0)
    frames = source.read()
    assert frames.n_sets == 320
    np.testing.assert_allclose(np.diff(source.scenario_time_s(frames.t_ns)), 1 / 80.0)


def test_a_reader_far_behind_loses_the_newest_sets_and_counts_them(fake_clock):
    source = SimulatedSource("standing", rate_hz=1000.0, adc="ideal", clock=fake_clock)
    fake_clock.advance(20.0)                                # 20 000 sets due, the ring holds 8192
    got = 0
    while (frames := source.read(4096)).n_sets:
        got += frames.n_sets
    assert got + source.dropped == 20_000
    assert source.dropped > 0
    fake_clock.advance(0.1)
    assert source.read().n_sets == 100                      # and it carries on in the present


def test_source_describes_itself(fake_clock):
    source = SimulatedSource("jumps", clock=fake_clock)
    assert source.name == "sim:jumps" and source.is_simulated and source.channels == 4
    assert "sim:jumps" in source.describe() and "80 SPS" in source.describe()
    assert source.offset_counts.shape == source.scale_n_per_count.shape == (4,)


# ------------------------------------------------------------------------------------------- faults

def flags_at(source, clock, seconds):
    clock.advance(seconds)
    frames = source.read(8192)
    return source.scenario_time_s(frames.t_ns), frames


def test_faults_flag_the_right_channel_at_the_right_time(fake_clock):
    source = SimulatedSource("standing", clock=fake_clock, seed=1,
                             faults=["not_ready@3.0s:ch1", "garbage@5s:ch2", "saturate@4s:ch0",
                                     "unplugged@10s:ch3"])
    t_s, frames = flags_at(source, fake_clock, 12.0)
    expected = np.zeros_like(frames.flags)
    expected[np.isclose(t_s, 3.0), 1] = fl.NOT_READY
    expected[np.isclose(t_s, 5.0), 2] = fl.GARBAGE
    expected[np.isclose(t_s, 4.0), 0] = fl.SATURATED_HI
    expected[t_s >= 10.0 - 1e-9, 3] = fl.NOT_READY
    assert expected.astype(bool).sum() == 3 + 161           # 10.0-12.0 s at 80 SPS: 161 sets
    np.testing.assert_array_equal(frames.flags, expected)
    force_n = newtons(source, frames)
    assert np.isnan(force_n[expected != 0]).all() and np.isfinite(force_n[expected == 0]).all()


def test_a_fault_without_a_channel_hits_every_channel_for_its_duration(fake_clock):
    source = SimulatedSource("standing", clock=fake_clock, faults="not_ready@2s+0.5s")
    t_s, frames = flags_at(source, fake_clock, 3.0)
    hit = (t_s >= 2.0 - 1e-9) & (t_s < 2.5 - 1e-9)
    assert hit.sum() == 40
    assert (frames.flags[hit] == fl.NOT_READY).all() and not frames.flags[~hit].any()


def test_a_fault_between_sets_hits_the_next_set(fake_clock):
    source = SimulatedSource("standing", clock=fake_clock, faults=["saturate_low@1.001s:ch2"])
    t_s, frames = flags_at(source, fake_clock, 2.0)
    (row,) = np.flatnonzero(frames.flags[:, 2])
    assert t_s[row] == pytest.approx(1.0125) and frames.flags[row, 2] == fl.SATURATED_LO


@pytest.mark.parametrize("fault, says", [
    ("not_ready", "KIND@SECONDS"),
    ("explode@3s", "unknown kind 'explode'"),
    ("not_ready@3s:ch4", "channel 4"),
    ("not_ready@-1s", "KIND@SECONDS"),
    ("unplugged@3s+1s", "unplugged"),
    ("garbage@soon", "KIND@SECONDS"),
])
def test_a_malformed_fault_is_a_config_error(fault, says):
    with pytest.raises(ConfigError, match=says):
        SimulatedSource("standing", faults=[fault], clock=FakeClock())


# --------------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("options, says", [
    (dict(scenario="dance"), "known: standing, heel-drops, jumps, sit-to-stand, step-on-off, session"),
    (dict(adc="sigma-delta"), "hx711 or ideal"),
    (dict(rate_hz=0.5), "1-2000 Hz"),
    (dict(rate_hz=5000.0, adc="ideal"), "1-2000 Hz"),
    (dict(rate_hz=1000.0), "too fast for an HX711"),
    (dict(channels=3), "1, 2 or 4"),
    (dict(speed=0.0), "speed"),
    (dict(body_mass_kg=5.0), "body_mass_kg"),
])
def test_bad_simulator_options_are_config_errors(options, says):
    with pytest.raises(ConfigError, match=says):
        SimulatedSource(clock=FakeClock(), **options)


# ------------------------------------------------------------------------------------------- replay

def read_csv(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    return data[:, 0], data[:, 1:]


def replay_all(source, clock, seconds, *, step_s=0.05):
    frames = []
    for _ in range(int(round(seconds / step_s))):
        clock.advance(step_s)
        frames.append(source.read(8192))
    return (np.concatenate([f.t_ns for f in frames]), np.concatenate([f.raw_counts for f in frames]),
            np.concatenate([f.flags for f in frames]))


def test_replay_gives_back_the_file_at_speed(fake_clock):
    path = data_path("gidiel_vj_single_cmj.csv")
    t_file_s, force_file_n = read_csv(path)
    source = ReplaySource(path, speed=10.0, clock=fake_clock)
    assert (source.channels, source.adc, source.is_simulated) == (1, "ideal", True)
    assert source.rate_hz == pytest.approx(1000.0)
    assert not source.is_finished
    t_ns, counts, flags = replay_all(source, fake_clock, 0.55)     # 5 s of recording at x10
    assert counts.shape == force_file_n.shape and not flags.any()
    force_n = counts_to_newtons(counts, flags, source.offset_counts, source.scale_n_per_count)
    np.testing.assert_allclose(force_n, force_file_n, atol=0.0051)          # 0.01 N per count, rounded
    # played in real time at x10: 1 ms of recording is 0.1 ms on the clock
    np.testing.assert_allclose(np.diff(t_ns) / 1e9, np.diff(t_file_s) / 10.0, atol=1e-9)
    assert t_ns[0] - source.start_ns == 100_000
    assert source.is_finished
    assert source.read(timeout_s=5.0).n_sets == 0                   # finished: no wait, nothing more


def test_replay_paces_sets_by_the_clock(fake_clock):
    source = ReplaySource(data_path("bmc_duarte_grfzjump.csv"), clock=fake_clock)
    fake_clock.advance(1.0)
    assert source.read().n_sets == 600                               # 600 Hz recording, 1 s
    assert not source.is_finished


def test_replay_sums_two_plates(fake_clock):
    path = data_path("acl_squat_jump_bfr003.csv")
    _, force_file_n = read_csv(path)
    source = ReplaySource(path, speed=100.0, clock=fake_clock)
    assert source.channels == 2 and source.columns == ("fz1_n", "fz2_n")
    _, counts, _ = replay_all(source, fake_clock, 0.13, step_s=0.01)
    np.testing.assert_allclose((counts * 0.01).sum(axis=1), force_file_n.sum(axis=1), atol=0.011)


def test_replay_loops_forever(fake_clock):
    path = data_path("bmc_duarte_grfzjump.csv")                      # 1200 samples at 600 Hz: 2 s
    _, force_file_n = read_csv(path)
    source = ReplaySource(path, speed=10.0, loop=True, clock=fake_clock)
    _, counts, _ = replay_all(source, fake_clock, 0.5)               # 5 s: two passes and a half
    n = force_file_n.shape[0]
    assert abs(counts.shape[0] - 2.5 * n) <= 2
    np.testing.assert_allclose(counts[n:2 * n] * 0.01, force_file_n, atol=0.0051)
    np.testing.assert_array_equal(counts[2 * n:], counts[:counts.shape[0] - 2 * n])
    assert not source.is_finished


def test_replay_rate_wins_over_the_file_times(fake_clock):
    source = ReplaySource(data_path("gidiel_vj_single_sj.csv"), rate_hz=500.0, clock=fake_clock)
    assert source.rate_hz == 500.0
    fake_clock.advance(1.0)
    assert source.read().n_sets == 500


def test_replay_of_a_malformed_file_names_it(tmp_path):
    bad = tmp_path / "bad_session.csv"
    bad.write_text("t_s,fz_n\n0,700\n0.001,abc\n")
    with pytest.raises(TraceFormatError, match=r"bad_session\.csv:3"):
        ReplaySource(bad, clock=FakeClock())


def test_replay_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(TraceFormatError, match="nowhere.csv"):
        ReplaySource(tmp_path / "nowhere.csv", clock=FakeClock())


# --------------------------------------------------------------------------------------------- mock

def test_mock_delivers_pushed_sets_when_their_time_comes(mock_source):
    stamps = mock_source.push(np.full((8, 4), 41_000))
    np.testing.assert_array_equal(np.diff(stamps), 12_500_000)
    assert mock_source.read().n_sets == 0                   # pushed, but not yet sampled
    mock_source.advance(0.05)                               # 4 periods at 80 SPS
    first = mock_source.read()
    assert first.n_sets == 4
    mock_source.advance(0.05)
    second = mock_source.read()
    assert second.n_sets == 4 and mock_source.pending == 0
    np.testing.assert_array_equal(np.concatenate([first.t_ns, second.t_ns]), stamps)
    assert (second.raw_counts == 41_000).all()
    assert [f.n_sets for f in mock_source.reads] == [0, 4, 4]


def test_mock_sets_continue_from_the_last_or_from_now(mock_source):
    a = mock_source.push(np.zeros((2, 4)))
    b = mock_source.push(np.zeros((2, 4)))
    assert b[0] - a[-1] == 12_500_000                        # continuing a queue still in the future
    mock_source.advance(10.0)
    c = mock_source.push(np.zeros((1, 4)))
    assert c[0] == mock_source.ticks_ns() + 12_500_000      # after a silence, from now


def test_mock_flags_turn_into_the_words_the_chip_sends(mock_source):
    mock_source.push(np.full((8, 4), 41_000), flags=[fl.VALID, fl.VALID, fl.NOT_READY, fl.VALID])
    mock_source.advance(0.1)
    frames = mock_source.read()
    assert frames.n_sets == 8
    assert (frames.flags[:, 2] == fl.NOT_READY).all() and not frames.flags[:, [0, 1, 3]].any()
    assert (frames.raw_counts[:, 2] == 0).all()


def test_mock_raw_words_are_decoded_by_the_kernel(mock_source):
    words = np.array([[0x000001, 0xFFFFFF, 0x7FFFFF, 0x800000],
                      [fl.WORD_NOT_READY, 0x1000005, 0x000010, 0xFFFFF0]], dtype=np.uint32)
    mock_source.push_words(words)
    mock_source.advance(1.0)
    frames = mock_source.read()
    np.testing.assert_array_equal(frames.raw_counts, [[1, -1, 0x7FFFFF, -0x800000], [0, 0, 16, -16]])
    np.testing.assert_array_equal(frames.flags, [[0, 0, fl.SATURATED_HI, fl.SATURATED_LO],
                                                 [fl.NOT_READY, fl.GARBAGE, 0, 0]])


def test_mock_long_pulse_flag_reaches_the_reader(mock_source):
    mock_source.push(np.zeros((3, 4)), flags=[[0, 0, 0, 0], [0, fl.LONG_PULSE, 0, 0], [0, 0, 0, 0]])
    mock_source.advance(1.0)
    frames = mock_source.read()
    assert frames.flags[1, 1] == fl.LONG_PULSE and frames.flags.sum() == fl.LONG_PULSE


def test_mock_force_comes_back_through_its_calibration(mock_source):
    assert len(set(mock_source.offset_counts)) == 4 and (mock_source.offset_counts != 0).all()
    mock_source.push_force(np.array([0.0, 700.0, 2100.0]))               # total, split over 4 cells
    mock_source.push_force(np.array([[100.0, 200.0, 300.0, 400.0]]))     # per cell
    mock_source.advance(1.0)
    force_n = newtons(mock_source, mock_source.read())
    np.testing.assert_allclose(force_n.sum(axis=1), [0.0, 700.0, 2100.0, 1000.0], atol=0.01)
    np.testing.assert_allclose(force_n[3], [100.0, 200.0, 300.0, 400.0], atol=0.003)


def test_mock_read_waits_for_a_push_from_another_thread(mock_source):
    def plate():
        mock_source.push(np.ones((1, 4)))
        mock_source.advance(1.0)
    thread = threading.Timer(0.05, plate)                    # the plate speaks while the reader waits
    thread.start()
    started = time.monotonic()
    frames = mock_source.read(timeout_s=10.0)
    thread.join()
    assert frames.n_sets == 1
    assert time.monotonic() - started < 5.0                  # woken by the push, not by the timeout


def test_mock_ring_overflow_drops_the_newest(fake_clock):
    source = MockSource(channels=1, rate_hz=1000.0, clock=fake_clock, capacity=16)
    source.push(np.arange(40)[:, None])
    fake_clock.advance(1.0)
    frames = source.read()
    np.testing.assert_array_equal(frames.raw_counts[:, 0], np.arange(16))
    assert source.dropped == 24


def test_mock_rejects_the_wrong_shape(mock_source):
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        mock_source.push(np.zeros((5, 3)))


def test_open_source_returns_the_mock(mock_source):
    assert sources.open_source() is mock_source
    assert sources.open_source(mock_source) is mock_source


def test_mock_fixture_restores_the_default():
    assert sources.DEFAULT_SOURCE is None


# -------------------------------------------------------------------------------------------- specs

def test_spec_builds_the_simulator_it_names():
    source = sources.source_from_spec("sim:jumps?rate_hz=1000&adc=ideal")
    assert isinstance(source, SimulatedSource)
    assert (source.name, source.scenario, source.rate_hz, source.adc) == ("sim:jumps", "jumps", 1000.0, "ideal")


def test_spec_options_reach_the_simulator():
    source = sources.source_from_spec("sim:heel-drops?seed=3&body_mass_kg=70&speed=2&faults=not_ready@1s:ch1,garbage@2s")
    assert (source.seed, source.body_mass_kg, source.speed) == (3, 70.0, 2.0)
    assert [f.kind for f in source.faults] == ["not_ready", "garbage"]
    assert sources.source_from_spec("sim").name == "sim:session"


def test_spec_builds_a_replay():
    path = data_path("gidiel_vj_single_dj.csv")
    source = sources.source_from_spec(f"replay:{path}?speed=2&loop=1")
    assert isinstance(source, ReplaySource)
    assert (source.speed, source.loop, source.name) == (2.0, True, f"replay:{path}")


@pytest.mark.parametrize("spec, says", [
    ("sim:dance", "unknown scenario 'dance'; known: standing, heel-drops"),
    ("sim:jumps?rate_hz=fast", "rate_hz='fast' is not a float"),
    ("sim:jumps?colour=red", "unknown source option 'colour'"),
    ("sim:jumps?adc=sigma", "hx711 or ideal"),
    ("sim:jumps?rate_hz=1000", "too fast for an HX711"),
    ("sim:jumps?faults=boom@1s", "unknown kind 'boom'"),
    ("replay:", "replay needs a path"),
    ("replay:x.csv?colour=red", "unknown source option 'colour'"),
    ("plate:1", "unknown kind 'plate'"),
])
def test_bad_specs_are_config_errors(spec, says):
    with pytest.raises(ConfigError, match=says):
        sources.source_from_spec(spec)


def test_a_replay_spec_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(TraceFormatError, match="gone.csv"):
        sources.source_from_spec(f"replay:{tmp_path / 'gone.csv'}")


def test_a_yes_no_option_that_is_neither_is_refused():
    with pytest.raises(ConfigError, match="loop='maybe' is not a bool"):
        sources.source_from_spec(f"replay:{data_path('gidiel_vj_single_cmj.csv')}?loop=maybe")


# ------------------------------------------------------------------------------- the configured source

@pytest.fixture
def config_toml(tmp_path, monkeypatch):
    """The config file forceplate.config reads; no FORCEPLATE_* variable is set."""
    for name in [n for n in os.environ if n.startswith("FORCEPLATE_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "config.toml"
    monkeypatch.setenv("FORCEPLATE_CONFIG", str(path))
    return path


def test_open_source_takes_the_source_setting_file_below_environment(config_toml, monkeypatch):
    config_toml.write_text('source = "sim:jumps"\n')
    with sources.open_source() as source:
        assert source.name == "sim:jumps"
    monkeypatch.setenv("FORCEPLATE_SOURCE", "sim:standing")
    with sources.open_source() as source:
        assert source.name == "sim:standing"


class BareHardware:
    """What apply_configured_calibration needs of a hardware source: its cell count."""
    channels = 4
    is_simulated = False
    warning = None


def test_hardware_calibration_comes_from_the_settings(config_toml, monkeypatch):
    config_toml.write_text("hx711_scale_n_per_count = [0.01, 0.02, 0.03, 0.04]\n")
    monkeypatch.setenv("FORCEPLATE_HX711_OFFSET_COUNTS", "100,200,300,400")
    source = BareHardware()
    sources.apply_configured_calibration(source, None, None, kind="hx711", uncalibrated_scale_n_per_count=1.0)
    np.testing.assert_array_equal(source.offset_counts, [100, 200, 300, 400])
    np.testing.assert_array_equal(source.scale_n_per_count, [0.01, 0.02, 0.03, 0.04])
    assert source.warning is None


def test_without_calibration_settings_hardware_says_it_is_uncalibrated(config_toml):
    config_toml.write_text("")
    source = BareHardware()
    sources.apply_configured_calibration(source, None, None, kind="ads1256", uncalibrated_scale_n_per_count=1.0)
    assert "not calibrated" in source.warning
    np.testing.assert_array_equal(source.scale_n_per_count, [1.0] * 4)


def test_a_calibration_with_the_wrong_number_of_cells_is_refused(config_toml):
    config_toml.write_text("hx711_offset_counts = [1, 2, 3]\nhx711_scale_n_per_count = [1, 1, 1]\n")
    with pytest.raises(ConfigError, match="hx711 calibration needs 4 offsets and 4 scales"):
        sources.apply_configured_calibration(BareHardware(), None, None, kind="hx711",
                                             uncalibrated_scale_n_per_count=1.0)


def test_the_sources_and_the_login_throttle_share_one_real_clock():
    from forceplate.webui.auth import LoginThrottle
    clock = sources.MonotonicClock()
    before_ns = clock.now_ns()
    clock.sleep(0.001)
    assert clock.now_ns() - before_ns >= 1_000_000                  # now_ns is in nanoseconds
    assert type(LoginThrottle().clock) is sources.MonotonicClock
    assert type(SimulatedSource(scenario="standing").clock) is sources.MonotonicClock

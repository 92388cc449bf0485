"""Guided calibration: the procedure on plates whose calibration we know, the command, the storage.

Expected scales come from the plates' own calibration (the simulator's and the mock's exact
``scale_n_per_count``), never from the procedure's output. Tolerances follow from the noise: the rig adds
0.2 N RMS per cell, about 65 counts at 0.003 N/count; averaged over 160 sets (2 s at 80 SPS) that is about
5 counts in 15 000-50 000, so each fitted scale must land within 0.1 % of the truth.
"""
import datetime as dt

import numpy as np
import pytest
from click.testing import CliRunner

from forceplate.calibration.saved import (Calibration, apply_calibration, calibration_reminder, load_calibration,
                                          save_calibration, save_tare)
from forceplate.cli import cli
from forceplate.device import sources
from forceplate.device.sim.calibration_rig import SPOTS_M, CalibrationRig
from forceplate.device.flags import NOT_READY
from forceplate.device.sim.mock import FakeClock, MockSource
from forceplate.device.sim.simulator import SimulatedSource, split_by_centre_of_pressure
from forceplate.exc import SensorTimeout
from forceplate.calibration.procedure import PLACEMENTS, CalibrationError, run_calibration
from forceplate.signal.calibration import STANDARD_GRAVITY_M_S2, AutoZero
from forceplate.storage.store import Store

SCALE_REL_TOL = 1e-3        # see the module docstring
OFFSET_ABS_TOL_COUNTS = 30  # 65 counts of noise over 240 tare sets: SD of the mean about 4 counts


@pytest.fixture
def sim():
    return SimulatedSource("standing", seed=7, clock=FakeClock())


def rehearse(rig, mass_kg=20.0, **options):
    return run_calibration(rig, mass_kg, instruct=lambda step: rig.place(step.spot, mass_kg), **options)


# ------------------------------------------------------------------------------------ the procedure

def test_the_simulated_plate_gives_back_its_exact_calibration(sim):
    outcome = rehearse(CalibrationRig.from_simulator(sim))
    cal = outcome.calibration
    np.testing.assert_allclose(cal.scale_n_per_count, sim.scale_n_per_count, rtol=SCALE_REL_TOL)
    np.testing.assert_allclose(cal.offset_counts, sim.offset_counts, atol=OFFSET_ABS_TOL_COUNTS)
    assert list(cal.residual_n) == list(PLACEMENTS)
    assert cal.worst_residual_n < 0.002 * 20.0 * STANDARD_GRAVITY_M_S2
    assert outcome.warnings == () and cal.mass_kg == 20.0 and cal.source == "sim:standing"


def test_mock_plate_on_a_fake_clock(fake_clock):
    """The mock plays a person moving a 15 kg mass; the counts come from the mock's known calibration."""
    plate = MockSource(channels=4, rate_hz=80.0, clock=fake_clock)
    weight_n = 15.0 * STANDARD_GRAVITY_M_S2
    rng = np.random.default_rng(1)
    seen = []

    def loads_at(spot):
        if spot is None:
            return np.zeros(4)
        x, y = SPOTS_M[spot]
        return split_by_centre_of_pressure(np.array([weight_n]), np.array([x]), np.array([y]))[0]

    def instruct(step):
        seen.append(step.spot)
        before = loads_at(None if len(seen) < 3 else seen[-2])
        after = loads_at(step.spot)
        moving = before + (after - before) * np.linspace(0, 1, 40)[:, None] + rng.normal(0, 30, (40, 4))
        still = after + rng.normal(0, 0.2, (400, 4))             # 5 s at 80 SPS
        plate.push_force(np.concatenate([moving, still]))        # counts through the mock's calibration
        plate.advance(6.0)

    cal = run_calibration(plate, 15.0, instruct=instruct).calibration
    assert seen == [None, *PLACEMENTS]
    np.testing.assert_allclose(cal.scale_n_per_count, plate.scale_n_per_count, rtol=SCALE_REL_TOL)
    np.testing.assert_allclose(cal.offset_counts, plate.offset_counts, atol=OFFSET_ABS_TOL_COUNTS)


def test_a_cell_that_slipped_is_named_in_a_plain_warning(sim):
    rig = CalibrationRig.from_simulator(sim, misread={"back-left": (2, 0.9)})
    outcome = rehearse(rig)             # 5 placements, 4 scales: the one check is the centre (1.7 % off here)
    assert outcome.warnings, "a cell reading 10 % low at one spot must not pass silently"
    (warning,) = outcome.warnings
    assert warning.startswith("The placements do not add up: at the centre spot") and "slipped" in warning
    assert outcome.calibration.warnings == outcome.warnings


def test_the_tare_is_refused_when_the_plate_moves_naming_the_cell(sim):
    rig = CalibrationRig.from_simulator(sim, empty_wobble_n=40.0)
    with pytest.raises(CalibrationError, match=r"tare refused: load cell \d \((front|back)-(left|right)\): "
                                               r"the reading moved"):
        rehearse(rig)
    assert rig.placed == [(None, 20.0)]         # it never went on to the mass


def test_a_mass_that_never_arrives_times_out_with_advice(sim):
    rig = CalibrationRig.from_simulator(sim)
    with pytest.raises(CalibrationError, match="waiting for the mass at the centre spot for 30 s"):
        run_calibration(rig, 20.0, instruct=lambda step: None)


def test_a_silent_plate_is_reported_not_waited_for(fake_clock):
    plate = MockSource(channels=4, clock=fake_clock)
    with pytest.raises(SensorTimeout, match="no readings"):
        run_calibration(plate, 20.0, instruct=lambda step: None, no_data_s=0.2)


def test_a_dead_cell_is_named(fake_clock):
    plate = MockSource(channels=4, clock=fake_clock)

    def instruct(step):
        plate.push(np.tile(plate.offset_counts, (400, 1)).astype(np.int64), flags=[0, NOT_READY, 0, 0])
        plate.advance(5.0)

    with pytest.raises(CalibrationError, match=r"load cell 1 \(front-right\) sends no valid readings"):
        run_calibration(plate, 20.0, instruct=instruct)


def test_progress_shows_live_counts_above_the_tare(sim):
    rig = CalibrationRig.from_simulator(sim)
    readings = []
    rehearse(rig, progress=readings.append)
    final = [r for r in readings if r.is_still]
    assert [r.step.spot for r in final] == [None, *PLACEMENTS]
    assert any(not r.is_still for r in readings)            # the settling is shown, not only the result
    centre = final[1].counts * sim.scale_n_per_count         # counts above the tare -> N with the true scales
    assert centre.sum() == pytest.approx(20.0 * STANDARD_GRAVITY_M_S2, rel=0.002)


# ------------------------------------------------------------------------------------ the command

@pytest.fixture
def sim_default(monkeypatch, sim):
    monkeypatch.setattr(sources, "DEFAULT_SOURCE", sim)
    return sim


def test_calibrate_command_rehearses_on_the_simulator_and_keeps_it_apart(sim_default, tmp_path):
    r = CliRunner().invoke(cli, ["calibrate", "--yes", "--mass-kg", "20", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "Step 1 of 6: Empty the plate" in r.stdout and "Step 6 of 6: Put the 20 kg mass at the back-right" in r.stdout
    assert "rehearsal" in r.stdout and r.stderr == ""
    with Store(tmp_path) as store:
        assert load_calibration(store) is None                 # the plate's own calibration is untouched
        cal = load_calibration(store, rehearsal=True)
    np.testing.assert_allclose(cal.scale_n_per_count, sim_default.scale_n_per_count, rtol=SCALE_REL_TOL)
    assert cal.age_days() < 0.01


def test_calibrate_waits_for_enter_unless_yes(sim_default, tmp_path):
    r = CliRunner().invoke(cli, ["calibrate", "--mass-kg", "20", "--data-dir", str(tmp_path)], input="\n" * 6)
    assert r.exit_code == 0, r.output
    assert r.stdout.count("Press Enter when done.") == 6
    r = CliRunner().invoke(cli, ["calibrate", "--mass-kg", "20", "--data-dir", str(tmp_path)], input="\n\n")
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines() == ["forceplate: standard input closed before the step was done: "
                                             "use --yes to run without Enter"]


def test_calibrate_refuses_a_moving_plate_in_one_line_and_saves_nothing(monkeypatch, sim, tmp_path):
    monkeypatch.setattr(sources, "DEFAULT_SOURCE", CalibrationRig.from_simulator(sim, empty_wobble_n=40.0))
    r = CliRunner().invoke(cli, ["calibrate", "--yes", "--mass-kg", "20", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("forceplate: tare refused: load cell") and "keep the plate empty and still" in line
    with Store(tmp_path) as store:
        assert load_calibration(store, rehearsal=True) is None


@pytest.mark.parametrize("mass", ["0", "-3", "nan", "900"])
def test_calibrate_refuses_a_nonsense_mass(sim_default, tmp_path, mass):
    r = CliRunner().invoke(cli, ["calibrate", "--yes", "--mass-kg", mass, "--data-dir", str(tmp_path)])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_calibrate_asks_for_the_mass_only_at_a_terminal(sim_default, tmp_path):
    r = CliRunner().invoke(cli, ["calibrate", "--data-dir", str(tmp_path)], input="")
    assert r.exit_code == 2 and "--mass-kg" in r.stderr


def test_calibrate_refuses_a_replay(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("t_s,fz_n\n0.0,1.0\n0.1,1.0\n")
    r = CliRunner().invoke(cli, ["calibrate", "--yes", "--source", f"replay:{trace}", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2 and "cannot be calibrated" in r.stderr


# ------------------------------------------------------------------------------------ storage and reminders

def calibration(**changes):
    values = dict(offset_counts=(1.0, 2.0, 3.0, 4.0), scale_n_per_count=(0.003, 0.0031, 0.0029, 0.003),
                  calibrated_at="2026-01-10T09:00:00+00:00", mass_kg=20.0,
                  residual_n={"centre": 0.1}, source="hx711")
    return Calibration(**(values | changes))


def test_the_calibration_round_trips_through_the_settings(tmp_path):
    with Store(tmp_path) as store:
        assert load_calibration(store) is None
        save_calibration(store, calibration())
    with Store(tmp_path) as store:
        back = load_calibration(store)
    assert back == calibration(tared_at="2026-01-10T09:00:00+00:00")


def test_a_retare_keeps_the_scales(tmp_path):
    with Store(tmp_path) as store:
        assert save_tare(store, [9, 9, 9, 9]) is None            # nothing to re-tare yet
        save_calibration(store, calibration())
        save_tare(store, [10.0, 20.0, 30.0, 40.0], tared_at="2026-02-01T08:00:00+00:00")
        back = load_calibration(store)
    assert back.offset_counts == (10.0, 20.0, 30.0, 40.0) and back.tared_at.startswith("2026-02-01")
    assert back.scale_n_per_count == calibration().scale_n_per_count
    assert back.calibrated_at == calibration().calibrated_at


def test_only_hardware_takes_the_stored_calibration(fake_clock):
    class Hardware:
        is_simulated, channels, warning = False, 4, "The plate is not calibrated: forces are rough guesses."
        offset_counts = scale_n_per_count = None

    plate = Hardware()
    assert apply_calibration(plate, calibration())
    assert list(plate.scale_n_per_count) == [0.003, 0.0031, 0.0029, 0.003] and plate.warning is None
    mock = MockSource(clock=fake_clock)
    assert not apply_calibration(mock, calibration())          # a simulated plate keeps its exact calibration
    assert not apply_calibration(Hardware(), calibration(offset_counts=(1.0,), scale_n_per_count=(1.0,)))


def test_reminders_never_old_drifted_and_fine():
    now = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    assert "never been calibrated" in calibration_reminder(None, now=now)
    assert calibration_reminder(calibration(), now=now) is None                 # 49.6 days old
    old = calibration_reminder(calibration(), now=now + dt.timedelta(days=42))   # 91.6 days
    assert "91 days ago (2026-01-10)" in old
    assert calibration_reminder(calibration(), now=now, max_age_days=30) is not None
    zero = AutoZero(4, 80.0, window_s=0.1)
    zero.feed(np.full((8, 4), 6.0))                              # the empty plate reads 24 N
    assert zero.needs_attention
    assert "drifted +24 N" in calibration_reminder(calibration(), now=now, auto_zero=zero)

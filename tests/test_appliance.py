"""The appliance wiring: the front panel drives sets and tares a live plate; the stored calibration is used."""
import functools
import threading
import time
from datetime import datetime, timezone

import numpy as np
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from forceplate.live.panel_link import PanelLink, prepare_source
from forceplate.calibration.saved import Calibration, load_calibration, save_calibration
from forceplate.device.sim.mock import MockSource
from forceplate.device.panel import DEFAULT_BUTTON_PIN, DEFAULT_LED_PIN, Panel
from forceplate.live.plate import LivePlate
from forceplate.storage.store import Store


class FakeSets:
    """The SetController's panel-facing side: toggle, listeners, state."""

    def __init__(self):
        self.state, self.toggles, self.listeners = "ready", 0, []

    def toggle(self):
        self.toggles += 1

    def add_listener(self, callback):
        self.listeners.append(callback)

    def remove_listener(self, callback):
        self.listeners.remove(callback)


@pytest.fixture
def factory():
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


@pytest.fixture
def plate():
    source = MockSource(channels=4, rate_hz=80.0)
    live = LivePlate(source)
    live.start()
    yield live
    live.stop()
    source.close()


def push_empty(plate, seconds, *, drift_n=(1.0, -2.0, 0.5, 3.0), load_n=0.0):
    source = plate.source
    n = int(seconds * source.rate_hz)
    cells_n = np.tile(np.asarray(drift_n) + load_n / 4, (n, 1))
    counts = np.rint(cells_n / source.scale_n_per_count + source.offset_counts).astype(np.int64)
    source.push(counts + np.random.default_rng(0).integers(-3, 4, counts.shape))
    source.advance(seconds + 0.1)


def tare_with_pushed_counts(link, plate, **push):
    """Tare in a thread and push the counts once it listens to the plate (the plate's thread is real)."""
    result, listening, add_listener = {}, threading.Event(), plate.add_listener

    def add_and_tell(callback):          # the plate (this test's own) says when the tare listens
        add_listener(callback)
        listening.set()

    plate.add_listener = add_and_tell
    worker = threading.Thread(target=lambda: result.setdefault("ok", link.tare(timeout_s=10.0)))
    worker.start()
    assert listening.wait(10.0)
    push_empty(plate, 3.2, **push)
    worker.join(15.0)
    return result["ok"]


def test_long_press_tares_and_short_press_toggles_a_set(factory, plate, tmp_path):
    sets = FakeSets()
    quick_panel = functools.partial(Panel, long_press_s=0.05, bounce_s=None)
    with PanelLink(plate, sets, tmp_path / "fp.db", force=True, panel_factory=quick_panel, tare_s=1.0) as link:
        assert link.panel is not None and sets.listeners == [link.panel.on_event]
        button = factory.pin(DEFAULT_BUTTON_PIN)
        button.drive_low(); time.sleep(0.01); button.drive_high()
        time.sleep(0.05)
        assert sets.toggles == 1
        assert factory.pin(DEFAULT_LED_PIN).state == 1            # ready: steady on
    assert sets.listeners == []                                    # unhooked on exit


def test_tare_takes_out_the_empty_plate_drift(plate, tmp_path):
    sets = FakeSets()
    link = PanelLink(plate, sets, tmp_path / "fp.db", tare_s=3.0)
    offsets_before = np.array(plate.source.offset_counts, dtype=float)
    assert tare_with_pushed_counts(link, plate) is True, link.last_tare
    drift_counts = np.array([1.0, -2.0, 0.5, 3.0]) / plate.source.scale_n_per_count
    np.testing.assert_allclose(plate.source.offset_counts - offsets_before, drift_counts, atol=2.0)
    assert link.last_tare.startswith("done: +2.5 N")


def test_tare_refuses_to_zero_a_person_away(plate, tmp_path):
    link = PanelLink(plate, FakeSets(), tmp_path / "fp.db", tare_s=3.0)
    offsets_before = np.array(plate.source.offset_counts, dtype=float)
    assert tare_with_pushed_counts(link, plate, load_n=650.0) is False
    assert "step off before taring" in link.last_tare
    np.testing.assert_array_equal(plate.source.offset_counts, offsets_before)


def test_tare_is_refused_while_a_set_records(plate, tmp_path):
    sets = FakeSets()
    sets.state = "recording"
    link = PanelLink(plate, sets, tmp_path / "fp.db")
    assert link.tare(timeout_s=0.1) is False and "a set is recording" in link.last_tare


def test_a_simulated_plate_gets_no_panel(plate, tmp_path):
    with PanelLink(plate, FakeSets(), tmp_path / "fp.db") as link:
        assert link.panel is None


def hardware_plate():
    source = MockSource(channels=4, rate_hz=80.0)
    source.is_simulated = False          # as the HX711 source: takes the stored calibration
    return source


def test_the_stored_calibration_is_applied_to_a_real_plate(tmp_path):
    store = Store(tmp_path / "fp.db")
    try:
        source = hardware_plate()
        assert "calibrat" in prepare_source(source, store).lower()        # never calibrated: a reminder
        fresh = Calibration(offset_counts=(100.0, 200.0, 300.0, 400.0), scale_n_per_count=(0.002,) * 4,
                            calibrated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), mass_kg=20.0,
                            residual_n={}, placement_counts={},
                            tared_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            tare_sd_counts=(5.0,) * 4, source="hx711", warnings=())
        save_calibration(store, fresh)
        assert prepare_source(source, store) is None                      # fresh: nothing to remind
        np.testing.assert_array_equal(source.offset_counts, [100.0, 200.0, 300.0, 400.0])
        np.testing.assert_array_equal(source.scale_n_per_count, [0.002] * 4)
    finally:
        store.close()

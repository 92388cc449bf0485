"""The front panel on gpiozero's MockFactory: drive the button pin, read the LED and buzzer pins.

gpiozero's hold detection and blinking run on its own threads in real time, so the tests shrink the
panel's times (a 50 ms long press, blinks of tens of ms) rather than sleep for seconds, and wait on events
with a generous deadline instead of fixed sleeps.
"""
import re
import threading
import time

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from forceplate.device.panel import DEFAULT_BUTTON_PIN, DEFAULT_BUZZER_PIN, DEFAULT_LED_PIN, Panel, panel_pins
from forceplate.exc import ConfigError

BUTTON, LED, BUZZER = 17, 27, 22


@pytest.fixture
def factory():
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        yield Device.pin_factory
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = previous


class Calls:
    def __init__(self):
        self.toggles = 0
        self.tares = 0
        self.tared = threading.Event()

    def toggle(self):
        self.toggles += 1

    def tare(self):
        self.tares += 1
        self.tared.set()


@pytest.fixture
def panel(factory):
    calls = Calls()
    with Panel(BUTTON, LED, BUZZER, on_toggle=calls.toggle, on_tare=calls.tare, long_press_s=0.05,
               slow_blink_s=0.12, fast_blink_s=0.03, beep_s=0.06, short_beep_s=0.03, bounce_s=None) as p:
        p.calls = calls
        yield p


def wait_for_states(pin, count, timeout_s=3.0):
    """Wait until the pin has gone through ``count`` states (the first is its state when cleared)."""
    deadline = time.monotonic() + timeout_s
    while len(pin.states) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(pin.states) >= count, f"the pin went through {len(pin.states)} states, not {count}"
    return [s.state for s in pin.states]


def test_a_short_press_toggles_the_set_once(panel, factory):
    button = factory.pin(BUTTON)
    button.drive_low()                      # pressed: the button pulls the line to ground
    button.drive_high()
    assert panel.calls.toggles == 1 and panel.calls.tares == 0
    button.drive_low()
    button.drive_high()
    assert panel.calls.toggles == 2


def test_holding_the_button_tares_and_its_release_is_not_a_press(panel, factory):
    button = factory.pin(BUTTON)
    button.drive_low()
    assert panel.calls.tared.wait(3.0), "holding the button past long_press_s did not tare"
    button.drive_high()
    assert (panel.calls.tares, panel.calls.toggles) == (1, 0)
    button.drive_low()                      # the next short press is a press again
    button.drive_high()
    assert (panel.calls.tares, panel.calls.toggles) == (1, 1)


def test_the_default_long_press_is_two_seconds(factory):
    with Panel(on_toggle=lambda: None, on_tare=lambda: None) as p:
        assert p.button.hold_time == 2.0
        assert (p.slow_blink_s, p.fast_blink_s) == (0.5, 0.1)


def test_ready_is_a_steady_light(panel, factory):
    led = factory.pin(LED)
    led.clear_states()
    panel.show("ready")
    assert led.state is True
    led.assert_states([False, True])
    assert len(led.states) == 2             # steady: no further changes


def test_recording_blinks_slowly_and_a_fault_fast(panel, factory):
    led = factory.pin(LED)
    led.clear_states()
    panel.show("recording")
    wait_for_states(led, 5)
    panel.show("off")
    led.assert_states_and_times([(0.0, False), (0.0, True), (0.12, False), (0.12, True), (0.12, False)])
    led.clear_states()
    panel.show("fault")
    wait_for_states(led, 5)
    panel.show("off")
    led.assert_states_and_times([(0.0, False), (0.0, True), (0.03, False), (0.03, True), (0.03, False)])
    assert panel.state == "off" and led.state is False


def test_a_thump_beeps_once(panel, factory):
    buzzer = factory.pin(BUZZER)
    buzzer.clear_states()
    assert panel.feedback({"kind": "impact", "peak_bw": 3.1, "thump": True}) == 1
    states = wait_for_states(buzzer, 3)
    time.sleep(0.1)                         # nothing more follows a single beep
    assert [s.state for s in buzzer.states] == states == [False, True, False]
    buzzer.assert_states_and_times([(0.0, False), (0.0, True), (0.06, False)])


def test_too_soft_beeps_twice_short(panel, factory):
    buzzer = factory.pin(BUZZER)
    buzzer.clear_states()
    assert panel.feedback({"kind": "impact", "peak_bw": 1.8, "thump": False}) == 2
    wait_for_states(buzzer, 5)
    buzzer.assert_states_and_times([(0.0, False), (0.0, True), (0.03, False), (0.03, True), (0.03, False)])
    assert buzzer.state is False


@pytest.mark.parametrize("event", [{"kind": "withdrawn", "t_peak_s": 4.2, "reason": "a take-off followed"},
                                   {"kind": "jump", "peak_bw": 4.1, "thump": None, "thump_if_allowed": True,
                                    "note": "No jumps in clinician-approved mode"},
                                   {"kind": "impact", "peak_bw": 3.1, "thump": None, "thump_if_allowed": True,
                                    "counted": False, "not_counted_reason": "Over today's impact limit"}])
def test_a_withdrawn_heel_drop_or_a_forbidden_jump_beeps_three_times_short(panel, factory, event):
    buzzer = factory.pin(BUZZER)
    buzzer.clear_states()
    assert panel.feedback(event) == 3
    wait_for_states(buzzer, 7)
    buzzer.assert_states_and_times([(0.0, False), (0.0, True), (0.03, False), (0.03, True), (0.03, False),
                                    (0.03, True), (0.03, False)])


@pytest.mark.parametrize("tempo,beeps", [("fast up, slow down", 1), ("rise slower than 1 s", 2), (None, 0)])
def test_a_sit_to_stand_rep_beeps_for_its_tempo(panel, factory, tempo, beeps):
    buzzer = factory.pin(BUZZER)
    buzzer.clear_states()
    assert panel.feedback({"kind": "sit-to-stand", "rise_s": 0.8, "tempo": tempo, "peak_bw": 1.4}) == beeps
    wait_for_states(buzzer, 1 + 2 * beeps)
    time.sleep(0.05)
    assert [s.state for s in buzzer.states] == [False] + [True, False] * beeps


def test_an_event_without_a_verdict_is_silent(panel, factory):
    buzzer = factory.pin(BUZZER)
    buzzer.clear_states()
    assert panel.feedback({"kind": "impact", "peak_bw": None, "thump": None}) == 0
    assert panel.feedback({"kind": "jump"}) == 0
    time.sleep(0.05)
    assert [s.state for s in buzzer.states] == [False]


def test_controller_events_drive_the_led_and_the_buzzer(panel, factory):
    led, buzzer = factory.pin(LED), factory.pin(BUZZER)
    panel.on_event({"state": "ready"})
    assert led.state is True and panel.state == "ready"
    buzzer.clear_states()
    panel.on_event({"kind": "impact", "thump": True, "session": 3})
    wait_for_states(buzzer, 3)
    assert [s.state for s in buzzer.states] == [False, True, False]


def test_set_controller_events_drive_the_panel(panel, factory):
    led, buzzer = factory.pin(LED), factory.pin(BUZZER)
    panel.on_event({"kind": "set_started", "session": 4})
    assert panel.state == "recording"
    buzzer.clear_states()
    panel.on_event({"kind": "rep", "session": 4, "event": {"kind": "impact", "thump": False}})
    wait_for_states(buzzer, 5)
    assert [s.state for s in buzzer.states][:5] == [False, True, False, True, False]
    panel.on_event({"kind": "fault", "message": "load cell 1 not ready"})
    assert panel.state == "fault"
    panel.on_event({"kind": "set_ended", "session": 4})
    assert panel.state == "ready" and led.state is True


def test_unknown_states_are_refused(panel):
    with pytest.raises(ValueError, match="blinking"):
        panel.show("blinking")


def test_parts_can_be_left_out(factory):
    with Panel(BUTTON, None, None, on_toggle=lambda: None, on_tare=lambda: None) as p:
        p.show("recording")                 # nothing to light: no error
        assert p.feedback({"thump": True}) == 1 and p.state == "recording"


def test_pins_come_from_the_environment_or_the_config_file(monkeypatch, tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text("panel_led_pin = 16\npanel_buzzer_pin = false\n")
    monkeypatch.setenv("FORCEPLATE_CONFIG", str(config_file))
    monkeypatch.setenv("FORCEPLATE_PANEL_BUTTON_PIN", "23")
    monkeypatch.delenv("FORCEPLATE_PANEL_LED_PIN", raising=False)
    monkeypatch.delenv("FORCEPLATE_PANEL_BUZZER_PIN", raising=False)
    assert panel_pins() == {"button_pin": 23, "led_pin": 16, "buzzer_pin": None}
    monkeypatch.setenv("FORCEPLATE_PANEL_LED_PIN", "forty")
    with pytest.raises(ConfigError, match="FORCEPLATE_PANEL_LED_PIN"):
        panel_pins()


def test_a_pin_off_the_header_in_the_config_file_names_file_and_key(monkeypatch, tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text("panel_buzzer_pin = 28\n")
    monkeypatch.setenv("FORCEPLATE_CONFIG", str(config_file))
    monkeypatch.delenv("FORCEPLATE_PANEL_BUZZER_PIN", raising=False)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(config_file))}: panel_buzzer_pin = 28: GPIO 28"):
        panel_pins()


def test_default_pins_avoid_the_hx711_lines():
    assert {DEFAULT_BUTTON_PIN, DEFAULT_LED_PIN, DEFAULT_BUZZER_PIN}.isdisjoint({5, 6, 13, 19, 26})

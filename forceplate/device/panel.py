"""The plate's front panel: one button, one LED and a buzzer, as gpiozero devices.

A person standing on the plate cannot reach a tablet, so the plate answers by hand:

- **Button** (to ground, the Pi's internal pull-up): a short press starts or stops a set
  (``on_toggle()``); holding it ``long_press_s`` (2 s) tares the empty plate (``on_tare()``) and the
  release that follows is not a press.
- **LED** (through a resistor to ground): ``show("ready")`` steady on, ``"recording"`` a slow blink,
  ``"fault"`` a fast blink, ``"off"``.
- **Buzzer** (an active buzzer, or a transistor driving one): ``feedback(event)`` gives one beep for a
  thump (an impact that counts), two short beeps for one too soft, nothing for an event without a verdict
  (``thump`` missing or None: no body weight yet).

The panel knows nothing of sets or recorders: it calls back and is told what to show, so it can be wired to
any controller (``on_event`` takes the dicts a controller's listener receives). Pins are BCM numbers; the
defaults avoid the HX711 lines of docs/wiring.md; the settings ``panel_button_pin``, ``panel_led_pin`` and
``panel_buzzer_pin`` (``FORCEPLATE_PANEL_*_PIN``) of forceplate.config choose others (:func:`panel_pins`).

gpiozero chooses the pin factory: ``pin_factory=`` here, else ``Device.pin_factory``, else
``GPIOZERO_PIN_FACTORY``; tests use its ``MockFactory``.
"""
from __future__ import annotations

import threading

from .. import config
from ..exc import ConfigError, HardwareUnavailable

DEFAULT_BUTTON_PIN = config.SETTINGS["panel_button_pin"].default     # physical pin 11; GND at pin 9
DEFAULT_LED_PIN = config.SETTINGS["panel_led_pin"].default           # physical pin 13
DEFAULT_BUZZER_PIN = config.SETTINGS["panel_buzzer_pin"].default     # physical pin 15
STATES = ("off", "ready", "recording", "fault")
_STATE_OF_KIND = {"set_started": "recording", "set_ended": "ready", "fault": "fault"}   # SetController events

def panel_pins() -> dict:
    """The configured pins as Panel keywords: ``{"button_pin": 17, "led_pin": 27, "buzzer_pin": 22}``.

    A part set to "" or "none" in the environment, or ``false`` in the config file, is absent (None): a
    plate built without a buzzer, say. forceplate.config checks the values and raises ConfigError naming
    the setting for anything not a pin on the header.
    """
    settings = config.load()
    return {part: settings[f"panel_{part}"] for part in ("button_pin", "led_pin", "buzzer_pin")}


class Panel:
    """Button, LED and buzzer of the plate (see the module docstring). Close it (or use ``with``).

    Parameters
    ----------
    button_pin, led_pin, buzzer_pin : int or None
        BCM numbers; None leaves that part out.
    on_toggle : callable()
        A short press: start or stop a set. Called from gpiozero's event thread: do not block it.
    on_tare : callable()
        A long press (at least ``long_press_s``): tare the empty plate.
    pin_factory : gpiozero Factory, optional
    long_press_s : float
        How long a press must last to be a tare (s).
    slow_blink_s, fast_blink_s : float
        Half-period of the LED's blink while recording and on a fault (s).
    beep_s, short_beep_s : float
        A thump's beep; each of the two beeps (and the gap) for one too soft (s).
    bounce_s : float or None
        Ignore button edges closer than this (s): a mechanical switch chatters for a few ms.
    """

    def __init__(self, button_pin: int | None = DEFAULT_BUTTON_PIN, led_pin: int | None = DEFAULT_LED_PIN,
                 buzzer_pin: int | None = DEFAULT_BUZZER_PIN, *, on_toggle, on_tare, pin_factory=None,
                 long_press_s: float = 2.0, slow_blink_s: float = 0.5, fast_blink_s: float = 0.1,
                 beep_s: float = 0.15, short_beep_s: float = 0.06, bounce_s: float | None = 0.02):
        import gpiozero
        from gpiozero.exc import GPIOZeroError

        for name, value in (("long_press_s", long_press_s), ("slow_blink_s", slow_blink_s),
                            ("fast_blink_s", fast_blink_s), ("beep_s", beep_s), ("short_beep_s", short_beep_s)):
            if not value > 0:
                raise ConfigError(f"panel {name} must be positive, not {value!r}")
        self._on_toggle = on_toggle
        self._on_tare = on_tare
        self.long_press_s = float(long_press_s)
        self.slow_blink_s = float(slow_blink_s)
        self.fast_blink_s = float(fast_blink_s)
        self.beep_s = float(beep_s)
        self.short_beep_s = float(short_beep_s)
        self.state = "off"
        self._lock = threading.Lock()
        self._was_held = False
        self.button = self.led = self.buzzer = None
        try:
            if button_pin is not None:
                self.button = gpiozero.Button(button_pin, pull_up=True, bounce_time=bounce_s,
                                              hold_time=self.long_press_s, pin_factory=pin_factory)
                self.button.when_pressed = self._pressed
                self.button.when_held = self._held
                self.button.when_released = self._released
            if led_pin is not None:
                self.led = gpiozero.LED(led_pin, pin_factory=pin_factory)
            if buzzer_pin is not None:
                self.buzzer = gpiozero.Buzzer(buzzer_pin, pin_factory=pin_factory)
        except GPIOZeroError as exc:
            self.close()
            pins = f"button GPIO {button_pin}, LED GPIO {led_pin}, buzzer GPIO {buzzer_pin}"
            raise HardwareUnavailable(f"the panel ({pins}) cannot be used: {exc}") from None

    # -- button
    def _pressed(self):
        self._was_held = False

    def _held(self):
        self._was_held = True
        self._on_tare()

    def _released(self):
        if not self._was_held:       # the release ending a long press is not a short press
            self._on_toggle()
        self._was_held = False

    # -- LED
    def show(self, state: str) -> None:
        """Show the plate's state on the LED: ``ready`` on, ``recording`` slow blink, ``fault`` fast, ``off``."""
        if state not in STATES:
            raise ValueError(f"panel state {state!r} is not one of {', '.join(STATES)}")
        with self._lock:
            self.state = state
            if self.led is None:
                return
            if state == "ready":
                self.led.on()
            elif state == "recording":
                self.led.blink(on_time=self.slow_blink_s, off_time=self.slow_blink_s)
            elif state == "fault":
                self.led.blink(on_time=self.fast_blink_s, off_time=self.fast_blink_s)
            else:
                self.led.off()

    # -- buzzer
    def feedback(self, event: dict) -> int:
        """Beep for an analysed event: 1 beep for a thump, 2 short ones for too soft, 0 without a verdict. A
        sit-to-stand rep: 1 beep for "fast up, slow down", 2 short ones otherwise. A withdrawn rep (a take-off
        followed a heel drop: it was a push-off) or a jump this person may not do yet (it has a ``note`` and
        no verdict): 3 short beeps, "that one does not count".

        Returns the number of beeps started (they play in the background, so this never blocks).
        """
        kind = event.get("kind")
        if kind == "withdrawn" or event.get("counted") is False or (
                kind == "jump" and event.get("note") and event.get("thump") is None
                and event.get("thump_if_allowed") is not None):
            verdict = None
            beeps, on_s = 3, self.short_beep_s
        else:
            verdict = (event.get("tempo") == "fast up, slow down" if event.get("tempo") else None) \
                if kind == "sit-to-stand" else event.get("thump")
            if verdict is None:
                return 0
            beeps, on_s = (1, self.beep_s) if verdict else (2, self.short_beep_s)
        if self.buzzer is not None:
            self.buzzer.beep(on_time=on_s, off_time=self.short_beep_s, n=beeps, background=True)
        return beeps

    def on_event(self, event: dict) -> None:
        """A SetController listener (``controller.add_listener(panel.on_event)``).

        ``set_started`` -> recording, ``set_ended`` -> ready, ``fault`` -> fault, ``rep`` -> beeps for its
        ``event``; also a dict with ``state``, or an analysed event itself (``kind`` impact or jump).
        """
        kind = event.get("kind")
        state = event.get("state") or _STATE_OF_KIND.get(kind)
        if state in STATES:
            self.show(state)
        if kind == "rep" and isinstance(event.get("event"), dict):
            self.feedback(event["event"])
        elif kind in ("impact", "jump"):
            self.feedback(event)

    # -- life
    def close(self) -> None:
        for device in (self.button, self.led, self.buzzer):
            if device is not None:
                device.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

"""What makes `forceplate serve` an appliance on a real plate: the stored calibration, the front panel
(button, LED, buzzer) wired to the recording sets, and a tare from the panel's long press.

Nothing here runs for a simulated or replayed plate (they have their exact calibration and no panel),
unless a test asks for it with ``force=True``.
"""
from __future__ import annotations

import logging
import threading

import numpy as np

from ..exc import HardwareUnavailable

log = logging.getLogger("forceplate.live.panel_link")

TARE_S = 3.0      # seconds of empty, still plate a tare averages


def prepare_source(source, store) -> str | None:
    """Give a hardware source the stored calibration, and the filter order `forceplate doctor` fitted to its
    chips (``source.hx711_model``, for the peak estimates). Returns a reminder sentence to show, or None."""
    from ..calibration.saved import apply_calibration, calibration_reminder, load_calibration, load_filter_model
    if getattr(source, "is_simulated", True):
        return None
    model = load_filter_model(store) if getattr(source, "adc", None) == "hx711" else None
    if model is not None:
        source.hx711_model = model
        log.info("HX711 estimates through the filter fitted by forceplate doctor (order %d)", model.order)
    calibration = load_calibration(store)
    if apply_calibration(source, calibration):
        log.info("stored calibration applied (%s)", calibration.calibrated_at)
    reminder = calibration_reminder(calibration)
    if reminder:
        log.warning("%s", reminder)
    return reminder


class PanelLink:
    """The front panel, tied to the recording sets and the live plate. A context manager.

    Short press: start or stop a set (SetController.toggle). Long press: tare, if the plate is empty and
    still for `tare_s` (else the LED shows a fault for a moment). The LED follows the set's state and the
    buzzer each rep's verdict (Panel.on_event).
    """

    def __init__(self, plate, sets, store_path, *, force: bool = False, tare_s: float = TARE_S,
                 panel_factory=None, pin_factory=None):
        self.plate, self.sets, self.store_path = plate, sets, store_path
        self.force, self.tare_s = force, float(tare_s)
        self.panel = None
        self._panel_factory = panel_factory
        self._pin_factory = pin_factory
        self._tare_lock = threading.Lock()
        self._tare_counts: list | None = None
        self._tare_need = 0
        self._tare_done = threading.Event()
        self.last_tare: str | None = None      # what the last tare did, for the log and tests

    def __enter__(self):
        source = self.plate.source
        if getattr(source, "is_simulated", True) and not self.force:
            log.info("front panel: not used with a simulated plate")
            return self
        from ..device.panel import Panel, panel_pins
        factory = self._panel_factory or Panel
        try:
            self.panel = factory(**panel_pins(), on_toggle=self._toggle, on_tare=self._tare_in_background,
                                 pin_factory=self._pin_factory)
        except HardwareUnavailable as exc:
            log.info("front panel: none (%s)", exc)
            return self
        self.sets.add_listener(self.panel.on_event)
        self.panel.show("ready")
        log.info("front panel: ready (short press: start/stop a set; hold 2 s: tare)")
        return self

    def __exit__(self, *exc_info):
        if self.panel is not None:
            try:
                self.sets.remove_listener(self.panel.on_event)
            finally:
                self.panel.close()
                self.panel = None

    def _toggle(self) -> None:
        from .sets import SetError
        try:
            self.sets.toggle()
        except SetError as exc:              # e.g. nobody chosen on the live page yet: say so, blink
            log.warning("panel button: %s", exc)
            self._show_fault()

    # -- tare ------------------------------------------------------------------------------------------

    def _tare_in_background(self) -> None:
        # gpiozero calls this on its own thread, which must stay free: the tare waits for seconds of counts.
        threading.Thread(target=self.tare, name="forceplate-tare", daemon=True).start()

    def _collect(self, frames, _events) -> None:
        """A plate listener while a tare runs: keeps the valid raw counts (on the sampler's thread)."""
        with self._tare_lock:
            if frames is None or self._tare_counts is None:    # the recording ended, or the tare did
                return
            valid = np.all(np.asarray(frames.flags) == 0, axis=1)
            self._tare_counts.append(np.asarray(frames.raw_counts)[valid])
            if sum(len(c) for c in self._tare_counts) >= self._tare_need:
                self._tare_done.set()

    def tare(self, *, timeout_s: float | None = None) -> bool:
        """Zero the plate from the next `tare_s` of counts; True when done. Refused while a set records."""
        from ..calibration.saved import save_tare
        from ..signal.calibration import tare
        from ..storage.store import Store
        if getattr(self.sets, "state", "ready") == "recording":
            self.last_tare = "refused: a set is recording"
            self._show_fault()
            return False
        source = self.plate.source
        with self._tare_lock:
            self._tare_counts = []
            self._tare_need = max(2, int(round(self.tare_s * float(source.rate_hz))))
            self._tare_done.clear()
        self.plate.add_listener(self._collect)
        try:
            finished = self._tare_done.wait(timeout_s if timeout_s is not None else self.tare_s * 3 + 2.0)
        finally:
            self.plate.remove_listener(self._collect)
        with self._tare_lock:
            counts, self._tare_counts = self._tare_counts, None
        if not finished or not counts:
            self.last_tare = "refused: no readings from the plate"
            self._show_fault()
            return False
        try:
            result = tare(np.concatenate(counts))
        except ValueError as exc:             # someone on the plate, or it moved
            self.last_tare = f"refused: {exc}"
            log.warning("tare %s", self.last_tare)
            self._show_fault()
            return False
        total_n = float(np.sum((result.offset_counts - np.asarray(source.offset_counts))
                               * np.asarray(source.scale_n_per_count)))
        if abs(total_n) > 100.0:                # a tare never takes a person's weight away
            self.last_tare = f"refused: the plate reads {total_n:.0f} N: step off before taring"
            log.warning("tare %s", self.last_tare)
            self._show_fault()
            return False
        source.offset_counts = result.offset_counts
        self.plate.set_offsets(result.offset_counts)
        store = Store(self.store_path)
        try:
            save_tare(store, result.offset_counts, tare_sd_counts=result.sd_counts)
        finally:
            store.close()
        self.last_tare = f"done: {total_n:+.1f} N of drift taken out"
        log.info("tare %s", self.last_tare)
        if self.panel is not None:
            self.panel.show("ready")
        return True

    def _show_fault(self) -> None:
        if self.panel is not None:
            self.panel.show("fault")
            threading.Timer(2.0, lambda: self.panel and self.panel.show(
                "recording" if getattr(self.sets, "state", "") == "recording" else "ready")).start()

"""The plate's calibration as the guided procedure left it, kept in the store's settings.

``forceplate calibrate`` saves a :class:`Calibration` (per-cell offsets and scales, the mass used, the residual
of each placement, the date); the sampler, the live page and the status line read it back with
:func:`load_calibration`. A long press on the panel re-tares (:func:`save_tare`) without touching the scales.
:func:`calibration_reminder` says, in one sentence, when the plate should be calibrated again.

Only this module knows the settings key and the shape of the value; it speaks to the database only through
``Store.setting`` / ``Store.set_setting``.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

SETTING_KEY = "calibration"
REHEARSAL_KEY = "calibration_rehearsal"   # a calibration made on a simulated plate: never the real one
DEFAULT_MAX_AGE_DAYS = 90
CELL_NAMES = ("front-left", "front-right", "back-left", "back-right")   # channel order (docs/wiring.md)


def cell_name(channel: int, channels: int = 4) -> str:
    """``"load cell 2 (back-left)"``; without the corner name when the plate has other than 4 cells."""
    if channels == 4 and 0 <= channel < 4:
        return f"load cell {channel} ({CELL_NAMES[channel]})"
    return f"load cell {channel}"


@dataclass(frozen=True)
class Calibration:
    """What turns one plate's counts into newtons: ``force_n = (counts - offset_counts) * scale_n_per_count``.

    Attributes
    ----------
    offset_counts, scale_n_per_count : tuple of float, one per load cell
    calibrated_at : str
        When the scales were fitted (ISO 8601, UTC).
    mass_kg : float
        The known mass used.
    residual_n : dict
        Placement name -> fitted total force minus the mass's weight (N).
    placement_counts : dict
        Placement name -> mean counts of each cell with the mass there.
    tared_at : str
        When the offsets were last measured (the calibration, or a later re-tare).
    tare_sd_counts : tuple of float
        How much each cell's empty reading varied during that tare (SD, counts).
    source : str
        The source it was measured on (``hx711``; ``sim:...`` for a rehearsal).
    warnings : tuple of str
        What the procedure warned about (a placement that did not add up).
    """

    offset_counts: tuple
    scale_n_per_count: tuple
    calibrated_at: str
    mass_kg: float
    residual_n: dict = field(default_factory=dict)
    placement_counts: dict = field(default_factory=dict)
    tared_at: str = ""
    tare_sd_counts: tuple = ()
    source: str = ""
    warnings: tuple = ()

    @property
    def channels(self) -> int:
        return len(self.offset_counts)

    @property
    def worst_residual_n(self) -> float:
        return max((abs(v) for v in self.residual_n.values()), default=0.0)

    def age_days(self, now: _dt.datetime | None = None) -> float:
        """Days since the scales were fitted."""
        now = now or _dt.datetime.now(_dt.timezone.utc)
        return (now - _parse_time(self.calibrated_at)).total_seconds() / 86400.0

    def to_json(self) -> dict:
        out = asdict(self)
        for key in ("offset_counts", "scale_n_per_count", "tare_sd_counts", "warnings"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_json(cls, value: dict) -> "Calibration":
        offsets = tuple(float(v) for v in value["offset_counts"])
        scales = tuple(float(v) for v in value["scale_n_per_count"])
        if not offsets or len(offsets) != len(scales) or not all(map(math.isfinite, offsets + scales)):
            raise ValueError("the stored calibration needs one finite offset and scale per load cell")
        return cls(offset_counts=offsets, scale_n_per_count=scales, calibrated_at=str(value["calibrated_at"]),
                   mass_kg=float(value["mass_kg"]),
                   residual_n={str(k): float(v) for k, v in value.get("residual_n", {}).items()},
                   placement_counts={str(k): [float(c) for c in v]
                                     for k, v in value.get("placement_counts", {}).items()},
                   tared_at=str(value.get("tared_at") or value["calibrated_at"]),
                   tare_sd_counts=tuple(float(v) for v in value.get("tare_sd_counts", ())),
                   source=str(value.get("source", "")), warnings=tuple(value.get("warnings", ())))


def save_calibration(store, calibration: Calibration, *, rehearsal: bool = False) -> None:
    """Keep the calibration in the store's settings (it replaces the previous one).

    ``rehearsal=True`` (a simulated plate) keeps it apart, so a rehearsal never replaces the plate's own.
    """
    store.set_setting(REHEARSAL_KEY if rehearsal else SETTING_KEY, calibration.to_json())


def load_calibration(store, *, rehearsal: bool = False) -> Calibration | None:
    """The stored calibration, or None when the plate was never calibrated (or the value is unreadable)."""
    value = store.setting(REHEARSAL_KEY if rehearsal else SETTING_KEY)
    if not isinstance(value, dict):
        return None
    try:
        return Calibration.from_json(value)
    except (KeyError, TypeError, ValueError):
        return None


def save_tare(store, offset_counts, *, tared_at: str | None = None, tare_sd_counts=None) -> Calibration | None:
    """Replace the stored offsets with a new tare (the panel's long press); the scales stay.

    Returns the updated calibration, or None (nothing saved) when there is no calibration to re-tare or the
    tare has another number of cells.
    """
    calibration = load_calibration(store)
    offsets = tuple(float(v) for v in np.asarray(offset_counts, dtype=np.float64).reshape(-1))
    if calibration is None or len(offsets) != calibration.channels:
        return None
    sds = calibration.tare_sd_counts if tare_sd_counts is None else tuple(float(v) for v in tare_sd_counts)
    updated = replace(calibration, offset_counts=offsets, tared_at=tared_at or _utc_now(), tare_sd_counts=sds)
    save_calibration(store, updated)
    return updated


def apply_calibration(source, calibration: Calibration | None) -> bool:
    """Give a source the stored calibration (sets ``offset_counts`` and ``scale_n_per_count``).

    Only a hardware source takes it (a simulated or replayed plate has its exact calibration already), and
    only one with as many cells. Clears the source's "not calibrated" warning. Returns True when applied.
    """
    if calibration is None or getattr(source, "is_simulated", True):
        return False
    if calibration.channels != int(source.channels):
        return False
    source.offset_counts = np.asarray(calibration.offset_counts, dtype=np.float64)
    source.scale_n_per_count = np.asarray(calibration.scale_n_per_count, dtype=np.float64)
    if getattr(source, "warning", None) and "not calibrated" in source.warning:
        source.warning = None
    return True


def calibration_reminder(calibration: Calibration | None, *, now: _dt.datetime | None = None,
                         max_age_days: float = DEFAULT_MAX_AGE_DAYS, auto_zero=None) -> str | None:
    """One sentence telling the user to (re)calibrate, or None when all is well.

    Parameters
    ----------
    calibration : Calibration or None
        ``load_calibration(store)``; None means never calibrated.
    now : datetime, optional
        Aware datetime (UTC) to judge the age against; default now.
    max_age_days : float
        A calibration older than this is due again (days). Load cells creep, and a plate gets moved.
    auto_zero : forceplate.signal.calibration.AutoZero, optional
        The live pipeline's drift tracker; when it ``needs_attention`` the empty plate has drifted.
    """
    if calibration is None:
        return "The plate has never been calibrated: forces are rough guesses. Run `forceplate calibrate`."
    if auto_zero is not None and auto_zero.needs_attention:
        return (f"The empty plate has drifted {auto_zero.drift_n:+.0f} N since it was tared: check that nothing "
                "touches or rests on it, then hold the button 2 s to tare, or run `forceplate calibrate`.")
    age = calibration.age_days(now)
    if age > max_age_days:
        when = _parse_time(calibration.calibrated_at).date().isoformat()
        return (f"The plate was last calibrated {int(age)} days ago ({when}): calibrate it again with the "
                "known mass (`forceplate calibrate`).")
    return None


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _parse_time(text: str) -> _dt.datetime:
    when = _dt.datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)


# ------------------------------------------------------------------ the chips' filter, as the doctor fitted it

FILTER_KEY = "hx711_filter"
FILTER_REHEARSAL_KEY = "hx711_filter_rehearsal"     # fitted on emulated or simulated chips: never the plate's


def save_filter_fit(store, fit: dict, *, source: str = "", rehearsal: bool = False, fitted_at: str | None = None
                    ) -> None:
    """Keep what `forceplate doctor`'s filter self-check fitted (``doctor.FilterFit.to_json()``): the order
    of the chips' filter, the residuals, when and on which source. ``rehearsal`` keeps it apart."""
    value = dict(fit, fitted_at=fitted_at or _utc_now(), source=str(source))
    store.set_setting(FILTER_REHEARSAL_KEY if rehearsal else FILTER_KEY, value)


def load_filter_fit(store, *, rehearsal: bool = False) -> dict | None:
    """The stored filter fit, or None."""
    value = store.setting(FILTER_REHEARSAL_KEY if rehearsal else FILTER_KEY)
    return value if isinstance(value, dict) else None


def load_filter_model(store, *, rehearsal: bool = False):
    """The HX711 filter model the estimates should use on this plate: the fitted order when the doctor's
    ball drops fitted one (at the noise level), with the default model's delay (a ball cannot measure a
    delay, and a delay moves an estimate's instant, never its peak); None when nothing usable is stored."""
    from ..signal.hx711_model import DEFAULT_MODEL, Hx711Model
    fit = load_filter_fit(store, rehearsal=rehearsal)
    if fit is None:
        return None
    try:
        order = int(fit.get("use_order", fit["order"]))
        return Hx711Model(order=order, delay_s=float(fit.get("delay_s", DEFAULT_MODEL.delay_s)))
    except (KeyError, TypeError, ValueError):
        return None

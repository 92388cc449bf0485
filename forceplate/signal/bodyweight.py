"""Body weight from quiet standing.

Standing still, the body does not accelerate, so the plate reads exactly the body's weight: F = m g. The
quietest second of standing gives it; "quiet" means its standard deviation is at most max(1 % of the mean, 5 N)
(a person who sways, shifts or moves gives no weight), and "standing" means the mean is a plausible weight
(20-300 kg), so an empty plate or a person half off it is not weighed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import STANDARD_GRAVITY_M_S2, Rolling, as_force, check_rate, rolling_stats, sample_times, window_ok

MIN_BODY_MASS_KG = 20.0
MAX_BODY_MASS_KG = 300.0


@dataclass(frozen=True)
class BodyWeight:
    """The result of weighing.

    Attributes
    ----------
    weight_n : float or None
        Body weight in newtons (N), None when no quiet second of standing was found.
    sd_n : float or None
        Standard deviation (N) of the force over the window used (of the quietest window seen, when rejected).
    start_s, end_s : float or None
        Where the window lies (s, on the trace's clock).
    method : str
        How the weight was obtained, or why there is none (e.g. "no quiet second: stand still").
    """

    weight_n: float | None
    sd_n: float | None
    start_s: float | None
    end_s: float | None
    method: str

    @property
    def mass_kg(self) -> float | None:
        """Body mass (kg) = weight / standard gravity (9.80665 m/s^2)."""
        return None if self.weight_n is None else self.weight_n / STANDARD_GRAVITY_M_S2

    @classmethod
    def from_mass(cls, mass_kg: float) -> "BodyWeight":
        """A weight given as a mass (kg), e.g. from ``--body-mass``: W = m x 9.80665 m/s^2."""
        return cls(weight_n=mass_kg * STANDARD_GRAVITY_M_S2, sd_n=None, start_s=None, end_s=None,
                   method=f"given body mass {mass_kg:g} kg x 9.80665 m/s^2")


def quiet_mask(mean_n: np.ndarray, sd_n: np.ndarray, *, max_sd_fraction: float = 0.01, max_sd_n: float = 5.0,
               min_weight_n: float = MIN_BODY_MASS_KG * STANDARD_GRAVITY_M_S2,
               max_weight_n: float = MAX_BODY_MASS_KG * STANDARD_GRAVITY_M_S2) -> np.ndarray:
    """Which windows are quiet standing: SD <= max(max_sd_fraction x mean, max_sd_n) and a plausible weight."""
    return ((sd_n <= np.maximum(max_sd_fraction * mean_n, max_sd_n))
            & (mean_n >= min_weight_n) & (mean_n <= max_weight_n))


def estimate_body_weight(force_n, rate_hz, *, t_s=None, valid=None, window_s: float = 1.0,
                         max_sd_fraction: float = 0.01, max_sd_n: float = 5.0,
                         min_weight_n: float = MIN_BODY_MASS_KG * STANDARD_GRAVITY_M_S2,
                         max_weight_n: float = MAX_BODY_MASS_KG * STANDARD_GRAVITY_M_S2,
                         rolling: Rolling | None = None) -> BodyWeight:
    """Weigh the person from the quietest window of standing.

    Among all windows of `window_s` whose mean is a plausible standing weight, the one with the smallest
    standard deviation; accepted when that SD is at most max(`max_sd_fraction` x mean, `max_sd_n`).

    Parameters
    ----------
    force_n : array_like, shape (n,)
        Total vertical force in newtons (N). Not modified.
    rate_hz : float
        Sample rate in hertz (Hz).
    t_s : array_like, shape (n,), optional
        Sample times (s) for the reported window; default ``i / rate_hz``.
    valid : array_like of bool, shape (n,), optional
        False marks samples that are not readings (e.g. a lost HX711 word); windows touching them are skipped.
    window_s : float
        Length of the weighing window in seconds (s).
    max_sd_fraction, max_sd_n : float
        Quiet means SD <= max(max_sd_fraction x mean, max_sd_n (N)).
    min_weight_n, max_weight_n : float
        A plausible standing weight (N): by default 20-300 kg x 9.80665 m/s^2.
    rolling : Rolling, optional
        The rolling mean and SD of `force_n` (from ``_common.rolling_stats``), when the caller already has
        them for windows of `window_s`: not computed again. Ignored when they are for another window length.

    Returns
    -------
    BodyWeight
        ``weight_n`` None, with the reason in ``method``, when no window qualifies.
    """
    force_n = as_force(force_n)
    rate_hz = check_rate(rate_hz)
    t_s = sample_times(force_n.shape[0], rate_hz, t_s)
    window = max(2, int(round(window_s * rate_hz)))
    if rolling is None or not rolling.fits(force_n.shape[0], window):
        rolling = rolling_stats(force_n, window)
    mean, sd = rolling.mean_n, rolling.sd_n
    if mean.size == 0:
        return BodyWeight(None, None, None, None, f"recording shorter than {window_s:g} s: no weighing")
    standing = (mean >= min_weight_n) & (mean <= max_weight_n)
    if valid is not None:
        standing &= window_ok(valid, window, mean.size)
    if not standing.any():
        return BodyWeight(None, None, None, None, "nobody stood on the plate: step on and stand still")
    k = int(np.flatnonzero(standing)[np.argmin(sd[standing])])
    start_s, end_s = float(t_s[k]), float(t_s[k + window - 1])
    limit_n = max(max_sd_fraction * mean[k], max_sd_n)
    if sd[k] > limit_n:
        return BodyWeight(None, float(sd[k]), start_s, end_s,
                          f"no quiet second: stand still (quietest {window_s:g} s moved {sd[k]:.0f} N SD, "
                          f"limit {limit_n:.0f} N)")
    return BodyWeight(float(mean[k]), float(sd[k]), start_s, end_s,
                      f"mean of the quietest {window_s:g} s of standing (SD {sd[k]:.1f} N)")

"""A session in a few numbers: reps, thumps, intensity bands and the Osteogenic Index.

Intensity is the peak ground-reaction force in body weights (BW). The bands and the caution line are the
project's configurable defaults, not published cut-offs:

======================  ==========================
band                    peak (BW)
======================  ==========================
``non-impact``          below 1.5
``low``                 1.5 to below 2
``moderate``            2 to below 3
``high``                3 to below 4
``very high``           4 and above
======================  ==========================

and a peak above 5 BW is a *caution* (worth a word with the person's physiotherapist; the analysis cannot
tell whether it was meant).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

# Lower edge (BW) of each band, in order; a peak belongs to the last band whose edge it reaches.
INTENSITY_BANDS = (("non-impact", 0.0), ("low", 1.5), ("moderate", 2.0), ("high", 3.0), ("very high", 4.0))
CAUTION_BW = 5.0


def intensity_band(peak_bw: float | None, bands=INTENSITY_BANDS) -> str | None:
    """The intensity band of a peak (BW): the last band whose lower edge it reaches; None without a peak."""
    if peak_bw is None or not math.isfinite(peak_bw):
        return None
    name = bands[0][0]
    for band, lower_bw in bands:
        if peak_bw >= lower_bw:
            name = band
    return name


def is_caution(peak_bw: float | None, caution_bw: float = CAUTION_BW) -> bool | None:
    """True when a peak is above `caution_bw` body weights (strictly); None without a peak."""
    if peak_bw is None or not math.isfinite(peak_bw):
        return None
    return bool(peak_bw > caution_bw)


@dataclass(frozen=True)
class SessionSummary:
    """What a session's loading events add up to.

    Attributes
    ----------
    reps : int
        Loading events with a peak: impacts and jump landings (a jump that ends in flight has none).
    thumps : int or None
        Reps whose peak reached ``thump_bw``; None when no peak has a body-weight value.
    median_peak_bw : float or None
        Median peak of the reps, body weights (BW); None without reps or body weight.
    osteogenic_index : float or None
        median_peak_bw x ln(reps + 1); 0 for no reps; None when reps have no body-weight value.
    osteogenic_index_method : str
    intensity_counts : dict of str to int, or None
        Reps per band (every band present, zeros included), see :data:`INTENSITY_BANDS`.
    cautions : int or None
        Reps whose peak is above ``caution_bw``.
    thump_bw, caution_bw : float
        The thresholds used (BW).
    """

    reps: int
    thumps: int | None
    median_peak_bw: float | None
    osteogenic_index: float | None
    osteogenic_index_method: str
    intensity_counts: dict | None
    cautions: int | None
    thump_bw: float
    caution_bw: float

    def as_dict(self) -> dict:
        """JSON-ready (numbers rounded to the plate's resolution)."""
        return {"reps": self.reps, "thumps": self.thumps,
                "median_peak_bw": None if self.median_peak_bw is None else round(self.median_peak_bw, 3),
                "osteogenic_index": None if self.osteogenic_index is None else round(self.osteogenic_index, 3),
                "osteogenic_index_method": self.osteogenic_index_method,
                "intensity_counts": None if self.intensity_counts is None else dict(self.intensity_counts),
                "cautions": self.cautions, "thump_bw": self.thump_bw, "caution_bw": self.caution_bw}


OSTEOGENIC_INDEX_METHOD = ("median peak (BW) x ln(reps + 1), after Turner & Robling's osteogenic index "
                           "(intensity x ln(1 + number of loading cycles)), Exerc Sport Sci Rev 2003;31(1):45-50")


def osteogenic_index(peaks_bw) -> float:
    """Median peak (BW) x ln(reps + 1), after Turner & Robling (2003); 0 without reps."""
    peaks = list(peaks_bw)
    return statistics.median(peaks) * math.log(len(peaks) + 1) if peaks else 0.0


def summarize_session(events, *, thump_bw: float = 2.5, caution_bw: float = CAUTION_BW,
                      bands=INTENSITY_BANDS) -> SessionSummary:
    """Count a session's reps and rate its loading.

    Osteogenic Index (OI) = median peak (BW) x ln(reps + 1): bone responds to the size of the strain and
    ever less to each further cycle, so the count enters through a logarithm (Turner & Robling 2003, who
    weigh intensity x ln(1 + cycles); the median peak as the intensity is this project's choice). With no
    reps, ln(1) = 0 and the OI is 0.

    Parameters
    ----------
    events : iterable of dict or of Impact / Jump
        Contract events (``forceplate analyze`` ``events``, or the live page's) or the detectors' results;
        each needs ``peak_bw`` (BW, None without body weight) and, for dicts, may carry ``peak_n``. An event
        with neither peak (a jump that ends in flight) is not a rep.
    thump_bw : float
        A rep reaching this many body weights is a thump.
    caution_bw : float
        A rep above this many body weights is a caution (default 5 BW).
    bands : sequence of (name, lower edge in BW)
        Intensity bands, ascending; default :data:`INTENSITY_BANDS`.

    Returns
    -------
    SessionSummary
    """
    peaks_bw, with_peak = [], 0
    for event in events:
        peak_bw = event.get("peak_bw") if isinstance(event, dict) else getattr(event, "peak_bw", None)
        peak_n = event.get("peak_n") if isinstance(event, dict) else getattr(event, "peak_n", None)
        if peak_bw is not None and math.isfinite(peak_bw):
            peaks_bw.append(float(peak_bw))
            with_peak += 1
        elif peak_n is not None and math.isfinite(peak_n):
            with_peak += 1                    # a peak, but no body weight to measure it in
    reps = with_peak
    if reps and len(peaks_bw) < reps:         # no (or partial) body weight: no intensities
        return SessionSummary(reps, None, None, None, "no body weight: peaks cannot be rated", None, None,
                              thump_bw, caution_bw)
    counts = {name: 0 for name, _ in bands}
    for peak in peaks_bw:
        counts[intensity_band(peak, bands)] += 1
    median = float(np.median(peaks_bw)) if peaks_bw else None
    oi = osteogenic_index(peaks_bw)
    return SessionSummary(reps=reps, thumps=sum(1 for p in peaks_bw if p >= thump_bw), median_peak_bw=median,
                          osteogenic_index=oi, osteogenic_index_method=OSTEOGENIC_INDEX_METHOD,
                          intensity_counts=counts, cautions=sum(1 for p in peaks_bw if p > caution_bw),
                          thump_bw=thump_bw, caution_bw=caution_bw)

"""ConversionClock: the chips' conversion instants on a regular grid, estimated from jittery read times.

An HX711 converts on its own oscillator (80-94 SPS with RATE high; a plate's four chips run in lock-step
at the slowest one's pace), so the instants its sets get ready at are evenly spaced. The sampler notices
data-ready some time later and stamps the set with that read time: late by the thread's wake-up latency,
tens to hundreds of microseconds that vary set to set (and milliseconds now and then). That variation is
noise of our read, not information about the samples, and it is expensive to store (the store codes the
second differences of the times losslessly: an even clock costs nothing, jitter ~3 bytes a set).

``ConversionClock.stamp`` is causal and streaming (batch after batch, int64 ns in, int64 ns out). It puts
each set on a grid ``anchor + k * step_ns``:

- Slots. A read about ``m`` periods after the previous one takes ``m`` slots on (``round(gap / step)``,
  at least one), so missed sets stay gaps.
- Windows. ``step_ns`` is an integer and stays constant for a window of ``window`` slots (64), so the
  second differences of the output are zero within a window; at a window's end the step changes once.
- The lower envelope. A read is never early, so the earliest reads are the closest to the true instants.
  At each window's end the clock takes, for each block of a quarter window (16 slots), its earliest read
  (``quantile`` 0; a low quantile would ignore rare very early reads), and fits a least-squares line
  through these block floors of the last ``history`` windows (slot number against read time). Its slope
  is the period (the chip's real rate, which drifts slowly with temperature); the new step is chosen so
  that the grid meets that line, extended, at the next window's end: offset and rate are corrected
  together by one change of slope. When the newest window's floors all lie more than ``kink_ns`` off
  the line (the rate changed), the line is fitted to the newest window alone.
- Start. Until the first window's end the output is the read time itself (the grid is not known yet);
  slots are counted with the mean measured interval so far (nominal rate first), so a chip that runs at
  94 SPS although nominally 80 is learnt from the first window's reads.
- Off the grid. A read further than ``resync_ns`` (a quarter of the nominal period) from its grid slot
  is stamped ``resync_ns`` from its read time, towards the grid, and left out of the fits: a stall of the
  sampler thread. Three such reads in a row (the chips' restart after a power-down, a sudden change of
  rate) re-anchor: the output is the read time again until the next window's fit, from a fresh history
  (the learnt period is kept for counting slots).

Guarantees (tests/test_timebase.py): the output is strictly increasing and never further than
``resync_ns`` from its read time, whatever the input (strictly increasing), however it is batched.
With reads late by 20 us plus exponential latency (mean 100 us) the output follows the true instants
plus the minimum latency within about 20 us once locked (tested: 50 us), and the step averages the true
period within a few ns (each window's step also carries that window's offset correction: up to ~0.3 us).
"""
from __future__ import annotations

import numpy as np

DEFAULT_WINDOW = 64             # slots per constant step: about 0.75 s at 86 SPS
DEFAULT_HISTORY = 4             # windows of reads behind each fit
RESYNC_AFTER = 3                # reads in a row off the grid that re-anchor it (one is a stall)


class ConversionClock:
    """Regular conversion instants from measured read times (see the module docstring).

    Parameters
    ----------
    rate_hz : float
        The nominal rate (sets per second); the real one is learnt.
    window : int
        Slots per window: the step stays constant for that many slots.
    history : int
        How many windows of reads each fit looks at (longer: a steadier period, slower to follow drift).
    resync_ns : int, optional
        A read further than this from the grid is off it; default a quarter of the nominal period.
    quantile : float
        Which quantile of each block's reads the fit goes through (0: the earliest read).

    Attributes
    ----------
    step_ns : int
        The grid's current step.
    period_ns : float
        The estimated period (ns per slot) of the chips.
    locked : bool
        True once the first window has been fitted (before, the output is the read time).
    resyncs : int
        How often a read was too far from the grid and re-anchored it.
    read_late_us : dict or None
        The last completed window's read time minus stamped time (us): min, p50, p99, max.
    """

    def __init__(self, rate_hz: float, *, window: int = DEFAULT_WINDOW, history: int = DEFAULT_HISTORY,
                 resync_ns: int | None = None, quantile: float = 0.0):
        if not rate_hz > 0:
            raise ValueError("rate_hz must be positive")
        self.nominal_ns = max(2, int(round(1e9 / float(rate_hz))))
        self.window = max(2, int(window))
        self.history = max(1, int(history))
        self.resync_ns = int(resync_ns) if resync_ns is not None else self.nominal_ns // 4
        self.kink_ns = self.resync_ns // 32
        self.block = max(1, self.window // 4)
        self.quantile = quantile
        self.period_ns = float(self.nominal_ns)
        self.step_ns = self.nominal_ns
        self.locked = False
        self.resyncs = 0
        self.read_late_us: dict | None = None
        self._last = None           # the last output (ns); None before the first set
        self._grid = None           # the grid's time at the last slot (the last output unless off the grid)
        self._off_grid = 0          # reads in a row off the grid
        self._slot = 0              # its slot number, counted from the last re-anchoring
        self._window_start = 0      # the slot the current window began at
        self._points: list[tuple[int, int]] = []     # (slot, read time) since re-anchoring, last windows
        self._late: list[int] = []  # read minus output over the current window

    def stamp(self, t_ns) -> np.ndarray:
        """The conversion instants (int64 ns) of sets read at ``t_ns`` (int64 ns, increasing), in order."""
        t_ns = np.asarray(t_ns, dtype=np.int64)
        out = np.empty(t_ns.shape, dtype=np.int64)
        for i, t in enumerate(t_ns.tolist()):
            out[i] = self._stamp_one(t)
        return out

    # -- one set
    def _stamp_one(self, t: int) -> int:
        last = self._last
        if last is None:
            self._anchor(t, t)
            return t
        step = self.step_ns
        m = max(1, (2 * (t - self._grid) + step) // (2 * step))   # round(gap / step): missed sets stay gaps
        slot = self._slot + m
        if not self.locked:
            out = max(t, last + 1)
        else:
            out = self._grid + m * step
            if abs(t - out) > self.resync_ns:       # off the grid: a stall, or (again and again) a restart
                self._off_grid += 1
                if self._off_grid >= RESYNC_AFTER:
                    self.resyncs += 1
                    self._anchor(max(t, last + 1), t)
                    return self._last
                self._slot, self._grid = slot, out
                self._last = max(min(max(out, t - self.resync_ns), t + self.resync_ns), last + 1)
                return self._last
            out = max(out, last + 1)                # only ever raised after an off-grid read
        self._off_grid = 0
        self._points.append((slot, t))
        if not self.locked:                                     # count slots with the mean interval so far
            k0, t0 = self._points[0]
            self.step_ns = max(1, int(round((t - t0) / (slot - k0))))
        self._slot = slot
        if slot - self._window_start >= self.window:
            out = self._end_window(t, out, last)
        self._last = self._grid = out
        self._late.append(t - out)
        return out

    def _anchor(self, out: int, t: int) -> None:
        """Start afresh at ``out`` (for the read ``t``): read times until the next window's fit."""
        self._last = self._grid = out
        self._slot, self._window_start, self._off_grid = 0, 0, 0
        self._points = [(0, t)]
        self._late = []
        self.locked = False
        self.step_ns = max(1, int(round(self.period_ns)))

    def _end_window(self, t: int, out: int, before: int) -> int:
        """Fit the reads' lower envelope and choose the step that meets it at the next window's end.

        ``t`` is the read that ends the window, ``out`` its stamp so far, ``before`` the previous stamp.
        Returns its stamp: unchanged when locked (the grid only changes its step), else on the envelope.
        """
        w = self.window
        self._points = [p for p in self._points if p[0] > self._slot - self.history * w]
        k0, t0 = self._points[0]
        ref = self.period_ns if self.locked else float(self.step_ns)
        ks = [k - k0 for k, _ in self._points]
        rs = [(tk - t0) - k * ref for k, (_, tk) in zip(ks, self._points)]     # residuals: small floats
        bk, br = _block_floor(ks, rs, self.block, self.quantile)
        slope, k_mid, r_mid = _line(bk, br)
        newest = sum(1 for k in bk if k + k0 <= self._window_start)
        if newest > 1 and len(bk) - newest > 1:
            off = [r - r_mid - slope * (k - k_mid) for k, r in zip(bk[newest:], br[newest:])]
            if min(off) > self.kink_ns or max(off) < -self.kink_ns:
                # the newest window lies off the line: the rate changed (the lock-step pace passed to a
                # slower chip), so the older reads mislead; fit the newest window alone
                slope, k_mid, r_mid = _line(bk[newest:], br[newest:])
        if not 0.5 * self.nominal_ns <= ref + slope <= 2.0 * self.nominal_ns:
            slope, k_mid, r_mid = 0.0, 0, float(np.quantile(rs, self.quantile))   # nonsense from nonsense input: keep the period

        def envelope(slot):
            k = slot - k0
            return t0 + k * ref + r_mid + slope * (k - k_mid)

        if not self.locked:         # the first fit: from the read time to the envelope, within bounds
            out = min(max(int(round(envelope(self._slot))), before + 1, t - self.resync_ns), t + self.resync_ns)
        self.period_ns = ref + slope
        step = int(round((envelope(self._slot + w) - out) / w))
        self.step_ns = min(max(step, int(self.period_ns) // 2, 1), int(2 * self.period_ns))
        self.locked = True
        self._window_start = self._slot
        late = np.asarray(self._late + [t - out], dtype=np.float64) / 1000.0
        self.read_late_us = {"min": float(late.min()), "p50": float(np.median(late)),
                             "p99": float(np.percentile(late, 99)), "max": float(late.max())}
        self._late = []
        return out


def _block_floor(ks, rs, block, quantile):
    """Per block of ``block`` slots: (mean slot, ``quantile`` of the residuals) where it has 3+ reads."""
    bk, br = [], []
    i = 0
    while i < len(ks):
        j = i
        while j < len(ks) and ks[j] // block == ks[i] // block:
            j += 1
        if j - i >= 3:
            bk.append(sum(ks[i:j]) / (j - i))
            br.append(float(np.quantile(rs[i:j], quantile)))
        i = j
    return bk, br


def _line(ks, rs):
    """Least-squares line through (ks, rs): (slope, k, r) of its point over the mean k."""
    if not ks:
        return 0.0, 0, 0.0
    k_mean, r_mean = sum(ks) / len(ks), sum(rs) / len(rs)
    sxx = sum((k - k_mean) ** 2 for k in ks)
    if sxx == 0:
        return 0.0, k_mean, r_mean
    return sum((k - k_mean) * (r - r_mean) for k, r in zip(ks, rs)) / sxx, k_mean, r_mean

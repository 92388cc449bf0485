"""Recorded force traces: read the CSV format of docs/contracts.md section 1.

A header row; an optional ``t_s`` column of strictly increasing sample times in seconds; every column whose
name ends in ``_n`` is a vertical force in newtons (their sum is the total force); other columns are ignored.
``-`` reads standard input. A sample rate given by the caller wins over ``t_s`` (sample ``i`` is then at
``i / rate``).

Big files are parsed by numpy in one pass. Only when that fails do we walk the lines one by one, to name the
line and the cell at fault: every error is a :class:`~forceplate.exc.TraceFormatError` whose message reads
``run.csv:12: 'abc' in column fz_n is not a number``.
"""
from __future__ import annotations

import io
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..exc import TraceFormatError

TIME_COLUMN = "t_s"
FORCE_SUFFIX = "_n"
STDIN_PATH = "-"
STDIN_NAME = "<stdin>"


@dataclass(frozen=True)
class Trace:
    """A recorded force trace, read-only.

    Attributes
    ----------
    t_s : ndarray, shape (n,), float64
        Sample times in seconds (s): the file's ``t_s``, or ``i / rate_hz`` when a rate was given or there is
        no ``t_s``.
    force_n : ndarray, shape (n, ch), float64
        Vertical force in newtons (N), one column per ``*_n`` column of the file, in file order.
    columns : tuple of str
        The names of the force columns, in the order of ``force_n``'s columns.
    rate_hz : float
        Sample rate in hertz (Hz): the given rate, else ``1 / median(diff(t_s))``.
    path : str
        The path as given (``"-"`` for standard input).
    """

    t_s: np.ndarray
    force_n: np.ndarray
    columns: tuple
    rate_hz: float
    path: str
    name: str = field(default="", compare=False)   # how messages name the file: the path, or <stdin>

    @property
    def total_force_n(self) -> np.ndarray:
        """Total vertical force (N), shape (n,): the sum of the force columns."""
        return self.force_n.sum(axis=1)

    @property
    def n_samples(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds: samples / rate (5000 samples at 1000 Hz last 5.0 s)."""
        return self.n_samples / self.rate_hz


def read_trace(path, *, rate_hz: float | None = None) -> Trace:
    """Read a force trace CSV (docs/contracts.md section 1).

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file, or ``"-"`` for standard input. UTF-8, a byte-order mark is tolerated.
    rate_hz : float, optional
        Sample rate in hertz (Hz). When given it wins over the file's ``t_s`` column, which is then ignored,
        and sample ``i`` is at ``i / rate_hz`` seconds. Required when the file has no ``t_s`` column.

    Returns
    -------
    Trace

    Raises
    ------
    TraceFormatError
        On any fault of the file or the rate; the message names the file, the line (where there is one) and
        what is wrong. It is a ``ValueError`` too.
    """
    path_str = str(path)
    name = STDIN_NAME if path_str == STDIN_PATH else path_str
    if rate_hz is not None:
        _check_rate(name, rate_hz)
    text = _read_text(path_str, name)

    lines = text.splitlines()
    while lines and not lines[-1].strip():       # blank trailing lines are tolerated
        lines.pop()
    if not lines:
        raise TraceFormatError(f"{name}: the file is empty (expected a header row such as t_s,fz_n)")
    header = [_clean_name(cell) for cell in lines[0].split(",")]
    force_cols = [i for i, col in enumerate(header) if col.endswith(FORCE_SUFFIX)]
    time_col = header.index(TIME_COLUMN) if TIME_COLUMN in header else None
    _check_header(name, header, force_cols)
    if time_col is None and rate_hz is None:
        raise TraceFormatError(f"{name}: there is no {TIME_COLUMN} column, so the sample rate must be given "
                               f"(--rate HZ)")
    body = lines[1:]
    if not body:
        raise TraceFormatError(f"{name}: the header is there but no data rows follow")

    use_time = time_col is not None and rate_hz is None   # with a given rate, t_s is ignored entirely
    numeric_cols = force_cols + ([time_col] if use_time else [])
    values = _parse_fast(body, len(header), numeric_cols)
    if values is None:                                    # something is wrong: find and name it
        values = _parse_careful(name, body, header, numeric_cols)

    force_n = np.ascontiguousarray(values[:, :len(force_cols)])
    n = force_n.shape[0]
    if use_time:
        t_s = np.ascontiguousarray(values[:, len(force_cols)])
        steps = np.diff(t_s)
        bad = np.flatnonzero(~(steps > 0))
        if bad.size:
            i = int(bad[0]) + 1
            raise TraceFormatError(f"{name}:{i + 2}: {TIME_COLUMN} {_fmt(t_s[i])} is not after the previous "
                                   f"{_fmt(t_s[i - 1])} (times must be strictly increasing)")
        if n < 2:
            raise TraceFormatError(f"{name}: one sample cannot give the sample rate; give it (--rate HZ)")
        rate = _rate_from_times(t_s, steps)
    else:
        rate = float(rate_hz)
        t_s = np.arange(n, dtype=np.float64) / rate
    t_s.setflags(write=False)
    force_n.setflags(write=False)
    return Trace(t_s=t_s, force_n=force_n, columns=tuple(header[i] for i in force_cols), rate_hz=rate,
                 path=path_str, name=name)


def _rate_from_times(t_s: np.ndarray, steps: np.ndarray) -> float:
    """Samples per second from the times: the mean step when there are no gaps (it averages away the
    rounding of printed times and a real chip's jitter), else the median step (a gap does not shift it)."""
    median_s = float(np.median(steps))
    if float(steps.max()) < 1.5 * median_s:
        return float((t_s.shape[0] - 1) / (t_s[-1] - t_s[0]))
    return 1.0 / median_s


def _check_rate(name: str, rate_hz) -> None:
    try:
        ok = math.isfinite(rate_hz) and rate_hz > 0
    except TypeError:
        ok = False
    if not ok:
        raise TraceFormatError(f"{name}: sample rate {rate_hz!r} Hz is not a positive number")


def _read_text(path: str, name: str) -> str:
    try:
        if path == STDIN_PATH:
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
        else:
            data = Path(path).read_bytes()
    except FileNotFoundError:
        raise TraceFormatError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise TraceFormatError(f"{name}: is a folder, not a CSV file") from None
    except OSError as exc:
        raise TraceFormatError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")               # utf-8-sig drops a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise TraceFormatError(f"{name}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


def _clean_name(cell: str) -> str:
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == cell[-1] == '"':
        cell = cell[1:-1].strip()
    return cell


def _check_header(name: str, header: list, force_cols: list) -> None:
    if not force_cols:
        shown = ", ".join(h or "''" for h in header)
        raise TraceFormatError(f"{name}:1: no force column (a column whose name ends in {FORCE_SUFFIX}); "
                               f"the header has: {shown}")
    seen = set()
    for col in header:
        if col and col in seen and (col == TIME_COLUMN or col.endswith(FORCE_SUFFIX)):
            raise TraceFormatError(f"{name}:1: column {col} appears twice in the header")
        seen.add(col)


def _parse_fast(body: list, n_cols: int, numeric_cols: list) -> np.ndarray | None:
    """All the numeric columns as (n, k) float64, or None when any row is faulty (the careful path says why)."""
    if len(numeric_cols) == 0:
        return None
    # A row with the wrong number of cells, or an empty line, is a fault numpy would not always see.
    if any(line.count(",") != n_cols - 1 for line in body):
        return None
    try:
        values = np.loadtxt(io.StringIO("\n".join(body)), delimiter=",", usecols=numeric_cols, ndmin=2,
                            dtype=np.float64, comments=None, encoding=None)
    except ValueError:
        return None
    if values.shape != (len(body), len(numeric_cols)) or not np.isfinite(values).all():
        return None
    return values


def _parse_careful(name: str, body: list, header: list, numeric_cols: list) -> np.ndarray:
    """Line by line; raises naming the first faulty line. Also the reference for what _parse_fast accepts."""
    values = np.empty((len(body), len(numeric_cols)), dtype=np.float64)
    for row, line in enumerate(body):
        lineno = row + 2                       # the header is line 1
        if not line.strip():
            raise TraceFormatError(f"{name}:{lineno}: empty line inside the data")
        cells = line.split(",")
        if len(cells) != len(header):
            raise TraceFormatError(f"{name}:{lineno}: {len(cells)} cells, but the header has {len(header)}")
        for k, col in enumerate(numeric_cols):
            cell = cells[col].strip()
            if not cell:
                raise TraceFormatError(f"{name}:{lineno}: empty cell in column {header[col]}")
            try:
                value = float(cell)
            except ValueError:
                raise TraceFormatError(f"{name}:{lineno}: {cell[:40]!r} in column {header[col]} "
                                       f"is not a number") from None
            if not math.isfinite(value):
                raise TraceFormatError(f"{name}:{lineno}: {cell[:40]!r} in column {header[col]} "
                                       f"is not a finite number")
            values[row, k] = value
    return values


def _fmt(x: float) -> str:
    return f"{x:.10g}"

"""Recorded force traces: read the CSV format of docs/contracts.md section 1.

A header row; an optional ``t_s`` column of strictly increasing sample times in seconds; every column whose
name ends in ``_n`` is a vertical force in newtons (their sum is the total force); other columns are ignored.
``-`` reads standard input. A sample rate given by the caller wins over ``t_s`` (sample ``i`` is then at
``i / rate``).

The file is read in blocks of about a megabyte, each parsed by numpy into growing float64 arrays, so memory
holds the numbers and one block of text, never the whole text. Only when numpy fails on a block do we walk its
lines one by one, to name the line and the cell at fault: every error is a
:class:`~forceplate.exc.TraceFormatError` whose message reads ``run.csv:12: 'abc' in column fz_n is not a
number``. A line longer than ``max_line_bytes`` and a file with more rows than ``max_samples`` (by default what
this machine can analyse in a quarter of its available memory, see :func:`sample_limit`) are refused the same
way, as soon as they are seen.
"""
from __future__ import annotations

import codecs
import math
import sys
from dataclasses import dataclass, field

import numpy as np

from ..exc import TraceFormatError

TIME_COLUMN = "t_s"
FORCE_SUFFIX = "_n"
STDIN_PATH = "-"
STDIN_NAME = "<stdin>"

# A trace's row is a few numbers; 64 KiB is thousands of columns. Anything longer is not a trace (a binary
# file, /dev/zero, one gigabyte on one line), and refusing it early keeps memory at one block of text.
MAX_LINE_BYTES = 64 * 1024
READ_BYTES = 1 << 20              # text read and parsed at a time: about 60 000 rows of a one-column trace
# The default sample limit: what `forceplate analyze` can hold, from reading through the analysis, in this
# share of the memory available when it starts (the rest is for everything else on a 512 MB Pi Zero 2 W).
MEMORY_SHARE = 0.25
# Peak memory of `forceplate analyze` per sample above the interpreter's own, in bytes: measured 76 (10 M
# rows) and 81 (2 M) with one force column, 101 with four (2 M; bench/csv_memory.py), rounded up. The
# analysis sets it (its temporaries); the reader's own peak is about 8 bytes per number plus 8 per row.
ANALYSIS_BYTES_PER_SAMPLE = 80
ANALYSIS_BYTES_PER_FORCE_COLUMN = 8
# However much memory there is: 50 M samples are 14 hours at 1 kHz, a week at the HX711's 80 SPS, and
# minutes of CPU for the analysis on a Pi.
MAX_SAMPLES_CAP = 50_000_000
MEMINFO = "/proc/meminfo"


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


def read_trace(path, *, rate_hz: float | None = None, max_line_bytes: int = MAX_LINE_BYTES,
               max_samples: int | None = None) -> Trace:
    """Read a force trace CSV (docs/contracts.md section 1).

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file, or ``"-"`` for standard input. UTF-8, a byte-order mark is tolerated.
    rate_hz : float, optional
        Sample rate in hertz (Hz). When given it wins over the file's ``t_s`` column, which is then ignored,
        and sample ``i`` is at ``i / rate_hz`` seconds. Required when the file has no ``t_s`` column.
    max_line_bytes : int
        The longest line read, in bytes without its line break (default 64 KiB). A longer one is refused as
        soon as it is seen, without reading the rest of it.
    max_samples : int, optional
        The most data rows read; the first row past it is refused. By default :func:`sample_limit` of the
        file's number of force columns: what this machine can analyse in a quarter of its available memory.

    Returns
    -------
    Trace

    Raises
    ------
    TraceFormatError
        On any fault of the file or the rate, and on a file beyond the limits; the message names the file,
        the line (where there is one) and what is wrong. It is a ``ValueError`` too.
    """
    path_str = str(path)
    name = STDIN_NAME if path_str == STDIN_PATH else path_str
    for what, limit in (("max_line_bytes", max_line_bytes), ("max_samples", max_samples)):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"{what} {limit!r} is not a positive whole number")
    if rate_hz is not None:
        _check_rate(name, rate_hz)
    with _open(path_str, name) as stream:
        return _read(_line_blocks(stream, name, max_line_bytes), path_str, name, rate_hz, max_samples)


def sample_limit(channels: int = 1, *, available_bytes: int | None = None) -> int:
    """The most samples (rows) of `channels` force columns that `forceplate analyze` takes on this machine.

    What fits, at :data:`ANALYSIS_BYTES_PER_SAMPLE` plus :data:`ANALYSIS_BYTES_PER_FORCE_COLUMN` per column,
    in :data:`MEMORY_SHARE` of `available_bytes` (default: ``MemAvailable`` of ``/proc/meminfo``), and never
    more than :data:`MAX_SAMPLES_CAP`; the cap alone where the available memory is unknown.
    """
    if available_bytes is None:
        available_bytes = available_memory_bytes()
    if available_bytes is None:
        return MAX_SAMPLES_CAP
    per_sample = ANALYSIS_BYTES_PER_SAMPLE + ANALYSIS_BYTES_PER_FORCE_COLUMN * max(1, channels)
    return max(1, min(MAX_SAMPLES_CAP, int(available_bytes * MEMORY_SHARE) // per_sample))


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` in bytes (memory that can be had without swapping), or None."""
    try:
        with open(MEMINFO, encoding="ascii", errors="replace") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read(blocks, path_str: str, name: str, rate_hz, max_samples) -> Trace:
    """The trace from `blocks` of lines (see :func:`_line_blocks`), checked in the order of the lines: the
    first fault in the file is the one named."""
    first = next(blocks, None)
    if first is None:
        raise TraceFormatError(f"{name}: the file is empty (expected a header row such as t_s,fz_n)")
    header_line, body = first[1][0], first[1][1:]
    if not header_line.strip() and not any(line.strip() for line in body) \
            and not any(line.strip() for _, lines in blocks for line in lines):
        raise TraceFormatError(f"{name}: the file is empty (expected a header row such as t_s,fz_n)")
    header = [_clean_name(cell) for cell in header_line.split(",")]
    force_cols = [i for i, col in enumerate(header) if col.endswith(FORCE_SUFFIX)]
    time_col = header.index(TIME_COLUMN) if TIME_COLUMN in header else None
    _check_header(name, header, force_cols)
    if time_col is None and rate_hz is None:
        raise TraceFormatError(f"{name}: there is no {TIME_COLUMN} column, so the sample rate must be given "
                               f"(--rate HZ)")
    if max_samples is None:
        available = available_memory_bytes()
        max_samples = sample_limit(len(force_cols), available_bytes=available)
        if max_samples < MAX_SAMPLES_CAP:
            why = f"what can be analysed in {MEMORY_SHARE:.0%} of the {_size(available)} of memory available"
        else:
            why = "the most forceplate reads, however much memory there is"
    else:
        why = "the limit given"

    use_time = time_col is not None and rate_hz is None   # with a given rate, t_s is ignored entirely
    numeric_cols = force_cols + ([time_col] if use_time else [])
    store = _Columns(len(force_cols), use_time, max_samples)
    blank_at = None                                       # the first of the blank lines just read, if any
    lineno, lines = 2, body                               # the header is line 1
    while True:
        allowed = max_samples - store.n
        rows, beyond = (lines, ()) if len(lines) <= allowed else (lines[:allowed], lines[allowed:])
        if rows:
            values = None if blank_at is not None else _parse_fast(rows, len(header), numeric_cols)
            if values is None:                            # something is wrong: find and name it
                values, blank_at = _parse_careful(name, rows, lineno, header, numeric_cols, blank_at)
            try:
                store.append(values)
            except MemoryError:                           # the limit was too generous for this machine
                raise TraceFormatError(f"{name}:{lineno}: too large for this machine: out of memory after "
                                       f"{store.n:,} samples") from None
        for k, line in enumerate(beyond):
            if line.strip():
                raise TraceFormatError(f"{name}:{lineno + allowed + k}: too large for this machine: more than "
                                       f"{max_samples:,} samples ({why}); analyse a shorter part of it")
            if blank_at is None:
                blank_at = lineno + allowed + k
        block = next(blocks, None)
        if block is None:
            break
        lineno, lines = block
    if store.n == 0:
        raise TraceFormatError(f"{name}: the header is there but no data rows follow")

    force_n, t_s = store.finish()
    n = force_n.shape[0]
    if use_time:
        steps = np.diff(t_s)
        bad = np.flatnonzero(~(steps > 0))
        if bad.size:
            i = int(bad[0]) + 1
            raise TraceFormatError(f"{name}:{i + 2}: {TIME_COLUMN} {_fmt(t_s[i])} is not after the previous "
                                   f"{_fmt(t_s[i - 1])} (times must be strictly increasing)")
        if n < 2:
            raise TraceFormatError(f"{name}: one sample cannot give the sample rate; give it (--rate HZ)")
        rate = _rate_from_times(t_s, steps)
        del steps
    else:
        rate = float(rate_hz)
        t_s = np.arange(n, dtype=np.float64) / rate
    t_s.setflags(write=False)
    force_n.setflags(write=False)
    return Trace(t_s=t_s, force_n=force_n, columns=tuple(header[i] for i in force_cols), rate_hz=rate,
                 path=path_str, name=name)


class _Columns:
    """The force columns (n, ch) and the times (n,) as float64 arrays that grow as blocks are parsed.

    They grow in place (``ndarray.resize``: a large block is remapped by realloc, not copied), so memory
    holds the numbers once and never two copies of them, and never more than `max_samples` rows.
    """

    def __init__(self, n_force: int, use_time: bool, max_samples: int):
        self.n = 0
        self.cap = min(max_samples, 1 << 16)
        self.max_samples = max_samples
        self.force = np.empty((self.cap, n_force), dtype=np.float64)
        self.time = np.empty(self.cap, dtype=np.float64) if use_time else None

    def append(self, values: np.ndarray) -> None:
        """Add (m, k) values: the force columns, then the time when there is one."""
        end = self.n + values.shape[0]
        if end > self.cap:
            # An eighth more each time: resize zeroes what it adds, so a larger step would hold memory for
            # rows that never come; the remaps are cheap and few (about 40 up to 10 M rows).
            self.cap = min(self.max_samples, max(end, self.cap + self.cap // 8))
            self.force.resize((self.cap, self.force.shape[1]), refcheck=False)
            if self.time is not None:
                self.time.resize(self.cap, refcheck=False)
        n_force = self.force.shape[1]
        self.force[self.n:end] = values[:, :n_force]
        if self.time is not None:
            self.time[self.n:end] = values[:, n_force]
        self.n = end

    def finish(self) -> tuple:
        """The force (n, ch) and time (n,) arrays, trimmed to the rows read (time None without one)."""
        self.force.resize((self.n, self.force.shape[1]), refcheck=False)
        if self.time is not None:
            self.time.resize(self.n, refcheck=False)
        return self.force, self.time


def _rate_from_times(t_s: np.ndarray, steps: np.ndarray) -> float:
    """Samples per second from the times: the mean step when there are no gaps (it averages away the
    rounding of printed times and a real chip's jitter), else the median step (a gap does not shift it)."""
    max_s = float(steps.max())
    median_s = float(np.median(steps, overwrite_input=True))   # no copy of a 10 M-row array: steps is ours
    if max_s < 1.5 * median_s:
        return float((t_s.shape[0] - 1) / (t_s[-1] - t_s[0]))
    return 1.0 / median_s


def _check_rate(name: str, rate_hz) -> None:
    try:
        ok = math.isfinite(rate_hz) and rate_hz > 0
    except TypeError:
        ok = False
    if not ok:
        raise TraceFormatError(f"{name}: sample rate {rate_hz!r} Hz is not a positive number")


class _Stdin:
    """Standard input as bytes, borrowed: leaving the ``with`` does not close it."""

    def __init__(self):
        self._bytes = getattr(sys.stdin, "buffer", None)   # None for a StringIO put there by a caller

    def read(self, size: int) -> bytes:
        if self._bytes is None:
            return sys.stdin.read(size).encode("utf-8")
        return self._bytes.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _open(path: str, name: str):
    """A binary stream of the file or of standard input, as a context manager."""
    if path == STDIN_PATH:
        return _Stdin()
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise TraceFormatError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise TraceFormatError(f"{name}: is a folder, not a CSV file") from None
    except OSError as exc:
        raise TraceFormatError(f"{name}: cannot read: {exc.strerror or exc}") from None


def _line_blocks(stream, name: str, max_line_bytes: int):
    """Yield ``(first_line_number, lines)`` for successive blocks of whole lines, decoded, without breaks.

    Lines are what ``str.splitlines`` makes of the whole text, numbered from 1; a block ends after a ``\n``
    or ``\r`` (never between the two of a ``\r\n``), so no line or UTF-8 character is cut in two. A line
    longer than `max_line_bytes` raises as soon as that many bytes of it are in hand.
    """
    lineno = 1                                     # the number of the next line to give out
    carry = b""                                    # the start of a line whose end is not read yet
    first = True
    while True:
        try:
            chunk = stream.read(READ_BYTES)
        except IsADirectoryError:
            raise TraceFormatError(f"{name}: is a folder, not a CSV file") from None
        except OSError as exc:
            raise TraceFormatError(f"{name}:{lineno}: cannot read: {exc.strerror or exc}") from None
        buf = carry + chunk if carry else chunk
        if chunk:
            end = len(buf) - 1 if buf.endswith(b"\r") else len(buf)    # a last \r may be half of \r\n
            cut = max(buf.rfind(b"\n", 0, end), buf.rfind(b"\r", 0, end)) + 1
        else:
            cut = len(buf)
        part, carry = (buf[:cut], buf[cut:]) if cut < len(buf) else (buf, b"")
        del buf
        if part:
            if first and part.startswith(codecs.BOM_UTF8):
                part = part[len(codecs.BOM_UTF8):]
            first = False
            lines = _decode(part, name, lineno).splitlines()
            del part
            _check_line_lengths(lines, name, lineno, max_line_bytes)
            yield lineno, lines
            lineno += len(lines)
        if len(carry) > max_line_bytes:
            raise TraceFormatError(f"{name}:{lineno}: line longer than {max_line_bytes:,} bytes; a trace's "
                                   f"rows are a few numbers (is this a CSV trace?)")
        if not chunk:
            return


def _decode(part: bytes, name: str, lineno: int) -> str:
    try:
        return part.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = part[:exc.start].decode("utf-8")
        line = lineno + len((before + "x").splitlines()) - 1       # whole lines before the bad byte
        raise TraceFormatError(f"{name}:{line}: not UTF-8 text (byte 0x{part[exc.start]:02x})") from None


def _check_line_lengths(lines: list, name: str, lineno: int, max_line_bytes: int) -> None:
    # A character is at most 4 bytes in UTF-8: lines this short need no encoding to know they are short.
    if not lines or max(map(len, lines)) * 4 <= max_line_bytes:
        return
    for k, line in enumerate(lines):
        if len(line) > max_line_bytes or (len(line) * 4 > max_line_bytes
                                          and len(line.encode("utf-8")) > max_line_bytes):
            raise TraceFormatError(f"{name}:{lineno + k}: line longer than {max_line_bytes:,} bytes; a "
                                   f"trace's rows are a few numbers (is this a CSV trace?)")


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:,.0f} MB" if n_bytes >= 1_000_000 else f"{n_bytes / 1e3:,.0f} kB"


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


def _parse_fast(lines: list, n_cols: int, numeric_cols: list) -> np.ndarray | None:
    """All the numeric columns of these rows as (n, k) float64, or None when any row is faulty (the careful
    path says why)."""
    # A row with the wrong number of cells, or an empty line, is a fault numpy would not always see.
    if any(line.count(",") != n_cols - 1 for line in lines):
        return None
    # With one column a blank line has the right number of commas (none), and numpy would skip it (and warn
    # about a block of nothing but blank lines).
    if n_cols == 1 and not all(line.strip() for line in lines):
        return None
    try:
        values = np.loadtxt(lines, delimiter=",", usecols=numeric_cols, ndmin=2, dtype=np.float64,
                            comments=None, encoding=None)
    except ValueError:
        return None
    if values.shape != (len(lines), len(numeric_cols)) or not np.isfinite(values).all():
        return None
    return values


def _parse_careful(name: str, lines: list, lineno: int, header: list, numeric_cols: list, blank_at):
    """Line by line; raises naming the first faulty line. Also the reference for what _parse_fast accepts.

    `lines` start at line `lineno`; `blank_at` is the first of the blank lines just before them (None if
    there were none). Blank lines are a fault only when a row follows them: at the end they are tolerated.
    Returns the values of the rows and the new `blank_at`.
    """
    values = np.empty((len(lines), len(numeric_cols)), dtype=np.float64)
    row = 0
    for k, line in enumerate(lines):
        if not line.strip():
            if blank_at is None:
                blank_at = lineno + k
            continue
        if blank_at is not None:
            raise TraceFormatError(f"{name}:{blank_at}: empty line inside the data")
        cells = line.split(",")
        if len(cells) != len(header):
            raise TraceFormatError(f"{name}:{lineno + k}: {len(cells)} cells, but the header has {len(header)}")
        for j, col in enumerate(numeric_cols):
            cell = cells[col].strip()
            if not cell:
                raise TraceFormatError(f"{name}:{lineno + k}: empty cell in column {header[col]}")
            try:
                value = float(cell)
            except ValueError:
                raise TraceFormatError(f"{name}:{lineno + k}: {cell[:40]!r} in column {header[col]} "
                                       f"is not a number") from None
            if not math.isfinite(value):
                raise TraceFormatError(f"{name}:{lineno + k}: {cell[:40]!r} in column {header[col]} "
                                       f"is not a finite number")
            values[row, j] = value
        row += 1
    return values[:row], blank_at


def _fmt(x: float) -> str:
    return f"{x:.10g}"

"""Reading recorded force traces (docs/contracts.md section 1, Input): good files, and every bad one named."""
import io
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from forceplate.exc import ForcePlateError, TraceFormatError
from forceplate.storage import traces
from forceplate.storage.traces import Trace, read_trace
from helpers import recordings


def write(tmp_path, text, name="run.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_times_and_forces(tmp_path):
    trace = read_trace(write(tmp_path, "t_s,fz_n\n0,700\n0.001,701.5\n0.002,702\n"))
    assert isinstance(trace, Trace)
    np.testing.assert_array_equal(trace.t_s, [0.0, 0.001, 0.002])
    np.testing.assert_array_equal(trace.force_n, [[700.0], [701.5], [702.0]])
    assert trace.force_n.dtype == np.float64 and trace.t_s.dtype == np.float64
    assert trace.columns == ("fz_n",)
    assert trace.rate_hz == pytest.approx(1000.0)
    assert trace.duration_s == pytest.approx(0.003)


def test_every_column_ending_in_n_is_a_force_and_others_are_ignored(tmp_path):
    text = "t_s,fz1_n,label,fz2_n,cop_x\n0,100,a,200,x\n0.01,110,b,210,y\n"
    trace = read_trace(write(tmp_path, text))
    assert trace.columns == ("fz1_n", "fz2_n")
    np.testing.assert_array_equal(trace.total_force_n, [300.0, 320.0])
    assert trace.rate_hz == pytest.approx(100.0)


def test_given_rate_wins_over_t_s(tmp_path):
    # t_s is ignored entirely with a rate, even when it would be invalid
    trace = read_trace(write(tmp_path, "t_s,fz_n\n5,1\n5,2\n4,3\n"), rate_hz=80.0)
    np.testing.assert_allclose(trace.t_s, [0.0, 1 / 80, 2 / 80])
    assert trace.rate_hz == 80.0


def test_no_time_column_needs_a_rate(tmp_path):
    trace = read_trace(write(tmp_path, "fz_n\n700\n701\n"), rate_hz=100.0)
    np.testing.assert_allclose(trace.t_s, [0.0, 0.01])


def test_rate_is_the_mean_step_without_gaps_and_the_median_with(tmp_path):
    jittered = "t_s,fz_n\n0,1\n0.011,1\n0.020,1\n0.031,1\n0.040,1\n"
    assert read_trace(write(tmp_path, jittered)).rate_hz == pytest.approx(100.0)
    gap = "t_s,fz_n\n0,1\n0.01,1\n0.02,1\n0.5,1\n0.51,1\n"
    assert read_trace(write(tmp_path, gap)).rate_hz == pytest.approx(100.0)


def test_bom_and_blank_trailing_lines_are_tolerated(tmp_path):
    path = write(tmp_path, "\ufefft_s,fz_n\r\n0,1\r\n0.5,2\r\n\r\n  \n")
    trace = read_trace(path)
    assert trace.columns == ("fz_n",)
    np.testing.assert_array_equal(trace.force_n[:, 0], [1.0, 2.0])


def test_arrays_are_read_only(tmp_path):
    trace = read_trace(write(tmp_path, "t_s,fz_n\n0,1\n1,2\n"))
    with pytest.raises(ValueError):
        trace.force_n[0, 0] = 5.0


def test_reads_standard_input(monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO(b"t_s,fz_n\n0,700\n0.01,700\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    trace = read_trace("-")
    assert trace.path == "-"
    assert trace.rate_hz == pytest.approx(100.0)


def test_reads_every_recording():
    for csv in recordings():
        trace = read_trace(csv)
        assert trace.force_n.shape[0] > 1000, csv.name
        assert np.all(np.diff(trace.t_s) > 0)


@pytest.mark.parametrize("text, rate_hz, where, what", [
    ("", None, "run.csv:", "empty"),
    ("\n\n", None, "run.csv:", "empty"),
    ("t_s,fz_n\n", None, "run.csv:", "no data rows"),
    ("t_s,x\n0,1\n0.001,2\n", None, "run.csv:1:", "no force column"),
    ("t_s,fz_n\n0,700\n0.001,abc\n", None, "run.csv:3:", "'abc' in column fz_n is not a number"),
    ("t_s,fz_n\n0,700\n0.001,nan\n", None, "run.csv:3:", "not a finite number"),
    ("t_s,fz_n\n0,700\n0.001,inf\n", None, "run.csv:3:", "not a finite number"),
    ("t_s,fz_n\n0,700\n0.001,\n", None, "run.csv:3:", "empty cell in column fz_n"),
    ("t_s,fz_n\n0,700\n0.001,701,3\n", None, "run.csv:3:", "3 cells, but the header has 2"),
    ("t_s,fz_n\n0,700\n0.001\n", None, "run.csv:3:", "1 cells, but the header has 2"),
    ("t_s,fz_n\n0,700\n\n0.002,701\n", None, "run.csv:3:", "empty line"),
    ("t_s,fz_n\n0,700\n0.002,701\n0.001,702\n", None, "run.csv:4:", "strictly increasing"),
    ("t_s,fz_n\n0,700\n0,701\n", None, "run.csv:3:", "strictly increasing"),
    ("fz_n\n700\n701\n", None, "run.csv:", "--rate"),
    ("t_s,fz_n\n0,700\n", None, "run.csv:", "--rate"),
    ("t_s,fz_n,fz_n\n0,1,2\n", None, "run.csv:1:", "appears twice"),
    ("t_s,fz_n\n0,700\n", 0.0, "run.csv:", "not a positive number"),
    ("t_s,fz_n\n0,700\n", -80.0, "run.csv:", "not a positive number"),
    ("t_s,fz_n\n0,700\n", float("nan"), "run.csv:", "not a positive number"),
])
def test_bad_input_names_file_line_and_fault(tmp_path, text, rate_hz, where, what):
    path = write(tmp_path, text)
    with pytest.raises(TraceFormatError) as info:
        read_trace(path, rate_hz=rate_hz)
    message = str(info.value)
    assert message.startswith(str(path).replace("run.csv", where)), message
    assert what in message
    assert "\n" not in message
    assert isinstance(info.value, ForcePlateError) and isinstance(info.value, ValueError)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(TraceFormatError, match=r"nope\.csv: no such file"):
        read_trace(tmp_path / "nope.csv")


def test_a_folder_is_not_a_trace(tmp_path):
    with pytest.raises(TraceFormatError, match="folder"):
        read_trace(tmp_path)


def test_non_utf8_is_named_with_its_line(tmp_path):
    path = tmp_path / "run.csv"
    path.write_bytes(b"t_s,fz_n\n0,700\n0.001,7\xff0\n")
    with pytest.raises(TraceFormatError, match=r"run\.csv:3: not UTF-8"):
        read_trace(path)


def test_bad_standard_input_is_named(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"t_s,fz_n\n0,x\n"), encoding="utf-8"))
    with pytest.raises(TraceFormatError, match=r"^<stdin>:2: 'x' in column fz_n is not a number"):
        read_trace("-")


def test_the_first_bad_line_of_a_big_file_is_found(tmp_path):
    n = 50_000
    rows = [f"{i / 1000:.3f},{700 + i % 7}" for i in range(n)]
    rows[31_234] = "31.234,7OO"
    path = write(tmp_path, "t_s,fz_n\n" + "\n".join(rows) + "\n")
    with pytest.raises(TraceFormatError, match=r"run\.csv:31236: '7OO' in column fz_n is not a number"):
        read_trace(path)


# --- limits: a line too long, a file too large for the machine ---------------------------------------------

def test_a_line_longer_than_the_limit_is_refused_naming_it(tmp_path):
    path = write(tmp_path, "t_s,fz_n\n0,700\n0.001," + "7" * 200 + "\n0.002,700\n")
    with pytest.raises(TraceFormatError, match=r"run\.csv:3: line longer than 100 bytes"):
        read_trace(path, max_line_bytes=100)
    assert read_trace(path, max_line_bytes=300).n_samples == 3      # not a fault below the limit
    with pytest.raises(TraceFormatError, match=r"run\.csv:1: line longer than 5 bytes"):
        read_trace(path, max_line_bytes=5)


def test_the_line_limit_counts_bytes_not_characters(tmp_path):
    path = write(tmp_path, "t_s,fz_n,note\n0,700,ok\n0.001,700," + "é" * 30 + "\n")   # 30 characters, 60 bytes
    with pytest.raises(TraceFormatError, match=r"run\.csv:3: line longer than 50 bytes"):
        read_trace(path, max_line_bytes=50)
    assert read_trace(path, max_line_bytes=80).n_samples == 2


def test_a_line_across_blocks_is_refused_as_soon_as_it_is_too_long(tmp_path, monkeypatch):
    monkeypatch.setattr(traces, "READ_BYTES", 64)
    rows = [f"{i / 1000:.3f},700" for i in range(100)]
    rows[60] += "0" * 1000
    path = write(tmp_path, "t_s,fz_n\n" + "\n".join(rows) + "\n")
    with pytest.raises(TraceFormatError, match=r"run\.csv:62: line longer than 200 bytes"):
        read_trace(path, max_line_bytes=200)


class EndlessLine(io.RawIOBase):
    """A header, then one line that does not end: what a 1 GB single line or /dev/zero looks like.

    It ends after `size` bytes all the same, so that a reader that takes it whole fails the test instead of
    taking the machine's memory."""

    def __init__(self, size=256 << 20):
        self.given = 0
        self.size = size

    def readable(self):
        return True

    def readinto(self, buffer):
        head = b"t_s,fz_n\n0,"
        n = min(len(buffer), self.size - self.given)
        if self.given < len(head):
            n = min(n, len(head) - self.given)
            buffer[:n] = head[self.given:self.given + n]
        else:
            buffer[:n] = b"7" * n
        self.given += n
        return n


def test_an_endless_line_is_refused_without_reading_it(monkeypatch):
    stream = EndlessLine()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8"))
    tracemalloc.start()
    try:
        with pytest.raises(TraceFormatError, match=r"^<stdin>:2: line longer than 65,536 bytes"):
            read_trace("-")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stream.given <= 2 * traces.READ_BYTES       # one block past the limit at most, then it stops
    assert peak < 8 * traces.READ_BYTES                 # a few blocks of text, never the line


def test_more_rows_than_max_samples_are_refused_naming_the_first_row_past_it(tmp_path):
    path = write(tmp_path, "t_s,fz_n\n" + "".join(f"{i / 100:.2f},700\n" for i in range(10)) + "\n\n")
    with pytest.raises(TraceFormatError) as info:
        read_trace(path, max_samples=5)
    message = str(info.value)
    assert message.startswith(f"{path}:7: too large for this machine: more than 5 samples (the limit given)")
    assert "\n" not in message
    assert read_trace(path, max_samples=10).n_samples == 10     # exactly the limit, blank lines after: fine


def test_max_samples_holds_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(traces, "READ_BYTES", 100)
    path = write(tmp_path, "t_s,fz1_n,fz2_n\n" + "".join(f"{i / 100:.2f},{i},{-i}\n" for i in range(1000)))
    trace = read_trace(path, max_samples=1000)
    np.testing.assert_array_equal(trace.force_n[:, 1], -np.arange(1000.0))
    np.testing.assert_array_equal(trace.t_s, np.round(np.arange(1000) / 100, 2))
    with pytest.raises(TraceFormatError, match=r"run\.csv:999: too large for this machine: more than 997 "):
        read_trace(path, max_samples=997)


@pytest.mark.parametrize("limit", [0, -1, 2.5, True, "64"])
def test_limits_must_be_positive_whole_numbers(tmp_path, limit):
    path = write(tmp_path, "t_s,fz_n\n0,1\n1,2\n")
    with pytest.raises(ValueError, match="max_samples"):
        read_trace(path, max_samples=limit)
    with pytest.raises(ValueError, match="max_line_bytes"):
        read_trace(path, max_line_bytes=limit)


def test_the_default_sample_limit_is_what_the_analysis_fits_in_a_quarter_of_available_memory(tmp_path,
                                                                                           monkeypatch):
    per_sample = traces.ANALYSIS_BYTES_PER_SAMPLE + traces.ANALYSIS_BYTES_PER_FORCE_COLUMN
    assert traces.sample_limit(1, available_bytes=400_000_000) == 100_000_000 // per_sample
    assert traces.sample_limit(4, available_bytes=400_000_000) < traces.sample_limit(1, available_bytes=400_000_000)
    assert traces.sample_limit(1, available_bytes=10 ** 15) == traces.MAX_SAMPLES_CAP
    monkeypatch.setattr(traces, "MEMINFO", str(tmp_path / "no-meminfo"))
    assert traces.available_memory_bytes() is None and traces.sample_limit(1) == traces.MAX_SAMPLES_CAP
    meminfo = write(tmp_path, "MemTotal: 516000 kB\nMemFree: 100 kB\nMemAvailable: 8 kB\n", name="meminfo")
    monkeypatch.setattr(traces, "MEMINFO", str(meminfo))
    assert traces.available_memory_bytes() == 8192
    assert traces.sample_limit(1) == 2048 // per_sample
    path = write(tmp_path, "t_s,fz_n\n" + "".join(f"{i / 100:.2f},700\n" for i in range(100)))
    with pytest.raises(TraceFormatError, match=rf"run\.csv:{2048 // per_sample + 2}: too large for this machine: "
                                               rf"more than {2048 // per_sample} samples \(what can be analysed "
                                               rf"in 25% of the 8 kB of memory available\)"):
        read_trace(path)


# VmHWM, the peak resident memory since exec; ru_maxrss would start at the forking test process's size.
PEAK_SCRIPT = """
import sys
from forceplate.storage.traces import read_trace
def peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
before = peak()
trace = read_trace(sys.argv[1])
print(trace.n_samples, peak() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmHWM from /proc/self/status")
def test_peak_memory_is_about_the_numbers_not_the_text(tmp_path):
    # 1 M rows of t_s,fz_n: 16 MB of numbers, 17 MB of text. Reading the whole text into Python strings took
    # about 190 MB. In blocks, what remains is the numbers, the steps between the times (8 MB, for the rate)
    # and a fixed part for a block of text as bytes, str, lines and parsed values (about 20 MB): 43 MB here.
    n = 1_000_000
    path = tmp_path / "long.csv"
    with open(path, "w") as out:
        out.write("t_s,fz_n\n")
        for start in range(0, n, 100_000):
            out.write("".join(f"{i / 1000:.3f},{700 + i % 13}.5\n" for i in range(start, start + 100_000)))
    r = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    samples, grew_bytes = map(int, r.stdout.split())
    assert samples == n
    numbers = n * 2 * 8
    assert grew_bytes < 2 * numbers + 32_000_000, \
        f"peak grew by {grew_bytes / 1e6:.0f} MB for {numbers / 1e6:.0f} MB of numbers"

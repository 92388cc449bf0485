"""Reading recorded force traces (docs/contracts.md section 1, Input): good files, and every bad one named."""
import io
import sys

import numpy as np
import pytest

from forceplate.exc import ForcePlateError, TraceFormatError
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

"""The fp2 coder writes the same bytes on every CPU: chunks made on x86_64 are stored in
tests/data/rawcodec_reference_x86_64.npz, with the sets they code, and the coder on this machine (compiled and
pure-Python twin) must write exactly those bytes from those sets, and read them back to those sets.

A database written on a PC must read on a Pi and the other way round, and a chunk written on the Pi must be
one any other machine writes for the same sets (the coder checks itself by decoding, so a coder that is merely
self-consistent on one CPU would pass every other test). The reference was made once, on x86_64, by the
committed coder, with:

    .venv/bin/python tests/test_rawcodec_reference.py --write

Its cases: the simulated plate (4 cells, 80 SPS, 70 chunks so that a key chunk follows the first after
KEY_EVERY), counts at both ends of int32 and jumps that force the escape code, one and eight cells, times near
the ends of int64 with irregular steps, steps backwards and flags.
"""
import importlib
import platform
import sys
from pathlib import Path

import numpy as np
import pytest

from forceplate.device.frames import Frames
from forceplate.storage import rawcodec

REFERENCE = Path(__file__).parent / "data" / "rawcodec_reference_x86_64.npz"
TWINS = ["_rawcodec_py", "_rawcodec"]      # "_rawcodec" fails (does not skip) when the extension was not built
CASES = ["simulated_plate", "int32_extremes", "one_cell", "eight_cells", "wild_times"]


def _reference():
    with np.load(REFERENCE) as stored:
        return {name: stored[name] for name in stored.files}


def _case(ref, case):
    """The case's batches (the Frames given to encode_next, in order) and its stored chunks (bytes)."""
    t_ns, counts, flags = ref[f"{case}/t_ns"], ref[f"{case}/counts"], ref[f"{case}/flags"]
    ends = np.cumsum(ref[f"{case}/batch_sets"])
    starts = np.concatenate(([0], ends[:-1]))
    batches = [Frames(t_ns[a:b], counts[a:b], flags[a:b]) for a, b in zip(starts.tolist(), ends.tolist())]
    blob, lengths = ref[f"{case}/chunks"].tobytes(), ref[f"{case}/chunk_bytes"].tolist()
    offsets = np.concatenate(([0], np.cumsum(lengths))).tolist()
    chunks = [blob[offsets[i]:offsets[i + 1]] for i in range(len(lengths))]
    return batches, chunks


@pytest.fixture(scope="module")
def reference():
    return _reference()


def test_the_reference_was_made_on_x86_64_with_this_codec(reference):
    assert str(reference["machine"]) == "x86_64"
    assert str(reference["codec"]) == rawcodec.CODEC
    assert sorted({name.split("/")[0] for name in reference if "/" in name}) == sorted(CASES)
    # the stored sets are what the cases say: dtypes fixed, whatever numpy's default integer here
    for case in CASES:
        assert reference[f"{case}/t_ns"].dtype == np.dtype("<i8")
        assert reference[f"{case}/counts"].dtype == np.dtype("<i4")
    extremes = reference["int32_extremes/counts"]
    assert extremes.min() == -2**31 and extremes.max() == 2**31 - 1
    times = reference["wild_times/t_ns"]
    assert times.min() < -2**62 and times.max() > 2**62 and (np.diff(times) < 0).any()


@pytest.mark.parametrize("twin", TWINS)
@pytest.mark.parametrize("case", CASES)
def test_the_coder_writes_exactly_the_chunks_written_on_x86_64(reference, case, twin, monkeypatch):
    monkeypatch.setattr(rawcodec, "kernels", importlib.import_module(f"forceplate.storage.{twin}"))
    batches, expected = _case(reference, case)
    position, written = None, []
    for frames in batches:
        chunks, position = rawcodec.encode_next(frames, position, what=f"{case} reference")
        written += [data for _, _, data in chunks]
    assert len(written) == len(expected)
    for i, (mine, theirs) in enumerate(zip(written, expected)):
        assert mine == theirs, f"{case}: chunk {i} differs from the one written on x86_64"


@pytest.mark.parametrize("twin", TWINS)
@pytest.mark.parametrize("case", CASES)
def test_chunks_written_on_x86_64_read_back_to_their_sets(reference, case, twin, monkeypatch):
    monkeypatch.setattr(rawcodec, "kernels", importlib.import_module(f"forceplate.storage.{twin}"))
    batches, chunks = _case(reference, case)
    state = None
    for i, (frames, data) in enumerate(zip(batches, chunks)):
        back, state = rawcodec.decode_chunk(rawcodec.CODEC, data, state)
        np.testing.assert_array_equal(back.t_ns, frames.t_ns, err_msg=f"{case}: chunk {i} times")
        np.testing.assert_array_equal(back.raw_counts, frames.raw_counts, err_msg=f"{case}: chunk {i} counts")
        np.testing.assert_array_equal(back.flags, frames.flags, err_msg=f"{case}: chunk {i} flags")


# ------------------------------------------------------------------------------- writing the reference (x86)

def _make_cases():
    from forceplate.device.sim.mock import FakeClock
    from forceplate.device.sim.simulator import SimulatedSource

    rng = np.random.default_rng(20261206)
    cases = {}

    clock = FakeClock()                                     # the simulated plate: 70 chunks of 20 sets
    source = SimulatedSource("session", rate_hz=80.0, adc="hx711", seed=3, clock=clock)
    clock.advance(70 * 20 / 80.0 + 1.0)
    sim = source.read(70 * 20)
    cases["simulated_plate"] = (sim.t_ns, sim.raw_counts, sim.flags, [20] * 70)

    n = 300                                                 # both ends of int32, jumps that escape
    counts = rng.integers(-2**31, 2**31, (n, 4), dtype=np.int64)
    counts[:100] = np.cumsum(rng.integers(-40, 41, (100, 4)), axis=0) + 2**31 - 3000
    counts[100:110] = [[2**31 - 1, -2**31, 0, -1]] * 10
    counts[110:120] = [[-2**31, 2**31 - 1, 1, 2**30]] * 10
    t_ns = 10**15 + 12_500_000 * np.arange(n, dtype=np.int64)
    flags = np.zeros((n, 4), np.uint8)
    flags[100:140, 2] = 8
    cases["int32_extremes"] = (t_ns, np.clip(counts, -2**31, 2**31 - 1), flags, [100, 20, 80, 1, 99])

    n = 400                                                 # one cell: a step in the middle
    counts = (rng.normal(0, 30, n).round() + np.where(np.arange(n) < 200, 50_000, 420_000)).astype(np.int64)
    cases["one_cell"] = (12_500_000 * np.arange(n, dtype=np.int64), counts[:, None],
                         np.zeros((n, 1), np.uint8), [80] * 5)

    n = 240                                                 # eight cells, correlated, a flag run
    common = np.cumsum(rng.integers(-500, 501, n))
    counts = common[:, None] + rng.normal(0, 40, (n, 8)).round().astype(np.int64) + 10_000 * np.arange(8)
    flags = np.zeros((n, 8), np.uint8)
    flags[50:53] = 1
    flags[200, 7] = 255
    cases["eight_cells"] = (1_000_000_000 + 1_000_000 * np.arange(n, dtype=np.int64), counts, flags, [60] * 4)

    n = 200                                                 # times near both ends of int64, jitter, steps back
    steps = 12_500_000 + rng.integers(-20_000, 20_001, n - 1)
    steps[40] = -3_000_000_000                              # the clock stepped back
    steps[41] = 2**40
    t_ns = np.concatenate(([-2**62 - 12345], -2**62 - 12345 + np.cumsum(steps)))
    t_ns[100:] += 2**62 - int(t_ns[100])                    # a jump of nearly 2**63 ns, to near the top
    counts = np.cumsum(rng.integers(-2000, 2001, (n, 4)), axis=0) - 8_388_608
    flags = rng.choice(np.array([0, 0, 0, 1, 32], np.uint8), (n, 4))
    cases["wild_times"] = (t_ns, counts, flags, [50, 50, 50, 50])
    return cases


def write_reference(path=REFERENCE):
    """Code every case with the committed coder (compiled and twin must agree) and store sets and chunks."""
    if platform.machine() != "x86_64":
        sys.exit(f"the reference chunks are made on x86_64, not {platform.machine()}")
    twin = importlib.import_module("forceplate.storage._rawcodec_py")
    compiled = importlib.import_module("forceplate.storage._rawcodec")
    out = {"machine": np.array("x86_64"), "codec": np.array(rawcodec.CODEC)}
    for case, (t_ns, counts, flags, batch_sets) in _make_cases().items():
        t_ns, counts, flags = (np.asarray(t_ns, "<i8"), np.asarray(counts).astype("<i4"),
                               np.asarray(flags, np.uint8))
        assert sum(batch_sets) == len(t_ns) and counts.shape == flags.shape
        made = []
        for kernels in (twin, compiled):
            rawcodec.kernels = kernels
            position, chunks = None, []
            ends = np.cumsum(batch_sets).tolist()
            for a, b in zip([0] + ends[:-1], ends):
                written, position = rawcodec.encode_next(Frames(t_ns[a:b], counts[a:b], flags[a:b]), position)
                assert len(written) == 1, "the coder did not reproduce its own chunk"
                chunks.append(written[0][2])
            made.append(chunks)
        assert made[0] == made[1], f"{case}: the compiled coder and its twin disagree"
        out[f"{case}/t_ns"], out[f"{case}/counts"], out[f"{case}/flags"] = t_ns, counts, flags
        out[f"{case}/batch_sets"] = np.array(batch_sets, "<i4")
        out[f"{case}/chunks"] = np.frombuffer(b"".join(made[0]), np.uint8)
        out[f"{case}/chunk_bytes"] = np.array([len(c) for c in made[0]], "<i4")
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_rawcodec_reference.py --write   (on x86_64, rewrites the reference)")
    write_reference()

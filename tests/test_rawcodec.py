"""The fp2 raw-trace coder: lossless across chunks, the compiled kernel equal to its twin, close to the
entropy of known noise, and never a wrong sample stored nor one dropped (sets it cannot reproduce are stored
one per key chunk, and refused loudly only if even that fails)."""
import importlib
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forceplate.storage import rawcodec
from forceplate.device.frames import Frames
from forceplate.device.sim.mock import FakeClock
from forceplate.device.sim.simulator import SimulatedSource
from forceplate.storage.store import Store, StoreError

TWINS = ["_rawcodec_py", "_rawcodec"]      # "_rawcodec" fails (does not skip) when the extension was not built


def kernel(name):
    return importlib.import_module(f"forceplate.storage.{name}")


def chain(parts, kernels=None, monkeypatch=None):
    """Encode the parts as successive chunks and decode them back in order."""
    state, decoded, state_back, sizes = None, [], None, []
    for t_ns, counts, flags in parts:
        codec, data, state = rawcodec.encode_chunk(t_ns, counts, flags, state)
        frames, state_back = rawcodec.decode_chunk(codec, data, state_back)
        decoded.append(frames)
        sizes.append(len(data))
    return decoded, sizes


def session_counts(seconds=120.0, seed=7):
    clock = FakeClock()
    source = SimulatedSource("session", rate_hz=80.0, adc="hx711", seed=seed, clock=clock)
    parts = []
    for _ in range(int(math.ceil(seconds / 50.0))):         # the simulator keeps ~100 s of sets
        clock.advance(min(50.0, seconds - 50.0 * len(parts)))
        parts.append(source.read(100_000))
    return Frames(*(np.concatenate(a) for a in zip(*parts)))


i32 = st.integers(-2**31, 2**31 - 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), chunks=st.integers(1, 4), channels=st.integers(1, 5))
def test_chunks_in_a_row_decode_to_exactly_the_sets_they_were_given(data, chunks, channels):
    parts = []
    t = data.draw(st.integers(-2**61, 2**61))
    for _ in range(chunks):
        n = data.draw(st.integers(1, 40))
        style = data.draw(st.sampled_from(["wild", "walk", "steady"]))
        if style == "wild":
            counts = np.array(data.draw(st.lists(st.lists(i32, min_size=channels, max_size=channels),
                                                 min_size=n, max_size=n)), dtype=np.int32)
        else:
            start = data.draw(st.integers(-2**23, 2**23))
            spread = 3 if style == "steady" else 5000
            steps = data.draw(st.lists(st.integers(-spread, spread), min_size=n * channels,
                                       max_size=n * channels))
            counts = (start + np.cumsum(np.array(steps).reshape(n, channels), axis=0)).astype(np.int32)
        gaps = data.draw(st.lists(st.one_of(st.just(12_500_000), st.integers(1, 2**40)), min_size=n, max_size=n))
        t_ns = t + np.cumsum(np.array(gaps, dtype=np.int64))
        t = int(t_ns[-1])
        flags = np.array(data.draw(st.lists(st.sampled_from([0, 0, 0, 1, 8, 32, 255]), min_size=n * channels,
                                            max_size=n * channels)), dtype=np.uint8).reshape(n, channels)
        parts.append((t_ns, counts, flags))
    decoded, _ = chain(parts)
    for (t_ns, counts, flags), back in zip(parts, decoded):
        np.testing.assert_array_equal(back.t_ns, t_ns)
        np.testing.assert_array_equal(back.raw_counts, counts)
        np.testing.assert_array_equal(back.flags, flags)
        assert back.raw_counts.dtype == np.int32 and back.t_ns.dtype == np.int64 and back.flags.dtype == np.uint8


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n=st.integers(1, 60), channels=st.integers(1, 4))
def test_the_compiled_coder_writes_the_same_bytes_as_its_twin(data, n, channels):
    wild = data.draw(st.booleans())
    if wild:
        counts = np.array(data.draw(st.lists(i32, min_size=n * channels, max_size=n * channels)),
                          dtype=np.int32).reshape(n, channels)
    else:
        steps = data.draw(st.lists(st.integers(-3000, 3000), min_size=n * channels, max_size=n * channels))
        counts = np.cumsum(np.array(steps).reshape(n, channels), axis=0).astype(np.int32)
    outputs = []
    for twin in TWINS:
        k = kernel(twin)
        state = k.initial_state(counts[0])
        outputs.append((k.encode_counts(counts, state), state.copy()))
        back_state = k.initial_state(counts[0])
        np.testing.assert_array_equal(k.decode_counts(outputs[-1][0], n, back_state), counts)
        np.testing.assert_array_equal(back_state, state)
    assert outputs[0][0] == outputs[1][0]
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])


def test_the_twins_agree_on_a_simulated_session_and_share_the_state_layout():
    frames = session_counts(60.0)
    py, c = kernel("_rawcodec_py"), kernel("_rawcodec")
    assert c.STATE_WIDTH_ == py.STATE_WIDTH
    s_py, s_c = py.initial_state(frames.raw_counts[0]), c.initial_state(frames.raw_counts[0])
    np.testing.assert_array_equal(s_py, s_c)
    assert py.encode_counts(frames.raw_counts[1:], s_py) == c.encode_counts(frames.raw_counts[1:], s_c)
    np.testing.assert_array_equal(s_py, s_c)


@pytest.mark.parametrize("twin", TWINS)
def test_white_noise_costs_close_to_its_entropy(twin, monkeypatch):
    """Gaussian noise of sigma counts has an entropy of log2(sigma * sqrt(2 pi e)) bits per count (about 7.7
    bits at sigma 50): no lossless coder can go below it. The mean-of-three predictor adds a third to the
    variance (+0.2 bit), and a Rice parameter that follows only the last few residuals (so that an impact's
    first counts are not coded with a quiet plate's k) costs about 0.3 bit more on steady noise: within
    0.6 bit (8 %) of the bound."""
    monkeypatch.setattr(rawcodec, "kernels", kernel(twin))
    rng = np.random.default_rng(5)
    sigma, n, channels = 50.0, 4000, 4
    counts = (rng.normal(0, sigma, (n, channels)) + [120_000, -40_000, 7, 2_000_000]).round().astype(np.int32)
    t_ns = 10**9 + 12_500_000 * np.arange(n, dtype=np.int64)
    flags = np.zeros((n, channels), np.uint8)
    _, sizes = chain([(t_ns[i:i + 80], counts[i:i + 80], flags[i:i + 80]) for i in range(0, n, 80)])
    bits_per_count = 8 * sum(sizes) / (n * channels)
    bound = math.log2(sigma * math.sqrt(2 * math.pi * math.e))
    assert bound <= bits_per_count < bound + 0.6, (bits_per_count, bound)


def test_a_steady_clock_and_clean_flags_cost_no_bytes_in_a_continuing_chunk():
    t_ns = 10**9 + 12_500_000 * np.arange(160, dtype=np.int64)
    counts = np.full((160, 4), 1000, np.int32)
    flags = np.zeros((160, 4), np.uint8)
    codec, _, state = rawcodec.encode_chunk(t_ns[:80], counts[:80], flags[:80])
    _, data, _ = rawcodec.encode_chunk(t_ns[80:], counts[80:], flags[80:], state)
    assert data[0] == 0                    # neither a key, nor times, nor flags
    # 3 bytes of header, and 320 counts equal to their prediction: 1 bit each at k = 0 after a few
    assert len(data) < 3 + 320 // 8 + 8


def test_a_continuing_chunk_read_without_its_predecessor_is_refused_not_misread():
    frames = session_counts(4.0)
    _, _, state = rawcodec.encode_chunk(frames.t_ns[:80], frames.raw_counts[:80], frames.flags[:80])
    codec, data, _ = rawcodec.encode_chunk(frames.t_ns[80:160], frames.raw_counts[80:160], frames.flags[80:160],
                                           state)
    with pytest.raises(rawcodec.CorruptChunk, match="continues the one before it"):
        rawcodec.decode_chunk(codec, data)
    with pytest.raises(rawcodec.CorruptChunk, match="corrupt raw chunk"):
        rawcodec.decode_chunk(codec, data[:len(data) // 2], state)


def _sessions_chunks(store, session_id):
    return store.db.execute("SELECT seq, codec, data FROM raw_chunks WHERE session_id = ? ORDER BY seq",
                            [session_id]).fetchall()


def _start(store):
    person = store.person_id_for("Ann", changed_by="test")
    return store.start_session(person, source="sim:session", rate_hz=80.0, adc="hx711",
                               cells=["fz1_n", "fz2_n", "fz3_n", "fz4_n"], offset_counts=[0, 0, 0, 0],
                               scale_n_per_count=[0.003] * 4, clock_origin_ns=0)


def _slices(frames, size=80):
    return [Frames(frames.t_ns[i:i + size], frames.raw_counts[i:i + size], frames.flags[i:i + size])
            for i in range(0, frames.n_sets, size)]


def test_the_store_writes_a_key_chunk_every_minute_and_a_damaged_chunk_is_named(tmp_path):
    frames = session_counts(150.0)                           # 150 chunks of one second
    with Store(tmp_path) as store:
        session_id = _start(store)
        for part in _slices(frames):
            store.add_raw_chunk(session_id, part)
        rows = _sessions_chunks(store, session_id)
        keys = [seq for seq, codec, data in rows if codec == "fp2" and data[0] & 1]
        assert keys == [0, rawcodec.KEY_EVERY, 2 * rawcodec.KEY_EVERY]
        back = store.raw_frames(session_id)
        np.testing.assert_array_equal(back.raw_counts, frames.raw_counts)
        np.testing.assert_array_equal(back.t_ns, frames.t_ns)
        seq, _, data = rows[70]
        store.db.execute("UPDATE raw_chunks SET data = ? WHERE session_id = ? AND seq = ?",
                         [data[:5], session_id, seq])
        store.db.conn.commit()
        with pytest.raises(StoreError, match=f"session {session_id}, raw chunk 70: corrupt raw chunk"):
            store.raw_frames(session_id)


def test_sets_the_coder_cannot_reproduce_are_stored_one_per_key_chunk_and_nothing_is_lost(tmp_path, monkeypatch,
                                                                                             caplog):
    frames = session_counts(5.0)
    parts = _slices(frames)
    real = rawcodec.kernels.encode_counts

    def faulty(counts, state):                   # a coder bug: one bit wrong in the third chunk's stream
        data = bytearray(real(counts, state))
        if faulty.calls == 2:
            data[len(data) // 2] ^= 0x10
        faulty.calls += 1
        return bytes(data)
    faulty.calls = 0
    with Store(tmp_path) as store:
        session_id = _start(store)
        monkeypatch.setattr(rawcodec.kernels, "encode_counts", faulty)
        for part in parts:
            store.add_raw_chunk(session_id, part)
        monkeypatch.undo()
        rows = store.db.execute("SELECT seq, n_sets, first_t_ns, codec, data FROM raw_chunks WHERE session_id = ? "
                                "ORDER BY seq", [session_id]).fetchall()
        # chunks 0 and 1 whole; chunk 2's 80 sets one per key chunk, in order; then chunks 3 and 4 whole
        assert [n for _, n, _, _, _ in rows] == [80, 80] + [1] * 80 + [80, 80]
        assert [seq for seq, *_ in rows] == list(range(84))
        assert [t for _, _, t, _, _ in rows[2:82]] == parts[2].t_ns.tolist()
        assert {codec for *_, codec, _ in rows} == {"fp2"}
        assert all(data[0] & 1 for *_, data in rows[2:83])   # the one-set chunks, and the next chunk, are keys
        assert not rows[1][4][0] & 1 and not rows[83][4][0] & 1
        assert "did not survive the fp2 coder's round trip: its 80 sets are stored as one key chunk each" in caplog.text
        back = store.raw_frames(session_id)
        np.testing.assert_array_equal(back.t_ns, frames.t_ns)
        np.testing.assert_array_equal(back.raw_counts, frames.raw_counts)
        np.testing.assert_array_equal(back.flags, frames.flags)


def test_sets_that_cannot_be_stored_even_one_by_one_are_refused_loudly_and_what_was_stored_stays(tmp_path,
                                                                                                 monkeypatch):
    frames = session_counts(4.0)
    parts = _slices(frames)
    real = rawcodec.decode_chunk

    def misreads(codec, data, state=None):       # a bug that breaks every round trip, one-set chunks too
        back, after = real(codec, data, state)
        return Frames(back.t_ns, back.raw_counts + 1, back.flags), after
    with Store(tmp_path) as store:
        session_id = _start(store)
        store.add_raw_chunk(session_id, parts[0])
        store.add_events(session_id, [{"kind": "impact", "t_peak_s": 0.5, "peak_n": 2000.0, "peak_bw": 3.0,
                                       "loading_rate_bw_s": 80.0, "thump": True}])
        monkeypatch.setattr(rawcodec, "decode_chunk", misreads)
        with pytest.raises(StoreError, match=f"session {session_id}: 80 sample sets could not be stored"):
            store.add_raw_chunk(session_id, parts[1])
        monkeypatch.undo()
        assert store.raw_bytes(session_id)[1] == 80               # nothing of the refused sets, never wrong ones
        assert store.session(session_id)["events"] == 1
        store.add_raw_chunk(session_id, parts[2])                # and the next chunk continues what is stored
        back = store.raw_frames(session_id)
        np.testing.assert_array_equal(back.raw_counts, np.concatenate([parts[0].raw_counts, parts[2].raw_counts]))


def test_a_failed_commit_does_not_advance_the_coder(tmp_path, monkeypatch):
    """The next chunk must continue from what is stored, not from a chunk whose transaction failed."""
    frames = session_counts(4.0)
    parts = _slices(frames)
    with Store(tmp_path) as store:
        session_id = _start(store)
        store.add_raw_chunk(session_id, parts[0])
        store.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON raw_chunks BEGIN "
                         "SELECT RAISE(ABORT, 'disk full'); END")
        with pytest.raises(Exception, match="disk full"):
            store.add_raw_chunk(session_id, parts[1])
        store.db.execute("DROP TRIGGER refuse")
        for part in parts[1:]:
            store.add_raw_chunk(session_id, part)
        np.testing.assert_array_equal(store.raw_frames(session_id).raw_counts, frames.raw_counts)

"""The sampling kernel: the compiled module and its pure-Python twin decode HX711 words identically."""
import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forceplate.device import flags, sampling

TWINS = ["_hx711_py", "_hx711"]      # "_hx711" fails (does not skip) when the extension was not built


def kernel(name):
    return importlib.import_module(f"forceplate.device.{name}")


# Datasheet: 24-bit two's complement, MSB first; 0x7FFFFF / 0x800000 are the saturation codes.
DATASHEET_WORDS = [0x000000, 0x000001, 0xFFFFFF, 0x7FFFFE, 0x800001, 0x7FFFFF, 0x800000,
                   flags.WORD_NOT_READY, 0x01000000, 0xDEADBEEF]
DATASHEET_COUNTS = [0, 1, -1, 8_388_606, -8_388_607, 8_388_607, -8_388_608, 0, 0, 0]
DATASHEET_FLAGS = [0, 0, 0, 0, 0, flags.SATURATED_HI, flags.SATURATED_LO, flags.NOT_READY,
                   flags.GARBAGE, flags.GARBAGE]


@pytest.mark.parametrize("twin", TWINS)
def test_decode_matches_datasheet(twin):
    k = kernel(twin)
    words = np.array(DATASHEET_WORDS, dtype=np.uint32)
    counts = np.empty(len(words), np.int32)
    word_flags = np.empty(len(words), np.uint8)
    n_bad = k.decode_words(words, counts, word_flags)
    np.testing.assert_array_equal(counts, DATASHEET_COUNTS)
    np.testing.assert_array_equal(word_flags, DATASHEET_FLAGS)
    assert n_bad == 5


@pytest.mark.parametrize("twin", TWINS)
def test_ring_returns_sets_in_order_with_their_timestamps(twin):
    ring = kernel(twin).SampleRing(4, 16)
    words = np.array([[i, i + 1, 0xFFFFFF - i, 0x800001 + i] for i in range(10)], dtype=np.uint32)
    assert ring.push_block(np.arange(10, dtype=np.int64) * 12_500_000, words) == 10
    first, rest = ring.pop(4), ring.pop()
    assert first.n_sets == 4 and rest.n_sets == 6 and ring.available == 0
    np.testing.assert_array_equal(np.concatenate([first.t_ns, rest.t_ns]), np.arange(10) * 12_500_000)
    counts = np.concatenate([first.raw_counts, rest.raw_counts])
    np.testing.assert_array_equal(counts[:, 0], np.arange(10))
    np.testing.assert_array_equal(counts[:, 2], -1 - np.arange(10))
    np.testing.assert_array_equal(counts[:, 3], -8_388_607 + np.arange(10))


@pytest.mark.parametrize("twin", TWINS)
def test_full_ring_drops_the_newest_and_counts_them(twin):
    ring = kernel(twin).SampleRing(2, 4)
    stored = ring.push_block(np.arange(6, dtype=np.int64), np.ones((6, 2), np.uint32))
    assert (stored, ring.dropped, ring.available) == (4, 2, 4)
    np.testing.assert_array_equal(ring.pop().t_ns, [0, 1, 2, 3])     # the oldest are kept
    assert ring.push_block(np.array([9], np.int64), np.ones((1, 2), np.uint32)) == 1
    np.testing.assert_array_equal(ring.pop().t_ns, [9])


@pytest.mark.parametrize("twin", TWINS)
def test_ring_rejects_a_block_of_the_wrong_shape(twin):
    ring = kernel(twin).SampleRing(4, 8)
    with pytest.raises(ValueError, match="words"):
        ring.push_block(np.arange(2, dtype=np.int64), np.zeros((2, 3), np.uint32))


@settings(max_examples=60, deadline=None)
@given(data=st.lists(st.lists(st.sampled_from(DATASHEET_WORDS) | st.integers(0, 2**32 - 1),
                              min_size=3, max_size=3), min_size=0, max_size=40),
       capacity=st.integers(2, 50), pops=st.lists(st.integers(0, 20), max_size=5))
def test_compiled_and_twin_agree_on_random_words(data, capacity, pops):
    words = np.array(data, dtype=np.uint32).reshape(-1, 3)
    t_ns = np.arange(words.shape[0], dtype=np.int64) * 11_000_000
    results = []
    for twin in TWINS:
        ring = kernel(twin).SampleRing(3, capacity)
        out = [ring.push_block(t_ns, words)]
        for n in pops:
            f = ring.pop(n)
            out.append((f.t_ns.tolist(), f.raw_counts.tolist(), f.flags.tolist()))
        f = ring.pop()
        out += [(f.t_ns.tolist(), f.raw_counts.tolist(), f.flags.tolist()), ring.dropped, ring.flagged]
        results.append(out)
    assert results[0] == results[1]


def test_the_chosen_kernel_is_the_compiled_one_and_says_so():
    # CI builds the extension; sampling through Python on a Pi must never go unnoticed.
    assert sampling.KERNEL == "compiled" and sampling.HAS_EXTENSION
    assert sampling.SampleRing is kernel("_hx711").SampleRing


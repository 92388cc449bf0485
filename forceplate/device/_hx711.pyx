# cython: language_level=3, boundscheck=False, wraparound=False, embedsignature=True, cdivision=True
"""Compiled sampling kernel: decode raw 24-bit HX711 words from several chips and append them, with their
timestamps, to a single-producer single-consumer ring. The loops run without the GIL.

The readable specification is the pure-Python twin ``_hx711_py.py``: same names, same results.
"""
import numpy as np

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t

from .frames import Frames

cdef extern from *:
    """
    #include <stdint.h>
    /* Publish a set only once it is whole: a release store on the producer's index pairs with an
       acquire load on the consumer's side (ARM, where the Pi runs, reorders plain stores). */
    static inline int64_t fp_load_acquire(int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void fp_store_release(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    """
    int64_t fp_load_acquire(int64_t *p) nogil
    void fp_store_release(int64_t *p, int64_t v) nogil

# Flag values: keep equal to forceplate/device/flags.py and _hx711_py.py.
cdef enum:
    NOT_READY = 1
    SAT_HI = 2
    SAT_LO = 4
    GARBAGE = 8
cdef uint32_t WORD_NOT_READY = 0xFFFFFFFFU


cdef inline uint8_t _decode(uint32_t word, int32_t *count) noexcept nogil:
    if word == WORD_NOT_READY:
        count[0] = 0
        return NOT_READY
    if word > 0xFFFFFF:
        count[0] = 0
        return GARBAGE
    if word == 0x7FFFFF:      # test the raw word: once sign-extended, saturation looks like a reading
        count[0] = 0x7FFFFF
        return SAT_HI
    if word == 0x800000:
        count[0] = -0x800000
        return SAT_LO
    count[0] = <int32_t>(word ^ 0x800000) - 0x800000    # sign-extend 24-bit two's complement
    return 0


def decode_word(word):
    """One raw word (uint32) -> (signed count, flag). 24-bit two's complement, MSB first (datasheet)."""
    cdef int32_t count = 0
    cdef uint8_t flag = _decode(<uint32_t>word, &count)
    return count, flag


def decode_words(const uint32_t[::1] words not None, int32_t[::1] out_counts not None,
                 uint8_t[::1] out_flags not None):
    """Decode a 1-D array of raw words into signed counts and flags (same length). Returns the count of flagged words."""
    cdef Py_ssize_t i, n = words.shape[0]
    cdef Py_ssize_t n_bad = 0
    if out_counts.shape[0] < n or out_flags.shape[0] < n:
        raise ValueError("output arrays are shorter than the words")
    with nogil:
        for i in range(n):
            out_flags[i] = _decode(words[i], &out_counts[i])
            if out_flags[i]:
                n_bad += 1
    return n_bad


cdef class SampleRing:
    """Single-producer, single-consumer ring of decoded sample sets.

    The producer (the sampler) calls ``push_block`` (or, from C without the GIL, ``push_set``); the
    consumer drains with ``pop``. When the ring is full the newest sets are dropped and counted in
    ``dropped``: the producer never waits. Attributes are declared in _hx711.pxd.
    """

    def __init__(self, channels, capacity=4096):
        if channels < 1 or capacity < 2:
            raise ValueError("a ring needs at least 1 channel and a capacity of 2")
        self.channels = channels
        self.capacity = capacity
        self._t_ns = np.zeros(capacity, dtype=np.int64)
        self._counts = np.zeros((capacity, channels), dtype=np.int32)
        self._flags = np.zeros((capacity, channels), dtype=np.uint8)
        self._head = 0
        self._tail = 0
        self.dropped = 0
        self.flagged = 0

    @property
    def available(self):
        return fp_load_acquire(&self._head) - fp_load_acquire(&self._tail)

    def push_block(self, t_ns, words, extra_flags=None):
        """Decode ``words`` (n, channels) uint32 stamped ``t_ns`` (n,) int64 and append them. Returns sets stored.

        ``extra_flags`` (n, channels) uint8, optional: flags the sampler saw on the wire (LONG_PULSE,
        GARBAGE, STUCK), OR-ed into the decoder's; a word with any of them gets count 0.
        """
        cdef const int64_t[::1] t = np.ascontiguousarray(t_ns, dtype=np.int64)
        cdef const uint32_t[:, ::1] w = np.ascontiguousarray(words, dtype=np.uint32)
        cdef const uint8_t[:, ::1] x
        if w.ndim != 2 or w.shape[1] != self.channels or t.shape[0] != w.shape[0]:
            raise ValueError(f"push_block needs t_ns (n,) and words (n, {self.channels})")
        if extra_flags is None:
            x = np.zeros((w.shape[0], self.channels), dtype=np.uint8)
        else:
            x = np.ascontiguousarray(extra_flags, dtype=np.uint8)
            if x.shape[0] != w.shape[0] or x.shape[1] != self.channels:
                raise ValueError(f"push_block needs extra_flags (n, {self.channels}) like the words")
        cdef Py_ssize_t i, n = w.shape[0]
        cdef int64_t stored = 0
        with nogil:
            for i in range(n):
                if not self.push_set(t[i], &w[i, 0], &x[i, 0]):
                    self.dropped += n - i - 1        # push_set counted this one
                    break
                stored += 1
        return stored

    cdef bint push_set(self, int64_t t_ns, const uint32_t *words, const uint8_t *extra) noexcept nogil:
        """Append one set (``channels`` words and extra flags); False (and counted) when the ring is full."""
        cdef int64_t head = self._head, slot
        cdef int ch
        cdef uint8_t flag
        if head - fp_load_acquire(&self._tail) >= self.capacity:
            self.dropped += 1
            return False
        slot = head % self.capacity
        self._t_ns[slot] = t_ns
        for ch in range(self.channels):
            flag = _decode(words[ch], &self._counts[slot, ch])
            if extra[ch]:
                flag |= extra[ch]
                self._counts[slot, ch] = 0      # a word corrupt on the wire is never a count
            self._flags[slot, ch] = flag
            if flag:
                self.flagged += 1
        fp_store_release(&self._head, head + 1)      # publish the set only once it is whole
        return True

    def pop(self, max_sets=1 << 30):
        """Remove and return up to ``max_sets`` of the oldest sets as Frames (copies)."""
        cdef int64_t tail = self._tail
        cdef int64_t n = min(fp_load_acquire(&self._head) - tail, <int64_t>max_sets)
        idx = (tail + np.arange(n, dtype=np.int64)) % self.capacity
        frames = Frames(np.asarray(self._t_ns)[idx], np.asarray(self._counts)[idx], np.asarray(self._flags)[idx])
        fp_store_release(&self._tail, tail + n)
        return frames

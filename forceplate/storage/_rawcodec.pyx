# cython: language_level=3, boundscheck=False, wraparound=False, embedsignature=True, cdivision=False
"""Compiled raw-count coder: the same bytes as its pure-Python twin ``_rawcodec_py.py`` (the readable
specification, with the method) for the same counts and state. Integer arithmetic only; ``cdivision=False``
keeps Python's floor division, and ``>>`` of a negative int64 is arithmetic (floor) on GCC, as in Python.
"""
import numpy as np

from libc.stdint cimport int32_t, int64_t, uint64_t, uint8_t
from libc.stdlib cimport free, malloc

DEF STATE_WIDTH = 9
DEF ESCAPE_Q = 32
DEF RAW_BITS = 40
DEF RESET_N = 4
DEF INITIAL_A = 64
DEF LEAK_SHIFT = 3
DEF W_STEP = 16
DEF W_MAX = 512

STATE_WIDTH_ = STATE_WIDTH     # checked against the twin by the tests


cdef struct Writer:
    uint8_t *out
    Py_ssize_t size
    uint64_t acc
    int bits


cdef inline void _put(Writer *w, uint64_t value, int nbits) noexcept nogil:
    # nbits <= 40 and w.bits < 8 on entry: the accumulator never holds more than 47 bits
    w.acc = (w.acc << nbits) | value
    w.bits += nbits
    while w.bits >= 8:
        w.bits -= 8
        w.out[w.size] = <uint8_t>((w.acc >> w.bits) & 0xFF)
        w.size += 1
    w.acc &= ((<uint64_t>1) << w.bits) - 1


cdef inline void _ones(Writer *w, int64_t count) noexcept nogil:
    cdef int step
    while count > 0:
        step = 32 if count > 32 else <int>count
        _put(w, ((<uint64_t>1) << step) - 1, step)
        count -= step


cdef inline int _rice_k(int64_t a, int64_t n) noexcept nogil:
    cdef int k = 0
    while (n << (k + 1)) < a and k < RAW_BITS:
        k += 1
    return k


cdef inline int64_t _predict(int64_t *s) noexcept nogil:
    cdef int64_t h1 = s[0], h2 = s[1], h3 = s[2], e0 = s[3], e1 = s[4], e2 = s[5]
    if e1 <= e0 and e1 <= e2:
        return h1
    if e2 < e0:
        return 2 * h1 - h2
    return (h1 + h2 + h3 + 1) // 3


cdef inline int64_t _abs(int64_t v) noexcept nogil:
    return -v if v < 0 else v


cdef inline void _update(int64_t *s, int64_t x, int64_t u, int64_t e, int64_t r_prev, int k_prev) noexcept nogil:
    cdef int64_t step, h1, h2, h3, mean
    if k_prev >= 0 and _abs(r_prev) >= ((<int64_t>1) << k_prev) and e != 0:
        step = W_STEP if (e > 0) == (r_prev > 0) else -W_STEP
        s[8] += step
        if s[8] > W_MAX:
            s[8] = W_MAX
        elif s[8] < -W_MAX:
            s[8] = -W_MAX
    h1 = s[0]
    h2 = s[1]
    h3 = s[2]
    mean = (h1 + h2 + h3 + 1) // 3
    s[3] += _abs(x - mean) - (s[3] >> LEAK_SHIFT)
    s[4] += _abs(x - h1) - (s[4] >> LEAK_SHIFT)
    s[5] += _abs(x - (2 * h1 - h2)) - (s[5] >> LEAK_SHIFT)
    s[2] = h2
    s[1] = h1
    s[0] = x
    s[6] += u
    s[7] += 1
    if s[7] >= RESET_N:
        s[6] >>= 1
        s[7] >>= 1


def initial_state(first_counts):
    """The state before the count after ``first_counts`` (ch,): a history of that one set, no errors yet."""
    first = np.asarray(first_counts, dtype=np.int64)
    state = np.zeros((first.shape[0], STATE_WIDTH), dtype=np.int64)
    state[:, 0] = first
    state[:, 1] = first
    state[:, 2] = first
    state[:, 6] = INITIAL_A
    state[:, 7] = 1
    return state


def encode_counts(counts, int64_t[:, ::1] state):
    """Code ``counts`` (n, ch) int32 after ``state`` (ch, STATE_WIDTH) int64, which is updated in place."""
    cdef const int32_t[:, ::1] c = np.ascontiguousarray(counts, dtype=np.int32)
    cdef Py_ssize_t n = c.shape[0], channels = c.shape[1], t, ch
    if state.shape[0] != channels or state.shape[1] != STATE_WIDTH:
        raise ValueError(f"state shape ({state.shape[0]}, {state.shape[1]}) for {channels} cells")
    cdef Writer w
    cdef int64_t *s
    cdef int64_t x, r, e, u, q, r_prev
    cdef int k, k_prev
    w.out = <uint8_t *>malloc(n * channels * 9 + 16)
    if w.out == NULL:
        raise MemoryError()
    w.size = 0
    w.acc = 0
    w.bits = 0
    try:
        with nogil:
            for t in range(n):
                r_prev = 0
                k_prev = 0
                for ch in range(channels):
                    s = &state[ch, 0]
                    x = c[t, ch]
                    r = x - _predict(s)
                    e = r - ((s[8] * r_prev) >> 8) if ch else r
                    u = 2 * e if e >= 0 else -2 * e - 1
                    k = _rice_k(s[6], s[7])
                    q = u >> k
                    if q < ESCAPE_Q:
                        _ones(&w, q)
                        _put(&w, 0, 1)
                        if k:
                            _put(&w, <uint64_t>u & (((<uint64_t>1) << k) - 1), k)
                    else:
                        _ones(&w, ESCAPE_Q)
                        _put(&w, <uint64_t>u, RAW_BITS)
                    _update(s, x, u, e, r_prev, k_prev if ch else -1)
                    r_prev = r
                    k_prev = k
            if w.bits:
                w.out[w.size] = <uint8_t>((w.acc << (8 - w.bits)) & 0xFF)
                w.size += 1
        return bytes(w.out[:w.size])
    finally:
        free(w.out)


def decode_counts(data, Py_ssize_t n, int64_t[:, ::1] state):
    """The (n, ch) int32 counts :func:`encode_counts` coded after ``state`` (updated in place)."""
    cdef const uint8_t[:] b = memoryview(bytes(data)).cast("B")
    cdef Py_ssize_t channels = state.shape[0], t, ch
    cdef Py_ssize_t total_bits = b.shape[0] * 8, pos = 0
    if state.shape[1] != STATE_WIDTH:
        raise ValueError(f"state has {state.shape[1]} columns, not {STATE_WIDTH}")
    out = np.empty((n, channels), dtype=np.int32)
    cdef int32_t[:, ::1] o = out
    cdef int64_t *s
    cdef int64_t x, r, e, u, q, r_prev
    cdef int k, k_prev, i, bad = 0
    with nogil:
        for t in range(n):
            r_prev = 0
            k_prev = 0
            for ch in range(channels):
                s = &state[ch, 0]
                k = _rice_k(s[6], s[7])
                q = 0
                while q < ESCAPE_Q:
                    if pos >= total_bits:
                        bad = 1
                        break
                    if not (b[pos >> 3] >> (7 - (pos & 7))) & 1:
                        pos += 1
                        break
                    pos += 1
                    q += 1
                if bad:
                    break
                if q < ESCAPE_Q:
                    u = q
                    i = k
                else:
                    u = 0
                    i = RAW_BITS
                if pos + i > total_bits:
                    bad = 1
                    break
                while i > 0:
                    u = (u << 1) | ((b[pos >> 3] >> (7 - (pos & 7))) & 1)
                    pos += 1
                    i -= 1
                e = u >> 1 if not u & 1 else -((u + 1) >> 1)
                r = e + ((s[8] * r_prev) >> 8) if ch else e
                x = _predict(s) + r
                if x < -2147483648 or x > 2147483647:
                    bad = 2
                    break
                o[t, ch] = <int32_t>x
                _update(s, x, u, e, r_prev, k_prev if ch else -1)
                r_prev = r
                k_prev = k
            if bad:
                break
    if bad == 1:
        raise ValueError("raw counts: the bit stream ends early")
    if bad == 2:
        raise ValueError("raw counts: a decoded count is outside 32 bits (corrupt data)")
    return out

"""The raw-count coder's pure-Python twin: the reference for the compiled kernel ``_rawcodec.pyx``.

Both code a block of ADC counts, shape (n, ch) int32, as one bit stream, losslessly, and leave the coder's
state (an int64 array, shape (ch, STATE_WIDTH)) where the next block continues from it. They must give the
same bytes for the same input and state: integer arithmetic only (a float could round differently on
another CPU), every division on non-negative numbers, and the tests compare the two on random input.

Per count, per cell, in set order:

1. Predict it three ways from the cell's last counts h1, h2, h3 (newest first): the mean of the three
   (quiet standing: the noise averages out), the last count (slow change) and the line through the last
   two (a rise or fall). Use the one whose recent absolute errors were smallest (a leaky sum of each
   predictor's errors, decaying by 1/8 per count): the decoder knows the same past, so nothing is sent.
2. Cells after the first: subtract the previous cell's residual of this set times a weight W / 256 (a
   step or an impact moves all the corners at once). W is learnt by sign-sign LMS, by 16 per set, only
   while the previous cell's residual stands out of its noise (|r| >= 2 ** k); it stays in -2..2.
3. Zigzag what is left (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...) and write it as a Golomb-Rice code whose
   parameter k follows the recent residuals (LOCO-I's rule from JPEG-LS, one step lower for zigzagged
   values: the least k with N * 2**(k+1) >= A, where A sums the last few zigzagged residuals and N counts
   them, both halved when N reaches RESET_N): q = u >> k ones, a zero, then the low k bits. A residual
   too big for that (q >= ESCAPE_Q) is written as ESCAPE_Q ones and 40 raw bits.
4. Update the errors, A, N and W, and shift the history.

State columns: h1 h2 h3 (last counts), e0 e1 e2 (leaky error sums of the three predictors), A, N, W.
On the simulated plate (4 cells at 80 SPS) this codes counts in about 4.6 bytes per set, against 5.6 for
zlib or lzma over byte planes of differences (bench/run.py storage).
"""
from __future__ import annotations

import numpy as np

STATE_WIDTH = 9
ESCAPE_Q = 32            # unary prefix at which a residual is written raw
RAW_BITS = 40            # a zigzagged residual of int32 counts is below 2**35
RESET_N = 4              # A and N are halved when N reaches this: k follows the last few residuals
INITIAL_A = 64           # before any residual: k = 6, a count spread of about +-64
LEAK_SHIFT = 3           # the predictors' error sums decay by 1/8 per count
W_ONE = 256              # cross-cell weight W is in units of 1/256
W_STEP = 16
W_MAX = 512

_H1, _H2, _H3, _E0, _E1, _E2, _A, _N, _W = range(STATE_WIDTH)


def initial_state(first_counts) -> np.ndarray:
    """The state before the count after ``first_counts`` (ch,): a history of that one set, no errors yet."""
    first = np.asarray(first_counts, dtype=np.int64)
    state = np.zeros((first.shape[0], STATE_WIDTH), dtype=np.int64)
    state[:, _H1] = state[:, _H2] = state[:, _H3] = first
    state[:, _A] = INITIAL_A
    state[:, _N] = 1
    return state


def _rice_k(a: int, n: int) -> int:
    k = 0
    while (n << (k + 1)) < a and k < RAW_BITS:
        k += 1
    return k


class _BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.bits = 0

    def put(self, value: int, nbits: int) -> None:
        self.acc = (self.acc << nbits) | value
        self.bits += nbits
        while self.bits >= 8:
            self.bits -= 8
            self.out.append((self.acc >> self.bits) & 0xFF)
        self.acc &= (1 << self.bits) - 1

    def ones(self, count: int) -> None:
        while count > 0:
            step = min(count, 32)
            self.put((1 << step) - 1, step)
            count -= step

    def finish(self) -> bytes:
        if self.bits:
            self.out.append((self.acc << (8 - self.bits)) & 0xFF)
            self.acc = self.bits = 0
        return bytes(self.out)


class _BitReader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0          # bit position

    def bit(self) -> int:
        byte = self.pos >> 3
        if byte >= len(self.data):
            raise ValueError("raw counts: the bit stream ends early")
        value = (self.data[byte] >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return value

    def take(self, nbits: int) -> int:
        value = 0
        for _ in range(nbits):
            value = (value << 1) | self.bit()
        return value


def _predict(s) -> int:
    h1, h2, h3, e0, e1, e2 = s[_H1], s[_H2], s[_H3], s[_E0], s[_E1], s[_E2]
    if e1 <= e0 and e1 <= e2:
        return h1
    if e2 < e0:
        return 2 * h1 - h2
    return (h1 + h2 + h3 + 1) // 3          # floor division (Python's, and Cython's without cdivision)


def _update(s, x: int, u: int, e: int, r_prev: int, k_prev: int) -> None:
    """After count x (zigzagged residual u, residual after the cross-cell term e; the previous cell's
    residual r_prev and Rice parameter k_prev, k_prev < 0 for the first cell)."""
    if k_prev >= 0 and abs(r_prev) >= (1 << k_prev) and e != 0:
        step = W_STEP if (e > 0) == (r_prev > 0) else -W_STEP
        s[_W] = max(-W_MAX, min(W_MAX, s[_W] + step))
    h1, h2, h3 = s[_H1], s[_H2], s[_H3]
    mean = (h1 + h2 + h3 + 1) // 3
    s[_E0] += abs(x - mean) - (s[_E0] >> LEAK_SHIFT)
    s[_E1] += abs(x - h1) - (s[_E1] >> LEAK_SHIFT)
    s[_E2] += abs(x - (2 * h1 - h2)) - (s[_E2] >> LEAK_SHIFT)
    s[_H3], s[_H2], s[_H1] = h2, h1, x
    s[_A] += u
    s[_N] += 1
    if s[_N] >= RESET_N:
        s[_A] >>= 1
        s[_N] >>= 1


def encode_counts(counts, state) -> bytes:
    """Code ``counts`` (n, ch) int32 after ``state`` (ch, STATE_WIDTH) int64, which is updated in place."""
    counts = np.asarray(counts, dtype=np.int64)
    n, channels = counts.shape
    rows = [[int(v) for v in row] for row in state]
    values = counts.tolist()
    w = _BitWriter()
    for t in range(n):
        r_prev = k_prev = 0
        for c in range(channels):
            s = rows[c]
            x = values[t][c]
            r = x - _predict(s)
            e = r - ((s[_W] * r_prev) >> 8) if c else r
            u = 2 * e if e >= 0 else -2 * e - 1
            k = _rice_k(s[_A], s[_N])
            q = u >> k
            if q < ESCAPE_Q:
                w.ones(q)
                w.put(0, 1)
                if k:
                    w.put(u & ((1 << k) - 1), k)
            else:
                w.ones(ESCAPE_Q)
                w.put(u, RAW_BITS)
            _update(s, x, u, e, r_prev, k_prev if c else -1)
            r_prev, k_prev = r, k
    state[:, :] = np.array(rows, dtype=np.int64)
    return w.finish()


def decode_counts(data: bytes, n: int, state) -> np.ndarray:
    """The (n, ch) int32 counts :func:`encode_counts` coded after ``state`` (updated in place)."""
    channels = state.shape[0]
    rows = [[int(v) for v in row] for row in state]
    out = np.empty((n, channels), dtype=np.int64)
    reader = _BitReader(bytes(data))
    for t in range(n):
        r_prev = k_prev = 0
        for c in range(channels):
            s = rows[c]
            k = _rice_k(s[_A], s[_N])
            q = 0
            while q < ESCAPE_Q and reader.bit():
                q += 1
            if q < ESCAPE_Q:
                u = (q << k) | reader.take(k)
            else:
                u = reader.take(RAW_BITS)
            e = u >> 1 if not u & 1 else -((u + 1) >> 1)
            r = e + ((s[_W] * r_prev) >> 8) if c else e
            x = _predict(s) + r
            if not -(1 << 31) <= x < (1 << 31):
                raise ValueError("raw counts: a decoded count is outside 32 bits (corrupt data)")
            out[t, c] = x
            _update(s, x, u, e, r_prev, k_prev if c else -1)
            r_prev, k_prev = r, k
    state[:, :] = np.array(rows, dtype=np.int64)
    return out.astype(np.int32)

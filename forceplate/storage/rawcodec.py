"""Raw traces in ``fp2`` chunks: counts by an adaptive predictor and Rice code, chunk after chunk.

A session's raw trace is stored in chunks of about a second (one committed transaction each). An ``fp2``
chunk codes its sets *after* the previous chunk: the counts coder (``_rawcodec``: compiled, with the
pure-Python twin ``_rawcodec_py`` as its specification) and the time predictor carry their state from one
chunk to the next, so nothing is spent on restarting every second. Every ``KEY_EVERY`` chunks, and whenever
the writer has no state (a session's first chunk), a *key* chunk starts afresh: a damaged chunk loses at
most the minute up to the next key chunk, never the rest of the session. Reading decodes the chunks in
order, passing the state along (:func:`decode_chunk`).

Layout (bytes): a kind byte (bit 0: key, bit 1: flags follow, bit 2: times are not one steady step); the
cells and the sets (varints); for a key chunk, the first timestamp and the first set's counts (zigzag
varints). Times: with ``s_k = t_k - t_(k-1)`` and ``d_k = s_k - s_(k-1)`` (a key chunk starts from
``t_(-1) = t_0, s_(-1) = 0``), the non-zero ``d_k`` as (zeros before it, value) pairs: a steady clock costs
nothing. Flags: runs of equal rows (length, one byte per cell). Then the counts' bit stream to the end.

:func:`encode_chunk` decodes what it wrote before returning it: if the two ever differ (a bug, never yet
seen), it raises :class:`CodecMismatch`, and :func:`encode_next` (what the store and the migrations call)
stores each of that chunk's sets as a key chunk of its own, for which the counts coder writes no bits: no
sample is ever stored wrongly, and none is dropped.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from . import _rawcodec_py
from .._extensions import compiled_or_twin
from ..device.frames import Frames
from ..exc import ForcePlateError

log = logging.getLogger(__name__)

CODEC = "fp2"
KEY_EVERY = 60                  # chunks: a key chunk about once a minute

_KEY, _FLAGS, _TIMES = 1, 2, 4

kernels = compiled_or_twin("forceplate.storage._rawcodec", _rawcodec_py, "raw-trace coder")
KERNEL = "compiled" if kernels is not _rawcodec_py else "pure-python"


class CorruptChunk(ForcePlateError, ValueError):
    """A stored chunk cannot be decoded (cut short, damaged, or read without the chunk before it)."""


class CodecMismatch(ForcePlateError):
    """The coder could not reproduce a chunk it had just written: it must not be stored in this format."""


@dataclass
class ChunkState:
    """Where the next chunk continues: the counts coder's state, the last time and the last step (ns)."""
    counts: np.ndarray
    t_last: int
    step_last: int


# ---------------------------------------------------------------------------------------------- varints
# LEB128 varints of zigzagged integers: the numbers of every raw chunk format (the migration reading fp1 too)

def zigzag(v: int) -> int:
    """0, -1, 1, -2, ... -> 0, 1, 2, 3, ...: small numbers of either sign stay small."""
    return 2 * v if v >= 0 else -2 * v - 1


def unzigzag(u: int) -> int:
    return u >> 1 if not u & 1 else -((u + 1) >> 1)


def put_varint(out: bytearray, u: int) -> None:
    """Append ``u`` >= 0: 7 bits a byte, low first, the high bit set on every byte but the last."""
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)


class VarintReader:
    """Reads varints and bytes from ``data`` in order; :class:`CorruptChunk` when it runs out."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def varint(self) -> int:
        value = shift = 0
        while True:
            if self.pos >= len(self.data):
                raise CorruptChunk("corrupt raw chunk: cut short")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 140:
                raise CorruptChunk("corrupt raw chunk: a number too long")

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise CorruptChunk("corrupt raw chunk: cut short")
        part = self.data[self.pos:self.pos + count]
        self.pos += count
        return part


# ------------------------------------------------------------------------------------------------ chunks

def encode_chunk(t_ns, raw_counts, flags, state: ChunkState | None = None) -> tuple[str, bytes, ChunkState]:
    """Code sample sets after ``state`` (None: a key chunk). Returns ``(codec, data, state after)``.

    ``state`` is not modified. Raises ValueError for inconsistent shapes or counts outside int32, and
    :class:`CodecMismatch` if the chunk would not decode to exactly these sets.
    """
    t_list = [int(v) for v in np.asarray(t_ns, dtype=np.int64)]
    counts = np.asarray(raw_counts)
    flags = np.asarray(flags, dtype=np.uint8)
    n = len(t_list)
    if n == 0 or counts.ndim != 2 or counts.shape[0] != n or flags.shape != counts.shape:
        raise ValueError(f"a chunk needs n >= 1 sets: t_ns (n,), counts and flags (n, ch); got "
                         f"({n},), {counts.shape}, {flags.shape}")
    wide = counts.astype(np.int64)
    if wide.size and (wide.min() < -2**31 or wide.max() >= 2**31):
        raise ValueError("counts must fit in 32 bits")
    counts = wide.astype(np.int32)
    channels = counts.shape[1]
    if state is not None and state.counts.shape[0] != channels:
        state = None                          # a different plate: start afresh
    key = state is None
    out = bytearray()
    kind = _KEY if key else 0

    # times
    if key:
        t_prev, s_prev = t_list[0], 0
    else:
        t_prev, s_prev = state.t_last, state.step_last
    pairs = []
    zeros = 0
    for t in t_list:
        step = t - t_prev
        d = step - s_prev
        if d:
            pairs.append((zeros, d))
            zeros = 0
        else:
            zeros += 1
        t_prev, s_prev = t, step
    if pairs:
        kind |= _TIMES
    runs = _flag_runs(flags)
    if runs:
        kind |= _FLAGS

    out.append(kind)
    put_varint(out, channels)
    put_varint(out, n)
    if key:
        put_varint(out, zigzag(t_list[0]))
        for v in counts[0].tolist():
            put_varint(out, zigzag(int(v)))
        coder = kernels.initial_state(counts[0])
        rest = counts[1:]
    else:
        coder = state.counts.copy()
        rest = counts
    if pairs:
        put_varint(out, len(pairs))
        for zeros, d in pairs:
            put_varint(out, zeros)
            put_varint(out, zigzag(d))
    if runs:
        put_varint(out, len(runs))
        for length, row in runs:
            put_varint(out, length)
            out += row
    out += kernels.encode_counts(rest, coder)
    after = ChunkState(coder, t_prev, s_prev)
    data = bytes(out)

    check, check_state = decode_chunk(CODEC, data, state)      # state is untouched: coder was its copy
    if (not np.array_equal(check.t_ns, np.asarray(t_ns, dtype=np.int64))
            or not np.array_equal(check.raw_counts, counts) or not np.array_equal(check.flags, flags)
            or not np.array_equal(check_state.counts, after.counts)):
        raise CodecMismatch("the fp2 coder did not reproduce a chunk")
    return CODEC, data, after


def _flag_runs(flags: np.ndarray) -> list:
    """Runs of equal flag rows as (length, row bytes); [] when every flag is 0."""
    if not flags.any():
        return []
    change = np.flatnonzero((flags[1:] != flags[:-1]).any(axis=1)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [flags.shape[0]]))
    return [(int(e - s), flags[s].tobytes()) for s, e in zip(starts, ends)]


def decode_chunk(codec: str, data: bytes, state: ChunkState | None = None) -> tuple[Frames, ChunkState]:
    """The sets of one ``fp2`` chunk and the state after it. A chunk that continues another needs the
    state its predecessor left (:class:`CorruptChunk` without it); ``state`` is not modified."""
    if codec != CODEC:
        raise CorruptChunk(f"unknown raw chunk format {codec!r}")
    data = bytes(data)
    reader = VarintReader(data)
    kind = reader.take(1)[0]
    if kind & ~(_KEY | _FLAGS | _TIMES):
        raise CorruptChunk(f"corrupt raw chunk: kind byte {kind:#x}")
    channels = reader.varint()
    n = reader.varint()
    if not 1 <= channels <= 64 or n < 1 or n > 8 * len(data) + 1:
        raise CorruptChunk(f"corrupt raw chunk: {n} sets of {channels} cells")
    key = bool(kind & _KEY)
    if key:
        t_first = unzigzag(reader.varint())
        first = [unzigzag(reader.varint()) for _ in range(channels)]
        if any(not -2**31 <= v < 2**31 for v in first):
            raise CorruptChunk("corrupt raw chunk: a first count outside 32 bits")
        t_prev, s_prev = t_first, 0
        coder = kernels.initial_state(np.array(first, dtype=np.int64))
    else:
        if state is None:
            raise CorruptChunk("this raw chunk continues the one before it, which was not read")
        if state.counts.shape[0] != channels:
            raise CorruptChunk(f"corrupt raw chunk: {channels} cells after a chunk of {state.counts.shape[0]}")
        t_prev, s_prev = state.t_last, state.step_last
        coder = state.counts.copy()

    d = [0] * n
    if kind & _TIMES:
        at = 0
        for _ in range(reader.varint()):
            at += reader.varint()
            if at >= n:
                raise CorruptChunk("corrupt raw chunk: times beyond the chunk")
            d[at] = unzigzag(reader.varint())
            at += 1
    t_out = []
    for dk in d:
        s_prev += dk
        t_prev += s_prev
        t_out.append(t_prev)
    try:
        t_array = np.array(t_out, dtype=np.int64)
    except OverflowError:
        raise CorruptChunk("corrupt raw chunk: times outside 64 bits") from None

    flags = np.zeros((n, channels), dtype=np.uint8)
    if kind & _FLAGS:
        at = 0
        for _ in range(reader.varint()):
            length = reader.varint()
            row = np.frombuffer(reader.take(channels), dtype=np.uint8)
            if length < 1 or at + length > n:
                raise CorruptChunk("corrupt raw chunk: flags beyond the chunk")
            flags[at:at + length] = row
            at += length
        if at != n:
            raise CorruptChunk("corrupt raw chunk: the flags are cut short")

    try:
        rest = kernels.decode_counts(data[reader.pos:], n - 1 if key else n, coder)
    except ValueError as exc:
        raise CorruptChunk(f"corrupt raw chunk: {exc}") from None
    counts = np.concatenate((np.array([first], dtype=np.int32), rest)) if key else rest
    frames = Frames(t_array, counts.astype(np.int32, copy=False), flags)
    return frames, ChunkState(coder, t_prev, s_prev)


# ------------------------------------------------------------------------------------------------ sessions

@dataclass(frozen=True)
class Position:
    """Where a session's next chunk continues: the state after its last chunk (None: start afresh) and how
    many chunks have been written since its last key chunk."""
    state: ChunkState | None = None
    since_key: int = 0


def encode_next(frames: Frames, position: Position | None = None, *,
                what: str = "a raw chunk") -> tuple[list[tuple[Frames, str, bytes]], Position]:
    """Code one chunk's sets as a session's next ``fp2`` chunk(s); returns ``(chunks, position after)``, each
    chunk ``(its sets, codec, data)`` in order. ``position`` is not modified: keep the one returned only once
    the chunks are stored, so the next chunk continues from what is stored.

    A key chunk starts a session and then every :data:`KEY_EVERY` chunks. If the coder does not reproduce
    the sets (a coder bug: :class:`CodecMismatch`), each set is stored as a key chunk of its own: a key chunk
    of one set holds its time, counts and flags as plain varints (the counts coder writes no bits for it),
    so it costs 20 to 30 bytes a set instead of 5 but loses nothing; the mismatch is logged and the next
    chunk starts afresh. Raises :class:`CodecMismatch` only if even that fails: the caller must then refuse the
    sets loudly rather than store them wrongly.
    """
    position = position or Position()
    state = None if position.since_key >= KEY_EVERY else position.state
    try:
        codec, data, after = encode_chunk(frames.t_ns, frames.raw_counts, frames.flags, state)
    except CodecMismatch:
        log.error("%s did not survive the fp2 coder's round trip: its %d sets are stored as one key chunk each",
                  what, frames.n_sets)
        chunks = []
        for i in range(frames.n_sets):
            one = Frames(frames.t_ns[i:i + 1], frames.raw_counts[i:i + 1], frames.flags[i:i + 1])
            codec, data, _ = encode_chunk(one.t_ns, one.raw_counts, one.flags, None)
            chunks.append((one, codec, data))
        return chunks, Position()
    return [(frames, codec, data)], Position(after, 1 if state is None else position.since_key + 1)

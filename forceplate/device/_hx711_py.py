"""Pure-Python twin of the compiled kernel ``_hx711.pyx``: the readable specification.

Same names, same signatures, same results (tests/test_kernel.py proves it on the same inputs). Used
where nothing was compiled, or when FORCEPLATE_PUREPYTHON=1 asks for it.
"""
import numpy as np

from .frames import Frames

# Flag values: keep equal to forceplate/device/flags.py and _hx711.pyx.
_NOT_READY, _SAT_HI, _SAT_LO, _GARBAGE = 1, 2, 4, 8
_WORD_NOT_READY = 0xFFFFFFFF


def decode_word(word):
    """One raw word (uint32) -> (signed count, flag). 24-bit two's complement, MSB first (datasheet)."""
    word = int(word)
    if word == _WORD_NOT_READY:
        return 0, _NOT_READY
    if word > 0xFFFFFF:
        return 0, _GARBAGE
    if word == 0x7FFFFF:        # test the raw word: once sign-extended, saturation looks like a reading
        return 0x7FFFFF, _SAT_HI
    if word == 0x800000:
        return -0x800000, _SAT_LO
    return (word ^ 0x800000) - 0x800000, 0


def decode_words(words, out_counts, out_flags):
    """Decode a 1-D array of raw words into signed counts and flags (same length). Returns the count of flagged words."""
    n_bad = 0
    for i in range(len(words)):
        count, flag = decode_word(words[i])
        out_counts[i] = count
        out_flags[i] = flag
        if flag:
            n_bad += 1
    return n_bad


class SampleRing:
    """Single-producer, single-consumer ring of decoded sample sets.

    The producer (the sampler) calls ``push_block``; the consumer drains with ``pop``. When the ring is
    full the newest sets are dropped and counted in ``dropped``: the producer never waits.
    """

    def __init__(self, channels, capacity=4096):
        if channels < 1 or capacity < 2:
            raise ValueError("a ring needs at least 1 channel and a capacity of 2")
        self.channels = int(channels)
        self.capacity = int(capacity)
        self._t_ns = np.zeros(self.capacity, dtype=np.int64)
        self._counts = np.zeros((self.capacity, self.channels), dtype=np.int32)
        self._flags = np.zeros((self.capacity, self.channels), dtype=np.uint8)
        self._head = 0      # sets written, ever (only the producer changes it)
        self._tail = 0      # sets read, ever (only the consumer changes it)
        self.dropped = 0
        self.flagged = 0    # words flagged invalid, ever

    @property
    def available(self):
        return self._head - self._tail

    def push_block(self, t_ns, words, extra_flags=None):
        """Decode ``words`` (n, channels) uint32 stamped ``t_ns`` (n,) int64 and append them. Returns sets stored.

        ``extra_flags`` (n, channels) uint8, optional: flags the sampler saw on the wire (LONG_PULSE,
        GARBAGE, STUCK), OR-ed into the decoder's; a word with any of them gets count 0.
        """
        words = np.asarray(words)
        t_ns = np.asarray(t_ns)
        if words.ndim != 2 or words.shape[1] != self.channels or t_ns.shape != (words.shape[0],):
            raise ValueError(f"push_block needs t_ns (n,) and words (n, {self.channels})")
        if extra_flags is None:
            extra_flags = np.zeros(words.shape, dtype=np.uint8)
        extra_flags = np.asarray(extra_flags)
        if extra_flags.shape != words.shape:
            raise ValueError(f"push_block needs extra_flags (n, {self.channels}) like the words")
        stored = 0
        for i in range(words.shape[0]):
            if not self.push_set(int(t_ns[i]), words[i], extra_flags[i]):
                self.dropped += words.shape[0] - i - 1      # push_set counted this one
                break
            stored += 1
        return stored

    def push_set(self, t_ns, words, extra):
        """Append one set (``channels`` words and extra flags); False (and counted) when the ring is full."""
        if self._head - self._tail >= self.capacity:
            self.dropped += 1
            return False
        slot = self._head % self.capacity
        self._t_ns[slot] = t_ns
        for ch in range(self.channels):
            count, flag = decode_word(words[ch])
            if extra[ch]:
                flag |= int(extra[ch])
                count = 0               # a word corrupt on the wire is never a count
            self._counts[slot, ch] = count
            self._flags[slot, ch] = flag
            if flag:
                self.flagged += 1
        self._head += 1     # publish the set only once it is whole
        return True

    def pop(self, max_sets=1 << 30):
        """Remove and return up to ``max_sets`` of the oldest sets as Frames (copies)."""
        n = min(self._head - self._tail, int(max_sets))
        idx = (self._tail + np.arange(n)) % self.capacity
        frames = Frames(self._t_ns[idx].copy(), self._counts[idx].copy(), self._flags[idx].copy())
        self._tail += n
        return frames

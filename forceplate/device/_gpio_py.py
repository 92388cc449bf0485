"""Pure-Python twin of the compiled GPIO sampler loop ``_gpio.pyx``: the readable specification.

Same names, same parameters, same results: on the same emulated chips with a virtual clock both produce
the same sets, flags and statistics (tests/test_gpio_sampler.py). The twin drives any object with the
line-backend methods ``set_sck(level)``, ``read_dout() -> int`` (bit ``ch`` set when DOUT ``ch`` is high),
``wait_ready(need, until_ns, poll_ns) -> int`` (block until every DOUT in ``need`` is low, or any if
``need`` is 0, or ``until_ns``; return the DOUT bits read last), ``now_ns()`` and ``sleep_until_ns(t_ns)``;
the compiled loop needs a C backend (``_gpio.UapiLines`` or ``_gpio.EmulatedLines``).

One set, as the HX711 datasheet asks:

1. Wait until every awaited DOUT is low (data ready): after the first set, sleep until an eighth of a
   period before the next set is expected (the period is measured from the ready instants), look once,
   and if not ready let the backend wait: on the plate it sleeps in ppoll() until a DOUT falling-edge
   event (or, where the kernel gives no edges, polls every ``poll_ns``); emulated chips sleep until their
   next edge. Nothing is read between wake-ups, so the loop costs a few wake-ups per set. Give up after
   ``timeout_ns`` (3 output periods by default): the chips still high are NOT_READY for this set, never
   waited on forever. A chip NOT_READY ``absent_after`` sets in a row is no longer awaited (an unplugged
   chip must not slow the others to a third of their rate); it is read again as soon as its DOUT is low,
   and awaited again after a clean word.
2. Clock ``gain_pulses`` (25: channel A, gain 128) SCK pulses. On each of the first 24, read all DOUT
   lines at once while SCK is high: one bit per chip, MSB first. On the 25th, DOUT must read high,
   else the word is GARBAGE (a line stuck low, a chip out of step). Every SCK-high is timed, from before
   the rising write to after the falling one (an upper bound): over ``long_pulse_ns`` (50 us) the words
   are LONG_PULSE; at ``power_down_ns`` (60 us) the chips powered down, and the next ``settle_sets``
   sets are LONG_PULSE too (their filter restarts).
3. A chip that was not ready when a train began may have been clocked part of the way through a word:
   its next word is GARBAGE (one full train puts it back in step). The same all-zeros or all-ones word
   ``stuck_sets`` times in a row is STUCK from then on.
4. Push (time the set was seen ready, words, flags) into the SampleRing. Chips not read get
   WORD_NOT_READY, which the ring's decoder flags NOT_READY.
"""
import numpy as np

# Flag values: keep equal to forceplate/device/flags.py and _gpio.pyx.
_GARBAGE, _LONG_PULSE, _STUCK = 8, 16, 32
_WORD_NOT_READY = 0xFFFFFFFF


class Sampler:
    """The lock-step read loop for ``channels`` HX711 chips on one SCK (see the module docstring).

    Parameters (all times in ns except where named)
    ----------
    channels : int
    rate_hz : float
        Nominal output rate (80 SPS with RATE high); sets the timeout and the first wake-up guess.
    gain_pulses : {25, 26, 27}
        25: channel A gain 128; 26: channel B gain 32; 27: channel A gain 64.
    timeout_periods : float
        How long to wait for data-ready, in output periods.
    poll_us, long_pulse_us, power_down_us : float
        DOUT polling interval of a backend without edge events; the SCK-high that flags LONG_PULSE; the one
        after which the chips are off.
    settle_sets, stuck_sets, absent_after : int
    """

    def __init__(self, channels=4, *, rate_hz=80.0, gain_pulses=25, timeout_periods=3.0, poll_us=100.0,
                 long_pulse_us=50.0, power_down_us=60.0, settle_sets=4, stuck_sets=8, absent_after=2):
        if not 1 <= int(channels) <= 32:
            raise ValueError("the sampler reads 1 to 32 chips")
        if int(gain_pulses) not in (25, 26, 27):
            raise ValueError("gain_pulses must be 25 (A, 128), 26 (B, 32) or 27 (A, 64)")
        if not 0.5 <= float(rate_hz) <= 200.0:
            raise ValueError(f"rate_hz {rate_hz} is outside 0.5-200 SPS")
        self.channels = int(channels)
        self.gain_pulses = int(gain_pulses)
        self.period_ns = int(round(1e9 / float(rate_hz)))
        self.timeout_ns = int(round(float(timeout_periods) * self.period_ns))
        self.poll_ns = max(1_000, int(round(float(poll_us) * 1000)))
        self.long_pulse_ns = int(round(float(long_pulse_us) * 1000))
        self.power_down_ns = int(round(float(power_down_us) * 1000))
        self.settle_sets = int(settle_sets)
        self.stuck_sets = max(2, int(stuck_sets))
        self.absent_after = max(1, int(absent_after))
        self._stop = False
        self.reset()

    def reset(self):
        """Forget the loop's state and statistics (not its parameters)."""
        n = self.channels
        self._all = (1 << n) - 1
        self._wait_mask = self._all
        self._resync_mask = 0
        self._miss = [0] * n
        self._last_word = [0] * n
        self._same = [0] * n
        self._settle_left = 0
        self._last_ready_ns = 0
        self.period_est_ns = self.period_ns
        # statistics
        self.sets = 0               # sets pushed (or dropped by a full ring)
        self.sets_clean = 0         # sets where every chip gave a word with no sampler flag
        self.timeouts = 0
        self.pulses = 0
        self.pulses_long = 0        # SCK-highs over long_pulse_ns
        self.power_downs = 0        # SCK-highs of power_down_ns or more
        self.sck_high_max_ns = 0
        self.not_ready_words = 0
        self.garbage_words = 0
        self.stuck_words = 0
        self.long_pulse_words = 0

    @property
    def awaited_mask(self):
        """Bit ``ch`` set while chip ``ch`` is awaited (not given up as absent)."""
        return self._wait_mask

    def stop(self):
        """Ask a running loop to end after the set in progress (from another thread)."""
        self._stop = True

    def run(self, lines, ring, until_ns=0, max_sets=0):
        """Read sets into ``ring`` until ``stop()``, ``lines.now_ns() >= until_ns`` (if > 0) or ``max_sets``
        sets (if > 0). Returns the sets produced by this call."""
        self._stop = False
        produced = 0
        words = [0] * self.channels
        extra = [0] * self.channels
        while not self._stop:
            if until_ns > 0 and lines.now_ns() >= until_ns:
                break
            if max_sets > 0 and produced >= max_sets:
                break
            self._one_set(lines, ring, words, extra)
            produced += 1
        return produced

    def _one_set(self, lines, ring, words, extra):
        n = self.channels
        # 1. wait for data-ready
        start = lines.now_ns()
        expected = 0
        if self._last_ready_ns:
            expected = self._last_ready_ns + self.period_est_ns
            wake = expected - (self.period_ns >> 3)
            if wake > start:
                lines.sleep_until_ns(wake)
        deadline = start + self.timeout_ns
        need = self._wait_mask
        poll = self.poll_ns if need else self.period_ns >> 3
        low = ~lines.read_dout() & self._all          # the first look: maybe we woke late
        ready = bool((need and (low & need) == need) or (not need and low))
        first_look = ready
        timed_out = False
        if not ready:                                 # the backend sleeps until an edge (or polls)
            low = ~lines.wait_ready(need, deadline, poll) & self._all
            ready = bool((need and (low & need) == need) or (not need and low))
            timed_out = not ready
        t_ready = lines.now_ns()
        if timed_out:
            self.timeouts += 1
            self._last_ready_ns = 0
        elif first_look and expected and expected <= t_ready:
            # Already ready when we looked: we woke late and did not see when. Anchor the next wake-up
            # on the expected instant, else each late wake-up would make the next one later still.
            self._last_ready_ns = expected
        else:
            if self._last_ready_ns:
                interval = t_ready - self._last_ready_ns
                if (self.period_ns >> 1) < interval < self.period_ns + (self.period_ns >> 1):
                    self.period_est_ns += (interval - self.period_est_ns) >> 3
            self._last_ready_ns = t_ready

        # 2. clock the words out
        for ch in range(n):
            words[ch] = 0
        long_pulse = False
        powered_down = False
        after = 0
        if low:
            for p in range(self.gain_pulses):
                t0 = lines.now_ns()
                lines.set_sck(1)
                if p < 24:
                    bits = lines.read_dout()
                    for ch in range(n):
                        words[ch] = (words[ch] << 1) | ((bits >> ch) & 1)
                elif p == 24:
                    after = lines.read_dout()
                lines.set_sck(0)
                high_ns = lines.now_ns() - t0
                self.pulses += 1
                if high_ns > self.sck_high_max_ns:
                    self.sck_high_max_ns = high_ns
                if high_ns > self.long_pulse_ns:
                    self.pulses_long += 1
                    long_pulse = True
                if high_ns >= self.power_down_ns:
                    self.power_downs += 1
                    powered_down = True

        # 3. flag what the wire showed
        clean = True
        for ch in range(n):
            bit = 1 << ch
            flag = 0
            if not low & bit:
                words[ch] = _WORD_NOT_READY
                self.not_ready_words += 1
                clean = False
                if need & bit:
                    self._miss[ch] += 1
                    if self._miss[ch] >= self.absent_after:
                        self._wait_mask &= ~bit
                if low:
                    self._resync_mask |= bit        # clocked while not ready: maybe out of step
            else:
                if not after & bit:
                    flag |= _GARBAGE
                if self._resync_mask & bit:
                    flag |= _GARBAGE
                    self._resync_mask &= ~bit
                if long_pulse or self._settle_left > 0:
                    flag |= _LONG_PULSE
                w = words[ch]
                if w == 0 or w == 0xFFFFFF:
                    self._same[ch] = self._same[ch] + 1 if w == self._last_word[ch] else 1
                else:
                    self._same[ch] = 0
                self._last_word[ch] = w
                if self._same[ch] >= self.stuck_sets:
                    flag |= _STUCK
                if flag & _GARBAGE:
                    self.garbage_words += 1
                if flag & _LONG_PULSE:
                    self.long_pulse_words += 1
                if flag & _STUCK:
                    self.stuck_words += 1
                if flag:
                    clean = False
                if not flag & _GARBAGE:
                    self._miss[ch] = 0
                    self._wait_mask |= bit
            extra[ch] = flag
        if powered_down:
            self._settle_left = self.settle_sets + 1     # this set, then settle_sets more
        if self._settle_left > 0:
            self._settle_left -= 1

        # 4. publish
        ring.push_block(np.array([t_ready], dtype=np.int64), np.array([words], dtype=np.uint32),
                        np.array([extra], dtype=np.uint8))
        self.sets += 1
        if clean:
            self.sets_clean += 1

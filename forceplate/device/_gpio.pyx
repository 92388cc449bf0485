# cython: language_level=3, boundscheck=False, wraparound=False, embedsignature=True, cdivision=True
"""Compiled HX711 GPIO sampler: the lock-step read loop, without the GIL, over a small C "line backend".

A line backend is five C functions (set SCK, read the DOUT group, wait until the DOUT lines are
ready, now_ns, sleep_until_ns) behind ``Lines``. Two implement it: ``UapiLines`` (the kernel's GPIO character device, uAPI v2 ioctls) and
``EmulatedLines`` (emulated HX711 chips, the C port of ``emulator.EmulatedChips``), so the SAME compiled
loop runs on the plate and in the tests. The readable specification of the loop is ``_gpio_py.py`` and of
the chips ``emulator.py``: same names, same results.
"""
import numpy as np

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memset, strncpy
from libc.errno cimport errno
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from posix.fcntl cimport open as c_open, fcntl, F_GETFL, F_SETFL, O_RDONLY, O_CLOEXEC, O_NONBLOCK
from posix.unistd cimport close as c_close, read as c_read

from ._hx711 cimport SampleRing

cdef extern from "<time.h>" nogil:
    enum: CLOCK_THREAD_CPUTIME_ID
    enum: TIMER_ABSTIME
    int clock_nanosleep(int clockid, int flags, const timespec *request, timespec *remain)

cdef extern from "<sys/ioctl.h>" nogil:
    int ioctl(int fd, unsigned long request, ...)

cdef extern from "<poll.h>" nogil:       # ppoll: pyconfig.h defines _GNU_SOURCE
    cdef struct pollfd:
        int fd
        short events
        short revents
    enum: POLLIN
    enum: POLLERR
    enum: POLLHUP
    enum: POLLNVAL
    int ppoll(pollfd *fds, unsigned long nfds, const timespec *tmo, const void *sigmask)

cdef extern from "<errno.h>" nogil:
    enum: EAGAIN
    enum: EINTR
    enum: EIO

cdef extern from "<linux/gpio.h>" nogil:
    enum: GPIO_V2_LINES_MAX
    enum: GPIO_MAX_NAME_SIZE
    enum: GPIO_V2_LINE_NUM_ATTRS_MAX
    cdef struct gpiochip_info:
        char name[32]
        char label[32]
        uint32_t lines
    cdef struct gpio_v2_line_attribute:
        uint32_t id
        uint64_t flags          # a union in C with values and debounce_period_us
        uint64_t values
    cdef struct gpio_v2_line_config_attribute:
        gpio_v2_line_attribute attr
        uint64_t mask
    cdef struct gpio_v2_line_config:
        uint64_t flags
        uint32_t num_attrs
        gpio_v2_line_config_attribute attrs[10]
    cdef struct gpio_v2_line_request:
        uint32_t offsets[64]
        char consumer[32]
        gpio_v2_line_config config
        uint32_t num_lines
        uint32_t event_buffer_size
        int32_t fd
    cdef struct gpio_v2_line_values:
        uint64_t bits
        uint64_t mask
    cdef struct gpio_v2_line_event:
        uint64_t timestamp_ns
        uint32_t id
        uint32_t offset
    unsigned long GPIO_GET_CHIPINFO_IOCTL
    unsigned long GPIO_V2_GET_LINE_IOCTL
    unsigned long GPIO_V2_LINE_SET_VALUES_IOCTL
    unsigned long GPIO_V2_LINE_GET_VALUES_IOCTL
    uint64_t GPIO_V2_LINE_FLAG_INPUT
    uint64_t GPIO_V2_LINE_FLAG_OUTPUT
    uint64_t GPIO_V2_LINE_FLAG_BIAS_PULL_UP
    uint64_t GPIO_V2_LINE_FLAG_EDGE_FALLING
    uint32_t GPIO_V2_LINE_ATTR_ID_FLAGS
    uint32_t GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES

cdef extern from *:
    """
    static inline int fp_load_int(int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void fp_store_int(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    """
    int fp_load_int(int *p) nogil
    void fp_store_int(int *p, int v) nogil

# Flag values: keep equal to forceplate/device/flags.py and _gpio_py.py.
cdef enum:
    GARBAGE = 8
    LONG_PULSE = 16
    STUCK = 32
    MAX_CH = 32
    MAX_FAULTS = 32
    MAX_SLOW = 16
cdef uint32_t WORD_NOT_READY = 0xFFFFFFFFU
cdef int64_t POWER_DOWN_NS = 60000     # datasheet: SCK high > 60 us enters power-down
cdef int SETTLE_WORDS = 3
cdef int64_t NEVER_NS = (<int64_t>1) << 62

GET_CHIPINFO_IOCTL = GPIO_GET_CHIPINFO_IOCTL     # for the pure-Python chip scan's cross-check

# ------------------------------------------------------------------------------ the line backend

ctypedef int (*set_sck_fn)(void *ctx, int level) noexcept nogil
ctypedef int64_t (*read_dout_fn)(void *ctx) noexcept nogil      # DOUT bits, or -errno
ctypedef int64_t (*now_fn)(void *ctx) noexcept nogil
ctypedef void (*sleep_fn)(void *ctx, int64_t t_ns) noexcept nogil
# Wait until every DOUT line in ``need`` reads low (``need`` 0: any line), or until the clock reaches
# ``until_ns``; return the DOUT bits read last, or -errno. ``poll_ns``: the polling interval of a backend
# that cannot wait for edges.
ctypedef int64_t (*wait_ready_fn)(void *ctx, uint32_t need, int64_t until_ns, int64_t poll_ns) noexcept nogil

ctypedef struct fp_lines:
    void *ctx
    set_sck_fn set_sck
    read_dout_fn read_dout
    wait_ready_fn wait_ready
    now_fn now_ns
    sleep_fn sleep_until_ns


cdef inline int64_t mono_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef inline void mono_sleep_until(int64_t t_ns) noexcept nogil:
    cdef timespec ts
    ts.tv_sec = t_ns // 1000000000
    ts.tv_nsec = t_ns % 1000000000
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0:    # EINTR: sleep on
        if mono_ns() >= t_ns:
            break


def thread_cpu_ns():
    """CPU time of the calling thread in ns (CLOCK_THREAD_CPUTIME_ID)."""
    cdef timespec ts
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef class Lines:
    """A C line backend; the Python methods let the pure-Python twin loop drive it too."""
    cdef fp_lines iface
    cdef readonly int channels

    def set_sck(self, level):
        cdef int rc = self.iface.set_sck(self.iface.ctx, 1 if level else 0)
        if rc < 0:
            raise OSError(-rc, "GPIO set SCK failed")

    def read_dout(self):
        cdef int64_t bits = self.iface.read_dout(self.iface.ctx)
        if bits < 0:
            raise OSError(<int>-bits, "GPIO read DOUT failed")
        return bits

    def wait_ready(self, need, until_ns, poll_ns=100_000):
        """Block until every DOUT line in ``need`` reads low (``need`` 0: any line) or the clock reaches
        ``until_ns``; return the DOUT bits read last."""
        cdef uint32_t n = need
        cdef int64_t u = until_ns, p = poll_ns, bits
        with nogil:
            bits = self.iface.wait_ready(self.iface.ctx, n, u, p)
        if bits < 0:
            raise OSError(<int>-bits, "GPIO wait for DOUT failed")
        return bits

    def now_ns(self):
        return self.iface.now_ns(self.iface.ctx)

    def sleep_until_ns(self, t_ns):
        cdef int64_t t = t_ns
        with nogil:
            self.iface.sleep_until_ns(self.iface.ctx, t)


# --------------------------------------------------------------------- uAPI v2 (the real plate)

ctypedef struct uapi_t:
    int fd
    int channels
    int edges                   # DOUT lines report falling edges: wait in ppoll(), not by polling
    uint64_t dout_mask


cdef enum:
    EVENTS_PER_READ = 16
    EVENT_BUFFER = 256          # the kernel's queue; clocking a word out queues up to 12 edges per chip


cdef int uapi_set_sck(void *ctx, int level) noexcept nogil:
    cdef uapi_t *self = <uapi_t *>ctx
    cdef gpio_v2_line_values v
    v.mask = 1                                  # SCK is line 0 of the request
    v.bits = <uint64_t>level
    if ioctl(self.fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &v) < 0:
        return -errno
    return 0


cdef int64_t uapi_read_dout(void *ctx) noexcept nogil:
    cdef uapi_t *self = <uapi_t *>ctx
    cdef gpio_v2_line_values v
    v.mask = self.dout_mask                     # the DOUT lines, 1..channels, in one ioctl
    v.bits = 0
    if ioctl(self.fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &v) < 0:
        return -errno
    return <int64_t>((v.bits >> 1) & ((<uint64_t>1 << self.channels) - 1))


cdef int uapi_drain(uapi_t *self) noexcept nogil:
    """Discard queued edge events (the fd is non-blocking): DOUT is read right after, so they are stale."""
    cdef gpio_v2_line_event buf[EVENTS_PER_READ]
    cdef Py_ssize_t n
    while True:
        n = c_read(self.fd, buf, sizeof(buf))
        if n < <Py_ssize_t>sizeof(buf):
            if n < 0 and errno != EAGAIN and errno != EINTR:
                return -errno
            return 0


cdef int64_t uapi_wait_ready(void *ctx, uint32_t need, int64_t until, int64_t poll_ns) noexcept nogil:
    cdef uapi_t *self = <uapi_t *>ctx
    cdef uint32_t all_lines = <uint32_t>((<uint64_t>1 << self.channels) - 1), low
    cdef int64_t bits, now, left
    cdef int rc
    cdef pollfd pfd
    cdef timespec ts
    while True:
        if self.edges:
            rc = uapi_drain(self)          # drain, then read: an edge after the read wakes ppoll below
            if rc < 0:
                return rc
        bits = uapi_read_dout(ctx)
        if bits < 0:
            return bits
        low = (~(<uint32_t>bits)) & all_lines
        if (need and (low & need) == need) or (not need and low):
            return bits
        now = mono_ns()
        if now >= until:
            return bits
        if self.edges:
            left = until - now
            ts.tv_sec = left // 1000000000
            ts.tv_nsec = left % 1000000000
            pfd.fd = self.fd
            pfd.events = POLLIN
            pfd.revents = 0
            rc = ppoll(&pfd, 1, &ts, NULL)
            if rc < 0 and errno != EINTR:
                return -errno
            if rc > 0 and pfd.revents & (POLLERR | POLLHUP | POLLNVAL):
                return -EIO                # the chip went away: never spin on a dead fd
        else:
            mono_sleep_until(now + poll_ns if now + poll_ns < until else until)


cdef int64_t uapi_now(void *ctx) noexcept nogil:
    return mono_ns()


cdef void uapi_sleep(void *ctx, int64_t t_ns) noexcept nogil:
    mono_sleep_until(t_ns)


def chip_info(path):
    """``(name, label, lines)`` of a GPIO chip device (GPIO_GET_CHIPINFO_IOCTL). Raises OSError."""
    cdef gpiochip_info info
    cdef bytes p = str(path).encode()
    cdef int fd = c_open(p, O_RDONLY | O_CLOEXEC)
    if fd < 0:
        raise OSError(errno, f"cannot open {path}")
    memset(&info, 0, sizeof(info))
    cdef int rc = ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, &info)
    cdef int err = errno
    c_close(fd)
    if rc < 0:
        raise OSError(err, f"{path}: GPIO_GET_CHIPINFO_IOCTL failed")
    return info.name.decode(errors="replace"), info.label.decode(errors="replace"), info.lines


cdef class UapiLines(Lines):
    """SCK (output, starts low) and the DOUT lines (inputs, pull-up: an unplugged chip reads not-ready)
    of one GPIO chip, in ONE line request of the Linux GPIO character device (uAPI v2).

    With ``edges`` (the default) the DOUT lines also report falling edges, and ``wait_ready`` sleeps in
    ppoll() until one arrives; if the kernel refuses edge detection on those lines, the request is made
    without it and ``wait_ready`` polls (``edges`` then reads False)."""
    cdef uapi_t u
    cdef readonly str path

    def __cinit__(self):
        self.u.fd = -1

    @property
    def fd(self):
        return self.u.fd

    @property
    def edges(self):
        return bool(self.u.edges)

    def __init__(self, path, int sck, douts, consumer="forceplate", edges=True):
        cdef gpio_v2_line_request req
        cdef int i, chip_fd, rc, err, flags
        douts = [int(d) for d in douts]
        if not 1 <= len(douts) <= MAX_CH or len(set(douts + [sck])) != len(douts) + 1:
            raise ValueError("one SCK and 1-32 distinct DOUT lines")
        self.path = str(path)
        self.channels = len(douts)
        memset(&req, 0, sizeof(req))
        req.offsets[0] = sck
        for i in range(self.channels):
            req.offsets[i + 1] = douts[i]
        req.num_lines = self.channels + 1
        name = str(consumer).encode()[:31]
        strncpy(req.consumer, name, 31)
        req.config.flags = GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_BIAS_PULL_UP
        if edges:
            req.config.flags |= GPIO_V2_LINE_FLAG_EDGE_FALLING     # DOUT falling: data ready
            req.event_buffer_size = EVENT_BUFFER
        req.config.num_attrs = 2
        req.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_FLAGS
        req.config.attrs[0].attr.flags = GPIO_V2_LINE_FLAG_OUTPUT
        req.config.attrs[0].mask = 1
        req.config.attrs[1].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES
        req.config.attrs[1].attr.values = 0      # SCK low: high for 60 us would power the chips down
        req.config.attrs[1].mask = 1
        self.u.channels = self.channels
        self.u.dout_mask = ((<uint64_t>1 << self.channels) - 1) << 1
        p = self.path.encode()
        chip_fd = c_open(p, O_RDONLY | O_CLOEXEC)
        if chip_fd < 0:
            raise OSError(errno, f"cannot open {self.path}")
        rc = ioctl(chip_fd, GPIO_V2_GET_LINE_IOCTL, &req)
        if rc < 0 and edges:                # no interrupt for these lines here: request them to poll
            req.config.flags &= ~GPIO_V2_LINE_FLAG_EDGE_FALLING
            req.event_buffer_size = 0
            rc = ioctl(chip_fd, GPIO_V2_GET_LINE_IOCTL, &req)
        err = errno
        c_close(chip_fd)
        if rc < 0:
            raise OSError(err, f"{self.path}: cannot request lines SCK {sck}, DOUT {douts} "
                               "(in use by another program, or not on this chip?)")
        self.u.fd = req.fd
        self.u.edges = 1 if req.config.flags & GPIO_V2_LINE_FLAG_EDGE_FALLING else 0
        if self.u.edges:
            flags = fcntl(self.u.fd, F_GETFL)
            if flags < 0 or fcntl(self.u.fd, F_SETFL, flags | O_NONBLOCK) < 0:
                self.u.edges = 0            # cannot drain without blocking: poll instead
        self.iface.ctx = <void *>&self.u
        self.iface.set_sck = uapi_set_sck
        self.iface.read_dout = uapi_read_dout
        self.iface.wait_ready = uapi_wait_ready
        self.iface.now_ns = uapi_now
        self.iface.sleep_until_ns = uapi_sleep

    def close(self):
        if self.u.fd >= 0:
            c_close(self.u.fd)
            self.u.fd = -1

    def __dealloc__(self):
        if self.u.fd >= 0:
            c_close(self.u.fd)


# ------------------------------------------------------------------------ emulated HX711 chips

cdef inline uint64_t xorshift64(uint64_t x) noexcept nogil:
    x ^= x << 13
    x ^= x >> 7
    x ^= x << 17
    return x


ctypedef struct emu_t:
    int channels
    int virtual
    int64_t slowdown              # real time only: the chips' clock runs this many times slower than the host's
    int64_t edge_ns
    int64_t start_ns
    int64_t now
    const uint32_t *words         # (n_words, channels), C order
    int64_t n_words
    uint64_t rng
    int n_faults
    int n_slow
    int f_kind[MAX_FAULTS]
    int f_ch[MAX_FAULTS]
    int64_t f_from[MAX_FAULTS]
    int64_t f_until[MAX_FAULTS]
    int64_t s_at[MAX_SLOW]
    int64_t s_delay[MAX_SLOW]
    int s_used[MAX_SLOW]
    int sck
    int64_t t_high_ns
    int powered
    int64_t period[MAX_CH]
    int64_t next_conv[MAX_CH]
    int pulses[MAX_CH]           # -1 no data (DOUT high); 0 ready (low); 1-24 shifting; >= 25 done
    uint32_t shift[MAX_CH]
    int gain_shift[MAX_CH]
    int since_up[MAX_CH]
    int64_t conversions[MAX_CH]
    int64_t overwritten[MAX_CH]
    int64_t dropped[MAX_CH]
    int64_t reads[MAX_CH]
    int64_t power_downs
    int64_t slow_host_stalls
    int64_t dout_reads
    int64_t sleeps


cdef inline int64_t emu_clock(emu_t *s) noexcept nogil:
    if s.virtual:
        return s.now
    return s.start_ns + (mono_ns() - s.start_ns) // s.slowdown


cdef inline int64_t emu_host_ns(emu_t *s, int64_t t) noexcept nogil:
    """The host's CLOCK_MONOTONIC instant of the chips' (real-time) instant t."""
    return s.start_ns + (t - s.start_ns) * s.slowdown


cdef inline bint emu_fault_on(emu_t *s, int kind, int ch, int64_t t) noexcept nogil:
    cdef int i
    for i in range(s.n_faults):
        if s.f_kind[i] == kind and s.f_ch[i] == ch and s.f_from[i] <= t < s.f_until[i]:
            return True
    return False


cdef void emu_spend(emu_t *s, int64_t ns) noexcept nogil:
    cdef int64_t end
    if s.virtual:
        s.now += ns
    else:
        end = mono_ns() + ns * s.slowdown
        while mono_ns() < end:          # a stall is the host's CPU busy elsewhere: spin
            pass


cdef int emu_dout(emu_t *s, int c) noexcept nogil:
    if not s.powered:
        return 1
    cdef int p = s.pulses[c]
    if p == 0:
        return 0
    if 1 <= p <= 24:
        return (s.shift[c] >> (24 - p)) & 1
    return 1


cdef void emu_complete(emu_t *s, int c, int64_t t) noexcept nogil:
    cdef int64_t k = s.conversions[c]
    cdef int p = s.pulses[c]
    cdef uint32_t word
    cdef int32_t value
    s.conversions[c] = k + 1
    if 1 <= p <= 24:                    # latched behind the word being shifted out, and lost
        s.dropped[c] += 1
        return
    if p == 0:
        s.overwritten[c] += 1
    elif p == 25:
        s.gain_shift[c] = 0
    elif p == 26:
        s.gain_shift[c] = 2
    elif p == 27:
        s.gain_shift[c] = 1
    if emu_fault_on(s, 3, c, t):
        s.rng = xorshift64(s.rng)
        word = <uint32_t>(s.rng & 0xFFFFFF)
    else:
        word = s.words[(k % s.n_words) * s.channels + c]
    value = <int32_t>(word ^ 0x800000) - 0x800000
    if s.since_up[c] < SETTLE_WORDS:
        value = (value * (s.since_up[c] + 1)) >> 2
        s.since_up[c] += 1
    value >>= s.gain_shift[c]
    s.shift[c] = (<uint32_t>value) & 0xFFFFFF
    s.pulses[c] = 0


cdef void emu_convert_until(emu_t *s, int64_t t) noexcept nogil:
    cdef int c
    for c in range(s.channels):
        while s.next_conv[c] <= t:
            emu_complete(s, c, s.next_conv[c])
            s.next_conv[c] += s.period[c]


cdef void emu_advance(emu_t *s, int64_t t) noexcept nogil:
    cdef int c
    if s.sck and s.powered and t - s.t_high_ns >= POWER_DOWN_NS:
        emu_convert_until(s, s.t_high_ns + POWER_DOWN_NS)
        s.powered = 0
        s.power_downs += 1
        for c in range(s.channels):
            s.pulses[c] = -1
    if s.powered:
        emu_convert_until(s, t)


cdef int emu_set_sck(void *ctx, int level) noexcept nogil:
    cdef emu_t *s = <emu_t *>ctx
    cdef int64_t t = emu_clock(s)
    cdef int c, p, i
    emu_advance(s, t)
    if level and not s.sck:
        s.sck = 1
        s.t_high_ns = t
        if s.powered:
            for c in range(s.channels):
                p = s.pulses[c]
                if p >= 0:
                    p = p + 1 if p < 100 else 100
                    s.pulses[c] = p
                    if p == 24:
                        s.reads[c] += 1
        for i in range(s.n_slow):
            if not s.s_used[i] and s.s_at[i] <= t:
                s.s_used[i] = 1
                s.slow_host_stalls += 1
                emu_spend(s, s.s_delay[i])
                break
    elif not level and s.sck:
        s.sck = 0
        if not s.powered:                # SCK low again: reset and power up
            s.powered = 1
            for c in range(s.channels):
                s.next_conv[c] = t + s.period[c]
                s.pulses[c] = -1
                s.gain_shift[c] = 0
                s.since_up[c] = 0
    if s.virtual:
        s.now += s.edge_ns
    return 0


cdef int64_t emu_read_dout(void *ctx) noexcept nogil:
    cdef emu_t *s = <emu_t *>ctx
    cdef int64_t t = emu_clock(s)
    cdef int64_t bits = 0
    cdef int c, level
    s.dout_reads += 1
    emu_advance(s, t)
    for c in range(s.channels):
        if emu_fault_on(s, 1, c, t):
            level = 1
        elif emu_fault_on(s, 2, c, t):
            level = 0
        else:
            level = emu_dout(s, c)
        bits |= (<int64_t>level) << c
    if s.virtual:
        s.now += s.edge_ns
    return bits


cdef int64_t emu_now(void *ctx) noexcept nogil:
    return emu_clock(<emu_t *>ctx)


cdef void emu_sleep(void *ctx, int64_t t_ns) noexcept nogil:
    cdef emu_t *s = <emu_t *>ctx
    if s.virtual:
        if t_ns > s.now:
            s.now = t_ns
            s.sleeps += 1
    elif t_ns > emu_clock(s):
        s.sleeps += 1
        mono_sleep_until(emu_host_ns(s, t_ns))


cdef int64_t emu_chip_low_from(emu_t *s, int c, int64_t t) noexcept nogil:
    """The instant (>= t) from which chip c drives DOUT low if nobody clocks it; NEVER_NS if not."""
    if not s.powered:
        return NEVER_NS
    cdef int p = s.pulses[c]
    if p == 0:
        return t
    if 1 <= p <= 24:                    # mid-word: DOUT holds a data bit until the next SCK edge
        return NEVER_NS
    if s.sck and s.next_conv[c] >= s.t_high_ns + POWER_DOWN_NS:
        return NEVER_NS                 # powers down first
    return s.next_conv[c] if s.next_conv[c] > t else t


cdef bint emu_line_low_at(emu_t *s, int c, int64_t tau, int64_t chip_low) noexcept nogil:
    if emu_fault_on(s, 1, c, tau):
        return False
    if emu_fault_on(s, 2, c, tau):
        return True
    return tau >= chip_low


cdef int64_t emu_line_low_from(emu_t *s, int c, int64_t t) noexcept nogil:
    """The first instant >= t at which DOUT line c reads low, faults included; NEVER_NS if none. The
    level changes only where the chip gets ready or a fault window opens or closes."""
    cdef int64_t chip_low = emu_chip_low_from(s, c, t), best = NEVER_NS, cand
    cdef int i
    if emu_line_low_at(s, c, t, chip_low):
        return t
    if chip_low < best and emu_line_low_at(s, c, chip_low, chip_low):
        best = chip_low
    for i in range(s.n_faults):
        if s.f_ch[i] != c:
            continue
        if s.f_kind[i] == 1:
            cand = s.f_until[i]         # unplug ends
        elif s.f_kind[i] == 2:
            cand = s.f_from[i]          # short to ground begins
        else:
            continue
        if t < cand < best and emu_line_low_at(s, c, cand, chip_low):
            best = cand
    return best


cdef int64_t emu_wait_ready(void *ctx, uint32_t need, int64_t until, int64_t poll_ns) noexcept nogil:
    """As a kernel edge event would: sleep until the next falling edge of a high DOUT line (the emulator
    knows when its chips get ready), read, and wait again until the condition holds or ``until``."""
    cdef emu_t *s = <emu_t *>ctx
    cdef uint32_t all_lines = <uint32_t>((<uint64_t>1 << s.channels) - 1), low
    cdef int64_t bits, t, edge, e
    cdef int c
    while True:
        bits = emu_read_dout(ctx)
        low = (~(<uint32_t>bits)) & all_lines
        if (need and (low & need) == need) or (not need and low):
            return bits
        t = emu_clock(s)
        if t >= until:
            return bits
        emu_advance(s, t)
        edge = NEVER_NS
        for c in range(s.channels):
            if (bits >> c) & 1:
                e = emu_line_low_from(s, c, t)
                if e < edge:
                    edge = e
        emu_sleep(ctx, edge if edge < until else until)



cdef class EmulatedLines(Lines):
    """The C port of ``emulator.EmulatedChips``: same constructor, faults, counters and behaviour."""
    cdef emu_t e
    cdef object _words          # keeps the table e.words points into alive

    def __init__(self, words, *, rates_hz=None, phases_s=None, virtual=True, start_ns=1_000_000_000,
                 edge_ns=1_000, seed=1, slowdown=1):
        from ..exc import ConfigError
        from .sim.emulator import DEFAULT_PHASES_S, DEFAULT_RATES_HZ
        arr = np.ascontiguousarray(np.asarray(words, dtype=np.uint32) & 0xFFFFFF, dtype=np.uint32)
        if arr.ndim != 2 or arr.shape[0] < 1 or not 1 <= arr.shape[1] <= MAX_CH:
            raise ConfigError("emulated chips need words of shape (n, channels), 1-32 channels")
        cdef const uint32_t[:, ::1] view = arr
        memset(&self.e, 0, sizeof(emu_t))
        self._words = arr
        self.e.words = &view[0, 0]
        self.e.n_words = arr.shape[0]
        self.channels = self.e.channels = arr.shape[1]
        rates = list(rates_hz) if rates_hz is not None else list(DEFAULT_RATES_HZ)
        phases = list(phases_s) if phases_s is not None else list(DEFAULT_PHASES_S)
        self.e.virtual = 1 if virtual else 0
        if int(slowdown) < 1:
            raise ConfigError(f"slowdown must be a whole number >= 1, not {slowdown!r}")
        self.e.slowdown = int(slowdown)
        self.e.edge_ns = int(edge_ns)
        self.e.now = int(start_ns)
        self.e.start_ns = int(start_ns) if virtual else mono_ns()
        self.e.rng = ((int(seed) * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF) or 1
        self.e.powered = 1
        cdef int c
        for c in range(self.channels):
            self.e.period[c] = int(round(1e9 / float(rates[c % len(rates)])))
            self.e.next_conv[c] = (self.e.start_ns + int(round(float(phases[c % len(phases)]) * 1e9))
                                   + self.e.period[c])
            self.e.pulses[c] = -1
            self.e.since_up[c] = SETTLE_WORDS
        self.iface.ctx = <void *>&self.e
        self.iface.set_sck = emu_set_sck
        self.iface.read_dout = emu_read_dout
        self.iface.wait_ready = emu_wait_ready
        self.iface.now_ns = emu_now
        self.iface.sleep_until_ns = emu_sleep

    # -- fault injection (see emulator.EmulatedChips)
    def _window(self, at_s, until_s):
        start = self.e.start_ns + int(round(float(at_s) * 1e9))
        end = NEVER_NS if until_s is None else self.e.start_ns + int(round(float(until_s) * 1e9))
        return start, end

    def _add_fault(self, int kind, ch, at_s, until_s):
        from ..exc import ConfigError
        if not 0 <= int(ch) < self.channels:
            raise ConfigError(f"no channel {ch}: the emulator has {self.channels}")
        if self.e.n_faults >= MAX_FAULTS:
            raise ConfigError(f"at most {MAX_FAULTS} emulated faults")
        start, end = self._window(at_s, until_s)
        cdef int i = self.e.n_faults
        self.e.f_kind[i] = kind
        self.e.f_ch[i] = int(ch)
        self.e.f_from[i] = start
        self.e.f_until[i] = end
        self.e.n_faults += 1

    def unplug(self, ch, at_s=0.0, until_s=None):
        """Chip ``ch``'s DOUT wire comes off: the line floats high (pull-up) from ``at_s`` to ``until_s``."""
        self._add_fault(1, ch, at_s, until_s)

    def stick_low(self, ch, at_s=0.0, until_s=None):
        """Chip ``ch``'s DOUT line is shorted low."""
        self._add_fault(2, ch, at_s, until_s)

    def noise(self, ch, at_s=0.0, until_s=None):
        """Chip ``ch``'s conversions give random 24-bit words."""
        self._add_fault(3, ch, at_s, until_s)

    def slow_host(self, at_s, delay_us):
        """Stall ``delay_us`` while SCK is high, on the first rising edge at or after ``at_s``."""
        from ..exc import ConfigError
        if self.e.n_slow >= MAX_SLOW:
            raise ConfigError(f"at most {MAX_SLOW} slow-host stalls")
        cdef int i = self.e.n_slow
        self.e.s_at[i] = self._window(at_s, None)[0]
        self.e.s_delay[i] = int(round(float(delay_us) * 1000))
        self.e.s_used[i] = 0
        self.e.n_slow += 1

    # -- state and counters, as the twin's
    @property
    def virtual(self):
        return bool(self.e.virtual)

    @property
    def slowdown(self):
        return self.e.slowdown

    @property
    def start_ns(self):
        return self.e.start_ns

    @property
    def edge_ns(self):
        return self.e.edge_ns

    @property
    def powered(self):
        return bool(self.e.powered)

    @property
    def power_downs(self):
        return self.e.power_downs

    @property
    def slow_host_stalls(self):
        return self.e.slow_host_stalls

    @property
    def dout_reads(self):
        return self.e.dout_reads

    @property
    def sleeps(self):
        return self.e.sleeps

    @property
    def period_ns(self):
        return [self.e.period[c] for c in range(self.channels)]

    @property
    def conversions(self):
        return [self.e.conversions[c] for c in range(self.channels)]

    @property
    def overwritten(self):
        return [self.e.overwritten[c] for c in range(self.channels)]

    @property
    def dropped(self):
        return [self.e.dropped[c] for c in range(self.channels)]

    @property
    def reads(self):
        return [self.e.reads[c] for c in range(self.channels)]



# ------------------------------------------------------------------------------- the read loop

cdef class Sampler:
    """The lock-step read loop (see ``_gpio_py.Sampler``, its readable twin, for the protocol)."""
    cdef readonly int channels, gain_pulses, settle_sets, stuck_sets, absent_after
    cdef readonly int64_t period_ns, timeout_ns, poll_ns, long_pulse_ns, power_down_ns, period_est_ns
    cdef int _stop
    cdef uint32_t _all, _wait_mask, _resync_mask
    cdef int _miss[MAX_CH]
    cdef uint32_t _last_word[MAX_CH]
    cdef int _same[MAX_CH]
    cdef int _settle_left
    cdef int64_t _last_ready_ns
    cdef readonly int64_t sets, sets_clean, timeouts, pulses, pulses_long, power_downs, sck_high_max_ns
    cdef readonly int64_t not_ready_words, garbage_words, stuck_words, long_pulse_words
    cdef readonly int error                   # errno of a failed GPIO call (the loop then ends), else 0

    def __init__(self, channels=4, *, rate_hz=80.0, gain_pulses=25, timeout_periods=3.0, poll_us=100.0,
                 long_pulse_us=50.0, power_down_us=60.0, settle_sets=4, stuck_sets=8, absent_after=2):
        if not 1 <= int(channels) <= MAX_CH:
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
        self._stop = 0
        self.reset()

    def reset(self):
        """Forget the loop's state and statistics (not its parameters)."""
        cdef int ch
        self._all = <uint32_t>((<uint64_t>1 << self.channels) - 1)
        self._wait_mask = self._all
        self._resync_mask = 0
        for ch in range(self.channels):
            self._miss[ch] = 0
            self._last_word[ch] = 0
            self._same[ch] = 0
        self._settle_left = 0
        self._last_ready_ns = 0
        self.period_est_ns = self.period_ns
        self.sets = self.sets_clean = self.timeouts = self.pulses = self.pulses_long = 0
        self.power_downs = self.sck_high_max_ns = 0
        self.not_ready_words = self.garbage_words = self.stuck_words = self.long_pulse_words = 0
        self.error = 0

    @property
    def awaited_mask(self):
        return self._wait_mask

    def stop(self):
        """Ask a running loop to end after the set in progress (from another thread)."""
        fp_store_int(&self._stop, 1)

    def run(self, Lines lines not None, SampleRing ring not None, until_ns=0, max_sets=0):
        """Read sets into ``ring`` until ``stop()``, the backend's clock reaches ``until_ns`` (if > 0),
        ``max_sets`` sets (if > 0) or a GPIO error (``error``). Returns the sets produced by this call.
        The loop runs without the GIL."""
        if lines.channels != self.channels or ring.channels != self.channels:
            raise ValueError(f"the sampler, lines and ring must have the same channels ({self.channels})")
        cdef int64_t until = until_ns, limit = max_sets, produced = 0
        cdef fp_lines *L = &lines.iface
        self._stop = 0
        with nogil:
            while not fp_load_int(&self._stop):
                if until > 0 and L.now_ns(L.ctx) >= until:
                    break
                if limit > 0 and produced >= limit:
                    break
                if self.one_set(L, ring) < 0:
                    break
                produced += 1
        return produced

    cdef int one_set(self, fp_lines *L, SampleRing ring) noexcept nogil:
        cdef uint32_t words[MAX_CH]
        cdef uint8_t extra[MAX_CH]
        cdef int n = self.channels, ch, p, rc
        cdef int64_t start, wake, deadline, poll, t_ready, interval, t0, high_ns, bits, expected = 0
        cdef uint32_t need, low = 0, after = 0, bit, w
        cdef bint ready, first_look, timed_out = False, long_pulse = False, powered_down = False, clean = True
        cdef uint8_t flag

        # 1. wait for data-ready
        start = L.now_ns(L.ctx)
        if self._last_ready_ns:
            expected = self._last_ready_ns + self.period_est_ns
            wake = expected - (self.period_ns >> 3)
            if wake > start:
                L.sleep_until_ns(L.ctx, wake)
        deadline = start + self.timeout_ns
        need = self._wait_mask
        poll = self.poll_ns if need else self.period_ns >> 3
        bits = L.read_dout(L.ctx)                 # the first look: maybe we woke late
        if bits < 0:
            self.error = <int>-bits
            return -1
        low = (~(<uint32_t>bits)) & self._all
        ready = (need and (low & need) == need) or (not need and low)
        first_look = ready
        if not ready:                             # the backend sleeps until an edge (or polls)
            bits = L.wait_ready(L.ctx, need, deadline, poll)
            if bits < 0:
                self.error = <int>-bits
                return -1
            low = (~(<uint32_t>bits)) & self._all
            ready = (need and (low & need) == need) or (not need and low)
            timed_out = not ready
        t_ready = L.now_ns(L.ctx)
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

        # 2. clock the words out: one bit per chip per pulse, MSB first; every SCK-high timed
        for ch in range(n):
            words[ch] = 0
        if low:
            for p in range(self.gain_pulses):
                t0 = L.now_ns(L.ctx)
                rc = L.set_sck(L.ctx, 1)
                if rc < 0:
                    self.error = -rc
                    L.set_sck(L.ctx, 0)           # never leave SCK high: the chips would power down
                    return -1
                if p < 24:
                    bits = L.read_dout(L.ctx)
                    if bits < 0:
                        self.error = <int>-bits
                        L.set_sck(L.ctx, 0)
                        return -1
                    for ch in range(n):
                        words[ch] = (words[ch] << 1) | ((<uint32_t>bits >> ch) & 1)
                elif p == 24:
                    bits = L.read_dout(L.ctx)
                    after = <uint32_t>bits if bits >= 0 else 0
                rc = L.set_sck(L.ctx, 0)
                if rc < 0:
                    self.error = -rc
                    return -1
                high_ns = L.now_ns(L.ctx) - t0
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
        for ch in range(n):
            bit = (<uint32_t>1) << ch
            flag = 0
            if not (low & bit):
                words[ch] = WORD_NOT_READY
                self.not_ready_words += 1
                clean = False
                if need & bit:
                    self._miss[ch] += 1
                    if self._miss[ch] >= self.absent_after:
                        self._wait_mask &= ~bit
                if low:
                    self._resync_mask |= bit        # clocked while not ready: maybe out of step
            else:
                if not (after & bit):
                    flag |= GARBAGE
                if self._resync_mask & bit:
                    flag |= GARBAGE
                    self._resync_mask &= ~bit
                if long_pulse or self._settle_left > 0:
                    flag |= LONG_PULSE
                w = words[ch]
                if w == 0 or w == 0xFFFFFF:
                    self._same[ch] = self._same[ch] + 1 if w == self._last_word[ch] else 1
                else:
                    self._same[ch] = 0
                self._last_word[ch] = w
                if self._same[ch] >= self.stuck_sets:
                    flag |= STUCK
                if flag & GARBAGE:
                    self.garbage_words += 1
                if flag & LONG_PULSE:
                    self.long_pulse_words += 1
                if flag & STUCK:
                    self.stuck_words += 1
                if flag:
                    clean = False
                if not (flag & GARBAGE):
                    self._miss[ch] = 0
                    self._wait_mask |= bit
            extra[ch] = flag
        if powered_down:
            self._settle_left = self.settle_sets + 1     # this set, then settle_sets more
        if self._settle_left > 0:
            self._settle_left -= 1

        # 4. publish
        ring.push_set(t_ready, words, extra)
        self.sets += 1
        if clean:
            self.sets_clean += 1
        return 0

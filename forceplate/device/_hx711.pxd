# The ring's C interface, for the compiled GPIO sampler (_gpio.pyx) to push sets without the GIL.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t


cdef class SampleRing:
    cdef readonly int channels
    cdef readonly int64_t capacity
    cdef readonly int64_t dropped
    cdef readonly int64_t flagged
    cdef int64_t _head        # sets written, ever (only the producer changes it)
    cdef int64_t _tail        # sets read, ever (only the consumer changes it)
    cdef int64_t[::1] _t_ns
    cdef int32_t[:, ::1] _counts
    cdef uint8_t[:, ::1] _flags

    cdef bint push_set(self, int64_t t_ns, const uint32_t *words, const uint8_t *extra) noexcept nogil

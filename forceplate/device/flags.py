"""Per-word flags, shared by the compiled kernel and its pure-Python twin (the values must match _hx711.pyx).

A set of samples holds one 24-bit word per load cell. A flagged word is never converted to force.
"""
VALID = 0
NOT_READY = 1       # the chip never signalled data-ready for this set (unplugged, powered down)
SATURATED_HI = 2    # 0x7FFFFF: the input is at or above full scale
SATURATED_LO = 4    # 0x800000: the input is at or below negative full scale
GARBAGE = 8         # bits beyond the 24-bit word were set: a corrupt read
LONG_PULSE = 16     # SCK stayed high too long while clocking this word (set by the GPIO sampler)
STUCK = 32          # the data line gave the same all-zeros or all-ones word for many sets (set by the sampler)

WORD_NOT_READY = 0xFFFFFFFF   # the word a sampler stores for a chip that was not ready
WORD_MASK = 0xFFFFFF

NAMES = {NOT_READY: "not ready", SATURATED_HI: "saturated high", SATURATED_LO: "saturated low",
         GARBAGE: "garbage word", LONG_PULSE: "clock pulse too long",
         STUCK: "data line stuck"}


def describe(flag: int) -> str:
    """Human words for a flag value, e.g. 'not ready, garbage word'."""
    if flag == VALID:
        return "valid"
    return ", ".join(name for bit, name in NAMES.items() if flag & bit)

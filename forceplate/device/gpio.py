"""The GPIO side of the HX711 sampler: find the Pi's GPIO chip by its label, open the lines, choose the loop.

The chip is found by label, never by number (the numbering changes between Pi models and kernels):
``pinctrl-rp1`` (Pi 5), ``pinctrl-bcm2711`` (Pi 4), ``pinctrl-bcm2835`` (Pi 3, Zero 2 W). ``gpiodetect``
(Debian package gpiod) lists the labels of a machine. Lines are requested through the Linux GPIO
character device, uAPI v2 (``_gpio.UapiLines``): SCK as an output, the DOUT lines as inputs with pull-ups
and falling-edge events (data ready), so the sampler sleeps until the chips are ready instead of polling.

``kernels`` is the sampler loop in use: the compiled ``_gpio`` or, with FORCEPLATE_PUREPYTHON=1 or no
build, its pure-Python twin ``_gpio_py`` (which can still drive the compiled line backends, but on a Pi
Zero its SCK pulses run long).
"""
from __future__ import annotations

import fcntl
import glob
import os
import struct
from dataclasses import dataclass

from .._extensions import compiled_or_twin
from ..exc import HardwareUnavailable
from . import _gpio_py

CHIP_LABELS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")
DEFAULT_SCK = 5                          # docs/wiring.md
DEFAULT_DOUTS = (6, 13, 19, 26)
# GPIO_GET_CHIPINFO_IOCTL = _IOR(0xB4, 0x01, struct gpiochip_info {char name[32]; char label[32]; u32 lines})
_CHIPINFO = struct.Struct("32s32sI")
GET_CHIPINFO_IOCTL = (2 << 30) | (_CHIPINFO.size << 16) | (0xB4 << 8) | 0x01

kernels = compiled_or_twin("forceplate.device._gpio", _gpio_py, "GPIO sampler")
compiled_kernel = kernels if kernels is not _gpio_py else None   # the real GPIO lines exist only compiled
HAS_EXTENSION = kernels is not _gpio_py


@dataclass(frozen=True)
class ChipInfo:
    path: str
    name: str
    label: str
    lines: int


@dataclass(frozen=True)
class Pins:
    """BCM GPIO line numbers (offsets on the chip): one shared SCK, one DOUT per HX711."""
    sck: int = DEFAULT_SCK
    douts: tuple = DEFAULT_DOUTS


def list_chips(pattern: str = "/dev/gpiochip*") -> list[ChipInfo]:
    """Every GPIO chip device this process can open, with its label (GPIO_GET_CHIPINFO_IOCTL)."""
    chips = []
    for path in sorted(glob.glob(pattern)):
        try:
            with open(path, "rb", buffering=0) as fh:
                buf = fcntl.ioctl(fh.fileno(), GET_CHIPINFO_IOCTL, bytes(_CHIPINFO.size))
        except OSError:
            continue
        name, label, lines = _CHIPINFO.unpack(buf)
        chips.append(ChipInfo(path, name.split(b"\0")[0].decode(errors="replace"),
                              label.split(b"\0")[0].decode(errors="replace"), lines))
    return chips


def find_chip(labels=CHIP_LABELS, pattern: str = "/dev/gpiochip*") -> ChipInfo:
    """The first chip whose label is one of ``labels`` (in that order). Raises HardwareUnavailable."""
    chips = list_chips(pattern)
    for label in labels:
        for chip in chips:
            if chip.label == label:
                return chip
    seen = ", ".join(f"{c.path} ({c.label})" for c in chips) or "none"
    denied = [p for p in glob.glob(pattern) if not os.access(p, os.R_OK | os.W_OK)]
    hint = f"; no permission for {', '.join(denied)} (add the user to group gpio)" if denied else ""
    raise HardwareUnavailable(f"no Raspberry Pi GPIO chip labelled {' or '.join(labels)} "
                              f"(GPIO chips seen: {seen}{hint})")


def open_lines(pins: Pins = Pins(), *, labels=CHIP_LABELS, consumer: str = "forceplate", edges: bool = True):
    """SCK and DOUT lines of the Pi's GPIO chip, as a C line backend. Raises HardwareUnavailable.

    ``edges``: ask for DOUT falling-edge events; if the kernel refuses them the lines are requested
    without (the result's ``edges`` is then False and the sampler polls)."""
    chip = find_chip(labels)
    if compiled_kernel is None:
        raise HardwareUnavailable("the compiled GPIO backend (forceplate.device._gpio) is not built; "
                                  "run `make install`")
    bad = [p for p in (pins.sck, *pins.douts) if not 0 <= p < chip.lines]
    if bad:
        raise HardwareUnavailable(f"{chip.path} ({chip.label}) has lines 0-{chip.lines - 1}; no line {bad}")
    try:
        return compiled_kernel.UapiLines(chip.path, pins.sck, pins.douts, consumer, edges)
    except OSError as exc:
        raise HardwareUnavailable(str(exc)) from None

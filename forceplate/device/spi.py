"""SPI for the ADS1256 backend: the Linux spidev device, and an emulated bus for tests.

Both speak in *messages*: a tuple of segments ``(tx_bytes, delay_after_us)``, clocked out with chip select
held low from the first byte to the last (the ADS1256 needs CS low for a whole command sequence: datasheet
SBAS288K, Command Definitions), with ``delay_after_us`` of idle clock after a segment (the datasheet's t6 and t11 waits).
``prepare(segments)`` builds a message once; ``transfer(message)`` clocks it and returns every byte read
on MISO, in order. Preparing once matters on a Pi: the sampler sends one of four fixed messages per
conversion, so nothing is built in the loop.

``SpiDev`` is pure Python over the kernel's spidev ioctls (no third-party package): SPI_IOC_WR_MODE and
friends to configure, SPI_IOC_MESSAGE(n) with ``struct spi_ioc_transfer`` (linux/spi/spidev.h) to
transfer. The ioctl is called through ctypes (``CDLL``), which releases the GIL for the call, so the web
server's threads run while the bus is busy.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os

from ..exc import HardwareUnavailable

SPI_MODE_1 = 0x01          # CPOL 0, CPHA 1: the ADS1256 latches DIN on SCLK falling edges (datasheet: Serial Interface)
_IOC_WRITE, _IOC_READ = 1, 2
_SPI_IOC_MAGIC = ord("k")


def _ioc(direction: int, number: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (_SPI_IOC_MAGIC << 8) | number


SPI_IOC_WR_MODE = _ioc(_IOC_WRITE, 1, 1)
SPI_IOC_WR_BITS_PER_WORD = _ioc(_IOC_WRITE, 3, 1)
SPI_IOC_WR_MAX_SPEED_HZ = _ioc(_IOC_WRITE, 4, 4)


class SpiIocTransfer(ctypes.Structure):
    """``struct spi_ioc_transfer`` (linux/spi/spidev.h): 32 bytes on every architecture."""
    _fields_ = [("tx_buf", ctypes.c_uint64), ("rx_buf", ctypes.c_uint64), ("len", ctypes.c_uint32),
                ("speed_hz", ctypes.c_uint32), ("delay_usecs", ctypes.c_uint16),
                ("bits_per_word", ctypes.c_uint8), ("cs_change", ctypes.c_uint8), ("tx_nbits", ctypes.c_uint8),
                ("rx_nbits", ctypes.c_uint8), ("word_delay_usecs", ctypes.c_uint8), ("pad", ctypes.c_uint8)]


assert ctypes.sizeof(SpiIocTransfer) == 32


def spi_ioc_message(n: int) -> int:
    """SPI_IOC_MESSAGE(n): _IOW('k', 0, char[n * sizeof(struct spi_ioc_transfer)])."""
    return _ioc(_IOC_WRITE, 0, n * ctypes.sizeof(SpiIocTransfer))


def segments_duration_ns(segments, speed_hz: float) -> int:
    """How long the bytes and delays of ``segments`` take on the wire at ``speed_hz`` (no driver overhead)."""
    n_bytes = sum(len(tx) for tx, _ in segments)
    return int(round(n_bytes * 8e9 / speed_hz)) + sum(int(delay) for _, delay in segments) * 1000


class _Prepared:
    __slots__ = ("segments", "transfers", "tx", "rx", "n_bytes", "request")


class SpiDev:
    """``/dev/spidev<bus>.<device>`` in SPI mode 1, 8-bit words, at most ``speed_hz``.

    Raises HardwareUnavailable when the device is missing (SPI not enabled, or no such bus) or cannot be
    opened (permission: the user must be in group ``spi``). The bcm2835/rp1 drivers round the clock *down*
    to a divider of the core clock, so the bus never runs faster than asked.
    """

    def __init__(self, bus: int = 0, device: int = 0, *, speed_hz: int = 1_800_000, pattern: str = "/dev/spidev*"):
        self.path = f"/dev/spidev{int(bus)}.{int(device)}"
        self.speed_hz = int(speed_hz)
        present = sorted(glob.glob(pattern))
        if not present:
            raise HardwareUnavailable("no /dev/spidev* device: SPI is not enabled (add dtparam=spi=on to "
                                      "/boot/firmware/config.txt and reboot) or this is not a Raspberry Pi")
        if self.path not in present:
            raise HardwareUnavailable(f"no {self.path} (SPI devices seen: {', '.join(present)})")
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            hint = " (add the user to group spi)" if exc.errno in (1, 13) else ""
            raise HardwareUnavailable(f"cannot open {self.path}: {exc.strerror}{hint}") from None
        libc_name = ctypes.util.find_library("c") or "libc.so.6"
        self._libc = ctypes.CDLL(libc_name, use_errno=True)     # CDLL: the GIL is released during ioctl
        self._libc.ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)
        try:
            self._ioctl(SPI_IOC_WR_MODE, ctypes.byref(ctypes.c_uint8(SPI_MODE_1)))
            self._ioctl(SPI_IOC_WR_BITS_PER_WORD, ctypes.byref(ctypes.c_uint8(8)))
            self._ioctl(SPI_IOC_WR_MAX_SPEED_HZ, ctypes.byref(ctypes.c_uint32(self.speed_hz)))
        except OSError as exc:
            self.close()
            raise HardwareUnavailable(f"{self.path}: cannot configure SPI mode 1 at {self.speed_hz} Hz ({exc})") from None

    def _ioctl(self, request: int, arg) -> int:
        rc = self._libc.ioctl(self.fd, request, arg)
        if rc < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return rc

    def prepare(self, segments) -> _Prepared:
        msg = _Prepared()
        msg.segments = tuple((bytes(tx), int(delay)) for tx, delay in segments)
        msg.n_bytes = sum(len(tx) for tx, _ in msg.segments)
        msg.rx = ctypes.create_string_buffer(msg.n_bytes)
        msg.tx = [ctypes.create_string_buffer(tx, len(tx)) for tx, _ in msg.segments]
        msg.transfers = (SpiIocTransfer * len(msg.segments))()
        offset = 0
        for i, (tx, delay) in enumerate(msg.segments):
            t = msg.transfers[i]
            t.tx_buf = ctypes.addressof(msg.tx[i])
            t.rx_buf = ctypes.addressof(msg.rx) + offset
            t.len = len(tx)
            t.speed_hz = self.speed_hz
            t.delay_usecs = delay
            t.bits_per_word = 8
            t.cs_change = 0              # CS stays low between the segments of one message
            offset += len(tx)
        msg.request = spi_ioc_message(len(msg.segments))
        return msg

    def transfer(self, msg: _Prepared) -> bytes:
        self._ioctl(msg.request, ctypes.byref(msg.transfers))
        return msg.rx.raw

    def close(self) -> None:
        if getattr(self, "fd", -1) >= 0:
            os.close(self.fd)
            self.fd = -1


class EmulatedSpi:
    """The same interface over an emulated chip (``ads1256_emulator.EmulatedADS1256``): tests and the bench."""

    def __init__(self, chip, *, speed_hz: int = 1_800_000):
        self.chip = chip
        self.speed_hz = int(speed_hz)
        self.path = "emulated"

    def prepare(self, segments):
        return tuple((bytes(tx), int(delay)) for tx, delay in segments)

    def transfer(self, msg) -> bytes:
        return self.chip.transfer(msg, self.speed_hz)

    def close(self) -> None:
        pass

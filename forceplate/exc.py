"""Errors and warnings forceplate raises on purpose.

Callers catch :class:`ForcePlateError`, or the builtin they already know (``ValueError``,
``TimeoutError``); anything else escaping forceplate is a bug.
"""


class ForcePlateError(Exception):
    """Base of every error forceplate raises on purpose."""


class ConfigError(ForcePlateError, ValueError):
    """A setting (argument, config file or FORCEPLATE_* variable) is invalid; the message names it."""


class HardwareUnavailable(ForcePlateError):
    """No load-cell hardware answered (no GPIO chip, no HX711 ready)."""


class SensorTimeout(ForcePlateError, TimeoutError):
    """A load cell never signalled data-ready; the message names the channel."""


class TraceFormatError(ForcePlateError, ValueError):
    """A recorded force trace is malformed; the message names the file, the line and the fault."""


class ForcePlateWarning(UserWarning):
    """Base of forceplate's warnings."""


class SourceFallback(ForcePlateWarning):
    """No hardware was configured or found, so the simulated plate is used instead."""


class ExtensionFallback(ForcePlateWarning):
    """The compiled kernel is missing, so sampling runs through the pure-Python twin."""

"""Choosing a compiled kernel or its pure-Python twin: the one rule every kernel follows.

FORCEPLATE_PUREPYTHON=1 chooses the twin out loud (``forceplate --version`` says so); otherwise a compiled
module that will not import warns (ExtensionFallback), since nobody would notice a Pi running the slow path.
"""
from __future__ import annotations

import importlib
import os
import warnings

from . import config
from .exc import ExtensionFallback


def compiled_or_twin(name: str, twin, what: str):
    """The compiled module ``name`` (absolute, e.g. ``forceplate.storage._rawcodec``), else ``twin``.

    ``what`` names the kernel in the warning, e.g. "raw-trace coder".
    """
    if os.environ.get(config.ENV_PUREPYTHON) == "1":
        return twin
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        warnings.warn(f"compiled {what} missing ({exc}); running its pure-Python twin instead. "
                      "Rebuild with `make install`.", ExtensionFallback, stacklevel=3)
        return twin

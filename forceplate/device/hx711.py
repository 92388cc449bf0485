"""The one place that chooses the sampling kernel: compiled (``_hx711``) or its pure-Python twin.

``KERNEL`` says which is in use ("compiled" or "pure-python"); ``forceplate --version``, the log and the
live page show it. FORCEPLATE_PUREPYTHON=1 chooses the twin out loud; a missing compiled kernel
otherwise warns (ExtensionFallback), since nobody would notice a Pi sampling through the slow path.
"""
import os
import warnings

from .. import config
from ..exc import ExtensionFallback
from . import _hx711_py

kernels = _hx711_py
if os.environ.get(config.ENV_PUREPYTHON) != "1":
    try:
        from . import _hx711 as kernels
    except ImportError as exc:
        warnings.warn(f"compiled sampling kernel missing ({exc}); sampling through Python. "
                      "Rebuild with `make install`.", ExtensionFallback, stacklevel=2)

HAS_EXTENSION = kernels is not _hx711_py
KERNEL = "compiled" if HAS_EXTENSION else "pure-python"

SampleRing = kernels.SampleRing
decode_words = kernels.decode_words

"""The one place that chooses the sampling kernel: compiled (``_hx711``) or its pure-Python twin.

``KERNEL`` says which is in use ("compiled" or "pure-python"); ``forceplate --version``, the log and the
live page show it. FORCEPLATE_PUREPYTHON=1 chooses the twin out loud; a missing compiled kernel
otherwise warns (ExtensionFallback), since nobody would notice a Pi sampling through the slow path.
"""
from .._extensions import compiled_or_twin
from . import _hx711_py

kernels = compiled_or_twin("forceplate.device._hx711", _hx711_py, "sampling kernel")

HAS_EXTENSION = kernels is not _hx711_py
KERNEL = "compiled" if HAS_EXTENSION else "pure-python"

SampleRing = kernels.SampleRing
decode_words = kernels.decode_words

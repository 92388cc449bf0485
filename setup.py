"""Builds forceplate's compiled sampling kernel (Cython). Metadata lives in pyproject.toml.

The build is compiled unless you say otherwise: without Cython or a C compiler it fails, loudly.
FORCEPLATE_PUREPYTHON=1 chooses a pure-Python build out loud (sampling then runs through
forceplate/device/_hx711_py.py and _gpio_py.py, which are several times slower).
"""
import os
import sys

from setuptools import Extension, setup

if os.environ.get("FORCEPLATE_PUREPYTHON") == "1":
    print("forceplate build: PURE-PYTHON (FORCEPLATE_PUREPYTHON=1); the compiled kernel is not built",
          file=sys.stderr)
    ext_modules = []
else:
    try:
        from Cython.Build import cythonize
    except ImportError:
        sys.exit("forceplate build: Cython is required to compile the sampling kernel "
                 "(pip install Cython), or set FORCEPLATE_PUREPYTHON=1 for a pure-Python build")
    ext_modules = cythonize(
        [Extension("forceplate.device._hx711", ["forceplate/device/_hx711.pyx"]),
         # the GPIO sampler (Linux GPIO character device, uAPI v2) cimports the ring from _hx711
         Extension("forceplate.device._gpio", ["forceplate/device/_gpio.pyx"]),
         # the raw-trace coder of the store (forceplate/storage/rawcodec.py)
         Extension("forceplate.storage._rawcodec", ["forceplate/storage/_rawcodec.pyx"])],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "embedsignature": True},
    )
    print("forceplate build: COMPILED kernels forceplate.device._hx711, forceplate.device._gpio and "
          "forceplate.storage._rawcodec",
          file=sys.stderr)

setup(ext_modules=ext_modules)

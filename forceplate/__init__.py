"""forceplate: a companion for a home-built force plate on a Raspberry Pi.

Measures each impact of bone-loading exercise (heel drops, jumps, sit-to-stand) in newtons and body
weights. See README.md.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]

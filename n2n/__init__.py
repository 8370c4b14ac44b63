"""n2n: N2NSkip sparse networks, from pruning to connectivity analysis.

Importing the package is cheap: torch, torchvision and pandas are imported by the
modules that need them, so that workflow jobs which do not train stay fast to start.
"""

__version__ = "0.1.0"

"""Conventions every package shares, in a module that imports nothing (``gantool --help`` stays light)."""

# A tanh generator's range: the default of every contract and of every function taking a value range.
DEFAULT_VALUE_RANGE = (-1.0, 1.0)

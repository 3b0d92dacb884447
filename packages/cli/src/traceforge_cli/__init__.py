"""The ``traceforge`` command-line interface."""

#: The distribution's version: pyproject.toml reads it from here (``[tool.hatch.version]``),
#: so ``traceforge --version`` needs no ``importlib.metadata`` lookup.
__version__ = "0.1.0"

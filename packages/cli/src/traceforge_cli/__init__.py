"""The ``traceforge`` command-line interface."""

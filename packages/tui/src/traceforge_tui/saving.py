"""Saving a trace as a regression test file under ``<home>/tests``, through the shared
test-file API (:mod:`traceforge_shared.evals.files`): the same name and collision rule as
``traceforge test create-from-trace`` and ``POST /api/tests``. The rule: a taken name is
refused, naming the existing file, and nothing is written; the TUI never numbers a file
(``-2``) on its own (the CLI replaces only with ``--force``)."""

from __future__ import annotations

from pathlib import Path

from traceforge_shared.evals.authoring import test_from_trace
from traceforge_shared.evals.files import trace_test_stem, write_test_file
from traceforge_shared.trace import Trace


def save_test(trace: Trace, tests_dir: Path) -> Path:
    """Write the test made from ``trace`` (:func:`test_from_trace`) to
    ``tests_dir/<stem>.yaml`` (:func:`trace_test_stem`: its first user message slugified,
    else ``trace-<id8>``). Returns the path written.

    Raises:
        ValueError: the trace is not a chat call.
        TestFileExists: a test file of that name exists (an ``OSError``; it is not
            replaced): rename or delete it first.
        OSError: the file could not be written.
    """
    path, _ = write_test_file(
        tests_dir / f"{trace_test_stem(trace)}.yaml", test_from_trace(trace), on_collision="error"
    )
    return path

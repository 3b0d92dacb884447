"""Offline replay of tests: each test is checked against its recorded trace (no network).

Pure store reads and assertion evaluation, so every package (CLI, web API, TUI) can replay
without the proxy.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from traceforge_shared.evals.assertions import evaluate_all
from traceforge_shared.evals.loader import TestFileError
from traceforge_shared.evals.testcase import TestCase, TestResult, TestRun
from traceforge_shared.ids import utc_timestamp
from traceforge_shared.store import TraceFilter, TraceNotFoundError, TraceStore
from traceforge_shared.trace import Trace

#: Request fields that do not change the answer's content, ignored when matching recordings.
_TRANSPORT_FIELDS = frozenset({"stream", "stream_options"})

#: Why a test cannot be replayed.
NO_RECORDING = (
    "no recording to replay: no trace has this request (record one with "
    "`traceforge test run` without --replay, or check source_trace)"
)


def new_run_id() -> str:
    """A run id sortable by time: ``20261123T101500-3f9a1c``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + os.urandom(3).hex()


def normalized_request(request: Any) -> bytes:
    """Canonical JSON of a chat request without transport fields (``stream``), so a test's
    request matches the recording it came from whether or not either streamed."""
    if not isinstance(request, dict):
        return b""
    kept = {k: v for k, v in request.items() if k not in _TRANSPORT_FIELDS}
    return msgspec.json.encode(kept, order="sorted")


def find_recording(store: TraceStore, case: TestCase) -> Trace | None:
    """The recorded trace a test replays: its ``source_trace`` when that still exists, else
    the newest successful trace whose request equals the test's (ignoring ``stream``)."""
    if case.source_trace:
        try:
            return store.get(case.source_trace)
        except (TraceNotFoundError, ValueError):
            pass
    wanted = normalized_request(case.request)
    for trace in store.iter_traces(TraceFilter(status="success")):
        if normalized_request(trace.request) == wanted:
            return trace
    return None


def test_result(
    path: Path, case: TestCase, trace: Trace | None, started: float, error: str | None
) -> TestResult:
    """The result of one test: ``error`` when it could not run, else its assertions checked
    against ``trace``. ``started``: ``time.perf_counter()`` when the test began."""
    duration = round((time.perf_counter() - started) * 1000, 3)
    if error is not None or trace is None:
        return TestResult(
            name=case.name,
            file=str(path),
            status="error",
            duration_ms=duration,
            error=error or "no trace",
            tags=case.tags,
        )
    results = evaluate_all(case.assertions, trace)
    return TestResult(
        name=case.name,
        file=str(path),
        status="passed" if all(r.passed for r in results) else "failed",
        duration_ms=duration,
        assertions=results,
        trace_id=trace.id,
        tags=case.tags,
    )


test_result.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def load_error_result(error: TestFileError) -> TestResult:
    """A test file that could not be loaded, as a result (status ``error``)."""
    return TestResult(name=error.path.name, file=str(error.path), status="error", error=str(error))


async def replay_tests(
    cases: Sequence[tuple[Path, TestCase]],
    store: TraceStore,
    on_result: Callable[[TestResult], None] | None = None,
) -> TestRun:
    """Check each test against its recording (:func:`find_recording`); a test without one is
    an ``error`` result saying so. Store reads run in a worker thread."""
    run_id, started_at, started = new_run_id(), utc_timestamp(), time.perf_counter()
    results: list[TestResult] = []
    for path, case in cases:
        began = time.perf_counter()
        trace = await asyncio.to_thread(find_recording, store, case)
        result = test_result(path, case, trace, began, None if trace else NO_RECORDING)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return TestRun(
        id=run_id,
        started=started_at,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        mode="replay",
        results=results,
    )

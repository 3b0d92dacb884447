"""Replaying tests from recorded traces: which recording answers a test, and the offline check.

A test's recording is found by request key (:mod:`traceforge_shared.cassettes.key`, the key a
cassette replay uses), with one indexed query on the store's ``request_key`` column
(:func:`lookup_recording`): the test's ``source_trace`` when it still records this very
request, else the newest successful trace of it. Replayed calls (``meta.replayed_from``) are
copies, never recordings.

``traceforge test run --replay`` re-serves the recording through an in-process proxy
(:mod:`traceforge_proxy.trace_replay`) and checks the replayed trace. :func:`replay_tests`
is the offline check without a proxy (the web API and the TUI, which never import it): the
recorded trace itself is checked.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import msgspec

from traceforge_shared.cassettes import RequestView, canonical_request, key_of, nearest
from traceforge_shared.cassettes.from_trace import trace_request_view
from traceforge_shared.cost import cost_usd
from traceforge_shared.evals.assertions import evaluate_all
from traceforge_shared.evals.graded import ModelAccess
from traceforge_shared.evals.loader import TestFileError
from traceforge_shared.evals.testcase import TestCase, TestResult, TestRun
from traceforge_shared.ids import utc_timestamp
from traceforge_shared.providers import PROVIDER_SPECS
from traceforge_shared.store import StoreError, TraceNotFoundError, TraceStore
from traceforge_shared.trace import Trace, TraceSummary

#: The proxy path a test's request is sent to (``traceforge test run``).
CHAT_ENDPOINT = "/v1/chat/completions"

#: ``meta.replayed_from`` of a trace replayed from a stored trace: this prefix and its id.
REPLAYED_FROM_TRACE = "trace/"

#: Recent recordings of the same provider and endpoint compared with a request that has
#: none, to name the nearest (:func:`no_recording_message`).
NEAREST_CANDIDATES = 50

#: Why a test cannot be replayed (the start of every such message).
NO_RECORDING = "no recording for this request"

#: What to do about it.
RECORD_HINT = "record one with `traceforge test run` without --replay"


def new_run_id() -> str:
    """A run id sortable by time: ``20261123T101500-3f9a1c``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + os.urandom(3).hex()


def test_request_view(case: TestCase, provider: str) -> RequestView:
    """The :class:`~traceforge_shared.cassettes.RequestView` of a test's request sent to
    ``provider`` (``POST`` :data:`CHAT_ENDPOINT`, no query), as a cassette sees it."""
    return RequestView(provider, "POST", CHAT_ENDPOINT, "", case.request)


test_request_view.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def likely_providers(model: str) -> tuple[str, ...]:
    """The providers a model name may be routed to without the proxy's router: its
    ``<provider>/`` prefix, else every provider whose default model globs match it, else
    ``openai`` (the default provider). Used by the offline check only: the proxy routes
    for real."""
    prefix, sep, rest = model.partition("/")
    if sep and rest and prefix.lower() in PROVIDER_SPECS:
        return (prefix.lower(),)
    lowered = model.lower()
    found = tuple(
        name
        for name, spec in PROVIDER_SPECS.items()
        if any(fnmatchcase(lowered, glob.lower()) for glob in spec.model_globs)
    )
    return found or ("openai",)


def lookup_recording(
    store: TraceStore, keys: Iterable[str], prefer: str | None = None, *, refresh: bool = True
) -> TraceSummary | None:
    """The recording of a request, by request key: the trace ``prefer`` when it has one of
    ``keys`` (whatever its status), else the newest successful one; ``None`` when
    there is none. One query on the index's ``(request_key, status, timestamp)`` index (the
    index is first brought up to date with the trace files, one ``stat`` when nothing
    changed; ``refresh=False`` skips that: a process whose own writer indexes what it saves,
    like the replaying proxy, refreshes once at its start, since a refresh while that writer
    saves would rescan the whole directory)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return None
    if refresh:
        store.refresh()
    where = f"request_key IN ({', '.join('?' for _ in wanted)}) AND status = ?"
    params: list[Any] = [*wanted, "success"]
    order = "timestamp DESC, id DESC"
    if prefer is not None:  # whatever its status: a test may expect a recorded error
        where = f"request_key IN ({', '.join('?' for _ in wanted)}) AND (status = ? OR id = ?)"
        order = "id = ? DESC, " + order
        params += [prefer, prefer]
    rows = store.index.query(where, params, limit=1, order=order)
    return rows[0] if rows else None


def read_recording(store: TraceStore, trace_id: str | None) -> Trace | None:
    """The trace ``trace_id`` (``None`` when there is none or its file is gone)."""
    if trace_id is None:
        return None
    try:
        return store.get(trace_id)
    except (TraceNotFoundError, StoreError, ValueError):
        return None


def find_recording(
    store: TraceStore, case: TestCase, providers: Sequence[str] | None = None
) -> Trace | None:
    """The recorded trace a test replays: its ``source_trace`` when it still exists (a
    trace made from a ``passthrough`` call is keyed by its native request), else
    :func:`lookup_recording` with the keys of the test's request for each of ``providers``
    (default: :func:`likely_providers` of its model)."""
    source = read_recording(store, case.source_trace)
    if source is not None:
        return source
    model = case.request.get("model")
    names = providers or likely_providers(model if isinstance(model, str) else "")
    keys = [key_of(canonical_request(test_request_view(case, p))) for p in names]
    found = lookup_recording(store, keys, case.source_trace)
    return read_recording(store, None if found is None else found.id)


def recorded_canonical(trace: Trace) -> dict[str, Any] | None:
    """The canonical request of a recorded trace (``None``: not a recording)."""
    view = trace_request_view(trace)
    return None if view is None else canonical_request(view)


def no_recording_message(
    store: TraceStore,
    wanted: dict[str, Any],
    *,
    model: str | None = None,
    prefer: str | None = None,
    refresh: bool = True,
) -> str:
    """Why a request (canonical form ``wanted``) has no recording, naming the nearest one:
    ``no recording for this request (nearest: trace <id>, differs in: body.messages[0]
    .content: "Hi" != "Hello"; ...)``. Candidates: ``prefer`` (the test's
    ``source_trace``) and the :data:`NEAREST_CANDIDATES` newest successful recordings of
    the same provider and endpoint (of ``model`` first, any model when it has none);
    ``refresh`` as for :func:`lookup_recording`."""
    if refresh:
        store.refresh()
    where = "provider = ? AND endpoint = ? AND status = ? AND request_key IS NOT NULL"
    params: list[Any] = [wanted.get("provider"), wanted.get("endpoint"), "success"]
    rows: list[TraceSummary] = []
    if model:
        rows = store.index.query(
            f"{where} AND model = ?", [*params, model], limit=NEAREST_CANDIDATES
        )
    if not rows:
        rows = store.index.query(where, params, limit=NEAREST_CANDIDATES)
    ids = list(dict.fromkeys([*([prefer] if prefer else []), *(r.id for r in rows)]))
    candidates: list[tuple[str, dict[str, Any]]] = []
    for trace_id in ids:
        trace = read_recording(store, trace_id)
        canonical = None if trace is None else recorded_canonical(trace)
        if canonical is not None:
            candidates.append((trace_id, canonical))
    found = nearest(wanted, candidates)
    if found is None:
        where_to = f"{wanted.get('provider')} {wanted.get('endpoint')}"
        return f"{NO_RECORDING} (no recorded {where_to} call to compare with: {RECORD_HINT})"
    trace_id, diffs = found
    differs = "; ".join(diffs) if diffs else "nothing but a field the key ignores"
    return f"{NO_RECORDING} (nearest: trace {trace_id}, differs in: {differs}; {RECORD_HINT})"


def test_result(
    path: Path,
    case: TestCase,
    trace: Trace | None,
    started: float,
    error: str | None,
    access: ModelAccess | None = None,  # noqa: PT028
) -> TestResult:
    """The result of one test: ``error`` when it could not run, else its assertions checked
    against ``trace`` (model-graded ones through ``access``, see
    :func:`~traceforge_shared.evals.assertions.evaluate`). ``started``:
    ``time.perf_counter()`` when the test began. The result carries the model asked for and,
    with a trace, its latency (ms), total tokens and cost (USD) for comparison tables."""
    model = case.request.get("model")
    asked = model if isinstance(model, str) else None
    if error is not None or trace is None:
        duration = round((time.perf_counter() - started) * 1000, 3)
        return TestResult(
            name=case.name,
            file=str(path),
            status="error",
            duration_ms=duration,
            error=error or "no trace",
            tags=case.tags,
            model=asked,
        )
    results = evaluate_all(case.assertions, trace, access)
    usage = trace.metadata.usage
    return TestResult(
        name=case.name,
        file=str(path),
        status="passed" if all(r.passed for r in results) else "failed",
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        assertions=results,
        trace_id=trace.id,
        tags=case.tags,
        model=asked,
        latency_ms=trace.metadata.latency_ms,
        total_tokens=usage.total_tokens if usage is not None else None,
        cost_usd=cost_usd(trace),
    )


test_result.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def load_error_result(error: TestFileError) -> TestResult:
    """A test file that could not be loaded, as a result (status ``error``); ``error`` is
    ``<file>:<line>: <field>: <reason>``."""
    return TestResult(name=error.path.name, file=str(error.path), status="error", error=str(error))


def expand_models(cases: Sequence[tuple[Path, TestCase]]) -> list[tuple[Path, TestCase]]:
    """Each test with ``models`` as one test per model (``request.model`` replaced, same
    name: results are told apart by their ``model``); other tests as they are."""
    out: list[tuple[Path, TestCase]] = []
    for path, case in cases:
        if not case.models:
            out.append((path, case))
            continue
        for model in case.models:
            request = {**case.request, "model": model}
            out.append((path, msgspec.structs.replace(case, request=request)))
    return out


async def replay_tests(
    cases: Sequence[tuple[Path, TestCase]],
    store: TraceStore,
    on_result: Callable[[TestResult], None] | None = None,
) -> TestRun:
    """The offline check, without a proxy: each test's assertions against its recorded trace
    itself (:func:`find_recording`); a test without one is an ``error`` result naming the
    nearest recording (:func:`no_recording_message`). Store reads run in a worker thread.
    ``traceforge test run --replay`` re-serves recordings through the proxy instead."""
    run_id, started_at, started = new_run_id(), utc_timestamp(), time.perf_counter()
    results: list[TestResult] = []
    for path, case in cases:
        began = time.perf_counter()
        result = await asyncio.to_thread(_check_offline, store, path, case, began)
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


def _check_offline(store: TraceStore, path: Path, case: TestCase, began: float) -> TestResult:
    trace = find_recording(store, case)
    if trace is not None:
        return test_result(path, case, trace, began, None)
    model = case.request.get("model")
    name = model if isinstance(model, str) else ""
    wanted = canonical_request(test_request_view(case, likely_providers(name)[0]))
    error = no_recording_message(store, wanted, model=name or None, prefer=case.source_trace)
    return test_result(path, case, None, began, error)

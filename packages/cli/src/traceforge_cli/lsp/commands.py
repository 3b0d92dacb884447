"""Workspace commands: ``traceforge.runTest`` (run one test in a worker thread and publish
its failures as diagnostics on the failing assertions' lines) and ``traceforge.openTrace``
(ask the client to show a trace file)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path

from traceforge_cli.lsp.server import SOURCE, TraceforgeServer, path_of
from traceforge_shared.evals.files import FileLines, test_file_lines
from traceforge_shared.evals.loader import TestFileError, load_test_text
from traceforge_shared.evals.testcase import TestCase, TestResult, TestRun

#: Command names (the CodeLens titles run them).
RUN_TEST = "traceforge.runTest"
OPEN_TRACE = "traceforge.openTrace"
#: ``mode`` argument of ``traceforge.runTest`` → :class:`traceforge_cli.testrun.RunOptions`
#: mode.
MODES = {"live": "proxy", "proxy": "proxy", "replay": "replay", "direct": "direct"}


def _run_blocking(home: Path, path: Path, case: TestCase, mode: str) -> tuple[TestRun, Any]:
    """Run ``case`` to completion on this (worker) thread's own event loop and store; returns
    the run and the trace of its result (``None`` without one)."""
    from traceforge_cli.testrun import RunOptions, run_tests
    from traceforge_shared.config import config_path, load_config
    from traceforge_shared.evals.results import ResultStore
    from traceforge_shared.store import TraceStore

    store = TraceStore(home, fsync=False)
    options = RunOptions(mode=MODES[mode], concurrency=1)  # type: ignore[arg-type]
    run = asyncio.run(
        run_tests(
            [(path, case)], config=load_config(config_path(home)), store=store, options=options
        )
    )
    with contextlib.suppress(OSError):  # results are a convenience; diagnostics are the answer
        ResultStore(home).save(run)
    trace = None
    trace_id = run.results[0].trace_id if run.results else None
    if trace_id is not None:
        try:
            trace = store.get(trace_id)
        except Exception:
            trace = None
    return run, trace


def failure_diagnostics(result: TestResult, lines: FileLines) -> list[types.Diagnostic]:
    """One diagnostic per failed assertion, on its line; one on the ``name:`` line when the
    test could not run."""
    found: list[types.Diagnostic] = []

    def at(line: int | None, message: str) -> types.Diagnostic:
        zero = (line or lines.name) - 1
        return types.Diagnostic(
            range=types.Range(types.Position(zero, 0), types.Position(zero, 1000)),
            message=message,
            severity=types.DiagnosticSeverity.Error,
            source=f"{SOURCE} test",
            code="failed",
        )

    if result.status == "error" or (result.error and not result.assertions):
        found.append(at(lines.name, f"test could not run: {result.error or result.status}"))
    for index, assertion in enumerate(result.assertions):
        if assertion.passed:
            continue
        line = lines.assertions[index] if index < len(lines.assertions) else None
        found.append(at(line, f"{assertion.type} failed: {assertion.message}"))
    return found


async def run_test(ls: TraceforgeServer, uri: str, name: str, mode: str) -> dict[str, Any]:
    """Run the test of document ``uri`` (its current text) in ``mode`` (``live``,
    ``replay`` or ``direct``) in a worker thread, publish its failures as diagnostics and
    return its ``test run --json`` result line.

    Raises:
        ValueError: not a file URI, an unknown mode, a test file that does not load, or a
            ``name`` that is not the file's test.
    """
    from traceforge_cli.lsp.diagnostics import publish
    from traceforge_cli.testjson import CaseInfo, result_json

    path = path_of(uri)
    if path is None:
        raise ValueError(f"not a file: {uri}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use live, replay or direct")
    text = ls.text_of(uri)
    try:
        case = load_test_text(text, path)
    except TestFileError as exc:
        raise ValueError(f"the test file does not load: {exc}") from exc
    if name and case.name != name:
        raise ValueError(f"{path} holds test {case.name!r}, not {name!r}")
    home = ls.home_for(uri)
    run, trace = await asyncio.to_thread(_run_blocking, home, path, case, mode)
    result = run.results[0]
    lines = test_file_lines(text)
    ls.run_diagnostics[uri] = failure_diagnostics(result, lines)
    publish(ls, uri)
    ls.window_show_message(
        types.ShowMessageParams(
            type=types.MessageType.Info if result.status == "passed" else types.MessageType.Error,
            message=f"{case.name}: {result.status} ({mode})",
        )
    )
    return result_json(result, CaseInfo(path, case, lines), trace)


def register(server: TraceforgeServer) -> None:
    """``traceforge.runTest(uri, name, mode)`` and ``traceforge.openTrace(uri, trace_id)``."""

    @server.command(RUN_TEST)
    async def run_test_command(
        ls: TraceforgeServer, uri: str, name: str = "", mode: str = "live"
    ) -> dict[str, Any]:
        return await run_test(ls, uri, name, mode)

    @server.command(OPEN_TRACE)
    async def open_trace(ls: TraceforgeServer, uri: str, trace_id: str) -> str | None:
        from traceforge_cli.lsp.definition import trace_file

        path = trace_file(ls.store_for(uri), trace_id)
        if path is None:
            ls.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Warning, message=f"trace {trace_id} is not in the store"
                )
            )
            return None
        target: str | None = from_fs_path(str(path))
        if target is not None:
            ls.window_show_document(types.ShowDocumentParams(uri=target, take_focus=True))
        return target

"""The machine-readable outputs of ``traceforge test list --json`` and ``test run --json``.

Editors (the VS Code extension, ``traceforge lsp``) read these; their shapes are a contract:

``test list --json`` prints one JSON array of tests and broken files::

    {"name": str, "file": abs path, "line": int, "tags": [str],
     "source_trace": str | None, "model": str | None}
    {"file": abs path, "error": str, "line": int | None}

``test run --json`` prints one JSON object per line as results arrive::

    {"type": "result", "name", "file", "line", "status", "duration_ms", "error",
     "assertions": [{"type", "passed", "message", "expected", "actual", "line"}, ...]}
    {"type": "summary", "id", "mode", "passed", "failed", "errors", "duration_ms"}

``line`` values are 1-based (the test's ``name:`` key, each assertion's item). Result lines
also carry ``trace_id`` (when there is one), ``model`` (the model asked for: a test with
``models:`` has one line per model), ``latency_ms``, ``total_tokens`` and ``cost_usd`` when
known, and assertions ``score`` / ``description`` / ``skipped`` when set; readers ignore keys
they do not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from traceforge_shared.evals.fields import resolve_trace_data
from traceforge_shared.evals.files import FileLines, document_lines, test_file_lines
from traceforge_shared.evals.loader import (
    TestFileError,
    discover_tests,
    load_test_document,
    load_test_file,
)
from traceforge_shared.evals.testcase import (
    Assertion,
    ContainsAll,
    ContainsAny,
    Cost,
    FinishReason,
    IsJson,
    JsonPath,
    JsonSchema,
    Latency,
    LlmRubric,
    Python,
    Regex,
    Similar,
    TestCase,
    TestResult,
    TestRun,
    TokenCount,
    ToolCall,
)
from traceforge_shared.trace import Trace

__all__ = [
    "ACTUAL_MAX_CHARS",
    "CaseInfo",
    "actual_of",
    "error_entry",
    "expected_of",
    "list_entries",
    "load_infos",
    "result_json",
    "summary_json",
]

#: Longest string kept in an ``actual`` value (longer ones are cut with ``…``).
ACTUAL_MAX_CHARS = 4000


class CaseInfo(msgspec.Struct, frozen=True):
    """A loaded test and where its parts are in its file."""

    path: Path
    case: TestCase
    lines: FileLines


def _lines_of(path: Path) -> FileLines:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return FileLines(1, [], None)
    return test_file_lines(text)


def case_info(path: Path, case: TestCase) -> CaseInfo:
    """``case`` (loaded from ``path``) with the lines of its parts (the file is parsed
    again: :func:`load_infos` parses each file once)."""
    return CaseInfo(path, case, _lines_of(path))


def load_infos(paths: Sequence[Path]) -> tuple[list[CaseInfo], list[TestFileError]]:
    """Discover and load every test file under ``paths``
    (:func:`~traceforge_shared.evals.loader.load_tests`) with the lines of its parts, each
    file parsed once (the round-trip parse is most of a load: ~3 ms a file, so 1,000 test
    files parsed twice cost seconds).

    Returns:
        ``(infos, errors)``: one :class:`CaseInfo` per file that loaded and one
        :class:`TestFileError` per file that did not, both in discovery order.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    infos: list[CaseInfo] = []
    errors: list[TestFileError] = []
    for path in discover_tests(paths):
        try:
            case, doc = load_test_document(path)
        except TestFileError as exc:
            errors.append(exc)
            continue
        infos.append(CaseInfo(path, case, document_lines(doc)))
    return infos, errors


def error_entry(error: TestFileError) -> dict[str, Any]:
    """``{"file", "error", "line"}`` of a file that could not be loaded."""
    return {
        "file": str(Path(error.path).absolute()),
        "error": error.located_reason(),
        "line": error.line,
    }


def list_entries(paths: Sequence[Path], tags: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The ``test list --json`` array for the test files in ``paths`` (see the module doc).

    With ``tags``, only tests having one of them are listed (broken files always are).

    Raises:
        FileNotFoundError: a path does not exist.
    """
    wanted = set(tags)
    entries: list[dict[str, Any]] = []
    for path in discover_tests(paths):
        try:
            case = load_test_file(path)
        except TestFileError as error:
            entries.append(error_entry(error))
            continue
        if wanted and not wanted & set(case.tags):
            continue
        model = case.request.get("model")
        entries.append(
            {
                "name": case.name,
                "file": str(path.absolute()),
                "line": _lines_of(path).name,
                "tags": list(case.tags),
                "source_trace": case.source_trace,
                "model": model if isinstance(model, str) else None,
            }
        )
    return entries


def expected_of(assertion: Assertion) -> Any:
    """What ``assertion`` expects, as plain data (``None`` for ``is_json``)."""
    if isinstance(assertion, ContainsAny | ContainsAll):
        return list(assertion.values)
    if isinstance(assertion, Regex):
        return assertion.pattern
    if isinstance(assertion, IsJson):
        return None
    if isinstance(assertion, JsonSchema):
        return assertion.schema
    if isinstance(assertion, JsonPath):
        return {"path": assertion.path, "operator": assertion.operator, "value": assertion.value}
    if isinstance(assertion, TokenCount):
        return {"count": assertion.count, "min": assertion.min, "max": assertion.max}
    if isinstance(assertion, Latency):
        return {"max_ms": assertion.max_ms}
    if isinstance(assertion, Cost):
        return {"max_usd": assertion.max_usd}
    if isinstance(assertion, ToolCall):
        return {"name": assertion.name, "arguments": assertion.arguments}
    if isinstance(assertion, Similar | LlmRubric | Python):
        return {"value": assertion.value, "threshold": assertion.threshold}
    return getattr(assertion, "value", None)


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > ACTUAL_MAX_CHARS:
        return value[:ACTUAL_MAX_CHARS] + "…"
    return value


def actual_of(assertion: Assertion, trace: Trace | None, data: Any = None) -> Any:
    """What the run's ``trace`` had for ``assertion`` (``None`` without a trace or when the
    field is missing). ``data`` is ``msgspec.to_builtins(trace)`` when the caller has it."""
    if trace is None:
        return None
    meta = trace.metadata
    if isinstance(assertion, Latency):
        return meta.latency_ms
    if isinstance(assertion, Cost):
        return meta.cost_usd
    if isinstance(assertion, TokenCount):
        usage = meta.usage
        return None if usage is None else getattr(usage, f"{assertion.count}_tokens", None)
    path = assertion.field
    if isinstance(assertion, FinishReason):
        path = "response.choices[0].finish_reason"
    elif isinstance(assertion, ToolCall):
        path = "response.choices[0].message.tool_calls"
    try:
        data = msgspec.to_builtins(trace) if data is None else data
        return _cut(resolve_trace_data(trace, data, path))
    except Exception:  # a missing or malformed field: the message says what happened
        return None


def result_json(
    result: TestResult, info: CaseInfo | None, trace: Trace | None = None
) -> dict[str, Any]:
    """The ``{"type": "result", ...}`` line of one test (see the module doc).

    ``info`` is the loaded test (``None`` for a file that could not be loaded: line 1 or the
    error's, no assertions); ``trace`` the run's trace, for ``actual`` values.
    """
    data = msgspec.to_builtins(trace) if trace is not None else None
    assertions: list[dict[str, Any]] = []
    for index, outcome in enumerate(result.assertions):
        spec = info.case.assertions[index] if info and index < len(info.case.assertions) else None
        line = None
        if info is not None and index < len(info.lines.assertions):
            line = info.lines.assertions[index]
        item: dict[str, Any] = {
            "type": outcome.type,
            "passed": outcome.passed,
            "message": outcome.message,
            "expected": expected_of(spec) if spec is not None else None,
            "actual": actual_of(spec, trace, data) if spec is not None else None,
            "line": line,
        }
        if outcome.description is not None:
            item["description"] = outcome.description
        if outcome.score is not None:
            item["score"] = outcome.score
        if outcome.skipped:
            item["skipped"] = True
        assertions.append(item)
    line = info.lines.name if info is not None else 1
    out: dict[str, Any] = {
        "type": "result",
        "name": result.name,
        "file": str(Path(result.file).absolute()),
        "line": line,
        "status": result.status,
        "duration_ms": result.duration_ms,
        "error": result.error,
        "assertions": assertions,
    }
    if result.trace_id is not None:
        out["trace_id"] = result.trace_id
    for key in ("model", "latency_ms", "total_tokens", "cost_usd"):
        value = getattr(result, key)
        if value is not None:
            out[key] = value
    return out


def summary_json(run: TestRun) -> dict[str, Any]:
    """The final ``{"type": "summary", ...}`` line of a run."""
    return {
        "type": "summary",
        "id": run.id,
        "mode": run.mode,
        "passed": run.passed,
        "failed": run.failed,
        "errors": run.errors,
        "duration_ms": run.duration_ms,
    }

"""Diagnostics while typing: YAML syntax, the shared loader's schema errors, unknown assertion
types (with a did-you-mean), invalid regexes, invalid JSON Schemas and a ``source_trace``
that is not in the store.

:func:`check_text` is pure apart from the store lookup; the handlers publish its result on
open, change and save, merged with the failures of the last ``traceforge.runTest`` (which
are dropped when the document changes).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from lsprotocol import types

from traceforge_cli.lsp.document import (
    ASSERTION_TYPES,
    canonical_type,
    line_range,
    value_range,
)
from traceforge_cli.lsp.server import SOURCE, TraceforgeServer, is_test_file, path_of
from traceforge_shared.evals.loader import TestFileError, load_test_text
from traceforge_shared.evals.testcase import TYPE_ALIASES
from traceforge_shared.store import AmbiguousTraceIdError, TraceNotFoundError, TraceStore
from traceforge_shared.yamlfile import YamlProblem, parse_yaml

_ERROR = types.DiagnosticSeverity.Error
_WARNING = types.DiagnosticSeverity.Warning


def _diagnostic(
    rng: types.Range, message: str, severity: types.DiagnosticSeverity = _ERROR, code: str = ""
) -> types.Diagnostic:
    return types.Diagnostic(
        range=rng, message=message, severity=severity, source=SOURCE, code=code or None
    )


def did_you_mean(name: str) -> str | None:
    """The known assertion type (or alias) closest to ``name``, if one is close enough."""
    known = [*ASSERTION_TYPES, *TYPE_ALIASES]
    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return matches[0] if matches else None


def check_text(text: str, path: Path, store: TraceStore | None) -> list[types.Diagnostic]:
    """Every problem found in ``text``, the content of the test file ``path``.

    ``store``: where ``source_trace`` must be (``None``: not checked). Never raises.
    """
    try:
        doc = parse_yaml(text)
    except YamlProblem as problem:
        line = (problem.line or 1) - 1
        return [_diagnostic(line_range(text, line), problem.reason, code="yaml")]
    if not isinstance(doc, dict):
        return [_diagnostic(line_range(text, 0), "a test file must be a mapping", code="schema")]
    found = _semantic(doc, text, store)
    try:
        load_test_text(text, path)
    except TestFileError as error:
        line = (error.line or 1) - 1
        reported = {d.range.start.line for d in found if d.severity == _ERROR}
        unknown_type = error.reason.startswith("unknown assertion type")
        if line not in reported and not unknown_type:
            rng = _field_range(doc, error.field, text) or line_range(text, line)
            found.append(_diagnostic(rng, error.located_reason(), code="schema"))
    return sorted(found, key=lambda d: (d.range.start.line, d.range.start.character))


def _field_range(doc: Any, field: str | None, text: str) -> types.Range | None:
    if not field:
        return None
    parts: list[str | int] = [
        int(index) if index else name
        for name, index in re.findall(r"([A-Za-z_]\w*)|\[(\d+)\]", field)
    ]
    return value_range(doc, parts, text)


def _semantic(doc: Any, text: str, store: TraceStore | None) -> list[types.Diagnostic]:
    found: list[types.Diagnostic] = []
    assertions = doc.get("assertions")
    for index, item in enumerate(assertions if isinstance(assertions, list) else []):
        if not isinstance(item, dict):
            continue
        where: list[str | int] = ["assertions", index]
        kind = item.get("type")
        if isinstance(kind, str) and canonical_type(kind) is None:
            rng = value_range(doc, [*where, "type"], text) or line_range(text, 0)
            guess = did_you_mean(kind)
            hint = (
                f"; did you mean {guess!r}?" if guess else f"; known: {', '.join(ASSERTION_TYPES)}"
            )
            found.append(_diagnostic(rng, f"unknown assertion type {kind!r}{hint}", code="type"))
            continue
        canonical = canonical_type(kind) if isinstance(kind, str) else None
        pattern = item.get("pattern")
        if canonical == "regex" and isinstance(pattern, str):
            try:
                re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as exc:
                rng = value_range(doc, [*where, "pattern"], text) or line_range(text, 0)
                found.append(_diagnostic(rng, f"invalid regular expression: {exc}", code="regex"))
        schema = item.get("schema")
        if canonical == "json_schema" and isinstance(schema, dict):
            message = _schema_problem(schema)
            if message:
                rng = value_range(doc, [*where, "schema"], text) or line_range(text, 0)
                found.append(_diagnostic(rng, f"invalid JSON Schema: {message}", code="schema"))
    source = doc.get("source_trace")
    if store is not None and isinstance(source, str) and source:
        problem = _missing_trace(store, source)
        if problem:
            rng = value_range(doc, ["source_trace"], text) or line_range(text, 0)
            found.append(_diagnostic(rng, problem, _WARNING, code="source_trace"))
    return found


def _schema_problem(schema: dict[str, Any]) -> str | None:
    import jsonschema  # type: ignore[import-untyped]  # imported on first use

    from traceforge_shared.yamlfile import to_plain

    plain = to_plain(schema)
    try:
        jsonschema.validators.validator_for(plain).check_schema(plain)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"{exc.message}" + (f" (at {where})" if where else "")
    return None


def _missing_trace(store: TraceStore, trace_id: str) -> str | None:
    try:
        store.get(trace_id)
    except TraceNotFoundError:
        return f"source trace {trace_id!r} is not in the store ({store.home}); replay will fail"
    except AmbiguousTraceIdError as exc:
        return str(exc)
    except (ValueError, OSError) as exc:
        return f"source trace {trace_id!r} cannot be read: {exc}"
    return None


def publish(server: TraceforgeServer, uri: str) -> None:
    """Check the document ``uri`` and publish its diagnostics (plus its last run's)."""
    path = path_of(uri)
    if path is None or not is_test_file(uri):
        return
    document = server.workspace.get_text_document(uri)
    found = check_text(document.source, path, server.usable_store_for(uri))
    found += server.run_diagnostics.get(uri, [])
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=document.version)
    )


def register(server: TraceforgeServer) -> None:
    """Publish diagnostics on open, change and save; clear them on close."""

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TraceforgeServer, params: types.DidOpenTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TraceforgeServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.run_diagnostics.pop(params.text_document.uri, None)
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: TraceforgeServer, params: types.DidSaveTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TraceforgeServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.run_diagnostics.pop(uri, None)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )

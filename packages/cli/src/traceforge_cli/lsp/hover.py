"""Hover: documentation of every assertion type (on its ``type:`` value) and field (on its
key), of top-level keys, and a summary of the trace named by ``source_trace``."""

from __future__ import annotations

import re

from lsprotocol import types

from traceforge_cli.lsp.document import (
    canonical_type,
    enclosing_assertion_type,
    field_doc,
    type_doc,
    word_at,
)
from traceforge_cli.lsp.server import TraceforgeServer, is_test_file
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import response_text

_KEY = re.compile(r"^(?P<lead>\s*(?:-\s+)?\{?\s*)(?P<key>\w+):")


def trace_summary(store: TraceStore, trace_id: str) -> str | None:
    """Markdown summary of a trace (model, time, status, latency, answer start), or
    ``None`` when it is not in the store."""
    try:
        trace = store.get(trace_id)
    except Exception:
        return None
    meta = trace.metadata
    content = response_text(trace)  # chat completions and Responses API answers alike
    answer = content[:300] + ("…" if len(content) > 300 else "")
    rows = [
        f"**trace `{trace.id}`**",
        "",
        f"- {trace.provider} `{trace.model}` at {trace.timestamp}",
        f"- {meta.status} (HTTP {meta.status_code}), {meta.latency_ms:.0f} ms",
    ]
    if answer:
        rows += ["", "> " + answer.replace("\n", "\n> ")]
    return "\n".join(rows)


def hover_text(
    text: str, line: int, character: int, store: TraceStore | None
) -> tuple[str, types.Range] | None:
    """The Markdown to show at 0-based ``line``/``character`` of ``text`` and the range it
    is about, or ``None``."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return None
    current = lines[line]
    word, start, end = word_at(current, character)
    if not word:
        return None
    rng = types.Range(types.Position(line, start), types.Position(line, end))
    before = current[:start]
    if re.search(r"(?:^|[\s{,-])type:\s*$", before):
        kind = canonical_type(word)
        return (type_doc(kind), rng) if kind else None
    if re.search(r"^\s*source_trace:\s*$", before):
        summary = trace_summary(store, word) if store is not None else None
        return (summary or f"trace `{word}` is not in the store"), rng
    if current[end : end + 1] != ":":
        return None
    key = _KEY.match(current)
    at_top = key is not None and key.group("lead") == "" and start == 0
    if at_top:
        doc = field_doc(None, word)
        return (doc, rng) if doc else None
    written = enclosing_assertion_type(lines, line)
    kind = canonical_type(written) if written else None
    if kind is None:
        return None
    if word == "type":
        return type_doc(kind), rng
    doc = field_doc(kind, word)
    return (doc, rng) if doc else None


def register(server: TraceforgeServer) -> None:
    """``textDocument/hover``."""

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: TraceforgeServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        if not is_test_file(uri):
            return None
        store = ls.usable_store_for(uri)
        found = hover_text(ls.text_of(uri), params.position.line, params.position.character, store)
        if found is None:
            return None
        value, rng = found
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value), range=rng
        )

"""Go to definition: from a ``source_trace`` id (or id prefix) to its trace file
(``<home>/traces/<id>.json``)."""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path

from traceforge_cli.lsp.document import word_at
from traceforge_cli.lsp.server import TraceforgeServer, is_test_file
from traceforge_shared.store import TraceStore


def trace_file(store: TraceStore, trace_id: str) -> Path | None:
    """The file of the trace ``trace_id`` (a full id or a unique prefix), or ``None``."""
    try:
        trace = store.get(trace_id)
    except Exception:
        return None
    path = store.home / "traces" / f"{trace.id}.json"
    return path if path.is_file() else None


def trace_location(store: TraceStore, trace_id: str) -> types.Location | None:
    """The LSP location of the start of the trace's file, or ``None``."""
    path = trace_file(store, trace_id)
    uri = from_fs_path(str(path)) if path is not None else None
    if uri is None:
        return None
    start = types.Position(0, 0)
    return types.Location(uri=uri, range=types.Range(start, start))


def register(server: TraceforgeServer) -> None:
    """``textDocument/definition``."""

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: TraceforgeServer, params: types.DefinitionParams) -> types.Location | None:
        uri = params.text_document.uri
        lines = ls.text_of(uri).splitlines() if is_test_file(uri) else []
        line = params.position.line
        if not 0 <= line < len(lines) or not re.match(r"^\s*source_trace:", lines[line]):
            return None
        word, start, _ = word_at(lines[line], params.position.character)
        if not word or start <= lines[line].index(":"):
            return None
        return trace_location(ls.store_for(uri), word)

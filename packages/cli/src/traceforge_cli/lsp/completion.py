"""Completion: assertion ``type:`` values, each type's fields, top-level keys, model names
(the provider registry's globs as examples, plus models seen in the store) and trace ids
after ``source_trace:``."""

from __future__ import annotations

import re

from lsprotocol import types

from traceforge_cli.lsp.document import (
    ASSERTION_TYPES,
    TOP_LEVEL_KEYS,
    canonical_type,
    enclosing_assertion_type,
    field_doc,
    fields_of,
    type_doc,
)
from traceforge_cli.lsp.server import TraceforgeServer, is_test_file
from traceforge_shared.evals.testcase import TYPE_ALIASES
from traceforge_shared.providers import PROVIDER_SPECS
from traceforge_shared.store import TraceStore

#: Most trace ids (newest first) and models offered from the store.
STORE_LIMIT = 200

_TYPE_VALUE = re.compile(r"(?:^|[\s{,-])type:\s*[\w-]*$")
_SOURCE_VALUE = re.compile(r"^\s*source_trace:\s*\w*$")
_MODEL_VALUE = re.compile(r"(?:^|[\s{,])model:\s*[\w.:/-]*$")
_KEY_POSITION = re.compile(r"^(?P<indent>\s*)(?P<dash>-\s+)?(?P<word>\w*)$")


def _markdown(text: str) -> types.MarkupContent:
    return types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)


def type_items() -> list[types.CompletionItem]:
    """Every assertion type and alias, with its documentation."""
    items = [
        types.CompletionItem(
            label=kind,
            kind=types.CompletionItemKind.EnumMember,
            detail="assertion type",
            documentation=_markdown(type_doc(kind)),
        )
        for kind in ASSERTION_TYPES
    ]
    items += [
        types.CompletionItem(
            label=alias,
            kind=types.CompletionItemKind.EnumMember,
            detail=f"alias of {canonical}",
            documentation=_markdown(type_doc(canonical)),
        )
        for alias, canonical in TYPE_ALIASES.items()
    ]
    return items


def field_items(kind: str | None) -> list[types.CompletionItem]:
    """The keys of an assertion of type ``kind`` (canonical), or top-level keys."""
    names = list(TOP_LEVEL_KEYS) if kind is None else [n for n in fields_of(kind) if n != "type"]
    items = []
    for name in names:
        doc = field_doc(kind, name)
        items.append(
            types.CompletionItem(
                label=name,
                kind=types.CompletionItemKind.Field,
                detail="test file key" if kind is None else f"{kind} field",
                insert_text=f"{name}: ",
                documentation=_markdown(doc) if doc else None,
            )
        )
    return items


def model_items(store: TraceStore | None) -> list[types.CompletionItem]:
    """Model name examples from the provider registry's globs, and models in the store."""
    items: list[types.CompletionItem] = []
    seen: set[str] = set()
    if store is not None:
        try:
            summaries = store.list(limit=STORE_LIMIT)
        except Exception:  # an unreadable store: offer the registry only
            summaries = []
        for summary in summaries:
            if summary.model and summary.model not in seen:
                seen.add(summary.model)
                items.append(
                    types.CompletionItem(
                        label=summary.model,
                        kind=types.CompletionItemKind.Value,
                        detail=f"{summary.provider}, seen in your traces",
                        sort_text=f"0{len(items):04}",
                    )
                )
    for spec in PROVIDER_SPECS.values():
        for glob in spec.model_globs:
            example = glob.rstrip("*")
            if not example or example in seen:
                continue
            seen.add(example)
            items.append(
                types.CompletionItem(
                    label=example,
                    kind=types.CompletionItemKind.Value,
                    detail=f"{spec.display_name}: models matching {glob}",
                    sort_text=f"1{example}",
                )
            )
    return items


def trace_items(store: TraceStore | None) -> list[types.CompletionItem]:
    """Ids of the newest traces in the store, with model, time and status."""
    if store is None:
        return []
    try:
        summaries = store.list(limit=STORE_LIMIT)
    except Exception:
        return []
    return [
        types.CompletionItem(
            label=summary.id,
            kind=types.CompletionItemKind.Reference,
            detail=f"{summary.model} · {summary.timestamp} · {summary.status}",
            sort_text=f"{index:04}",
        )
        for index, summary in enumerate(summaries)
    ]


def complete(
    text: str, line: int, character: int, store: TraceStore | None
) -> list[types.CompletionItem]:
    """The completion items at 0-based ``line``/``character`` of ``text``."""
    lines = text.splitlines()
    current = lines[line] if 0 <= line < len(lines) else ""
    before = current[:character]
    if _TYPE_VALUE.search(before):
        return type_items()
    if _SOURCE_VALUE.match(before):
        return trace_items(store)
    if _MODEL_VALUE.search(before):
        return model_items(store)
    key = _KEY_POSITION.match(before)
    if key is None:
        return []
    indent = len(key.group("indent"))
    if indent == 0 and not key.group("dash"):
        return field_items(None)
    written = enclosing_assertion_type(lines, line)
    kind = canonical_type(written) if written else None
    if kind is not None:
        return field_items(kind)
    if key.group("dash") and written is None:
        return [
            types.CompletionItem(
                label="type",
                kind=types.CompletionItemKind.Field,
                insert_text="type: ",
                detail="assertion type",
            )
        ]
    return []


def register(server: TraceforgeServer) -> None:
    """``textDocument/completion``, triggered also by ``:`` and space."""

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=[":", " "]),
    )
    def completion(ls: TraceforgeServer, params: types.CompletionParams) -> types.CompletionList:
        uri = params.text_document.uri
        if not is_test_file(uri):
            return types.CompletionList(is_incomplete=False, items=[])
        store = ls.usable_store_for(uri)
        items = complete(ls.text_of(uri), params.position.line, params.position.character, store)
        return types.CompletionList(is_incomplete=False, items=items)

"""One trace: key metadata, the assistant's text, and the request and response JSON.

Esc returns to the list.
"""

from __future__ import annotations

import sqlite3
from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from traceforge_shared.store import StoreError, TraceStore
from traceforge_shared.trace import Trace, response_text
from traceforge_tui import formatting as fmt


def metadata_text(trace: Trace) -> Text:
    """Key facts of ``trace``, one ``label  value`` per line."""
    meta = trace.metadata
    rows: list[tuple[str, str | Text]] = [
        ("ID", trace.id),
        ("Time", fmt.local_time(trace.timestamp)),
        ("Provider", trace.provider),
        ("Model", trace.model or "-"),
        ("Endpoint", f"{meta.method} {trace.endpoint}"),
        ("Status", fmt.status(meta.status, meta.status_code)),
        ("Latency", f"{fmt.milliseconds(meta.latency_ms)} ms"),
    ]
    if meta.usage is not None:
        u = meta.usage
        rows.append(
            (
                "Tokens",
                f"{u.prompt_tokens} prompt + {u.completion_tokens} completion = {u.total_tokens}",
            )
        )
    else:
        rows.append(("Tokens", "-"))
    if meta.streaming:
        rows.append(("First chunk", f"{fmt.milliseconds(meta.first_chunk_latency_ms)} ms"))
        rows.append(("Chunks", str(meta.total_chunks)))
    if meta.cost_usd is not None:
        rows.append(("Cost", f"${meta.cost_usd:.6f}"))
    if meta.error is not None:
        rows.append(("Error", Text(f"{meta.error.type}: {meta.error.message}", style="red")))
    for warning in meta.warnings:
        rows.append(("Warning", Text(warning, style="yellow")))
    width = max(len(label) for label, _ in rows)
    text = Text()
    for i, (label, value) in enumerate(rows):
        if i:
            text.append("\n")
        text.append(label.ljust(width + 2), style="bold")
        text.append(value)
    return text


def json_block(value: object) -> Syntax:
    """``value`` as highlighted, wrapped JSON."""
    return Syntax(fmt.pretty_json(value), "json", word_wrap=True, theme="ansi_dark")


class TraceDetailScreen(Screen[None]):
    """Details of the trace ``trace_id`` of ``store``, read when the screen is composed.

    A trace that cannot be read (deleted meanwhile, corrupt file) shows the reason instead.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, store: TraceStore, trace_id: str) -> None:
        super().__init__()
        self.store = store
        self.trace_id = trace_id
        self.trace: Trace | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail"):
            try:
                trace = self.store.get(self.trace_id)
            except (StoreError, OSError, sqlite3.Error) as exc:
                yield Static(
                    Text(f"Cannot show trace {self.trace_id}: {exc}", style="red"),
                    id="detail-error",
                )
            else:
                self.trace = trace
                yield from self._sections(trace)
        yield Footer()

    def _sections(self, trace: Trace) -> ComposeResult:
        yield Static(metadata_text(trace), id="detail-meta")
        yield Static("Response text", classes="section-title")
        yield Static(Text(response_text(trace) or "(no text)"), id="detail-response-text")
        yield Static("Request", classes="section-title")
        yield Static(json_block(trace.request), id="detail-request")
        yield Static("Response", classes="section-title")
        yield Static(json_block(trace.response), id="detail-response")

    def on_mount(self) -> None:
        self.sub_title = f"trace {self.trace_id}"

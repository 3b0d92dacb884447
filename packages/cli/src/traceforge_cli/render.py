"""Rich renderings of traces for the terminal (plain data in, renderables out)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from traceforge_shared.trace import Trace, TraceSummary, chunk_text
from traceforge_shared.views.status import Level, status_view
from traceforge_shared.views.times import local_time
from traceforge_shared.views.units import ms_text

if TYPE_CHECKING:
    from rich.syntax import Syntax

#: The colour of each level of :mod:`traceforge_shared.views`.
LEVEL_STYLE: dict[Level, str] = {"ok": "green", "warn": "yellow", "error": "red"}


def _status(status: str, code: int) -> Text:
    view = status_view(status, code)
    return Text(view.label, style=LEVEL_STYLE[view.level])


def trace_table(summaries: Sequence[TraceSummary]) -> Table:
    """A table of trace summaries: id, time, provider, model, type, tokens, latency, status."""
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold underline")
    table.add_column("ID", no_wrap=True)
    table.add_column("Time", no_wrap=True)
    table.add_column("Provider", no_wrap=True)
    table.add_column("Model", overflow="fold", min_width=10)
    table.add_column("Type", no_wrap=True)
    table.add_column("Tokens", justify="right", no_wrap=True)
    table.add_column("Latency", justify="right", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    for s in summaries:
        tokens = f"{s.prompt_tokens}→{s.completion_tokens}" if s.total_tokens else "-"
        table.add_row(
            s.id[:8],
            local_time(s.timestamp)[5:16],
            s.provider,
            s.model or "-",
            "Stream" if s.streaming else "Normal",
            tokens,
            ms_text(s.latency_ms),
            _status(s.status, s.status_code),
        )
    return table


def _json(value: object) -> Syntax:
    from rich.syntax import Syntax  # pygments: only `trace show` needs it, not `trace list`

    text = msgspec.json.format(msgspec.json.encode(value), indent=2).decode()
    return Syntax(text, "json", word_wrap=True, theme="ansi_dark")


def metadata_table(trace: Trace) -> Table:
    """Key facts of a trace (:func:`traceforge_shared.views.metadata.metadata_rows`), as a
    two-column table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    from traceforge_shared.views.metadata import metadata_rows  # trace show only

    for row in metadata_rows(trace):
        style = LEVEL_STYLE[row.level] if row.level else ""
        table.add_row(row.label, Text(row.value, style=style))
    return table


def chunk_timeline(trace: Trace, limit: int | None) -> Table:
    """Chunk index, +delta ms, offset ms and a preview of each chunk; slow gaps (see
    :mod:`traceforge_shared.views.stream`) in yellow."""
    table = Table(show_edge=False, header_style="bold", title="Chunk timeline")
    table.add_column("#", justify="right")
    table.add_column("+Δ ms", justify="right")
    table.add_column("at ms", justify="right")
    table.add_column("Content")
    from traceforge_shared.views.stream import stream_stats  # trace show only

    slow = stream_stats(trace.chunks).slow
    shown = trace.chunks if limit is None else trace.chunks[:limit]
    for position, chunk in enumerate(shown):
        preview = chunk_text(chunk) or chunk.raw or _describe(chunk.data) or (chunk.event or "")
        style = LEVEL_STYLE["warn"] if position in slow else ""
        note = "" if chunk.forwarded else " (not forwarded)"
        table.add_row(
            str(chunk.index),
            Text(f"{chunk.delta_ms:.1f}", style=style),
            f"{chunk.offset_ms:.1f}",
            repr(preview)[:70] + note,
        )
    if limit is not None and len(trace.chunks) > limit:
        table.caption = f"{len(trace.chunks) - limit} more chunks (use --chunks 0 for all)"
    return table


def _describe(data: object) -> str:
    if not isinstance(data, dict):
        return ""
    choices = data.get("choices")
    if choices == [] and data.get("usage"):
        return "[usage]"
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        delta = choices[0].get("delta") or {}
        if isinstance(delta, dict) and delta.get("tool_calls"):
            call = delta["tool_calls"][0]
            function = call.get("function") or {}
            return (
                f"tool_call[{call.get('index', 0)}] {function.get('name') or ''}"
                f"{function.get('arguments') or ''}"
            )
        if choices[0].get("finish_reason"):
            return f"[finish_reason={choices[0]['finish_reason']}]"
    return ""


def trace_detail(trace: Trace, *, chunk_limit: int | None) -> Group:
    """The full view of one trace for ``trace show``."""
    openai_view = " (OpenAI view)" if trace.native is not None else ""
    parts: list[RenderableType] = [
        Panel(metadata_table(trace), title="Trace", title_align="left"),
        Panel(_json(trace.request), title="Request" + openai_view, title_align="left"),
        Panel(
            _json(trace.response),
            title="Response"
            + openai_view
            + (" (rebuilt from the stream)" if trace.metadata.streaming else ""),
            title_align="left",
        ),
    ]
    if trace.native is not None:
        parts.append(
            Panel(
                _json(trace.native.request),
                title=f"Native request ({trace.provider} {trace.native.endpoint})",
                title_align="left",
            )
        )
        if trace.native.response is not None:
            parts.append(
                Panel(_json(trace.native.response), title="Native response", title_align="left")
            )
    if trace.chunks:
        parts.append(chunk_timeline(trace, chunk_limit))
    return Group(*parts)

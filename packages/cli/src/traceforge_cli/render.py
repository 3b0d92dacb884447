"""Rich renderings of traces for the terminal (plain data in, renderables out)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from traceforge_shared.trace import Trace, TraceSummary, chunk_text
from traceforge_shared.views.status import Level

if TYPE_CHECKING:
    from rich.syntax import Syntax

#: The colour of each level of :mod:`traceforge_shared.views`.
LEVEL_STYLE: dict[Level, str] = {"ok": "green", "warn": "yellow", "error": "red"}


def trace_table(summaries: Sequence[TraceSummary], width: int | None = None) -> Table:
    """A table of trace summaries (:data:`traceforge_cli.listing.TRACE_TABLE_COLUMNS`: id,
    time, provider, model, type, tokens, latency, status) at most ``width`` cells wide
    (default: the terminal's), values cut with ``…`` rather than wrapped."""
    from traceforge_cli.listing import TRACE_TABLE_COLUMNS, trace_table_rows
    from traceforge_cli.output import build_table

    return build_table(
        TRACE_TABLE_COLUMNS,
        trace_table_rows(summaries),
        Console().width if width is None else width,
    )


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


def _content_line(content: object) -> str:
    """A chat message ``content`` on one line: a string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text")) if isinstance(part, dict) and "text" in part else "[part]"
            for part in content
        )
    return "" if content is None else str(content)


def conversation_text(trace: Trace) -> Text:
    """The conversation of ``trace`` read through its chat completion view
    (:mod:`traceforge_shared.chat_view`): ``role: text`` per request message, tool calls as
    ``→ name(arguments)``, then ``answer (finish: reason): text``."""
    from traceforge_shared.chat_view import chat_request, chat_response  # trace show only

    text = Text()
    request, response = chat_request(trace), chat_response(trace)
    messages = request.get("messages") if isinstance(request, dict) else None
    turns: list[tuple[str, object]] = [
        (str(m.get("role", "message")), m) for m in messages or [] if isinstance(m, dict)
    ]
    choices = response.get("choices") if isinstance(response, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        finish = choices[0].get("finish_reason")
        turns.append((f"answer (finish: {finish})", choices[0].get("message") or {}))
    for role, message in turns:
        if not isinstance(message, dict):
            continue
        if text:
            text.append("\n")
        text.append(f"{role}: ", style="bold")
        text.append(_content_line(message.get("content")))
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                text.append(f"\n  → {function.get('name')}({function.get('arguments') or ''})")
    return text


def trace_detail(trace: Trace, *, chunk_limit: int | None) -> Group:
    """The full view of one trace for ``trace show``; a Responses API trace also gets its
    conversation in the chat completion view (:func:`conversation_text`)."""
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
    from traceforge_shared.chat_view import is_responses_trace  # trace show only
    from traceforge_shared.views.reasoning import reasoning_text

    if is_responses_trace(trace):
        parts.append(
            Panel(
                conversation_text(trace),
                title="Conversation (chat completion view)",
                title_align="left",
            )
        )

    if (reasoning := reasoning_text(trace)) is not None:
        parts.append(Panel(Text(reasoning), title="Reasoning", title_align="left"))
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

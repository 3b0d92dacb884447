"""Rich renderings of traces for the terminal (plain data in, renderables out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from traceforge_shared.trace import Trace, TraceSummary, chunk_text

_STATUS_STYLE = {
    "success": "green",
    "error": "red",
    "upstream_error": "red",
    "client_disconnected": "yellow",
}


def local_time(timestamp: str) -> str:
    """Render an ISO 8601 UTC timestamp as local ``YYYY-MM-DD HH:MM:SS``."""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _status(status: str, code: int) -> Text:
    label = status if status == "success" else f"{status} {code}" if code else status
    return Text(label, style=_STATUS_STYLE.get(status, ""))


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
            _ms(s.latency_ms),
            _status(s.status, s.status_code),
        )
    return table


def _json(value: object) -> Syntax:
    text = msgspec.json.format(msgspec.json.encode(value), indent=2).decode()
    return Syntax(text, "json", word_wrap=True, theme="ansi_dark")


def metadata_table(trace: Trace) -> Table:
    """Key facts of a trace, as a two-column table."""
    meta = trace.metadata
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, RenderableType]] = [
        ("ID", trace.id),
        ("Time", local_time(trace.timestamp)),
        ("Call", f"{meta.method} {trace.endpoint} → {meta.upstream_url or '-'}"),
        ("Provider / model", _provider_model(trace)),
        ("Route", _ROUTE_LABELS.get(trace.route, trace.route)),
        ("Status", _status(meta.status, meta.status_code)),
        ("Latency", _ms(meta.latency_ms)),
    ]
    if meta.usage is not None:
        u = meta.usage
        rows.append(
            (
                "Tokens",
                f"{u.prompt_tokens} prompt + {u.completion_tokens} completion = {u.total_tokens}",
            )
        )
    if meta.cost_usd is not None:
        rows.append(("Cost", f"${meta.cost_usd:.6f}"))
    if meta.streaming:
        rows += stream_rows(trace)
    if meta.error is not None:
        rows.append(("Error", Text(f"{meta.error.type}: {meta.error.message}", style="red")))
    for warning in meta.warnings:
        rows.append(("Warning", Text(warning, style="yellow")))
    if meta.redacted_fields:
        rows.append(("Redacted", ", ".join(meta.redacted_fields)))
    for key, value in rows:
        table.add_row(key, value)
    return table


_ROUTE_LABELS = {
    "openai": "openai (OpenAI format, forwarded as is)",
    "converted": "converted (OpenAI format ⇄ the provider's API)",
    "passthrough": "passthrough (the provider's own API, forwarded as is)",
}


def _provider_model(trace: Trace) -> str:
    text = f"{trace.provider} / {trace.model or '-'}"
    if trace.response_model and trace.response_model != trace.model:
        text += f" (answered by {trace.response_model})"
    return text


def stream_rows(trace: Trace) -> list[tuple[str, RenderableType]]:
    """Streaming facts: chunks, first-chunk latency, duration, average chunk time."""
    meta = trace.metadata
    chunks = f"{meta.total_chunks} to client"
    if meta.chunks_received != meta.total_chunks:
        chunks += f", {meta.chunks_received} received"
    if meta.chunks_buffered != meta.chunks_received:
        chunks += f", {meta.chunks_buffered} stored"
    gaps = [c.delta_ms for c in trace.chunks[1:]]
    average = sum(gaps) / len(gaps) if gaps else None
    return [
        ("Chunks", chunks),
        ("First chunk", _ms(meta.first_chunk_latency_ms)),
        ("Stream duration", _ms(meta.stream_duration_ms)),
        ("Avg chunk gap", _ms(average)),
    ]


def chunk_timeline(trace: Trace, limit: int | None) -> Table:
    """Chunk index, +delta ms, offset ms and a preview of each chunk; slow gaps in yellow."""
    table = Table(show_edge=False, header_style="bold", title="Chunk timeline")
    table.add_column("#", justify="right")
    table.add_column("+Δ ms", justify="right")
    table.add_column("at ms", justify="right")
    table.add_column("Content")
    gaps = sorted(c.delta_ms for c in trace.chunks[1:])
    slow = gaps[int(len(gaps) * 0.95)] if len(gaps) >= 20 else float("inf")
    shown = trace.chunks if limit is None else trace.chunks[:limit]
    for chunk in shown:
        preview = chunk_text(chunk) or chunk.raw or _describe(chunk.data) or (chunk.event or "")
        style = "yellow" if chunk.index and chunk.delta_ms >= slow else ""
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

"""Plain formatting of trace values for the TUI's cells and labels."""

from __future__ import annotations

import re
from datetime import datetime

import msgspec
from rich.text import Text

from traceforge_shared.trace import StreamChunk, chunk_text

#: Colour of each trace status.
STATUS_STYLE: dict[str, str] = {
    "success": "green",
    "error": "red",
    "upstream_error": "red",
    "client_disconnected": "yellow",
}

#: Longest preview of a chunk's text in tables.
PREVIEW_CHARS = 60


def local_time(timestamp: str) -> str:
    """Render an ISO 8601 UTC timestamp as local ``YYYY-MM-DD HH:MM:SS`` (unparsable: as is)."""
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def milliseconds(value: float | None) -> str:
    """Render a duration in ms as a whole number with thousands separators (``-`` if None)."""
    return "-" if value is None else f"{value:,.0f}"


def tokens(total: int) -> str:
    """Render a token count (``-`` when the provider reported none)."""
    return str(total) if total else "-"


def cost(value: float | None) -> str:
    """Render a cost in USD (``-`` when unknown)."""
    return "-" if value is None else f"${value:.6f}"


def status(status: str, status_code: int) -> Text:
    """Render a status, with the HTTP code when it is not a success: ``error 429``."""
    label = status if status == "success" or not status_code else f"{status} {status_code}"
    return Text(label, style=STATUS_STYLE.get(status, ""))


def pretty_json(value: object) -> str:
    """Return ``value`` as indented JSON text."""
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()


def one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    """``text`` on one line (line breaks shown as ``⏎``), cut to ``limit`` characters with an
    ellipsis."""
    flat = re.sub(r"\r\n|\r|\n", "⏎", text).replace("\t", " ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def chunk_preview(chunk: StreamChunk, limit: int = PREVIEW_CHARS) -> Text:
    """What a stream chunk carries, for a table cell: its text delta quoted, else its raw
    payload (``[DONE]``) or a dim ``(no text)``."""
    text = chunk_text(chunk)
    if text:
        return Text(one_line(text, limit))
    if chunk.raw is not None:
        return Text(one_line(chunk.raw, limit), style="dim")
    return Text("(no text)", style="dim")

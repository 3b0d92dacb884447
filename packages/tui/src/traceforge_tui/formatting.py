"""Styled trace values for the TUI's cells and labels (the texts come from
:mod:`traceforge_shared.views`)."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
from rich.text import Text

from traceforge_shared.trace import StreamChunk, chunk_text
from traceforge_shared.views.status import Level, status_view

#: The colour of each level of :mod:`traceforge_shared.views` (statuses, metadata notes).
LEVEL_STYLE: dict[Level, str] = {"ok": "green", "warn": "yellow", "error": "red"}

#: Longest preview of a chunk's text in tables.
PREVIEW_CHARS = 60


def shown_path(path: Path) -> str:
    """``path`` as a person reads it: ``~/…`` under the user's home directory (``$HOME``),
    else as it is (``/srv/traceforge/config.yaml``)."""
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except (ValueError, RuntimeError):  # not under it, or no home directory known
        return str(path)


def status(status: str, status_code: int) -> Text:
    """A status as :func:`traceforge_shared.views.status.status_view` labels it
    (``error 429``), in its level's colour."""
    view = status_view(status, status_code)
    return Text(view.label, style=LEVEL_STYLE[view.level])


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


#: What a table's cost cell shows for a call that used tokens but has no known price
#: (the detail view says why: :data:`traceforge_shared.views.units.UNPRICED`).
UNKNOWN_COST = "unknown"


def cost_cell(cost_usd: float | None, total_tokens: int) -> Text:
    """A call's cost in USD for a table cell, right-aligned: ``$0.000420``
    (:func:`traceforge_shared.views.units.usd_text`); ``unknown`` (yellow) when tokens were
    used but no price is known, never ``$0``; ``-`` when there is no usage to price."""
    from traceforge_shared.views.units import MISSING, usd_text

    if cost_usd is not None:
        text, style = usd_text(cost_usd), ""
    elif total_tokens:
        text, style = UNKNOWN_COST, "yellow"
    else:
        text, style = MISSING, "dim"
    return Text(text, style=style, justify="right", overflow="ellipsis", no_wrap=True)

"""The trace list's rows of calls in flight: the cells of a :class:`~traceforge_tui.live.LiveCall`
in the trace table's columns (:mod:`traceforge_tui.widgets.trace_table`).

A call in flight shows at the top of the list as soon as the proxy announces it, with a status
of its own (``⋯ 12 chunks`` while it streams, ``⋯ waiting`` before the first chunk, ``⋯ saving``
once it ended) and its output tokens so far (``~9``, estimated by the proxy); the saved trace's
row replaces it.
"""

from __future__ import annotations

from rich.text import Text

from traceforge_shared.views.times import local_time
from traceforge_tui.live import LiveCall

#: Marks a call in flight (its status cell starts with it).
IN_FLIGHT = "⋯"
#: Style of a call in flight's status.
IN_FLIGHT_STYLE = "bold cyan"


def live_status(call: LiveCall, width: int = 0) -> Text:
    """``⋯ streaming 12 chunks`` (or, to fit ``width`` cells, ``⋯ 12 chunks``, ``⋯ 12``),
    ``⋯ waiting`` (no chunk yet), ``⋯ saving`` (ended, its trace being written) or
    ``⋯ failed <error type>``; ``width`` 0: the longest."""
    if call.finished and call.error:
        return Text(f"{IN_FLIGHT} failed {call.error}", style="bold red")
    if call.finished:
        return Text(f"{IN_FLIGHT} saving", style=IN_FLIGHT_STYLE)
    if not call.chunks:
        return Text(f"{IN_FLIGHT} waiting", style=IN_FLIGHT_STYLE)
    noun = "chunk" if call.chunks == 1 else "chunks"
    forms = (
        f"{IN_FLIGHT} streaming {call.chunks} {noun}",
        f"{IN_FLIGHT} {call.chunks} {noun}",
        f"{IN_FLIGHT} {call.chunks}",
    )
    shown = next((form for form in forms if not width or len(form) <= width), forms[-1])
    return Text(shown, style=IN_FLIGHT_STYLE)


def live_row_cells(call: LiveCall, widths: dict[str, int], full_time: bool) -> dict[str, Text]:
    """The cells of a call in flight by column key, for the columns of the trace table and
    their widths in cells (``widths``; the id cell is made by the table); the start time as
    ``HH:MM:SS`` unless ``full_time``; no cost or latency yet (``…``)."""
    started = local_time(call.timestamp) if call.timestamp else "-"
    values = {
        "time": started if full_time or not call.timestamp else started[-8:],
        "provider": call.provider,
        "model": call.model or "-",
        "type": "Stream" if call.chunks else "-",
        "tokens": f"~{call.tokens}" if call.tokens else "-",
        "cost": "…",
        "latency": "…",
        "endpoint": call.endpoint,
    }
    cells: dict[str, Text] = {}
    for key, width in widths.items():
        if key == "status":
            cell = live_status(call, width)
        else:
            numeric = key in ("tokens", "cost", "latency")
            cell = Text(values.get(key, ""), justify="right" if numeric else "left")
        cell.overflow, cell.no_wrap = "ellipsis", True
        cells[key] = cell
    return cells

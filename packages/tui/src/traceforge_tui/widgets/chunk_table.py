"""A table of stream chunks with their timing; slow gaps highlighted (the rule of
:mod:`traceforge_shared.views.stream`)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from traceforge_shared.trace import StreamChunk
from traceforge_shared.views.stream import stream_stats
from traceforge_shared.views.units import ms_number
from traceforge_tui import formatting as fmt

#: Style of a row whose gap before it is slow.
SLOW_STYLE = "bold red"


class ChunkTable(DataTable[Text]):
    """One row per chunk: index, +Δ ms (gap since the previous chunk), and optionally the
    offset from the request (at ms) and the SSE event name, then a preview of its text.

    Args:
        chunks: the stream's chunks, in arrival order.
        detailed: also show the ``at ms`` and ``event`` columns.

    Attributes:
        slow: positions of the rows drawn as slow.
    """

    def __init__(
        self,
        chunks: Sequence[StreamChunk],
        *,
        detailed: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.chunks = list(chunks)
        self.detailed = detailed
        self.slow = stream_stats(self.chunks).slow

    def on_mount(self) -> None:
        """Fill the table."""
        self.add_column("#", key="index")
        self.add_column("+Δ ms", key="delta")
        if self.detailed:
            self.add_column("at ms", key="offset")
            self.add_column("event", key="event")
        self.add_column("preview", key="preview")
        for position, chunk in enumerate(self.chunks):
            style = SLOW_STYLE if position in self.slow else ""
            cells = [
                Text(str(chunk.index), justify="right"),
                Text(f"+{ms_number(chunk.delta_ms)}", justify="right"),
            ]
            if self.detailed:
                cells.append(Text(ms_number(chunk.offset_ms), justify="right"))
                cells.append(Text(chunk.event or "-", style="" if chunk.event else "dim"))
            cells.append(fmt.chunk_preview(chunk))
            if style:
                for cell in cells:
                    cell.stylize(style)
            self.add_row(*cells, key=str(position))

"""The calls in flight, over the trace list: one row each, keyed by trace id, hidden when
there is none (:mod:`traceforge_tui.live`)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable

from traceforge_shared.views.times import local_time
from traceforge_tui.live import LiveCall
from traceforge_tui.widgets.trace_table import SHORT_ID

#: Column keys, labels and widths (terminal cells), in order: what matters most first, so
#: it shows at 80 columns.
LIVE_COLUMNS = (
    ("id", "ID", SHORT_ID),
    ("status", "Status", 12),
    ("model", "Model", 18),
    ("tokens", "Tokens", 7),
    ("chunks", "Chunks", 6),
    ("time", "Started", 8),
    ("provider", "Provider", 10),
    ("endpoint", "Endpoint", 22),
)


def live_cells(call: LiveCall) -> tuple[Text, ...]:
    """The cells of one call in flight, in :data:`LIVE_COLUMNS` order (tokens estimated:
    ``~12``)."""
    style = "red" if call.error else "green" if call.finished else "bold cyan"
    cells = (
        Text(call.id[:SHORT_ID], style="dim"),
        Text(call.status, style=style),
        Text(call.model or "-"),
        Text(f"~{call.tokens}" if call.tokens else "-", justify="right"),
        Text(str(call.chunks), justify="right"),
        Text(local_time(call.timestamp)[-8:] if call.timestamp else "-"),
        Text(call.provider),
        Text(call.endpoint),
    )
    for cell in cells:
        cell.overflow, cell.no_wrap = "ellipsis", True
    return cells


class LiveCallsTable(DataTable[Text]):
    """The calls in flight, newest first; ``display`` is off while there is none."""

    DEFAULT_CSS = """
    LiveCallsTable {
        height: auto;
        max-height: 7;
        border-bottom: solid $accent;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", show_cursor=True)
        self._versions: dict[str, int] = {}

    def on_mount(self) -> None:
        """Add the columns; nothing to show yet."""
        for key, label, width in LIVE_COLUMNS:
            self.add_column(label, key=key, width=width)
        self.display = False

    def show(self, calls: Iterable[LiveCall]) -> None:
        """Show ``calls`` (rows added, updated when their call changed, removed)."""
        wanted = sorted(calls, key=lambda c: (c.timestamp, c.id), reverse=True)
        ids = {call.id for call in wanted}
        for trace_id in [t for t in self._versions if t not in ids]:
            self.remove_row(trace_id)
            del self._versions[trace_id]
        for call in wanted:
            seen = self._versions.get(call.id)
            if seen is None:
                self.add_row(*live_cells(call), key=call.id)
            elif seen != call.version:
                for (key, _, _), cell in zip(LIVE_COLUMNS, live_cells(call), strict=True):
                    self.update_cell(call.id, key, cell)
            self._versions[call.id] = call.version
        self.display = bool(wanted)

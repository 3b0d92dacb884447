"""The trace list: newest traces first in a table; Enter opens one, ``r`` reloads."""

from __future__ import annotations

import sqlite3
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from traceforge_shared.store import StoreError, TraceStore
from traceforge_shared.trace import TraceSummary
from traceforge_tui import formatting as fmt
from traceforge_tui.screens.trace_detail import TraceDetailScreen

#: Most traces the list shows (the newest).
LIST_LIMIT = 500

#: Column labels, in order.
COLUMNS: tuple[str, ...] = (
    "Time",
    "Provider",
    "Model",
    "Type",
    "Tokens",
    "Latency (ms)",
    "Status",
)

EMPTY_MESSAGE = (
    "No traces yet.\n\n"
    "Send requests through the TraceForge proxy (traceforge start), then press r to reload."
)


def row_cells(summary: TraceSummary) -> tuple[str | Text, ...]:
    """Return the table cells of one trace, in :data:`COLUMNS` order (numbers right-aligned,
    status coloured)."""
    return (
        fmt.local_time(summary.timestamp),
        summary.provider,
        summary.model or "-",
        "Stream" if summary.streaming else "Normal",
        Text(fmt.tokens(summary.total_tokens), justify="right"),
        Text(fmt.milliseconds(summary.latency_ms), justify="right"),
        fmt.status(summary.status, summary.status_code),
    )


class TraceListScreen(Screen[None]):
    """A table of the newest :data:`LIST_LIMIT` traces of ``store``, newest first.

    Each row's key is the trace id. An empty store shows :data:`EMPTY_MESSAGE` instead.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, store: TraceStore) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="traces", cursor_type="row", zebra_stripes=True)
        yield Static(EMPTY_MESSAGE, id="empty")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#traces", DataTable)
        table.add_columns(*COLUMNS)
        self.action_reload()

    def action_reload(self) -> None:
        """Re-read the list from the store, keeping the cursor on the same trace if it is
        still listed."""
        table = self.query_one("#traces", DataTable)
        empty = self.query_one("#empty", Static)
        selected: str | None = None
        if table.row_count:
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        try:
            summaries = self.store.list(limit=LIST_LIMIT)
            total = self.store.count()
        except (StoreError, OSError, sqlite3.Error) as exc:
            summaries, total = [], 0
            empty.update(f"Cannot read traces from {self.store.home}: {exc}")
        else:
            empty.update(EMPTY_MESSAGE)
        table.clear()
        for summary in summaries:
            table.add_row(*row_cells(summary), key=summary.id)
        table.display = bool(summaries)
        empty.display = not summaries
        shown = len(summaries)
        self.sub_title = f"{total} traces" if shown == total else f"newest {shown} of {total}"
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: open that trace."""
        trace_id = event.row_key.value
        if trace_id is not None:
            self.app.push_screen(TraceDetailScreen(self.store, trace_id))

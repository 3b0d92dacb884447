"""The trace list's table: one row per trace summary, sortable by column, up to two marks.

The columns fit the table's width (:func:`traceforge_shared.views.columns.fit_widths`, the
rule ``traceforge trace list`` uses): at 80 terminal columns the id, status, model, latency,
cost, tokens and time stay; provider, type and endpoint shrink, then go, least important
first. The layout is recomputed when the table is resized.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from traceforge_shared.trace import TraceSummary
from traceforge_shared.views.columns import fit_widths
from traceforge_shared.views.times import local_time
from traceforge_shared.views.units import count_text, ms_text
from traceforge_tui import formatting as fmt
from traceforge_tui.live import LiveCall
from traceforge_tui.messages import LoadMore, MarksChanged
from traceforge_tui.widgets.live_rows import live_row_cells

#: Background of marked rows (readable on the dark and the light theme).
MARK_STYLE = "bold on #8a6d00"
#: How many traces can be marked (for a diff).
MAX_MARKS = 2
#: Characters of a trace id the ID column shows (enough to find it: ``trace show`` takes a
#: prefix).
SHORT_ID = 8
#: Cells a column's padding takes (one each side, :attr:`DataTable.cell_padding`).
CELL_PADDING = 2
#: Cells kept for the vertical scrollbar.
SCROLLBAR = 2
#: Width the table lays itself out for before it knows its size.
DEFAULT_WIDTH = 160
#: ``YYYY-MM-DD HH:MM:SS``: narrower, the Time column shows ``HH:MM:SS``.
FULL_TIME = 19


@dataclass(frozen=True)
class TraceColumn:
    """A column of the trace table.

    Attributes:
        key: the column key.
        label: the header text.
        descending: the column's natural sort direction (newest, largest first).
        sort_key: the value rows are sorted on.
        priority: 0 is kept whole longest; higher numbers shrink and go first (terminal
            cells: :func:`~traceforge_shared.views.columns.fit_widths`).
        min_width: fewest cells the column shrinks to (numbers never shrink: their natural
            width).
        width: the cells the column takes when there is room.
        justify: ``left``, or ``right`` for numbers.
    """

    key: str
    label: str
    descending: bool
    sort_key: Callable[[TraceSummary], Any]
    priority: int
    min_width: int
    width: int
    justify: Literal["left", "right"] = "left"


#: The columns, in display order. The id is always shown (its cell carries the trace id the
#: rows are ordered by); the index's own order is time, descending.
COLUMNS: tuple[TraceColumn, ...] = (
    TraceColumn("id", "ID", False, lambda s: s.id, 0, SHORT_ID, SHORT_ID),
    TraceColumn("time", "Time", True, lambda s: (s.timestamp, s.id), 6, 8, FULL_TIME),
    TraceColumn("status", "Status", False, lambda s: (s.status, s.status_code), 1, 10, 14),
    TraceColumn("provider", "Provider", False, lambda s: s.provider.lower(), 7, 8, 10),
    TraceColumn("model", "Model", False, lambda s: s.model.lower(), 2, 12, 26),
    TraceColumn("type", "Type", False, lambda s: s.streaming, 8, 6, 6),
    TraceColumn("tokens", "Tokens", True, lambda s: s.total_tokens, 5, 8, 8, "right"),
    TraceColumn("cost", "Cost", True, lambda s: _cost_key(s), 4, 9, 9, "right"),
    TraceColumn("latency", "Latency", True, lambda s: s.latency_ms, 3, 9, 9, "right"),
    TraceColumn("endpoint", "Endpoint", False, lambda s: s.endpoint, 9, 10, 24),
)
_BY_KEY = {column.key: column for column in COLUMNS}


def _cost_key(summary: TraceSummary) -> float:
    return -1.0 if summary.cost_usd is None else summary.cost_usd


def column_widths(width: int) -> dict[str, int]:
    """The columns shown in a table ``width`` terminal cells wide, with their widths (cells,
    padding excluded), in display order."""
    # fit_widths counts a gap between two columns; each column has its padding on both sides.
    available = max(0, width - SCROLLBAR - CELL_PADDING)
    widths = fit_widths([column.width for column in COLUMNS], COLUMNS, available, gap=CELL_PADDING)
    return {c.key: w for c, w in zip(COLUMNS, widths, strict=True) if w > 0}


class IdCell(Text):
    """The first cell of a row: the short id of its trace, and the whole id (rows are
    ordered by it)."""

    def __init__(self, trace_id: str) -> None:
        super().__init__(trace_id[:SHORT_ID], style="dim", overflow="ellipsis", no_wrap=True)
        self.trace_id = trace_id


def _cell(text: str, column: TraceColumn, style: str = "") -> Text:
    return Text(text, style=style, justify=column.justify, overflow="ellipsis", no_wrap=True)


def row_cells(summary: TraceSummary, widths: dict[str, int] | None = None) -> dict[str, Text]:
    """The cells of one trace by column key (numbers right-aligned, status coloured, an
    unknown cost as ``unknown``, never ``$0``); only the columns of ``widths`` when given
    (the time as ``HH:MM:SS`` when its column is narrower than the date and time)."""
    keys = list(_BY_KEY) if widths is None else list(widths)
    cells: dict[str, Text] = {}
    for key in keys:
        column = _BY_KEY[key]
        if key == "id":
            cells[key] = IdCell(summary.id)
        elif key == "time":
            shown = local_time(summary.timestamp)
            if widths is not None and widths[key] < FULL_TIME:
                shown = shown[-8:]
            cells[key] = _cell(shown, column)
        elif key == "status":
            status = fmt.status(summary.status, summary.status_code)
            status.overflow = "ellipsis"
            status.no_wrap = True
            cells[key] = status
        elif key == "provider":
            cells[key] = _cell(summary.provider, column)
        elif key == "model":
            cells[key] = _cell(summary.model or "-", column)
        elif key == "type":
            cells[key] = _cell("Stream" if summary.streaming else "Normal", column)
        elif key == "tokens":
            cells[key] = _cell(count_text(summary.total_tokens), column)
        elif key == "cost":
            cells[key] = fmt.cost_cell(summary.cost_usd, summary.total_tokens)
        elif key == "latency":
            cells[key] = _cell(ms_text(summary.latency_ms), column)
        else:
            cells[key] = _cell(summary.endpoint, column)
    return cells


class TraceTable(DataTable[Text]):
    """Trace summaries, one row each keyed by trace id.

    Rows are sorted on :attr:`sort_column` (default: time, newest first, the index's order);
    :meth:`toggle_mark` marks up to :data:`MAX_MARKS` rows. Posts :class:`LoadMore` when the
    cursor or the scroll reaches the last row, :class:`MarksChanged` when the marks change.

    A row is added once per trace: new traces, sorting and removals reorder the rows in place
    (:meth:`DataTable.sort`), which costs little however many rows are loaded, where adding
    rows (measuring their cells) does not.

    Calls in flight (:meth:`show_live`) are rows too, above the traces whatever the sort, keyed
    by the id their trace will have; the trace's row replaces the call's when it lands.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.summaries: list[TraceSummary] = []
        self._by_id: dict[str, TraceSummary] = {}
        self.sort_column = "time"
        self.sort_descending = True
        self.marked: list[str] = []
        #: the columns shown and their widths (cells), in display order.
        self.widths: dict[str, int] = {}
        #: the calls in flight shown as rows (not yet in :attr:`summaries`), by trace id.
        self.live: dict[str, LiveCall] = {}
        self._live_versions: dict[str, int] = {}

    def on_mount(self) -> None:
        """Add the columns for the table's width (:data:`DEFAULT_WIDTH` until it is known)."""
        self._layout(self.size.width or DEFAULT_WIDTH)

    def on_resize(self, event: events.Resize) -> None:
        """Show the columns that fit the new width."""
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        """Lay the columns out for ``width`` cells; rows are added again only when the set
        of columns or a width changed."""
        widths = column_widths(width)
        if widths == self.widths:
            return
        keep = self._viewport()
        self.widths = widths
        self.clear(columns=True)
        for key, cells in widths.items():
            self.add_column(Text(_BY_KEY[key].label), key=key, width=cells)
        if self.sort_column not in widths:
            self.sort_column, self.sort_descending = "time", True
        self._label_columns()
        for summary in self.summaries:
            self.add_row(*self._cells(summary), key=summary.id)
        self._live_versions = {}
        self._add_live()
        if self.summaries or self.live:
            self._reorder(keep)

    # -- rows ------------------------------------------------------------------------------

    @property
    def current_id(self) -> str | None:
        """The id of the trace under the cursor (``None`` when the table is empty)."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    @property
    def trace_count(self) -> int:
        """Rows of traces (the rows of calls in flight left out)."""
        return self.row_count - len(self._live_versions)

    def is_live(self, trace_id: str | None) -> bool:
        """Whether the row ``trace_id`` is a call in flight (its trace not in the list yet)."""
        return trace_id in self._live_versions

    @property
    def is_index_order(self) -> bool:
        """Whether rows are in the index's order (time, newest first)."""
        return self.sort_column == "time" and self.sort_descending

    def set_summaries(self, summaries: Iterable[TraceSummary]) -> None:
        """Show ``summaries`` (in index order), keeping the cursor on the trace it was on.

        Rows of traces already shown are kept (updated if their summary changed); when most
        rows go (a new filter), the table is refilled instead.
        """
        keep = self._viewport()
        new = list(summaries)
        by_id = {summary.id: summary for summary in new}
        gone = [trace_id for trace_id in self._by_id if trace_id not in by_id]
        marked = [trace_id for trace_id in self.marked if trace_id in by_id]
        if marked != self.marked:
            self.marked = marked
            self.post_message(MarksChanged(tuple(marked)))
        if len(gone) > max(50, len(self._by_id) // 2):
            self.clear()
            self._by_id = {}
            self._live_versions = {}
        else:
            for trace_id in gone:
                self.remove_row(trace_id)
        for summary in new:
            shown = self._by_id.get(summary.id)
            if shown is None:
                self._landed(summary.id)
                self.add_row(*self._cells(summary), key=summary.id)
            elif shown != summary:
                self._update_row(summary)
        self.summaries = new
        self._by_id = by_id
        self._add_live()
        self._reorder(keep)

    def extend_summaries(self, summaries: Iterable[TraceSummary]) -> None:
        """Add older ``summaries`` after the loaded ones (a next page)."""
        more = [summary for summary in summaries if summary.id not in self._by_id]
        keep = self._viewport()
        for summary in more:
            self._landed(summary.id)
            self.add_row(*self._cells(summary), key=summary.id)
            self._by_id[summary.id] = summary
        self.summaries.extend(more)
        if not self.is_index_order:
            self._reorder(keep)

    # -- calls in flight ---------------------------------------------------------------------

    def show_live(self, calls: Iterable[LiveCall]) -> None:
        """Show ``calls`` as rows above the traces (newest first): added, updated when their
        call changed, removed when it is gone; a call whose trace is listed already has no row
        of its own."""
        keep = self._viewport()
        wanted = {call.id: call for call in calls if call.id not in self._by_id}
        for trace_id in [t for t in self._live_versions if t not in wanted]:
            self.remove_row(trace_id)
            del self._live_versions[trace_id]
        self.live = wanted
        self._add_live()
        self._reorder(keep)

    def _add_live(self) -> None:
        """Add or update the rows of :attr:`live` (the ones whose trace is not listed)."""
        for trace_id in [t for t in self.live if t in self._by_id]:
            del self.live[trace_id]
        for call in self.live.values():
            seen = self._live_versions.get(call.id)
            if seen is None:
                self.add_row(*self._live_cells(call).values(), key=call.id)
            elif seen != call.version:
                for key, cell in self._live_cells(call).items():
                    self.update_cell(call.id, key, cell)
            self._live_versions[call.id] = call.version

    def _live_cells(self, call: LiveCall) -> dict[str, Text]:
        cells = live_row_cells(call, self.widths, self.widths.get("time", 0) >= FULL_TIME)
        if "id" in cells:
            cells["id"] = IdCell(call.id)
        return cells

    def _landed(self, trace_id: str) -> None:
        """The trace of a call in flight is listed: its row goes (the trace's replaces it)."""
        if self._live_versions.pop(trace_id, None) is not None:
            self.remove_row(trace_id)
        self.live.pop(trace_id, None)

    def _ordered(self) -> list[TraceSummary]:
        ordered = sorted(self.summaries, key=_BY_KEY["time"].sort_key, reverse=True)
        if self.is_index_order:
            return ordered
        column = _BY_KEY[self.sort_column]
        return sorted(ordered, key=column.sort_key, reverse=self.sort_descending)

    def _cells(self, summary: TraceSummary) -> tuple[Text, ...]:
        cells = tuple(row_cells(summary, self.widths).values())
        if summary.id in self.marked:
            for cell in cells:
                cell.stylize(MARK_STYLE)
        return cells

    def _update_row(self, summary: TraceSummary) -> None:
        for key, cell in zip(self.widths, self._cells(summary), strict=True):
            self.update_cell(summary.id, key, cell)

    def _viewport(self) -> tuple[str | None, int, float]:
        """The trace under the cursor, the cursor's row and the scroll offset."""
        return self.current_id, self.cursor_row, self.scroll_y

    def _reorder(self, viewport: tuple[str | None, int, float]) -> None:
        """Put the rows in :meth:`_ordered` order; the cursor stays on its trace, and the rows
        above it stay in view unless the table was scrolled to the top (then new rows at the
        top show)."""
        live = sorted(self.live.values(), key=lambda c: (c.timestamp, c.id), reverse=True)
        order = [call.id for call in live] + [summary.id for summary in self._ordered()]
        rank = {trace_id: i for i, trace_id in enumerate(order)}
        self.sort(key=lambda cells: rank[cells[0].trace_id])
        keep, old_row, old_scroll = viewport
        if keep is None or keep not in rank:
            return
        new_row = self.get_row_index(keep)
        if old_scroll == 0:
            self.move_cursor(row=new_row, animate=False)
        else:
            self.move_cursor(row=new_row, animate=False, scroll=False)
            target = max(0.0, old_scroll + new_row - old_row)
            self.call_after_refresh(self.scroll_to, y=target, animate=False)

    # -- sorting ---------------------------------------------------------------------------

    def sort_on(self, key: str, descending: bool | None = None) -> None:
        """Sort the loaded rows on the column ``key`` (default direction: the column's
        natural one)."""
        column = _BY_KEY[key]
        self.sort_column = key
        self.sort_descending = column.descending if descending is None else descending
        self._label_columns()
        self._reorder(self._viewport())

    def cycle_sort(self) -> None:
        """Sort on the next column shown after time (after the last: back to time)."""
        keys = [key for key in self.widths if key != "id"]
        if self.sort_column not in keys:
            self.sort_on("time")
            return
        self.sort_on(keys[(keys.index(self.sort_column) + 1) % len(keys)])

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a header sorts on its column; a second click reverses the order (the
        event then bubbles on to the screen)."""
        key = event.column_key.value
        if key is None:
            return
        if key == self.sort_column:
            self.sort_on(key, not self.sort_descending)
        else:
            self.sort_on(key)

    def _label_columns(self) -> None:
        for key in self.widths:
            column = _BY_KEY[key]
            label = column.label
            if key == self.sort_column:
                label += " ▼" if self.sort_descending else " ▲"
            self.columns[ColumnKey(key)].label = Text(
                label, justify=column.justify, overflow="ellipsis", no_wrap=True
            )
        self.refresh()

    # -- marks -----------------------------------------------------------------------------

    def toggle_mark(self) -> bool:
        """Mark the trace under the cursor, or unmark it. Returns ``False`` when nothing
        changed (empty table, or :data:`MAX_MARKS` traces already marked)."""
        trace_id = self.current_id
        if trace_id is None or trace_id not in self._by_id:
            return False
        if trace_id in self.marked:
            self.marked.remove(trace_id)
        elif len(self.marked) >= MAX_MARKS:
            return False
        else:
            self.marked.append(trace_id)
        self._update_row(self._by_id[trace_id])
        self.post_message(MarksChanged(tuple(self.marked)))
        return True

    # -- paging ----------------------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The cursor on the last row asks for more rows."""
        if self.row_count and event.cursor_row >= self.row_count - 1:
            self.post_message(LoadMore())

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolling to the bottom asks for more rows."""
        super().watch_scroll_y(old_value, new_value)
        if new_value > old_value and self.max_scroll_y > 0 and new_value >= self.max_scroll_y:
            self.post_message(LoadMore())

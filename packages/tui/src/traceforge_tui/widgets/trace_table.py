"""The trace list's table: one row per trace summary, sortable by column, up to two marks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from traceforge_shared.trace import TraceSummary
from traceforge_shared.views.times import local_time
from traceforge_shared.views.units import count_text, ms_number
from traceforge_tui import formatting as fmt
from traceforge_tui.messages import LoadMore, MarksChanged

#: Background of marked rows (readable on the dark and the light theme).
MARK_STYLE = "bold on #8a6d00"
#: How many traces can be marked (for a diff).
MAX_MARKS = 2


@dataclass(frozen=True)
class TraceColumn:
    """A column of the trace table.

    Attributes:
        key: the column key.
        label: the header text.
        descending: the column's natural sort direction (newest, largest first).
        sort_key: the value rows are sorted on.
    """

    key: str
    label: str
    descending: bool
    sort_key: Callable[[TraceSummary], Any]


#: The columns, in order. The index's own order is the first column, descending.
COLUMNS: tuple[TraceColumn, ...] = (
    TraceColumn("time", "Time", True, lambda s: (s.timestamp, s.id)),
    TraceColumn("provider", "Provider", False, lambda s: s.provider.lower()),
    TraceColumn("model", "Model", False, lambda s: s.model.lower()),
    TraceColumn("type", "Type", False, lambda s: s.streaming),
    TraceColumn("tokens", "Tokens", True, lambda s: s.total_tokens),
    TraceColumn("latency", "Latency (ms)", True, lambda s: s.latency_ms),
    TraceColumn("status", "Status", False, lambda s: (s.status, s.status_code)),
)
_BY_KEY = {column.key: column for column in COLUMNS}


class TimeCell(Text):
    """The first cell of a row: its time, and the id of its trace (rows are ordered by id)."""

    def __init__(self, text: str, trace_id: str) -> None:
        super().__init__(text)
        self.trace_id = trace_id


def row_cells(summary: TraceSummary) -> tuple[Text, ...]:
    """The cells of one trace, in :data:`COLUMNS` order (numbers right-aligned, status
    coloured)."""
    return (
        TimeCell(local_time(summary.timestamp), summary.id),
        Text(summary.provider),
        Text(summary.model or "-"),
        Text("Stream" if summary.streaming else "Normal"),
        Text(count_text(summary.total_tokens), justify="right"),
        Text(ms_number(summary.latency_ms), justify="right"),
        fmt.status(summary.status, summary.status_code),
    )


class TraceTable(DataTable[Text]):
    """Trace summaries, one row each keyed by trace id.

    Rows are sorted on :attr:`sort_column` (default: time, newest first, the index's order);
    :meth:`toggle_mark` marks up to :data:`MAX_MARKS` rows. Posts :class:`LoadMore` when the
    cursor or the scroll reaches the last row, :class:`MarksChanged` when the marks change.

    A row is added once per trace: new traces, sorting and removals reorder the rows in place
    (:meth:`DataTable.sort`), which costs little however many rows are loaded, where adding
    rows (measuring their cells) does not.
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

    def on_mount(self) -> None:
        """Add the columns (each wide enough for its label and a sort arrow)."""
        for column in COLUMNS:
            self.add_column(column.label + " ▼", key=column.key)
        self._label_columns()

    # -- rows ------------------------------------------------------------------------------

    @property
    def current_id(self) -> str | None:
        """The id of the trace under the cursor (``None`` when the table is empty)."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

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
        else:
            for trace_id in gone:
                self.remove_row(trace_id)
        for summary in new:
            shown = self._by_id.get(summary.id)
            if shown is None:
                self.add_row(*self._cells(summary), key=summary.id)
            elif shown != summary:
                self._update_row(summary)
        self.summaries = new
        self._by_id = by_id
        self._reorder(keep)

    def extend_summaries(self, summaries: Iterable[TraceSummary]) -> None:
        """Add older ``summaries`` after the loaded ones (a next page)."""
        more = [summary for summary in summaries if summary.id not in self._by_id]
        keep = self._viewport()
        for summary in more:
            self.add_row(*self._cells(summary), key=summary.id)
            self._by_id[summary.id] = summary
        self.summaries.extend(more)
        if not self.is_index_order:
            self._reorder(keep)

    def _ordered(self) -> list[TraceSummary]:
        ordered = sorted(self.summaries, key=COLUMNS[0].sort_key, reverse=True)
        if self.is_index_order:
            return ordered
        column = _BY_KEY[self.sort_column]
        return sorted(ordered, key=column.sort_key, reverse=self.sort_descending)

    def _cells(self, summary: TraceSummary) -> tuple[Text, ...]:
        cells = row_cells(summary)
        if summary.id in self.marked:
            for cell in cells:
                cell.stylize(MARK_STYLE)
        return cells

    def _update_row(self, summary: TraceSummary) -> None:
        for column, cell in zip(COLUMNS, self._cells(summary), strict=True):
            self.update_cell(summary.id, column.key, cell)

    def _viewport(self) -> tuple[str | None, int, float]:
        """The trace under the cursor, the cursor's row and the scroll offset."""
        return self.current_id, self.cursor_row, self.scroll_y

    def _reorder(self, viewport: tuple[str | None, int, float]) -> None:
        """Put the rows in :meth:`_ordered` order; the cursor stays on its trace, and the rows
        above it stay in view unless the table was scrolled to the top (then new rows at the
        top show)."""
        rank = {summary.id: i for i, summary in enumerate(self._ordered())}
        self.sort(key=lambda cells: rank[cells[0].trace_id])
        keep, old_row, old_scroll = viewport
        if keep is None or keep not in self._by_id:
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
        """Sort on the next column (after the last: back to time)."""
        keys = [column.key for column in COLUMNS]
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
        for column in COLUMNS:
            label = column.label
            if column.key == self.sort_column:
                label += " ▼" if self.sort_descending else " ▲"
            self.columns[ColumnKey(column.key)].label = Text(label)
        self.refresh()

    # -- marks -----------------------------------------------------------------------------

    def toggle_mark(self) -> bool:
        """Mark the trace under the cursor, or unmark it. Returns ``False`` when nothing
        changed (empty table, or :data:`MAX_MARKS` traces already marked)."""
        trace_id = self.current_id
        if trace_id is None:
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

"""The trace list: the newest traces first, live, paged, filterable, sortable.

Rows come from the store's index only (never from trace files), read in worker threads:
:data:`PAGE_SIZE` at a time, the next page when the cursor or the scroll reaches the last row,
and the newest page again every :data:`POLL_INTERVAL_S` so new traces appear at the top (and
deleted ones go) while the cursor stays on its trace.

Keys: ``/`` filter (``model:gpt-4o provider:anthropic status:error type:stream since:2h
words``, see :mod:`traceforge_shared.views.filters`),
``s`` sort on the next column (or click a header), ``space`` mark a trace (two at most),
``d`` diff the two marked, ``Enter`` open, ``r`` reload, ``q`` quit.

The line over the table says how many traces are shown of how many match, and the filter.
When a proxy runs (:attr:`ListSettings.live_url`), the calls it has in flight are rows at the
top of the table as soon as they start (:mod:`traceforge_tui.live`,
:mod:`traceforge_tui.widgets.live_rows`): status ``⋯ 12 chunks``, their live token count;
``Enter`` on one shows the tail of its stream as chunks arrive. The saved trace's row replaces
it. Only the calls that could match the filter and the test-traffic toggle show
(:mod:`traceforge_tui.live_filter`); the header counts the others as hidden.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import ClassVar

import httpx
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from traceforge_shared.store import StoreError, TraceStore
from traceforge_shared.trace import TraceSummary
from traceforge_shared.views.filters import FilterQuery
from traceforge_tui.live import LiveCall, LiveCalls, read_events
from traceforge_tui.live_filter import live_calls_matching
from traceforge_tui.messages import (
    FilterSubmitted,
    LoadMore,
    MarksChanged,
    PageLoaded,
    StoreReadFailed,
    TracesPolled,
)
from traceforge_tui.optional import open_screen
from traceforge_tui.preferences import without_test_traffic
from traceforge_tui.screens.live_call import LiveCallScreen
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.widgets.filter_bar import FilterBar
from traceforge_tui.widgets.key_footer import KeyFooter
from traceforge_tui.widgets.trace_table import COLUMNS, TraceTable

#: Rows read from the index at a time.
PAGE_SIZE = 200
#: Seconds between two reads of the newest page.
POLL_INTERVAL_S = 1.0
STORE_ERRORS = (StoreError, OSError, sqlite3.Error)
#: Seconds between two attempts to reach the proxy's event stream.
LIVE_RETRY_S = 2.0

EMPTY_MESSAGE = (
    "No traces yet.\n\n"
    "Send requests through the TraceForge proxy (traceforge start): they appear here as they "
    "are recorded."
)
LOADING_MESSAGE = "Loading traces…"


@dataclass(frozen=True)
class ListSettings:
    """How the list reads and replays.

    Attributes:
        page_size: rows read from the index at a time.
        poll_interval: seconds between two reads of the newest page (live update).
        replay_speed: the speed stream replays start at.
        live_url: the running proxy's event stream
            (:func:`traceforge_tui.live.events_url`); ``None``: no calls in flight shown.
    """

    page_size: int = PAGE_SIZE
    poll_interval: float = POLL_INTERVAL_S
    replay_speed: float = 1.0
    live_url: str | None = None


def _newest_first(summaries: list[TraceSummary]) -> list[TraceSummary]:
    return sorted(summaries, key=lambda s: (s.timestamp, s.id), reverse=True)


class TraceListScreen(Screen[None]):
    """The traces of ``store``, newest first; each row's key is the trace id.

    Args:
        store: the trace store (read only here; the detail screen may delete).
        settings: page size, poll interval and replay speed.

    Attributes:
        search: the filter applied.
        loaded: the index rows read so far, newest first.
        total: how many traces the index holds for the filter's fields.
        exhausted: whether every row of the index was read.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("space", "toggle_mark", "Mark"),
        Binding("d", "diff", "Diff marked"),
        Binding("r", "reload", "Reload"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, store: TraceStore, settings: ListSettings | None = None) -> None:
        super().__init__()
        self.store = store
        self.settings = settings or ListSettings()
        self.page_size = self.settings.page_size
        self.poll_interval = self.settings.poll_interval
        self.replay_speed = self.settings.replay_speed
        self.search = FilterQuery()
        self.loaded: list[TraceSummary] = []
        self.total = 0
        self.exhausted = False
        self.loading = False
        self.error: str | None = None
        self._generation = 0
        self._polling = False
        self._first_page = True
        #: the calls in flight the proxy announced.
        self.live = LiveCalls()
        self._polls = 0

    DEFAULT_CSS = """
    TraceListScreen #list-header {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    """

    def compose(self) -> ComposeResult:
        """Filter bar, header line, table (calls in flight at its top), empty-state message."""
        yield Header()
        yield FilterBar(id="filter")
        yield Static(id="list-header")
        yield TraceTable(id="traces")
        yield Static(LOADING_MESSAGE, id="empty")
        yield KeyFooter()

    @property
    def table(self) -> TraceTable:
        """The trace table."""
        return self.query_one("#traces", TraceTable)

    #: Leave out the calls of ``traceforge test run`` (the app's toggle, ``H``).
    hide_test_traffic = False

    def test_traffic_changed(self) -> None:
        """The app's test-traffic toggle changed: read from the first page again."""
        self.hide_test_traffic = bool(getattr(self.app, "hide_test_traffic", False))
        self._reset()

    def on_mount(self) -> None:
        """Read the first page and start polling."""
        self.hide_test_traffic = bool(getattr(self.app, "hide_test_traffic", False))
        self.table.focus()
        self._show()
        self._request_page(0, self.page_size)
        self.set_interval(self.poll_interval, self._poll)
        if self.settings.live_url:
            self._follow_live(self.settings.live_url)

    # -- reading (worker threads) ----------------------------------------------------------

    def _request_page(self, offset: int, limit: int) -> None:
        self.loading = True
        self._read_page(self._generation, self.search, offset, limit)

    @work(thread=True, exclusive=True, group="page")
    def _read_page(self, generation: int, query: FilterQuery, offset: int, limit: int) -> None:
        filters = without_test_traffic(query.to_filter(), self.hide_test_traffic)
        try:
            summaries = self.store.list(filters, limit=limit, offset=offset)
            total = self.store.count(filters)
        except STORE_ERRORS as exc:
            self.post_message(StoreReadFailed(generation, str(exc)))
        else:
            self.post_message(PageLoaded(generation, offset, limit, summaries, total))
        finally:
            self.store.index.close()  # this worker thread's connection

    def _poll(self) -> None:
        if self._polling or self.loading:
            return
        self._polling = True
        self._polls += 1
        self._read_newest(self._generation, self.search, self.page_size)

    @work(thread=True, group="poll")
    def _read_newest(self, generation: int, query: FilterQuery, limit: int) -> None:
        filters = without_test_traffic(query.to_filter(), self.hide_test_traffic)
        try:
            summaries = self.store.list(filters, limit=limit)
            total = self.store.count(filters)
        except STORE_ERRORS as exc:
            self.post_message(StoreReadFailed(generation, str(exc)))
        else:
            self.post_message(TracesPolled(generation, limit, summaries, total))
        finally:
            self.store.index.close()

    # -- calls in flight (the proxy's event stream) -----------------------------------------

    @work(exclusive=True, group="live")
    async def _follow_live(self, url: str) -> None:
        """Read the proxy's events for as long as the screen lives; reconnect every
        :data:`LIVE_RETRY_S` while no proxy answers (nothing is shown meanwhile)."""
        async with httpx.AsyncClient(trust_env=False) as client:
            while True:
                try:
                    async for name, data in read_events(url, client):
                        self.live_event(name, data)
                except httpx.HTTPError:
                    pass
                if self.live.calls:
                    self.live.clear()  # the proxy went: its calls will not be announced
                    self._show_live()
                await asyncio.sleep(LIVE_RETRY_S)

    def live_event(self, name: str, data: dict[str, object]) -> None:
        """Apply one event of the proxy's stream (``started``, ``chunk``, ``finished``,
        ``saved``) to the calls in flight and show them; a ``saved`` one reads the list now."""
        call = self.live.apply(name, data)
        if call is None:
            return
        if name == "saved":
            call.saved_at = self._polls
            self._poll()  # read the new trace now, not at the next tick
        self._show_live()

    def _show_live(self) -> None:
        try:
            self.table.show_live(self._live_shown())
            self._show()
        except NoMatches:  # an event came while the app closes: its widgets are gone
            return

    def _live_shown(self) -> list[LiveCall]:
        """The calls in flight that could match the filter and the test-traffic toggle
        (:mod:`traceforge_tui.live_filter`)."""
        return live_calls_matching(
            self.live.calls.values(), self.search, hide_test_traffic=self.hide_test_traffic
        )

    # -- results ---------------------------------------------------------------------------

    def on_page_loaded(self, message: PageLoaded) -> None:
        """Show a page: the first replaces the rows, the next ones are added below."""
        if message.generation != self._generation:
            return
        self.loading = False
        self.error = None
        self.total = message.total
        self.exhausted = len(message.summaries) < message.limit
        table = self.table
        if message.offset == 0:
            self.loaded = _newest_first(message.summaries)
            table.set_summaries(self.loaded)
        else:
            known = {s.id for s in self.loaded}
            more = [s for s in message.summaries if s.id not in known]
            self.loaded.extend(more)
            table.extend_summaries(more)
        if self._first_page:
            self._first_page = False
            table.move_cursor(row=0)
        self._show()

    def on_traces_polled(self, message: TracesPolled) -> None:
        """Add new traces at the top, drop the ones deleted behind our back."""
        self._polling = False
        if message.generation != self._generation or self.loading:
            return
        self.error = None
        self.total = message.total
        window = {s.id for s in message.summaries}
        known = {s.id for s in self.loaded}
        fresh = [s for s in message.summaries if s.id not in known]
        if len(message.summaries) < message.limit:
            gone = known - window  # the poll saw every matching trace
        else:
            oldest = min((s.timestamp, s.id) for s in message.summaries)
            gone = {s.id for s in self.loaded if (s.timestamp, s.id) > oldest} - window
        if fresh or gone:
            kept = [s for s in self.loaded if s.id not in gone]
            self.loaded = _newest_first(kept + fresh)
            self.table.set_summaries(self.loaded)
        if self.live.drop_saved(self._polls):
            self._show_live()
        self._show()

    def on_store_read_failed(self, message: StoreReadFailed) -> None:
        """Say why the list cannot be read."""
        self._polling = False
        if message.generation != self._generation:
            return
        self.loading = False
        self.error = f"Cannot read traces from {self.store.home}: {message.reason}"
        self._show()

    def on_load_more(self, message: LoadMore) -> None:
        """The table reached its last row: read the next page."""
        if not (self.loading or self.exhausted or self.error):
            self._request_page(len(self.loaded), self.page_size)

    def on_marks_changed(self, message: MarksChanged) -> None:
        """Show the marks in the subtitle."""
        self._show()

    def on_filter_submitted(self, message: FilterSubmitted) -> None:
        """Apply a new filter: read from the first page again."""
        self.search = message.query
        self._reset()
        self.table.focus()

    def _reset(self, limit: int | None = None) -> None:
        self._generation += 1
        self._polling = False
        self.exhausted = False
        self._request_page(0, limit or self.page_size)
        self._show_live()  # the filter or the toggle may have changed

    # -- showing ---------------------------------------------------------------------------

    def _show(self) -> None:
        """Table or empty-state message, and the subtitle."""
        table = self.table
        empty = self.query_one("#empty", Static)
        has_rows = table.row_count > 0
        table.display = has_rows
        empty.display = not has_rows
        if not has_rows:
            if self.error:
                empty.update(self.error)
            elif self.loading and not self.loaded:
                empty.update(LOADING_MESSAGE)
            elif not self.search.is_empty:
                empty.update(f"No trace matches {self.search}.")
            else:
                empty.update(EMPTY_MESSAGE)
        self.sub_title = self._subtitle()
        self.query_one("#list-header", Static).update(self._header_line())

    def _subtitle(self) -> str:
        table = self.table
        shown = table.trace_count
        if shown >= self.total:
            parts = [f"{self.total} traces"]
        else:
            parts = [f"{shown} of {self.total} traces"]
        if not self.search.is_empty:
            parts.append(f"filter: {self.search}")
        if self.hide_test_traffic:
            parts.append("test traffic hidden (H)")
        if not table.is_index_order:
            label = next(c.label for c in COLUMNS if c.key == table.sort_column)
            arrow = "▼" if table.sort_descending else "▲"
            parts.append(f"sorted by {label.lower()} {arrow}")
        if table.marked:
            marks = f"{len(table.marked)} marked"
            parts.append(marks + (" (d: diff)" if len(table.marked) == 2 else ""))
        return " · ".join(parts)

    def _header_line(self) -> str:
        """``Traces 200/5,120 · filter: model:gpt-4o · 1 in flight (2 hidden)`` (traces shown
        of matching; calls in flight shown, and left out by the filter or the toggle)."""
        parts = [f"Traces {self.table.trace_count:,}/{self.total:,}"]
        parts.append(f"filter: {self.search}" if not self.search.is_empty else "no filter")
        running = [call.id for call in self.live.calls.values() if not call.finished]
        shown = sum(1 for trace_id in running if self.table.is_live(trace_id))
        if running:
            hidden = len(running) - shown
            parts.append(f"{shown} in flight" + (f" ({hidden} hidden)" if hidden else ""))
        return " · ".join(parts)

    # -- actions ---------------------------------------------------------------------------

    def action_focus_filter(self) -> None:
        """Type a filter."""
        self.query_one("#filter", FilterBar).focus()

    def action_cycle_sort(self) -> None:
        """Sort on the next column."""
        self.table.cycle_sort()
        self._show()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A header click sorted the table (see :class:`TraceTable`)."""
        self._show()

    def action_toggle_mark(self) -> None:
        """Mark or unmark the trace under the cursor (two at most)."""
        table = self.table
        if not table.toggle_mark() and table.row_count:
            self.notify("Two traces are marked already: unmark one first", severity="warning")

    def action_diff(self) -> None:
        """Compare the two marked traces."""
        marked = self.table.marked
        if len(marked) != 2:
            self.notify("Mark two traces with space to compare them", severity="warning")
            return
        open_screen(self.app, "diff", "DiffScreen", "The diff view", self.store, *marked)

    def action_reload(self) -> None:
        """Read the loaded rows again (the cursor stays on its trace)."""
        self._reset(max(self.page_size, len(self.loaded)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: open that trace (or the call in flight)."""
        trace_id = event.row_key.value
        if event.data_table.id != "traces" or trace_id is None:
            return
        if self.table.is_live(trace_id) and trace_id in self.live.calls:
            self.app.push_screen(
                LiveCallScreen(self.live.calls[trace_id], self.store), callback=self._open_saved
            )
        else:
            self.app.push_screen(
                TraceDetailScreen(self.store, trace_id, replay_speed=self.replay_speed),
                callback=self._detail_closed,
            )

    def _open_saved(self, trace_id: str | None) -> None:
        """A call in flight was saved and its detail asked for."""
        if trace_id is not None:
            self.app.push_screen(
                TraceDetailScreen(self.store, trace_id, replay_speed=self.replay_speed),
                callback=self._detail_closed,
            )

    def _detail_closed(self, deleted: str | None) -> None:
        if deleted is None:
            return
        self.loaded = [s for s in self.loaded if s.id != deleted]
        self.total = max(0, self.total - 1)
        self.table.set_summaries(self.loaded)
        self._show()

"""The runs screen: a list of runs (newest first) above the highlighted run's tree of spans
beside a waterfall of time bars (:class:`~traceforge_tui.widgets.waterfall.Waterfall`).

Keys: ``enter`` on a run moves to its spans; ``enter`` on an LLM span (one recorded as a
trace) opens the trace detail screen; ``r`` reloads; ``escape`` goes back. Everything is read
from the store's index in workers (:meth:`traceforge_shared.store.spans.SpanStore.list_runs`,
``get_run``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from functools import partial
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from traceforge_shared.spans import RunSummary
from traceforge_shared.store import RunFilter, StoreError, TraceStore
from traceforge_shared.views.run_view import STATUS_STYLE, cost_cell, tokens_text
from traceforge_shared.views.runs import RunTree, build_tree
from traceforge_shared.views.times import local_time
from traceforge_shared.views.units import ms_text
from traceforge_tui.widgets.key_footer import KeyFooter
from traceforge_tui.widgets.waterfall import Waterfall, cut
from traceforge_tui.workers import deferred

#: Runs listed at most.
RUN_LIMIT = 500

#: Below this width the run list leaves out Start, LLM calls, Cost and Session.
NARROW = 120

EMPTY_MESSAGE = (
    "No runs yet.\n\nA run is the tree of spans under one trace id: send a W3C traceparent "
    "header with your LLM calls through the proxy, or spans over OTLP (docs/runs.md)."
)


def run_cells(run: RunSummary, *, narrow: bool) -> tuple[str | Text, ...]:
    """The cells of one run in the list (fewer when ``narrow``)."""
    status = f"error ({run.error_count})" if run.status == "error" else run.status
    cells: dict[str, str | Text] = {
        "Run": run.trace_id[:8],
        "Start": local_time(run.start_time)[5:19],
        "Root": cut(run.name, 24 if narrow else 36),
        "Spans": Text(str(run.span_count), justify="right"),
        "LLM": Text(str(run.llm_calls), justify="right"),
        "Duration": Text(ms_text(run.duration_ms), justify="right"),
        "Tokens": Text(tokens_text(run), justify="right"),
        "Cost": Text(cost_cell(run.cost_usd), justify="right"),
        "Status": Text(status, style=STATUS_STYLE.get(run.status, "")),
        "Session": cut(run.session_id or "-", 20),
    }
    return tuple(cells[name] for name in run_columns(narrow))


def run_columns(narrow: bool) -> tuple[str, ...]:
    """The run list's columns at a width below :data:`NARROW` or not."""
    if narrow:
        return ("Run", "Root", "Spans", "Duration", "Tokens", "Status")
    return (
        "Run",
        "Start",
        "Root",
        "Spans",
        "LLM",
        "Duration",
        "Tokens",
        "Cost",
        "Status",
        "Session",
    )


def run_line(run: RunSummary, tree: RunTree) -> Text:
    """The line above the waterfall: the run's id, start, duration, totals and session."""
    text = Text()
    text.append(run.trace_id, style="bold")
    text.append(
        f"  {local_time(run.start_time)} · {ms_text(tree.duration_ms)} · "
        f"{tree.span_count} spans · {run.llm_calls} LLM · {tokens_text(run)} tokens · "
        f"{cost_cell(run.cost_usd)}"
    )
    if run.session_id:
        text.append(f" · session {run.session_id}")
    if tree.errors:
        text.append(f" · {tree.errors} failed", style="red")
    return text


class RunsScreen(Screen[None]):
    """The runs of ``store`` (only those of ``session_id`` when given) and the highlighted
    one's spans.

    Args:
        store: where runs and traces are read from.
        session_id: list only this session's runs (the sessions screen opens it so).
        replay_speed: the speed stream replays start at in the trace detail screen.
    """

    DEFAULT_CSS = """
    RunsScreen #runs-table {
        height: 1fr;
        min-height: 4;
    }
    RunsScreen #runs-waterfall {
        height: 2fr;
    }
    RunsScreen #runs-run {
        padding: 0 1;
        background: $boost;
    }
    RunsScreen #runs-empty {
        height: 1fr;
        content-align: center middle;
        text-align: center;
        color: $text-muted;
        padding: 1 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "reload", "Reload"),
        Binding("tab", "switch_pane", "Runs/spans", show=True),
    ]

    def __init__(
        self, store: TraceStore, *, session_id: str | None = None, replay_speed: float = 1.0
    ) -> None:
        super().__init__()
        self.store = store
        self.session_id = session_id
        self.replay_speed = replay_speed
        self.runs: dict[str, RunSummary] = {}
        self.narrow = False
        self.shown_run: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="runs-run")
        yield Waterfall(id="runs-waterfall")
        yield Static(EMPTY_MESSAGE, id="runs-empty")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"runs of session {self.session_id}" if self.session_id else "runs"
        self.narrow = self.app.size.width < NARROW
        self.query_one("#runs-empty").display = False
        self.action_reload()

    @property
    def table(self) -> DataTable[str | Text]:
        """The run list (row keys: run ids)."""
        return self.query_one("#runs-table", DataTable)

    @property
    def waterfall(self) -> Waterfall:
        """The highlighted run's spans."""
        return self.query_one("#runs-waterfall", Waterfall)

    def action_reload(self) -> None:
        """Read the runs again (in a worker)."""
        self.run_worker(deferred(self._load_runs), group="runs-list", exclusive=True)

    def action_switch_pane(self) -> None:
        """Move the focus between the run list and the spans."""
        if self.table.has_focus:
            self.waterfall.focus()
        else:
            self.table.focus()

    async def _load_runs(self) -> None:
        filters = RunFilter(session_id=self.session_id)
        try:
            runs = await asyncio.to_thread(self.store.spans.list_runs, filters, limit=RUN_LIMIT)
        except (StoreError, OSError, sqlite3.Error) as exc:
            self.notify(f"Cannot read runs from {self.store.home}: {exc}", severity="error")
            runs = []
        self._show_runs(runs)

    def _show_runs(self, runs: list[RunSummary]) -> None:
        table = self.table
        previous = self.selected_run()
        self.runs = {run.trace_id: run for run in runs}
        table.clear(columns=True)
        for column in run_columns(self.narrow):
            table.add_column(column, key=column.lower())
        for run in runs:
            table.add_row(*run_cells(run, narrow=self.narrow), key=run.trace_id)
        self.query_one("#runs-empty").display = not runs
        for selector in ("#runs-table", "#runs-run", "#runs-waterfall"):
            self.query_one(selector).display = bool(runs)
        count = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
        self.sub_title = (
            f"runs of session {self.session_id} · {count}" if self.session_id else f"runs · {count}"
        )
        if previous in self.runs:
            table.move_cursor(row=table.get_row_index(previous))
        self._load_tree()

    def selected_run(self) -> str | None:
        """The id of the run under the list's cursor, if any."""
        table = self.table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key if isinstance(key, str) else None

    def on_resize(self, event: events.Resize) -> None:
        """Switch the list's columns when the width crosses :data:`NARROW`."""
        narrow = event.size.width < NARROW
        if narrow != self.narrow:
            self.narrow = narrow
            self._show_runs(list(self.runs.values()))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """A run highlighted: show its spans."""
        if event.data_table.id == "runs-table":
            self._load_tree()

    def _load_tree(self) -> None:
        run_id = self.selected_run()
        if run_id is None:
            self.shown_run = None
            self.waterfall.show(None)
            return
        if run_id != self.shown_run:
            self.run_worker(
                deferred(partial(self._read_tree, run_id)), group="runs-tree", exclusive=True
            )

    async def _read_tree(self, run_id: str) -> None:
        try:
            spans = await asyncio.to_thread(self.store.spans.get_run, run_id)
        except (StoreError, OSError, sqlite3.Error) as exc:
            self.query_one("#runs-run", Static).update(Text(f"Cannot read run: {exc}", "red"))
            self.waterfall.show(None)
            return
        tree = build_tree(spans)
        self.shown_run = run_id
        run = self.runs.get(run_id)
        self.query_one("#runs-run", Static).update(run_line(run, tree) if run else run_id)
        self.waterfall.show(tree)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a run: go to its spans; on an LLM span: open its trace."""
        if event.data_table.id == "runs-table":
            self.waterfall.focus()
            return
        node = self.waterfall.node(event.row_key.value)
        if node is None:
            return
        if node.span.trace_ref is None:
            self.notify(
                f"{node.span.name}: a {node.span.kind} span, not a recorded call "
                "(only LLM calls through the proxy have a trace)",
                severity="information",
            )
            return
        from traceforge_tui.screens.trace_detail import TraceDetailScreen

        self.app.push_screen(
            TraceDetailScreen(self.store, node.span.trace_ref, replay_speed=self.replay_speed)
        )

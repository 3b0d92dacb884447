"""The sessions screen: sessions (runs grouped by session id), latest activity first, with
their totals; ``enter`` opens the runs screen on one session's runs.

Read in a worker from the store's index
(:meth:`traceforge_shared.store.spans.SpanStore.list_sessions`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from traceforge_shared.spans import SessionSummary
from traceforge_shared.store import StoreError, TraceStore
from traceforge_shared.views.run_view import cost_cell, tokens_text
from traceforge_shared.views.times import local_time
from traceforge_tui.screens.runs import RunsScreen
from traceforge_tui.widgets.key_footer import KeyFooter
from traceforge_tui.widgets.waterfall import cut
from traceforge_tui.workers import deferred

#: Sessions listed at most.
SESSION_LIMIT = 500

#: Below this width the list leaves out LLM calls, cost and first activity.
NARROW = 110

EMPTY_MESSAGE = (
    "No sessions yet.\n\nSend an X-TraceForge-Session-Id header with your calls (or a "
    "session id on your spans) to group runs by conversation or user (docs/runs.md)."
)


def session_columns(narrow: bool) -> tuple[str, ...]:
    """The session list's columns at a width below :data:`NARROW` or not."""
    if narrow:
        return ("Session", "Runs", "Tokens", "Errors", "Last activity")
    return ("Session", "Runs", "LLM", "Tokens", "Cost", "Errors", "First", "Last activity")


def session_cells(session: SessionSummary, *, narrow: bool) -> tuple[str | Text, ...]:
    """The cells of one session in the list (fewer when ``narrow``)."""
    cells: dict[str, str | Text] = {
        "Session": cut(session.session_id, 28 if narrow else 40),
        "Runs": Text(str(session.runs), justify="right"),
        "LLM": Text(str(session.calls), justify="right"),
        "Tokens": Text(tokens_text(session), justify="right"),
        "Cost": Text(cost_cell(session.cost_usd), justify="right"),
        "Errors": Text(str(session.errors), style="red" if session.errors else "", justify="right"),
        "First": local_time(session.first_time)[5:19],
        "Last activity": local_time(session.last_time)[5:19],
    }
    return tuple(cells[name] for name in session_columns(narrow))


class SessionsScreen(Screen[None]):
    """The sessions of ``store``.

    Args:
        store: where runs are read from.
        replay_speed: passed on to the runs screen (and its trace detail screens).
    """

    DEFAULT_CSS = """
    SessionsScreen #sessions-table {
        height: 1fr;
    }
    SessionsScreen #sessions-empty {
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
    ]

    def __init__(self, store: TraceStore, *, replay_speed: float = 1.0) -> None:
        super().__init__()
        self.store = store
        self.replay_speed = replay_speed
        self.sessions: list[SessionSummary] = []
        self.narrow = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
        yield Static(EMPTY_MESSAGE, id="sessions-empty")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "sessions"
        self.narrow = self.app.size.width < NARROW
        self.query_one("#sessions-empty").display = False
        self.action_reload()

    @property
    def table(self) -> DataTable[str | Text]:
        """The session list (row keys: session ids)."""
        return self.query_one("#sessions-table", DataTable)

    def action_reload(self) -> None:
        """Read the sessions again (in a worker)."""
        self.run_worker(deferred(self._load), group="sessions", exclusive=True)

    async def _load(self) -> None:
        try:
            sessions = await asyncio.to_thread(self.store.spans.list_sessions, limit=SESSION_LIMIT)
        except (StoreError, OSError, sqlite3.Error) as exc:
            self.notify(f"Cannot read sessions from {self.store.home}: {exc}", severity="error")
            sessions = []
        self._show(sessions)

    def _show(self, sessions: list[SessionSummary]) -> None:
        self.sessions = sessions
        table = self.table
        table.clear(columns=True)
        for column in session_columns(self.narrow):
            table.add_column(column, key=column.lower())
        for session in sessions:
            table.add_row(*session_cells(session, narrow=self.narrow), key=session.session_id)
        self.query_one("#sessions-empty").display = not sessions
        table.display = bool(sessions)
        self.sub_title = f"sessions · {len(sessions)} session{'s' if len(sessions) != 1 else ''}"

    def on_resize(self, event: events.Resize) -> None:
        """Switch the columns when the width crosses :data:`NARROW`."""
        narrow = event.size.width < NARROW
        if narrow != self.narrow:
            self.narrow = narrow
            self._show(self.sessions)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a session: its runs."""
        session_id = event.row_key.value
        if session_id is not None:
            self.app.push_screen(
                RunsScreen(self.store, session_id=session_id, replay_speed=self.replay_speed)
            )

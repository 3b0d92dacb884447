"""The Textual application: a trace list (default screen) and a trace detail screen.

Keys: ``q`` quits from anywhere; see each screen for its own keys.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from traceforge_shared.store import TraceStore
from traceforge_tui.screens.trace_list import TraceListScreen


class TraceForgeApp(App[None]):
    """Browse the traces of one :class:`TraceStore`.

    Args:
        store: where the traces are read from (read-only use).
    """

    TITLE = "TraceForge"
    CSS_PATH = "traceforge.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, store: TraceStore) -> None:
        super().__init__()
        self.store = store

    def get_default_screen(self) -> Screen[None]:
        """The trace list is the bottom screen; Esc from a detail screen returns to it."""
        return TraceListScreen(self.store)


def make_app(store: TraceStore) -> TraceForgeApp:
    """Return the TUI application for ``store`` (call ``.run()`` on it to start it)."""
    return TraceForgeApp(store)

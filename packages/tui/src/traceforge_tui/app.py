"""The Textual application: the trace list is the default screen; detail, replay, and (when
they are installed) dashboard, config, tests and diff screens are pushed over it.

Keys anywhere: ``q`` quit, ``a`` dashboard, ``c`` config, ``t`` tests, ``ctrl+t`` dark or
light theme; see each screen for its own keys.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import BindingType
from textual.screen import Screen

from traceforge_shared.store import TraceStore
from traceforge_tui.optional import open_screen
from traceforge_tui.screens.trace_list import (
    PAGE_SIZE,
    POLL_INTERVAL_S,
    ListSettings,
    TraceListScreen,
)

#: The themes ``ctrl+t`` switches between (Textual's own).
DARK_THEME = "textual-dark"
LIGHT_THEME = "textual-light"


class TraceForgeApp(App[None]):
    """Browse the traces of one :class:`TraceStore`.

    Args:
        store: where the traces are read from (and deleted from, on request).
        settings: the list's page size, poll interval and replay speed.
        theme: the theme to start with (:data:`DARK_THEME` or :data:`LIGHT_THEME`).
    """

    TITLE = "TraceForge"
    CSS_PATH = "traceforge.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ("q", "quit", "Quit"),
        ("a", "dashboard", "Dashboard"),
        ("c", "config", "Config"),
        ("t", "tests", "Tests"),
        ("ctrl+t", "toggle_theme", "Theme"),
    ]

    def __init__(
        self, store: TraceStore, settings: ListSettings | None = None, *, theme: str = DARK_THEME
    ) -> None:
        super().__init__()
        self.store = store
        self.settings = settings or ListSettings()
        self.theme = theme

    def get_default_screen(self) -> Screen[None]:
        """The trace list is the bottom screen."""
        return TraceListScreen(self.store, self.settings)

    def action_toggle_theme(self) -> None:
        """Switch between the dark and the light theme."""
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME

    def action_dashboard(self) -> None:
        """Open the dashboard."""
        open_screen(self, "dashboard", "DashboardScreen", "The dashboard", self.store)

    def action_config(self) -> None:
        """Open the configuration of the store's home."""
        open_screen(self, "config", "ConfigScreen", "The config view", self.store.home)

    def action_tests(self) -> None:
        """Open the regression tests of the store's home."""
        open_screen(self, "tests", "TestsScreen", "The tests view", self.store, self.store.home)


def make_app(
    store: TraceStore,
    *,
    page_size: int = PAGE_SIZE,
    poll_interval: float = POLL_INTERVAL_S,
    replay_speed: float = 1.0,
    theme: str = DARK_THEME,
) -> TraceForgeApp:
    """Return the TUI application for ``store`` (call ``.run()`` on it to start it).

    Args:
        store: where the traces are read from (and deleted from, on request).
        page_size: rows the list reads from the index at a time.
        poll_interval: seconds between two reads of the newest traces (live list).
        replay_speed: the speed stream replays start at.
        theme: the theme to start with (:data:`DARK_THEME` or :data:`LIGHT_THEME`).
    """
    settings = ListSettings(page_size, poll_interval, replay_speed)
    return TraceForgeApp(store, settings, theme=theme)

"""The Textual application: the trace list is the default screen; detail, replay, and (when
they are installed) dashboard, config, tests and diff screens are pushed over it.

Keys anywhere: ``q`` quit, ``a`` dashboard, ``c`` config, ``t`` tests, ``R`` runs, ``S``
sessions, ``ctrl+t`` dark or light theme (remembered in config.yaml's ``tui:``), ``H`` hide
or show test traffic (calls of ``traceforge test run``, remembered too), ``?`` every key
(:mod:`traceforge_tui.screens.help`), ``ctrl+p`` every command (:mod:`traceforge_tui.palette`);
see each screen for its own keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from traceforge_shared.config import TuiConfig
from traceforge_shared.store import TraceStore
from traceforge_shared.views.filters import FilterError, parse_filter
from traceforge_tui.messages import FilterSubmitted
from traceforge_tui.optional import open_screen
from traceforge_tui.palette import TraceIdCommands, app_commands
from traceforge_tui.preferences import load_preferences, save_preferences
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
        theme: the theme to start with (:data:`DARK_THEME` or :data:`LIGHT_THEME`); default:
            the one remembered in the home's config (``tui.theme``).

    Attributes:
        hide_test_traffic: whether the list and the dashboard leave out the calls of
            ``traceforge test run`` (``tui.hide_test_traffic``).
    """

    TITLE = "TraceForge"
    CSS_PATH = "traceforge.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ("q", "quit", "Quit"),
        ("a", "dashboard", "Dashboard"),
        ("c", "config", "Config"),
        ("t", "tests", "Tests"),
        Binding("R", "runs", "Runs", show=False),  # in the help (?) and the palette
        Binding("S", "sessions", "Sessions", show=False),
        ("ctrl+t", "toggle_theme", "Theme"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("H", "toggle_test_traffic", "Hide/show test traffic", show=False),
    ]
    COMMANDS = App.COMMANDS | {TraceIdCommands}

    def __init__(
        self,
        store: TraceStore,
        settings: ListSettings | None = None,
        *,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.settings = settings or ListSettings()
        self.preferences = load_preferences(store.home)
        self.theme = theme or self.preferences.theme
        self.hide_test_traffic = self.preferences.hide_test_traffic
        #: Where to start: ``("trace", id)`` or ``("screen", name)`` (deep links).
        self.start_at: tuple[str, str] | None = None

    def get_default_screen(self) -> Screen[None]:
        """The trace list is the bottom screen."""
        return TraceListScreen(self.store, self.settings)

    def on_mount(self) -> None:
        """Open the trace or screen the app was asked to start on (:func:`make_app`)."""
        if self.start_at is None:
            return
        kind, value = self.start_at
        if kind == "trace":
            self.open_trace(value)
        else:
            action = getattr(self, f"action_{value}", None)
            if callable(action):
                action()

    def action_toggle_theme(self) -> None:
        """Switch between the dark and the light theme, and remember it."""
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME
        self._remember(TuiConfig(theme=self.theme, hide_test_traffic=self.hide_test_traffic))

    def action_toggle_test_traffic(self) -> None:
        """Hide or show the calls of ``traceforge test run``, remember it, and read the list
        (and the dashboard, when open) again."""
        self.hide_test_traffic = not self.hide_test_traffic
        self._remember(TuiConfig(theme=self.theme, hide_test_traffic=self.hide_test_traffic))
        self.notify("Test traffic hidden" if self.hide_test_traffic else "Test traffic shown")
        for screen in self.screen_stack:
            reload = getattr(screen, "test_traffic_changed", None)
            if callable(reload):
                reload()

    def _remember(self, preferences: TuiConfig) -> None:
        if preferences == self.preferences:
            return
        problem = save_preferences(self.store.home, preferences)
        if problem is not None:
            self.notify(problem, title="Settings", severity="warning")
            return
        self.preferences = preferences

    def action_help(self) -> None:
        """Show every key of every screen."""
        from traceforge_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_trace_list(self) -> None:
        """Go back to the trace list (the bottom screen)."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, TraceListScreen):
            self.pop_screen()

    def apply_filter(self, text: str) -> None:
        """Show the trace list filtered by ``text`` (the filter grammar; ``""`` clears it).

        A filter the grammar rejects is notified, not applied.
        """
        try:
            query = parse_filter(text)
        except FilterError as exc:
            self.notify(str(exc), title="Filter", severity="error")
            return
        self.action_trace_list()
        screen = self.screen
        if isinstance(screen, TraceListScreen):
            from traceforge_tui.widgets.filter_bar import FilterBar

            screen.query_one(FilterBar).value = text
            screen.post_message(FilterSubmitted(query))

    def open_trace(self, trace_id: str) -> None:
        """Open the detail of the trace ``trace_id`` (a full id)."""
        from traceforge_tui.screens.trace_detail import TraceDetailScreen

        self.push_screen(
            TraceDetailScreen(self.store, trace_id, replay_speed=self.settings.replay_speed)
        )

    def action_dashboard(self) -> None:
        """Open the dashboard."""
        open_screen(self, "dashboard", "DashboardScreen", "The dashboard", self.store)

    def action_config(self) -> None:
        """Open the configuration of the store's home."""
        open_screen(self, "config", "ConfigScreen", "The config view", self.store.home)

    def action_tests(self) -> None:
        """Open the regression tests of the store's home."""
        open_screen(self, "tests", "TestsScreen", "The tests view", self.store, self.store.home)

    def action_runs(self) -> None:
        """Open the runs (trees of spans with their waterfall)."""
        open_screen(self, "runs", "RunsScreen", "The runs view", self.store)

    def action_sessions(self) -> None:
        """Open the sessions (runs grouped by session id)."""
        open_screen(self, "sessions", "SessionsScreen", "The sessions view", self.store)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette's commands: Textual's own (but its theme picker: the theme is
        one of two, remembered), every app action (:func:`traceforge_tui.palette.app_commands`)
        and the runs and sessions views."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Theme", "Quit"):
                yield command
        yield from app_commands(self)
        yield SystemCommand("Runs", "Agent runs: span trees and waterfalls (R)", self.action_runs)
        yield SystemCommand("Sessions", "Runs grouped by session (S)", self.action_sessions)


def make_app(
    store: TraceStore,
    *,
    page_size: int = PAGE_SIZE,
    poll_interval: float = POLL_INTERVAL_S,
    replay_speed: float = 1.0,
    theme: str | None = None,
    live_url: str | None = None,
    start_trace: str | None = None,
    start_screen: str | None = None,
) -> TraceForgeApp:
    """Return the TUI application for ``store`` (call ``.run()`` on it to start it).

    Args:
        store: where the traces are read from (and deleted from, on request).
        page_size: rows the list reads from the index at a time.
        poll_interval: seconds between two reads of the newest traces (live list).
        replay_speed: the speed stream replays start at.
        theme: the theme to start with (:data:`DARK_THEME` or :data:`LIGHT_THEME`); default:
            the one remembered in the home's config.
        live_url: the running proxy's event stream, for the calls in flight
            (:func:`traceforge_tui.live.events_url`); ``None``: none shown.
        start_trace: open this trace's detail (an id or unique prefix) over the list.
        start_screen: open this screen over the list: ``dashboard``, ``config``,
            ``tests``, ``runs`` or ``sessions`` (another name is ignored).
    """
    settings = ListSettings(page_size, poll_interval, replay_speed, live_url)
    app = TraceForgeApp(store, settings, theme=theme)
    if start_trace:
        app.start_at = ("trace", start_trace)
    elif start_screen in ("dashboard", "config", "tests", "runs", "sessions"):
        app.start_at = ("screen", start_screen)
    return app

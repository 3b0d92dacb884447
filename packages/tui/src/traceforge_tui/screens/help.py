"""The ``?`` help overlay: every key of every screen, read from the screens' own bindings (so
it cannot drift from them), the screen it was opened from first, then the filter grammar.

Keys: ``Esc``, ``?`` or ``q`` close it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from traceforge_shared.views.filters import KEY_HELP
from traceforge_tui.optional import screen_class

#: The screens the help lists, in order: ``(module, class, title)``; a screen whose module
#: cannot be imported is left out.
HELP_SCREENS: tuple[tuple[str, str, str], ...] = (
    ("trace_list", "TraceListScreen", "Trace list"),
    ("trace_detail", "TraceDetailScreen", "Trace detail"),
    ("stream_replay", "StreamReplayScreen", "Stream replay"),
    ("live_call", "LiveCallScreen", "Call in flight"),
    ("diff", "DiffScreen", "Diff"),
    ("dashboard", "DashboardScreen", "Dashboard"),
    ("tests", "TestsScreen", "Tests"),
    ("runs", "RunsScreen", "Runs"),
    ("sessions", "SessionsScreen", "Sessions"),
    ("config", "ConfigScreen", "Config"),
)

#: Widgets with keys of their own, listed under the screen they sit on.
WIDGET_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "TraceListScreen": (("enter", "open the trace (in the table); apply the filter (in /)"),),
}


def binding_rows(app: App[Any], bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """``(key as shown, description)`` of each binding with a description (hidden ones
    included: the help lists every key)."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for binding in Binding.make_bindings(bindings):
        if not binding.description or binding.key in seen:
            continue
        seen.add(binding.key)
        rows.append((app.get_key_display(binding), binding.description))
    return rows


def help_text(app: App[Any], current: Screen[Any] | None) -> Text:
    """The help: the keys of anywhere, of the current screen, of every other screen, and
    the filter keys."""
    sections: list[tuple[str, list[tuple[str, str]]]] = [
        ("Anywhere", binding_rows(app, app.BINDINGS)),
    ]
    others: list[tuple[str, list[tuple[str, str]]]] = []
    for module, name, title in HELP_SCREENS:
        cls = screen_class(module, name)
        if cls is None:
            continue
        rows = binding_rows(app, getattr(cls, "BINDINGS", []))
        rows += list(WIDGET_KEYS.get(name, ()))
        if current is not None and type(current).__name__ == name:
            sections.append((f"{title} (this screen)", rows))
        else:
            others.append((title, rows))
    sections += others
    text = Text()
    for title, rows in sections:
        text.append(f"{title}\n", style="bold")
        for key, description in rows:
            text.append(f"  {key:<12}", style="bold cyan")
            text.append(f" {description}\n")
        text.append("\n")
    text.append("Filter (/): terms ANDed, other words are text search\n", style="bold")
    for example, description in KEY_HELP.values():
        text.append(f"  {example:<20}", style="bold cyan")
        text.append(f" {description}\n")
    return text


class HelpScreen(ModalScreen[None]):
    """Every key, per screen (see the module docstring).

    Args:
        current: the screen the help was opened from (listed first).
    """

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen #help-dialog {
        width: 90%;
        max-width: 100;
        height: 90%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-title {
        height: 1;
        text-style: bold;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Close", show=False),
        Binding("question_mark", "app.pop_screen", "Close", show=False),
        Binding("q", "app.pop_screen", "Close", show=False),
    ]

    def __init__(self, current: Screen[Any] | None = None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        """A title and the scrollable list of keys."""
        with Vertical(id="help-dialog"):
            yield Static("Keys  (Esc, ? or q to close; ctrl+p: every command)", id="help-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(help_text(self.app, self.current), id="help-keys")

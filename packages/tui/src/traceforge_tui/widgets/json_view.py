"""A JSON value, indented and syntax highlighted in the colours of the app's theme."""

from __future__ import annotations

from rich.syntax import Syntax
from textual.theme import Theme
from textual.widgets import Static

from traceforge_tui import formatting as fmt


class JsonView(Static):
    """``value`` as highlighted JSON (``ansi_dark`` or ``ansi_light`` to suit the theme).

    Attributes:
        text: the JSON text shown.
    """

    DEFAULT_CSS = """
    JsonView {
        width: 1fr;
        height: auto;
    }
    """

    def __init__(self, value: object, *, id: str | None = None) -> None:
        self.text = fmt.pretty_json(value)
        super().__init__(id=id)

    def on_mount(self) -> None:
        """Render, and render again when the theme changes."""
        self._render_json(self.app.current_theme)
        self.app.theme_changed_signal.subscribe(self, self._render_json)

    def _render_json(self, theme: Theme) -> None:
        self.update(
            Syntax(
                self.text,
                "json",
                word_wrap=True,
                theme="ansi_dark" if theme.dark else "ansi_light",
                background_color="default",
            )
        )

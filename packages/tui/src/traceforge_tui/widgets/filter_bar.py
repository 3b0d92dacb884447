"""The trace list's filter bar: an input for ``model:~gemini status:error latency:>500 since:2h
words`` (:mod:`traceforge_shared.views.filters`), with an error line under it.

A filter the grammar rejects (an unknown key, with the closest known one; a bad value) is not
applied: its message shows on the line under the bar, in red, until the text is fixed. It is
never taken as text search; bare words (or ``text:word``) are.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Input, Static

from traceforge_shared.views.filters import FilterError, parse_filter
from traceforge_tui.messages import FilterSubmitted

PLACEHOLDER = "/ to filter: model:gpt-4o provider:anthropic status:error type:stream since:2h words"

#: The id of the error line mounted under the bar.
ERROR_LINE_ID = "filter-error"


class FilterErrorLine(Static):
    """The red line under the filter bar saying why the filter was not applied."""

    DEFAULT_CSS = """
    FilterErrorLine {
        height: auto;
        padding: 0 1;
        color: $error;
    }
    """


class FilterBar(Input):
    """An :class:`Input` whose text is a filter (:mod:`traceforge_shared.views.filters`);
    Enter posts :class:`FilterSubmitted`, or shows why the filter is invalid on the line
    under the bar (:attr:`error`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back to the list", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=PLACEHOLDER, id=id)
        #: Why the text was not applied; ``None`` when it was (or nothing was submitted).
        self.error: str | None = None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Parse the text and post the query, or show the error line."""
        event.stop()
        try:
            query = parse_filter(event.value)
        except FilterError as exc:
            self._show_error(str(exc))
            return
        self._show_error(None)
        self.post_message(FilterSubmitted(query))

    def on_input_changed(self, event: Input.Changed) -> None:
        """While an error shows, check the text as it is typed and clear the line once it
        parses (the filter is applied on Enter)."""
        if self.error is None:
            return
        try:
            parse_filter(event.value)
        except FilterError as exc:
            self._show_error(str(exc))
        else:
            self._show_error(None)

    def _show_error(self, message: str | None) -> None:
        self.error = message
        lines = self.screen.query(f"#{ERROR_LINE_ID}")
        if message is None:
            for line in lines:
                line.display = False
            return
        text = Text(f"✗ {message}  (Enter applies once fixed; ? lists the keys)")
        if lines:
            line = lines.first(Static)
            line.update(text)
            line.display = True
        elif isinstance(self.parent, Widget):
            self.parent.mount(FilterErrorLine(text, id=ERROR_LINE_ID), after=self)

    def action_leave(self) -> None:
        """Give the focus back to the screen's next widget (the filter is kept)."""
        self.screen.focus_next()

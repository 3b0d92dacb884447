"""The trace list's filter bar: an input for ``model:gpt-4o provider:anthropic since:2h words``."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input

from traceforge_shared.views.filters import FilterError, parse_filter
from traceforge_tui.messages import FilterSubmitted

PLACEHOLDER = "/ to filter: model:gpt-4o provider:anthropic status:error type:stream since:2h words"


class FilterBar(Input):
    """An :class:`Input` whose text is a filter (:mod:`traceforge_shared.views.filters`);
    Enter posts :class:`FilterSubmitted` (an invalid filter is reported and not submitted)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back to the list", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=PLACEHOLDER, id=id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Parse the text and post the query."""
        event.stop()
        try:
            query = parse_filter(event.value)
        except FilterError as exc:
            self.notify(str(exc), title="Filter", severity="error")
            return
        self.post_message(FilterSubmitted(query))

    def action_leave(self) -> None:
        """Give the focus back to the screen's next widget (the filter is kept)."""
        self.screen.focus_next()

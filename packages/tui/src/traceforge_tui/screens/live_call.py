"""One call in flight: what it is, and the tail of its streamed text as chunks arrive.

The list screen keeps the :class:`~traceforge_tui.live.LiveCall` up to date from the proxy's
events; this screen redraws when it changed. Once the trace is saved, ``Enter`` opens it.
Keys: ``Enter`` open the saved trace, ``Esc`` / ``q`` back.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from traceforge_shared.store import TraceStore
from traceforge_shared.views.times import local_time
from traceforge_tui.live import LiveCall
from traceforge_tui.widgets.key_footer import KeyFooter

#: Seconds between two checks of the call for changes.
REFRESH_S = 0.1


def live_summary(call: LiveCall) -> Text:
    """One line about the call: status, model, provider, endpoint, start, chunks, tokens."""
    text = Text(call.status, style="bold cyan" if not call.finished else "bold")
    text.append(f" · {call.model or '-'} · {call.provider} · {call.endpoint}")
    if call.timestamp:
        text.append(f" · started {local_time(call.timestamp)}")
    text.append(f" · {call.chunks} chunks · ~{call.tokens} tokens (estimated)")
    return text


class LiveCallScreen(Screen[str | None]):
    """The call ``call`` while it streams (a view of the object the list updates); dismissed
    with the trace id when the saved trace is to be opened (``None``: back to the list).

    Args:
        call: the call in flight.
        store: the store its trace is saved to (``Enter`` opens it once saved).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),
        Binding("enter", "open_trace", "Open trace"),
    ]

    DEFAULT_CSS = """
    LiveCallScreen #live-summary {
        height: auto;
        padding: 0 1;
    }
    LiveCallScreen #live-tail-box {
        border: round $accent;
        border-title-color: $text;
        height: 1fr;
    }
    """

    def __init__(self, call: LiveCall, store: TraceStore) -> None:
        super().__init__()
        self.call = call
        self.store = store
        self._shown = -1

    def compose(self) -> ComposeResult:
        """Summary line, the tail of the text."""
        yield Header()
        yield Static(id="live-summary")
        with VerticalScroll(id="live-tail-box"):
            yield Static(id="live-tail")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Show the call and keep it up to date."""
        self.sub_title = f"call in flight {self.call.id}"
        self.query_one("#live-tail-box").border_title = "streamed text (redacted by the proxy)"
        self._redraw()
        self.set_interval(REFRESH_S, self._redraw)

    def _redraw(self) -> None:
        call = self.call
        if call.version == self._shown:
            return
        self._shown = call.version
        self.query_one("#live-summary", Static).update(live_summary(call))
        tail = Text(call.tail) if call.tail else Text("(no text yet)", style="dim")
        self.query_one("#live-tail", Static).update(tail)
        self.query_one("#live-tail-box", VerticalScroll).scroll_end(animate=False)
        if call.saved:
            self.sub_title = f"trace {call.id} saved: Enter opens it"
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Opening needs the saved trace (greyed out until then)."""
        if action == "open_trace" and not self.call.saved:
            return None
        return True

    def action_back(self) -> None:
        """Back to the list."""
        self.dismiss(None)

    def action_open_trace(self) -> None:
        """Close, asking for the saved trace's detail."""
        if self.call.saved:
            self.dismiss(self.call.id)

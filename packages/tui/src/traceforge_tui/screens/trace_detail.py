"""One trace: its metadata, then tabs for the conversation, the request and response JSON,
the model's reasoning (when the answer has some), the provider's native format and the stream
chunks.

Keys: ``r`` replay the stream, ``m`` answers as rendered Markdown or raw text, ``n`` save as
a test under ``<home>/tests``, ``e`` edit the request and send it again (the playground),
``M`` the same request on another model, ``y`` copy the id, ``x`` delete (asks first),
``Esc`` / ``q`` back. The screen is dismissed with the trace id
when the trace was deleted (``None`` otherwise), so the list can drop its row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, Static, TabbedContent, TabPane, Tabs

from traceforge_shared.store import StoreError, TraceNotFoundError, TraceStore
from traceforge_shared.trace import Trace
from traceforge_shared.views.reasoning import reasoning_text
from traceforge_shared.views.stream import stream_stats
from traceforge_shared.views.units import ms_text
from traceforge_tui.messages import (
    ActionFailed,
    TestSaved,
    TraceDeleted,
    TraceLoaded,
    TraceLoadFailed,
)
from traceforge_tui.saving import save_test
from traceforge_tui.screens.confirm import ConfirmScreen
from traceforge_tui.screens.stream_replay import StreamReplayScreen
from traceforge_tui.widgets.chunk_table import ChunkTable
from traceforge_tui.widgets.conversation import ConversationView
from traceforge_tui.widgets.headers_view import HeadersView
from traceforge_tui.widgets.json_view import JsonView
from traceforge_tui.widgets.key_footer import KeyFooter
from traceforge_tui.widgets.trace_meta import TraceMeta

#: Errors of reading or changing the store.
STORE_ERRORS = (StoreError, OSError, sqlite3.Error)

#: Actions that need the trace itself (not only its id).
_NEEDS_TRACE = frozenset({"replay", "save_test", "toggle_markdown", "playground", "shadow_run"})


def chunks_summary(trace: Trace) -> Text:
    """One line over the Chunks table: counts, first-chunk latency, the median and longest
    gaps, and how many are slow (:mod:`traceforge_shared.views.stream`)."""
    meta = trace.metadata
    stats = stream_stats(trace.chunks)
    text = Text(f"{len(trace.chunks)} chunks kept of {meta.chunks_received} received")
    text.append(f" · first after {ms_text(meta.first_chunk_latency_ms)}")
    if meta.first_content_latency_ms is not None:
        text.append(f" · content after {ms_text(meta.first_content_latency_ms)}")
    if stats.median_gap_ms is not None:
        text.append(f" · median gap {ms_text(stats.median_gap_ms)}")
        text.append(f" · max gap {ms_text(stats.max_gap_ms)}")
    if stats.slow:
        text.append(f" · {len(stats.slow)} slow gaps", style="bold red")
    return text


#: The tabs after Conversation, in order: pane id → title.
PANE_TITLES = {
    "tab-request": "Request",
    "tab-response": "Response",
    "tab-headers": "Headers",
    "tab-reasoning": "Reasoning",
    "tab-native": "Native",
    "tab-chunks": "Chunks",
}


def pane_contents(trace: Trace) -> dict[str, Callable[[], list[Widget]]]:
    """What each tab after Conversation shows, by pane id, as functions making its widgets
    (called when the tab is first shown: JSON highlighting and the chunk table cost nothing
    until then). Reasoning only when the answer has some, Native only for a converted or
    passed-through call."""
    panes: dict[str, Callable[[], list[Widget]]] = {
        "tab-request": lambda: [VerticalScroll(JsonView(trace.request, id="detail-request"))],
        "tab-response": lambda: [VerticalScroll(JsonView(trace.response, id="detail-response"))],
        "tab-headers": lambda: [HeadersView(trace, id="headers")],
    }
    if (reasoning := reasoning_text(trace)) is not None:
        panes["tab-reasoning"] = lambda: [
            VerticalScroll(Static(Text(reasoning), id="detail-reasoning"))
        ]
    if trace.native is not None:
        panes["tab-native"] = lambda: [VerticalScroll(*native_widgets(trace))]
    panes["tab-chunks"] = lambda: chunk_widgets(trace)
    return panes


def native_widgets(trace: Trace) -> list[Widget]:
    """The Native tab: the provider's own request and response (or a note for a stream)."""
    native = trace.native
    if native is None:
        return []
    widgets: list[Widget] = [
        Static(f"{native.endpoint} request", classes="section-title"),
        JsonView(native.request, id="native-request"),
        Static(f"{native.endpoint} response", classes="section-title"),
    ]
    if native.response is None:
        widgets.append(Static("Streamed: the native events are the chunks."))
    else:
        widgets.append(JsonView(native.response, id="native-response"))
    return widgets


def chunk_widgets(trace: Trace) -> list[Widget]:
    """The Chunks tab: the summary line and the chunk table, or a note for a normal call."""
    if not trace.chunks:
        return [Static("Not a streamed call: no chunks.", id="chunks-empty")]
    return [
        Static(chunks_summary(trace), id="chunks-summary"),
        ChunkTable(trace.chunks, id="chunk-table"),
    ]


class TraceDetailScreen(Screen[str | None]):
    """Details of the trace ``trace_id`` of ``store``, read in a worker when shown.

    A trace that cannot be read (deleted meanwhile, corrupt file) shows the reason instead
    (it can still be deleted).

    Args:
        store: the trace store.
        trace_id: the trace to show.
        replay_speed: the speed the stream replay starts at.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),
        Binding("r", "replay", "Replay"),
        Binding("m", "toggle_markdown", "Raw/Markdown"),
        Binding("n", "save_test", "Save as test"),
        Binding("y", "copy_id", "Copy id"),
        Binding("x", "delete", "Delete"),
        Binding("e", "playground", "Edit & send"),
        Binding("M", "shadow_run", "Other model"),
    ]

    def __init__(self, store: TraceStore, trace_id: str, *, replay_speed: float = 1.0) -> None:
        super().__init__()
        self.store = store
        self.trace_id = trace_id
        self.replay_speed = replay_speed
        self.trace: Trace | None = None
        self.error: str | None = None
        self._unfilled: dict[str, Callable[[], list[Widget]]] = {}

    # -- composing -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Header, the body (:meth:`body_widgets`), footer."""
        yield Header()
        yield from self.body_widgets()
        yield KeyFooter()

    def body_widgets(self) -> list[Widget]:
        """Loading, the error, or the trace: the widgets between the header and the footer,
        each with the class ``detail-body`` (swapped by :meth:`_show_body` when the trace is
        read; the screen is not recomposed: Textual's Header does not survive that mid-mount,
        and a container around them would cost a full-screen paint per frame)."""
        if self.error is not None:
            text = Text(f"Cannot show trace {self.trace_id}: {self.error}", style="red")
            return [Static(text, id="detail-error", classes="detail-body")]
        if self.trace is None:
            loading = f"Loading trace {self.trace_id}…"
            return [Static(loading, id="detail-loading", classes="detail-body")]
        return [
            TraceMeta(self.trace, id="detail-meta", classes="detail-body"),
            self._tabs(self.trace),
        ]

    def _tabs(self, trace: Trace) -> TabbedContent:
        """The tab strip and its panes: the Conversation pane's content now, each other
        pane's when it is first shown (:meth:`on_tabbed_content_tab_activated`)."""
        self._unfilled = pane_contents(trace)
        tabs = TabbedContent(id="detail-tabs", classes="detail-body")
        conversation = ConversationView(trace, id="conversation")
        tabs.compose_add_child(TabPane("Conversation", conversation, id="tab-conversation"))
        for pane_id, title in PANE_TITLES.items():
            if pane_id in self._unfilled:
                tabs.compose_add_child(TabPane(title, id=pane_id))
        return tabs

    async def _show_body(self) -> None:
        """Replace the body's widgets with what :meth:`body_widgets` says now."""
        await self.query(".detail-body").remove()
        await self.mount_all(self.body_widgets(), before=self.query_one(KeyFooter))

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Mount a pane's content the first time its tab is shown."""
        pane_id = event.pane.id
        make = self._unfilled.pop(pane_id, None) if pane_id else None
        if make is not None:
            await event.pane.mount_all(make())

    def on_mount(self) -> None:
        """Read the trace."""
        self.sub_title = f"trace {self.trace_id}"
        self._load()

    @work(thread=True, exclusive=True, group="trace")
    def _load(self) -> None:
        try:
            trace = self.store.get(self.trace_id)
        except STORE_ERRORS as exc:
            self.post_message(TraceLoadFailed(self.trace_id, str(exc)))
        else:
            self.post_message(TraceLoaded(trace))
        finally:
            self.store.index.close()  # this worker thread's connection, if it opened one

    async def on_trace_loaded(self, message: TraceLoaded) -> None:
        """Show the trace; the tab strip has the focus (left and right switch tabs)."""
        self.trace = message.trace
        await self._show_body()
        self.query_one("#detail-tabs", TabbedContent).query_one(Tabs).focus()
        self.refresh_bindings()

    async def on_trace_load_failed(self, message: TraceLoadFailed) -> None:
        """Show why the trace cannot be shown."""
        self.error = message.reason
        await self._show_body()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Replay needs a streamed trace, saving needs the trace (greyed out until then)."""
        if action in _NEEDS_TRACE and self.trace is None:
            return None
        if action == "replay" and self.trace is not None and not self.trace.chunks:
            return None
        return True

    # -- actions ---------------------------------------------------------------------------

    def action_back(self) -> None:
        """Back to the list."""
        self.dismiss(None)

    def action_replay(self) -> None:
        """Replay the stream."""
        if self.trace is not None and self.trace.chunks:
            self.app.push_screen(StreamReplayScreen(self.trace, speed=self.replay_speed))

    def action_toggle_markdown(self) -> None:
        """Show answers as rendered Markdown or as the raw text the model sent."""
        for view in self.query(ConversationView):
            view.raw = not view.raw
            self.notify("Raw text" if view.raw else "Rendered Markdown", title="Answers")

    def action_save_test(self) -> None:
        """Write a regression test made from the trace to ``<home>/tests/<slug>.yaml``."""
        if self.trace is not None:
            self._save_test(self.trace)

    @work(thread=True, group="save")
    def _save_test(self, trace: Trace) -> None:
        try:
            path = save_test(trace, self.store.home / "tests")
        except (ValueError, OSError) as exc:
            self.post_message(ActionFailed(f"Cannot save as a test: {exc}"))
        else:
            self.post_message(TestSaved(path))

    def on_test_saved(self, message: TestSaved) -> None:
        """Say where the test went."""
        self.notify(f"Saved test {message.path}", title="Save as test")

    def on_action_failed(self, message: ActionFailed) -> None:
        """Say what went wrong."""
        self.notify(message.reason, severity="error")

    def action_playground(self, model: str | None = None, send_now: bool = False) -> None:
        """Open the request in the playground (:mod:`traceforge_tui.screens.playground`)."""
        from traceforge_tui.playground import PlaygroundError
        from traceforge_tui.screens.playground import PlaygroundScreen

        if self.trace is None:
            return
        try:
            screen = PlaygroundScreen(self.store, self.trace, model=model, send_now=send_now)
        except PlaygroundError as exc:
            self.notify(str(exc), title="Playground", severity="error")
            return
        self.app.push_screen(screen)

    def action_shadow_run(self) -> None:
        """Ask for another model and send the same request to it in the playground."""
        from traceforge_tui.screens.model_prompt import ModelPrompt

        if self.trace is not None:
            self.app.push_screen(ModelPrompt(self.trace.model or ""), callback=self._shadow)

    def _shadow(self, model: str | None) -> None:
        if model is not None:
            self.action_playground(model, send_now=True)

    def action_copy_id(self) -> None:
        """Copy the trace id to the clipboard."""
        self.app.copy_to_clipboard(self.trace_id)
        self.notify(f"Copied {self.trace_id}", title="Trace id")

    def action_delete(self) -> None:
        """Delete the trace, after a confirmation."""
        self.app.push_screen(
            ConfirmScreen(
                f"Delete trace {self.trace_id}?\n\nIts file is removed from {self.store.home}.",
                confirm="Delete",
            ),
            callback=self._confirmed,
        )

    def _confirmed(self, answer: bool | None) -> None:
        if answer:
            self._delete()

    @work(thread=True, group="delete")
    def _delete(self) -> None:
        try:
            self.store.delete(self.trace_id)
        except TraceNotFoundError:
            pass  # gone already: that is what was asked
        except STORE_ERRORS as exc:
            self.post_message(ActionFailed(f"Cannot delete {self.trace_id}: {exc}"))
            return
        finally:
            self.store.index.close()
        self.post_message(TraceDeleted(self.trace_id))

    def on_trace_deleted(self, message: TraceDeleted) -> None:
        """Back to the list, which drops the row."""
        self.app.notify(f"Deleted {message.trace_id}", title="Trace")
        self.dismiss(message.trace_id)

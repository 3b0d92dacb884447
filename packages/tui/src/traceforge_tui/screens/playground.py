"""The playground: a recorded request in an editor, sent again through the running proxy,
its new answer streamed beside the original and compared with it.

Opened from a trace's detail (``e``; ``M`` asks for another model and sends at once). The
editor holds the request as JSON (messages, model, parameters, tools), validated on send
(the error line under the title says what is wrong and where). The call goes to the proxy
over HTTP (:mod:`traceforge_tui.playground`), so it is recorded as a trace like any other;
once saved, the two answers are shown as a word diff with their similarity
(:func:`traceforge_shared.diff.diff_traces`, the diff screen's rendering).

Keys: ``ctrl+s`` send, ``m`` same request on another model (shadow run), ``d`` the full diff
screen, ``n`` save the new call as a test (the shared test-file API and its collision rule),
``Esc`` leaves the editor (then the single-letter keys work; the editor's ``tab`` indents),
``Esc`` again back.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static, TextArea

from traceforge_shared.diff import TraceDiff, diff_traces
from traceforge_shared.store import StoreError, TraceStore
from traceforge_shared.trace import Trace, response_text
from traceforge_tui.playground import (
    PlaygroundError,
    SendResult,
    endpoint_for,
    parse_request,
    proxy_base_url,
    request_text,
    send,
    with_model,
)
from traceforge_tui.saving import save_test
from traceforge_tui.screens.diff import DiffScreen, similarity_text, word_diff
from traceforge_tui.screens.model_prompt import ModelPrompt
from traceforge_tui.widgets.key_footer import KeyFooter

#: Seconds to wait for the proxy's writer to save the new call's trace.
SAVE_WAIT_S = 10.0


class PlaygroundScreen(Screen[None]):
    """Edit ``trace``'s request and send it again through the proxy.

    Args:
        store: the trace store (the new call's trace is read from it once saved).
        trace: the recorded call (a chat completion or Responses API call).
        model: start with this model in place of the recorded one.
        send_now: send as soon as the screen is shown (a shadow run).

    Attributes:
        result: the last call's answer, once it ended.
        new_trace: the last call's trace, once the proxy saved it.
        diff: the original against :attr:`new_trace`.

    Raises:
        PlaygroundError: ``trace`` is not a call the playground can send.
    """

    DEFAULT_CSS = """
    PlaygroundScreen #playground-status { height: auto; padding: 0 1; }
    PlaygroundScreen #playground-body { height: 1fr; }
    PlaygroundScreen #playground-editor { width: 1fr; height: 1fr; }
    PlaygroundScreen #playground-answers { width: 1fr; height: 1fr; }
    PlaygroundScreen .playground-pane {
        height: 1fr; border: round $secondary; padding: 0 1;
    }
    PlaygroundScreen #playground-similarity { height: auto; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("m", "other_model", "Other model"),
        Binding("d", "diff", "Diff"),
        Binding("n", "save_test", "Save as test"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(
        self, store: TraceStore, trace: Trace, *, model: str | None = None, send_now: bool = False
    ) -> None:
        super().__init__()
        self.store = store
        self.trace = trace
        self.endpoint = endpoint_for(trace)
        body = dict(trace.request)
        if model:
            body["model"] = model
        self.initial_text = request_text(body)
        self.send_now = send_now
        self.result: SendResult | None = None
        self.new_trace: Trace | None = None
        self.diff: TraceDiff | None = None
        self._streamed: list[str] = []

    def compose(self) -> ComposeResult:
        """The status line, the editor and the two answers."""
        yield Header()
        yield Static(
            Text("Edit the request, ctrl+s sends it through the proxy.", style="dim"),
            id="playground-status",
        )
        with Horizontal(id="playground-body"):
            language = "json" if importlib.util.find_spec("tree_sitter_json") else None
            editor = TextArea.code_editor(self.initial_text, language=language)
            editor.id = "playground-editor"
            yield editor
            with Vertical(id="playground-answers"):
                with VerticalScroll(id="playground-original-pane", classes="playground-pane"):
                    yield Static(self._original_text(), id="playground-original")
                with VerticalScroll(id="playground-new-pane", classes="playground-pane"):
                    yield Static(Text("(not sent yet)", style="dim"), id="playground-answer")
                yield Static(id="playground-similarity")
        yield KeyFooter()

    def _original_text(self) -> Text:
        text = response_text(self.trace)
        return Text(text) if text else Text("(no text)", style="dim")

    def on_mount(self) -> None:
        """Title the panes; send at once for a shadow run."""
        self.sub_title = f"playground: trace {self.trace.id[:8]}"
        original = self.query_one("#playground-original-pane")
        original.border_title = f"Original {self.trace.id[:8]} ({self.trace.model or '-'})"
        self.query_one("#playground-new-pane").border_title = "New"
        self.query_one("#playground-editor", TextArea).focus()
        if self.send_now:
            self.action_send()

    @property
    def editor(self) -> TextArea:
        """The request editor."""
        return self.query_one("#playground-editor", TextArea)

    def _status(self, message: str, style: str = "") -> None:
        self.query_one("#playground-status", Static).update(Text(message, style=style))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Diff and save need the new call's trace (greyed out until then)."""
        if action in ("diff", "save_test") and self.new_trace is None:
            return None
        return True

    # -- sending ---------------------------------------------------------------------------

    def action_send(self) -> None:
        """Validate the editor's request and send it (an invalid one only says why)."""
        try:
            body = parse_request(self.editor.text, self.endpoint)
            base_url = proxy_base_url(self.store.home)
        except PlaygroundError as exc:
            self._status(f"Not sent: {exc}", "bold red")
            return
        self.result, self.new_trace, self.diff = None, None, None
        self._streamed = []
        self.refresh_bindings()
        self.query_one("#playground-answer", Static).update(Text("…", style="dim"))
        self.query_one("#playground-similarity", Static).update("")
        self.query_one("#playground-new-pane").border_title = f"New ({body['model']})"
        self._status(f"Sending to {base_url}{self.endpoint} ({body['model']})…", "yellow")
        self._send(base_url, body)

    @work(exclusive=True, group="playground-send")
    async def _send(self, base_url: str, body: dict[str, object]) -> None:
        answer = self.query_one("#playground-answer", Static)

        def streamed(piece: str) -> None:
            self._streamed.append(piece)
            answer.update(Text("".join(self._streamed)))

        try:
            result = await send(base_url, self.endpoint, dict(body), streamed)
        except PlaygroundError as exc:
            self._status(str(exc), "bold red")
            answer.update(Text("(not sent)", style="dim"))
            return
        self.result = result
        recorded = f"trace {result.trace_id}" if result.trace_id else "no trace id in the answer"
        if result.error is not None:
            self._status(f"{result.error} ({recorded})", "bold red")
            answer.update(Text(result.error, style="red"))
        else:
            self._status(f"Answered, recorded as {recorded}; waiting for it to be saved…", "")
            answer.update(Text(result.text) if result.text else Text("(no text)", style="dim"))
        if result.trace_id is not None:
            await self._compare(result.trace_id)

    def _saved_trace(self, trace_id: str) -> Trace | None:
        """The new call's trace, waiting up to :data:`SAVE_WAIT_S` for the proxy's writer."""
        deadline = time.monotonic() + SAVE_WAIT_S
        try:
            while True:
                try:
                    return self.store.get(trace_id)
                except (StoreError, OSError):
                    if time.monotonic() > deadline:
                        return None
                    time.sleep(0.05)
        finally:
            self.store.index.close()  # this worker thread's connection

    async def _compare(self, trace_id: str) -> None:
        new = await asyncio.to_thread(self._saved_trace, trace_id)
        if new is None:
            self._status(f"Trace {trace_id} was not saved within {SAVE_WAIT_S:.0f} s", "red")
            return
        self.new_trace = new
        self.diff = diff = diff_traces(self.trace, new)
        old_text, new_text = word_diff(diff.answer_a, diff.answer_b)
        self.query_one("#playground-original", Static).update(old_text or self._original_text())
        if diff.answer_b:
            self.query_one("#playground-answer", Static).update(new_text)
        self.query_one("#playground-similarity", Static).update(similarity_text(diff.similarity))
        self.query_one("#playground-new-pane").border_title = f"New {new.id[:8]} ({new.model})"
        self._status(f"Recorded as trace {new.id}: d full diff, n save as test", "green")
        self.refresh_bindings()

    # -- other actions ---------------------------------------------------------------------

    def action_other_model(self) -> None:
        """Ask for a model, put it in the request and send (a shadow run)."""
        try:
            current = str(parse_request(self.editor.text, self.endpoint)["model"])
        except PlaygroundError as exc:
            self._status(f"Not sent: {exc}", "bold red")
            return
        self.app.push_screen(ModelPrompt(current), callback=self._model_chosen)

    def _model_chosen(self, model: str | None) -> None:
        if model is None:
            return
        try:
            self.editor.text = with_model(self.editor.text, model, self.endpoint)
        except PlaygroundError as exc:
            self._status(f"Not sent: {exc}", "bold red")
            return
        self.action_send()

    def action_diff(self) -> None:
        """Open the full diff screen: the original (A) against the new call (B)."""
        if self.new_trace is not None:
            self.app.push_screen(DiffScreen(self.store, self.trace.id, self.new_trace.id))

    def action_save_test(self) -> None:
        """Save the new call as a regression test under ``<home>/tests``."""
        if self.new_trace is not None:
            self._save(self.new_trace)

    @work(thread=True, group="playground-save")
    def _save(self, trace: Trace) -> None:
        try:
            path = save_test(trace, self.store.home / "tests")
        except (ValueError, OSError) as exc:
            self.app.call_from_thread(
                self.notify, f"Cannot save as a test: {exc}", severity="error"
            )
        else:
            self.app.call_from_thread(self.notify, f"Saved test {path}", title="Save as test")

    def action_back(self) -> None:
        """Out of the editor (to the new answer), or back to the trace when not in it."""
        if self.focused is self.editor:
            self.query_one("#playground-new-pane").focus()
            return
        self.dismiss(None)

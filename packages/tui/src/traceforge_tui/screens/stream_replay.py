"""Replay a recorded stream: the answer grows chunk by chunk with the recorded timings.

A Textual timer ticks :data:`TICK_S`; each tick moves a replay clock on by the real time
elapsed times the speed and shows every chunk due by then (chunk ``k`` is due at the sum of
the ``delta_ms`` of chunks ``0..k``). Keys: ``1`` / ``2`` / ``0`` speed 1x / 2x / 10x, ``p``
pause or resume, ``.`` next chunk (pauses), ``r`` restart, ``Esc`` / ``q`` back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header, ProgressBar, Static

from traceforge_shared.trace import Trace, chunk_text
from traceforge_shared.views.stream import due_times
from traceforge_shared.views.units import ms_number
from traceforge_tui.widgets.chunk_table import ChunkTable
from traceforge_tui.widgets.key_footer import KeyFooter

#: Seconds between two ticks of the replay timer.
TICK_S = 1 / 20
#: While playing, the timeline's cursor follows at most this often (seconds): redrawing the
#: table is what costs most.
TIMELINE_EVERY_S = 0.2


class StreamReplayScreen(Screen[None]):
    """Replay the chunks of ``trace``.

    Args:
        trace: a streamed trace (a trace without chunks is done at once).
        speed: how many times faster than recorded to play (``1`` / ``2`` / ``0`` keys set
            1, 2 and 10); tests use a large one.
        clock: the real-time clock, in seconds (tests may pass a fake one).
        autoplay: start playing when shown (else start paused).

    Attributes:
        shown: how many chunks are shown.
        position_ms: the replay clock, in recorded ms since the request.
        done: whether every chunk is shown.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"speed({x})", f"{x}x") for key, x in (("1", 1), ("2", 2), ("0", 10))),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("full_stop", "step", "Next chunk"),
        Binding("r", "restart", "Restart"),
        Binding("escape", "app.pop_screen", "Back"),
        Binding("q", "app.pop_screen", "Back", show=False),
    ]

    def __init__(
        self,
        trace: Trace,
        *,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        autoplay: bool = True,
    ) -> None:
        super().__init__()
        self.trace = trace
        self.chunks = list(trace.chunks)
        self.due = due_times(self.chunks)
        self.total_ms = self.due[-1] if self.due else 0.0
        self.speed = speed
        self.clock = clock
        self.playing = autoplay
        self.shown = 0
        self.position_ms = 0.0
        self.done = False
        self._pieces: list[str] = []
        self._last = clock()
        self._timer: Timer | None = None
        self._status: dict[str, str] = {}
        self._timeline_at = float("-inf")

    @property
    def text(self) -> str:
        """The answer text shown so far."""
        return "".join(self._pieces)

    def compose(self) -> ComposeResult:
        """Status line, progress bar, the growing text, the chunk timeline."""
        yield Header()
        with Horizontal(id="replay-status"):
            yield Static(id="replay-counter")
            yield Static(id="replay-elapsed")
            yield Static(id="replay-speed")
            yield Static(id="replay-state")
        yield ProgressBar(total=len(self.chunks), show_eta=False, id="replay-progress")
        with VerticalScroll(id="replay-text"):
            yield Static(id="replay-output")
        yield Static("Timeline", classes="section-title")
        yield ChunkTable(self.chunks, detailed=False, id="replay-timeline")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Start the clock."""
        self.sub_title = f"replay of {self.trace.id}"
        self.query_one("#replay-timeline", ChunkTable).show_cursor = False
        self._last = self.clock()
        self._timer = self.set_interval(TICK_S, self._tick, pause=not self.playing)
        self._advance()
        self._show_status()

    # -- the clock -------------------------------------------------------------------------

    def _tick(self) -> None:
        now = self.clock()
        if self.playing:
            self.position_ms += (now - self._last) * 1000.0 * self.speed
            self._advance()
        self._last = now
        self._show_status()

    def _advance(self, limit: int | None = None) -> None:
        """Show the chunks due by :attr:`position_ms` (at most ``limit``)."""
        start = self.shown
        while self.shown < len(self.chunks) and self.due[self.shown] <= self.position_ms:
            if limit is not None and self.shown - start >= limit:
                break
            self._pieces.append(chunk_text(self.chunks[self.shown]))
            self.shown += 1
        if self.shown >= len(self.chunks) and not self.done:
            self._finish()
        if self.shown != start:
            self._show_chunks()

    def _finish(self) -> None:
        self.done = True
        self.playing = False
        self.position_ms = self.total_ms
        if self._timer is not None:
            self._timer.pause()

    # -- showing ---------------------------------------------------------------------------

    def _show_chunks(self) -> None:
        self.query_one("#replay-output", Static).update(Text(self.text))
        self.query_one("#replay-text", VerticalScroll).scroll_end(animate=False)
        self.query_one("#replay-progress", ProgressBar).update(progress=self.shown)
        now = self.clock()
        if self.playing and not self.done and now - self._timeline_at < TIMELINE_EVERY_S:
            return
        self._timeline_at = now
        timeline = self.query_one("#replay-timeline", ChunkTable)
        timeline.show_cursor = self.shown > 0
        if self.shown:
            timeline.move_cursor(row=self.shown - 1, animate=False)

    def _show_status(self) -> None:
        elapsed = min(self.position_ms, self.total_ms)
        state = "done" if self.done else "playing" if self.playing else "paused"
        status = {
            "#replay-counter": f"chunk {self.shown} / {len(self.chunks)}",
            "#replay-elapsed": (f"{ms_number(elapsed)} / {ms_number(self.total_ms)} ms"),
            "#replay-speed": f"{self.speed:g}x",
            "#replay-state": state,
        }
        for selector, value in status.items():
            if self._status.get(selector) != value:  # a tick changes little: redraw that
                self._status[selector] = value
                style = "bold green" if value == "done" else "bold"
                content = Text(value, style=style) if selector == "#replay-state" else value
                # Fixed widths (see the stylesheet): no layout pass needed.
                self.query_one(selector, Static).update(content, layout=False)

    # -- actions ---------------------------------------------------------------------------

    def action_speed(self, speed: float) -> None:
        """Play ``speed`` times faster than recorded."""
        self.speed = float(speed)
        self._show_status()

    def action_toggle_pause(self) -> None:
        """Pause, or resume (when done: play again from the start)."""
        if self.done:
            self.action_restart()
            return
        self.playing = not self.playing
        self._last = self.clock()
        if self._timer is not None:
            if self.playing:
                self._timer.resume()
            else:
                self._timer.pause()
        self._show_status()

    def action_step(self) -> None:
        """Pause and show the next chunk."""
        if self.playing:
            self.action_toggle_pause()
        if self.shown < len(self.chunks):
            self.position_ms = self.due[self.shown]
            self._advance(limit=1)
        self._show_status()

    def action_restart(self) -> None:
        """Play again from the start."""
        self.shown = 0
        self.position_ms = 0.0
        self.done = False
        self._pieces.clear()
        self._show_chunks()
        self.playing = True
        self._last = self.clock()
        if self._timer is not None:
            self._timer.resume()
        self._advance()
        self._show_status()

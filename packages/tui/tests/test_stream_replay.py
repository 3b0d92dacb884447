"""Stream replay: to the end at a high speed, and step by step on a fake clock."""

from __future__ import annotations

import msgspec
from textual.widgets import ProgressBar

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace, chunk_text, response_text
from traceforge_tui import make_app
from traceforge_tui.screens.stream_replay import StreamReplayScreen
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.widgets.chunk_table import ChunkTable

from .helpers import settle, static_text, wait_until
from .sample import BASE_EPOCH, SIZE, STREAM


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_replay_300_chunks_to_the_end(store: TraceStore) -> None:
    text = " ".join(f"t{i}" for i in range(300))
    trace = msgspec.structs.replace(
        make_trace(streaming=True, text=text, epoch_s=BASE_EPOCH), id="ab" * 12
    )
    assert len(trace.chunks) == 300
    store.save(trace)
    app = make_app(store, replay_speed=1_000_000)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceDetailScreen)
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, StreamReplayScreen)
        await wait_until(pilot, lambda: screen.done, what="the end of the replay")
        await pilot.pause()
        assert screen.text == response_text(trace) == text
        assert static_text(app, "#replay-output") == text
        assert static_text(app, "#replay-counter") == "chunk 300 / 300"
        assert static_text(app, "#replay-state") == "done"
        assert static_text(app, "#replay-elapsed") == "3,000 / 3,000 ms"
        assert screen.query_one("#replay-progress", ProgressBar).progress == 300
        timeline = screen.query_one("#replay-timeline", ChunkTable)
        assert timeline.row_count == 300
        assert timeline.cursor_row == 299
        await pilot.press("escape")
        assert isinstance(app.screen, TraceDetailScreen)


async def test_replay_keys_on_a_fake_clock(store: TraceStore, traces: dict[str, Trace]) -> None:
    trace = traces[STREAM]
    pieces = [chunk_text(chunk) for chunk in trace.chunks]
    clock = FakeClock()
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = StreamReplayScreen(trace, clock=clock)
        await app.push_screen(screen)
        await pilot.pause(0.1)
        assert screen.shown == 0
        assert static_text(app, "#replay-counter") == "chunk 0 / 40"
        assert static_text(app, "#replay-state") == "playing"
        assert static_text(app, "#replay-speed") == "1x"

        clock.now += 0.2  # chunks are due at 180, 194, 212 ms...
        await wait_until(pilot, lambda: screen.shown == 2)
        await pilot.pause(0.1)
        assert screen.text == "".join(pieces[:2])
        assert static_text(app, "#replay-elapsed") == "200 / 1,356 ms"

        await pilot.press("p")
        assert static_text(app, "#replay-state") == "paused"
        clock.now += 10
        await pilot.pause(0.1)
        assert screen.shown == 2

        await pilot.press("full_stop", "full_stop")
        assert screen.shown == 4
        assert screen.text == "".join(pieces[:4])
        assert static_text(app, "#replay-counter") == "chunk 4 / 40"
        assert static_text(app, "#replay-elapsed") == "222 / 1,356 ms"
        assert screen.query_one("#replay-progress", ProgressBar).progress == 4
        assert screen.query_one("#replay-timeline", ChunkTable).cursor_row == 3

        await pilot.press("2")
        assert static_text(app, "#replay-speed") == "2x"
        await pilot.press("0", "p")
        assert static_text(app, "#replay-speed") == "10x"
        assert static_text(app, "#replay-state") == "playing"
        clock.now += 0.05  # 500 recorded ms at 10x
        await wait_until(pilot, lambda: round(screen.position_ms) == 722)
        assert screen.shown == sum(1 for due in screen.due if due <= screen.position_ms)
        clock.now += 1
        await wait_until(pilot, lambda: screen.done)
        assert screen.text == "".join(pieces)
        assert static_text(app, "#replay-state") == "done"

        await pilot.press("r")  # restart
        assert screen.shown == 0
        assert not screen.done
        assert static_text(app, "#replay-output") == ""
        await pilot.press("1")
        assert static_text(app, "#replay-speed") == "1x"
        await pilot.press("q")
        assert not isinstance(app.screen, StreamReplayScreen)


async def test_replay_of_a_stream_without_chunks_is_done_at_once(store: TraceStore) -> None:
    trace = make_trace(epoch_s=BASE_EPOCH)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = StreamReplayScreen(trace, autoplay=False)
        await app.push_screen(screen)
        await pilot.pause()
        assert screen.done
        assert static_text(app, "#replay-counter") == "chunk 0 / 0"
        await pilot.press("p", "full_stop")  # play again / step: still done, no error
        await pilot.pause()
        assert screen.done

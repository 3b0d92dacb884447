"""Snapshots (pytest-textual-snapshot) of the list, the detail tabs and the stream replay over
the fixed sample store. Regenerate with ``pytest packages/tui --snapshot-update`` and look at
the SVGs under ``__snapshots__/`` before committing them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace
from traceforge_tui import TraceForgeApp, make_app
from traceforge_tui.app import LIGHT_THEME
from traceforge_tui.screens.stream_replay import StreamReplayScreen
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.widgets.filter_bar import FilterBar

from .helpers import settle, wait_until
from .sample import ANTHROPIC, SIZE, STREAM, TOOLS

Snap = Callable[..., bool]


def opened(trace_id: str, tab: str | None = None) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A ``run_before`` that opens ``trace_id`` over the list and shows ``tab`` (the pilot
    tests open traces with the keys)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, TraceForgeApp)
        await settle(pilot)
        await app.push_screen(TraceDetailScreen(app.store, trace_id))
        await settle(pilot)
        if tab is not None:
            app.screen.query_one("#detail-tabs", TabbedContent).active = tab
            await pilot.pause()

    return run_before


def test_list(snap_compare: Snap, store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_list_marked_and_sorted(
    snap_compare: Snap, store: TraceStore, traces: dict[str, Trace]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("s", "s", "s", "s", "s", "space", "down", "down", "space", "down")

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_list_filtered_light(
    snap_compare: Snap, store: TraceStore, traces: dict[str, Trace]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#filter", FilterBar).value = "type:stream"
        await pilot.press("slash", "enter")
        await settle(pilot)

    app = make_app(store, poll_interval=3600, theme=LIGHT_THEME)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize(
    ("trace_id", "tab"),
    [
        (STREAM, None),
        (STREAM, "tab-request"),
        (STREAM, "tab-response"),
        (STREAM, "tab-chunks"),
        (ANTHROPIC, "tab-native"),
        (TOOLS, None),
    ],
    ids=["conversation", "request", "response", "chunks", "native", "tool-calls"],
)
def test_detail(
    snap_compare: Snap,
    store: TraceStore,
    traces: dict[str, Trace],
    trace_id: str,
    tab: str | None,
) -> None:
    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=SIZE, run_before=opened(trace_id, tab))


def test_replay_midway(snap_compare: Snap, store: TraceStore, traces: dict[str, Trace]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        screen = StreamReplayScreen(traces[STREAM], clock=lambda: 0.0, autoplay=False)
        await pilot.app.push_screen(screen)
        for _ in range(14):
            screen.action_step()  # the "." key
        await pilot.pause()

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_replay_done(snap_compare: Snap, store: TraceStore, traces: dict[str, Trace]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        screen = StreamReplayScreen(traces[STREAM], speed=1_000_000)
        await pilot.app.push_screen(screen)
        await wait_until(pilot, lambda: screen.done)
        screen.action_speed(1)  # show 1x, not the test's speed

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

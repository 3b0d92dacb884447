"""Snapshots (pytest-textual-snapshot) of every screen at the two sizes testers use in tmux:
80x24 and 160x45, opened through the app's own keys over the fixed sample store. The
dashboard's are in test_dashboard_screen.py. Regenerate with ``pytest packages/tui
--snapshot-update`` and look at the SVGs under ``__snapshots__/`` before committing them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace
from traceforge_tui import TraceForgeApp, make_app
from traceforge_tui.live import LiveCall
from traceforge_tui.saving import save_test
from traceforge_tui.screens.live_call import LiveCallScreen
from traceforge_tui.screens.stream_replay import StreamReplayScreen
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.screens.trace_list import TraceListScreen

from .helpers import settle, wait_until
from .sample import ANTHROPIC, STREAM, TOOLS

Snap = Callable[..., bool]
SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])

#: Request and response headers as the proxy stores them (credentials already redacted).
HEADERS = {
    "request_headers": {
        "content-type": "application/json",
        "authorization": "[REDACTED]",
        "user-agent": "OpenAI/Python 1.54.3",
    },
    "response_headers": {
        "content-type": "text/event-stream; charset=utf-8",
        "openai-processing-ms": "212",
        "x-request-id": "req_7d2f0c1e9a",
    },
}


@pytest.fixture
def headed(store: TraceStore, traces: dict[str, Trace]) -> dict[str, Trace]:
    """The sample, the streamed trace with headers and a Markdown answer."""
    trace = traces[STREAM]
    response = dict(trace.response)
    response["choices"] = [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "**Holiday Name:** Christmas\n\n- *Date:* December 25\n- Bank holiday",
            },
            "finish_reason": "stop",
        }
    ]
    meta = msgspec.structs.replace(trace.metadata, **HEADERS)
    trace = msgspec.structs.replace(trace, response=response, metadata=meta)
    store.save(trace)
    return {**traces, STREAM: trace}


def keys(*pressed: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A ``run_before`` pressing ``pressed`` once the list is loaded."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press(*pressed)
        await settle(pilot)

    return run_before


def opened(trace_id: str, tab: str | None = None) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A ``run_before`` opening ``trace_id`` and showing ``tab``."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, TraceForgeApp)
        await settle(pilot)
        await app.push_screen(TraceDetailScreen(app.store, trace_id))
        await settle(pilot)
        if tab is not None:
            app.screen.query_one("#detail-tabs", TabbedContent).active = tab
            await settle(pilot)

    return run_before


@SIZES
def test_list(
    snap_compare: Snap, store: TraceStore, headed: dict[str, Trace], size: tuple[int, int]
) -> None:
    assert snap_compare(make_app(store, poll_interval=3600), terminal_size=size, run_before=settle)


@SIZES
@pytest.mark.parametrize(
    ("trace_id", "tab"),
    [
        (STREAM, None),
        (STREAM, "tab-request"),
        (STREAM, "tab-response"),
        (STREAM, "tab-headers"),
        (STREAM, "tab-chunks"),
        (ANTHROPIC, "tab-native"),
        (TOOLS, None),
    ],
    ids=["conversation", "request", "response", "headers", "chunks", "native", "tool-calls"],
)
def test_detail(
    snap_compare: Snap,
    store: TraceStore,
    headed: dict[str, Trace],
    trace_id: str,
    tab: str | None,
    size: tuple[int, int],
) -> None:
    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=opened(trace_id, tab))


@SIZES
def test_detail_raw_answer(
    snap_compare: Snap, store: TraceStore, headed: dict[str, Trace], size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await opened(STREAM)(pilot)
        await pilot.press("m")
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@SIZES
def test_replay(
    snap_compare: Snap, store: TraceStore, headed: dict[str, Trace], size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        screen = StreamReplayScreen(headed[STREAM], clock=lambda: 0.0, autoplay=False)
        await pilot.app.push_screen(screen)
        for _ in range(14):
            screen.action_step()  # the "." key
        await pilot.pause()

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@SIZES
def test_call_in_flight(
    snap_compare: Snap, store: TraceStore, headed: dict[str, Trace], size: tuple[int, int]
) -> None:
    call = LiveCall(
        "0f" * 12,
        provider="openai",
        model="gpt-4o",
        endpoint="/v1/chat/completions",
        timestamp="2026-11-23T08:06:00.000000Z",
        chunks=12,
        tokens=9,
        tail="Rayleigh scattering makes the sky look blue: shorter wavelengths",
        version=1,
    )

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.app.push_screen(LiveCallScreen(call, store))
        await pilot.pause()

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@SIZES
@pytest.mark.parametrize(
    "pressed",
    [
        ("space", "down", "down", "space", "d"),  # diff the two marked
        ("question_mark",),  # help
    ],
    ids=["diff", "help"],
)
def test_other_screens(
    snap_compare: Snap,
    store: TraceStore,
    headed: dict[str, Trace],
    pressed: tuple[str, ...],
    size: tuple[int, int],
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await keys(*pressed)(pilot)
        await wait_until(pilot, lambda: len(pilot.app.screen_stack) > 1, what="the screen")
        await settle(pilot)

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@SIZES
@pytest.mark.parametrize("key", ["c", "t"], ids=["config", "tests"])
def test_home_screens(
    snap_compare: Snap,
    store: TraceStore,
    headed: dict[str, Trace],
    key: str,
    size: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The config and tests screens print the home's paths ``~``-relative: with ``$HOME`` at
    the test's temporary directory they read ``~/home/...`` on every run."""
    monkeypatch.setenv("HOME", str(tmp_path))
    save_test(headed[STREAM], store.home / "tests")

    async def run_before(pilot: Pilot[Any]) -> None:
        await keys(key)(pilot)
        await wait_until(pilot, lambda: len(pilot.app.screen_stack) > 1, what="the screen")
        await settle(pilot)

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


#: A call in flight as the proxy announces it (``traceforge_proxy.live``'s events).
STARTED: dict[str, object] = {
    "id": "0f" * 12,
    "provider": "openai",
    "model": "gpt-4o",
    "endpoint": "/v1/chat/completions",
    "timestamp": "2026-11-23T08:06:00.000000Z",
}
CHUNK = {"id": "0f" * 12, "chunks": 12, "tokens": 9, "tail": "Rayleigh scattering makes"}


@SIZES
def test_list_with_a_call_in_flight(
    snap_compare: Snap, store: TraceStore, headed: dict[str, Trace], size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, TraceListScreen)
        screen.live_event("started", STARTED)
        screen.live_event("chunk", CHUNK)
        await pilot.pause()

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=run_before)

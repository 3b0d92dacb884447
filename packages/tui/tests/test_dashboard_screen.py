"""The dashboard screen driven through Textual's pilot over a fixed store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App
from textual.widgets import Static

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_tui.screens.dashboard import (
    CARDS,
    EMPTY_MESSAGE,
    DashboardScreen,
    bucket_label,
    count_ticks,
)

SIZE = (120, 40)
#: 2026-11-23T08:00:00Z.
BASE_EPOCH = 1795420800.0
#: "Now" for the screen: a day after the first trace.
NOW = datetime.fromtimestamp(BASE_EPOCH + 86400, tz=UTC)


class HostApp(App[None]):
    """A bare app that opens the dashboard over a blank screen."""

    def __init__(self, store: TraceStore) -> None:
        super().__init__()
        self.store = store

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen(self.store, now=NOW))


def fill(store: TraceStore) -> None:
    """Seven traces: three providers, four models, two failures, one older than a week."""
    specs: list[dict[str, Any]] = [
        {"model": "gpt-4o-mini", "latency_ms": 200.0},
        {"model": "gpt-4o-mini", "latency_ms": 300.0, "status": "error", "status_code": 429},
        {"model": "gpt-4o", "latency_ms": 900.0, "prompt_tokens": 100, "completion_tokens": 50},
        {"model": "claude-3-5-sonnet", "provider": "anthropic", "latency_ms": 1200.0},
        {
            "model": "claude-3-5-sonnet",
            "provider": "anthropic",
            "latency_ms": 700.0,
            "status": "upstream_error",
            "status_code": 502,
        },
        {"model": "llama3", "provider": "ollama", "latency_ms": 100.0},
    ]
    for i, spec in enumerate(specs):
        store.save(make_trace(epoch_s=BASE_EPOCH + i * 3 * 3600, **spec))
    store.save(make_trace(epoch_s=BASE_EPOCH - 10 * 86400, model="gpt-4o-mini", latency_ms=50.0))


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "home", fsync=False)


def card(app: App[Any], key: str) -> list[str]:
    content = app.screen.query_one(f"#card-{key}", Static).content
    assert isinstance(content, Text)
    return content.plain.split("\n")


async def test_cards_show_the_store_numbers(store: TraceStore) -> None:
    fill(store)
    app = HostApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert [card(app, key)[0] for key, _ in CARDS] == [label for _, label in CARDS]
        assert card(app, "traces") == ["Traces", "7", ""]
        assert card(app, "last-7-days") == ["Last 7 days", "6", ""]
        assert card(app, "success-rate") == ["Success rate", "71.4%", "2 failed"]
        # Latencies 50 100 200 300 700 900 1200: mean 492.86, nearest-rank p50 300, p95 1200.
        assert card(app, "avg-latency") == ["Avg latency", "493 ms", "p50 300 ms"]
        assert card(app, "p95-latency") == ["p95 latency", "1,200 ms", "p99 1,200 ms"]
        # 6 traces of 15 tokens and one of 150.
        assert card(app, "tokens") == ["Tokens", "240", "34 per trace"]
        assert card(app, "cost") == ["Cost", "-", ""]

        status = screen.query_one("#dashboard-status", Static)
        assert str(status.content) == "Errors by status: error 1 · upstream_error 1"
        assert screen.query_one("#dashboard-timeline").display
        assert screen.query_one("#dashboard-distributions").display

        analytics = screen.analytics
        assert analytics is not None
        assert [(p.name, p.count) for p in analytics.providers] == [
            ("openai", 4),
            ("anthropic", 2),
            ("ollama", 1),
        ]
        assert analytics.models[0].name == "gpt-4o-mini"
        assert sum(b.count for b in analytics.timeline) == 7


async def test_empty_store_then_refresh(store: TraceStore) -> None:
    app = HostApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        status = screen.query_one("#dashboard-status", Static)
        assert isinstance(status.content, Text)
        assert status.content.plain == EMPTY_MESSAGE
        assert card(app, "traces")[1] == "0"
        assert card(app, "success-rate")[1] == "-"
        assert not screen.query_one("#dashboard-timeline").display

        fill(store)
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert card(app, "traces")[1] == "7"
        assert screen.query_one("#dashboard-timeline").display

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DashboardScreen)


def test_helpers() -> None:
    assert count_ticks(0) == [0, 1]
    assert count_ticks(3) == [0, 1, 2, 3]
    assert count_ticks(12) == [0, 3, 6, 9, 12]
    assert bucket_label("2026-11-23T08:00:00Z", "hour") == "11-23 08:00"
    assert bucket_label("2026-11-23T00:00:00Z", "day") == "11-23"


def test_snapshot_dashboard(snap_compare: Any, store: TraceStore) -> None:
    fill(store)

    async def run_before(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(HostApp(store), terminal_size=SIZE, run_before=run_before)

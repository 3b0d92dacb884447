"""The dashboard screen driven through Textual's pilot over fixed stores: the range picker,
buckets that fit the range and the data, values on bars, every provider at 80x24, the
per-model table, cost per day, change against the previous range, tests, test traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from rich.text import Text
from textual.app import App
from textual.widgets import DataTable, Static

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_tui.screens.dashboard import (
    CARDS,
    EMPTY_MESSAGE,
    DashboardScreen,
    bucket_label,
    bucket_name,
    short_cost,
)
from traceforge_tui.widgets.charts import TimelineChart, hbar_text, timeline_text

SMALL = (80, 24)
LARGE = (160, 45)
#: The screen's "now": 2026-11-23T12:00:00Z.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
#: Six providers with one model each, in the order of their call counts (most first).
PROVIDERS = (
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-5"),
    ("gemini", "gemini-2.0-flash"),
    ("ollama", "llama3"),
    ("xai", "grok-3"),
    ("cohere", "command-r"),
)


class HostApp(App[None]):
    """A bare app that opens the dashboard over a blank screen."""

    def __init__(self, store: TraceStore) -> None:
        super().__init__()
        self.store = store

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen(self.store, now=NOW))


def _at(minutes_ago: float, **spec: Any) -> Trace:
    return make_trace(epoch_s=(NOW - timedelta(minutes=minutes_ago)).timestamp(), **spec)


def _cost(trace: Trace, usd: float, ttft: float | None = None) -> Trace:
    meta = msgspec.structs.replace(trace.metadata, cost_usd=usd, first_chunk_latency_ms=ttft)
    return msgspec.structs.replace(trace, metadata=meta)


#: Which provider makes each call of a cycle: 6 calls of the first, 5 of the second, ...
SHARES = [p for p, n in enumerate((6, 5, 4, 3, 2, 1)) for _ in range(n)]


def fill_day(store: TraceStore) -> list[Trace]:
    """A day-old store: calls over the last 23 hours from six providers (the first provider
    most, the last least), some in the last hour, every 11th failed; and yesterday's calls
    for the previous range."""
    traces: list[Trace] = []
    for i in range(48):  # one every 29 minutes over the last 23 hours
        provider, model = PROVIDERS[SHARES[i % len(SHARES)]]
        status = "upstream_error" if i % 11 == 0 else "success"
        trace = _at(
            2 + i * 29, model=model, provider=provider, latency_ms=100.0 + i * 10, status=status
        )
        traces.append(_cost(trace, 0.001, ttft=50.0 + i))
    for minutes_ago in (5.1, 5.3, 40):  # two in the same minute
        traces.append(_at(minutes_ago, model="gpt-4o-mini", latency_ms=300.0))
    for i in range(10):  # yesterday: 10 calls, slower
        traces.append(_at(25 * 60 + i * 30, latency_ms=2000.0))
    store.save_many(traces)
    return traces


def _since(traces: list[Trace], minutes: float) -> list[Trace]:
    start = NOW - timedelta(minutes=minutes)
    return [
        t
        for t in traces
        if start <= datetime.fromisoformat(t.timestamp.replace("Z", "+00:00")) < NOW
    ]


def _rank(values: list[float], p: int) -> float:
    """Nearest-rank percentile, computed here independently of the SQL."""
    ordered = sorted(values)
    return ordered[max(1, -(-p * len(ordered) // 100)) - 1]


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "home", fsync=False)


def card(app: App[Any], key: str) -> list[str]:
    content = app.screen.query_one(f"#card-{key}", Static).content
    assert isinstance(content, Text)
    return content.plain.split("\n")


def text_of(app: App[Any], selector: str) -> str:
    content = app.screen.query_one(selector, Static).content
    assert isinstance(content, Text)
    return content.plain


async def test_one_hour_range_on_a_day_old_store_has_minute_buckets_with_values(
    store: TraceStore,
) -> None:
    traces = fill_day(store)
    app = HostApp(store)
    async with app.run_test(size=LARGE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.range == "24h"
        await pilot.press("1")
        await app.workers.wait_for_complete()
        await pilot.pause()
        period = screen.period
        assert period is not None and period.range == "1h"
        assert period.bucket_seconds == 60
        assert len(period.timeline) == 60
        assert "per 1 min" in text_of(app, "#dashboard-range")
        chart = screen.query_one("#dashboard-timeline", TimelineChart)
        drawn = timeline_text(chart.buckets, chart.size.width, chart.size.height, chart.label)
        lines = drawn.plain.splitlines()
        assert "2" in lines[0]  # the two calls 5 minutes ago: their count over their bar
        assert "11:00" in lines[-1] and "11:56" in lines[-1]
        assert card(app, "calls")[:2] == ["Calls", str(len(_since(traces, 60)))]
        assert len(_since(traces, 60)) == 6


async def test_a_days_calls_in_one_hour_are_drawn_per_minute(store: TraceStore) -> None:
    store.save_many([_at(300 + m) for m in range(0, 30, 2)])  # 15 calls within half an hour
    app = HostApp(store)
    async with app.run_test(size=LARGE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.period is not None
        assert (screen.period.range, screen.period.bucket_seconds) == ("24h", 60)
        assert "(zoomed to the calls)" in text_of(app, "#dashboard-range")


async def test_every_provider_shows_at_80x24(store: TraceStore) -> None:
    fill_day(store)
    app = HostApp(store)
    async with app.run_test(size=SMALL) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        providers = app.screen.query_one("#dashboard-providers", Static)
        lines = text_of(app, "#dashboard-providers").splitlines()
        assert [line.split()[0] for line in lines[1:]] == [p for p, _ in PROVIDERS]
        assert lines[1].endswith("21 41%")  # openai: 18 + 3 of the 51 calls of the last 24h
        assert providers.region.height == len(lines)  # all on screen, not clipped
        assert providers.region.bottom <= SMALL[1] - 1  # above the footer


async def test_per_model_table_and_cards(store: TraceStore) -> None:
    traces = _since(fill_day(store), 24 * 60)
    app = HostApp(store)
    async with app.run_test(size=LARGE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table: DataTable[Any] = app.screen.query_one("#dashboard-models", DataTable)
        assert [str(c.label) for c in table.columns.values()] == [
            "Model",
            "Calls",
            "Err %",
            "p50 ms",
            "p95 ms",
            "TTFT ms",
            "Tokens",
            "Cost",
        ]
        row = [str(cell) for cell in table.get_row("gpt-4o-mini")]
        mini = [t for t in traces if t.model == "gpt-4o-mini"]
        latencies = [t.metadata.latency_ms for t in mini]
        ttfts = [t.metadata.first_chunk_latency_ms for t in mini]
        failed = sum(t.metadata.status != "success" for t in mini)
        assert row[:3] == ["gpt-4o-mini", str(len(mini)), f"{failed / len(mini):.1%}"]
        assert row[3:5] == [f"{_rank(latencies, 50):.0f}", f"{_rank(latencies, 95):.0f}"]
        assert row[5] == f"{_rank([v for v in ttfts if v is not None], 50):.0f}"
        priced = sum(t.metadata.cost_usd or 0 for t in mini)
        assert row[7] == f"≥${priced:.4f}"  # the three calls without a price: a lower bound
        assert card(app, "calls") == ["Calls", "51", "▲ 410%"]  # 10 the day before
        assert card(app, "p95-latency")[2].startswith("▼")  # yesterday's were all 2 s
        errors = sum(t.metadata.status != "success" for t in traces)
        assert card(app, "error-rate")[1] == f"{errors / len(traces):.1%}"
        costs = text_of(app, "#dashboard-costs").splitlines()
        assert costs[0] == "Cost per day (UTC)"
        assert [line.split()[0] for line in costs[1:]] == ["11-22", "11-23"]


async def test_range_keys_and_an_empty_range(store: TraceStore) -> None:
    store.save(_at(3 * 24 * 60))  # three days old
    app = HostApp(store)
    async with app.run_test(size=SMALL) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.range == "7d"  # the first range with calls
        await pilot.press("left_square_bracket")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.range == "24h"
        assert "No calls in the last 24h" in text_of(app, "#dashboard-status")
        assert not screen.query_one("#dashboard-body").display
        await pilot.press("5")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.range == "all"
        assert screen.query_one("#dashboard-body").display


async def test_empty_store_then_refresh(store: TraceStore) -> None:
    app = HostApp(store)
    async with app.run_test(size=SMALL) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert text_of(app, "#dashboard-status") == EMPTY_MESSAGE
        assert [card(app, key)[0] for key, _ in CARDS] == [label for _, label in CARDS]
        assert card(app, "calls")[1] == "0"
        assert card(app, "error-rate")[1] == "-"
        store.save(_at(10))
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert card(app, "calls")[1] == "1"
        assert screen.query_one("#dashboard-body").display
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DashboardScreen)


async def test_tests_panel_and_test_traffic(store: TraceStore) -> None:
    tests = store.home / "tests"
    tests.mkdir(parents=True)
    for name in ("a", "b"):
        (tests / f"{name}.yaml").write_text(f"name: {name}\nrequest: {{model: gpt-4o}}\n")
    store.save(_at(10))
    store.save(msgspec.structs.replace(_at(11, status="error"), meta={"source": "test"}))
    store.save(msgspec.structs.replace(_at(12), meta={"source": "test"}))
    app = HostApp(store)
    async with app.run_test(size=LARGE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert text_of(app, "#dashboard-tests").splitlines() == [
            "Tests",
            "2 test files",
            "2 test calls (24h), 1 failed",
        ]
        assert card(app, "calls")[1] == "3"
        app.hide_test_traffic = True  # type: ignore[attr-defined]  # as the app's H sets it
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        screen.test_traffic_changed()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert card(app, "calls")[1] == "1"
        assert "test traffic hidden" in text_of(app, "#dashboard-range")


def test_helpers() -> None:
    assert bucket_label("2026-11-23T08:05:00Z", 60) == "08:05"
    assert bucket_label("2026-11-23T06:00:00Z", 6 * 3600) == "23 06h"
    assert bucket_label("2026-11-23T00:00:00Z", 86400) == "11-23"
    assert [bucket_name(w) for w in (60, 300, 3600, 86400, 7 * 86400)] == [
        "1 min",
        "5 min",
        "1 h",
        "1 day",
        "7 days",
    ]
    assert [short_cost(None, 0), short_cost(None, 2), short_cost(0.0421, 0)] == [
        "-",
        "?",
        "$0.0421",
    ]
    assert short_cost(12.3, 1) == "≥$12.30"
    bars = hbar_text([("openai", 4, "4"), ("a-very-long-provider", 1, "1")], 30).plain
    assert bars.splitlines() == [
        "openai           ██████████ 4",
        "a-very-long-pro… ██▄ 1",
    ]


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x45"])
def test_snapshot_dashboard(snap_compare: Any, store: TraceStore, size: tuple[int, int]) -> None:
    fill_day(store)

    async def run_before(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(HostApp(store), terminal_size=size, run_before=run_before)

"""The runs and sessions screens, driven with the keys over runs stored through the store API
(app spans written with ``SpanStore.write``, LLM calls saved as traces whose span context makes
them children of the agent span); snapshots at 80x24 and 160x45."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rich.text import Text
from textual.pilot import Pilot

from traceforge_shared.store import TraceStore
from traceforge_shared.testing_runs import RUN_EPOCH, SampleRun, save_agent_run
from traceforge_tui import make_app
from traceforge_tui.screens.runs import RunsScreen
from traceforge_tui.screens.sessions import SessionsScreen
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.widgets.waterfall import Waterfall

from .helpers import notifications, row_ids, row_texts, settle, static_text, wait_until

Snap = Callable[..., bool]
SMALL = (80, 24)
LARGE = (160, 45)


@pytest.fixture
def runs(store: TraceStore) -> list[SampleRun]:
    """Three runs, oldest first, with fixed run ids (stable snapshots): two of session
    chat-1 (the second's tool call failed), one without a session."""
    return [
        save_agent_run(store, session_id="chat-1", trace_id="1a" * 16),
        save_agent_run(
            store,
            session_id="chat-1",
            epoch_s=RUN_EPOCH + 100,
            tool_failed=True,
            trace_id="2b" * 16,
        ),
        save_agent_run(
            store, epoch_s=RUN_EPOCH + 200, name="invoke_agent planner", trace_id="3c" * 16
        ),
    ]


def _bar_start(cell: object) -> int:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return text.index("█")


async def _open_runs(pilot: Pilot[Any]) -> RunsScreen:
    await settle(pilot)
    await pilot.press("R")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    await wait_until(pilot, lambda: screen.waterfall.row_count > 0, what="the spans")
    return screen


async def test_runs_list_tree_and_waterfall(store: TraceStore, runs: list[SampleRun]) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=LARGE) as pilot:
        screen = await _open_runs(pilot)
        assert row_ids(screen.table) == [r.trace_id for r in reversed(runs)]
        failed = row_texts(screen.table, 1)
        assert failed[0] == "2b2b2b2b" and "error (2)" in failed and "chat-1" in failed
        assert "$0.000840" in failed and "2,000 ms" in failed

        waterfall = screen.waterfall
        assert waterfall.run_tree is not None and waterfall.run_tree.trace_id == runs[2].trace_id
        names = [row_texts(waterfall, i)[0] for i in range(waterfall.row_count)]
        assert names == [
            "invoke_agent planner",
            "├─ chat gpt-4o-mini",
            "├─ execute_tool get_weather",
            "└─ chat gpt-4o-mini",
        ]
        bars = [waterfall.get_row_at(i)[-1] for i in range(4)]
        # offsets 0, 100, 950, 1250 ms of 2000 ms: each bar starts further right
        starts = [_bar_start(bar) for bar in bars]
        assert starts[0] == 0 and starts[0] < starts[1] < starts[2] < starts[3]
        assert "run 3c3c" not in static_text(app, "#runs-run")
        assert static_text(app, "#runs-run").startswith(runs[2].trace_id)

        await pilot.press("down")  # the failed run
        await wait_until(
            pilot,
            lambda: (
                waterfall.run_tree is not None and waterfall.run_tree.trace_id == runs[1].trace_id
            ),
            what="the second run's spans",
        )
        tool = row_texts(waterfall, 2)
        assert tool[1] == "tool" and "error" in tool and "250 ms" in tool
        assert "2 failed" in static_text(app, "#runs-run")


async def test_enter_opens_an_llm_span_as_its_trace(
    store: TraceStore, runs: list[SampleRun]
) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=SMALL) as pilot:
        screen = await _open_runs(pilot)
        await pilot.press("enter")  # to the spans
        assert screen.waterfall.has_focus
        await pilot.press("down", "down", "enter")  # the tool span: no trace
        assert any("not a recorded call" in note for note in notifications(app))
        assert app.screen is screen
        await pilot.press("down", "enter")  # the second LLM call
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, TraceDetailScreen)
        assert detail.trace_id == runs[2].call_ids[1]
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("tab")  # back to the run list
        assert screen.table.has_focus


async def test_sessions_open_their_runs(store: TraceStore, runs: list[SampleRun]) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        sessions = app.screen
        assert isinstance(sessions, SessionsScreen)
        assert row_ids(sessions.table) == ["chat-1"]
        cells = row_texts(sessions.table, 0)
        assert cells[:4] == ["chat-1", "2", "4", "40→20"] and "$0.001680" in cells
        await pilot.press("enter")
        await settle(pilot)
        runs_screen = app.screen
        assert isinstance(runs_screen, RunsScreen) and runs_screen.session_id == "chat-1"
        assert row_ids(runs_screen.table) == [runs[1].trace_id, runs[0].trace_id]
        await pilot.press("escape")
        assert app.screen is sessions


async def test_palette_lists_runs_and_sessions(store: TraceStore, runs: list[SampleRun]) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Runs", "Sessions"} <= set(commands)
        commands["Sessions"].callback()
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)


async def test_empty_store_says_how_to_get_runs(store: TraceStore) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        assert "traceparent" in static_text(app, "#runs-empty")
        assert not app.screen.query_one(Waterfall).display


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x45"])
def test_snapshot_runs(
    snap_compare: Snap, store: TraceStore, runs: list[SampleRun], size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_runs(pilot)
        await pilot.press("down")
        screen = pilot.app.screen
        assert isinstance(screen, RunsScreen)
        await wait_until(
            pilot,
            lambda: screen.shown_run == runs[1].trace_id,
            what="the failed run's spans",
        )
        await settle(pilot)

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x45"])
def test_snapshot_sessions(
    snap_compare: Snap, store: TraceStore, runs: list[SampleRun], size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)

    app = make_app(store, poll_interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=run_before)

"""The trace list: columns, live update, paging, filter, sort, marks and diff."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import msgspec
import pytest
from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_tui import make_app
from traceforge_tui.optional import screen_class
from traceforge_tui.screens.trace_list import EMPTY_MESSAGE, TraceListScreen
from traceforge_tui.widgets.filter_bar import FilterBar
from traceforge_tui.widgets.trace_table import MARK_STYLE, TraceTable

from .helpers import notifications, row_ids, row_texts, settle, static_text, wait_until
from .sample import ANTHROPIC, BASE_EPOCH, ERROR, OLLAMA, PLAIN, SIZE, STREAM, TOOLS

NEWEST_FIRST = [OLLAMA, TOOLS, ANTHROPIC, ERROR, STREAM, PLAIN]


def table_of(app: object) -> TraceTable:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, TraceListScreen)
    return screen.query_one("#traces", TraceTable)


async def test_lists_traces_newest_first(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        assert [str(c.label) for c in table.ordered_columns] == [
            "ID",
            "Time ▼",
            "Status",
            "Provider",
            "Model",
            "Type",
            "Tokens",
            "Cost",
            "Latency",
            "Endpoint",
        ]
        assert row_ids(table) == NEWEST_FIRST
        assert row_texts(table, 0) == [
            OLLAMA[:8],
            "08:05:00",  # 120 columns: no room for the date
            "success",
            "ollama",
            "llama3",
            "Stream",
            "15",
            "unknown",  # tokens but no price: never $0
            "123 ms",
            "/v1/chat/completions",
        ]
        assert row_texts(table, 3) == [
            ERROR[:8],
            "08:02:00",
            "error 429",
            "openai",
            "gpt-4o-mini",
            "Normal",
            "-",
            "-",
            "123 ms",
            "/v1/chat/completions",
        ]
        assert row_texts(table, 4)[5:9] == ["Stream", "52", "$0.000420", "1,830 ms"]
        ok, failed = table.get_row_at(0)[2], table.get_row_at(3)[2]
        assert ok.style == "green"
        assert failed.style == "red"
        assert app.screen.sub_title == "6 traces"
        assert not app.screen.query_one("#empty", Static).display
        assert table.has_focus


async def test_new_traces_appear_at_the_top_keeping_the_cursor(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        table = table_of(app)
        assert table.current_id == ANTHROPIC
        newest = msgspec.structs.replace(
            make_trace(model="gpt-5", epoch_s=BASE_EPOCH + 3600), id="0f" * 12
        )
        store.save(newest)
        await wait_until(pilot, lambda: table.row_count == 7, what="the new row")
        assert row_ids(table) == [newest.id, *NEWEST_FIRST]
        assert row_texts(table, 0)[4] == "gpt-5"
        assert table.current_id == ANTHROPIC
        assert app.screen.sub_title == "7 traces"


async def test_traces_deleted_elsewhere_disappear(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        store.delete(ERROR)
        await wait_until(pilot, lambda: ERROR not in row_ids(table), what="the row to go")
        assert row_ids(table) == [OLLAMA, TOOLS, ANTHROPIC, STREAM, PLAIN]


async def test_reload_key_reads_the_store_again(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        store.save(msgspec.structs.replace(make_trace(epoch_s=BASE_EPOCH + 900), id="0e" * 12))
        await pilot.press("r")
        await settle(pilot)
        assert row_ids(table_of(app))[0] == "0e" * 12


@pytest.fixture
def many(store: TraceStore) -> list[str]:
    """500 traces one second apart; returns their ids, newest first."""
    ids = []
    for i in range(500):
        trace = msgspec.structs.replace(
            make_trace(epoch_s=BASE_EPOCH + i, model=f"model-{i % 7}"), id=f"{i:024x}"
        )
        store.save(trace)
        ids.append(trace.id)
    return ids[::-1]


async def test_paging_loads_more_at_the_end(store: TraceStore, many: list[str]) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        assert table.row_count == 200
        assert app.screen.sub_title == "200 of 500 traces"
        table.scroll_end(animate=False)  # scrolling (the wheel) to the bottom
        await wait_until(pilot, lambda: table.row_count == 400, what="a second page")
        await pilot.press("end")  # the cursor to the last row
        await wait_until(pilot, lambda: table.row_count == 500, what="the last page")
        await settle(pilot)
        assert row_ids(table) == many
        assert app.screen.sub_title == "500 traces"
        screen = app.screen
        assert isinstance(screen, TraceListScreen)
        assert screen.exhausted


async def test_filter_by_provider(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        bar = app.screen.query_one("#filter", FilterBar)
        assert bar.has_focus
        bar.value = "provider:anthropic"
        await pilot.press("enter")
        await settle(pilot)
        table = table_of(app)
        assert row_ids(table) == [ANTHROPIC]
        assert table.has_focus
        assert app.screen.sub_title == "1 traces · filter: provider:anthropic"


async def test_filter_by_a_typed_word(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"llama", "enter")  # a, l, m are keys elsewhere
        await settle(pilot)
        assert app.screen.query_one("#filter", FilterBar).value == "llama"
        assert isinstance(app.screen, TraceListScreen)
        assert row_ids(table_of(app)) == [OLLAMA]

        app.screen.query_one("#filter", FilterBar).value = "paris type:normal"
        await pilot.press("slash", "enter")
        await settle(pilot)
        assert row_ids(table_of(app)) == [TOOLS, PLAIN]

        app.screen.query_one("#filter", FilterBar).value = ""
        await pilot.press("slash", "enter")
        await settle(pilot)
        assert row_ids(table_of(app)) == NEWEST_FIRST


async def test_filter_without_matches_and_invalid_filter(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.screen.query_one("#filter", FilterBar)
        bar.value = "status:broken"
        await pilot.press("slash", "enter")
        await settle(pilot)
        assert "unknown status 'broken'" in static_text(app, "#filter-error")
        assert table_of(app).row_count == 6
        assert bar.has_focus  # to correct it

        bar.value = "model:nope"
        await pilot.press("enter")
        await settle(pilot)
        assert table_of(app).row_count == 0
        assert static_text(app, "#empty") == "No trace matches model:nope."

        assert bar.has_focus  # nothing else to focus

        bar.value = ""
        await pilot.press("enter")
        await settle(pilot)
        assert table_of(app).has_focus
        await pilot.press("slash", "escape")  # Esc leaves the filter bar, keeping the filter
        assert table_of(app).has_focus


async def test_s_cycles_the_sort_column(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        await pilot.press("s", "s")  # status, then provider
        assert row_ids(table) == [ANTHROPIC, OLLAMA, TOOLS, ERROR, STREAM, PLAIN]
        assert str(table.ordered_columns[3].label) == "Provider ▲"
        assert str(table.ordered_columns[1].label) == "Time"
        assert app.screen.sub_title == "6 traces · sorted by provider ▲"
        await pilot.press("s", "s", "s", "s", "s")  # model, type, tokens, cost, latency
        assert table.sort_column == "latency"
        assert row_ids(table) == [STREAM, ANTHROPIC, TOOLS, PLAIN, OLLAMA, ERROR]
        await pilot.press("s", "s")  # endpoint, then back to time
        assert row_ids(table) == NEWEST_FIRST
        assert app.screen.sub_title == "6 traces"


async def test_clicking_a_header_sorts_and_reverses(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        await pilot.press("down")
        columns = table.ordered_columns
        x = sum(column.get_render_width(table) for column in columns[:6]) + 2
        await pilot.click("#traces", offset=(x, 0))  # Tokens
        assert table.sort_column == "tokens"
        assert row_ids(table)[0] == STREAM
        assert table.current_id == TOOLS  # the cursor stays on its trace
        await pilot.click("#traces", offset=(x, 0))
        assert not table.sort_descending
        assert row_ids(table)[0] == ERROR
        assert app.screen.sub_title == "6 traces · sorted by tokens ▲"


async def test_marks_and_diff(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        await pilot.press("d")
        assert "Mark two traces with space to compare them" in notifications(app)
        await pilot.press("space", "down", "down", "space")
        assert table.marked == [OLLAMA, ANTHROPIC]
        assert app.screen.sub_title == "6 traces · 2 marked (d: diff)"
        cell = table.get_row_at(0)[0]
        assert isinstance(cell, Text)
        assert any(str(span.style) == MARK_STYLE for span in cell.spans)
        await pilot.press("down", "space")  # a third one: refused
        assert table.marked == [OLLAMA, ANTHROPIC]
        assert "Two traces are marked already: unmark one first" in notifications(app)
        await pilot.press("s")  # marks survive sorting
        assert table.marked == [OLLAMA, ANTHROPIC]
        await pilot.press("s", "s", "s", "s", "s", "s", "s", "s")  # back to time
        await pilot.press("up", "up", "space", "space")  # unmark and mark again
        assert table.marked == [OLLAMA, ANTHROPIC]
        await pilot.press("up", "up", "space")
        assert table.marked == [ANTHROPIC]
        assert not table.get_row_at(0)[0].spans
        assert app.screen.sub_title == "6 traces · 1 marked"
        await pilot.press("space")
        assert table.marked == [ANTHROPIC, OLLAMA]

        await pilot.press("d")
        await pilot.pause()
        diff = screen_class("diff", "DiffScreen")
        if diff is None:
            assert "The diff view is not available yet" in notifications(app)
            assert isinstance(app.screen, TraceListScreen)
        else:
            # comparing ANTHROPIC with OLLAMA (screen_class returns the screen's class)
            assert isinstance(app.screen, cast("type[Screen[Any]]", diff))


async def test_empty_store(store: TraceStore) -> None:
    app = make_app(store, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        empty = app.screen.query_one("#empty", Static)
        assert not table.display
        assert empty.display
        assert static_text(app, "#empty") == EMPTY_MESSAGE
        await pilot.press("enter", "space", "s")  # nothing to open, mark or sort: no error
        assert isinstance(app.screen, TraceListScreen)

        store.save(make_trace(epoch_s=BASE_EPOCH))
        await wait_until(pilot, lambda: table.row_count == 1, what="the first trace")
        assert table.display
        assert not empty.display


async def test_unreadable_index_says_why(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "index.sqlite").mkdir(parents=True)
    app = make_app(TraceStore(home, fsync=False))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert static_text(app, "#empty").startswith(f"Cannot read traces from {home}")

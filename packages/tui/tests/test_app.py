"""The TUI driven through Textual's pilot: list, detail, reload, empty store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import DataTable, Static

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_tui import TraceForgeApp, make_app
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.screens.trace_list import COLUMNS, EMPTY_MESSAGE, TraceListScreen

#: 2026-11-23T08:00:00Z; the traces below are one minute apart after it.
BASE_EPOCH = 1795420800.0
SIZE = (140, 40)


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "home", fsync=False)


@pytest.fixture
def traces(store: TraceStore) -> list[Trace]:
    """Four traces, oldest first (saved out of order, to show the list sorts them)."""
    made = [
        make_trace(model="gpt-4o-mini", epoch_s=BASE_EPOCH, text="plain answer", latency_ms=250.4),
        make_trace(
            model="gpt-4o",
            epoch_s=BASE_EPOCH + 60,
            streaming=True,
            text="streamed answer here",
            prompt_tokens=12,
            completion_tokens=30,
            latency_ms=1830.0,
        ),
        make_trace(
            model="gpt-4o-mini", epoch_s=BASE_EPOCH + 120, status="error", status_code=429, text=""
        ),
        make_trace(
            model="llama3",
            provider="ollama",
            epoch_s=BASE_EPOCH + 180,
            streaming=True,
            text="local model says hi",
        ),
    ]
    for trace in (made[2], made[0], made[3], made[1]):
        store.save(trace)
    return made


def local(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def table_of(app: TraceForgeApp) -> DataTable:
    return app.screen.query_one("#traces", DataTable)


def row_texts(table: DataTable, index: int) -> list[str]:
    return [str(cell) for cell in table.get_row_at(index)]


def static_text(screen: object, selector: str) -> str:
    """The plain text a Static shows (Text, str or Syntax content)."""
    assert isinstance(screen, TraceDetailScreen)
    content = screen.query_one(selector, Static).content
    if isinstance(content, Syntax):
        return content.code
    return str(content)


def test_make_app_returns_the_app(store: TraceStore) -> None:
    app = make_app(store)
    assert isinstance(app, TraceForgeApp)
    assert app.store is store


async def test_table_lists_traces_newest_first(store: TraceStore, traces: list[Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE):
        assert isinstance(app.screen, TraceListScreen)
        table = table_of(app)
        assert [str(c.label) for c in table.ordered_columns] == list(COLUMNS)
        assert table.row_count == 4
        assert [row.key.value for row in table.ordered_rows] == [t.id for t in reversed(traces)]
        assert row_texts(table, 0) == [
            local(BASE_EPOCH + 180),
            "ollama",
            "llama3",
            "Stream",
            "15",
            "123",
            "success",
        ]
        assert row_texts(table, 1) == [
            local(BASE_EPOCH + 120),
            "openai",
            "gpt-4o-mini",
            "Normal",
            "15",
            "123",
            "error 429",
        ]
        assert row_texts(table, 2) == [
            local(BASE_EPOCH + 60),
            "openai",
            "gpt-4o",
            "Stream",
            "42",
            "1,830",
            "success",
        ]
        assert row_texts(table, 3) == [
            local(BASE_EPOCH),
            "openai",
            "gpt-4o-mini",
            "Normal",
            "15",
            "250",
            "success",
        ]
        assert table.display
        assert not app.screen.query_one("#empty", Static).display
        assert app.screen.sub_title == "4 traces"


async def test_status_cells_are_coloured(store: TraceStore, traces: list[Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE):
        table = table_of(app)
        ok, failed = table.get_row_at(0)[-1], table.get_row_at(1)[-1]
        assert isinstance(ok, Text)
        assert isinstance(failed, Text)
        assert ok.style == "green"
        assert failed.style == "red"


async def test_enter_opens_detail_and_escape_returns(
    store: TraceStore, traces: list[Trace]
) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down")  # third row: the streamed gpt-4o trace
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TraceDetailScreen)
        assert screen.trace_id == traces[1].id
        meta = static_text(screen, "#detail-meta")
        assert "gpt-4o" in meta
        assert traces[1].id in meta
        assert "12 prompt + 30 completion = 42" in meta
        assert "First chunk  10 ms" in meta
        assert "Chunks       3" in meta
        assert static_text(screen, "#detail-response-text") == "streamed answer here"
        assert '"Say hello"' in static_text(screen, "#detail-request")
        assert '"streamed answer here"' in static_text(screen, "#detail-response")

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TraceListScreen)
        assert table_of(app).cursor_row == 2


async def test_detail_of_non_streaming_trace(store: TraceStore, traces: list[Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down", "down", "enter")  # last row: the oldest trace
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TraceDetailScreen)
        meta = static_text(screen, "#detail-meta")
        assert "gpt-4o-mini" in meta
        assert "First chunk" not in meta
        assert static_text(screen, "#detail-response-text") == "plain answer"


async def test_detail_of_corrupt_trace_shows_error(store: TraceStore, traces: list[Trace]) -> None:
    store.path_for(traces[3].id).write_text("{broken", encoding="utf-8")
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")  # first row: the newest trace, now corrupt
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TraceDetailScreen)
        assert screen.trace is None
        assert "Cannot show trace" in static_text(screen, "#detail-error")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TraceListScreen)


async def test_reload_picks_up_new_and_deleted_traces(
    store: TraceStore, traces: list[Trace]
) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down")  # cursor on traces[2]
        newest = make_trace(model="gpt-5", epoch_s=BASE_EPOCH + 600)
        store.save(newest)
        store.delete(traces[0].id)
        assert table_of(app).row_count == 4  # not until reloaded
        await pilot.press("r")
        await pilot.pause()
        table = table_of(app)
        assert [row.key.value for row in table.ordered_rows] == [
            newest.id,
            traces[3].id,
            traces[2].id,
            traces[1].id,
        ]
        assert row_texts(table, 0)[2] == "gpt-5"
        # The cursor stays on the trace it was on.
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == traces[2].id


async def test_empty_store_shows_empty_state(store: TraceStore) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        empty = app.screen.query_one("#empty", Static)
        assert table.row_count == 0
        assert not table.display
        assert empty.display
        assert str(empty.content) == EMPTY_MESSAGE
        assert "No traces yet" in EMPTY_MESSAGE
        await pilot.press("enter")  # nothing to open
        await pilot.pause()
        assert isinstance(app.screen, TraceListScreen)

        store.save(make_trace(epoch_s=BASE_EPOCH))
        await pilot.press("r")
        await pilot.pause()
        assert table.row_count == 1
        assert table.display
        assert not empty.display


async def test_q_quits(store: TraceStore, traces: list[Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert not app.is_running

"""The trace detail: metadata, each tab, save as test, copy id, delete, unreadable traces."""

from __future__ import annotations

from typing import Any

import msgspec
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from traceforge_shared.evals.loader import load_test_file
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_tui import TraceForgeApp, make_app
from traceforge_tui.screens.confirm import ConfirmScreen
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.screens.trace_list import TraceListScreen
from traceforge_tui.widgets.chunk_table import ChunkTable
from traceforge_tui.widgets.conversation import ConversationView
from traceforge_tui.widgets.json_view import JsonView
from traceforge_tui.widgets.trace_meta import TraceMeta
from traceforge_tui.widgets.trace_table import TraceTable

from .helpers import notifications, row_ids, settle, static_text, wait_until
from .sample import (
    ANTHROPIC,
    BASE_EPOCH,
    ERROR,
    OLLAMA,
    PLAIN,
    SIZE,
    SLOW_CHUNKS,
    STREAM,
    STREAM_TEXT,
    TOOLS,
)

#: Rows of the sample in the list, newest first.
ROW = {OLLAMA: 0, TOOLS: 1, ANTHROPIC: 2, ERROR: 3, STREAM: 4, PLAIN: 5}


async def open_trace(pilot: Pilot[Any], trace_id: str, *, keys: bool = False) -> TraceDetailScreen:
    """Open ``trace_id`` over the list: with the arrows and Enter (``keys``), else pushed."""
    await settle(pilot)
    if keys:
        await pilot.press(*["down"] * ROW[trace_id], "enter")
    else:
        app = pilot.app
        assert isinstance(app, TraceForgeApp)
        await app.push_screen(TraceDetailScreen(app.store, trace_id))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, TraceDetailScreen)
    assert screen.trace_id == trace_id
    return screen


def meta_of(screen: TraceDetailScreen) -> str:
    return screen.query_one("#detail-meta", TraceMeta).plain


def show_tab(screen: TraceDetailScreen, tab: str) -> None:
    screen.query_one("#detail-tabs", TabbedContent).active = tab


async def test_streamed_trace_metadata_and_tabs(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, STREAM, keys=True)
        meta = meta_of(screen)
        for expected in (
            STREAM,
            "2026-11-23 08:01:00",
            "openai",
            "gpt-4o",
            "POST /v1/chat/completions",
            "success",
            "1,830 ms",
            "First chunk      180 ms",
            "Stream duration  ",
            "Chunks           40",
            "Chunk gaps       mean ",
            "12 in / 40 out (52 total)",
            "$0.000420",
            "Redacted  request.messages[0].content",
            "Warning   usage was requested on the client's behalf",
        ):
            assert expected in meta
        assert screen.sub_title == f"trace {STREAM}"

        tabs = screen.query_one("#detail-tabs", TabbedContent)
        assert tabs.active == "tab-conversation"
        assert [pane.id for pane in tabs.query("TabPane")] == [
            "tab-conversation",
            "tab-request",
            "tab-response",
            "tab-headers",
            "tab-chunks",
        ]
        blocks = screen.query_one("#conversation", ConversationView).blocks
        assert [(b.kind, b.title) for b in blocks] == [
            ("system", "system"),
            ("user", "user"),
            ("answer", "answer · finish: stop"),
        ]
        assert blocks[1].body.plain == "Stream forty words please"
        assert blocks[2].body.plain == STREAM_TEXT

        await pilot.press("right")  # the tabs have the focus: next tab
        assert tabs.active == "tab-request"
        request = screen.query_one("#detail-request", JsonView)
        assert (
            request.text
            == msgspec.json.format(msgspec.json.encode(traces[STREAM].request), indent=2).decode()
        )
        assert '"Stream forty words please"' in request.text

        show_tab(screen, "tab-response")
        await pilot.pause()
        assert f'"content": "{STREAM_TEXT}"' in screen.query_one("#detail-response", JsonView).text

        show_tab(screen, "tab-chunks")
        await pilot.pause()
        table = screen.query_one("#chunk-table", ChunkTable)
        assert table.row_count == 40
        assert [str(c.label) for c in table.ordered_columns] == [
            "#",
            "+Δ ms",
            "at ms",
            "event",
            "preview",
        ]
        assert [str(cell) for cell in table.get_row_at(12)] == [
            "12",
            "+250",
            "588",
            "-",
            " word12",
        ]
        assert table.slow == frozenset(SLOW_CHUNKS)
        assert any(span.style == "bold red" for span in table.get_row_at(12)[1].spans)
        assert not table.get_row_at(11)[1].spans
        assert static_text(app, "#chunks-summary") == (
            "40 chunks kept of 40 received · first after 180 ms · median gap 14 ms · max gap 400 ms"
            " · 2 slow gaps"
        )

        await pilot.press("escape")  # back to the list, the cursor on the trace
        assert isinstance(app.screen, TraceListScreen)
        assert app.screen.query_one("#traces", TraceTable).current_id == STREAM


async def test_converted_trace_has_a_native_tab(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, ANTHROPIC)
        meta = meta_of(screen)
        assert "converted" in meta
        assert "claude-sonnet-4-5 (answered by claude-sonnet-4-5-20250929)" in meta
        assert "Type     not streamed" in meta
        show_tab(screen, "tab-native")
        await pilot.pause()
        assert '"system": "Answer in French."' in screen.query_one("#native-request", JsonView).text
        assert '"stop_reason": "end_turn"' in screen.query_one("#native-response", JsonView).text
        assert not screen.query("#chunks-empty")  # a tab's content is made when first shown
        show_tab(screen, "tab-chunks")
        await pilot.pause()
        assert static_text(app, "#chunks-empty") == "Not a streamed call: no chunks."


async def test_tool_calls_in_the_conversation(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, TOOLS)
        blocks = screen.query_one("#conversation", ConversationView).blocks
        assert [(b.kind, b.title) for b in blocks] == [
            ("tools", "tools offered"),
            ("user", "user"),
            ("assistant", "assistant"),
            ("tool", "tool · result of call_1"),
            ("answer", "answer · finish: tool_calls"),
        ]
        assert blocks[0].body.plain == (
            "get_weather — Current weather of a city\nget_forecast — Forecast for some days"
        )
        assert blocks[2].body.plain == '→ get_weather  (call_1)\n{\n  "city": "Paris"\n}'
        assert blocks[3].body.plain == '{"temp_c": 18}'
        assert blocks[4].body.plain == (
            '→ get_forecast  (call_2)\n{\n  "city": "Lyon",\n  "days": 3\n}'
        )
        shown = [widget.border_title for widget in screen.query("#conversation .message").results()]
        assert shown == [b.title for b in blocks]
        await pilot.press("q")  # q goes back too (it quits from the list only)
        assert isinstance(app.screen, TraceListScreen)
        assert app.is_running


async def test_error_trace(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, ERROR)
        meta = meta_of(screen)
        assert "error 429" in meta
        assert "Error  rate_limit_error: Rate limit reached for gpt-4o-mini" in meta
        assert "Tokens   -" in meta
        blocks = screen.query_one("#conversation", ConversationView).blocks
        assert (blocks[-1].kind, blocks[-1].title) == ("error", "no answer")
        assert blocks[-1].body.plain == "rate_limit_error: Rate limit reached for gpt-4o-mini"
        await pilot.press("r")  # not a stream: nothing to replay
        assert app.screen is screen


async def test_save_as_test_writes_a_loadable_file_never_overwriting(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store)
    tests_dir = store.home / "tests"
    first = tests_dir / "what-is-the-capital-of-france.yaml"
    second = tests_dir / "what-is-the-capital-of-france-2.yaml"
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, PLAIN)
        await pilot.press("n")
        await settle(pilot)
        assert first.exists()
        assert f"Saved test {first}" in notifications(app)
        case = load_test_file(first)
        assert case.name == "What is the capital of France?"
        assert case.source_trace == PLAIN
        assert case.request["messages"] == [
            {"role": "user", "content": "What is the capital of France?"}
        ]
        text = first.read_text(encoding="utf-8")

        # the shared collision rule (as in the CLI and the API): refused, naming the file
        await pilot.press("n")
        await settle(pilot)
        assert not second.exists()
        assert first.read_text(encoding="utf-8") == text
        assert f"test file {first} exists" in "\n".join(notifications(app))


async def test_save_as_test_of_a_call_that_is_not_chat(store: TraceStore) -> None:
    embedding = msgspec.structs.replace(
        make_trace(epoch_s=BASE_EPOCH),
        id="0d" * 12,
        endpoint="/v1/embeddings",
        request={"model": "text-embedding-3-small", "input": "hello"},
    )
    store.save(embedding)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert any(text.startswith("Cannot save as a test:") for text in notifications(app))
        assert not (store.home / "tests").exists()
        screen = app.screen
        assert isinstance(screen, TraceDetailScreen)
        blocks = screen.query_one("#conversation", ConversationView).blocks
        assert blocks[0].body.plain == "Not a chat request: see the Request tab."


async def test_copy_id(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, ANTHROPIC)
        await pilot.press("y")
        assert app.clipboard == ANTHROPIC
        assert f"Copied {ANTHROPIC}" in notifications(app)


async def delete_from_detail(pilot: Pilot[Any], *answer: str) -> None:
    await pilot.press("x")
    assert isinstance(pilot.app.screen, ConfirmScreen)
    await pilot.press(*answer)
    await settle(pilot)


async def test_delete_asks_then_removes_the_trace(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, ERROR, keys=True)
        await delete_from_detail(pilot, "n")
        assert app.screen is screen
        await delete_from_detail(pilot, "enter")  # Cancel has the focus
        assert app.screen is screen
        assert store.path_for(ERROR).exists()

        await pilot.press("x")
        await pilot.click("#confirm-yes")
        await settle(pilot)
        assert isinstance(app.screen, TraceListScreen)
        assert not store.path_for(ERROR).exists()
        assert ERROR not in {s.id for s in store.list(limit=None)}
        assert row_ids(app.screen.query_one("#traces", TraceTable)) == [
            OLLAMA,
            TOOLS,
            ANTHROPIC,
            STREAM,
            PLAIN,
        ]
        assert app.screen.sub_title == "5 traces"
        assert f"Deleted {ERROR}" in notifications(app)


async def test_unreadable_trace_says_why_and_can_be_deleted(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    store.path_for(OLLAMA).write_text("{broken", encoding="utf-8")
    app: TraceForgeApp = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, OLLAMA, keys=True)
        assert screen.trace is None
        assert static_text(app, "#detail-error").startswith(f"Cannot show trace {OLLAMA}:")
        await pilot.press("n", "r")  # need the trace: nothing happens
        assert app.screen is screen
        await delete_from_detail(pilot, "y")
        await wait_until(pilot, lambda: isinstance(app.screen, TraceListScreen))
        assert not store.path_for(OLLAMA).exists()

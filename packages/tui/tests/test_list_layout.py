"""The list at 80 and 160 columns (what stays on screen, the ID and cost columns, the header
line), and the detail's Markdown answers and Headers tab, read from what the terminal shows."""

from __future__ import annotations

import msgspec
import pytest
from textual.widgets import Static, TabbedContent

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_tui import make_app
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.widgets.filter_bar import FilterBar
from traceforge_tui.widgets.headers_view import shown_value
from traceforge_tui.widgets.trace_table import TraceTable, column_widths

from .helpers import settle, static_text, wait_until
from .sample import BASE_EPOCH, ERROR, STREAM
from .screen import screen_lines, widget_lines

NARROW = (80, 24)
WIDE = (160, 45)

ANSWER = (
    "Here are the holidays:\n\n"
    "**Holiday Name:** Christmas\n\n"
    "- *Date:* December 25\n"
    "- `observed` in most countries\n"
)


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_status_latency_id_and_cost_stay_on_screen(
    store: TraceStore, traces: dict[str, Trace], size: tuple[int, int]
) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#traces", TraceTable)
        lines = widget_lines(app, table)
        header = lines[0]
        for label in ("ID", "Status", "Model", "Latency", "Cost", "Tokens", "Time"):
            assert label in header, (label, header)
        stream_row = next(line for line in lines if line.lstrip().startswith(STREAM[:8]))
        assert "success" in stream_row
        assert "1,830 ms" in stream_row  # latency, whole, with its unit
        assert "$0.000420" in stream_row  # cost in USD
        error_row = next(line for line in lines if line.lstrip().startswith(ERROR[:8]))
        assert "error 429" in error_row  # status, whole
        assert all(len(line) <= size[0] for line in lines)
        assert table.max_scroll_x == 0  # nothing off-screen to the right
        if size == WIDE:
            assert "Endpoint" in header and "Provider" in header
            assert "2026-11-23 08:01:00" in stream_row  # room for the date
        else:
            assert "Endpoint" not in header  # least important columns go first


def test_column_widths_follow_priorities() -> None:
    narrow = column_widths(NARROW[0])
    assert list(narrow) == ["id", "time", "status", "model", "tokens", "cost", "latency"]
    assert narrow["status"] >= len("error 429")
    wide = column_widths(WIDE[0])
    assert list(wide)[-1] == "endpoint" and wide["time"] == len("2026-11-23 08:01:00")
    assert column_widths(20) == {"id": 8}  # the id always stays


async def test_unknown_cost_is_unknown_not_zero(store: TraceStore) -> None:
    priced = msgspec.structs.replace(make_trace(epoch_s=BASE_EPOCH), id="ab" * 12)
    meta = msgspec.structs.replace(priced.metadata, cost_usd=0.0123)
    store.save(msgspec.structs.replace(priced, metadata=meta))
    unpriced = msgspec.structs.replace(make_trace(epoch_s=BASE_EPOCH + 1), id="cd" * 12)
    store.save(unpriced)
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        lines = widget_lines(app, app.screen.query_one("#traces", TraceTable))
        assert "$0.012300" in next(line for line in lines if "abababab" in line)
        unpriced_row = next(line for line in lines if "cdcdcdcd" in line)
        assert "unknown" in unpriced_row
        assert "$0" not in unpriced_row


async def test_header_line_counts_shown_of_total_and_names_the_filter(
    store: TraceStore,
) -> None:
    for i in range(30):
        store.save(make_trace(epoch_s=BASE_EPOCH + i, provider="anthropic" if i < 3 else "openai"))
    app = make_app(store, page_size=20, poll_interval=3600)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        assert static_text(app, "#list-header") == "Traces 20/30 · no filter"
        assert "Traces 20/30" in "\n".join(screen_lines(app))
        app.screen.query_one("#filter", FilterBar).value = "provider:anthropic"
        await pilot.press("slash", "enter")
        await settle(pilot)
        assert static_text(app, "#list-header") == "Traces 3/3 · filter: provider:anthropic"


def _answer_trace() -> Trace:
    trace = make_trace(text=ANSWER, epoch_s=BASE_EPOCH)
    return msgspec.structs.replace(trace, id="ad" * 12)


async def _open(app: object, store: TraceStore, trace_id: str) -> TraceDetailScreen:
    screen = TraceDetailScreen(store, trace_id)
    await app.push_screen(screen)  # type: ignore[attr-defined]
    return screen


async def test_answer_is_rendered_markdown_with_a_raw_toggle(store: TraceStore) -> None:
    trace = _answer_trace()
    store.save(trace)
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        screen = await _open(app, store, trace.id)
        await wait_until(pilot, lambda: screen.trace is not None)
        await settle(pilot)
        assert screen.query(".message.-answer.-markdown")
        answer = screen.query_one(".message.-answer")
        shown = "\n".join(widget_lines(app, answer))
        assert "Holiday Name: Christmas" in shown
        assert "**" not in shown and "`observed`" not in shown
        assert "Date: December 25" in shown

        await pilot.press("m")  # the raw text the model sent
        await settle(pilot)
        assert not screen.query(".message.-answer.-markdown")
        raw = "\n".join(widget_lines(app, screen.query_one(".message.-answer")))
        assert "**Holiday Name:** Christmas" in raw
        assert "Raw/Markdown" in screen_lines(app)[-1]  # the key is in the footer

        await pilot.press("m")
        await settle(pilot)
        assert screen.query(".message.-answer.-markdown")


async def test_headers_tab_shows_headers_and_masks_credentials(store: TraceStore) -> None:
    trace = make_trace(epoch_s=BASE_EPOCH)
    meta = msgspec.structs.replace(
        trace.metadata,
        request_headers={
            "content-type": "application/json",
            # a credential a hand-edited or older trace file may still hold
            "Authorization": "Bearer sk-live-not-redacted-0123456789",
            "x-api-key": "[REDACTED]",
        },
        response_headers={"x-request-id": "req_8f1c2", "openai-processing-ms": "412"},
    )
    trace = msgspec.structs.replace(trace, id="ae" * 12, metadata=meta)
    store.save(trace)
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        screen = await _open(app, store, trace.id)
        await wait_until(pilot, lambda: screen.trace is not None)
        await settle(pilot)
        screen.query_one("#detail-tabs", TabbedContent).active = "tab-headers"
        await settle(pilot)
        shown = "\n".join(screen_lines(app))
        assert "x-request-id" in shown and "req_8f1c2" in shown
        assert "content-type" in shown and "application/json" in shown
        assert "sk-live" not in shown
        assert "Authorization" in shown and "[REDACTED]" in shown
        request = screen.query_one("#headers-request", Static)
        assert "sk-live" not in str(request.render())


def test_shown_value_masks_credential_header_names() -> None:
    assert shown_value("X-Goog-Api-Key", "AIzaSy-secret") == "[REDACTED]"
    assert shown_value("x-auth-token", "abc") == "[REDACTED]"
    assert shown_value("Cookie", "session=1") == "[REDACTED]"
    assert shown_value("authorization", "[REDACTED]") == "[REDACTED]"
    assert shown_value("x-ratelimit-remaining-tokens", "999") == "999"
    assert shown_value("content-type", "text/event-stream") == "text/event-stream"

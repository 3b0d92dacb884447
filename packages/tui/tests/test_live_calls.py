"""Calls in flight: the official openai SDK streams a recorded transcript through a real
proxy whose upstream holds the stream open; the list shows the call at once as a row at its
top (status ``⋯ N chunks``), Enter on it the tail of its stream, and the saved trace's row
replaces it when the stream ends."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any, cast

import openai
import pytest
from textual.pilot import Pilot

from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import HeldStream, transcript_chunks
from traceforge_proxy.upstream import Upstream
from traceforge_shared.config import Config, ProxyConfig
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import TEST_SOURCE
from traceforge_tui import make_app
from traceforge_tui.live import LiveCall, LiveCalls, events_url
from traceforge_tui.screens.live_call import LiveCallScreen
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.screens.trace_list import TraceListScreen
from traceforge_tui.widgets.filter_bar import FilterBar
from traceforge_tui.widgets.live_rows import live_status
from traceforge_tui.widgets.trace_table import TraceTable

from .helpers import row_ids, row_texts, static_text, wait_until
from .screen import screen_lines, widget_lines

#: Events of the recorded transcript sent before the upstream holds the stream.
HOLD_AFTER = 8


async def loaded(pilot: Pilot[Any]) -> None:
    """Wait for the list's first page."""
    screen = pilot.app.screen
    assert isinstance(screen, TraceListScreen)
    await wait_until(pilot, lambda: not screen.loading, what="the first page")


@pytest.fixture
async def proxy(store: TraceStore) -> AsyncIterator[tuple[ProxyService, HeldStream]]:
    """A proxy on a free port saving into ``store``, in front of a held OpenAI stream."""
    held = HeldStream(transcript_chunks(), HOLD_AFTER)
    config = Config()
    config.proxy.port = 0
    upstream = Upstream("openai", None, None, False)
    service = ProxyService(config, upstream, store, upstream_app=held.app())
    await service.start()
    yield service, held
    held.release()
    await service.stop()


async def test_a_call_in_flight_shows_at_once_then_becomes_its_trace(
    store: TraceStore, proxy: tuple[ProxyService, HeldStream]
) -> None:
    service, held = proxy
    url = events_url(ProxyConfig(host="127.0.0.1", port=service.port))
    client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-test", max_retries=0)
    app = make_app(store, poll_interval=0.05, live_url=url)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)  # settle() would wait for the live worker, which never ends
        traces = app.screen.query_one("#traces", TraceTable)
        assert traces.row_count == 0  # nothing in flight, nothing saved
        await wait_until(pilot, lambda: service.live.subscribers == 1, what="the list to connect")

        stream = await client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Tell me a joke"}],
            stream=True,
        )
        received: list[str] = []

        async def consume() -> None:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)

        consumer = asyncio.create_task(consume())
        await asyncio.wait_for(held.holding.wait(), 10)
        await wait_until(pilot, lambda: traces.row_count == 1, what="the in-flight row")
        (call_id,) = row_ids(traces)
        assert call_id is not None
        assert traces.is_live(call_id) and traces.trace_count == 0  # not saved yet

        def cell(key: str) -> str:
            return str(traces.get_cell(call_id, key))

        # the chunks so far (``⋯ 12 chunks``, ``⋯ 12`` when narrow), no longer ``⋯ waiting``
        await wait_until(pilot, lambda: cell("status").split()[1].isdigit(), what="chunks")
        assert cell("status").startswith("⋯ ")
        # the live token count: the text received so far, estimated (the stream is held)
        await wait_until(pilot, lambda: cell("tokens").startswith("~"), what="tokens")
        assert row_texts(traces, 0)[0] == call_id[:8] and cell("model") == "gpt-4o"
        assert static_text(app, "#list-header") == "Traces 0/0 · no filter · 1 in flight"
        assert held.holding.is_set() and not consumer.done()  # the stream has not ended
        await pilot.pause()
        shown = widget_lines(app, traces)
        assert any(call_id[:8] in line and "⋯" in line for line in shown), shown

        traces.focus()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LiveCallScreen)
        so_far = "".join(received)
        await wait_until(
            pilot,
            lambda: bool(so_far) and so_far in static_text(app, "#live-tail"),
            what="the tail",
        )
        assert "Tell me a joke" not in "\n".join(screen_lines(app))  # requests not published

        held.release()
        await asyncio.wait_for(consumer, 10)
        await wait_until(pilot, lambda: screen.call.saved, what="the saved event")
        # The last chunk event is throttled (one per 50 ms, then a trailing flush): it may
        # land after the saved event.
        await wait_until(
            pilot,
            lambda: static_text(app, "#live-tail") == "".join(received),
            what="the whole answer in the tail",
        )
        await pilot.press("enter")  # open the saved trace
        assert isinstance(app.screen, TraceDetailScreen)
        await wait_until(
            pilot, lambda: cast(TraceDetailScreen, app.screen).trace is not None, what="the trace"
        )
        assert app.screen.trace_id == call_id
        await wait_until(pilot, lambda: bool(app.screen.query("#detail-tabs")), what="tabs")
        await pilot.press("escape")
        assert isinstance(app.screen, TraceListScreen), (app.screen_stack, app.focused)

        await wait_until(pilot, lambda: not traces.is_live(call_id), what="the saved row")
        assert row_ids(traces) == [call_id] and traces.trace_count == 1  # replaced, not added
        assert not str(traces.get_cell(call_id, "status")).startswith("⋯")
        assert str(traces.get_cell(call_id, "tokens")).isdigit()  # counted, not estimated
        assert static_text(app, "#list-header") == "Traces 1/1 · no filter"
    await client.close()


async def test_without_a_proxy_nothing_changes(store: TraceStore) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = events_url(ProxyConfig(host="127.0.0.1", port=port))
    app = make_app(store, poll_interval=3600, live_url=url)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)  # settle() would wait for the live worker, which never ends
        await asyncio.sleep(0.1)
        assert app.screen.query_one("#traces", TraceTable).row_count == 0
        assert static_text(app, "#list-header") == "Traces 0/0 · no filter"
        assert "No traces yet" in static_text(app, "#empty")


def test_events_url_reaches_an_any_address_bind_on_loopback() -> None:
    assert events_url(ProxyConfig(host="0.0.0.0", port=8787)) == (
        "http://127.0.0.1:8787/_traceforge/events"
    )
    assert events_url(ProxyConfig(host="::", port=9000)) == "http://[::1]:9000/_traceforge/events"


def test_live_calls_follow_the_events() -> None:
    calls = LiveCalls()
    assert calls.apply("chunk", {"id": 3}) is None  # no string id: ignored
    calls.apply("started", {"id": "t1", "model": "gpt-4o", "provider": "openai"})
    call = calls.apply("chunk", {"id": "t1", "chunks": 3, "tokens": 4, "tail": "Hi the"})
    assert call is not None and call.status == "…streaming" and call.tail == "Hi the"
    calls.apply("finished", {"id": "t1", "status_code": 429, "error": None, "tail": "Hi"})
    assert calls.calls["t1"].status == "finished 429"
    calls.apply("saved", {"id": "t1"})
    calls.calls["t1"].saved_at = 4
    assert calls.drop_saved(4) == []  # the poll that started before it was saved
    assert calls.drop_saved(5) == ["t1"]
    assert calls.apply("saved", {"id": "t2"}) is None  # never seen


def test_an_in_flight_status_fits_its_column() -> None:
    call = LiveCall("t1", chunks=12)
    assert live_status(call).plain == "⋯ streaming 12 chunks"
    assert live_status(call, 14).plain == "⋯ 12 chunks"  # 160 columns
    assert live_status(call, 10).plain == "⋯ 12"  # 80 columns
    assert live_status(LiveCall("t2")).plain == "⋯ waiting"
    assert live_status(LiveCall("t3", chunks=3, finished=True, status_code=200)).plain == (
        "⋯ saving"
    )
    failed = LiveCall("t4", finished=True, status_code=502, error="upstream_error")
    assert live_status(failed).plain == "⋯ failed upstream_error"


class StreamingApp:
    """An app streaming chat completions through the proxy with the official openai SDK,
    each read to its end in a task (the held upstream keeps them in flight)."""

    def __init__(self, service: ProxyService) -> None:
        self.client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-test", max_retries=0)
        self.readers: list[asyncio.Task[None]] = []

    async def start(self, model: str, headers: dict[str, str] | None = None) -> None:
        """Start a streamed call of ``model`` with ``headers``."""
        stream = await self.client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Tell me a joke"}],
            stream=True,
            extra_headers=headers,
        )

        async def consume() -> None:
            async for _ in stream:
                pass

        self.readers.append(asyncio.create_task(consume()))

    async def finish(self) -> None:
        """Wait for every stream to end (release the upstream first)."""
        await asyncio.wait_for(asyncio.gather(*self.readers), 10)


@pytest.fixture
async def streaming(proxy: tuple[ProxyService, HeldStream]) -> AsyncIterator[StreamingApp]:
    """An app on the proxy; its streams are released and its client closed afterwards, even
    when the test failed."""
    service, held = proxy
    app = StreamingApp(service)
    yield app
    held.release()
    await asyncio.gather(*app.readers, return_exceptions=True)
    await app.client.close()


async def live_ids(pilot: Pilot[Any], traces: TraceTable, count: int) -> set[str]:
    """The ids of the rows in flight once there are ``count`` of them."""
    await wait_until(
        pilot,
        lambda: sum(1 for key in row_ids(traces) if traces.is_live(key)) == count,
        what=f"{count} rows in flight",
    )
    return {key for key in row_ids(traces) if key is not None and traces.is_live(key)}


async def test_calls_in_flight_follow_the_filter(
    store: TraceStore, proxy: tuple[ProxyService, HeldStream], streaming: StreamingApp
) -> None:
    service, held = proxy
    url = events_url(ProxyConfig(host="127.0.0.1", port=service.port))
    app = make_app(store, poll_interval=0.05, live_url=url)
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        traces = app.screen.query_one("#traces", TraceTable)
        await wait_until(pilot, lambda: service.live.subscribers == 1, what="the list to connect")
        await pilot.press("slash", *"model:~mini", "enter")
        await pilot.press("H")  # hide test traffic: these calls are not test traffic
        assert app.hide_test_traffic

        await streaming.start("gpt-4o-mini")
        (mini,) = await live_ids(pilot, traces, 1)
        await streaming.start("gpt-4o")
        await wait_until(
            pilot,
            lambda: len(cast(TraceListScreen, app.screen).live.calls) == 2,
            what="the 2nd call",
        )
        await asyncio.wait_for(held.holding.wait(), 10)
        (full,) = set(cast(TraceListScreen, app.screen).live.calls) - {mini}
        assert await live_ids(pilot, traces, 1) == {mini}  # gpt-4o is filtered out
        assert str(traces.get_cell(mini, "model")) == "gpt-4o-mini"
        header = "Traces 0/0 · filter: model:~mini · 1 in flight (1 hidden)"
        await wait_until(pilot, lambda: static_text(app, "#list-header") == header, what=header)

        async def refilter(text: str) -> None:
            bar = app.screen.query_one("#filter", FilterBar)
            bar.value = ""
            await pilot.press("slash", *text, "enter")

        await refilter("status:error")  # no status until the trace is saved
        await live_ids(pilot, traces, 0)
        assert static_text(app, "#list-header").endswith("· 0 in flight (2 hidden)")
        await refilter("latency:>1")  # no latency either
        await live_ids(pilot, traces, 0)
        await refilter("type:stream provider:openai")  # both have streamed chunks
        await wait_until(pilot, lambda: traces.get_cell(full, "type") != "-", what="chunks")
        assert await live_ids(pilot, traces, 2) == {mini, full}
        await refilter(f"id:{full[:12]}")
        assert await live_ids(pilot, traces, 1) == {full}
        await refilter('"gpt-4o-mini"')  # text: the model, the endpoint, the streamed tail
        assert await live_ids(pilot, traces, 1) == {mini}
        await refilter("model:gpt-4o")
        assert await live_ids(pilot, traces, 1) == {full}

        held.release()
        await streaming.finish()
        await wait_until(pilot, lambda: traces.trace_count == 1, what="the saved trace")
        assert row_ids(traces) == [full] and not traces.is_live(full)
        # The calls' end comes on the live feed, which may follow the saved trace's poll.
        header = "Traces 1/1 · filter: model:gpt-4o"
        await wait_until(pilot, lambda: static_text(app, "#list-header") == header, what=header)


async def test_test_traffic_in_flight_is_hidden_by_the_toggle(
    store: TraceStore, proxy: tuple[ProxyService, HeldStream], streaming: StreamingApp
) -> None:
    service, held = proxy
    url = events_url(ProxyConfig(host="127.0.0.1", port=service.port))
    app = make_app(store, poll_interval=0.05, live_url=url)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        traces = app.screen.query_one("#traces", TraceTable)
        await wait_until(pilot, lambda: service.live.subscribers == 1, what="the list to connect")
        await streaming.start("gpt-4o", {"X-TraceForge-Meta-Source": TEST_SOURCE})
        await streaming.start("gpt-4o-mini")
        await asyncio.wait_for(held.holding.wait(), 10)
        assert len(await live_ids(pilot, traces, 2)) == 2  # toggle off: both
        await pilot.press("H")
        (shown,) = await live_ids(pilot, traces, 1)
        assert str(traces.get_cell(shown, "model")) == "gpt-4o-mini"
        held.release()
        await streaming.finish()

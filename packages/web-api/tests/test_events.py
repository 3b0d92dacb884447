"""GET /api/events: server-sent events for traces saved while a client listens.

Traces are saved through another :class:`TraceStore` on the same home, as the proxy does from
its own process. Keep-alives are sent every 50 ms here, so a read never waits long and every
loop checks a deadline: a missing event fails the test in seconds instead of hanging.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import anyio
import msgspec
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace, summarize
from traceforge_web_api import create_app
from traceforge_web_api.feed import TraceFeed
from traceforge_web_api.routes import events

from .factories import LOOPBACK_URL

#: Longest wait for an event.
DEADLINE_S = 10.0


@pytest.fixture(autouse=True)
def fast_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "KEEPALIVE_S", 0.05)


@pytest.fixture
def proxy_store(store: TraceStore) -> TraceStore:
    """Another store on the same home: the proxy's."""
    return TraceStore(store.home, fsync=False)


def _feed(client: TestClient) -> TraceFeed:
    feed = getattr(client.app.state, events.FEED_STATE_KEY)  # type: ignore[attr-defined]
    assert isinstance(feed, TraceFeed)
    return feed


def _next_events(lines: Iterator[str], count: int) -> list[tuple[str, dict[str, object]]]:
    """Read until ``count`` events arrived; ``(event, data)`` of each."""
    found: list[tuple[str, dict[str, object]]] = []
    name: str | None = None
    deadline = time.monotonic() + DEADLINE_S
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            assert name is not None
            found.append((name, msgspec.json.decode(line[len("data: ") :])))
            if len(found) == count:
                return found
        assert time.monotonic() < deadline, f"only {len(found)} of {count} events arrived"
    raise AssertionError("the stream ended")


def _comments(lines: Iterator[str], count: int) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    for line in lines:
        if line.startswith(":"):
            seen.append(line)
            if len(seen) == count:
                return seen
        assert time.monotonic() < deadline
    raise AssertionError("the stream ended")


def test_new_trace_is_announced(
    client: TestClient, proxy_store: TraceStore, all_traces: list[Trace]
) -> None:
    with client.stream("GET", "/api/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        lines = response.iter_lines()
        assert next(lines) == ": connected"  # the watch is on from here
        assert next(lines) == "retry: 3000"
        trace = make_trace(model="gpt-4o", streaming=True, text="just now")
        proxy_store.save(trace)
        ((name, data),) = _next_events(lines, 1)
        assert name == "trace"
        assert data == msgspec.to_builtins(summarize(trace))


def test_each_new_trace_once_and_only_new_ones(
    client: TestClient, store: TraceStore, proxy_store: TraceStore, all_traces: list[Trace]
) -> None:
    with client.stream("GET", "/api/events") as response:
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        first, second = make_trace(text="one"), make_trace(text="two")
        proxy_store.save(first)
        proxy_store.save(second)
        got = _next_events(lines, 2)
        assert sorted(data["id"] for _, data in got) == sorted([first.id, second.id])  # type: ignore[type-var]
        proxy_store.save(first)  # saved again: already announced
        (store.traces_dir / ".partial.tmp").write_text("{", encoding="utf-8")
        (store.traces_dir / "notes.txt").write_text("x", encoding="utf-8")
        third = make_trace(text="three")
        proxy_store.save(third)
        ((_, data),) = _next_events(lines, 1)
        assert data["id"] == third.id


def test_keep_alive_comments(client: TestClient) -> None:
    with client.stream("GET", "/api/events") as response:
        lines = response.iter_lines()
        assert _comments(lines, 3) == [": connected", ": keep-alive", ": keep-alive"]


def test_disconnect_stops_the_watcher(client: TestClient, proxy_store: TraceStore) -> None:
    feed = _feed(client)
    with client.stream("GET", "/api/events") as response:
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        (watcher,) = feed._watchers.values()
        assert len(watcher.subscribers) == 1
        task = watcher.task
        assert task is not None
        assert not task.done()
    deadline = time.monotonic() + DEADLINE_S
    while feed._watchers:
        assert time.monotonic() < deadline, "the watcher outlived its last client"
        time.sleep(0.01)
    assert task.done()
    assert not task.cancelled()  # stopped by its stop event, not killed
    # A new client starts a new watcher.
    with client.stream("GET", "/api/events") as response:
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        trace = make_trace()
        proxy_store.save(trace)
        assert _next_events(lines, 1)[0][1]["id"] == trace.id


def test_clients_share_one_watcher(client: TestClient, proxy_store: TraceStore) -> None:
    feed = _feed(client)
    with (
        client.stream("GET", "/api/events") as one,
        client.stream("GET", "/api/events") as two,
    ):
        lines_one, lines_two = one.iter_lines(), two.iter_lines()
        assert next(lines_one) == next(lines_two) == ": connected"
        (watcher,) = feed._watchers.values()
        assert len(watcher.subscribers) == 2
        trace = make_trace(text="for both")
        proxy_store.save(trace)
        assert _next_events(lines_one, 1)[0][1]["id"] == trace.id
        assert _next_events(lines_two, 1)[0][1]["id"] == trace.id


def test_too_many_clients_is_503(store: TraceStore) -> None:
    app = create_app(store)
    feed = getattr(app.state, events.FEED_STATE_KEY)
    feed.max_subscribers = 1
    with (
        TestClient(app, base_url=LOOPBACK_URL) as client,
        client.stream("GET", "/api/events") as first,
    ):
        lines = first.iter_lines()  # kept: a dropped iterator closes the stream
        assert next(lines) == ": connected"
        second = client.get("/api/events")
        assert second.status_code == 503
        assert "too many" in second.json()["error"]


def test_head_answers_without_a_stream(client: TestClient) -> None:
    response = client.head("/api/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content == b""


def test_a_failing_send_ends_the_stream_cleanly(store: TraceStore) -> None:
    """ASGI 2.4 servers raise ``OSError`` from ``send`` once the client is gone."""
    app = create_app(store)
    feed = getattr(app.state, events.FEED_STATE_KEY)
    sent: list[Message] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/events",
        "raw_path": b"/api/events",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    async def send(message: Message) -> None:
        if len(sent) == 3:  # start, ": connected", one keep-alive: then the client is gone
            raise OSError("connection lost")
        sent.append(message)

    async def run() -> None:
        with anyio.fail_after(DEADLINE_S):
            await app(scope, receive, send)

    anyio.run(run)
    assert sent[0]["status"] == 200
    assert sent[1]["body"].startswith(b": connected")
    assert sent[2]["body"] == b": keep-alive\n\n"
    assert feed._watchers == {}


# -- the feed pushed by the proxy's ``saved`` hook (``traceforge start``) -------------------


@pytest.fixture
def pushed(store: TraceStore) -> Iterator[tuple[TestClient, TraceFeed]]:
    """The API as ``traceforge start`` serves it: its feed is told of each saved trace."""
    feed = TraceFeed(store, watch=False)
    with TestClient(create_app(store, feed=feed), base_url=LOOPBACK_URL) as test_client:
        yield test_client, feed


def _saved_from_another_thread(feed: TraceFeed, trace: Trace) -> None:
    """Call ``feed.saved`` as the proxy's writer thread does."""
    thread = threading.Thread(target=feed.saved, args=(trace,))
    thread.start()
    thread.join(DEADLINE_S)


def test_create_app_watches_unless_given_a_feed(store: TraceStore) -> None:
    default = getattr(create_app(store).state, events.FEED_STATE_KEY)
    assert isinstance(default, TraceFeed) and default.watch
    given = TraceFeed(store, watch=False)
    assert getattr(create_app(store, feed=given).state, events.FEED_STATE_KEY) is given


def test_pushed_feed_announces_each_saved_trace_once(
    pushed: tuple[TestClient, TraceFeed], proxy_store: TraceStore
) -> None:
    client, feed = pushed
    with client.stream("GET", "/api/events") as response:
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        (watcher,) = feed._watchers.values()
        assert watcher.task is None  # nothing watches the directory
        trace = make_trace(model="gpt-4o", streaming=True, text="pushed")
        proxy_store.save(trace)
        _saved_from_another_thread(feed, trace)
        ((name, data),) = _next_events(lines, 1)
        assert name == "trace"
        assert data == msgspec.to_builtins(summarize(trace))
        proxy_store.save(make_trace(text="saved by another process: not announced"))
        _saved_from_another_thread(feed, trace)  # the same trace again: not announced
        later = make_trace(text="later")
        _saved_from_another_thread(feed, later)
        ((_, data),) = _next_events(lines, 1)
        assert data["id"] == later.id


def test_pushed_feed_reaches_every_client(
    pushed: tuple[TestClient, TraceFeed],
) -> None:
    client, feed = pushed
    with (
        client.stream("GET", "/api/events") as one,
        client.stream("GET", "/api/events") as two,
    ):
        lines_one, lines_two = one.iter_lines(), two.iter_lines()
        assert next(lines_one) == next(lines_two) == ": connected"
        trace = make_trace(text="for both")
        _saved_from_another_thread(feed, trace)
        assert _next_events(lines_one, 1)[0][1]["id"] == trace.id
        assert _next_events(lines_two, 1)[0][1]["id"] == trace.id
    deadline = time.monotonic() + DEADLINE_S
    while feed._watchers:  # the last client gone: nothing left per loop
        assert time.monotonic() < deadline
        time.sleep(0.01)


async def test_pushed_feed_subscription_without_http(store: TraceStore) -> None:
    feed = TraceFeed(store, watch=False)
    feed.saved(make_trace(text="before anyone listens: dropped"))
    subscription = await feed.subscribe()
    try:
        trace = make_trace(text="to the subscriber")
        await asyncio.to_thread(feed.saved, trace)
        with anyio.fail_after(DEADLINE_S):
            assert await subscription.get() == summarize(trace)
        assert not store.traces_dir.exists()  # pushed mode never touches the directory
    finally:
        await feed.unsubscribe(subscription)
    assert feed._watchers == {}
    assert await subscription.get() is None


async def test_pushed_feed_skips_a_closed_loop(store: TraceStore) -> None:
    feed = TraceFeed(store, watch=False)
    subscription = await feed.subscribe()
    closed = asyncio.new_event_loop()
    closed.close()
    feed._watchers[closed] = feed._watchers[asyncio.get_running_loop()]
    try:
        trace = make_trace()
        feed.saved(trace)  # no error for the closed loop; the live one still gets it
        with anyio.fail_after(DEADLINE_S):
            assert await subscription.get() == summarize(trace)
    finally:
        del feed._watchers[closed]
        await feed.unsubscribe(subscription)


async def test_pushed_feed_closes_a_subscriber_that_falls_behind(store: TraceStore) -> None:
    feed = TraceFeed(store, watch=False, buffer=2)
    slow = await feed.subscribe()
    made = [make_trace(text=str(i)) for i in range(3)]
    for trace in made:
        feed.saved(trace)
    with anyio.fail_after(DEADLINE_S):
        got = [await slow.get(), await slow.get(), await slow.get()]
    assert got[:2] == [summarize(t) for t in made[:2]]
    assert got[2] is None  # closed: its client reconnects and reloads
    await feed.unsubscribe(slow)

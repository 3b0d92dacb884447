"""Streams read in batches while other calls are in flight (``proxy.stream_coalesce_ms``,
:meth:`traceforge_proxy.upstream_pool.PooledResponse.coalesce`).

The pool tests drive a scripted raw upstream that writes each SSE event when the test says
so, so which reads are held is decided by the test, not by the machine's speed: hold periods
are long (0.5 s) where a piece must wait, and pieces are written only after the one before
arrived where they must not. The last tests go through the proxy with the official ``openai``
SDK (and aiohttp for JSON answers), as an app would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from traceforge_proxy.testing import saved_traces
from traceforge_proxy.upstream_connection import UpstreamConnection
from traceforge_proxy.upstream_pool import PooledResponse, UpstreamPool
from traceforge_shared.config import Config, ProxyConfig

from .conftest import MakeProxy, Sdk
from .test_upstream_pool import (
    COMPLETION,
    LONG_STREAM,
    STREAM,
    TIMEOUT,
    RawUpstream,
    Received,
    fetch,
    settle,
    sse_text,
    until,
)

#: The real transcript's SSE events, each with its blank line.
EVENTS = [event + b"\n\n" for event in STREAM.split(b"\n\n") if event]
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
#: Long enough that a held read cannot end before the test looks (a hang guard elsewhere).
HOLD_S = 0.5


def chunk(event: bytes) -> bytes:
    """One chunk of the chunked encoding carrying ``event``."""
    return b"%x\r\n%s\r\n" % (len(event), event)


class Scripted:
    """An upstream answer written piece by piece: :meth:`write` hands the upstream bytes to
    send (``None`` ends the connection's answers)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def answer(self, received: Received, writer: asyncio.StreamWriter) -> bool:
        while (data := await self.queue.get()) is not None:
            writer.write(data)
            await writer.drain()
        return True

    def write(self, data: bytes | None) -> None:
        """Send ``data`` next (``None``: stop answering on this connection)."""
        self.queue.put_nowait(data)


class Reader:
    """Reads a pooled answer's body in a task: ``pieces`` holds each read as it came."""

    def __init__(self, response: PooledResponse) -> None:
        self.pieces: list[bytes] = []
        self.task = asyncio.create_task(self._read(response))

    async def _read(self, response: PooledResponse) -> None:
        async for piece in response.content.iter_any():
            self.pieces.append(piece)

    async def got(self, count: int) -> None:
        """Wait until ``count`` reads arrived."""
        await until(lambda: len(self.pieces) >= count)


def connection_of(response: PooledResponse) -> UpstreamConnection:
    """The pool's connection ``response`` is read on."""
    connection = response._connection
    assert connection.transport is not None
    return connection


@pytest.fixture
async def pool() -> AsyncIterator[UpstreamPool]:
    pool = UpstreamPool(max_connections=10)
    yield pool
    await pool.close()


async def start_stream(
    pool: UpstreamPool, upstream: RawUpstream, script: Scripted, hold_s: float
) -> tuple[PooledResponse, Reader]:
    origin, target = upstream.target()
    script.write(HEAD + chunk(EVENTS[0]))
    response = await pool.request("POST", origin, target, {}, b"{}", TIMEOUT)
    response.coalesce(hold_s)
    reader = Reader(response)
    await reader.got(1)
    return response, reader


async def finish(script: Scripted, reader: Reader, response: PooledResponse) -> bytes:
    script.write(b"".join(chunk(event) for event in EVENTS[4:]) + b"0\r\n\r\n")
    await reader.task
    response.release()
    return b"".join(reader.pieces)


@contextlib.asynccontextmanager
async def another_call_in_flight(pool: UpstreamPool) -> AsyncIterator[None]:
    """While inside: one more request in flight through ``pool``, its answer not yet come;
    on exit it gets an empty answer and is released."""
    other = Scripted()
    async with RawUpstream(other.answer) as waiting:
        origin, target = waiting.target()
        pending = asyncio.create_task(pool.request("POST", origin, target, {}, b"{}", TIMEOUT))
        await until(lambda: pool.in_flight == 1)
        yield
        other.write(HEAD + b"0\r\n\r\n")
        (await pending).release()


async def read_one_by_one(
    script: Scripted, reader: Reader, connection: UpstreamConnection, gap_s: float = 0.0
) -> None:
    """Events 1-3, each written after the one before it arrived (``gap_s`` later); the
    connection reads on after each (none is held)."""
    assert connection.transport is not None
    for index in (1, 2, 3):
        await asyncio.sleep(gap_s)
        script.write(chunk(EVENTS[index]))
        await reader.got(index + 1)
        assert connection.transport.is_reading()


async def test_a_burst_is_read_as_one_piece_while_another_request_is_in_flight(
    pool: UpstreamPool,
) -> None:
    script = Scripted()
    async with RawUpstream(script.answer) as upstream:
        async with another_call_in_flight(pool):
            response, reader = await start_stream(pool, upstream, script, HOLD_S)
            connection = connection_of(response)
            assert connection.transport is not None
            assert connection.transport.is_reading()  # the body's first read: nothing held
            script.write(chunk(EVENTS[1]))
            await reader.got(2)  # soon after the first: a burst, reading stops for HOLD_S
            assert not connection.transport.is_reading()
            script.write(chunk(EVENTS[2]))
            script.write(chunk(EVENTS[3]))
            await settle()
            assert len(reader.pieces) == 2  # both sent, neither read during the hold
            await reader.got(3)
            assert reader.pieces[2] == EVENTS[2] + EVENTS[3]  # one read when the hold ended
            body = await finish(script, reader, response)
        script.write(HEAD + chunk(EVENTS[0]) + b"0\r\n\r\n")
        _, again = await fetch(pool, upstream)  # the held connection is kept alive
    assert body == b"".join(EVENTS)
    assert again == EVENTS[0]
    assert upstream.connections == 1


async def test_a_lone_request_reads_every_piece_as_it_comes(pool: UpstreamPool) -> None:
    script = Scripted()
    async with RawUpstream(script.answer) as upstream:
        response, reader = await start_stream(pool, upstream, script, HOLD_S)
        await read_one_by_one(script, reader, connection_of(response))
        body = await finish(script, reader, response)
    assert reader.pieces[:4] == EVENTS[:4]  # a read per event, none held
    assert body == b"".join(EVENTS)


async def test_pieces_further_apart_than_a_burst_are_not_held(pool: UpstreamPool) -> None:
    script = Scripted()
    async with RawUpstream(script.answer) as upstream, another_call_in_flight(pool):
        # Reads less than 3 x 10 ms apart are a burst; these come 100 ms apart.
        response, reader = await start_stream(pool, upstream, script, 0.01)
        await read_one_by_one(script, reader, connection_of(response), gap_s=0.1)
        body = await finish(script, reader, response)
    assert reader.pieces[:4] == EVENTS[:4]
    assert body == b"".join(EVENTS)


async def test_without_coalescing_a_burst_is_read_as_it_comes(pool: UpstreamPool) -> None:
    script = Scripted()
    async with RawUpstream(script.answer) as upstream, another_call_in_flight(pool):
        response, reader = await start_stream(pool, upstream, script, 0.0)
        await read_one_by_one(script, reader, connection_of(response))
        body = await finish(script, reader, response)
    assert reader.pieces[:4] == EVENTS[:4]
    assert body == b"".join(EVENTS)


async def test_an_answer_abandoned_during_a_hold_closes_its_connection(
    pool: UpstreamPool,
) -> None:
    script = Scripted()
    async with RawUpstream(script.answer) as upstream:
        async with another_call_in_flight(pool):
            response, reader = await start_stream(pool, upstream, script, 0.05)
            connection = connection_of(response)
            script.write(chunk(EVENTS[1]))
            await reader.got(2)
            assert connection._held is not None
            reader.task.cancel()
            response.close()  # the client hung up mid-stream
            assert connection._held is None  # the hold's timer is cancelled with it
            await asyncio.sleep(0.1)  # past the hold: nothing resumes a closed connection
            script.write(None)  # the upstream's side of that connection ends too
            await until(lambda: upstream.closed == 1)
        assert pool.in_flight == 0
        script.write(HEAD + chunk(EVENTS[0]) + b"0\r\n\r\n")
        _, again = await fetch(pool, upstream)  # a new connection for the next request
    assert connection.closed
    assert again == EVENTS[0]
    assert upstream.connections == 2


# -- through the proxy -----------------------------------------------------------------------


@pytest.fixture
def holds(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The hold period of every hold that ended (the pool used, not aiohttp's client)."""
    monkeypatch.delenv("TRACEFORGE_UPSTREAM_CLIENT", raising=False)
    ended: list[float] = []
    real_unhold = UpstreamConnection._unhold

    def counting_unhold(self: UpstreamConnection) -> None:
        ended.append(self.hold_s)
        real_unhold(self)

    monkeypatch.setattr(UpstreamConnection, "_unhold", counting_unhold)
    return ended


@contextlib.asynccontextmanager
async def upstream_for_two_calls(
    content_type: str, pieces: list[bytes], *, pause_every: int = 0
) -> AsyncIterator[str]:
    """An aiohttp upstream (its API base yielded) that answers each of two calls, once both
    arrived (both in flight while either answers), with ``pieces`` written back to back,
    pausing 10 ms after every ``pause_every`` of them (0: never)."""
    both_arrived = asyncio.Event()
    arrived = 0

    async def answer(request: web.Request) -> web.StreamResponse:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both_arrived.set()
        await both_arrived.wait()
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        for index, piece in enumerate(pieces, 1):
            await response.write(piece)
            if pause_every and index % pause_every == 0:
                await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}/v1"
    finally:
        await server.close()


async def test_concurrent_json_answers_are_never_held(
    make_proxy: MakeProxy, holds: list[float]
) -> None:
    completion = json.loads(COMPLETION)
    completion["padding"] = "x" * 600_000  # several socket reads, written back to back
    body = json.dumps(completion).encode()
    pieces = [body[start : start + 16_384] for start in range(0, len(body), 16_384)]
    async with upstream_for_two_calls("application/json", pieces) as base_url:
        service = await make_proxy(base_url=base_url)
        request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        async with aiohttp.ClientSession() as session:

            async def call() -> bytes:
                async with session.post(f"{service.url}/chat/completions", json=request) as r:
                    assert r.status == 200
                    return await r.read()

            answers = await asyncio.gather(call(), call())
        await saved_traces(service, expected=2)
    assert list(answers) == [body, body]
    assert holds == []  # only streams are read in batches


# 50 ms (reads less than 150 ms apart are a burst) so that a busy test machine's slower reads
# are still a burst; the default's 1 ms is the same code with a shorter timer.
@pytest.mark.parametrize("coalesce_ms", [50.0, 0.0])
async def test_concurrent_sdk_streams_arrive_whole_and_are_recorded_chunk_by_chunk(
    coalesce_ms: float, make_proxy: MakeProxy, sdk: Sdk, holds: list[float]
) -> None:
    events = [event + b"\n\n" for event in LONG_STREAM.split(b"\n\n") if event]
    # Back to back, in groups 10 ms apart: a burst of several reads however busy the machine.
    async with upstream_for_two_calls("text/event-stream", events, pause_every=60) as base_url:
        config = Config(proxy=ProxyConfig(stream_coalesce_ms=coalesce_ms))
        service = await make_proxy(base_url=base_url, config=config)
        client = sdk(service)

        async def call(n: int) -> str:
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": f"{n}"}], stream=True
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        texts = await asyncio.gather(call(1), call(2))
        traces = await saved_traces(service, expected=2)
    assert list(texts) == [sse_text(LONG_STREAM)] * 2
    data_events = [event for event in events if event.startswith(b"data: ")]
    for trace in traces:
        assert trace.metadata.status_code == 200
        assert len(trace.chunks) == len(data_events)  # each event its own chunk
        offsets = [c.offset_ms for c in trace.chunks]
        assert offsets == sorted(offsets)
    if coalesce_ms:
        assert holds and set(holds) == {coalesce_ms / 1000}
    else:
        assert holds == []

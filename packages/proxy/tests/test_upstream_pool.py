"""The upstream connection pool (:mod:`traceforge_proxy.upstream_pool`): kept-alive HTTP/1.1
connections, answers parsed by llhttp, at most ``max_connections`` requests in flight.

Most tests drive :meth:`UpstreamPool.request` against a raw asyncio TCP upstream that writes
scripted bytes (real OpenAI transcripts from ``tests/data/provider-streams``, framed by the
test), so every framing and failure the pool must handle is produced exactly. The first tests
go through the proxy with the official ``openai`` SDK, as an app would.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiohttp
import pytest
from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.test_utils import TestServer

from traceforge_proxy import upstream_pool
from traceforge_proxy.testing import saved_traces
from traceforge_proxy.testing_cassettes import closed_port
from traceforge_proxy.upstream_pool import (
    READ_HIGH_WATER,
    Origin,
    PooledResponse,
    UnsafeHeaderError,
    UpstreamConnectError,
    UpstreamPool,
    pool_request_target,
)

from .conftest import MakeProxy, Sdk

DATA = Path(__file__).parent / "data" / "provider-streams" / "openai-chat"
#: A real chat completion (vercel/ai ``openai-text.json``, see the data README).
COMPLETION = (DATA / "completion.json").read_bytes()
#: A real SSE stream, 31 content deltas (openai-python inline snapshot, byte-exact).
STREAM = (DATA / "stream-text-usage.sse").read_bytes()
#: A real 302-chunk SSE stream, 100 KB (vercel/ai ``openai-text.chunks.txt``, reframed).
LONG_STREAM = (DATA / "stream-text-usage-2026.sse").read_bytes()

TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=10.0)
#: asyncio's selector transport reads at most this many bytes per ``recv``.
SOCKET_READ_MAX = 256 * 1024


# -- a raw upstream on a real socket ------------------------------------------------------------


@dataclass
class Received:
    """One request as the upstream read it: the connection it came on (0: the first one
    accepted), its head (request line and headers, blank line included) and body."""

    connection: int
    head: bytes
    body: bytes

    @property
    def request_line(self) -> str:
        """``METHOD target HTTP/1.1``."""
        return self.head.split(b"\r\n", 1)[0].decode()

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The headers in the order sent, names as sent."""
        lines = self.head.decode().split("\r\n")[1:]
        return [(name, value.strip()) for name, _, value in (x.partition(":") for x in lines if x)]


#: Writes the answer to a request; ``True``: read the next request on that connection.
Answer = Callable[[Received, asyncio.StreamWriter], Awaitable[bool]]


class RawUpstream:
    """An HTTP/1.1 upstream on a loopback port that reads each request (``Content-Length``
    framed) and lets ``answer`` write whatever bytes it wants. ``async with`` starts and stops
    it; every connection it accepted is closed on exit.

    Attributes:
        requests: every request read, in order.
        connections: connections accepted so far.
        closed: connections over (either side closed them).
    """

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[Received] = []
        self.connections = 0
        self.closed = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RawUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    def target(
        self, path: str = "/v1/chat/completions", method: str = "POST"
    ) -> tuple[Origin, str]:
        """The pool's origin and request target for ``method`` ``path`` on this upstream."""
        where = pool_request_target(f"http://127.0.0.1:{self.port}{path}", method)
        assert where is not None
        return where

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection = self.connections
        self.connections += 1
        try:
            while True:
                received = await _read_request(reader, connection)
                if received is None:
                    break
                self.requests.append(received)
                if not await self.answer(received, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # stopped by __aexit__ (asyncio's stream callback logs a cancelled handler)
        finally:
            writer.close()
            self._tasks.discard(task)
            self.closed += 1


async def _read_request(reader: asyncio.StreamReader, connection: int) -> Received | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed the connection
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return Received(connection, head, await reader.readexactly(length))


def http_answer(
    body: bytes,
    *,
    status: str = "200 OK",
    headers: Sequence[str] = ("Content-Type: application/json",),
    framing: Literal["length", "chunked", "close"] = "length",
    version: str = "HTTP/1.1",
) -> bytes:
    """An answer's bytes: ``body`` framed by ``Content-Length``, by chunked encoding (one
    chunk per SSE event, as OpenAI's servers send them) or by nothing (ended by the close)."""
    lines = [f"{version} {status}", *headers]
    if framing == "length":
        lines.append(f"Content-Length: {len(body)}")
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        body = chunked(body)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(body: bytes) -> bytes:
    """``body`` in HTTP/1.1 chunked encoding (RFC 9112 §7.1), one chunk per SSE event."""
    events = [event + b"\n\n" for event in body.split(b"\n\n") if event]
    assert b"".join(events) == body
    return b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events) + b"0\r\n\r\n"


def replies(data: bytes, *, keep: bool = True) -> Answer:
    """An answer writing ``data`` to every request; ``keep=False``: then close."""

    async def answer(received: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        await writer.drain()
        return keep

    return answer


async def echo(received: Received, writer: asyncio.StreamWriter) -> bool:
    """Answer every request with its own body (the answers of concurrent requests must not
    cross)."""
    writer.write(http_answer(received.body))
    await writer.drain()
    return True


async def read_body(response: PooledResponse) -> bytes:
    """The whole body; the response is closed if reading fails (as the proxy's handler does)."""
    try:
        pieces = [piece async for piece in response.content.iter_any()]
    except BaseException:
        response.close()
        raise
    return b"".join(pieces)


async def read_into(response: PooledResponse, received: bytearray) -> None:
    """Read the body into ``received`` (what arrived stays there when the read fails)."""
    async for piece in response.content.iter_any():
        received += piece


async def fetch(
    pool: UpstreamPool,
    upstream: RawUpstream,
    body: bytes = b"{}",
    *,
    method: str = "POST",
    path: str = "/v1/chat/completions",
    headers: Mapping[str, str] | None = None,
    client_timeout: aiohttp.ClientTimeout = TIMEOUT,
) -> tuple[PooledResponse, bytes]:
    """Send one request through ``pool``, read its answer whole and release it."""
    origin, target = upstream.target(path, method)
    response = await pool.request(method, origin, target, headers or {}, body, client_timeout)
    data = await read_body(response)
    response.release()
    return response, data


async def until(condition: Callable[[], bool], limit_s: float = 10.0) -> None:
    """Wait for ``condition`` (the other side's event loop callbacks to run); ``limit_s`` is a
    hang guard, not a timing assertion."""
    async with asyncio.timeout(limit_s):
        while not condition():  # noqa: ASYNC110 (state changed by callbacks, no event to wait on)
            await asyncio.sleep(0.001)


async def settle() -> None:
    """Let the loop run a while: what a wrong pool would do (send a request too many, read an
    idle socket's close) happens now."""
    await asyncio.sleep(0.05)


def sse_text(transcript: bytes) -> str:
    """The content deltas of a chat completion SSE transcript, joined."""
    text = []
    for line in transcript.split(b"\n"):
        if line.startswith(b"data: {"):
            for choice in json.loads(line[len(b"data: ") :])["choices"]:
                text.append(choice["delta"].get("content") or "")
    return "".join(text)


@pytest.fixture
async def pool() -> AsyncIterator[UpstreamPool]:
    pool = UpstreamPool(max_connections=10)
    yield pool
    await pool.close()


# -- 1. through the proxy, with the openai SDK ----------------------------------------------------


@pytest.mark.parametrize("client", ["pool", "aiohttp"])
async def test_sequential_calls_through_the_proxy_share_one_upstream_connection(
    client: str, make_proxy: MakeProxy, sdk: Sdk, monkeypatch: pytest.MonkeyPatch
) -> None:
    if client == "aiohttp":
        monkeypatch.setenv("TRACEFORGE_UPSTREAM_CLIENT", "aiohttp")
    else:
        monkeypatch.delenv("TRACEFORGE_UPSTREAM_CLIENT", raising=False)
    pooled: list[str] = []  # the targets the pool sent (a spy: the real request runs)
    real_request = UpstreamPool.request

    async def spy(
        self: UpstreamPool,
        method: str,
        origin: Origin,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        client_timeout: aiohttp.ClientTimeout,
    ) -> PooledResponse:
        pooled.append(target)
        return await real_request(self, method, origin, target, headers, body, client_timeout)

    monkeypatch.setattr(UpstreamPool, "request", spy)
    peers: list[int] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername")[1])
        if not (await request.json()).get("stream"):
            return web.Response(body=COMPLETION, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)  # chunked: the pool must find the stream's end
        for event in STREAM.split(b"\n\n")[:-1]:
            await response.write(event + b"\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        service = await make_proxy(base_url=f"http://127.0.0.1:{server.port}/v1")
        openai_client = sdk(service)
        expected_completion = json.loads(COMPLETION)["choices"][0]["message"]["content"]
        for call in range(6):
            if call % 2:
                stream = await openai_client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": f"{call}"}], stream=True
                )
                text = "".join(
                    [
                        chunk.choices[0].delta.content or ""
                        async for chunk in stream
                        if chunk.choices
                    ]
                )
                assert text == sse_text(STREAM)
            else:
                completion = await openai_client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": f"{call}"}]
                )
                assert completion.choices[0].message.content == expected_completion
        traces = await saved_traces(service, expected=6)
    finally:
        await server.close()
    assert [trace.metadata.status_code for trace in traces] == [200] * 6
    assert len(peers) == 6
    assert len(set(peers)) == 1  # one upstream connection, kept alive across the six calls
    assert pooled == ([] if client == "aiohttp" else ["/v1/chat/completions"] * 6)


# -- 2. the pool against scripted bytes -----------------------------------------------------------


async def test_chunked_sse_answer_arrives_whole_and_byte_identical(pool: UpstreamPool) -> None:
    wire = http_answer(
        LONG_STREAM, headers=("Content-Type: text/event-stream; charset=utf-8",), framing="chunked"
    )

    async def dribble(received: Received, writer: asyncio.StreamWriter) -> bool:
        for start in range(0, len(wire), 997):  # chunk-size lines split across reads
            writer.write(wire[start : start + 997])
            await writer.drain()
            await asyncio.sleep(0)
        return True

    async with RawUpstream(dribble) as upstream:
        first, body = await fetch(pool, upstream)
        assert first.status == 200
        assert first.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert first.headers["Transfer-Encoding"] == "chunked"
        assert body == LONG_STREAM
        _, again = await fetch(pool, upstream)
    assert again == LONG_STREAM
    assert upstream.connections == 1  # the chunked answer's end was found: connection kept


async def test_answer_ended_by_the_close_is_read_whole_and_not_reused(pool: UpstreamPool) -> None:
    async with RawUpstream(replies(http_answer(COMPLETION, framing="close"), keep=False)) as up:
        response, body = await fetch(pool, up)
        assert response.status == 200
        assert body == COMPLETION
        _, again = await fetch(pool, up)
    assert again == COMPLETION
    assert up.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        http_answer(COMPLETION, headers=("Content-Type: application/json", "Connection: close")),
        http_answer(COMPLETION, version="HTTP/1.0"),
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_an_answer_that_closes_the_connection_is_not_reused(
    pool: UpstreamPool, answer: bytes
) -> None:
    # The upstream keeps the socket open and would answer a second request on it: only the
    # pool's reading of the head keeps it from doing so.
    async with RawUpstream(replies(answer)) as upstream:
        _, first = await fetch(pool, upstream)
        _, second = await fetch(pool, upstream)
    assert first == second == COMPLETION
    assert [r.connection for r in upstream.requests] == [0, 1]


async def test_no_content_without_length_is_complete_and_keeps_the_connection(
    pool: UpstreamPool,
) -> None:
    async with RawUpstream(replies(b"HTTP/1.1 204 No Content\r\nX-Id: 1\r\n\r\n")) as upstream:
        response, body = await fetch(pool, upstream, method="DELETE", path="/v1/files/f")
        _, again = await fetch(pool, upstream, method="DELETE", path="/v1/files/f")
    assert (response.status, response.headers["X-Id"], body, again) == (204, "1", b"", b"")
    assert upstream.connections == 1


async def test_100_continue_is_skipped_for_the_final_answer(pool: UpstreamPool) -> None:
    async def interim_then_answer(received: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.01)  # the interim head arrives in a read of its own
        writer.write(http_answer(COMPLETION, headers=("Content-Type: application/json",)))
        await writer.drain()
        return True

    async with RawUpstream(interim_then_answer) as upstream:
        response, body = await fetch(pool, upstream)
        _, again = await fetch(pool, upstream)
    assert response.status == 200
    assert "X-Interim" not in response.headers
    assert sorted(response.headers) == ["Content-Length", "Content-Type"]
    assert body == again == COMPLETION
    assert upstream.connections == 1


async def test_upstream_closing_before_the_answer_is_a_server_disconnect() -> None:
    pool = UpstreamPool(max_connections=1)
    try:
        async with RawUpstream(replies(b"", keep=False)) as upstream:
            origin, target = upstream.target()
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await pool.request("POST", origin, target, {}, b"{}", TIMEOUT)
            with pytest.raises(aiohttp.ServerDisconnectedError):  # the turn was given back
                await pool.request("POST", origin, target, {}, b"{}", TIMEOUT)
        assert upstream.connections == 2
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("cut", "body"),
    [
        (http_answer(COMPLETION)[:-100], COMPLETION),
        (http_answer(STREAM, framing="chunked")[:-200], STREAM),
        (http_answer(STREAM, framing="chunked")[:-5], STREAM),  # every event, no last chunk
    ],
    ids=["content-length", "chunked-mid-event", "chunked-no-last-chunk"],
)
async def test_upstream_closing_mid_body_is_a_payload_error(cut: bytes, body: bytes) -> None:
    pool = UpstreamPool(max_connections=1)
    try:
        async with RawUpstream(replies(cut, keep=False)) as upstream:
            origin, target = upstream.target()
            response = await pool.request("POST", origin, target, {}, b"{}", TIMEOUT)
            assert response.status == 200
            received = bytearray()
            with pytest.raises(aiohttp.ClientPayloadError):
                await read_into(response, received)
            response.close()
            with pytest.raises(aiohttp.ClientPayloadError):  # the turn was given back
                await fetch(pool, upstream)
    finally:
        await pool.close()
    # Every byte of the body the upstream sent arrived before the error.
    assert len(received) > len(body) - 300
    assert body.startswith(bytes(received))


async def test_malformed_answer_head_is_a_client_error_and_closes_the_connection() -> None:
    pool = UpstreamPool(max_connections=1)
    try:
        async with RawUpstream(replies(b"NOT HTTP AT ALL\r\n\r\n")) as upstream:
            origin, target = upstream.target()
            with pytest.raises(aiohttp.ClientError):
                await pool.request("POST", origin, target, {}, b"{}", TIMEOUT)
            await until(lambda: upstream.closed == 1)  # the pool closed the connection
            with pytest.raises(aiohttp.ClientError):  # the turn was given back
                await pool.request("POST", origin, target, {}, b"{}", TIMEOUT)
    finally:
        await pool.close()


async def test_no_answer_within_sock_read_is_a_socket_timeout(pool: UpstreamPool) -> None:
    release = asyncio.Event()

    async def silent(received: Received, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        return False

    short = aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=0.2)
    async with RawUpstream(silent) as upstream:
        origin, target = upstream.target()
        try:
            with pytest.raises(aiohttp.SocketTimeoutError):
                await pool.request("POST", origin, target, {}, b"{}", short)
        finally:
            release.set()


async def test_a_stalled_body_is_a_socket_timeout(pool: UpstreamPool) -> None:
    release = asyncio.Event()
    events = STREAM.split(b"\n\n")

    async def stalls(received: Received, writer: asyncio.StreamWriter) -> bool:
        wire = http_answer(STREAM, framing="chunked")
        writer.write(wire[: wire.index(events[0]) + len(events[0]) + 50])  # head, first event
        await writer.drain()
        await release.wait()
        return False

    short = aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=0.5)
    async with RawUpstream(stalls) as upstream:
        origin, target = upstream.target()
        response = await pool.request("POST", origin, target, {}, b"{}", short)
        received = bytearray()
        try:
            with pytest.raises(aiohttp.SocketTimeoutError):
                await read_into(response, received)
        finally:
            response.close()
            release.set()
    assert STREAM.startswith(bytes(received))
    assert received.startswith(events[0])


async def test_refused_port_is_a_connect_error_naming_host_and_port() -> None:
    pool = UpstreamPool(max_connections=1)
    port = closed_port()
    where = pool_request_target(f"http://127.0.0.1:{port}/v1/chat/completions", "POST")
    assert where is not None
    try:
        for _ in range(2):  # the second attempt gets a turn: the first gave its back
            with pytest.raises(UpstreamConnectError) as info:
                async with asyncio.timeout(10):
                    await pool.request("POST", *where, {}, b"{}", TIMEOUT)
            assert f"127.0.0.1:{port}" in str(info.value)
            assert isinstance(info.value, aiohttp.ClientConnectionError)
    finally:
        await pool.close()


async def test_an_idle_connection_the_upstream_closed_is_not_used(pool: UpstreamPool) -> None:
    # The answer says keep-alive, then the upstream closes the idle connection.
    async with RawUpstream(replies(http_answer(COMPLETION), keep=False)) as upstream:
        _, first = await fetch(pool, upstream)
        await until(lambda: upstream.closed == 1)
        await settle()
        _, second = await fetch(pool, upstream)
    assert first == second == COMPLETION
    assert upstream.connections == 2


async def test_a_connection_idle_past_keepalive_is_not_used(
    pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upstream_pool, "KEEPALIVE_S", 0.0)
    async with RawUpstream(replies(http_answer(COMPLETION))) as upstream:
        await fetch(pool, upstream)
        await asyncio.sleep(0.01)  # the loop's clock moves past the (zero) keep-alive
        await fetch(pool, upstream)
        await until(lambda: upstream.closed == 1)  # the pool closed the stale connection
    assert [r.connection for r in upstream.requests] == [0, 1]


async def test_at_most_max_connections_requests_are_in_flight() -> None:
    turns = asyncio.Semaphore(0)
    active = peak = 0

    async def held(received: Received, writer: asyncio.StreamWriter) -> bool:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await turns.acquire()
        active -= 1
        return await echo(received, writer)

    pool = UpstreamPool(max_connections=2)
    try:
        async with RawUpstream(held) as upstream:
            bodies = [b'{"call": %d}' % i for i in range(5)]
            calls = [asyncio.create_task(fetch(pool, upstream, body)) for body in bodies]
            for answered in range(5):
                in_flight = min(answered + 2, 5)
                await until(lambda: len(upstream.requests) == in_flight)  # noqa: B023
                await settle()
                assert len(upstream.requests) == in_flight  # no third request went out
                turns.release()
            results = await asyncio.gather(*calls)
    finally:
        await pool.close()
    assert peak == 2
    assert [body for _, body in results] == bodies  # each call got its own answer
    assert upstream.connections == 2  # the later calls took the kept connections


async def test_a_request_cancelled_while_waiting_for_a_turn_gives_none_away() -> None:
    turns = asyncio.Semaphore(0)

    async def held(received: Received, writer: asyncio.StreamWriter) -> bool:
        await turns.acquire()
        return await echo(received, writer)

    pool = UpstreamPool(max_connections=1)
    try:
        async with RawUpstream(held) as upstream:
            first = asyncio.create_task(fetch(pool, upstream, b"first"))
            await until(lambda: len(upstream.requests) == 1)
            cancelled = asyncio.create_task(fetch(pool, upstream, b"cancelled"))
            waiting = asyncio.create_task(fetch(pool, upstream, b"waiting"))
            await settle()  # both wait their turn
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            turns.release()
            assert (await first)[1] == b"first"
            turns.release()
            async with asyncio.timeout(10):
                assert (await waiting)[1] == b"waiting"
            turns.release()
            async with asyncio.timeout(10):
                assert (await fetch(pool, upstream, b"later"))[1] == b"later"
    finally:
        await pool.close()
    assert [r.body for r in upstream.requests] == [b"first", b"waiting", b"later"]


async def test_a_request_cancelled_just_after_getting_its_turn_passes_it_on() -> None:
    pool = UpstreamPool(max_connections=1)
    try:
        async with RawUpstream(echo) as upstream:
            origin, target = upstream.target()
            first = await pool.request("POST", origin, target, {}, b"first", TIMEOUT)
            given = asyncio.create_task(fetch(pool, upstream, b"given"))
            other = asyncio.create_task(fetch(pool, upstream, b"other"))
            await settle()  # both wait their turn, ``given`` first
            assert await read_body(first) == b"first"
            first.release()  # the turn goes to ``given``...
            given.cancel()  # ...which is cancelled before it runs: it must pass the turn on
            with pytest.raises(asyncio.CancelledError):
                await given
            async with asyncio.timeout(10):
                assert (await other)[1] == b"other"
                assert (await fetch(pool, upstream, b"later"))[1] == b"later"
    finally:
        await pool.close()
    assert [r.body for r in upstream.requests] == [b"first", b"other", b"later"]


async def test_a_slow_reader_pauses_the_upstream_and_gets_the_whole_body(
    pool: UpstreamPool,
) -> None:
    big = (LONG_STREAM * (4 * 1024 * 1024 // len(LONG_STREAM) + 1))[: 4 * 1024 * 1024]
    async with RawUpstream(replies(http_answer(big))) as upstream:
        origin, target = upstream.target()
        response = await pool.request("POST", origin, target, {}, b"{}", TIMEOUT)
        pieces: list[bytes] = []
        await settle()  # the upstream has written all it could meanwhile
        async for piece in response.content.iter_any():
            pieces.append(piece)
            await asyncio.sleep(0.002)  # a slow client
        response.release()
        _, again = await fetch(pool, upstream)  # the connection is reusable after a pause
    assert b"".join(pieces) == big
    # Reading stopped at the high-water mark: what waited for the reader never exceeded it by
    # more than one socket read (without the pause it would be most of the 4 MiB).
    assert max(len(piece) for piece in pieces) < READ_HIGH_WATER + SOCKET_READ_MAX
    assert len(pieces) > 4 * 1024 * 1024 // (READ_HIGH_WATER + SOCKET_READ_MAX)
    assert again == big
    assert upstream.connections == 1


async def test_the_request_as_the_upstream_receives_it(pool: UpstreamPool) -> None:
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    async with RawUpstream(echo) as upstream:
        await fetch(
            pool,
            upstream,
            body.encode(),
            path="/openai/deployments/d/chat/completions?api-version=2024-10-21#fragment",
            headers={
                "Authorization": "Bearer sk-x",
                "content-type": "application/json",
                "X-Stainless-Lang": "python",
                "Accept-Encoding": "gzip, deflate",
            },
        )
        large = bytes(range(256)) * 400  # 100 KiB: head and body in two writes
        _, echoed = await fetch(pool, upstream, large, method="PUT", path="/v1/files")
    first, second = upstream.requests
    assert first.request_line == (
        "POST /openai/deployments/d/chat/completions?api-version=2024-10-21 HTTP/1.1"
    )
    assert sorted(first.headers) == sorted(
        [
            ("Host", f"127.0.0.1:{upstream.port}"),
            ("Authorization", "Bearer sk-x"),
            ("content-type", "application/json"),
            ("X-Stainless-Lang", "python"),
            ("Accept-Encoding", "gzip, deflate"),
            ("Accept", "*/*"),
            ("User-Agent", SERVER_SOFTWARE),
            ("Content-Length", str(len(body.encode()))),
        ]
    )
    assert first.body == body.encode()
    assert second.request_line == "PUT /v1/files HTTP/1.1"
    assert ("Content-Type", "application/octet-stream") in second.headers
    assert ("Content-Length", str(len(large))) in second.headers
    assert second.body == echoed == large


async def test_the_callers_accept_and_user_agent_replace_the_defaults(pool: UpstreamPool) -> None:
    async with RawUpstream(echo) as upstream:
        await fetch(
            pool,
            upstream,
            headers={"accept": "text/event-stream", "USER-AGENT": "OpenAI/Python 1.0"},
        )
    names = [name.lower() for name, _ in upstream.requests[0].headers]
    assert sorted(names) == ["accept", "content-length", "content-type", "host", "user-agent"]
    assert ("accept", "text/event-stream") in upstream.requests[0].headers
    assert ("USER-AGENT", "OpenAI/Python 1.0") in upstream.requests[0].headers


#: ``(method, body, caller's headers)`` sent by the app's aiohttp session and by the pool.
PARITY_CASES = [
    pytest.param("POST", b'{"a": 1}', {}, id="post-body"),
    pytest.param(
        "POST",
        b'{"a": 1}',
        {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "x/1"},
        id="post-body-typed",
    ),
    pytest.param("GET", b"", {}, id="get"),
    pytest.param("DELETE", b'{"a": 1}', {}, id="delete-body"),
    pytest.param("POST", b"", {}, id="post-empty"),
    pytest.param("PUT", b"", {}, id="put-empty"),
    pytest.param("PATCH", b"", {"Content-Type": "application/json"}, id="patch-empty-typed"),
    pytest.param("DELETE", b"", {}, id="delete-empty"),
    pytest.param("GET", b"{}", {}, id="get-body"),
]


@pytest.mark.parametrize(("method", "body", "headers"), PARITY_CASES)
async def test_the_pool_sends_the_headers_aiohttp_sent(
    pool: UpstreamPool, method: str, body: bytes, headers: dict[str, str]
) -> None:
    headers = {**headers, "Authorization": "Bearer sk-x", "Accept-Encoding": "identity"}
    async with RawUpstream(echo) as upstream:
        url = f"http://127.0.0.1:{upstream.port}/v1/things?limit=2"
        async with (
            aiohttp.ClientSession(  # as the proxy's app session (app.py)
                auto_decompress=False, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
            ) as session,
            session.request(
                method, url, data=body or None, headers=headers, allow_redirects=False
            ) as answer,
        ):
            await answer.read()
        await fetch(pool, upstream, body, method=method, path="/v1/things?limit=2", headers=headers)
    by_aiohttp, by_pool = upstream.requests
    assert by_pool.request_line == by_aiohttp.request_line
    assert sorted(by_pool.headers) == sorted(by_aiohttp.headers)
    assert by_pool.body == by_aiohttp.body == body


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("http://127.0.0.1:8080/v1/models", "HEAD"),
        ("http://127.0.0.1:8080/v1/models", "OPTIONS"),
        ("http://user:pw@127.0.0.1:8080/v1/models", "GET"),
        ("https://key@api.example.com/v1/models", "GET"),
        ("ftp://127.0.0.1/v1/models", "GET"),
        ("127.0.0.1:8080/v1/models", "GET"),
        ("http://127.0.0.1:8080?x=1", "GET"),
        ("http://127.0.0.1:notaport/v1", "GET"),
    ],
)
def test_what_the_pool_leaves_to_aiohttp(url: str, method: str) -> None:
    assert pool_request_target(url, method) is None


@pytest.mark.parametrize(
    ("url", "origin", "target"),
    [
        (
            "http://127.0.0.1:8080/v1/chat/completions?x=1#top",
            Origin(False, "127.0.0.1", 8080, "127.0.0.1:8080"),
            "/v1/chat/completions?x=1",
        ),
        (
            "https://api.openai.com/v1/responses",
            Origin(True, "api.openai.com", 443, "api.openai.com"),
            "/v1/responses",
        ),
        ("http://localhost", Origin(False, "localhost", 80, "localhost"), "/"),
        ("http://[::1]:11434/api/chat", Origin(False, "::1", 11434, "[::1]:11434"), "/api/chat"),
    ],
)
def test_origin_and_target_of_a_pooled_url(url: str, origin: Origin, target: str) -> None:
    assert pool_request_target(url, "POST") == (origin, target)


@pytest.mark.parametrize(
    "headers",
    [{"X-Meta": "a\r\nInjected: yes"}, {"X-Meta": "a\nb"}, {"X-Bad\r\nInjected": "yes"}],
)
async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(
    headers: dict[str, str],
) -> None:
    pool = UpstreamPool(max_connections=1)
    try:
        async with RawUpstream(echo) as upstream:
            origin, target = upstream.target()
            with pytest.raises(UnsafeHeaderError):
                await pool.request("POST", origin, target, headers, b"{}", TIMEOUT)
            assert upstream.connections == 0
            async with asyncio.timeout(10):  # no turn was taken
                _, body = await fetch(pool, upstream, b"after")
    finally:
        await pool.close()
    assert body == b"after"
    assert [r.body for r in upstream.requests] == [b"after"]


async def test_a_closed_pool_refuses_requests() -> None:
    pool = UpstreamPool(max_connections=1)
    async with RawUpstream(echo) as upstream:
        await fetch(pool, upstream)
        await pool.close()
        await until(lambda: upstream.closed == 1)  # the idle connection was closed
        with pytest.raises(aiohttp.ClientConnectionError):
            await fetch(pool, upstream)
    assert upstream.connections == 1


async def test_an_answer_released_before_its_end_closes_the_connection(pool: UpstreamPool) -> None:
    release = asyncio.Event()

    async def partial(received: Received, writer: asyncio.StreamWriter) -> bool:
        wire = http_answer(STREAM, framing="chunked")
        writer.write(wire[: len(wire) // 2])
        await writer.drain()
        await release.wait()
        writer.write(wire[len(wire) // 2 :])
        await writer.drain()
        return True  # would answer a next request on this connection

    async with RawUpstream(partial) as upstream:
        origin, target = upstream.target()
        response = await pool.request("POST", origin, target, {}, b"{}", TIMEOUT)
        response.release()  # not read to the end (the proxy's client went away)
        release.set()
        await until(lambda: upstream.closed == 1)  # the pool closed the connection
        _, body = await fetch(pool, upstream)
    assert body == STREAM
    assert [r.connection for r in upstream.requests] == [0, 1]


async def test_a_request_cancelled_before_the_answer_closes_its_connection() -> None:
    release = asyncio.Event()

    async def held(received: Received, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        return await echo(received, writer)

    pool = UpstreamPool(max_connections=1)
    try:
        async with RawUpstream(held) as upstream:
            waiting = asyncio.create_task(fetch(pool, upstream, b"gone"))
            await until(lambda: len(upstream.requests) == 1)
            waiting.cancel()  # the proxy's client hung up before the upstream answered
            with pytest.raises(asyncio.CancelledError):
                await waiting
            release.set()
            await until(lambda: upstream.closed == 1)  # its connection was closed
            async with asyncio.timeout(10):  # and its turn given back
                _, body = await fetch(pool, upstream, b"next")
    finally:
        await pool.close()
    assert body == b"next"
    assert [(r.connection, r.body) for r in upstream.requests] == [(0, b"gone"), (1, b"next")]


async def test_a_body_ended_by_a_reset_is_a_payload_error(pool: UpstreamPool) -> None:
    async def reset(received: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(http_answer(COMPLETION, framing="close")[:-500])
        await writer.drain()
        await asyncio.sleep(0.05)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST, not FIN: the body did not end, it broke
        return False

    async with RawUpstream(reset) as upstream:
        origin, target = upstream.target()
        response = await pool.request("POST", origin, target, {}, b"{}", TIMEOUT)
        received = bytearray()
        with pytest.raises(aiohttp.ClientPayloadError):
            await read_into(response, received)
        response.close()
    assert COMPLETION.startswith(bytes(received))


async def test_chunked_trailers_and_repeated_headers(pool: UpstreamPool) -> None:
    wire = http_answer(
        STREAM,
        headers=("Content-Type: text/event-stream", "Set-Cookie: a=1", "Set-Cookie: b=2"),
        framing="chunked",
    )
    assert wire.endswith(b"0\r\n\r\n")
    wire = wire[:-2] + b"X-Checksum: abc\r\n\r\n"  # a trailer after the last chunk
    async with RawUpstream(replies(wire)) as upstream:
        response, body = await fetch(pool, upstream)
        _, again = await fetch(pool, upstream)
    assert body == again == STREAM
    assert response.headers.getall("Set-Cookie") == ["a=1", "b=2"]
    assert "X-Checksum" not in response.headers
    assert upstream.connections == 1


async def test_an_answer_in_flight_when_the_pool_closes_closes_its_connection() -> None:
    pool = UpstreamPool(max_connections=1)
    async with RawUpstream(echo) as upstream:
        origin, target = upstream.target()
        response = await pool.request("POST", origin, target, {}, b"{}", TIMEOUT)
        await pool.close()  # the proxy stops while a call is still being relayed
        assert await read_body(response) == b"{}"
        response.release()
        await until(lambda: upstream.closed == 1, limit_s=2.0)

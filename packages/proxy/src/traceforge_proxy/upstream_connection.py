"""One kept-alive HTTP/1.1 connection to an upstream and the answer read on it, for
:mod:`~traceforge_proxy.upstream_pool`: the request written in one write, the answer parsed
by llhttp (`httptools <https://github.com/MagicStack/httptools>`_) as it arrives, bodies framed
by length, chunked encoding or the connection's close, reading paused while the handler has
not taken :data:`READ_HIGH_WATER` bytes. Failures are aiohttp's exception types (see the
pool's module docstring).

A streamed answer can be read in batches (:meth:`PooledResponse.coalesce`): while the
upstream sends a burst (reads less than :data:`BURST_HOLDS` hold periods apart) and another
request is in flight through the pool, reading pauses for one hold period after each read,
so what the upstream sent meanwhile arrives as one read. Each read then costs the proxy one
relay step and the client one write instead of one per piece, and the upstream's sends do not
each wake the proxy; pieces sent further apart, and a lone call's, are read as they come.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, NamedTuple

import aiohttp
import httptools
from multidict import CIMultiDict, CIMultiDictProxy

if TYPE_CHECKING:
    from traceforge_proxy.upstream_pool import UpstreamPool

#: Bytes read but not yet taken by the handler at which the connection stops reading.
READ_HIGH_WATER = 256 * 1024

#: A body read less than this many hold periods after the one before it is part of a burst
#: (:meth:`PooledResponse.coalesce`).
BURST_HOLDS = 3

#: Bodies up to this size are joined to the head and sent in one write.
_JOIN_BODY_MAX = 64 * 1024


class Origin(NamedTuple):
    """Where connections go: scheme is ``https`` (TLS) or ``http``; ``host_header``: the
    ``Host`` header's value (the URL's host and port as written)."""

    tls: bool
    host: str
    port: int
    host_header: str


class PooledResponse:
    """One upstream answer read through the pool (the handler's
    :class:`~traceforge_proxy.transport.UpstreamResponse`): ``status`` and ``headers`` once
    its head arrived; the body's reads from :meth:`iter_any`."""

    def __init__(self, connection: UpstreamConnection, read_timeout_s: float | None) -> None:
        self._connection = connection
        self._read_timeout_s = read_timeout_s
        self._loop = asyncio.get_running_loop()
        # The read timeout: one timer at a time, due read_timeout_s after the last read, moved
        # on (not made anew) when it fires early; a timer per wait cost more than the read.
        self._last_read = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self.status = 0
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._pieces: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._head = False
        self._complete = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    @property
    def content(self) -> PooledResponse:
        """The body (this object: :meth:`iter_any`)."""
        return self

    async def iter_any(self) -> AsyncIterator[bytes]:
        """Each piece of the body as soon as it is read (pieces read meanwhile are joined).

        Raises:
            aiohttp.SocketTimeoutError: nothing was read for ``sock_read`` seconds.
            aiohttp.ClientPayloadError: the upstream closed or broke the body.
        """
        pieces = self._pieces
        while True:
            if pieces:
                data = pieces.popleft() if len(pieces) == 1 else b"".join(pieces)
                pieces.clear()
                if self._buffered >= READ_HIGH_WATER:
                    self._connection.resume()
                self._buffered = 0
                yield data
            elif self._error is not None:
                raise self._error
            elif self._complete:
                return
            else:
                await self._wait()

    def coalesce(self, hold_s: float) -> None:
        """Read a burst in batches: after a body read that came less than
        :data:`BURST_HOLDS` ``* hold_s`` seconds after the one before it, while another
        request is in flight through the pool, stop reading for ``hold_s`` seconds, so that
        the pieces the upstream sends meanwhile arrive as one read (a piece sent after a
        longer pause, or while this is the only request, is read at once). ``0``: read
        every piece as it comes (the default). The first read after this call counts from
        the last one before it (the head's)."""
        self._connection.hold_s = hold_s
        self._connection._last_read = self._last_read

    def release(self) -> None:
        """The body was read to the end (or is not wanted): keep the connection for the next
        request when the upstream allows, else close it."""
        self._stop_timer()
        self._connection.finished(self, reusable=self._complete and self._error is None)

    def close(self) -> None:
        """Abandon the answer: close its connection."""
        self._stop_timer()
        self._connection.finished(self, reusable=False)

    # -- fed by the connection -------------------------------------------------------------

    async def _wait(self) -> None:
        """Wait for the next read (or the end, or a failure).

        Raises:
            aiohttp.SocketTimeoutError: nothing was read for ``read_timeout_s`` seconds.
        """
        waiter = self._waiter = self._loop.create_future()
        if self._timer is None and self._read_timeout_s:
            self._timer = self._loop.call_at(
                self._last_read + self._read_timeout_s, self._check_timeout
            )
        try:
            await waiter
        finally:
            self._waiter = None

    def _check_timeout(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done() or not self._read_timeout_s:
            return  # not waiting: the next wait sets the timer again
        due = self._last_read + self._read_timeout_s
        if self._loop.time() < due:  # read meanwhile: wait on
            self._timer = self._loop.call_at(due, self._check_timeout)
            return
        waiter.set_exception(aiohttp.SocketTimeoutError("Timeout on reading data from socket"))

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _wake(self) -> None:
        self._last_read = self._loop.time()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _read_head(self) -> None:
        while not self._head:
            if self._error is not None:
                raise self._error
            await self._wait()

    def _headers_complete(self, status: int) -> None:
        self.status = status
        self.headers = CIMultiDictProxy(
            CIMultiDict(
                (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
                for name, value in self._raw_headers
            )
        )
        self._head = True
        self._wake()

    def _body(self, data: bytes) -> bool:
        """Take a piece of the body; ``True``: past the high-water mark (stop reading)."""
        self._pieces.append(data)
        self._buffered += len(data)
        self._wake()
        return self._buffered >= READ_HIGH_WATER

    def _completed(self) -> None:
        self._complete = True
        self._wake()

    def _failed(self, error: BaseException) -> None:
        if not self._complete and self._error is None:
            self._error = error
            self._wake()


class UpstreamConnection(asyncio.Protocol):
    """One kept-alive connection: writes requests, parses answers with llhttp."""

    def __init__(self, pool: UpstreamPool, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._response: PooledResponse | None = None
        self._informational = False
        self._until_close = False
        self._keep_alive = False
        self._paused = False
        #: :meth:`PooledResponse.coalesce`'s hold period, in seconds (0: none).
        self.hold_s = 0.0
        self._held: asyncio.TimerHandle | None = None
        self._last_read = float("-inf")

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._response is None:  # nothing was asked: the connection is not usable
            self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(aiohttp.ClientPayloadError(f"malformed answer from the upstream: {exc}"))
            self.abort()
            return
        if self.hold_s and self._held is None:
            self._hold_if_burst()

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        response = self._response
        if response is None or response._complete:
            return
        if response._head and self._until_close and exc is None:
            response._completed()  # a body framed by the connection's close
        elif response._head:
            response._failed(
                aiohttp.ClientPayloadError(
                    "Response payload is not completed: the upstream closed the connection"
                    + (f" ({exc})" if exc is not None else "")
                )
            )
        else:
            response._failed(aiohttp.ServerDisconnectedError(str(exc or "Server disconnected")))

    def _hold_if_burst(self) -> None:
        """After a read of a streamed body: stop reading for ``hold_s`` when this read came
        soon after the one before it (see :meth:`PooledResponse.coalesce`)."""
        response = self._response
        if response is None or not response._head or response._complete or self.closed:
            return
        loop = response._loop
        now = loop.time()
        if (
            now - self._last_read < self.hold_s * BURST_HOLDS
            and self.pool.in_flight > 1
            and self.transport is not None
        ):
            self.transport.pause_reading()
            self._held = loop.call_later(self.hold_s, self._unhold)
        self._last_read = now

    def _unhold(self) -> None:
        self._held = None
        if not self._paused and not self.closed and self.transport is not None:
            self.transport.resume_reading()

    def _stop_holding(self) -> None:
        if self._held is not None:
            self._held.cancel()
            self._held = None

    # -- llhttp callbacks (httptools) ------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._response is not None
        self._response._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        response = self._response
        assert response is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # 100 Continue and the like: not the answer
            self._informational = True
            response._raw_headers.clear()
            return
        names = {name.lower() for name, _ in response._raw_headers}
        self._until_close = (
            b"content-length" not in names
            and b"transfer-encoding" not in names
            and status not in (204, 304)
        )
        response._headers_complete(status)

    def on_body(self, body: bytes) -> None:
        response = self._response
        if response is not None and response._body(body) and not self._paused:
            self._paused = True
            if self.transport is not None and self._held is None:
                self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        # llhttp knows whether the connection may carry another request here, and only here.
        self._keep_alive = self._parser.should_keep_alive()
        response = self._response
        if response is not None:
            response._completed()

    # -- used by the pool and the response ---------------------------------------------------

    def send(self, response: PooledResponse, head: bytes, body: bytes) -> None:
        """Start ``response``: write the request's ``head`` and ``body``."""
        self._response = response
        self._keep_alive = False
        self.hold_s = 0.0
        self._last_read = float("-inf")
        transport = self.transport
        assert transport is not None
        if body and len(body) <= _JOIN_BODY_MAX:
            transport.write(head + body)
        else:
            transport.write(head)
            if body:
                transport.write(body)

    def resume(self) -> None:
        """The handler took what was read: read on."""
        if self._paused:
            self._paused = False
            if self.transport is not None and not self.closed and self._held is None:
                self.transport.resume_reading()

    def finished(self, response: PooledResponse, *, reusable: bool) -> None:
        """``response`` is done with (its body read whole when ``reusable``)."""
        if self._response is not response:
            return
        self._response = None
        keep = (
            reusable
            and not self.closed
            and not self._until_close
            and not self._paused
            and self._held is None
            and self._keep_alive
        )
        self._stop_holding()
        if not keep:
            self.abort()
        self.pool.returned(self, keep)

    def abort(self) -> None:
        """Close the connection now."""
        self.closed = True
        self._stop_holding()
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: BaseException) -> None:
        if self._response is not None:
            self._response._failed(error)

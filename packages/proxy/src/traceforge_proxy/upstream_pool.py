"""A pool of kept-alive HTTP/1.1 connections to upstreams: the proxy's hot path out.

``aiohttp.ClientSession.request`` was the largest single cost of the saturated proxy (22% of
its samples at 10 concurrent JSON calls, docs/performance.md): per request it builds a
``ClientRequest`` and a ``ClientResponse``, a timer context, a cookie filter, tracing
signals and a flow-controlled stream reader. The proxy needs less: write the planned request
(head and body) to an idle connection in one write, and read the answer with llhttp
(`httptools <https://github.com/MagicStack/httptools>`_) as it arrives.

What it does, as the app's aiohttp session did (``auto_decompress=False``, no cookie jar, no
proxy from the environment, no redirects): sends the plan's headers plus ``Host``,
``Content-Length`` (``0`` for an empty body but GET's) and aiohttp's defaults (``Accept:
*/*``, its ``User-Agent``, ``Content-Type: application/octet-stream`` for POST, PUT, PATCH or
a body) where the client sent none;
keeps a connection for the next request while the upstream allows (``Connection:
keep-alive``, a whole answer read) for at most :data:`KEEPALIVE_S` idle seconds; caps the
requests in flight at ``proxy.max_connections``; answers bodies framed by length, by
chunked encoding or by the connection's close; stops reading while the proxy's client has not
taken :data:`READ_HIGH_WATER` bytes (a slow client slows the upstream, nothing piles up).
HTTPS upstreams use the default TLS context (the system's CAs, hostname checked).

Failures raise what aiohttp raised, so the handler's answers and traces are unchanged:
``aiohttp.ClientConnectorError``-like :class:`UpstreamConnectError` (refused, unreachable),
``aiohttp.ConnectionTimeoutError`` (connect timeout), ``aiohttp.SocketTimeoutError`` (no read
for ``sock_read`` seconds, before or within the answer), ``aiohttp.ServerDisconnectedError``
(closed before the answer's head), ``aiohttp.ClientPayloadError`` (closed or malformed
within the answer). Nothing is retried: a POST may have reached the upstream.

Left to the aiohttp session (:func:`pool_request_target` says ``None``): URLs with
credentials (``user:password@``: basic auth), methods other than GET, POST, PUT, PATCH and
DELETE (a HEAD answer states a length it does not send), schemes other than http and https,
and header values holding a line break (aiohttp refuses them).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

import aiohttp
import httptools
from aiohttp.http import SERVER_SOFTWARE
from multidict import CIMultiDict, CIMultiDictProxy

#: Seconds an idle connection is kept for the next request (aiohttp's default).
KEEPALIVE_S = 15.0

#: Bytes read but not yet taken by the handler at which the connection stops reading.
READ_HIGH_WATER = 256 * 1024

#: Methods the pool sends (their answers' bodies are framed as the head says).
POOLED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

#: Methods aiohttp gives a ``Content-Type`` (``application/octet-stream``) even without a body.
_TYPED_METHODS = frozenset({"POST", "PUT", "PATCH"})

#: Bodies up to this size are joined to the head and sent in one write.
_JOIN_BODY_MAX = 64 * 1024


class Origin(NamedTuple):
    """Where connections go: scheme is ``https`` (TLS) or ``http``; ``host_header``: the
    ``Host`` header's value (the URL's host and port as written)."""

    tls: bool
    host: str
    port: int
    host_header: str


class UnsafeHeaderError(ValueError):
    """A header to send holds a line break: nothing was sent (aiohttp refuses it too)."""


class UpstreamConnectError(aiohttp.ClientConnectionError):
    """The upstream could not be reached (refused, unreachable, TLS handshake failed); the
    message names the host and port as aiohttp's ``ClientConnectorError`` did."""


_origins: dict[str, Origin | None] = {}


def pool_request_target(url: str, method: str) -> tuple[Origin, str] | None:
    """The origin and request target (path and query) to send ``method`` ``url`` with the
    pool, or ``None`` when the aiohttp session must send it (see the module docstring)."""
    if method not in POOLED_METHODS:
        return None
    scheme_end = url.find("://")
    if scheme_end < 0:
        return None
    path_start = url.find("/", scheme_end + 3)
    if path_start < 0:
        prefix, target = url, "/"
    else:
        prefix, target = url[:path_start], url[path_start:]
    if "?" in prefix or "#" in prefix:  # a query right after the host: leave it to aiohttp
        return None
    if prefix in _origins:
        origin = _origins[prefix]
    else:
        origin = _origins[prefix] = _parse_origin(prefix)
    if origin is None:
        return None
    fragment = target.find("#")
    return origin, target if fragment < 0 else target[:fragment]


def _parse_origin(prefix: str) -> Origin | None:
    try:
        parts = urlsplit(prefix)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or "@" in parts.netloc or not parts.hostname:
        return None
    tls = parts.scheme == "https"
    return Origin(tls, parts.hostname, port or (443 if tls else 80), parts.netloc)


class PooledResponse:
    """One upstream answer read through the pool (the handler's
    :class:`~traceforge_proxy.transport.UpstreamResponse`): ``status`` and ``headers`` once
    its head arrived; the body's reads from :meth:`iter_any`."""

    def __init__(self, connection: _Connection, read_timeout_s: float | None) -> None:
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


class _Connection(asyncio.Protocol):
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
            if self.transport is not None:
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
            if self.transport is not None and not self.closed:
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
            and self._keep_alive
        )
        if not keep:
            self.abort()
        self.pool.returned(self, keep)

    def abort(self) -> None:
        """Close the connection now."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: BaseException) -> None:
        if self._response is not None:
            self._response._failed(error)


class UpstreamPool:
    """Kept-alive connections to every upstream, at most ``max_connections`` requests in
    flight (more wait their turn, as aiohttp's connector limit made them).

    Args:
        max_connections: requests in flight at most (``proxy.max_connections``).
        ssl_context: TLS settings for https upstreams (default: the system's CAs).
    """

    def __init__(self, max_connections: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self.max_connections = max_connections
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._busy = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    async def request(
        self,
        method: str,
        origin: Origin,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's per-phase timeouts)
    ) -> PooledResponse:
        """Send ``method target`` to ``origin`` with ``headers`` and ``body``; return the
        answer once its head arrived (read its body with :meth:`PooledResponse.iter_any`,
        then :meth:`~PooledResponse.release` it).

        Raises:
            UnsafeHeaderError: a header holds a line break (nothing was sent).
            UpstreamConnectError, aiohttp.ConnectionTimeoutError: no connection.
            aiohttp.SocketTimeoutError: no answer within ``timeout.sock_read`` seconds.
            aiohttp.ServerDisconnectedError: the upstream closed before answering.
        """
        head = _request_head(method, origin, target, headers, body)
        await self._acquire()
        connection: _Connection | None = None
        try:
            connection = self._idle_connection(origin)
            if connection is None:
                connection = await self._connect(origin, timeout)
            response = PooledResponse(connection, timeout.sock_read)
            connection.send(response, head, body)
            await response._read_head()
        except BaseException:
            if connection is not None and connection._response is not None:
                connection._response.close()
            else:
                self._release()
            raise
        return response

    async def close(self) -> None:
        """Close every connection (the proxy stops); requests waiting for a turn fail."""
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.abort()
        self._idle.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(aiohttp.ClientConnectionError("the proxy is stopping"))
        self._waiters.clear()

    # -- connections -----------------------------------------------------------------------

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        oldest_kept = asyncio.get_running_loop().time() - KEEPALIVE_S
        while idle:
            connection = idle.pop()
            if not connection.closed and connection.idle_since >= oldest_kept:
                return connection
            connection.abort()
        return None

    async def _connect(
        self,
        origin: Origin,
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's per-phase timeouts)
    ) -> _Connection:
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | None = None
        if origin.tls:
            tls = self._ssl_context
            if tls is None:  # as aiohttp's: the system's CAs, hostname checked, HTTP/1.1
                tls = self._ssl_context = ssl.create_default_context()
                tls.set_alpn_protocols(["http/1.1"])
        limit = timeout.sock_connect or timeout.connect
        try:
            async with asyncio.timeout(limit):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(self, origin),
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls is not None else None,
                )
        except TimeoutError as exc:
            raise aiohttp.ConnectionTimeoutError(
                f"Connection timeout to host {origin.host}:{origin.port}"
            ) from exc
        except OSError as exc:
            raise UpstreamConnectError(
                f"Cannot connect to host {origin.host}:{origin.port} "
                f"ssl:{'default' if tls is not None else 'False'} [{exc.strerror or exc}]"
            ) from exc
        return protocol

    def returned(self, connection: _Connection, keep: bool) -> None:
        """A request is over; ``keep``: its connection waits for the next one."""
        if keep and not self._closed:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(connection.origin, []).append(connection)
        elif keep:  # the pool closed while this answer was read: nobody will reuse it
            connection.abort()
        self._release()

    def forget(self, connection: _Connection) -> None:
        """``connection`` closed: it is no longer idle."""
        idle = self._idle.get(connection.origin)
        if idle and connection in idle:
            idle.remove(connection)

    async def _acquire(self) -> None:
        if self._closed:
            raise aiohttp.ClientConnectionError("the proxy is stopping")
        if self._busy < self.max_connections and not self._waiters:
            self._busy += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # _release passed its turn on: _busy already counts this request
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release()  # given a turn, then cancelled: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the turn passes on: _busy unchanged
                return
        self._busy -= 1


def _request_head(
    method: str, origin: Origin, target: str, headers: Mapping[str, str], body: bytes
) -> bytes:
    """The request line and headers, ending in a blank line.

    Raises:
        UnsafeHeaderError: a header name or value holds a line break.
    """
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {origin.host_header}\r\n"]
    seen = set()
    for name, value in headers.items():
        lower = name.lower()
        if lower in ("host", "content-length", "transfer-encoding"):
            continue
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise UnsafeHeaderError(f"the header {name!r} holds a line break")
        seen.add(lower)
        lines.append(f"{name}: {value}\r\n")
    if "accept" not in seen:
        lines.append("Accept: */*\r\n")
    if "user-agent" not in seen:
        lines.append(f"User-Agent: {SERVER_SOFTWARE}\r\n")
    if "content-type" not in seen and (body or method in _TYPED_METHODS):
        lines.append("Content-Type: application/octet-stream\r\n")
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    else:
        lines.append("\r\n")
    return "".join(lines).encode("utf-8")

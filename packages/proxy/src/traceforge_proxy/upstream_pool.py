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
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp
from aiohttp.http import SERVER_SOFTWARE

from traceforge_proxy.upstream_connection import (
    READ_HIGH_WATER,
    Origin,
    PooledResponse,
    UpstreamConnection,
)

__all__ = [
    "KEEPALIVE_S",
    "POOLED_METHODS",
    "READ_HIGH_WATER",
    "Origin",
    "PooledResponse",
    "UnsafeHeaderError",
    "UpstreamConnectError",
    "UpstreamPool",
    "pool_request_target",
]

#: Seconds an idle connection is kept for the next request (aiohttp's default).
KEEPALIVE_S = 15.0

#: Methods the pool sends (their answers' bodies are framed as the head says).
POOLED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

#: Methods aiohttp gives a ``Content-Type`` (``application/octet-stream``) even without a body.
_TYPED_METHODS = frozenset({"POST", "PUT", "PATCH"})


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
        self._idle: dict[Origin, list[UpstreamConnection]] = {}
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
        connection: UpstreamConnection | None = None
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

    def _idle_connection(self, origin: Origin) -> UpstreamConnection | None:
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
    ) -> UpstreamConnection:
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
                    lambda: UpstreamConnection(self, origin),
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

    @property
    def in_flight(self) -> int:
        """Requests sent (or sending) through the pool whose answers are not done with."""
        return self._busy

    def returned(self, connection: UpstreamConnection, keep: bool) -> None:
        """A request is over; ``keep``: its connection waits for the next one."""
        if keep and not self._closed:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(connection.origin, []).append(connection)
        elif keep:  # the pool closed while this answer was read: nobody will reuse it
            connection.abort()
        self._release()

    def forget(self, connection: UpstreamConnection) -> None:
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

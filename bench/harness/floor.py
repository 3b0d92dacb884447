"""Floor proxies: the least a proxy written in Python can do, to show what part of TraceForge's
added time any Python proxy on this machine pays (benchmark systems ``floor-*``).

    python -m harness.floor tcp|http|aiohttp --port 0 --upstream http://127.0.0.1:N

Each answers on 127.0.0.1 and relays to the fake upstream's origin; none records, routes,
redacts or checks anything:

- ``tcp``: a byte relay. Each client connection gets one upstream connection and the bytes
  are copied both ways as they arrive (``asyncio.Protocol`` callbacks, no task, no parsing).
  The floor of any asyncio proxy: two more trips through the kernel and the event loop.
- ``http``: an HTTP/1.1 reverse proxy on a bare ``asyncio.Protocol``: requests parsed by
  llhttp (httptools), sent upstream through TraceForge's own upstream pool
  (:class:`traceforge_proxy.upstream_pool.UpstreamPool`), the answer relayed as it arrives
  (``Content-Length`` kept; otherwise chunked, one chunk per upstream read). TraceForge
  minus its recording, planning and aiohttp's server.
- ``aiohttp``: the same on an aiohttp ``web.Application`` (one catch-all route, a
  ``web.Response`` or ``web.StreamResponse``): what aiohttp's server adds to ``http``.

It prints ``ready <port>`` once listening. Only for benchmarks: no error handling beyond what
keeps a run going (an upstream failure answers 502 and closes the connection).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterable
from urllib.parse import urlsplit

import aiohttp
import httptools
from aiohttp import web

from traceforge_proxy.upstream_connection import PooledResponse
from traceforge_proxy.upstream_pool import Origin, UpstreamPool, pool_request_target

#: Headers not forwarded (hop by hop, or recomputed by the sender).
_HOP = frozenset({"host", "connection", "keep-alive", "content-length", "transfer-encoding"})
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=60)


class _Upstream:
    """TraceForge's upstream pool, aimed at one origin."""

    def __init__(self, origin: str) -> None:
        self.origin = origin.rstrip("/")
        self.pool = UpstreamPool(256)

    async def send(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> PooledResponse:
        where = pool_request_target(self.origin + target, method)
        if where is None:
            raise ValueError(f"the pool cannot send {method} {target}")
        origin, path = where
        kept = {k: v for k, v in headers if k.lower() not in _HOP}
        return await self.pool.request(method, origin, path, kept, body, _TIMEOUT)


# --- tcp ------------------------------------------------------------------------------------


class _Back(asyncio.Protocol):
    """The upstream side of a byte relay: what arrives goes to the client."""

    def __init__(self, front: asyncio.Transport) -> None:
        self.front = front

    def data_received(self, data: bytes) -> None:
        self.front.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.front.close()


class TcpRelay(asyncio.Protocol):
    """The client side of a byte relay (one upstream connection per client connection)."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.front: asyncio.Transport | None = None
        self.back: asyncio.Transport | None = None
        self.early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.front = transport
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        assert self.front is not None
        front = self.front
        loop = asyncio.get_running_loop()
        back, _ = await loop.create_connection(
            lambda: _Back(front), self.origin.host, self.origin.port
        )
        self.back = back
        for data in self.early:
            back.write(data)
        self.early.clear()

    def data_received(self, data: bytes) -> None:
        if self.back is None:
            self.early.append(data)
        else:
            self.back.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.back is not None:
            self.back.close()


# --- http -----------------------------------------------------------------------------------


def _head(status: int, content_type: str, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}\r\n"
        f"Content-Type: {content_type}\r\n{framing}\r\n\r\n"
    ).encode("latin-1")


class HttpProxy(asyncio.Protocol):
    """One client connection of the ``http`` floor proxy (requests answered in order)."""

    def __init__(self, upstream: _Upstream) -> None:
        self.upstream = upstream
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.last: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    # llhttp callbacks
    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("latin-1")
        request = (method, self.url.decode("latin-1"), self.headers, b"".join(self.body))
        self.url, self.headers, self.body = b"", [], []
        self.last = asyncio.get_running_loop().create_task(self._serve(self.last, *request))

    async def _serve(
        self,
        before: asyncio.Task[None] | None,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        transport = self.transport
        assert transport is not None
        try:
            response = await self.upstream.send(method, target, headers, body)
        except (aiohttp.ClientError, OSError, ValueError):
            transport.write(_head(502, "text/plain", 0))
            transport.close()
            return
        if before is not None and not before.done():
            await before  # pipelined: answers go out in request order
        content_type = response.headers.get("Content-Type", "application/json")
        length = response.headers.get("Content-Length")
        try:
            if length is not None:
                transport.write(_head(response.status, content_type, int(length)))
                async for data in response.content.iter_any():
                    transport.write(data)
            else:
                transport.write(_head(response.status, content_type, None))
                async for data in response.content.iter_any():
                    transport.write(b"%x\r\n%b\r\n" % (len(data), data))
                transport.write(b"0\r\n\r\n")
        finally:
            response.release()


# --- aiohttp --------------------------------------------------------------------------------


def aiohttp_app(upstream: _Upstream) -> web.Application:
    """The ``aiohttp`` floor proxy: one catch-all route relaying through ``upstream``."""

    async def relay(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        response = await upstream.send(
            request.method, request.path_qs, request.headers.items(), body
        )
        content_type = response.headers.get("Content-Type", "application/json")
        try:
            if response.headers.get("Content-Length") is not None:
                whole = [data async for data in response.content.iter_any()]
                return web.Response(
                    status=response.status,
                    body=b"".join(whole),
                    headers={"Content-Type": content_type},
                )
            stream = web.StreamResponse(status=response.status)
            stream.headers["Content-Type"] = content_type
            await stream.prepare(request)
            async for data in response.content.iter_any():
                await stream.write(data)
            await stream.write_eof()
            return stream
        finally:
            response.release()

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


# --- main -----------------------------------------------------------------------------------


async def _serve(kind: str, port: int, upstream_origin: str) -> None:
    loop = asyncio.get_running_loop()
    parts = urlsplit(upstream_origin)
    host, upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
    bound: int
    if kind == "aiohttp":
        runner = web.AppRunner(aiohttp_app(_Upstream(upstream_origin)), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        bound = server.sockets[0].getsockname()[1]
    else:
        if kind == "tcp":
            origin = Origin(False, host, upstream_port, parts.netloc)
            plain = await loop.create_server(lambda: TcpRelay(origin), "127.0.0.1", port)
        else:
            upstream = _Upstream(upstream_origin)
            plain = await loop.create_server(lambda: HttpProxy(upstream), "127.0.0.1", port)
        bound = plain.sockets[0].getsockname()[1]
    print(f"ready {bound}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    """Run one floor proxy until killed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("tcp", "http", "aiohttp"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--upstream", required=True, help="the upstream's origin (no /v1)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.kind, args.port, args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Helpers for tests that drive the proxy (shipped in the package, like mitmproxy's
``test/tflow.py``, so every TraceForge package's tests can use them)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler

from traceforge_proxy.exchange import Exchange
from traceforge_proxy.mock_upstream import TEXT_STREAM, transcript_events
from traceforge_proxy.runner import ProxyService
from traceforge_shared.trace import Trace


def make_exchange(
    *, request_body: bytes = b"{}", request_json: object = None, chunk_cap: int = 10_000
) -> Exchange:
    """A fresh :class:`Exchange` of a ``POST /v1/chat/completions`` (trace id ``abab…``,
    started at 0 ns), for feeding relays and converters without a socket. ``request_json``
    defaults to ``{"model": "m"}``."""
    return Exchange(
        trace_id="ab" * 12,
        timestamp="2026-11-23T00:00:00.000000Z",
        started_ns=0,
        method="POST",
        endpoint="/v1/chat/completions",
        provider="openai",
        request_body=request_body,
        request_json={"model": "m"} if request_json is None else request_json,
        chunk_cap=chunk_cap,
    )


async def saved_traces(service: ProxyService, expected: int = 1) -> list[Trace]:
    """Wait for the calls in flight to end and the writer to save them, then return every
    trace in the store, oldest first."""
    for _ in range(5_000):  # 10 s: a stream's last bytes go out before its call ends
        if not service.calls_in_flight:
            break
        await asyncio.sleep(0.002)
    assert await asyncio.to_thread(service.writer.drain, 10.0)
    summaries = service.store.list(limit=None)
    assert len(summaries) == expected, [s.status for s in summaries]
    return [service.store.get(s.id) for s in reversed(summaries)]


async def get_health(service: ProxyService) -> dict[str, Any]:
    """The proxy's ``GET /healthz`` answer as JSON, asserted to be HTTP 200 (a degraded
    store is still 200: the proxy proxies)."""
    url = service.url.removesuffix("/v1") + "/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


def transcript_chunks(name: str = TEXT_STREAM, *, include_usage: bool = False) -> list[bytes]:
    """The SSE events the mock upstream sends for a transcript, each as its raw bytes (blank
    line included), ``[DONE]`` last; the usage-only chunk only if asked for."""
    return [raw for raw, usage_only in transcript_events(name) if include_usage or not usage_only]


def transcript_body(name: str, *, include_usage: bool) -> bytes:
    """The bytes the mock upstream sends for a transcript (usage chunk only if asked for)."""
    return b"".join(transcript_chunks(name, include_usage=include_usage))


def upstream_app(handler: Handler) -> web.Application:
    """A fake OpenAI upstream: an app answering every ``/v1/...`` request with ``handler``
    (pass it to ``ProxyService(upstream_app=...)``, or serve it yourself)."""
    app = web.Application()
    app.router.add_route("*", "/v1/{tail:.*}", handler)
    return app


class RecordingUpstream:
    """A fake provider on a real socket: answers every POST with one recorded answer, byte for
    byte, and records what it received. ``async with RecordingUpstream(body, content_type) as
    url:`` gives its base URL (no trailing ``/``) for ``UpstreamConfig(base_url=url)``.

    Attributes:
        requests: ``(path, decoded JSON body)`` of each request received, in order.
        headers: the headers of each request received, in order (names as sent).
    """

    def __init__(self, answer: bytes, content_type: str, *, status: int = 200) -> None:
        self.answer = answer
        self.content_type = content_type
        self.status = status
        self.requests: list[tuple[str, Any]] = []
        self.headers: list[list[tuple[str, str]]] = []
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path_qs, json.loads(await request.read())))
        self.headers.append(list(request.headers.items()))
        return web.Response(
            body=self.answer, status=self.status, headers={"Content-Type": self.content_type}
        )

    @property
    def bodies(self) -> list[Any]:
        """The decoded JSON bodies received, in order."""
        return [body for _, body in self.requests]

    async def __aenter__(self) -> str:
        await self._server.start_server()
        return str(self._server.make_url("")).rstrip("/")

    async def __aexit__(self, *exc: object) -> None:
        await self._server.close()


class HeldStream:
    """A fake OpenAI upstream that streams recorded SSE events byte for byte but holds the
    stream open after the first ``hold_after`` events until :meth:`release` (a call in
    flight, for live views; no timer involved). Serve :meth:`app` (``ProxyService(
    upstream_app=held.app())``).

    Args:
        events: the raw SSE events to send, in order (e.g. :func:`transcript_chunks`).
        hold_after: events sent before holding.

    Attributes:
        holding: set once the first ``hold_after`` events were written.
    """

    def __init__(self, events: list[bytes], hold_after: int) -> None:
        self.events = events
        self.hold_after = hold_after
        self.holding = asyncio.Event()
        self._gate = asyncio.Event()

    def app(self) -> web.Application:
        """The upstream's aiohttp application."""
        return upstream_app(self._handle)

    def release(self) -> None:
        """Send the remaining events and end the stream."""
        self._gate.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i, event in enumerate(self.events):
            if i == self.hold_after:
                self.holding.set()
                await self._gate.wait()
            await response.write(event)
        await response.write_eof()
        return response

"""Helpers for tests that drive the proxy (shipped in the package, like mitmproxy's
``test/tflow.py``, so every TraceForge package's tests can use them)."""

from __future__ import annotations

import asyncio

from aiohttp import web
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
    """Wait for the writer, then return every trace in the store, oldest first."""
    assert await asyncio.to_thread(service.writer.drain, 10.0)
    summaries = service.store.list(limit=None)
    assert len(summaries) == expected, [s.status for s in summaries]
    return [service.store.get(s.id) for s in reversed(summaries)]


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

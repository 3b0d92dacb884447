"""Aborting a stream closes the HTTP connection at once, for every provider.

A fake upstream on 127.0.0.1 sends the first half of a recorded transcript, then stalls (10 s)
and watches its connection: it records when it finished writing and when the connection went
away. The client aborts at its first text or reasoning event; the upstream must see the
connection closed within 100 ms of its last write (measured on the upstream's side), and the
client must get no event after aborting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from traceforge import AbortController, Signal
from traceforge.providers import (
    ReasoningEvent,
    StreamEvent,
    StreamRequest,
    TokenEvent,
    get_provider,
)
from traceforge_proxy.mock_upstream import replay
from traceforge_shared.providers import PROVIDER_SPECS

STALL_S = 10.0
SSE = "text/event-stream"
NDJSON = "application/x-ndjson"

# provider → (route below the mock prefix, transcript, content type)
ROUTES = {
    "openai": ("/chat/completions", "stream-text-usage.sse", SSE),
    "xai": ("/chat/completions", "xai/chat-stream-reasoning.sse", SSE),
    "anthropic": ("/v1/messages", "anthropic/stream-text.sse", SSE),
    "gemini": ("/v1beta/models/{name}", "gemini/stream-text.sse", SSE),
    "ollama": ("/api/chat", "ollama/chat-stream.ndjson", NDJSON),
    "cohere": ("/v2/chat", "cohere/chat-stream.sse", SSE),
}
MODELS = {
    "openai": "gpt-4o-mini",
    "xai": "grok-3-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-3-pro-preview",
    "ollama": "llama3.2",
    "cohere": "command-r-plus",
}


@dataclass
class Log:
    """What the slow upstream saw, in ``time.monotonic()`` seconds."""

    last_write: float | None = None
    closed: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


def units(transcript: str) -> list[bytes]:
    if transcript.endswith(".ndjson"):
        return list(replay.ndjson_lines(transcript))
    return [event.raw for event in replay.sse_events(transcript)]


def slow_app(provider: str, log: Log) -> web.Application:
    path, transcript, content_type = ROUTES[provider]
    prefix = PROVIDER_SPECS[provider].mock_prefix or ""
    chunks = units(transcript)

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        for chunk in chunks[: max(1, len(chunks) // 2)]:
            await response.write(chunk)
        log.last_write = time.monotonic()
        deadline = log.last_write + STALL_S
        while time.monotonic() < deadline:
            transport = request.transport
            if transport is None or transport.is_closing():
                log.closed = time.monotonic()
                break
            await asyncio.sleep(0.002)
        log.done.set()
        return response

    app = web.Application()
    app.router.add_post(prefix + path, handler)
    return app


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)  # what loop.create_server made
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def request_for(provider: str) -> StreamRequest:
    return StreamRequest(model=MODELS[provider], prompt="Tell me a long story.")


async def abort_at_first_text(provider: str) -> Log:
    """One call against the slow upstream, aborted at its first text or reasoning event."""
    log = Log()
    async with serve(slow_app(provider, log)) as url:
        base = url + (PROVIDER_SPECS[provider].mock_prefix or "")
        client = get_provider(provider, base_url=base, api_key="k")
        controller = AbortController()
        after_abort: list[StreamEvent] = []
        async for event in client.stream(request_for(provider), signal=controller.signal):
            if controller.signal.aborted:
                after_abort.append(event)
            elif isinstance(event, TokenEvent | ReasoningEvent):
                controller.abort()
        assert after_abort == []
        await asyncio.wait_for(log.done.wait(), STALL_S + 5)
    return log


@pytest.mark.parametrize("provider", list(ROUTES))
async def test_abort_closes_the_upstream_connection_within_100_ms(provider: str) -> None:
    # A first call warms the SDK up (lazy imports, first model validation: tens of ms the
    # first time in a process), so the measured one times the abort, not the warm-up.
    warm_up = await abort_at_first_text(provider)
    assert warm_up.closed is not None, "the upstream connection stayed open"
    log = await abort_at_first_text(provider)
    assert log.last_write is not None
    assert log.closed is not None, "the upstream connection stayed open"
    assert log.closed - log.last_write < 0.1


async def test_asyncio_timeout_in_the_caller_closes_the_stream() -> None:
    log = Log()
    async with serve(slow_app("openai", log)) as url:
        client = get_provider("openai", base_url=url + "/v1", api_key="k")
        tokens: list[str] = []

        async def consume() -> None:
            async with asyncio.timeout(1.0):
                async for event in client.stream(request_for("openai"), signal=Signal.never()):
                    if isinstance(event, TokenEvent):
                        tokens.append(event.text)

        with pytest.raises(TimeoutError):
            await consume()
        await asyncio.wait_for(log.done.wait(), STALL_S + 5)
    assert tokens
    assert log.closed is not None, "the upstream connection stayed open"
    assert log.closed - log.last_write < 1.5  # type: ignore[operator]


async def test_an_aborted_signal_makes_no_request() -> None:
    log = Log()
    async with serve(slow_app("openai", log)) as url:
        client = get_provider("openai", base_url=url + "/v1", api_key="k")
        controller = AbortController()
        controller.abort()
        events = [e async for e in client.stream(request_for("openai"), signal=controller.signal)]
    assert events == []
    assert log.last_write is None

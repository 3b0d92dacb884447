"""``GET /_traceforge/events``: calls in flight, published while the openai SDK streams a
recorded transcript through the proxy from an upstream that holds the stream open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable
from typing import Any

import aiohttp
import openai

from traceforge_proxy.live import EVENTS_PATH
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import HeldStream, saved_traces, transcript_chunks
from traceforge_shared.trace import response_text

#: The recorded transcript's first content events (chunk 0 is the role-only one).
HOLD_AFTER = 6


class Events:
    """The events of one subscription, read in the background."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.changed = asyncio.Event()
        self.connected = asyncio.Event()

    async def read(self, response: aiohttp.ClientResponse) -> None:
        name = ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line == ": connected":
                self.connected.set()
            elif line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                self.received.append((name, json.loads(line[len("data: ") :])))
                self.changed.set()

    async def wait_for(self, name: str, **fields: Any) -> dict[str, Any]:
        """The first event ``name`` whose data has ``fields`` (waits for it, 10 s at most)."""

        async def find() -> dict[str, Any]:
            while True:
                for got, data in self.received:
                    if got == name and all(data.get(k) == v for k, v in fields.items()):
                        return data
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(find(), 10)


async def subscribe(service: ProxyService) -> AsyncGenerator[Events, None]:
    base = service.url.removesuffix("/v1")
    async with (
        aiohttp.ClientSession() as session,
        session.get(base + EVENTS_PATH) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        events = Events()
        reader = asyncio.create_task(events.read(response))
        await asyncio.wait_for(events.connected.wait(), 10)
        try:
            yield events
        finally:
            reader.cancel()


async def test_a_streamed_call_is_published_while_in_flight(
    make_proxy: Callable[..., Any], sdk: Callable[..., openai.AsyncOpenAI]
) -> None:
    events = transcript_chunks()
    # The recorded answer, with an e-mail address in one content delta: it must reach the
    # subscribers redacted, as it reaches the disk.
    secret = events[3].replace(b'"content":"', b'"content":" jane.doe@example.com', 1)
    events = [*events[:3], secret, *events[4:]]
    held = HeldStream(events, HOLD_AFTER)
    service: ProxyService = await make_proxy(held.app())
    client = sdk(service)

    subscription = subscribe(service)
    live = await anext(subscription)
    stream_text: list[str] = []

    async def call() -> None:
        stream = await client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                stream_text.append(chunk.choices[0].delta.content)

    task = asyncio.create_task(call())
    started = await live.wait_for("started", model="gpt-4o")
    assert started["endpoint"] == "/v1/chat/completions"
    assert started["provider"] == "openai"
    await asyncio.wait_for(held.holding.wait(), 10)
    progress = await live.wait_for("chunk", id=started["id"])
    assert progress["chunks"] >= 1
    assert "jane.doe" not in json.dumps(live.received)

    held.release()
    await task
    finished = await live.wait_for("finished", id=started["id"])
    assert finished["status_code"] == 200
    assert finished["error"] is None
    assert "[EMAIL_REDACTED]" in finished["tail"]
    assert "jane.doe" not in finished["tail"]
    (trace,) = await saved_traces(service)
    assert trace.id == started["id"]
    await live.wait_for("saved", id=trace.id)
    # The tail is the answer's text (redacted), as the SDK received it and the trace stored it.
    assert finished["tail"] == response_text(trace)
    assert (
        "".join(stream_text).replace("jane.doe@example.com", "[EMAIL_REDACTED]")
        == (finished["tail"])
    )
    assert finished["tokens"] > 0
    assert not service.live.calls
    await subscription.aclose()


async def test_calls_in_flight_are_announced_to_a_late_subscriber(
    make_proxy: Callable[..., Any], sdk: Callable[..., openai.AsyncOpenAI]
) -> None:
    held = HeldStream(transcript_chunks(), HOLD_AFTER)
    service: ProxyService = await make_proxy(held.app())
    client = sdk(service)
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    await asyncio.wait_for(held.holding.wait(), 10)
    (trace_id,) = service.live.calls  # tracked without any subscriber, text not kept
    assert service.live.calls[trace_id].chunks == 0

    subscription = subscribe(service)
    live = await anext(subscription)
    started = await live.wait_for("started", id=trace_id)
    assert started["model"] == "gpt-4o"
    held.release()
    async for _ in stream:
        pass
    await live.wait_for("finished", id=trace_id)
    await subscription.aclose()


async def test_started_names_the_grouping_the_list_filters_on_redacted(
    make_proxy: Callable[..., Any], sdk: Callable[..., openai.AsyncOpenAI]
) -> None:
    held = HeldStream(transcript_chunks(), HOLD_AFTER)
    service: ProxyService = await make_proxy(held.app())
    client = sdk(service)
    subscription = subscribe(service)
    live = await anext(subscription)
    headers = {
        "X-TraceForge-Session-Id": "jane.doe@example.com",
        "X-TraceForge-Tags": "checkout, beta",
        "X-TraceForge-Meta-Source": "test",
    }

    async def call() -> None:
        stream = await client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_headers=headers,
        )
        async for _ in stream:
            pass

    task = asyncio.create_task(call())
    started = await live.wait_for("started", model="gpt-4o")
    assert started["route"] == "openai"
    assert started["tags"] == ["checkout", "beta"]
    assert started["source"] == "test"
    assert started["session_id"] == "[EMAIL_REDACTED]"
    held.release()
    await task
    (trace,) = await saved_traces(service)
    assert trace.session_id == started["session_id"]  # as the trace stores it
    await subscription.aclose()

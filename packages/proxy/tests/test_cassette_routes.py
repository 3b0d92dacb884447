"""Record once through the proxy, replay with no network: every route, driven by the
official SDKs and by a raw aiohttp client reading the body read by read.

Recording goes to the mock upstream (real provider transcripts); replay runs with every
upstream at a closed port, the proxy's session offline and a socket guard refusing any
connection but the proxy's. Replayed answers must be the recorded bytes with the recorded
read boundaries (one write per recorded read) and go through the same conversion and trace
building as live calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import anthropic
import cohere
import httpx
import ollama
import openai
import pytest
from aiohttp import web
from google import genai
from google.genai import types as genai_types
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from traceforge_proxy.modes import CassetteOptions, ReplayTiming
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import saved_traces, transcript_chunks, upstream_app
from traceforge_proxy.testing_cassettes import socket_guard, unreachable_upstreams
from traceforge_shared.cassettes import Cassette
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello, how are you?"}]
WEATHER: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}

Start = Callable[..., Awaitable[ProxyService]]


@pytest.fixture
async def start(store: TraceStore) -> AsyncIterator[Start]:
    """``await start(mode, name="c", timing="fast", on_miss="error", mock_delay_ms=0,
    ignore=(), upstream_app=None)``: a proxy in that cassette mode. Record/auto/passthrough
    modes use the mock upstream (OpenAI calls go to ``upstream_app`` when given: a fake
    upstream); ``replay`` points every upstream at a closed port."""
    services: list[ProxyService] = []

    async def make(
        mode: str,
        *,
        name: str = "c",
        timing: str = "fast",
        on_miss: str = "error",
        mock_delay_ms: float = 0.0,
        ignore: tuple[str, ...] = (),
        upstream_app: web.Application | None = None,
    ) -> ProxyService:
        config = Config()
        config.proxy.port = 0
        options = CassetteOptions(
            mode=mode,  # type: ignore[arg-type]
            name=name,
            timing=ReplayTiming.parse(timing),
            on_miss=on_miss,  # type: ignore[arg-type]
            ignore_fields=ignore,
        )
        offline = mode == "replay" and on_miss == "error"
        upstreams = unreachable_upstreams(config) if offline else {}
        service = ProxyService(
            config,
            upstreams,
            store,
            mock_delay_ms=mock_delay_ms,
            cassette=options,
            upstream_app=upstream_app,
        )
        await service.start()
        services.append(service)
        return service

    yield make
    for service in services:
        await service.stop()


async def stop(service: ProxyService) -> None:
    """Stop ``service``: its cassette files and traces are then on disk."""
    await service.stop()


def root(service: ProxyService) -> str:
    return service.url.removesuffix("/v1")


# -- SDK drivers: each returns what the app saw --------------------------------------------


async def openai_chat_stream(base: str) -> Any:
    client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="sk-test", max_retries=0)
    text = ""
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=ASK, stream=True)
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    await client.close()
    return text


async def openai_tool_call_stream(base: str) -> Any:
    client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="sk-test", max_retries=0)
    calls: list[tuple[str | None, str]] = []
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=ASK,
        tools=[WEATHER],
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                calls.append((call.id, call.function.arguments or "" if call.function else ""))
    await client.close()
    assert usage is not None and calls
    return calls, usage.total_tokens


async def openai_responses_stream(base: str) -> Any:
    client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="sk-test", max_retries=0)
    events = []
    stream = await client.responses.create(model="gpt-4o-mini", input="Say hi", stream=True)
    async for event in stream:
        events.append(event.type)
        if event.type == "response.completed":
            final = event.response.output_text
    await client.close()
    return events, final


async def openai_embeddings(base: str) -> Any:
    client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="sk-test", max_retries=0)
    result = await client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    await client.close()
    return [d.embedding[:4] for d in result.data]


async def anthropic_stream(base: str) -> Any:
    client = anthropic.AsyncAnthropic(
        base_url=f"{base}/anthropic", api_key="sk-ant-test", max_retries=0
    )
    async with client.messages.stream(
        model="claude-opus-4-6",
        max_tokens=100,
        messages=ASK,  # type: ignore[arg-type]
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    await client.close()
    return text, final.usage.output_tokens


async def gemini_stream(base: str) -> Any:
    client = genai.Client(
        api_key="AIza-test-key", http_options=genai_types.HttpOptions(base_url=f"{base}/gemini")
    )
    stream = await client.aio.models.generate_content_stream(
        model="gemini-2.5-flash", contents="How many r's are in strawberry?"
    )
    return "".join([chunk.text or "" async for chunk in stream])


async def ollama_stream(base: str) -> Any:
    async with ollama.AsyncClient(host=f"{base}/ollama") as client:
        parts = [
            part.message.content
            async for part in await client.chat(model="llama3.2", messages=ASK, stream=True)
        ]
    return "".join(p or "" for p in parts)


async def cohere_stream(base: str) -> Any:
    async with httpx.AsyncClient() as http:
        client = cohere.AsyncClientV2(
            api_key="co-test", base_url=f"{base}/cohere", httpx_client=http
        )
        text = ""
        async for event in client.chat_stream(model="command-a-03-2025", messages=ASK):  # type: ignore[arg-type]
            if event.type == "content-delta" and event.delta is not None:
                # cohere types every field of a delta Optional
                text += event.delta.message.content.text  # type: ignore[union-attr, operator]
    return text


async def converted_claude_stream(base: str) -> Any:
    client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="sk-test", max_retries=0)
    text, finish = "", None
    stream = await client.chat.completions.create(
        model="claude-opus-4-6",
        messages=ASK,
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = None
    async for chunk in stream:
        usage = chunk.usage or usage
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
    await client.close()
    assert usage is not None
    return text, finish, usage.completion_tokens


DRIVERS: dict[str, tuple[Callable[[str], Awaitable[Any]], str, str]] = {
    # name: (driver, provider, route)
    "openai-chat-stream": (openai_chat_stream, "openai", "openai"),
    "openai-tool-call-stream": (openai_tool_call_stream, "openai", "openai"),
    "openai-responses-stream": (openai_responses_stream, "openai", "openai"),
    "openai-embeddings": (openai_embeddings, "openai", "openai"),
    "anthropic-native-stream": (anthropic_stream, "anthropic", "passthrough"),
    "gemini-native-stream": (gemini_stream, "gemini", "passthrough"),
    "ollama-native-stream": (ollama_stream, "ollama", "passthrough"),
    "cohere-native-stream": (cohere_stream, "cohere", "passthrough"),
    "claude-converted-stream": (converted_claude_stream, "anthropic", "converted"),
}


def _comparable(trace: Trace) -> Any:
    """What a replayed trace must share with the recorded one."""
    return (
        trace.provider,
        trace.model,
        trace.route,
        trace.endpoint,
        trace.metadata.status,
        trace.metadata.status_code,
        trace.metadata.streaming,
        trace.metadata.chunks_received,
        trace.metadata.usage,
        _without_created(trace.response),
        [(c.event, c.raw if c.raw is not None else c.data) for c in trace.chunks]
        if trace.route != "converted"
        else len(trace.chunks),
    )


def _without_created(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_created(v) for k, v in value.items() if k != "created"}
    if isinstance(value, list):
        return [_without_created(v) for v in value]
    return value


@pytest.mark.parametrize("route", sorted(DRIVERS))
async def test_sdk_call_replays_offline_as_recorded(
    start: Start, store: TraceStore, route: str
) -> None:
    driver, provider, route_kind = DRIVERS[route]
    recorder = await start("record")
    recorded = await driver(root(recorder))
    (recorded_trace,) = await saved_traces(recorder)
    await stop(recorder)
    assert (recorded_trace.provider, recorded_trace.route) == (provider, route_kind)
    assert recorded_trace.meta["cassette"] == "c"
    (interaction,) = Cassette("c", store.home)
    assert recorded_trace.meta["recorded_to"].endswith(
        f"{interaction.seq:04d}-{provider}-{interaction.request.model}-{interaction.key}.yaml"
    )

    with socket_guard() as guard:
        player = await start("replay")
        guard.allowed.add(player.port)
        replayed = await driver(root(player))
        traces = await saved_traces(player, expected=2)
    assert guard.blocked == []
    assert replayed == recorded
    replay_trace = traces[-1]
    assert replay_trace.meta["replayed_from"] == recorded_trace.meta["recorded_to"]
    assert _comparable(replay_trace) == _comparable(recorded_trace)
    assert player.cassette is not None and (player.cassette.hits, player.cassette.misses) == (1, 0)


# -- raw clients: bytes and read boundaries -------------------------------------------------

RAW_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "openai-chat-stream": (
        "/v1/chat/completions",
        {
            "model": "gpt-4o-mini",
            "messages": ASK,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ),
    "openai-chat-json": ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": ASK}),
    "anthropic-stream": (
        "/anthropic/v1/messages",
        {"model": "claude-opus-4-6", "max_tokens": 50, "messages": ASK, "stream": True},
    ),
    "gemini-stream": (
        "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        {"contents": [{"role": "user", "parts": [{"text": "How many r's are in strawberry?"}]}]},
    ),
    "ollama-ndjson": ("/ollama/api/chat", {"model": "llama3.2", "messages": ASK}),
    "cohere-stream": (
        "/cohere/v2/chat",
        {"model": "command-a-03-2025", "messages": ASK, "stream": True},
    ),
}


async def _raw_reads(base: str, path: str, body: dict[str, Any]) -> tuple[int, str, list[bytes]]:
    """Status, content type and the body's reads as an aiohttp client receives them."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(base + path, json=body, headers={"x-goog-api-key": "AIza-test"}) as response,
    ):
        reads = [data async for data in response.content.iter_any()]
        return response.status, response.headers["Content-Type"], reads


@pytest.mark.parametrize("call", sorted(RAW_CALLS))
async def test_replay_sends_the_recorded_bytes_read_for_read(
    start: Start, store: TraceStore, call: str
) -> None:
    path, body = RAW_CALLS[call]
    # 15 ms between the mock's writes: each event arrives as a read of its own.
    recorder = await start("record", mock_delay_ms=15)
    live_status, live_type, live_reads = await _raw_reads(root(recorder), path, body)
    await stop(recorder)
    (interaction,) = Cassette("c", store.home)
    recorded_reads = [read.data for read in interaction.response.body_reads()]
    assert b"".join(recorded_reads) == b"".join(live_reads)

    with socket_guard() as guard:
        player = await start("replay", timing="recorded")
        guard.allowed.add(player.port)
        status, content_type, reads = await _raw_reads(root(player), path, body)
    assert guard.blocked == []
    assert (status, content_type) == (live_status, live_type)
    assert b"".join(reads) == b"".join(live_reads)  # byte-identical body
    if interaction.response.stream:
        assert len(recorded_reads) >= 3
        assert reads == recorded_reads  # one write per recorded read, same boundaries


async def test_recorded_timing_keeps_chunk_offsets(start: Start) -> None:
    recorder = await start("record", mock_delay_ms=15)
    await anthropic_stream(root(recorder))
    (recorded,) = await saved_traces(recorder)
    await stop(recorder)

    player = await start("replay", timing="recorded")
    path, body = RAW_CALLS["anthropic-stream"]
    await _raw_reads(root(player), path, {**body, "max_tokens": 100})
    replayed = (await saved_traces(player, expected=2))[-1]
    assert len(replayed.chunks) == len(recorded.chunks) > 10
    pairs = list(zip(recorded.chunks, replayed.chunks, strict=True))
    # Never early; within 5 ms of the recording, except chunks a loaded machine (other test
    # processes) scheduled late: at most a quarter of them, and never by 50 ms.
    early = [(a.index, a.offset_ms, b.offset_ms) for a, b in pairs if b.offset_ms < a.offset_ms - 1]
    late = [(a.index, a.offset_ms, b.offset_ms) for a, b in pairs if b.offset_ms > a.offset_ms + 5]
    assert early == []
    assert len(late) <= len(pairs) // 4, late
    assert all(b.offset_ms < a.offset_ms + 50 for a, b in pairs), late
    assert recorded.chunks[-1].offset_ms > 150  # the pauses were really replayed


async def test_recorded_timing_does_not_drift_over_a_long_stream(start: Start) -> None:
    """100 reads 3 ms apart: each is scheduled at its absolute recorded offset, so pauses do
    not add up (sleeping the recorded gap after each read would be ~100 ms late at the end).
    Exact numbers: ``bench/replay_timing.py``."""
    events = transcript_chunks()
    body = [events[1]] * 100 + [events[-1]]

    async def paced(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in body:
            await response.write(event)
            await asyncio.sleep(0.003)
        return response

    recorder = await start("record", upstream_app=upstream_app(paced))
    call = {"model": "gpt-4o-mini", "messages": ASK, "stream": True}
    await _raw_reads(root(recorder), "/v1/chat/completions", call)
    (recorded,) = await saved_traces(recorder)
    await stop(recorder)
    player = await start("replay", timing="recorded")
    await _raw_reads(root(player), "/v1/chat/completions", call)
    replayed = (await saved_traces(player, expected=2))[-1]
    pairs = list(zip(recorded.chunks, replayed.chunks, strict=True))
    assert len(pairs) >= 50  # reads the upstream wrote close together may have merged
    late = [b.offset_ms - a.offset_ms for a, b in pairs]
    assert sum(x <= 5 for x in late) >= 0.75 * len(late), late
    assert max(late) < 50 and min(late) > -1, late
    assert late[-1] < 20, late  # no drift: the end is as close as the start


async def test_scaled_and_fast_timing_shrink_the_pauses(start: Start, store: TraceStore) -> None:
    recorder = await start("record", mock_delay_ms=15)
    await anthropic_stream(root(recorder))
    await anthropic_stream(root(recorder))
    (recorded, _) = await saved_traces(recorder, expected=2)
    await stop(recorder)
    # An hour before every read: with ``fast`` the replay must not wait at all.
    cassette = Cassette("c", store.home)
    for path, interaction in cassette.interactions():
        for read in interaction.response.reads:
            read.offset_ms += 3_600_000
        path.unlink()
        interaction.seq = 0
        cassette.add(interaction)

    player = await start("replay", timing="fast")
    text = await asyncio.wait_for(anthropic_stream(root(player)), 60)
    assert text[0].startswith("Hello!")
    scaled = await start("replay", timing="scale:0.000001", name="c")
    await asyncio.wait_for(anthropic_stream(root(scaled)), 60)
    assert recorded.chunks[-1].offset_ms > 150

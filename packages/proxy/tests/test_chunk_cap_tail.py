"""Streams past ``proxy.chunk_cap`` (issue #21 regression): the trace stores the first
``chunk_cap`` chunks, counts the rest, and rebuilds the same answer (text, reasoning, tool
calls and their arguments, finish reason, usage) as with no cap, while the event loop keeps
no bytes of the events past the cap.

Driven as an app would: the official ``openai``, ``anthropic`` and ``google-genai`` SDKs
through the proxy to the embedded mock upstream, which replays real recorded transcripts
(packages/proxy/src/traceforge_proxy/mock_upstream/data), in both writer modes.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.mock_upstream import LONG_TEXT_STREAM
from traceforge_proxy.plan import ForwardingPlan, Target
from traceforge_proxy.relay import start_relay
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import make_exchange, saved_traces, transcript_chunks
from traceforge_proxy.trace_build import build_trace
from traceforge_shared.trace import Trace

ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello, how are you?"}]
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}
TIME = {**WEATHER, "function": {**WEATHER["function"], "name": "get_time"}}
WRITERS = pytest.mark.parametrize("writer", ["thread", "process"])

Call = Callable[[ProxyService], Awaitable[Any]]


async def _capped_and_whole(
    make_proxy: Any, call: Call, cap: int, writer: str
) -> tuple[Trace, Trace, Any, Any]:
    """Run ``call`` through a proxy with ``chunk_cap=cap`` and one with no cap (same writer
    mode); return both traces and what the app got each time."""
    capped = await make_proxy(chunk_cap=cap, writer=writer, default_provider=None)
    got_capped = await call(capped)
    (capped_trace,) = await saved_traces(capped)
    whole = await make_proxy(writer=writer, default_provider=None)
    got_whole = await call(whole)
    _, whole_trace = await saved_traces(whole, expected=2)
    return capped_trace, whole_trace, got_capped, got_whole


def _assert_capped(capped: Trace, whole: Trace, cap: int) -> None:
    """``capped`` stored ``cap`` chunks, counted every one, and says so."""
    meta, full = capped.metadata, whole.metadata
    assert full.chunks_received > cap  # the stream did go past the cap
    assert len(capped.chunks) == meta.chunks_buffered == cap
    assert [c.data for c in capped.chunks] == [c.data for c in whole.chunks[:cap]]
    assert meta.chunks_received == full.chunks_received
    assert meta.total_chunks == full.total_chunks
    assert any("chunk cap reached" in w for w in meta.warnings)
    assert meta.status == full.status == "success"
    assert meta.usage == full.usage and meta.usage is not None
    assert meta.first_content_latency_ms is not None


def _chat_answer(trace: Trace) -> Any:
    """The rebuilt chat answer without the fields a converter dates per call."""
    response = trace.response
    return {"choices": response["choices"], "usage": response.get("usage")}


async def _chat(service: ProxyService, **options: Any) -> tuple[str, dict[int, str], Any, Any]:
    """Stream with the openai SDK; return text, arguments by tool-call index, finish, usage."""
    async with openai.AsyncOpenAI(base_url=service.url, api_key="sk-x", max_retries=0) as client:
        stream = await client.chat.completions.create(
            messages=ASK,
            stream=True,
            stream_options={"include_usage": True},
            **options,
        )
        text, finish, usage = "", None, None
        arguments: dict[int, str] = {}
        async for chunk in stream:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                text += choice.delta.content or ""
                for call in choice.delta.tool_calls or []:
                    piece = call.function.arguments if call.function else None
                    arguments[call.index] = arguments.get(call.index, "") + (piece or "")
    return text, arguments, finish, usage


@WRITERS
async def test_long_chat_stream_past_the_cap(make_proxy, writer) -> None:  # type: ignore[no-untyped-def]
    # gpt-4.1 gets the 304-event recording (stream-text-usage-2026.sse); usage comes last.
    assert len(transcript_chunks(LONG_TEXT_STREAM, include_usage=True)) > 300
    capped, whole, got, got_whole = await _capped_and_whole(
        make_proxy, lambda s: _chat(s, model="gpt-4.1"), 5, writer
    )
    assert got == got_whole
    _assert_capped(capped, whole, 5)
    assert capped.response == whole.response
    message = capped.response["choices"][0]
    assert message["message"]["content"] == got[0] and len(got[0]) > 500
    assert message["finish_reason"] == got[2] == "stop"
    assert capped.metadata.usage.completion_tokens == got[3].completion_tokens  # type: ignore[union-attr]


@WRITERS
async def test_parallel_tool_call_arguments_past_the_cap(make_proxy, writer) -> None:  # type: ignore[no-untyped-def]
    # Two tools: stream-parallel-tool-calls.sse (26 events), arguments split in fragments.
    capped, whole, got, _ = await _capped_and_whole(
        make_proxy, lambda s: _chat(s, model="gpt-4o", tools=[WEATHER, TIME]), 3, writer
    )
    _assert_capped(capped, whole, 3)
    assert capped.response == whole.response
    message = capped.response["choices"][0]
    calls = message["message"]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [got[1][i] for i in sorted(got[1])]
    assert len(calls) >= 2 and all(c["id"] and c["function"]["name"] for c in calls)
    assert message["finish_reason"] == got[2] == "tool_calls"


async def _responses(service: ProxyService) -> tuple[str, Any]:
    client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-x", max_retries=0)
    async with client, client.responses.stream(model="gpt-5", input="Hello") as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    return final.output_text, final.model_dump(mode="json")


@WRITERS
async def test_responses_stream_past_the_cap(make_proxy, writer) -> None:  # type: ignore[no-untyped-def]
    # gpt-5 gets stream-reasoning-function-calls.sse (56 events: reasoning, function calls).
    capped, whole, got, _ = await _capped_and_whole(make_proxy, _responses, 5, writer)
    _assert_capped(capped, whole, 5)
    assert capped.response == whole.response
    assert capped.response["id"] == got[1]["id"]
    assert [i["type"] for i in capped.response["output"]] == [i["type"] for i in got[1]["output"]]
    calls = [i for i in capped.response["output"] if i["type"] == "function_call"]
    assert calls and [c["arguments"] for c in calls] == [
        i["arguments"] for i in got[1]["output"] if i["type"] == "function_call"
    ]


@WRITERS
async def test_converted_anthropic_tool_stream_past_the_cap(make_proxy, writer) -> None:  # type: ignore[no-untyped-def]
    # The openai SDK to a Claude model: anthropic/stream-tool-use.sse (15 events) converted.
    capped, whole, got, got_whole = await _capped_and_whole(
        make_proxy, lambda s: _chat(s, model="claude-opus-4-6", tools=[WEATHER]), 3, writer
    )
    assert got == got_whole and got[1]  # the tool call's arguments reached the app
    _assert_capped(capped, whole, 3)
    assert capped.route == "converted"
    assert _chat_answer(capped) == _chat_answer(whole)
    call = capped.response["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["arguments"] == got[1][0]
    assert capped.response["choices"][0]["finish_reason"] == "tool_calls"


async def _anthropic_native(service: ProxyService) -> Any:
    base = service.url.removesuffix("/v1")
    client = anthropic.AsyncAnthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0)
    tool = {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
    }
    async with client.messages.stream(
        model="claude-opus-4-6",
        max_tokens=100,
        messages=ASK,  # type: ignore[arg-type]
        tools=[tool],  # type: ignore[list-item]
    ) as stream:
        final = await stream.get_final_message()
    await client.close()
    return final.model_dump(mode="json")


@WRITERS
async def test_passthrough_anthropic_stream_past_the_cap(make_proxy, writer) -> None:  # type: ignore[no-untyped-def]
    # The anthropic SDK on its native route: message_start (input tokens) is stored, the
    # tool_use block, its input_json_delta fragments and message_delta (output tokens) are not.
    capped, whole, got, _ = await _capped_and_whole(make_proxy, _anthropic_native, 3, writer)
    _assert_capped(capped, whole, 3)
    assert capped.route == "passthrough"
    assert _chat_answer(capped) == _chat_answer(whole)
    tool_use = next(block for block in got["content"] if block["type"] == "tool_use")
    call = capped.response["choices"][0]["message"]["tool_calls"][0]
    assert call["id"] == tool_use["id"]
    assert call["function"]["arguments"].replace(" ", "") == '{"location":"Paris"}'
    usage = capped.metadata.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        got["usage"]["input_tokens"],
        got["usage"]["output_tokens"],
    )


async def _gemini_native(service: ProxyService) -> str:
    base = service.url.removesuffix("/v1")
    client = genai.Client(
        api_key="AIza-test-key", http_options=genai_types.HttpOptions(base_url=f"{base}/gemini")
    )
    stream = await client.aio.models.generate_content_stream(
        model="gemini-2.5-flash", contents="How many r's are in strawberry?"
    )
    return "".join([chunk.text or "" async for chunk in stream])


@WRITERS
async def test_passthrough_gemini_stream_past_the_cap(make_proxy, writer) -> None:  # type: ignore[no-untyped-def]
    # gemini/stream-text.sse: 3 events, the running usageMetadata total in the last one.
    capped, whole, text, _ = await _capped_and_whole(make_proxy, _gemini_native, 1, writer)
    _assert_capped(capped, whole, 1)
    assert _chat_answer(capped) == _chat_answer(whole)
    assert capped.response["choices"][0]["message"]["content"] == text


def _traced_bytes(feed: Callable[[], None]) -> int:
    """Bytes allocated by ``feed()`` and still held afterwards (tracemalloc)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        feed()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_open_exchange_stays_flat_past_the_cap() -> None:
    # A real recorded chunk with an empty content delta, repeated past the cap as a model that
    # streams keep-alive chunks would: the exchange must not grow with them.
    events = transcript_chunks(LONG_TEXT_STREAM)
    empty = next(e for e in events if b'"content":""' in e)
    plan = ForwardingPlan(Target("openai"), "POST", "http://up/x", {}, b"{}", "raw", stream=True)
    exchange = make_exchange(chunk_cap=5)
    relay = start_relay(plan, exchange, "sse", 200, 1_700_000_000)
    for i, event in enumerate(events[:10]):
        relay.feed(event, i)
    assert exchange.chunks_stored == 5

    def feed(count: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(count):
                relay.feed(empty, 1_000 + i)

        return run

    first = _traced_bytes(feed(2_000))
    second = _traced_bytes(feed(4_000))
    # Each event is ~200 bytes: kept, 4,000 of them would hold ~800 KB.
    assert len(empty) * 4_000 > 500_000
    assert first < 4_096 and second < 4_096, (first, second)
    assert exchange.chunks_received == 10 + 6_000 and exchange.chunks_stored == 5
    trace = build_trace(exchange.record())
    assert trace.metadata.chunks_received == 6_010 and len(trace.chunks) == 5


def test_text_past_the_cap_costs_its_bytes_only() -> None:
    # Content deltas past the cap: the exchange grows by the text they carry (the answer),
    # not by their events (~60 bytes of list slot and str object per delta as a list).
    events = transcript_chunks(LONG_TEXT_STREAM)
    texts = [e for e in events if b'"content":"' in e and b'"content":""' not in e]
    plan = ForwardingPlan(Target("openai"), "POST", "http://up/x", {}, b"{}", "raw", stream=True)
    exchange = make_exchange(chunk_cap=5)
    relay = start_relay(plan, exchange, "sse", 200, 1_700_000_000)
    for i, event in enumerate(events[:10]):
        relay.feed(event, i)
    rounds = 20

    def run() -> None:
        for r in range(rounds):
            for i, event in enumerate(texts):
                relay.feed(event, 10_000 + r * 1_000 + i)

    held = _traced_bytes(run)
    whole = build_trace(exchange.record()).response["choices"][0]["message"]["content"]
    carried = len(whole.encode())
    assert held < carried * 1.3 + 4_096, (held, carried)
    assert len(texts) * rounds * 200 > 3 * carried  # the raw events would be far more

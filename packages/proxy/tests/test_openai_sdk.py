"""The official ``openai`` SDK, sync and async, pointed at the proxy in front of the mock
upstream (real recorded OpenAI transcripts): what the app sees, and what the trace holds."""

from __future__ import annotations

import json

import msgspec
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from traceforge_proxy.mock_upstream import (
    COMPLETION,
    PARALLEL_TOOL_STREAM,
    TEXT_STREAM,
    transcript_bytes,
    transcript_events,
)
from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_proxy.sse import SSEParser
from traceforge_proxy.testing import saved_traces, transcript_body
from traceforge_proxy.upstream import Upstream
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import chunk_text

from .conftest import MakeProxy, Sdk

USER: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What's the weather like in SF?"}
]
WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "strict": True,
        "parameters": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"city": {"type": "string"}, "state": {"type": "string"}},
            "required": ["city", "state"],
        },
    },
}
STOCK_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_stock_price",
        "parameters": {"type": "object", "properties": {"ticker": {"type": "string"}}},
    },
}


def _payloads(body: bytes) -> list[object]:
    """Decoded JSON payloads of an SSE body, ``[DONE]`` excluded."""
    parser = SSEParser()
    events = parser.feed(body) + parser.close()
    return [
        msgspec.json.decode(e.data) for e in events if e.data is not None and e.data != b"[DONE]"
    ]


def _deltas(body: bytes) -> str:
    out = []
    for payload in _payloads(body):
        assert isinstance(payload, dict)
        for choice in payload["choices"]:
            out.append(choice["delta"].get("content") or "")
    return "".join(out)


async def test_plain_completion_async(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy()
    client = sdk(service, api_key="sk-test-key-123")
    completion = await client.chat.completions.create(
        model="gpt-4.1-nano", messages=[{"role": "user", "content": "Invent a holiday."}]
    )
    recorded = json.loads(transcript_bytes(COMPLETION))
    assert completion.choices[0].message.content == recorded["choices"][0]["message"]["content"]
    assert completion.usage is not None
    assert completion.usage.total_tokens == recorded["usage"]["total_tokens"]

    (trace,) = await saved_traces(service)
    assert trace.provider == "openai"
    assert trace.model == "gpt-4.1-nano"
    assert trace.endpoint == "/v1/chat/completions"
    assert trace.request == {
        "model": "gpt-4.1-nano",
        "messages": [{"role": "user", "content": "Invent a holiday."}],
    }
    assert trace.response == recorded
    meta = trace.metadata
    assert (meta.status, meta.status_code, meta.streaming) == ("success", 200, False)
    assert meta.usage is not None
    assert (meta.usage.prompt_tokens, meta.usage.completion_tokens) == (16, 363)
    assert meta.latency_ms > 0
    assert meta.first_chunk_latency_ms is None
    assert trace.chunks == []
    assert meta.response_headers["x-request-id"].startswith("req_mock_")
    # The key the app sent never reaches the trace file.
    assert meta.request_headers["authorization"] == "[REDACTED]"
    assert "metadata.request_headers.authorization: header" in meta.redacted_fields
    assert b"sk-test-key-123" not in service.store.path_for(trace.id).read_bytes()


async def test_stream_bytes_reach_client_unchanged(make_proxy: MakeProxy, sdk: Sdk) -> None:
    """The app receives exactly the upstream's SSE bytes: nothing added (no delta_ms), and the
    usage chunk the proxy asked for on its behalf withheld."""
    service = await make_proxy()
    client = sdk(service)
    async with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-2024-08-06",
        messages=USER,
        stream=True,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        received = b"".join([part async for part in response.iter_bytes()])
    assert received == transcript_body(TEXT_STREAM, include_usage=False)
    assert b"delta_ms" not in received

    (trace,) = await saved_traces(service)
    # Upstream sent 34 events with data (incl. the usage chunk and [DONE]); the client got 33.
    assert trace.metadata.chunks_received == len(transcript_events(TEXT_STREAM))
    assert trace.metadata.total_chunks == trace.metadata.chunks_received - 1
    withheld = [c for c in trace.chunks if not c.forwarded]
    assert len(withheld) == 1
    assert withheld[0].data["choices"] == []
    assert any("include_usage" in w for w in trace.metadata.warnings)


async def test_stream_client_asking_for_usage_gets_it(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy()
    client = sdk(service)
    async with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-2024-08-06",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        received = b"".join([part async for part in response.iter_bytes()])
    assert received == transcript_body(TEXT_STREAM, include_usage=True)
    (trace,) = await saved_traces(service)
    assert all(c.forwarded for c in trace.chunks)
    assert trace.metadata.total_chunks == trace.metadata.chunks_received
    assert not any("include_usage" in w for w in trace.metadata.warnings)


async def test_streaming_text_trace_async(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(mock_delay_ms=2)
    client = sdk(service)
    stream = await client.chat.completions.create(
        model="gpt-4o-2024-08-06", messages=USER, stream=True
    )
    pieces = []
    async for chunk in stream:
        assert chunk.choices, "the withheld usage chunk must not reach the app"
        pieces.append(chunk.choices[0].delta.content or "")
    text = "".join(pieces)
    assert text == _deltas(transcript_bytes(TEXT_STREAM))

    (trace,) = await saved_traces(service)
    meta = trace.metadata
    assert meta.streaming and meta.status == "success" and meta.status_code == 200
    # Every chunk is stored, in order, with its timing.
    assert [c.index for c in trace.chunks] == list(range(meta.chunks_received))
    assert meta.chunks_buffered == meta.chunks_received == len(trace.chunks)
    assert trace.chunks[-1].raw == "[DONE]"
    assert all(c.delta_ms >= 0 for c in trace.chunks)
    offsets = [c.offset_ms for c in trace.chunks]
    assert offsets == sorted(offsets)
    assert trace.chunks[0].delta_ms == trace.chunks[0].offset_ms == meta.first_chunk_latency_ms
    assert meta.stream_duration_ms == pytest.approx(offsets[-1] - offsets[0], abs=0.01)
    assert meta.stream_duration_ms is not None
    assert meta.stream_duration_ms > 0  # the mock paced the events 2 ms apart
    # The rebuilt response is a chat.completion whose text is the concatenation of deltas.
    assert "".join(chunk_text(c) for c in trace.chunks) == text
    message = trace.response["choices"][0]["message"]
    assert message == {"role": "assistant", "content": text}
    assert trace.response["object"] == "chat.completion"
    assert trace.response["choices"][0]["finish_reason"] == "stop"
    assert meta.usage is not None
    assert (meta.usage.prompt_tokens, meta.usage.completion_tokens, meta.usage.total_tokens) == (
        14,
        30,
        44,
    )


async def test_streaming_tool_call_trace(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy()
    client = sdk(service)
    arguments = ""
    finish = None
    async for chunk in await client.chat.completions.create(
        model="gpt-4o-2024-08-06",
        messages=USER,
        tools=[WEATHER_TOOL],
        stream=True,
    ):
        finish = chunk.choices[0].finish_reason or finish
        for call in chunk.choices[0].delta.tool_calls or []:
            arguments += call.function.arguments or "" if call.function else ""
    assert finish == "tool_calls"

    (trace,) = await saved_traces(service)
    message = trace.response["choices"][0]["message"]
    assert trace.response["choices"][0]["finish_reason"] == "tool_calls"
    assert message["content"] is None
    (call,) = message["tool_calls"]
    assert call["id"] == "call_CTf1nWJLqSeRgDqaCG27xZ74"
    assert call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == arguments
    assert json.loads(call["function"]["arguments"]) == {"city": "San Francisco", "state": "CA"}
    assert trace.metadata.usage is not None and trace.metadata.usage.total_tokens > 0


async def test_parallel_tool_calls_trace(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy()
    client = sdk(service)
    async with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-2024-08-06",
        messages=USER,
        tools=[WEATHER_TOOL, STOCK_TOOL],
        stream=True,
    ) as response:
        received = b"".join([part async for part in response.iter_bytes()])
    assert received == transcript_body(PARALLEL_TOOL_STREAM, include_usage=False)
    (trace,) = await saved_traces(service)
    calls = trace.response["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["GetWeatherArgs", "get_stock_price"]
    assert len({c["id"] for c in calls}) == 2
    assert json.loads(calls[0]["function"]["arguments"]) == {
        "city": "Edinburgh",
        "country": "GB",
        "units": "c",
    }
    assert json.loads(calls[1]["function"]["arguments"]) == {"ticker": "AAPL", "exchange": "NASDAQ"}


def test_sync_client_plain_and_stream(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The synchronous client, as most apps use it (proxy on a background thread)."""
    store = TraceStore(tmp_path / "home", fsync=False)
    config = Config()
    config.proxy.port = 0
    mock = Upstream(
        provider="openai", base_url=None, api_key=None, inject_stream_usage=True, mock=True
    )
    with (
        BackgroundProxy(ProxyService(config, mock, store, mock_delay_ms=0)) as proxy,
        openai.OpenAI(base_url=proxy.url, api_key="sk-sync", max_retries=0) as client,
    ):
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        streamed = "".join(
            chunk.choices[0].delta.content or ""
            for chunk in client.chat.completions.create(
                model="gpt-4o-mini", messages=USER, stream=True
            )
        )
        models = client.models.list()
        assert proxy.drain()
    assert completion.choices[0].message.content
    assert streamed == _deltas(transcript_bytes(TEXT_STREAM))
    assert models.data[0].id == "gpt-4o-2024-08-06"
    summaries = store.list()
    assert [(s.endpoint, s.streaming, s.status) for s in summaries] == [
        ("/v1/models", False, "success"),
        ("/v1/chat/completions", True, "success"),
        ("/v1/chat/completions", False, "success"),
    ]
    models_trace = store.get(summaries[0].id)
    assert models_trace.metadata.method == "GET"
    assert models_trace.response["object"] == "list"

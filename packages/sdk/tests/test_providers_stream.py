"""`Provider.stream()` / `generate()` for every provider, through its official SDK, against the
embedded mock upstream replaying real recorded transcripts on 127.0.0.1.

Expected text, tool calls and usage are read from the transcript files here (independently of
the backends' converters); the mapping of each provider's usage fields is the one documented
in `traceforge.providers.events.Usage`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from aiohttp import web

from traceforge import Signal
from traceforge.errors import AuthenticationFailed, Overloaded, RateLimited
from traceforge.providers import (
    DoneEvent,
    ErrorEvent,
    StreamEvent,
    StreamRequest,
    TokenEvent,
    ToolCall,
    ToolCallEvent,
    Usage,
    get_provider,
)
from traceforge_proxy.mock_upstream import create_mock_app, replay
from traceforge_shared.providers import PROVIDER_SPECS

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on an ephemeral port of 127.0.0.1; yields its root URL."""
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


@pytest.fixture
async def mock_url() -> AsyncIterator[str]:
    async with serve(create_mock_app(delay_ms=0)) as url:
        yield url


def sse_payloads(name: str) -> list[dict[str, Any]]:
    return [
        msgspec.json.decode(event.data)
        for event in replay.sse_events(name)
        if event.data is not None and event.data.strip() and event.data != b"[DONE]"
    ]


def ndjson_payloads(name: str) -> list[dict[str, Any]]:
    return [msgspec.json.decode(line) for line in replay.ndjson_lines(name) if line.strip()]


@dataclass
class Expected:
    text: str
    tool_calls: list[ToolCall]
    finish_reason: str | None
    usage: Usage
    reasoning: str = ""


def _total(prompt: int | None, completion: int | None, total: int | None = None) -> int | None:
    return total if total is not None else (prompt or 0) + (completion or 0)


def expected_openai(name: str) -> Expected:
    text, reasoning, calls = [], [], {}  # type: ignore[var-annotated]
    finish, usage = None, Usage()
    for chunk in sse_payloads(name):
        if chunk.get("usage"):
            u = chunk["usage"]
            usage = Usage(
                u["prompt_tokens"],
                u["completion_tokens"],
                u["total_tokens"],
                (u.get("prompt_tokens_details") or {}).get("cached_tokens"),
                (u.get("completion_tokens_details") or {}).get("reasoning_tokens"),
            )
        for choice in chunk["choices"]:
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or "")
            for call in delta.get("tool_calls") or []:
                entry = calls.setdefault(call["index"], [call.get("id"), None, ""])
                entry[1] = entry[1] or call["function"].get("name")
                entry[2] += call["function"].get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    return Expected(
        "".join(text),
        [ToolCall(*calls[i]) for i in sorted(calls)],
        finish,
        usage,
        "".join(reasoning),
    )


def expected_anthropic(name: str) -> Expected:
    text, calls, finish = [], [], None
    prompt = completion = cached = None
    for event in sse_payloads(name):
        kind = event["type"]
        if kind == "message_start":
            u = event["message"]["usage"]
            cached = u.get("cache_read_input_tokens")
            prompt = u["input_tokens"] + (cached or 0) + (u.get("cache_creation_input_tokens") or 0)
            completion = u.get("output_tokens")
        elif kind == "content_block_start" and event["content_block"]["type"] == "tool_use":
            block = event["content_block"]
            calls.append(ToolCall(block["id"], block["name"], ""))
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                text.append(delta["text"])
            elif delta["type"] == "input_json_delta":
                last = calls[-1]
                calls[-1] = ToolCall(last.id, last.name, last.arguments + delta["partial_json"])
        elif kind == "message_delta":
            finish = event["delta"]["stop_reason"]
            completion = event["usage"]["output_tokens"]
    return Expected(
        "".join(text), calls, finish, Usage(prompt, completion, _total(prompt, completion), cached)
    )


def expected_gemini(name: str) -> Expected:
    text, calls, finish, usage = [], [], None, Usage()
    for chunk in sse_payloads(name):
        for candidate in chunk["candidates"]:
            for part in candidate["content"]["parts"]:
                if part.get("text") and not part.get("thought"):
                    text.append(part["text"])
                if "functionCall" in part:
                    call = part["functionCall"]
                    calls.append(ToolCall(call.get("id"), call["name"], json.dumps(call["args"])))
            finish = candidate.get("finishReason") or finish
        u = chunk["usageMetadata"]
        usage = Usage(
            u.get("promptTokenCount"),
            u.get("candidatesTokenCount"),
            u.get("totalTokenCount"),
            u.get("cachedContentTokenCount"),
            u.get("thoughtsTokenCount"),
        )
    return Expected("".join(text), calls, finish, usage)


def expected_ollama(name: str) -> Expected:
    lines = ndjson_payloads(name)
    text = "".join(line["message"].get("content", "") for line in lines)
    # The ``ollama`` SDK drops the recorded call ``id`` (its ToolCall model has none), so
    # the backend numbers calls ``call_<index>``: expected id None.
    calls = [
        ToolCall(None, call["function"]["name"], json.dumps(call["function"]["arguments"]))
        for line in lines
        for call in line["message"].get("tool_calls", [])
    ]
    last = lines[-1]
    prompt, completion = last["prompt_eval_count"], last["eval_count"]
    return Expected(
        text, calls, last["done_reason"], Usage(prompt, completion, prompt + completion)
    )


def expected_cohere(name: str) -> Expected:
    text, reasoning, calls, finish, usage = [], [], {}, None, Usage()
    for event in sse_payloads(name):
        kind = event["type"]
        message = (event.get("delta") or {}).get("message") or {}
        if kind == "content-delta":
            text.append(message["content"]["text"])
        elif kind == "tool-plan-delta":
            reasoning.append(message["tool_plan"])
        elif kind == "tool-call-start":
            call = message["tool_calls"]
            calls[event["index"]] = [
                call["id"],
                call["function"]["name"],
                call["function"]["arguments"],
            ]
        elif kind == "tool-call-delta":
            calls[event["index"]][2] += message["tool_calls"]["function"]["arguments"]
        elif kind == "message-end":
            finish = event["delta"]["finish_reason"]
            u = event["delta"]["usage"]
            prompt, completion = u["tokens"]["input_tokens"], u["tokens"]["output_tokens"]
            usage = Usage(prompt, completion, prompt + completion, u.get("cached_tokens"))
    return Expected(
        "".join(text),
        [ToolCall(*calls[i]) for i in sorted(calls)],
        finish,
        usage,
        "".join(reasoning),
    )


# (provider, model, tools?, transcript, expected reader)
CASES = [
    ("openai", "gpt-4o-2024-08-06", False, "stream-text-usage.sse", expected_openai),
    ("openai", "gpt-4o-2024-08-06", True, "stream-tool-calls.sse", expected_openai),
    ("xai", "grok-3-mini", False, "xai/chat-stream-reasoning.sse", expected_openai),
    ("xai", "grok-3-mini", True, "xai/chat-stream-tool-call.sse", expected_openai),
    ("anthropic", "claude-sonnet-4-5", False, "anthropic/stream-text.sse", expected_anthropic),
    ("anthropic", "claude-sonnet-4-5", True, "anthropic/stream-tool-use.sse", expected_anthropic),
    ("gemini", "gemini-3-pro-preview", False, "gemini/stream-text.sse", expected_gemini),
    ("gemini", "gemini-3-pro-preview", True, "gemini/stream-function-call.sse", expected_gemini),
    ("ollama", "llama3.2", False, "ollama/chat-stream.ndjson", expected_ollama),
    ("ollama", "llama3.2", True, "ollama/chat-stream-tool-call.ndjson", expected_ollama),
    ("cohere", "command-r-plus", False, "cohere/chat-stream.sse", expected_cohere),
    ("cohere", "command-r-plus", True, "cohere/chat-stream-tool-call.sse", expected_cohere),
]
IDS = [f"{c[0]}-{'tools' if c[2] else 'text'}" for c in CASES]


def base_url(mock_url: str, provider: str) -> str:
    """The provider's base URL on the mock, in its SDK's convention (``mock_prefix``)."""
    prefix = PROVIDER_SPECS[provider].mock_prefix
    assert prefix is not None
    return mock_url + prefix


def make_request(model: str, tools: bool) -> StreamRequest:
    return StreamRequest(
        model=model,
        prompt="What is the weather in Paris?",
        system="Be brief.",
        temperature=0.2,
        max_tokens=200,
        tools=TOOLS if tools else None,
    )


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


@pytest.mark.parametrize(("provider", "model", "tools", "transcript", "reader"), CASES, ids=IDS)
async def test_stream_gives_recorded_text_tool_calls_and_usage(
    mock_url: str, provider: str, model: str, tools: bool, transcript: str, reader: Any
) -> None:
    expected: Expected = reader(transcript)
    client = get_provider(provider, base_url=base_url(mock_url, provider), api_key="test-key")
    assert client.name == provider
    events = await collect(client.stream(make_request(model, tools), signal=Signal.never()))
    assert isinstance(events[-1], DoneEvent), events[-1]
    assert not any(isinstance(e, ErrorEvent) for e in events)
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == expected.text
    assert events[-1].finish_reason == expected.finish_reason
    assert events[-1].usage == expected.usage
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert bool(calls) == bool(expected.tool_calls)


@pytest.mark.parametrize(("provider", "model", "tools", "transcript", "reader"), CASES, ids=IDS)
async def test_generate_gives_recorded_answer(
    mock_url: str, provider: str, model: str, tools: bool, transcript: str, reader: Any
) -> None:
    expected: Expected = reader(transcript)
    client = get_provider(provider, base_url=base_url(mock_url, provider), api_key="test-key")
    result = await client.generate(make_request(model, tools), signal=Signal.never())
    assert result.text == expected.text
    assert result.finish_reason == expected.finish_reason
    assert result.usage == expected.usage
    assert result.reasoning == expected.reasoning
    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        (c.name, json.loads(c.arguments)) for c in expected.tool_calls
    ]
    ids = [c.id for c in expected.tool_calls]
    assert [c.id for c in result.tool_calls] == [
        i if i is not None else f"call_{n}" for n, i in enumerate(ids)
    ] or all(i is None for i in ids)


async def test_token_limit_stops_after_five_token_events(mock_url: str) -> None:
    signal, counter = Signal.token_limit(5)
    client = get_provider("openai", base_url=base_url(mock_url, "openai"), api_key="k")
    tokens = []
    async for event in client.stream(make_request("gpt-4o-2024-08-06", False), signal=signal):
        assert not signal.aborted
        if isinstance(event, TokenEvent):
            tokens.append(event.text)
            counter.increment()
    assert len(tokens) == 5
    assert signal.aborted


@pytest.mark.parametrize(
    ("provider", "model", "error"),
    [
        ("openai", "mock-401", AuthenticationFailed),
        ("openai", "mock-429", RateLimited),
        ("anthropic", "mock-529", Overloaded),
        ("anthropic", "mock-overloaded-stream", Overloaded),
        ("gemini", "mock-429", RateLimited),
    ],
)
async def test_errors_map_to_the_hierarchy(
    mock_url: str, provider: str, model: str, error: type[Exception]
) -> None:
    client = get_provider(provider, base_url=base_url(mock_url, provider), api_key="k", retry=None)
    events = await collect(client.stream(make_request(model, False), signal=Signal.never()))
    last = events[-1]
    assert isinstance(last, ErrorEvent)
    assert type(last.error) is error
    assert last.error.provider == provider
    with pytest.raises(error):
        await client.generate(make_request(model, False), signal=Signal.never())


async def test_sync_twins(mock_url: str) -> None:
    # The sync twins run in a worker thread here so this loop keeps serving the mock.
    client = get_provider("xai", base_url=base_url(mock_url, "xai"), api_key="k")
    expected = expected_openai("xai/chat-stream-reasoning.sse")
    request = make_request("grok-3-mini", False)
    events = await asyncio.to_thread(
        lambda: list(client.stream_sync(request, signal=Signal.never()))
    )
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == expected.text
    result = await asyncio.to_thread(client.generate_sync, request, signal=Signal.never())
    assert result.reasoning == expected.reasoning
    assert result.usage == expected.usage

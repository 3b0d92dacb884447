"""The mock upstream's provider routes (Anthropic, Gemini, Ollama, Cohere, xAI, OpenAI under
``/openai``), called over raw HTTP (no proxy in between): streams equal the recorded
transcripts byte for byte and arrive one HTTP chunk per event or line; statuses, content
types, validation errors in each provider's shape, error models, tool selection and the two
assembled bodies (Ollama ``stream: false``, xAI non-streaming). Then the official ``anthropic``
and ``google-genai`` SDKs against the mock, to prove they accept its answers."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import pytest
from aiohttp import web
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

import traceforge_proxy.mock_upstream as mock_upstream
from traceforge_proxy.mock_upstream import create_mock_app

DATA = Path(mock_upstream.__file__).parent / "data"
SSE = "text/event-stream; charset=utf-8"
SSE_BARE = "text/event-stream"
NDJSON = "application/x-ndjson"

USER = [{"role": "user", "content": "Hello, how are you?"}]
ANTHROPIC_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a given location",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}
OPENAI_TOOL = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}
GEMINI_CONTENTS = [{"role": "user", "parts": [{"text": "How many r's are in strawberry?"}]}]
GEMINI_TOOLS = [
    {
        "functionDeclarations": [
            {
                "name": "weather",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
            }
        ]
    }
]


@dataclass
class Reply:
    """An answer as it came over the wire: ``chunks`` are the HTTP chunks (one per server
    write) when the body was chunked, else one item holding the whole body."""

    status: int
    content_type: str
    headers: dict[str, str]
    chunks: list[bytes]

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def json(self) -> Any:
        return json.loads(self.body)


async def _start(delay_ms: float) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(create_mock_app(delay_ms=delay_ms))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture
async def mock() -> AsyncIterator[str]:
    """The mock upstream's base URL (no pacing delay)."""
    runner, url = await _start(0.0)
    yield url
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    url: str,
    body: object = None,
    *,
    raw: bytes | None = None,
    method: str = "POST",
) -> Reply:
    """Send ``body`` as JSON (or ``raw`` bytes); collect the answer HTTP chunk by HTTP chunk."""
    kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
    if method == "GET":
        kwargs = {}
    async with http.request(method, url, **kwargs) as resp:
        chunks: list[bytes] = []
        current = b""
        async for data, end_of_http_chunk in resp.content.iter_chunks():
            current += data
            if end_of_http_chunk and current:
                chunks.append(current)
                current = b""
        if current:
            chunks.append(current)
        return Reply(resp.status, resp.headers.get("Content-Type", ""), dict(resp.headers), chunks)


def units(name: str) -> list[bytes]:
    """The writes a transcript must arrive in: SSE events, or NDJSON lines."""
    if name.endswith(".ndjson"):
        return list(mock_upstream.ndjson_lines(name))
    return [event.raw for event in mock_upstream.sse_events(name)]


def lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_bytes().splitlines()]


def sse_json(name: str) -> list[dict[str, Any]]:
    return [
        json.loads(event.data)
        for event in mock_upstream.sse_events(name)
        if event.data is not None and event.data != b"[DONE]"
    ]


# -- streams: byte for byte, one write per event -------------------------------------------------

STREAMS = [
    pytest.param(
        "/anthropic/v1/messages",
        {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": USER, "stream": True},
        "anthropic/stream-text.sse",
        SSE,
        id="anthropic-text",
    ),
    pytest.param(
        "/anthropic/v1/messages",
        {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 1024,
            "messages": USER,
            "tools": [ANTHROPIC_TOOL],
            "stream": True,
        },
        "anthropic/stream-tool-use.sse",
        SSE,
        id="anthropic-tool-use",
    ),
    pytest.param(
        "/anthropic/v1/messages",
        {"model": "mock-overloaded-stream", "max_tokens": 64, "messages": USER, "stream": True},
        "anthropic/stream-error-overloaded.sse",
        SSE,
        id="anthropic-overloaded-in-band",
    ),
    pytest.param(
        "/gemini/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse",
        {"contents": GEMINI_CONTENTS},
        "gemini/stream-text.sse",
        SSE_BARE,
        id="gemini-text",
    ),
    pytest.param(
        "/gemini/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse",
        {"contents": GEMINI_CONTENTS, "tools": GEMINI_TOOLS},
        "gemini/stream-function-call.sse",
        SSE_BARE,
        id="gemini-function-call",
    ),
    pytest.param(
        "/gemini/v1/models/gemini-3-pro-preview:streamGenerateContent?alt=sse",
        {"contents": GEMINI_CONTENTS},
        "gemini/stream-text.sse",
        SSE_BARE,
        id="gemini-text-v1",
    ),
    pytest.param(
        "/ollama/api/chat",
        {"model": "llama3.2", "messages": USER},
        "ollama/chat-stream.ndjson",
        NDJSON,
        id="ollama-chat-default-streams",
    ),
    pytest.param(
        "/ollama/api/chat",
        {"model": "llama3.2", "messages": USER, "tools": [OPENAI_TOOL], "stream": True},
        "ollama/chat-stream-tool-call.ndjson",
        NDJSON,
        id="ollama-chat-tool-call",
    ),
    pytest.param(
        "/ollama/api/generate",
        {"model": "llama3.2", "prompt": "Why is the sky blue?"},
        "ollama/generate-stream.ndjson",
        NDJSON,
        id="ollama-generate",
    ),
    pytest.param(
        "/cohere/v2/chat",
        {"model": "command-a-03-2025", "messages": USER, "stream": True},
        "cohere/chat-stream.sse",
        SSE_BARE,
        id="cohere-text",
    ),
    pytest.param(
        "/cohere/v2/chat",
        {"model": "command-a-03-2025", "messages": USER, "tools": [OPENAI_TOOL], "stream": True},
        "cohere/chat-stream-tool-call.sse",
        SSE_BARE,
        id="cohere-tool-call",
    ),
    pytest.param(
        "/xai/v1/chat/completions",
        {"model": "grok-3-mini", "messages": USER, "stream": True},
        "xai/chat-stream-reasoning.sse",
        SSE_BARE,
        id="xai-reasoning",
    ),
    pytest.param(
        "/xai/v1/chat/completions",
        {"model": "grok-3-mini", "messages": USER, "tools": [OPENAI_TOOL], "stream": True},
        "xai/chat-stream-tool-call.sse",
        SSE_BARE,
        id="xai-tool-call",
    ),
    pytest.param(
        "/openai/v1/chat/completions",
        {
            "model": "gpt-4o",
            "messages": USER,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        "stream-text-usage.sse",
        SSE,
        id="openai-prefixed",
    ),
]


@pytest.mark.parametrize(("path", "body", "name", "content_type"), STREAMS)
async def test_stream_is_the_transcript_event_by_event(
    mock: str, http: aiohttp.ClientSession, path: str, body: object, name: str, content_type: str
) -> None:
    reply = await call(http, mock + path, body)
    assert reply.status == 200
    assert reply.content_type == content_type
    assert reply.body == (DATA / name).read_bytes()
    assert reply.chunks == units(name)  # one HTTP chunk per server write: one per event/line
    assert len(reply.chunks) > 1


async def test_events_are_paced_by_delay(http: aiohttp.ClientSession) -> None:
    runner, url = await _start(15.0)
    try:
        started = time.monotonic()
        reply = await call(
            http,
            url + "/ollama/api/generate",
            {"model": "llama3.2", "prompt": "Why is the sky blue?"},
        )
        elapsed = time.monotonic() - started
    finally:
        await runner.cleanup()
    assert reply.chunks == units("ollama/generate-stream.ndjson")
    assert elapsed >= 0.9 * len(reply.chunks) * 0.015


# -- non-streaming recorded bodies ---------------------------------------------------------------

BODIES = [
    pytest.param(
        "/anthropic/v1/messages",
        {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": USER},
        "anthropic/message.json",
        "application/json",
        id="anthropic",
    ),
    pytest.param(
        "/gemini/v1beta/models/gemini-3-pro-preview:generateContent",
        {"contents": GEMINI_CONTENTS},
        "gemini/generate-content.json",
        "application/json; charset=UTF-8",
        id="gemini",
    ),
    pytest.param(
        "/cohere/v2/chat",
        {"model": "command-a-03-2025", "messages": USER},
        "cohere/chat.json",
        "application/json",
        id="cohere",
    ),
    pytest.param(
        "/openai/v1/chat/completions",
        {"model": "gpt-4.1-nano", "messages": USER},
        "completion.json",
        "application/json",
        id="openai-prefixed",
    ),
]


@pytest.mark.parametrize(("path", "body", "name", "content_type"), BODIES)
async def test_non_streaming_body_is_the_recording(
    mock: str, http: aiohttp.ClientSession, path: str, body: object, name: str, content_type: str
) -> None:
    reply = await call(http, mock + path, body)
    assert reply.status == 200
    assert reply.content_type == content_type
    assert reply.body == (DATA / name).read_bytes()


async def test_anthropic_request_id_header(mock: str, http: aiohttp.ClientSession) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": USER}
    first = await call(http, mock + "/anthropic/v1/messages", body)
    second = await call(http, mock + "/anthropic/v1/messages", {**body, "stream": True})
    bad = await call(http, mock + "/anthropic/v1/messages", {"model": "x"})
    ids = [r.headers.get("request-id") for r in (first, second, bad)]
    assert all(i and i.startswith("req_") for i in ids)
    assert len(set(ids)) == 3
    assert bad.json()["request_id"] == ids[2]


async def test_openai_root_routes_unchanged(mock: str, http: aiohttp.ClientSession) -> None:
    reply = await call(http, mock + "/v1/chat/completions", {"model": "m", "messages": USER})
    assert reply.body == (DATA / "completion.json").read_bytes()
    for path in ("/v1/models", "/openai/v1/models"):
        models = await call(http, mock + path, method="GET")
        assert models.status == 200
        assert models.json()["object"] == "list"


async def test_unknown_path_is_404(mock: str, http: aiohttp.ClientSession) -> None:
    reply = await call(http, mock + "/mistral/v1/chat/completions", {"model": "m"})
    assert reply.status == 404
    assert reply.json()["error"]["code"] == "unknown_url"
    get_on_post_route = await call(http, mock + "/anthropic/v1/messages", method="GET")
    assert get_on_post_route.status == 404


# -- validation errors, in each provider's shape -------------------------------------------------

ANTHROPIC_INVALID = [
    pytest.param({"max_tokens": 5, "messages": USER}, "model", id="no-model"),
    pytest.param({"model": "c", "messages": USER}, "max_tokens", id="no-max-tokens"),
    pytest.param({"model": "c", "max_tokens": "5", "messages": USER}, "integer", id="str-max"),
    pytest.param({"model": "c", "max_tokens": 5}, "messages", id="no-messages"),
    pytest.param({"model": "c", "max_tokens": 5, "messages": []}, "at least one", id="empty"),
    pytest.param(
        {"model": "c", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]},
        "messages.0.role",
        id="tool-role",
    ),
    pytest.param(
        {"model": "c", "max_tokens": 5, "messages": [*USER, {"role": "developer", "content": "x"}]},
        "messages.1.role",
        id="developer-role",
    ),
    pytest.param([1, 2], "dictionary", id="not-an-object"),
]


@pytest.mark.parametrize(("body", "mentions"), ANTHROPIC_INVALID)
async def test_anthropic_validation(
    mock: str, http: aiohttp.ClientSession, body: object, mentions: str
) -> None:
    reply = await call(http, mock + "/anthropic/v1/messages", body)
    assert reply.status == 400
    assert reply.content_type == "application/json"
    error = reply.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert mentions in error["error"]["message"]


async def test_anthropic_accepts_system_messages(mock: str, http: aiohttp.ClientSession) -> None:
    """The current API takes ``system`` messages inside ``messages`` (``anthropic`` 2.x types
    them as ``SystemMessageParam``), besides the top-level ``system`` parameter."""
    messages = [{"role": "system", "content": "Be brief."}, *USER]
    body = {"model": "c", "max_tokens": 5, "system": "You are Claude.", "messages": messages}
    reply = await call(http, mock + "/anthropic/v1/messages", body)
    assert reply.status == 200
    assert reply.body == (DATA / "anthropic/message.json").read_bytes()


async def test_anthropic_invalid_json(mock: str, http: aiohttp.ClientSession) -> None:
    reply = await call(http, mock + "/anthropic/v1/messages", raw=b"{not json")
    assert reply.status == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"


GEMINI_INVALID = [
    pytest.param(b'{"contents": "hi"}', id="contents-not-a-list"),
    pytest.param(b'{"contents": []}', id="contents-empty"),
    pytest.param(b'{"generationConfig": {}}', id="no-contents"),
    pytest.param(b"{not json", id="not-json"),
]


@pytest.mark.parametrize("raw", GEMINI_INVALID)
@pytest.mark.parametrize("method", ["generateContent", "streamGenerateContent?alt=sse"])
async def test_gemini_validation(
    mock: str, http: aiohttp.ClientSession, raw: bytes, method: str
) -> None:
    reply = await call(http, f"{mock}/gemini/v1beta/models/gemini-2.0-flash:{method}", raw=raw)
    assert reply.status == 400
    assert reply.content_type == "application/json; charset=UTF-8"
    error = reply.json()["error"]
    assert error["code"] == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"]


async def test_gemini_stream_needs_alt_sse(mock: str, http: aiohttp.ClientSession) -> None:
    url = f"{mock}/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    reply = await call(http, url, {"contents": GEMINI_CONTENTS})
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "alt=sse" in error["message"]


async def test_gemini_unknown_method_is_404(mock: str, http: aiohttp.ClientSession) -> None:
    for name in ("gemini-2.0-flash:predict", "gemini-2.0-flash"):
        reply = await call(http, f"{mock}/gemini/v1beta/models/{name}", {"contents": []})
        assert reply.status == 404
        assert reply.json()["error"]["status"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b"", "missing request body", id="empty"),
        pytest.param(b'{"messages": []}', "model is required", id="no-model"),
        pytest.param(b"[]", "model is required", id="not-an-object"),
        pytest.param(b"{not json", "invalid JSON", id="not-json"),
    ],
)
@pytest.mark.parametrize("route", ["chat", "generate"])
async def test_ollama_validation(
    mock: str, http: aiohttp.ClientSession, raw: bytes, message: str, route: str
) -> None:
    reply = await call(http, f"{mock}/ollama/api/{route}", raw=raw)
    assert reply.status == 400
    assert reply.content_type == "application/json; charset=utf-8"
    assert list(reply.json()) == ["error"]
    assert message in reply.json()["error"]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"messages": [{"role": "user", "content": "hi"}]}', id="no-model"),
        pytest.param(b'{"model": "command-a-03-2025"}', id="no-messages"),
        pytest.param(b'{"model": "command-a-03-2025", "messages": []}', id="empty-messages"),
        pytest.param(b"{not json", id="not-json"),
    ],
)
async def test_cohere_validation(mock: str, http: aiohttp.ClientSession, raw: bytes) -> None:
    reply = await call(http, mock + "/cohere/v2/chat", raw=raw)
    assert reply.status == 400
    assert list(reply.json()) == ["message"]
    assert reply.json()["message"]


async def test_xai_validation(mock: str, http: aiohttp.ClientSession) -> None:
    for raw in (b'{"messages": []}', b'{"model": "grok-3-mini"}', b"{not json"):
        reply = await call(http, mock + "/xai/v1/chat/completions", raw=raw)
        assert reply.status == 400
        assert set(reply.json()["error"]) == {"message", "type", "param", "code"}


# -- error models --------------------------------------------------------------------------------

ERROR_MODELS = [
    pytest.param(
        "/anthropic/v1/messages",
        {"model": "mock-401", "max_tokens": 5, "messages": USER, "stream": True},
        401,
        "anthropic/error-401-authentication.json",
        id="anthropic-401",
    ),
    pytest.param(
        "/anthropic/v1/messages",
        {"model": "mock-529", "max_tokens": 5, "messages": USER},
        529,
        "anthropic/error-529-overloaded.json",
        id="anthropic-529",
    ),
    pytest.param(
        "/anthropic/v1/messages",
        {"model": "mock-overloaded-stream", "max_tokens": 5, "messages": USER},
        529,
        "anthropic/error-529-overloaded.json",
        id="anthropic-overloaded-not-streaming",
    ),
    pytest.param(
        "/gemini/v1beta/models/mock-429:streamGenerateContent?alt=sse",
        {"contents": GEMINI_CONTENTS},
        429,
        "gemini/error-429-resource-exhausted.json",
        id="gemini-429-stream",
    ),
    pytest.param(
        "/gemini/v1beta/models/mock-429:generateContent",
        {"contents": GEMINI_CONTENTS},
        429,
        "gemini/error-429-resource-exhausted.json",
        id="gemini-429",
    ),
    pytest.param(
        "/ollama/api/chat",
        {"model": "mock-404", "messages": USER},
        404,
        "ollama/error-404-model-not-found.json",
        id="ollama-chat-404",
    ),
    pytest.param(
        "/ollama/api/generate",
        {"model": "mock-404", "prompt": "hi", "stream": False},
        404,
        "ollama/error-404-model-not-found.json",
        id="ollama-generate-404",
    ),
]


@pytest.mark.parametrize(("path", "body", "status", "name"), ERROR_MODELS)
async def test_error_models(
    mock: str, http: aiohttp.ClientSession, path: str, body: object, status: int, name: str
) -> None:
    reply = await call(http, mock + path, body)
    assert reply.status == status
    assert reply.content_type.startswith("application/json")
    assert reply.body == (DATA / name).read_bytes()


# -- assembled bodies ----------------------------------------------------------------------------


async def test_ollama_chat_not_streaming_is_assembled(
    mock: str, http: aiohttp.ClientSession
) -> None:
    reply = await call(
        http, mock + "/ollama/api/chat", {"model": "llama3.2", "messages": USER, "stream": False}
    )
    assert reply.status == 200
    assert reply.content_type == "application/json; charset=utf-8"
    assert len(reply.chunks) == 1
    body = reply.json()
    stream = lines("ollama/chat-stream.ndjson")
    done = stream[-1]
    assert body["message"] == {
        "role": "assistant",
        "content": "".join(line["message"]["content"] for line in stream),
    }
    assert body["message"]["content"].startswith("The sky appears blue")
    assert body["done"] is True
    for key in ("done_reason", "prompt_eval_count", "eval_count", "total_duration", "model"):
        assert body[key] == done[key]
    assert list(body) == list(done)  # the done line's fields, in its order


async def test_ollama_chat_tool_call_not_streaming(mock: str, http: aiohttp.ClientSession) -> None:
    request = {"model": "llama3.2", "messages": USER, "tools": [OPENAI_TOOL], "stream": False}
    body = (await call(http, mock + "/ollama/api/chat", request)).json()
    (call_line, done) = lines("ollama/chat-stream-tool-call.ndjson")
    assert body["message"]["tool_calls"] == call_line["message"]["tool_calls"]
    assert body["message"]["tool_calls"][0]["function"]["arguments"] == {"city": "Tokyo"}
    assert body["message"]["content"] == ""
    assert body["eval_count"] == done["eval_count"] == 15


async def test_ollama_generate_not_streaming(mock: str, http: aiohttp.ClientSession) -> None:
    request = {"model": "llama3.2", "prompt": "Why is the sky blue?", "stream": False}
    body = (await call(http, mock + "/ollama/api/generate", request)).json()
    stream = lines("ollama/generate-stream.ndjson")
    assert body["response"] == "".join(line["response"] for line in stream)
    assert body["context"] == stream[-1]["context"]
    assert body["prompt_eval_count"] == stream[-1]["prompt_eval_count"]


async def test_ollama_tags(mock: str, http: aiohttp.ClientSession) -> None:
    reply = await call(http, mock + "/ollama/api/tags", method="GET")
    assert reply.status == 200
    names = [m["name"] for m in reply.json()["models"]]
    assert "llama3.2:latest" in names


async def test_xai_not_streaming_is_assembled(mock: str, http: aiohttp.ClientSession) -> None:
    reply = await call(
        http, mock + "/xai/v1/chat/completions", {"model": "grok-3-mini", "messages": USER}
    )
    assert reply.status == 200
    assert reply.content_type == "application/json"
    body = reply.json()
    chunks = sse_json("xai/chat-stream-reasoning.sse")
    assert body["object"] == "chat.completion"
    assert body["id"] == chunks[0]["id"]
    assert body["model"] == "grok-3-mini"
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "Hello"
    assert choice["message"]["reasoning_content"] == "".join(
        c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"]
    )
    assert body["usage"] == chunks[-1]["usage"]
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 290


async def test_xai_tool_call_not_streaming(mock: str, http: aiohttp.ClientSession) -> None:
    request = {"model": "grok-3-mini", "messages": USER, "tools": [OPENAI_TOOL]}
    (choice,) = (await call(http, mock + "/xai/v1/chat/completions", request)).json()["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_55117580",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"location":"San Francisco"}'},
        }
    ]


# -- official SDKs against the mock --------------------------------------------------------------

#: A model the installed ``anthropic`` SDK does not warn about as deprecated (the warning would
#: fail the test: warnings are errors here); the mock answers any model name alike.
SDK_MODEL = "claude-haiku-4-5"
USER_PARAMS: list[anthropic.types.MessageParam] = [
    {"role": "user", "content": "Hello, how are you?"}
]


async def test_anthropic_sdk(mock: str) -> None:
    recorded = json.loads((DATA / "anthropic/message.json").read_bytes())
    async with anthropic.AsyncAnthropic(
        base_url=f"{mock}/anthropic", api_key="x", max_retries=0
    ) as client:
        message = await client.messages.create(
            model=SDK_MODEL, max_tokens=1024, messages=USER_PARAMS
        )
        assert message.content[0].type == "text"
        assert message.content[0].text == recorded["content"][0]["text"]
        assert message.usage.output_tokens == recorded["usage"]["output_tokens"]
        assert message._request_id is not None
        assert message._request_id.startswith("req_mock_")

        async with client.messages.stream(
            model=SDK_MODEL, max_tokens=1024, messages=USER_PARAMS
        ) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        assert text == "Hello! I'm doing well, thank you for asking. How are you doing today? " + (
            "Is there anything I can help you with?"
        )
        assert final.stop_reason == "end_turn"
        assert final.usage.output_tokens == 30

        async with client.messages.stream(
            model=SDK_MODEL,
            max_tokens=1024,
            messages=[{"role": "user", "content": "What's the weather like in Paris?"}],
            tools=[ANTHROPIC_TOOL],  # type: ignore[list-item]
        ) as stream:
            final = await stream.get_final_message()
        assert final.stop_reason == "tool_use"
        tool_use = final.content[1]
        assert tool_use.type == "tool_use"
        assert tool_use.name == "get_weather"
        assert tool_use.input == {"location": "Paris"}

        with pytest.raises(anthropic.AuthenticationError):
            await client.messages.create(model="mock-401", max_tokens=5, messages=USER_PARAMS)
        with pytest.raises(anthropic.APIStatusError) as overloaded:
            await client.messages.create(model="mock-529", max_tokens=5, messages=USER_PARAMS)
        assert overloaded.value.status_code == 529
        with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
            async with client.messages.stream(
                model="mock-overloaded-stream", max_tokens=5, messages=USER_PARAMS
            ) as stream:
                await stream.get_final_message()
        system_in_messages = await client.messages.create(
            model=SDK_MODEL,
            max_tokens=5,
            messages=[{"role": "system", "content": "Be brief."}, *USER_PARAMS],
        )
        assert system_in_messages.stop_reason == "end_turn"
        with pytest.raises(anthropic.BadRequestError, match="role"):
            await client.messages.create(
                model=SDK_MODEL,
                max_tokens=5,
                messages=[{"role": "tool", "content": "x"}],  # type: ignore[list-item, misc]
            )


# google-genai's aiohttp transport subclasses aiohttp.ClientSession, which aiohttp deprecates.
@pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession from ClientSession:DeprecationWarning"
)
async def test_google_genai_sdk(mock: str) -> None:
    client = genai.Client(
        api_key="x", http_options=genai_types.HttpOptions(base_url=f"{mock}/gemini")
    )
    aio = client.aio
    beta = genai.Client(
        api_key="x",
        http_options=genai_types.HttpOptions(base_url=f"{mock}/gemini", api_version="v1beta"),
    )
    try:
        # google-genai 3.x calls /v1/ by default; the mock serves /v1beta/ alike.
        beta_response = await beta.aio.models.generate_content(
            model="gemini-3-pro-preview", contents="How many r's are in the word strawberry?"
        )
        assert beta_response.text is not None
        assert beta_response.text.startswith("There are **3** r's")

        response = await aio.models.generate_content(
            model="gemini-3-pro-preview", contents="How many r's are in the word strawberry?"
        )
        recorded = json.loads((DATA / "gemini/generate-content.json").read_bytes())
        assert response.text == recorded["candidates"][0]["content"]["parts"][0]["text"]
        assert response.usage_metadata is not None
        assert response.usage_metadata.total_token_count == 281

        chunks = [
            chunk
            async for chunk in await aio.models.generate_content_stream(
                model="gemini-3-pro-preview", contents="How many r's are in the word strawberry?"
            )
        ]
        assert len(chunks) == 3
        text = "".join(part.text or "" for c in chunks for part in c.candidates[0].content.parts)  # type: ignore[index, union-attr]
        assert text == 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y'
        assert chunks[-1].candidates[0].finish_reason == genai_types.FinishReason.STOP  # type: ignore[index]

        weather = genai_types.Tool(
            function_declarations=[
                genai_types.FunctionDeclaration(
                    name="weather",
                    parameters=genai_types.Schema(
                        type=genai_types.Type.OBJECT,
                        properties={"location": genai_types.Schema(type=genai_types.Type.STRING)},
                    ),
                )
            ]
        )
        calls = [
            call
            async for chunk in await aio.models.generate_content_stream(
                model="gemini-3-pro-preview",
                contents="What is the weather in San Francisco?",
                config=genai_types.GenerateContentConfig(tools=[weather]),
            )
            for call in chunk.function_calls or []
        ]
        assert [(c.name, c.args) for c in calls] == [("weather", {"location": "San Francisco"})]

        with pytest.raises(genai_errors.ClientError) as exhausted:
            await aio.models.generate_content(model="mock-429", contents="hi")
        assert exhausted.value.code == 429
        assert exhausted.value.status == "RESOURCE_EXHAUSTED"
    finally:
        for each in (client, beta):
            await each.aio.aclose()
            each.close()

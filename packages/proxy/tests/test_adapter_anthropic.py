"""Tests of the Anthropic Messages adapter (traceforge_proxy.providers.anthropic).

Streams and bodies are the real Anthropic wire transcripts in
data/provider-streams/anthropic-messages/ (see data/provider-streams/README.md), framed with
the proxy's own SSE parser. Expected texts, ids, counts and arguments are written out from the
fixture files, so a converter that drops, reorders or invents data fails.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_proxy.accumulate import ChatCompletionAccumulator
from traceforge_proxy.providers.anthropic import DEFAULT_MAX_TOKENS, AnthropicAdapter
from traceforge_proxy.providers.base import ProviderError, StreamUsage
from traceforge_proxy.sse import SSEParser

ANTHROPIC = Path(__file__).parent / "data" / "provider-streams" / "anthropic-messages"
CREATED = 1_700_000_000

TEXT_ID = "msg_01QC4g3HwBThD4BaNtBckFDJ"
TEXT_MODEL = "claude-sonnet-4-5-20250929"
TEXT_DELTAS = [
    "Hello",
    "! I",
    "'m doing well, thank you for asking",
    ". How are you doing today?",
    " Is",
    " there anything I can help you with?",
]
TEXT = (
    "Hello! I'm doing well, thank you for asking. How are you doing today?"
    " Is there anything I can help you with?"
)

TOOL_ID = "msg_019Q1hrJbZG26Fb9BQhrkHEr"
TOOL_MODEL = "claude-sonnet-4-20250514"
TOOL_CALL_ID = "toolu_01NRLabsLyVHZPKxbKvkfSMn"
TOOL_TEXT = "I'll check the current weather in Paris for you."
#: The input_json_delta fragments as sent; the leading "" fragment is not forwarded.
TOOL_FRAGMENTS = ['{"locati', 'on": "P', "ar", 'is"}']

ERROR_ID = "msg_01HqT8vWn3kRz5YbLmX2cPdA"

adapter = AnthropicAdapter()


# -- helpers -------------------------------------------------------------------------------------


def events(name: str) -> list[tuple[str | None, Any]]:
    """``(event name, decoded data)`` of a transcript, framed by the proxy's SSE parser."""
    parser = SSEParser()
    framed = parser.feed((ANTHROPIC / name).read_bytes()) + parser.close()
    return [(e.event, msgspec.json.decode(e.data)) for e in framed if e.data is not None]


def convert(
    name: str, *, include_usage: bool = True, model: str = "claude-requested"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
    """Run a transcript through a fresh converter: (chunks from feed, chunks from close,
    converter)."""
    converter = adapter.stream_converter(model=model, created=CREATED, include_usage=include_usage)
    fed: list[dict[str, Any]] = []
    for event, payload in events(name):
        fed.extend(converter.feed(event, payload))
    return fed, converter.close(), converter


def accumulate(chunks: list[dict[str, Any]]) -> dict[str, Any] | None:
    acc = ChatCompletionAccumulator()
    for chunk in chunks:
        acc.add(chunk)
    return acc.result()


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c.get("choices")]


def fixture_json(name: str) -> Any:
    return json.loads((ANTHROPIC / name).read_text())


def stream_of(*payloads: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
    """Feed synthetic Anthropic events (event name = data type) to a fresh converter."""
    converter = adapter.stream_converter(model="claude-x", created=CREATED, include_usage=True)
    chunks: list[dict[str, Any]] = []
    for payload in payloads:
        chunks.extend(converter.feed(payload["type"], payload))
    return chunks + converter.close(), converter


def start(message_id: str = "msg_1", **usage: int) -> dict[str, Any]:
    message = {"id": message_id, "type": "message", "role": "assistant", "model": "claude-m"}
    return {"type": "message_start", "message": {**message, "content": [], "usage": usage}}


def build(request: dict[str, Any], model: str = "claude-sonnet-4-5") -> dict[str, Any]:
    return adapter.build_request(request, model=model).body


def bad_request(request: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        adapter.build_request(request, model="claude-sonnet-4-5")
    assert info.value.status == 400
    assert info.value.body["error"]["type"] == "invalid_request_error"
    return info.value


# -- streaming: text -----------------------------------------------------------------------------


def test_adapter_name() -> None:
    assert adapter.name == "anthropic"


def test_stream_text_chunks_exact() -> None:
    fed, closed, converter = convert("stream-text.sse")
    header = {
        "id": TEXT_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": TEXT_MODEL,  # the answered model, not the requested one
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        # OpenAI's choice keys: logprobs is null (Anthropic reports none)
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**header, "choices": [choice], "usage": None}

    assert fed == [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": text}) for text in TEXT_DELTAS),
        chunk({}, "stop"),
    ]
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "total_tokens": 42,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    assert closed == [{**header, "choices": [], "usage": usage}]
    assert converter.error is None
    assert converter.usage == StreamUsage(prompt_tokens=12, completion_tokens=30, cached_tokens=0)


def test_stream_text_accumulates_to_completion() -> None:
    fed, closed, _ = convert("stream-text.sse")
    assert accumulate(fed + closed) == {
        "id": TEXT_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": TEXT_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": TEXT},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 30,
            "total_tokens": 42,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def test_stream_text_without_include_usage() -> None:
    fed, closed, converter = convert("stream-text.sse", include_usage=False)
    assert closed == []
    assert all("usage" not in chunk for chunk in fed)
    assert len(fed) == 1 + len(TEXT_DELTAS) + 1
    result = accumulate(fed)
    assert result is not None
    assert "usage" not in result
    assert result["choices"][0]["message"]["content"] == TEXT
    # usage is still counted for the trace, only not sent to the client
    assert converter.usage.as_openai() == {
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "total_tokens": 42,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def test_stream_conversion_is_deterministic() -> None:
    assert convert("stream-tool-use.sse")[:2] == convert("stream-tool-use.sse")[:2]


def test_ping_block_stop_and_message_stop_emit_nothing() -> None:
    converter = adapter.stream_converter(model="m", created=CREATED, include_usage=True)
    converter.feed("message_start", start())
    for event, payload in [
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_stop", {"type": "message_stop"}),
        ("some_future_event", {"type": "some_future_event"}),
    ]:
        assert converter.feed(event, payload) == [], event


# -- streaming: tool use -------------------------------------------------------------------------


def test_stream_tool_use_deltas() -> None:
    fed, _, _ = convert("stream-tool-use.sse")
    assert deltas(fed) == [
        {"role": "assistant", "content": ""},
        {"content": "I"},
        {"content": "'ll check the current weather in Paris for you."},
        {
            "tool_calls": [
                {
                    "index": 0,  # Anthropic block index 1 is the first tool call
                    "id": TOOL_CALL_ID,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
        *({"tool_calls": [{"index": 0, "function": {"arguments": f}}]} for f in TOOL_FRAGMENTS),
        {},
    ]
    assert fed[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert {c["id"] for c in fed} == {TOOL_ID}
    assert {c["model"] for c in fed} == {TOOL_MODEL}


def test_stream_tool_use_accumulates_to_completion() -> None:
    fed, closed, converter = convert("stream-tool-use.sse")
    result = accumulate(fed + closed)
    assert result == {
        "id": TOOL_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": TOOL_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": TOOL_TEXT,
                    "tool_calls": [
                        {
                            "id": TOOL_CALL_ID,
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": '{"location": "Paris"}',
                            },
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 377,
            "completion_tokens": 65,
            "total_tokens": 442,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }
    arguments = result["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == {"location": "Paris"}
    assert converter.error is None


def test_stream_usage_prompt_survives_message_delta() -> None:
    """message_delta of stream-tool-use.sse has only output_tokens: the 377 input tokens of
    message_start must stay, and output 1 (message_start) becomes 65 (running total)."""
    converter = adapter.stream_converter(model="m", created=CREATED, include_usage=False)
    seen = []
    for event, payload in events("stream-tool-use.sse"):
        converter.feed(event, payload)
        if event in ("message_start", "message_delta"):
            seen.append(copy.copy(converter.usage))
    assert seen == [
        StreamUsage(prompt_tokens=377, completion_tokens=1, cached_tokens=0),
        StreamUsage(prompt_tokens=377, completion_tokens=65, cached_tokens=0),
    ]


def test_stream_usage_cache_and_repeated_input_tokens() -> None:
    chunks, converter = stream_of(
        start(input_tokens=10, cache_read_input_tokens=100, cache_creation_input_tokens=5),
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": None, "output_tokens": 7},
        },
    )
    assert converter.usage == StreamUsage(
        prompt_tokens=115, completion_tokens=7, cached_tokens=100, cache_write_tokens=5
    )
    converter.feed(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 20, "cache_read_input_tokens": 50, "output_tokens": 9},
        },
    )
    # non-null counts are taken; cache_creation (5) stays from message_start
    assert converter.usage == StreamUsage(
        prompt_tokens=75, completion_tokens=9, cached_tokens=50, cache_write_tokens=5
    )
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 115,
        "completion_tokens": 7,
        "total_tokens": 122,
        "prompt_tokens_details": {"cached_tokens": 100},
        "cache_creation_input_tokens": 5,
    }


def test_stream_several_tool_blocks_and_tool_without_arguments() -> None:
    def block(index: int, call_id: str, name: str) -> dict[str, Any]:
        content_block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        return {"type": "content_block_start", "index": index, "content_block": content_block}

    def args(index: int, partial: str) -> dict[str, Any]:
        delta = {"type": "input_json_delta", "partial_json": partial}
        return {"type": "content_block_delta", "index": index, "delta": delta}

    chunks, _ = stream_of(
        start(input_tokens=3),
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": "Hi"},
        },
        {"type": "content_block_stop", "index": 0},
        block(1, "toolu_a", "now"),
        args(1, ""),
        {"type": "content_block_stop", "index": 1},
        block(2, "toolu_b", "add"),
        args(2, '{"a": 1,'),
        args(2, ' "b": 2}'),
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 4},
        },
    )
    tool_deltas = [d["tool_calls"][0] for d in deltas(chunks) if "tool_calls" in d]
    assert tool_deltas == [
        {
            "index": 0,
            "id": "toolu_a",
            "type": "function",
            "function": {"name": "now", "arguments": ""},
        },
        {"index": 0, "function": {"arguments": "{}"}},  # only "" streamed: an empty object
        {
            "index": 1,
            "id": "toolu_b",
            "type": "function",
            "function": {"name": "add", "arguments": ""},
        },
        {"index": 1, "function": {"arguments": '{"a": 1,'}},
        {"index": 1, "function": {"arguments": ' "b": 2}'}},
    ]
    result = accumulate(chunks)
    assert result is not None
    message = result["choices"][0]["message"]
    assert message["content"] == "Hi"
    assert [
        (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"]
    ] == [
        ("toolu_a", "now", "{}"),
        ("toolu_b", "add", '{"a": 1, "b": 2}'),
    ]
    assert result["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_thinking_becomes_reasoning_content() -> None:
    chunks, _ = stream_of(
        start(input_tokens=3),
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Let me"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": " think."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "EqQB"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "42"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 9},
        },
    )
    assert deltas(chunks) == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "Let me"},
        {"reasoning_content": " think."},
        {
            "thinking_blocks": [
                {"type": "thinking", "thinking": "Let me think.", "signature": "EqQB"}
            ]
        },
        {"content": "42"},
        {},
    ]
    result = accumulate(chunks)
    assert result is not None
    assert result["choices"][0]["message"] == {
        "role": "assistant",
        "content": "42",
        "reasoning_content": "Let me think.",
        "thinking_blocks": [{"type": "thinking", "thinking": "Let me think.", "signature": "EqQB"}],
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reason_mapping(stop_reason: str | None, finish_reason: str) -> None:
    chunks, _ = stream_of(
        start(input_tokens=1),
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason},
            "usage": {"output_tokens": 1},
        },
    )
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]] == [
        None,
        finish_reason,
    ]
    body: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "content": [],
        "stop_reason": stop_reason,
    }
    response = adapter.convert_response(body, model="m", created=CREATED)
    assert response["choices"][0]["finish_reason"] == finish_reason


# -- streaming: errors ---------------------------------------------------------------------------


def test_stream_overloaded_error_mid_stream() -> None:
    fed, closed, converter = convert("stream-error-overloaded.sse")
    assert deltas(fed) == [
        {"role": "assistant", "content": ""},
        {"content": "Hello"},
        {"content": "! I"},
    ]
    assert fed[-1] == {
        "error": {
            "message": "Overloaded",
            "type": "server_error",
            "param": None,
            "code": "overloaded",
        }
    }
    assert {c["id"] for c in fed[:-1]} == {ERROR_ID}
    assert isinstance(converter.error, ProviderError)
    assert converter.error.status == 529
    assert converter.error.body == fed[-1]
    assert closed == []  # no usage chunk after an error, even with include_usage
    assert converter.feed("message_stop", {"type": "message_stop"}) == []
    result = accumulate(fed[:-1])
    assert result is not None
    assert result["choices"][0]["message"]["content"] == "Hello! I"
    assert result["choices"][0]["finish_reason"] is None


@pytest.mark.parametrize(
    ("error_type", "status", "openai_type", "code"),
    [
        ("rate_limit_error", 429, "rate_limit_error", "rate_limit_exceeded"),
        ("api_error", 500, "server_error", None),
        ("invalid_request_error", 400, "invalid_request_error", None),
        ("timeout_error", 504, "server_error", None),
        ("brand_new_error", 500, "server_error", None),
    ],
)
def test_stream_error_types(
    error_type: str, status: int, openai_type: str, code: str | None
) -> None:
    converter = adapter.stream_converter(model="m", created=CREATED, include_usage=False)
    converter.feed("message_start", start())
    payload = {"type": "error", "error": {"type": error_type, "message": "boom"}}
    out = converter.feed("error", payload)
    expected = {"message": "boom", "type": openai_type, "param": None, "code": code}
    assert out == [{"error": expected}]
    assert converter.error is not None
    assert converter.error.status == status
    assert converter.close() == []


# -- non-streaming -------------------------------------------------------------------------------


def test_convert_response_message_json() -> None:
    body = fixture_json("message.json")
    assert adapter.convert_response(body, model="claude-sonnet-4-5", created=CREATED) == {
        "id": "msg_01VdEjxAP5ahtHKrrRdNBteQ",
        "object": "chat.completion",
        "created": CREATED,
        "model": "claude-sonnet-4-5-20250929",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello! I'm doing well, thanks for asking. How are you doing today?"
                    " Is there anything I can help you with?",
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 29,
            "total_tokens": 41,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def test_convert_response_matches_accumulated_stream() -> None:
    """The non-streaming form of stream-tool-use.sse converts to what the proxy rebuilds from
    the converted stream (arguments re-serialized compact)."""
    body = {
        "id": TOOL_ID,
        "type": "message",
        "role": "assistant",
        "model": TOOL_MODEL,
        "content": [
            {"type": "text", "text": TOOL_TEXT},
            {
                "type": "tool_use",
                "id": TOOL_CALL_ID,
                "name": "get_weather",
                "input": {"location": "Paris"},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 377,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 65,
        },
    }
    fed, closed, _ = convert("stream-tool-use.sse")
    expected = accumulate(fed + closed)
    assert expected is not None
    call = expected["choices"][0]["message"]["tool_calls"][0]
    call["function"]["arguments"] = '{"location":"Paris"}'
    assert adapter.convert_response(body, model="x", created=CREATED) == expected


def test_convert_response_tool_only_thinking_and_cache_usage() -> None:
    body = {
        "id": "msg_2",
        "type": "message",
        "model": "claude-opus-4-1",
        "content": [
            {"type": "thinking", "thinking": "Need the time.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "xxx"},
            {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}},
            {"type": "tool_use", "id": "toolu_2", "name": "city", "input": {"name": "Zürich"}},
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 5,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
            "output_tokens": 11,
        },
    }
    response = adapter.convert_response(body, model="claude-opus-4-1", created=CREATED)
    assert response["choices"][0] == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": None,
            "reasoning_content": "Need the time.",
            "thinking_blocks": [
                {"type": "thinking", "thinking": "Need the time.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xxx"},
            ],
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "now", "arguments": "{}"},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "city", "arguments": '{"name":"Zürich"}'},
                },
            ],
        },
        "finish_reason": "tool_calls",
    }
    assert response["usage"] == {
        "prompt_tokens": 125,
        "completion_tokens": 11,
        "total_tokens": 136,
        "prompt_tokens_details": {"cached_tokens": 100},
        "cache_creation_input_tokens": 20,
    }


def test_convert_response_without_cache_fields_has_no_details() -> None:
    body = {
        "id": "m",
        "type": "message",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 4, "output_tokens": 2},
    }
    response = adapter.convert_response(body, model="claude-fallback", created=CREATED)
    assert response["model"] == "claude-fallback"  # body without a model
    assert response["choices"][0]["message"] == {"role": "assistant", "content": "ab"}
    assert response["choices"][0]["finish_reason"] == "length"
    assert response["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


def test_convert_response_error_and_garbage_bodies() -> None:
    with pytest.raises(ProviderError) as info:
        adapter.convert_response(fixture_json("error-529-overloaded.json"), model="m", created=1)
    assert info.value.status == 529
    assert info.value.body["error"]["code"] == "overloaded"
    with pytest.raises(ProviderError) as info:
        adapter.convert_response("not json", model="m", created=1)
    assert info.value.status == 502
    assert info.value.body["error"]["type"] == "server_error"


# -- errors --------------------------------------------------------------------------------------


def test_convert_error_401_fixture() -> None:
    error = adapter.convert_error(401, fixture_json("error-401-authentication.json"))
    assert error.status == 401
    assert error.body == {
        "error": {
            "message": "invalid x-api-key",
            "type": "authentication_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


def test_convert_error_529_fixture() -> None:
    error = adapter.convert_error(529, fixture_json("error-529-overloaded.json"))
    assert error.status == 529
    assert error.body == {
        "error": {
            "message": "Overloaded",
            "type": "server_error",
            "param": None,
            "code": "overloaded",
        }
    }


@pytest.mark.parametrize(
    ("status", "error_type", "message", "openai_type", "code"),
    [
        (400, "invalid_request_error", "max_tokens: Field required", "invalid_request_error", None),
        (403, "permission_error", "no access", "permission_error", None),
        (404, "not_found_error", "model: claude-9", "invalid_request_error", "model_not_found"),
        (404, "not_found_error", "Not found", "invalid_request_error", None),
        (429, "rate_limit_error", "slow down", "rate_limit_error", "rate_limit_exceeded"),
        (500, "api_error", "Internal server error", "server_error", None),
        (
            413,
            "request_too_large",
            "Request exceeds the maximum size",
            "invalid_request_error",
            None,
        ),
        (402, "billing_error", "credit balance too low", "invalid_request_error", None),
    ],
)
def test_convert_error_type_mapping(
    status: int, error_type: str, message: str, openai_type: str, code: str | None
) -> None:
    body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "r"}
    error = adapter.convert_error(status, body)
    assert error.status == status
    assert error.body == {
        "error": {"message": message, "type": openai_type, "param": None, "code": code}
    }


def test_convert_error_non_json_bodies() -> None:
    html = "<html><body>502 Bad Gateway</body></html>"
    error = adapter.convert_error(502, html)
    assert error.status == 502
    assert error.body["error"] == {
        "message": html,
        "type": "server_error",
        "param": None,
        "code": None,
    }
    error = adapter.convert_error(400, b"bad \xff request")
    assert error.body["error"]["message"] == "bad \ufffd request"
    assert error.body["error"]["type"] == "invalid_request_error"
    long = "x" * 2000
    assert adapter.convert_error(503, long).body["error"]["message"] == "x" * 500
    assert (
        adapter.convert_error(500, {"detail": "odd"}).body["error"]["message"] == '{"detail":"odd"}'
    )
    assert (
        adapter.convert_error(504, None).body["error"]["message"]
        == "Anthropic API error (HTTP 504)"
    )


# -- build_request -------------------------------------------------------------------------------


def test_build_request_minimal() -> None:
    request = {
        "model": "anthropic/claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Hello, how are you?"}],
    }
    built = adapter.build_request(request, model="claude-sonnet-4-5")
    assert built.path == "/v1/messages"
    assert built.stream is False
    assert built.body == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Hello, how are you?"}],
        "max_tokens": DEFAULT_MAX_TOKENS,
    }
    assert DEFAULT_MAX_TOKENS == 4096


@pytest.mark.parametrize(
    "name", ["message.request.json", "stream-text.request.json", "stream-tool-use.request.json"]
)
def test_native_fixture_requests_round_trip(name: str) -> None:
    """normalize_request then build_request gives back the recorded Anthropic request."""
    native = fixture_json(name)
    openai_view = adapter.normalize_request(native)
    built = adapter.build_request(openai_view, model=native["model"])
    assert built.body == native
    assert built.stream is bool(native.get("stream"))


def test_normalize_tool_use_request_fixture() -> None:
    assert adapter.normalize_request(fixture_json("stream-tool-use.request.json")) == {
        "model": "claude-sonnet-4-20250514",
        "messages": [{"role": "user", "content": "What's the weather like in Paris?"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Get the current weather in a given location",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "location": {"type": "string", "description": "The city, e.g. Paris"}
                        },
                        "required": ["location"],
                    },
                },
            }
        ],
        "max_tokens": 1024,
        "stream": True,
    }


def test_build_request_stream_and_token_limits() -> None:
    messages = [{"role": "user", "content": "hi"}]
    built = adapter.build_request(
        {"messages": messages, "stream": True, "max_tokens": 50}, model="m"
    )
    assert built.stream is True
    assert built.body["stream"] is True
    assert built.body["max_tokens"] == 50
    both = {"messages": messages, "max_tokens": 50, "max_completion_tokens": 70, "stream": False}
    built = adapter.build_request(both, model="m")
    assert built.body["max_tokens"] == 70
    assert built.stream is False
    assert "stream" not in built.body
    assert adapter.build_request({"messages": messages, "stream": "yes"}, model="m").stream is False


def test_build_request_system_and_developer_anywhere() -> None:
    body = build(
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi"},
                {
                    "role": "developer",
                    "content": [
                        {"type": "text", "text": "Answer in French."},
                        {"type": "text", "text": "No emoji."},
                    ],
                },
                {"role": "user", "content": "Bye"},
            ]
        }
    )
    assert body["system"] == "You are terse.\n\nAnswer in French.\n\nNo emoji."
    # the two user messages are now adjacent and merge into one
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "Bye"}],
        }
    ]


def test_build_request_user_images() -> None:
    body = build(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in these?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                        },
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"},
                        },
                    ],
                }
            ]
        }
    )
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ],
        }
    ]


def test_build_request_tool_round_trip() -> None:
    request = {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "Checking both.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "24C"}],
            },
            {"role": "user", "content": "Thanks, which is warmer?"},
        ]
    }
    original = copy.deepcopy(request)
    assert build(request)["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"location": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "call_2",
                    "name": "get_weather",
                    "input": {"location": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "24C"}],
                },
                {"type": "text", "text": "Thanks, which is warmer?"},
            ],
        },
    ]
    assert request == original  # the client's request is not mutated


def test_build_request_assistant_tool_calls_only_and_odd_ids() -> None:
    body = build(
        {
            "messages": [
                {"role": "user", "content": "time?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "functions.now:0",
                            "type": "function",
                            "function": {"name": "now", "arguments": ""},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "functions.now:0", "content": "12:00"},
            ]
        }
    )
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "functions_now_0", "name": "now", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "functions_now_0", "content": "12:00"}
            ],
        },
    ]


def test_build_request_merges_consecutive_assistant_messages_and_drops_empty() -> None:
    body = build(
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "assistant", "content": [{"type": "text", "text": "c"}]},
                {"role": "user", "content": ""},
                {"role": "assistant", "content": "d"},
            ]
        }
    )
    assert body["messages"] == [
        {"role": "user", "content": "a"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "b"},
                {"type": "text", "text": "c"},
                {"type": "text", "text": "d"},
            ],
        },
    ]


def test_build_request_tools() -> None:
    body = build(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Weather",
                        "parameters": {
                            "type": "object",
                            "properties": {"location": {"type": "string"}},
                            "required": ["location"],
                        },
                        "strict": True,
                    },
                },
                {"type": "function", "function": {"name": "now"}},
            ],
        }
    )
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather",
            "input_schema": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in body


TOOLS = [{"type": "function", "function": {"name": "get_weather"}}]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"tool_choice": "auto"}, {"type": "auto"}),
        ({"tool_choice": "required"}, {"type": "any"}),
        ({"tool_choice": "none"}, {"type": "none"}),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            {"type": "tool", "name": "get_weather"},
        ),
        ({"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        (
            {"tool_choice": "required", "parallel_tool_calls": False},
            {"type": "any", "disable_parallel_tool_use": True},
        ),
        (
            {
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                "parallel_tool_calls": False,
            },
            {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        ),
        ({"tool_choice": "none", "parallel_tool_calls": False}, {"type": "none"}),
        ({"parallel_tool_calls": True}, None),
    ],
)
def test_build_request_tool_choice(extra: dict[str, Any], expected: dict[str, Any] | None) -> None:
    body = build({"messages": [{"role": "user", "content": "hi"}], "tools": TOOLS, **extra})
    assert body.get("tool_choice") == expected


def test_build_request_sampling_stop_and_user() -> None:
    messages = [{"role": "user", "content": "hi"}]
    body = build(
        {
            "messages": messages,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": "END",
            "user": "u-42",
            "n": 1,
            "logprobs": False,
            "presence_penalty": 0,
        }
    )
    assert body == {
        "model": "claude-sonnet-4-5",
        "messages": messages,
        "max_tokens": 4096,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-42"},
    }
    assert build({"messages": messages, "stop": ["a", "b"]})["stop_sequences"] == ["a", "b"]
    assert "stop_sequences" not in build({"messages": messages, "stop": None})


def test_build_request_invalid_tool_arguments_names_message_index() -> None:
    error = bad_request(
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a": '},
                        }
                    ],
                },
            ]
        }
    )
    message = error.body["error"]["message"]
    assert message.startswith("messages[1].tool_calls[0].function.arguments is not valid JSON")
    error = bad_request(
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}],
                }
            ]
        }
    )
    assert "messages[0].tool_calls[0].function.arguments must be a JSON object" in str(error)


@pytest.mark.parametrize(
    ("request_body", "needle"),
    [
        ({}, "messages must be a list"),
        ({"messages": "hi"}, "messages must be a list"),
        ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, "'n' is not supported"),
        ({"messages": [{"role": "user", "content": "hi"}], "logprobs": True}, "logprobs"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role 'function'"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}
                ]
            },
            "messages[0].content[0]: part type 'input_audio'",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}],
                    }
                ]
            },
            "base64 data: URL or an http(s) URL",
        ),
        (
            {
                "messages": [
                    {
                        "role": "system",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
                    }
                ]
            },
            "messages[0].content may only hold text parts",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            {
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "custom", "custom": {"name": "x"}}],
            },
            "tools[0]",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}], "tool_choice": "sometimes"},
            "tool_choice",
        ),
    ],
)
def test_build_request_rejects(request_body: dict[str, Any], needle: str) -> None:
    assert needle in bad_request(request_body).body["error"]["message"]


# -- normalize_request ---------------------------------------------------------------------------


def test_normalize_request_full() -> None:
    native = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 300,
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use metric."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/jpeg",
                            "data": "/9j/4AA=",
                        },
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/map.png"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "text", "text": "Let me look."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"location": "Oslo"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "-3C"}],
                    },
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
        "tools": [
            {"name": "get_weather", "input_schema": {"type": "object", "properties": {}}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        ],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "temperature": 0.5,
        "top_p": 0.8,
        "stop_sequences": ["###"],
        "metadata": {"user_id": "u-1"},
        "stream": False,
    }
    assert adapter.normalize_request(native) == {
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "Be brief.\n\nUse metric."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AA="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/map.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location":"Oslo"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "-3C"},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "max_tokens": 300,
        "temperature": 0.5,
        "top_p": 0.8,
        "stream": False,
        "stop": ["###"],
        "user": "u-1",
    }


def test_openai_request_round_trip_through_anthropic() -> None:
    """OpenAI -> Anthropic -> OpenAI keeps a conversation with every supported feature."""
    request = {
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "You are a weather bot."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGRg=="}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location":"Lima"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_9", "content": "21C"},
            {"role": "assistant", "content": "It is 21C."},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {
                        "type": "object",
                        "properties": {"location": {"type": "string"}},
                    },
                },
            }
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "max_tokens": 256,
        "temperature": 0.1,
        "top_p": 0.5,
        "stop": ["STOP"],
        "user": "alice",
        "stream": True,
    }
    built = adapter.build_request(request, model="claude-sonnet-4-5")
    assert adapter.normalize_request(built.body) == request


def test_normalize_request_tolerates_junk() -> None:
    assert adapter.normalize_request("nope") == {"messages": []}
    assert adapter.normalize_request(
        {"model": "m", "messages": [None, {"role": "user", "content": "x"}]}
    ) == {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
    }

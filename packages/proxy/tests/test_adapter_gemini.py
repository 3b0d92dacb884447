"""Tests of the Gemini adapter (traceforge_proxy.providers.gemini.GeminiAdapter).

Driven by the real wire transcripts in data/provider-streams/gemini (see the README there for
their sources): the SSE bytes are framed with the proxy's own SSEParser (the stream is CRLF
framed), each event's data decoded with msgspec, converted, and rebuilt with the proxy's
ChatCompletionAccumulator. Expected values are copied from the transcripts by hand.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_proxy.accumulate import ChatCompletionAccumulator
from traceforge_proxy.providers.base import ProviderAdapter, ProviderError, ProviderRequest
from traceforge_proxy.providers.gemini import GeminiAdapter
from traceforge_proxy.sse import SSEParser

GEMINI = Path(__file__).parent / "data" / "provider-streams" / "gemini"
CREATED = 1_700_000_000
ADAPTER = GeminiAdapter()

TEXT_ID = "bH6LaZW8Fp_3nsEPqtaSwQ4"
CALL_RESPONSE_ID = "b36LacjwM668nsEP2tbsgQQ"
#: "call_" + sha256("b36LacjwM668nsEP2tbsgQQ:0:0:weather")[:24], computed once by hand.
WEATHER_CALL_ID = "call_3d89b3eb41e3f124a09a7fad"
TEXT_STREAM_TEXT = 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y'
TEXT_STREAM_USAGE = {
    "prompt_tokens": 9,
    "completion_tokens": 23 + 185,
    "total_tokens": 217,
    "completion_tokens_details": {"reasoning_tokens": 185},
}
CALL_STREAM_USAGE = {
    "prompt_tokens": 29,
    "completion_tokens": 15 + 45,
    "total_tokens": 89,
    "completion_tokens_details": {"reasoning_tokens": 45},
}


# -- helpers -------------------------------------------------------------------------------------


def events(name: str, read_size: int | None = None) -> list[tuple[str | None, Any]]:
    """``(event name, decoded data)`` of a transcript, framed by SSEParser; ``read_size``
    feeds the bytes in pieces of that size, as a socket might deliver them."""
    raw = (GEMINI / name).read_bytes()
    parser = SSEParser()
    if read_size is None:
        framed = parser.feed(raw)
    else:
        framed = [
            e for i in range(0, len(raw), read_size) for e in parser.feed(raw[i : i + read_size])
        ]
    framed += parser.close()
    return [(e.event, msgspec.json.decode(e.data)) for e in framed if e.data is not None]


def load(name: str) -> Any:
    return msgspec.json.decode((GEMINI / name).read_bytes())


def convert_stream(
    items: list[tuple[str | None, Any]], *, include_usage: bool = False, model: str = "alias"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
    """Fed chunks, close() chunks and the converter."""
    converter = ADAPTER.stream_converter(model=model, created=CREATED, include_usage=include_usage)
    fed = [chunk for event, payload in items for chunk in converter.feed(event, payload)]
    return fed, converter.close(), converter


def accumulate(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    acc = ChatCompletionAccumulator()
    for chunk in chunks:
        acc.add(chunk)
    result = acc.result()
    assert result is not None
    return result


def gemini_event(parts: list[dict[str, Any]], finish: str | None = None, **extra: Any) -> Any:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **extra}


def build(
    messages: list[dict[str, Any]], model: str = "gemini-3-pro-preview", **fields: Any
) -> ProviderRequest:
    return ADAPTER.build_request({"model": "gemini/x", "messages": messages, **fields}, model=model)


def bad_request(request: Any, model: str = "gemini-2.5-flash") -> str:
    with pytest.raises(ProviderError) as info:
        ADAPTER.build_request(request, model=model)
    assert info.value.status == 400
    assert info.value.body["error"]["type"] == "invalid_request_error"
    return str(info.value.body["error"]["message"])


# -- the transcripts: framing ---------------------------------------------------------------------


def test_transcripts_are_data_only_crlf_framed() -> None:
    text, calls = events("stream-text.sse"), events("stream-function-call.sse")
    assert b"\r\n\r\n" in (GEMINI / "stream-text.sse").read_bytes()
    assert [name for name, _ in text + calls] == [None] * 5
    assert [len(text), len(calls)] == [3, 2]
    assert events("stream-text.sse", read_size=7) == text


def test_adapter_satisfies_protocol() -> None:
    adapter: ProviderAdapter = GeminiAdapter()
    assert adapter.name == "gemini"


# -- streaming: text ------------------------------------------------------------------------------


def test_stream_text_chunks() -> None:
    chunks, tail, converter = convert_stream(events("stream-text.sse"))
    assert tail == []
    assert converter.error is None
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": "There are **3**"},
        {"content": ' "r"s in strawberry.\n\nst**r**awbe**rr**y'},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, "stop"]
    for chunk in chunks:
        assert chunk["id"] == TEXT_ID
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["created"] == CREATED
        assert chunk["model"] == "gemini-3-pro-preview"  # modelVersion beats the alias
        assert chunk["choices"][0]["index"] == 0
        assert "usage" not in chunk
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == TEXT_STREAM_TEXT
    # usageMetadata is a running total: the last one (23 candidates + 185 thoughts), not a sum
    assert converter.usage.prompt_tokens == 9
    assert converter.usage.completion_tokens == 208
    assert converter.usage.cached_tokens is None
    assert converter.usage.as_openai() == TEXT_STREAM_USAGE


def test_stream_text_include_usage() -> None:
    chunks, tail, _ = convert_stream(events("stream-text.sse"), include_usage=True)
    assert len(chunks) == 3
    assert all(chunk["usage"] is None for chunk in chunks)
    assert tail == [
        {
            "id": TEXT_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": "gemini-3-pro-preview",
            "choices": [],
            "usage": TEXT_STREAM_USAGE,
        }
    ]


def test_stream_text_accumulates_to_completion() -> None:
    chunks, tail, _ = convert_stream(events("stream-text.sse"), include_usage=True)
    assert accumulate(chunks + tail) == {
        "id": TEXT_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": "gemini-3-pro-preview",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": TEXT_STREAM_TEXT},
                "finish_reason": "stop",
            }
        ],
        "usage": TEXT_STREAM_USAGE,
    }


def test_stream_split_reads_give_the_same_chunks() -> None:
    whole, _, _ = convert_stream(events("stream-text.sse"))
    split, _, _ = convert_stream(events("stream-text.sse", read_size=3))
    assert split == whole


# -- streaming: function call ---------------------------------------------------------------------


def test_stream_function_call() -> None:
    recorded = events("stream-function-call.sse")
    chunks, tail, converter = convert_stream(recorded)
    assert tail == []
    first_part = recorded[0][1]["candidates"][0]["content"]["parts"][0]
    assert chunks[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "index": 0,
                "id": WEATHER_CALL_ID,
                "type": "function",
                "function": {"name": "weather", "arguments": '{"location":"San Francisco"}'},
                "extra_content": {"google": {"thought_signature": first_part["thoughtSignature"]}},
            }
        ],
    }
    assert chunks[1]["choices"][0]["delta"] == {}
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "tool_calls"]
    assert {c["id"] for c in chunks} == {CALL_RESPONSE_ID}
    assert converter.usage.as_openai() == CALL_STREAM_USAGE


def test_stream_function_call_id_is_stable() -> None:
    once, _, _ = convert_stream(events("stream-function-call.sse"))
    again, _, _ = convert_stream(events("stream-function-call.sse"), model="other")
    first = once[0]["choices"][0]["delta"]["tool_calls"][0]["id"]
    assert first == again[0]["choices"][0]["delta"]["tool_calls"][0]["id"] == WEATHER_CALL_ID
    expected = "call_" + hashlib.sha256(f"{CALL_RESPONSE_ID}:0:0:weather".encode()).hexdigest()
    assert first == expected[:29]


def test_stream_function_call_accumulates() -> None:
    chunks, tail, _ = convert_stream(events("stream-function-call.sse"), include_usage=True)
    assert [c["usage"] for c in chunks] == [None, None]
    assert tail[0]["usage"] == CALL_STREAM_USAGE
    assert accumulate(chunks + tail) == {
        "id": CALL_RESPONSE_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": "gemini-3-pro-preview",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": WEATHER_CALL_ID,
                            "type": "function",
                            "function": {
                                "name": "weather",
                                "arguments": '{"location":"San Francisco"}',
                            },
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": CALL_STREAM_USAGE,
    }


def test_stream_tool_call_indexes_count_across_events() -> None:
    call = {"functionCall": {"name": "lookup", "args": {"q": "a"}}}
    items: list[tuple[str | None, Any]] = [
        (None, gemini_event([{"text": "Looking"}, call], responseId="r1")),
        (None, gemini_event([call, {"functionCall": {"name": "add", "args": {}}}])),
        (None, gemini_event([{"text": ""}], "STOP")),
    ]
    chunks, _, _ = convert_stream(items)
    calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])]
    assert [(tc["index"], tc["function"]["name"]) for tc in calls] == [
        (0, "lookup"),
        (1, "lookup"),
        (2, "add"),
    ]
    assert [tc["function"]["arguments"] for tc in calls] == ['{"q":"a"}', '{"q":"a"}', "{}"]
    assert len({tc["id"] for tc in calls}) == 3
    assert chunks[0]["choices"][0]["delta"]["content"] == "Looking"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    result = accumulate(chunks)
    assert result["choices"][0]["message"]["content"] == "Looking"
    assert len(result["choices"][0]["message"]["tool_calls"]) == 3


def test_stream_thought_parts_become_reasoning() -> None:
    items: list[tuple[str | None, Any]] = [
        (None, gemini_event([{"text": "Count the r's.", "thought": True}], responseId="t")),
        (None, gemini_event([{"text": "Three."}], "STOP")),
    ]
    chunks, _, _ = convert_stream(items)
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": "", "reasoning_content": "Count the r's."},
        {"content": "Three."},
    ]
    message = accumulate(chunks)["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": "Three.",
        "reasoning_content": "Count the r's.",
    }


def test_stream_fallback_id_and_model_are_deterministic() -> None:
    items: list[tuple[str | None, Any]] = [(None, gemini_event([{"text": "hi"}], "STOP"))]
    once, tail, _ = convert_stream(items, include_usage=True, model="gemini-2.0-flash")
    again, _, _ = convert_stream(items, model="gemini-2.0-flash")
    assert once[0]["id"] == again[0]["id"]
    assert once[0]["id"].startswith("chatcmpl-gemini-")
    assert once[0]["model"] == "gemini-2.0-flash"
    assert tail[0]["usage"] is None  # no usageMetadata was sent
    other, _, _ = convert_stream([(None, gemini_event([{"text": "ho"}], "STOP"))])
    assert other[0]["id"] != once[0]["id"]


def test_stream_error_mid_stream() -> None:
    converter = ADAPTER.stream_converter(model="m", created=CREATED, include_usage=True)
    first_event = events("stream-text.sse")[0][1]
    assert len(converter.feed(None, first_event)) == 1
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    out = converter.feed(None, error)
    assert out == [
        {
            "error": {
                "message": "The model is overloaded.",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    ]
    assert converter.error is not None
    assert converter.error.status == 503
    assert converter.feed(None, events("stream-text.sse")[1][1]) == []
    assert converter.close() == []


def test_stream_prompt_blocked() -> None:
    blocked = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
        "responseId": "blocked-1",
    }
    chunks, tail, _ = convert_stream([(None, blocked)], include_usage=True)
    assert len(chunks) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["choices"][0]["finish_reason"] == "content_filter"
    assert tail[0]["usage"] == {"prompt_tokens": 7, "completion_tokens": 0, "total_tokens": 7}


def test_stream_multiple_candidates_and_cached_tokens() -> None:
    payload = {
        "candidates": [
            {"content": {"parts": [{"text": "A"}], "role": "model"}, "index": 0},
            {"content": {"parts": [{"text": "B"}], "role": "model"}, "index": 1},
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 2,
            "cachedContentTokenCount": 64,
        },
        "responseId": "two",
    }
    end = {
        "candidates": [
            {
                "content": {"parts": [{"text": "!"}], "role": "model"},
                "finishReason": "STOP",
                "index": 1,
            },
            {"finishReason": "MAX_TOKENS", "index": 0},
        ]
    }
    chunks, tail, _ = convert_stream([(None, payload), (None, end)], include_usage=True)
    result = accumulate(chunks + tail)
    assert [
        (c["index"], c["message"]["content"], c["finish_reason"]) for c in result["choices"]
    ] == [
        (0, "A", "length"),
        (1, "B!", "stop"),
    ]
    assert result["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 2,
        "total_tokens": 102,
        "prompt_tokens_details": {"cached_tokens": 64},
    }


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("OTHER", "stop"),
        (None, None),
    ],
)
def test_finish_reason_mapping(reason: str | None, expected: str | None) -> None:
    chunks, _, _ = convert_stream([(None, gemini_event([{"text": "x"}], reason))])
    assert chunks[0]["choices"][0]["finish_reason"] == expected
    body = gemini_event([{"text": "x"}], reason)
    response = ADAPTER.convert_response(body, model="m", created=CREATED)
    assert response["choices"][0]["finish_reason"] == expected


def test_max_tokens_with_function_call_stays_length() -> None:
    body = gemini_event([{"functionCall": {"name": "f", "args": {}}}], "MAX_TOKENS")
    assert ADAPTER.convert_response(body, model="m", created=0)["choices"][0]["finish_reason"] == (
        "length"
    )


# -- non-streaming --------------------------------------------------------------------------------


def test_generate_content_response() -> None:
    body = load("generate-content.json")
    assert ADAPTER.convert_response(body, model="alias", created=CREATED) == {
        "id": "Un6LacrVMcjUxs0PmJfWoQc",
        "object": "chat.completion",
        "created": CREATED,
        "model": "gemini-3-pro-preview",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "There are **3** r's in strawberry.\n\n"
                    "Here is the breakdown: st**r**awbe**rr**y.",
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 28 + 244,
            "total_tokens": 281,
            "completion_tokens_details": {"reasoning_tokens": 244},
        },
    }


def test_convert_response_function_call_matches_stream_id() -> None:
    # the same function call answered without streaming: the first transcript event, whole
    body = events("stream-function-call.sse")[0][1]
    body["candidates"][0]["finishReason"] = "STOP"
    response = ADAPTER.convert_response(body, model="m", created=CREATED)
    message = response["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["id"] == WEATHER_CALL_ID
    assert message["tool_calls"][0]["function"] == {
        "name": "weather",
        "arguments": '{"location":"San Francisco"}',
    }
    assert response["choices"][0]["finish_reason"] == "tool_calls"
    assert response["id"] == CALL_RESPONSE_ID


def test_convert_response_fallback_id_thoughts_and_block() -> None:
    body = {
        "candidates": [
            {
                "content": {"parts": [{"text": "plan", "thought": True}, {"text": "answer"}]},
                "finishReason": "STOP",
            }
        ]
    }
    first = ADAPTER.convert_response(body, model="gemini-2.5-pro", created=1)
    assert first["id"] == ADAPTER.convert_response(body, model="x", created=2)["id"]
    assert first["id"].startswith("chatcmpl-gemini-")
    assert first["model"] == "gemini-2.5-pro"
    assert "usage" not in first
    assert first["choices"][0]["message"] == {
        "role": "assistant",
        "content": "answer",
        "reasoning_content": "plan",
    }
    blocked = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "responseId": "b"}
    choices = ADAPTER.convert_response(blocked, model="m", created=1)["choices"]
    assert choices == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ""},
            "finish_reason": "content_filter",
        }
    ]


def test_convert_response_error_body_raises() -> None:
    with pytest.raises(ProviderError) as info:
        ADAPTER.convert_response(load("error-429-resource-exhausted.json"), model="m", created=0)
    assert info.value.body["error"]["type"] == "rate_limit_error"


# -- errors ---------------------------------------------------------------------------------------


def test_error_429_resource_exhausted_fixture() -> None:
    error = ADAPTER.convert_error(429, load("error-429-resource-exhausted.json"))
    assert error.status == 429
    assert error.body == {
        "error": {
            "message": "You exceeded your current quota, please check your plan.",
            "type": "rate_limit_error",
            "param": None,
            "code": "insufficient_quota",
        }
    }
    # the same bytes, undecoded, give the same answer
    raw = (GEMINI / "error-429-resource-exhausted.json").read_bytes()
    assert ADAPTER.convert_error(429, raw).body == error.body


@pytest.mark.parametrize(
    ("status", "grpc", "message", "expected_type", "expected_code"),
    [
        (
            429,
            "RESOURCE_EXHAUSTED",
            "Too many requests.",
            "rate_limit_error",
            "rate_limit_exceeded",
        ),
        (400, "INVALID_ARGUMENT", "Bad field.", "invalid_request_error", None),
        (400, "FAILED_PRECONDITION", "Not in region.", "invalid_request_error", None),
        (401, "UNAUTHENTICATED", "No key.", "authentication_error", "invalid_api_key"),
        (403, "PERMISSION_DENIED", "Denied.", "authentication_error", "invalid_api_key"),
        (404, "NOT_FOUND", "models/x is not found.", "invalid_request_error", "model_not_found"),
        (503, "UNAVAILABLE", "Overloaded.", "server_error", None),
        (500, "INTERNAL", "Oops.", "server_error", None),
        (504, "DEADLINE_EXCEEDED", "Slow.", "server_error", None),
        (404, None, "gone", "invalid_request_error", "model_not_found"),
        (502, None, "bad gateway", "server_error", None),
    ],
)
def test_error_mapping(
    status: int, grpc: str | None, message: str, expected_type: str, expected_code: str | None
) -> None:
    body = {"error": {"code": status, "message": message, "status": grpc}}
    error = ADAPTER.convert_error(status, body)
    assert error.status == status
    assert error.body == {
        "error": {"message": message, "type": expected_type, "param": None, "code": expected_code}
    }


def test_error_invalid_api_key_is_a_400_on_gemini() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        }
    }
    error = ADAPTER.convert_error(400, body)
    assert error.status == 400
    assert (error.body["error"]["type"], error.body["error"]["code"]) == (
        "authentication_error",
        "invalid_api_key",
    )


def test_error_non_json_body_is_truncated() -> None:
    error = ADAPTER.convert_error(502, "<html>" + "x" * 1000)
    assert error.status == 502
    assert error.body["error"]["message"] == ("<html>" + "x" * 1000)[:500]
    assert error.body["error"]["type"] == "server_error"
    assert ADAPTER.convert_error(500, b"").body["error"]["message"] == "Gemini returned HTTP 500"
    array = [{"error": {"code": 400, "message": "m", "status": "INVALID_ARGUMENT"}}]
    assert ADAPTER.convert_error(400, array).body["error"]["message"] == "m"


# -- build_request --------------------------------------------------------------------------------


def test_build_request_matches_recorded_request() -> None:
    request = {
        "model": "gemini-3-pro-preview",
        "messages": [{"role": "user", "content": "What is the weather in San Francisco?"}],
        "stream": True,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "Get the weather in a location",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "location": {
                                "type": "string",
                                "description": "The location to get the weather for",
                            }
                        },
                        "required": ["location"],
                    },
                },
            }
        ],
    }
    built = ADAPTER.build_request(request, model="gemini-3-pro-preview")
    assert built.path == "/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
    assert built.stream is True
    assert built.body == load("stream-function-call.request.json")


def test_build_request_text_and_path() -> None:
    built = build([{"role": "user", "content": "How many r's are in the word strawberry?"}])
    assert built.path == "/v1beta/models/gemini-3-pro-preview:generateContent"
    assert built.stream is False
    assert built.body == load("generate-content.request.json")
    assert "model" not in built.body and "stream" not in built.body
    streamed = build([{"role": "user", "content": "hi"}], stream=True, stream_options={})
    assert streamed.path.endswith(":streamGenerateContent?alt=sse")
    assert set(streamed.body) == {"contents"}


def test_build_request_system_roles_and_merging() -> None:
    built = build(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": [{"type": "text", "text": "there"}]},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "assistant", "content": None},
            {"role": "user", "content": "Again"},
        ]
    )
    assert built.body == {
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}, {"text": "there"}]},
            {"role": "model", "parts": [{"text": "Bonjour"}]},
            {"role": "user", "parts": [{"text": "Again"}]},
        ],
    }


def test_build_request_tool_round_trip() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "time", "arguments": ""},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_b", "content": "12:00"},
        {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21, "unit": "C"}'},
        {"role": "user", "content": "Thanks"},
    ]
    built = build(messages)
    assert built.body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "skip_thought_signature_validator",
                },
                {"functionCall": {"name": "time", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "time", "response": {"content": "12:00"}}},
                {"functionResponse": {"name": "weather", "response": {"temp": 21, "unit": "C"}}},
                {"text": "Thanks"},
            ],
        },
    ]
    # models before Gemini 3 do not check signatures: none is invented for them
    older = build(messages, model="gemini-2.5-flash").body["contents"][1]["parts"][0]
    assert older == {"functionCall": {"name": "weather", "args": {"city": "Paris"}}}


def test_build_request_returns_the_recorded_thought_signature() -> None:
    # the converted stream as the client's SDK would send it back on the next turn
    chunks, _, _ = convert_stream(events("stream-function-call.sse"))
    call = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assistant = {"role": "assistant", "content": None, "tool_calls": [call]}
    tool = {"role": "tool", "tool_call_id": WEATHER_CALL_ID, "content": "Sunny, 18C"}
    user: dict[str, Any] = {"role": "user", "content": "What is the weather in San Francisco?"}
    contents = build([user, assistant, tool]).body["contents"]
    recorded = events("stream-function-call.sse")[0][1]["candidates"][0]["content"]["parts"][0]
    assert contents[1] == {"role": "model", "parts": [recorded]}
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "weather", "response": {"content": "Sunny, 18C"}}}],
    }


def test_build_request_images() -> None:
    content = [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a/cat.webp?size=2#x"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/photo", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "http://example.com/x.JPG"}},
    ]
    parts = build([{"role": "user", "content": content}]).body["contents"][0]["parts"]
    assert parts == [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {
            "fileData": {
                "mimeType": "image/webp",
                "fileUri": "https://example.com/a/cat.webp?size=2#x",
            }
        },
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/photo"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "http://example.com/x.JPG"}},
    ]


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["weather"]},
        ),
    ],
)
def test_build_request_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    built = build([{"role": "user", "content": "hi"}], tool_choice=choice)
    assert built.body["toolConfig"] == {"functionCallingConfig": config}


def test_build_request_tools() -> None:
    strict = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    tools = [
        {"type": "function", "function": {"name": "now"}},
        {"type": "function", "function": {"name": "ping", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "w", "strict": True, "parameters": strict}},
    ]
    built = build([{"role": "user", "content": "hi"}], tools=tools)
    assert built.body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "now"},
                {"name": "ping"},  # Gemini rejects an object schema without properties
                {"name": "w", "parametersJsonSchema": strict},  # Schema lacks additionalProperties
            ]
        }
    ]


def test_build_request_generation_config() -> None:
    built = build(
        [{"role": "user", "content": "hi"}],
        temperature=0.2,
        top_p=0.9,
        max_tokens=100,
        max_completion_tokens=50,
        stop="END",
        n=2,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        user="u-1",
        stream_options={"include_usage": True},
    )
    assert built.body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "maxOutputTokens": 50,
        "stopSequences": ["END"],
        "candidateCount": 2,
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
    }
    other = build([{"role": "user", "content": "hi"}], max_tokens=10, stop=["a", "b"], seed=None)
    assert other.body["generationConfig"] == {"maxOutputTokens": 10, "stopSequences": ["a", "b"]}
    assert "generationConfig" not in build([{"role": "user", "content": "hi"}], stop=None).body


def test_build_request_response_format() -> None:
    hi = [{"role": "user", "content": "hi"}]
    as_object = build(hi, response_format={"type": "json_object"}).body["generationConfig"]
    assert as_object == {"responseMimeType": "application/json"}
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    json_schema = {"type": "json_schema", "json_schema": {"name": "count", "schema": schema}}
    assert build(hi, response_format=json_schema).body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": schema,
    }
    strict = {**schema, "additionalProperties": False}
    strict_format = {
        "type": "json_schema",
        "json_schema": {"name": "c", "schema": strict, "strict": True},
    }
    assert build(hi, response_format=strict_format).body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": strict,
    }
    assert "generationConfig" not in build(hi, response_format={"type": "text"}).body


def test_build_request_errors() -> None:
    assert "messages" in bad_request({"model": "m"})
    assert "messages" in bad_request({"messages": "hi"})
    assert "messages" in bad_request(["not", "a", "dict"])
    bad_args = {
        "role": "assistant",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
        ],
    }
    message = bad_request({"messages": [{"role": "user", "content": "x"}, bad_args]})
    assert message.startswith("messages[1].tool_calls[0] (f)")
    not_object = {
        **bad_args,
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}],
    }
    assert "messages[0]" in bad_request({"messages": [not_object]})
    orphan = {"role": "tool", "tool_call_id": "nope", "content": "x"}
    assert "'nope'" in bad_request({"messages": [orphan]})
    assert "role" in bad_request({"messages": [{"role": "wizard", "content": "x"}]})
    audio = [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]
    assert "input_audio" in bad_request({"messages": [{"role": "user", "content": audio}]})
    not_base64 = [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}]
    assert "base64" in bad_request({"messages": [{"role": "user", "content": not_base64}]})
    hi = [{"role": "user", "content": "hi"}]
    assert "tool_choice" in bad_request({"messages": hi, "tool_choice": "sometimes"})
    assert "tools[0]" in bad_request({"messages": hi, "tools": [{"type": "custom", "custom": {}}]})
    assert "response_format" in bad_request({"messages": hi, "response_format": {"type": "yaml"}})


# -- normalize_request ----------------------------------------------------------------------------


def test_normalize_recorded_requests() -> None:
    assert ADAPTER.normalize_request(load("generate-content.request.json")) == {
        "messages": [{"role": "user", "content": "How many r's are in the word strawberry?"}]
    }
    recorded = load("stream-function-call.request.json")
    declaration = recorded["tools"][0]["functionDeclarations"][0]
    assert ADAPTER.normalize_request(recorded) == {
        "messages": [{"role": "user", "content": "What is the weather in San Francisco?"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "Get the weather in a location",
                    "parameters": declaration["parameters"],
                },
            }
        ],
    }


def test_normalize_conversation() -> None:
    body = {
        "system_instruction": {"parts": [{"text": "Be brief."}, {"text": "Use metric."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "What is this?"},
                    {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"text": "Let me check", "thought": True},
                    {"functionCall": {"name": "lookup", "args": {"q": "png"}}},
                    {"functionCall": {"name": "weather", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "weather", "response": {"temp": 20}}},
                    {"functionResponse": {"name": "lookup", "response": {"content": "a PNG"}}},
                ],
            },
            {"role": "model", "parts": [{"text": "A PNG image."}]},
        ],
        "generationConfig": {
            "temperature": 0.1,
            "topP": 0.5,
            "maxOutputTokens": 64,
            "stopSequences": ["\n\n"],
            "responseMimeType": "application/json",
        },
        "toolConfig": {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}
        },
    }
    normalized = ADAPTER.normalize_request(body)
    assert "model" not in normalized and "stream" not in normalized
    messages = normalized["messages"]
    calls = messages[2]["tool_calls"]
    assert messages == [
        {"role": "system", "content": "Be brief.\nUse metric."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "Let me check",
            "tool_calls": [
                {
                    "id": calls[0]["id"],
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q":"png"}'},
                },
                {
                    "id": calls[1]["id"],
                    "type": "function",
                    "function": {"name": "weather", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": '{"temp":20}'},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": '{"content":"a PNG"}'},
        {"role": "assistant", "content": "A PNG image."},
    ]
    assert calls[0]["id"] != calls[1]["id"]
    assert all(c["id"].startswith("call_") for c in calls)
    assert ADAPTER.normalize_request(body) == normalized  # stable ids
    assert {k: v for k, v in normalized.items() if k != "messages"} == {
        "temperature": 0.1,
        "top_p": 0.5,
        "max_tokens": 64,
        "stop": ["\n\n"],
        "response_format": {"type": "json_object"},
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    }


def test_normalize_inverts_build_request() -> None:
    request = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_x",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_x", "content": '{"temp":21}'},
        ],
        "temperature": 0.3,
        "max_tokens": 20,
        "stop": ["x"],
        "tool_choice": "auto",
    }
    built = ADAPTER.build_request(request, model="gemini-2.5-flash")
    normalized = ADAPTER.normalize_request(built.body)
    new_id = normalized["messages"][2]["tool_calls"][0]["id"]
    assert normalized == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": new_id,
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": new_id, "content": '{"temp":21}'},
        ],
        "temperature": 0.3,
        "max_tokens": 20,
        "stop": ["x"],
        "tool_choice": "auto",
    }


def test_normalize_not_a_dict() -> None:
    assert ADAPTER.normalize_request(None) == {"messages": []}
    assert ADAPTER.normalize_request({"contents": "junk"}) == {"messages": []}

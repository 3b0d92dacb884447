"""Tests of the Cohere v2 adapter (traceforge_proxy.providers.cohere.CohereAdapter).

Streams are the SSE transcripts in data/provider-streams/cohere (see its README), framed with
SSEParser and decoded with msgspec, as the proxy does; the converted chunks are also rebuilt
with ChatCompletionAccumulator, which is how the proxy records streamed answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_proxy.accumulate import ChatCompletionAccumulator
from traceforge_proxy.providers.base import ProviderAdapter, ProviderError
from traceforge_proxy.providers.cohere import CohereAdapter
from traceforge_proxy.sse import SSEParser

DATA = Path(__file__).parent / "data" / "provider-streams" / "cohere"
CREATED = 1_773_480_413
MODEL = "command-a-03-2025"
ADAPTER = CohereAdapter()
_PROTOCOL_CHECK: ProviderAdapter = ADAPTER  # mypy: the class implements the protocol

TOOL_PLAN = (
    "I will use the weather tool to find the weather in San Francisco and the cityAttractions"
    " tool to find attractions in San Francisco."
)
TOOL_CALLS = [
    {
        "id": "weather_e8p4pn45zt0t",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"location": "San Francisco"}'},
    },
    {
        "id": "cityAttractions_pyxssbwnq9fq",
        "type": "function",
        "function": {"name": "cityAttractions", "arguments": '{"city": "San Francisco"}'},
    },
]


def events(name: str) -> list[tuple[str | None, Any]]:
    parser = SSEParser()
    framed = parser.feed((DATA / name).read_bytes()) + parser.close()
    return [(e.event, msgspec.json.decode(e.data)) for e in framed if e.data is not None]


def run(name: str, *, include_usage: bool = True, by_type: bool = False) -> tuple[list[Any], Any]:
    converter = ADAPTER.stream_converter(model=MODEL, created=CREATED, include_usage=include_usage)
    chunks: list[dict[str, Any]] = []
    for event, payload in events(name):
        chunks += converter.feed(None if by_type else event, payload)
    chunks += converter.close()
    return chunks, converter


def rebuild(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    accumulator = ChatCompletionAccumulator()
    for chunk in chunks:
        accumulator.add(chunk)
    result = accumulator.result()
    assert result is not None
    return result


def joined(chunks: list[dict[str, Any]], key: str = "content") -> str:
    return "".join(
        choice["delta"].get(key) or "" for chunk in chunks for choice in chunk["choices"]
    )


def load(name: str) -> Any:
    return msgspec.json.decode((DATA / name).read_bytes())


# --- streams ------------------------------------------------------------------------------


def test_transcript_events_are_named() -> None:
    names = [event for event, _ in events("chat-stream.sse")]
    assert names == ["message-start", "content-start"] + ["content-delta"] * 7 + [
        "content-end",
        "message-end",
    ]
    assert all(event == payload["type"] for event, payload in events("chat-stream-tool-call.sse"))


def test_chat_stream_text_and_usage() -> None:
    chunks, converter = run("chat-stream.sse")
    assert joined(chunks) == "The capital of France is Paris."
    # role chunk, 7 content deltas, finish chunk, usage chunk
    assert len(chunks) == 10
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert [c["choices"][0]["delta"]["content"] for c in chunks[1:8]] == [
        "The", " capital", " of", " France", " is", " Paris", ".",
    ]  # fmt: skip
    for chunk in chunks:
        assert chunk["id"] == "321d178c-2c12-44d3-ae42-2f5510f6b1cc"
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["created"] == CREATED
        assert chunk["model"] == MODEL
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * 8 + ["stop"]
    usage = {
        "prompt_tokens": 507,  # usage.tokens, not billed_units (12)
        "completion_tokens": 10,
        "total_tokens": 517,
        "prompt_tokens_details": {"cached_tokens": 448},
    }
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == usage
    assert converter.error is None
    assert rebuild(chunks) == {
        "id": "321d178c-2c12-44d3-ae42-2f5510f6b1cc",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "The capital of France is Paris."},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def test_chat_stream_without_include_usage() -> None:
    chunks, converter = run("chat-stream.sse", include_usage=False)
    assert len(chunks) == 9
    assert all("usage" not in chunk for chunk in chunks)
    assert converter.close() == []
    assert (converter.usage.prompt_tokens, converter.usage.completion_tokens) == (507, 10)
    assert converter.usage.cached_tokens == 448
    assert "usage" not in rebuild(chunks)


def test_chat_stream_tool_call() -> None:
    chunks, converter = run("chat-stream-tool-call.sse")
    assert joined(chunks, "reasoning_content") == TOOL_PLAN
    assert joined(chunks) == ""
    starts = [
        call
        for chunk in chunks
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls", [])
        if "id" in call
    ]
    assert starts == [
        {
            "index": 0,
            "id": "weather_e8p4pn45zt0t",
            "type": "function",
            "function": {"name": "weather", "arguments": ""},
        },
        {
            "index": 1,
            "id": "cityAttractions_pyxssbwnq9fq",
            "type": "function",
            "function": {"name": "cityAttractions", "arguments": ""},
        },
    ]
    fragments = [
        call["function"]["arguments"]
        for chunk in chunks
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls", [])
        if call["index"] == 1 and "id" not in call
    ]
    assert fragments == ['{"', "city", '":', ' "', "San", " Francisco", '"}']
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    usage = {
        "prompt_tokens": 1549,
        "completion_tokens": 95,
        "total_tokens": 1644,
        "prompt_tokens_details": {"cached_tokens": 1504},
    }
    assert chunks[-1]["usage"] == usage
    # 1 role + 27 plan deltas + 2 starts + 14 argument deltas + finish + usage
    assert len(chunks) == 46
    result = rebuild(chunks)
    assert result["id"] == "2941521a-b87a-45f6-9b0d-235fd66c3025"
    assert result["choices"][0] == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": None,
            "reasoning_content": TOOL_PLAN,
            "tool_calls": TOOL_CALLS,
        },
        "finish_reason": "tool_calls",
    }
    assert result["usage"] == usage
    assert converter.usage.cached_tokens == 1504


@pytest.mark.parametrize("name", ["chat-stream.sse", "chat-stream-tool-call.sse"])
def test_event_name_from_payload_type(name: str) -> None:
    assert run(name, by_type=True)[0] == run(name)[0]


def test_stream_split_at_every_byte_converts_the_same() -> None:
    data = (DATA / "chat-stream.sse").read_bytes()
    expected, _ = run("chat-stream.sse")
    for cut in range(0, len(data) + 1, 7):
        parser = SSEParser()
        converter = ADAPTER.stream_converter(model=MODEL, created=CREATED, include_usage=True)
        chunks = []
        for event in parser.feed(data[:cut]) + parser.feed(data[cut:]) + parser.close():
            if event.data is not None:
                chunks += converter.feed(event.event, msgspec.json.decode(event.data))
        assert chunks + converter.close() == expected


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("COMPLETE", "stop"),
        ("STOP_SEQUENCE", "stop"),
        ("MAX_TOKENS", "length"),
        ("TOOL_CALL", "tool_calls"),
        ("ERROR", "stop"),
        ("TIMEOUT", "stop"),
    ],
)
def test_stream_finish_reasons(reason: str, finish: str) -> None:
    *_, (event, end) = events("chat-stream.sse")
    end["delta"]["finish_reason"] = reason
    converter = ADAPTER.stream_converter(model=MODEL, created=CREATED, include_usage=False)
    assert converter.feed(event, end)[-1]["choices"][0]["finish_reason"] == finish


def test_stream_usage_falls_back_to_billed_units() -> None:
    *_, (event, end) = events("chat-stream.sse")
    end["delta"]["usage"] = {"billed_units": {"input_tokens": 12, "output_tokens": 7}}
    converter = ADAPTER.stream_converter(model=MODEL, created=CREATED, include_usage=True)
    converter.feed(event, end)
    assert converter.close()[0]["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 7,
        "total_tokens": 19,
    }


def test_stream_ignores_citations_and_unknown_events() -> None:
    converter = ADAPTER.stream_converter(model=MODEL, created=CREATED, include_usage=False)
    start = events("chat-stream.sse")[0]
    assert len(converter.feed(*start)) == 1
    citation = {"type": "citation-start", "index": 0, "delta": {"message": {"citations": {}}}}
    assert converter.feed("citation-start", citation) == []
    assert converter.feed("citation-end", {"type": "citation-end", "index": 0}) == []
    assert converter.feed("debug", {"type": "debug"}) == []
    assert converter.feed(None, None) == []


@pytest.mark.parametrize(
    ("event", "payload", "message"),
    [
        ("error", {"type": "error", "message": "internal server error"}, "internal server error"),
        (None, {"id": "e1", "message": "too many tokens"}, "too many tokens"),
        ("message-end", {"type": "message-end", "delta": {"finish_reason": "ERROR",
                                                          "error": "generation failed"}},
         "generation failed"),
    ],
)  # fmt: skip
def test_stream_errors(event: str | None, payload: dict[str, Any], message: str) -> None:
    converter = ADAPTER.stream_converter(model=MODEL, created=CREATED, include_usage=True)
    seen = events("chat-stream.sse")
    chunks = [c for e, p in seen[:4] for c in converter.feed(e, p)]
    assert joined(chunks) == "The capital"
    assert converter.feed(event, payload) == [
        {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    ]
    assert isinstance(converter.error, ProviderError)
    assert converter.error.status == 500
    assert converter.feed(*seen[-1]) == []  # nothing follows an error
    assert converter.close() == []


# --- non-streaming answers ----------------------------------------------------------------


def test_convert_response_fixture() -> None:
    assert ADAPTER.convert_response(load("chat.json"), model=MODEL, created=CREATED) == {
        "id": "e7592632-1e3d-424f-b129-bd5f9f980f7b",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,  # Cohere does not echo the model
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "The capital of France is Paris."},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 507,
            "completion_tokens": 10,
            "total_tokens": 517,
            "prompt_tokens_details": {"cached_tokens": 448},
        },
    }


def test_convert_response_tool_calls_and_finish_reasons() -> None:
    body = {
        "id": "2941521a-b87a-45f6-9b0d-235fd66c3025",
        "message": {"role": "assistant", "tool_plan": TOOL_PLAN, "tool_calls": TOOL_CALLS},
        "finish_reason": "TOOL_CALL",
        "usage": {"billed_units": {"input_tokens": 119, "output_tokens": 44}},
    }
    result = ADAPTER.convert_response(body, model=MODEL, created=CREATED)
    assert result["choices"][0]["message"] == {
        "role": "assistant",
        "content": None,
        "reasoning_content": TOOL_PLAN,
        "tool_calls": TOOL_CALLS,
    }
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    assert result["usage"] == {"prompt_tokens": 119, "completion_tokens": 44, "total_tokens": 163}
    chat = load("chat.json")
    for reason, finish in [("MAX_TOKENS", "length"), ("STOP_SEQUENCE", "stop"), ("ERROR", "stop")]:
        answer = ADAPTER.convert_response({**chat, "finish_reason": reason}, model=MODEL, created=0)
        assert answer["choices"][0]["finish_reason"] == finish
    del chat["usage"]
    assert ADAPTER.convert_response(chat, model=MODEL, created=0)["usage"] is None


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "code", "message"),
    [
        (401, {"id": "0f6d", "message": "invalid api token"}, "authentication_error",
         "invalid_api_key", "invalid api token"),
        (429, {"message": "You are using a Trial key, which is limited to 10 API calls / minute."},
         "rate_limit_error", "rate_limit_exceeded",
         "You are using a Trial key, which is limited to 10 API calls / minute."),
        (404, {"id": "a1", "message": "model 'command-z' not found, make sure the correct model ID "
               "was used and that you have access to the model."}, "invalid_request_error",
         "model_not_found", "model 'command-z' not found, make sure the correct model ID was used "
         "and that you have access to the model."),
        (400, {"message": "invalid request: message must be at least 1 token long"},
         "invalid_request_error", None, "invalid request: message must be at least 1 token long"),
        (500, {"message": "internal server error"}, "server_error", None, "internal server error"),
        (503, "upstream connect error\n", "server_error", None, "upstream connect error"),
        (502, None, "server_error", None, "Cohere returned HTTP 502"),
    ],
)  # fmt: skip
def test_convert_error(status: int, body: Any, kind: str, code: str | None, message: str) -> None:
    error = ADAPTER.convert_error(status, body)
    assert error.status == status
    assert error.body == {"error": {"message": message, "type": kind, "param": None, "code": code}}


# --- requests -----------------------------------------------------------------------------


def test_build_request_fixture_requests() -> None:
    request = load("chat-stream.request.json")  # the same in OpenAI and Cohere shape
    built = ADAPTER.build_request(request, model=MODEL)
    assert built.path == "/v2/chat"
    assert built.stream is True
    assert built.body == request
    tools = load("chat-stream-tool-call.request.json")
    built = ADAPTER.build_request({**tools, "stream": False}, model=MODEL)
    assert built.stream is False
    assert built.body["tools"] == tools["tools"]
    assert built.body["stream"] is False


def test_build_request_conversation_parts_and_sampling() -> None:
    request = {
        "model": "cohere/command-a-vision-07-2025",
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Be"},
                                              {"type": "text", "text": "brief."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is it?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png",
                                                    "detail": "low"}},
            ]},
            {"role": "assistant", "content": None, "reasoning_content": TOOL_PLAN,
             "tool_calls": TOOL_CALLS},
            {"role": "tool", "tool_call_id": "weather_e8p4pn45zt0t", "content": "15C"},
            {"role": "tool", "tool_call_id": "cityAttractions_pyxssbwnq9fq",
             "content": [{"type": "text", "text": "Golden Gate"}]},
            {"role": "assistant", "content": "It is 15C."},
        ],
        "temperature": 0.3,
        "top_p": 0.75,
        "max_tokens": 10,
        "max_completion_tokens": 200,
        "stop": "###",
        "seed": 11,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "tool_choice": "required",
        "response_format": {"type": "json_object"},
    }  # fmt: skip
    body = ADAPTER.build_request(request, model="command-a-vision-07-2025").body
    assert body == {
        "model": "command-a-vision-07-2025",
        "messages": [
            {"role": "system", "content": "Be\nbrief."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is it?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ]},
            {"role": "assistant", "tool_plan": TOOL_PLAN, "tool_calls": TOOL_CALLS},
            {"role": "tool", "tool_call_id": "weather_e8p4pn45zt0t", "content": "15C"},
            {"role": "tool", "tool_call_id": "cityAttractions_pyxssbwnq9fq",
             "content": "Golden Gate"},
            {"role": "assistant", "content": "It is 15C."},
        ],
        "tool_choice": "REQUIRED",
        "temperature": 0.3,
        "p": 0.75,
        "seed": 11,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "max_tokens": 200,
        "stop_sequences": ["###"],
        "response_format": {"type": "json_object"},
        "stream": False,
    }  # fmt: skip


def test_build_request_tool_choice_and_response_format() -> None:
    base = {"messages": [{"role": "user", "content": "hi"}]}
    assert (
        ADAPTER.build_request({**base, "tool_choice": "none"}, model=MODEL).body["tool_choice"]
        == "NONE"
    )
    assert (
        "tool_choice"
        not in ADAPTER.build_request({**base, "tool_choice": "auto"}, model=MODEL).body
    )
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    body = ADAPTER.build_request({**base, "response_format": fmt}, model=MODEL).body
    assert body["response_format"] == {"type": "json_object", "json_schema": schema}
    text = ADAPTER.build_request({**base, "response_format": {"type": "text"}}, model=MODEL)
    assert "response_format" not in text.body


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"messages": [{"role": "user", "content": "x"}],
          "tool_choice": {"type": "function", "function": {"name": "weather"}}},
         "Cohere cannot force a named tool"),
        ({"messages": []}, "messages: expected a non-empty list"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 3}, "'n' is not supported"),
        ({"messages": [{"role": "system", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]},
         "messages[0].content[0]: content part 'image_url' not supported"),
        ({"messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]},
         "'input_audio' not supported"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id: missing"),
        ({"messages": [{"role": "assistant", "tool_calls": [
            {"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]},
         "messages[0].tool_calls[0]: id and function.name needed"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}},
         "response_format.type"),
    ],
)  # fmt: skip
def test_build_request_invalid(request_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ProviderError) as caught:
        ADAPTER.build_request(request_body, model=MODEL)
    assert caught.value.status == 400
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert message in caught.value.body["error"]["message"]


def test_normalize_request_fixtures() -> None:
    assert ADAPTER.normalize_request(load("chat-stream.request.json")) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "stream": True,
    }
    tools = load("chat-stream-tool-call.request.json")
    normalized = ADAPTER.normalize_request(tools)
    assert normalized["tools"] == tools["tools"]
    assert normalized["tools"][1]["function"]["name"] == "cityAttractions"


def test_normalize_request_native_fields() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "sys"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "see"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ]},
            {"role": "assistant", "tool_plan": TOOL_PLAN, "tool_calls": TOOL_CALLS},
            {"role": "tool", "tool_call_id": "weather_e8p4pn45zt0t",
             "content": [{"type": "document", "document": {"data": {"temp": "15C"}}}]},
        ],
        "p": 0.5,
        "k": 40,
        "stop_sequences": ["END"],
        "max_tokens": 99,
        "temperature": 0.1,
        "tool_choice": "REQUIRED",
        "response_format": {"type": "json_object", "json_schema": schema},
    }  # fmt: skip
    assert ADAPTER.normalize_request(body) == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "sys"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "see"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ]},
            {"role": "assistant", "content": None, "reasoning_content": TOOL_PLAN,
             "tool_calls": TOOL_CALLS},
            {"role": "tool", "tool_call_id": "weather_e8p4pn45zt0t",
             "content": [{"type": "text", "text": '{"data":{"temp":"15C"}}'}]},
        ],
        "tool_choice": "required",
        "temperature": 0.1,
        "top_p": 0.5,
        "max_tokens": 99,
        "stop": ["END"],
        "response_format": {"type": "json_schema",
                            "json_schema": {"name": "response", "schema": schema}},
        "stream": False,
    }  # fmt: skip


def test_build_then_normalize_round_trip() -> None:
    request = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS[:1]},
            {"role": "tool", "tool_call_id": "weather_e8p4pn45zt0t", "content": "15C"},
        ],
        "tools": load("chat-stream-tool-call.request.json")["tools"],
        "tool_choice": "none",
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 64,
        "stop": ["\n\n"],
        "seed": 1,
        "stream": True,
    }
    native = ADAPTER.build_request(request, model=MODEL).body
    assert ADAPTER.normalize_request(native) == {"model": MODEL, **request}


def test_adapter_name() -> None:
    assert ADAPTER.name == "cohere"


ODD_PAYLOADS: list[tuple[str | None, Any]] = [
    ("message-start", {"type": "message-start", "id": 5, "delta": []}),
    ("content-delta", {"type": "content-delta", "delta": {"message": {"content": "text"}}}),
    ("content-delta", {"type": "content-delta", "delta": {"message": {"content": {"text": 1}}}}),
    ("tool-plan-delta", {"type": "tool-plan-delta", "delta": None}),
    ("tool-call-start", {"type": "tool-call-start", "index": [0], "delta": {"message": 1}}),
    ("tool-call-delta", {"type": "tool-call-delta", "index": {}, "delta": {"message": {}}}),
    ("tool-call-delta", {"type": "tool-call-delta", "delta": {"message": {"tool_calls": [
        {"function": {"arguments": '{"a"'}}]}}}),
    ("message-end", {"type": "message-end", "delta": {"finish_reason": ["X"], "usage": 3}}),
    (None, {"type": 7}),
    (None, "text"),
]  # fmt: skip


def test_stream_tolerates_odd_payloads() -> None:
    converter = ADAPTER.stream_converter(model=MODEL, created=CREATED, include_usage=True)
    chunks = [chunk for event, payload in ODD_PAYLOADS for chunk in converter.feed(event, payload)]
    chunks += converter.close()
    assert converter.error is None
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    result = rebuild(chunks)
    # the one well-formed fragment lands on the only tool call started (index 0)
    assert result["choices"][0]["message"]["tool_calls"] == [
        {"id": None, "type": "function", "function": {"name": "", "arguments": '{"a"'}}
    ]
    assert result["choices"][0]["finish_reason"] == "stop"

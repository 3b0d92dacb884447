"""Tests of the Ollama adapter (traceforge_proxy.providers.ollama.OllamaAdapter).

Streams are the NDJSON transcripts in data/provider-streams/ollama (see its README), framed
with NDJSONParser and decoded with msgspec, as the proxy does; the converted chunks are also
rebuilt with ChatCompletionAccumulator, which is how the proxy records streamed answers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_proxy.accumulate import ChatCompletionAccumulator
from traceforge_proxy.ndjson import NDJSONParser
from traceforge_proxy.providers.base import ProviderAdapter, ProviderError
from traceforge_proxy.providers.ollama import OllamaAdapter

DATA = Path(__file__).parent / "data" / "provider-streams" / "ollama"
CREATED = 1_773_480_413
ADAPTER = OllamaAdapter()
_PROTOCOL_CHECK: ProviderAdapter = ADAPTER  # mypy: the class implements the protocol

CHAT_TEXT = (
    "The sky appears blue because of a phenomenon called Rayleigh scattering: shorter blue"
    " wavelengths of sunlight are scattered by the gases in the atmosphere much more than"
    " longer red wavelengths."
)
GENERATE_TEXT = (
    "The sky is blue because air molecules scatter short-wavelength blue light more strongly"
    " than red light (Rayleigh scattering)."
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a given city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city to get the weather for"}
            },
            "required": ["city"],
        },
    },
}
#: A 1x1 PNG, base64 (what Ollama takes in ``images``).
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)


def lines(name: str) -> list[dict[str, Any]]:
    parser = NDJSONParser()
    events = parser.feed((DATA / name).read_bytes()) + parser.close()
    return [msgspec.json.decode(event.data) for event in events if event.data is not None]


def run(
    name: str, *, include_usage: bool = True, model: str = "llama3.2"
) -> tuple[list[dict[str, Any]], Any]:
    converter = ADAPTER.stream_converter(model=model, created=CREATED, include_usage=include_usage)
    chunks: list[dict[str, Any]] = []
    for payload in lines(name):
        chunks += converter.feed(None, payload)
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


def sha(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


# --- streams ------------------------------------------------------------------------------


def test_chat_stream_text_usage_and_shape() -> None:
    chunks, converter = run("chat-stream.ndjson")
    assert joined(chunks) == CHAT_TEXT
    # 32 content lines, the finish chunk of the done line, the usage chunk
    assert len(chunks) == 34
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "The"}
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:-1])
    expected_id = "chatcmpl-ollama-" + sha("llama3.2" + "2026-03-14T09:26:53.589793238Z", 16)
    for chunk in chunks:
        assert chunk["id"] == expected_id
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["created"] == CREATED
        assert chunk["model"] == "llama3.2"
    for chunk in chunks[:-1]:
        assert chunk["usage"] is None
        assert chunk["choices"][0]["index"] == 0
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * 32 + ["stop"]
    assert chunks[-2]["choices"][0]["delta"] == {}
    assert chunks[-1]["choices"] == []
    usage = {"prompt_tokens": 31, "completion_tokens": 33, "total_tokens": 64}
    assert chunks[-1]["usage"] == usage
    assert converter.usage.prompt_tokens == 31
    assert converter.usage.completion_tokens == 33
    assert converter.error is None
    assert rebuild(chunks) == {
        "id": expected_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": "llama3.2",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": CHAT_TEXT},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def test_chat_stream_without_include_usage() -> None:
    chunks, converter = run("chat-stream.ndjson", include_usage=False)
    assert len(chunks) == 33
    assert all("usage" not in chunk for chunk in chunks)
    assert converter.close() == []
    assert converter.usage.as_openai() == {
        "prompt_tokens": 31,
        "completion_tokens": 33,
        "total_tokens": 64,
    }
    result = rebuild(chunks)
    assert "usage" not in result
    assert result["choices"][0]["message"]["content"] == CHAT_TEXT


def test_chat_stream_tool_call() -> None:
    chunks, converter = run("chat-stream-tool-call.ndjson")
    assert chunks[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "tool_calls": [
            {
                "index": 0,
                "id": "call_k3n8x2qp",  # Ollama's own id is kept
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
            }
        ],
    }
    assert chunks[1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[2]["usage"] == {
        "prompt_tokens": 169,
        "completion_tokens": 15,
        "total_tokens": 184,
    }
    assert len(chunks) == 3
    message = rebuild(chunks)["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_k3n8x2qp",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
            }
        ],
    }
    assert converter.usage.completion_tokens == 15


def test_stream_tool_calls_without_ids_get_stable_ids() -> None:
    first, done = lines("chat-stream-tool-call.ndjson")
    call = first["message"]["tool_calls"][0]
    del call["id"]
    second = msgspec.json.decode(msgspec.json.encode(first))
    second["message"]["tool_calls"][0]["function"] = {
        "name": "get_time",
        "arguments": {"zone": "Asia/Tokyo", "24h": True},
    }
    ids = []
    for _ in range(2):
        converter = ADAPTER.stream_converter(model="x", created=CREATED, include_usage=False)
        chunks = converter.feed(None, first) + converter.feed(None, second)
        chunks += converter.feed(None, done)
        calls = [c for chunk in chunks for c in chunk["choices"][0]["delta"].get("tool_calls", [])]
        assert [c["index"] for c in calls] == [0, 1]
        assert calls[1]["function"] == {
            "name": "get_time",
            "arguments": '{"zone":"Asia/Tokyo","24h":true}',
        }
        ids.append([c["id"] for c in calls])
    assert ids[0] == ids[1]  # deterministic
    assert ids[0] == [
        "call_" + sha("2026-03-14T09:28:40.184789Z:0:get_weather", 24),
        "call_" + sha("2026-03-14T09:28:40.184789Z:1:get_time", 24),
    ]


def test_generate_stream() -> None:
    chunks, _ = run("generate-stream.ndjson")
    assert joined(chunks) == GENERATE_TEXT
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "The"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 31, "completion_tokens": 22, "total_tokens": 53}
    result = rebuild(chunks)
    assert result["choices"][0]["message"] == {"role": "assistant", "content": GENERATE_TEXT}
    assert result["id"] == "chatcmpl-ollama-" + sha("llama3.22026-03-14T09:30:11.402516871Z", 16)


def test_stream_split_at_every_byte_converts_the_same() -> None:
    data = (DATA / "chat-stream-tool-call.ndjson").read_bytes()
    expected, _ = run("chat-stream-tool-call.ndjson")
    for cut in range(len(data) + 1):
        parser = NDJSONParser()
        converter = ADAPTER.stream_converter(model="llama3.2", created=CREATED, include_usage=True)
        chunks = []
        for event in parser.feed(data[:cut]) + parser.feed(data[cut:]) + parser.close():
            if event.data is not None:
                chunks += converter.feed(event.event, msgspec.json.decode(event.data))
        assert chunks + converter.close() == expected


def test_stream_thinking_becomes_reasoning_content() -> None:
    converter = ADAPTER.stream_converter(model="qwen3", created=CREATED, include_usage=False)
    base = {"model": "qwen3", "created_at": "2026-03-14T10:00:00Z", "done": False}
    chunks = converter.feed(None, {**base, "message": {"role": "assistant", "thinking": "Hm"}})
    chunks += converter.feed(None, {**base, "message": {"role": "assistant", "thinking": "."}})
    chunks += converter.feed(None, {**base, "message": {"role": "assistant", "content": "Hi"}})
    done = {**base, "done": True, "done_reason": "length", "message": {"content": ""}}
    chunks += converter.feed(None, done)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "reasoning_content": "Hm"}
    message = rebuild(chunks)["choices"][0]
    assert message["message"] == {"role": "assistant", "content": "Hi", "reasoning_content": "Hm."}
    assert message["finish_reason"] == "length"
    # no counts on the done line: no usage chunk even when asked for
    assert converter.usage.as_openai() is None


@pytest.mark.parametrize(
    ("done_reason", "finish"),
    [("stop", "stop"), ("length", "length"), ("load", "stop"), (None, "stop")],
)
def test_stream_done_reasons(done_reason: str | None, finish: str) -> None:
    *_, done = lines("chat-stream.ndjson")
    done = {**done, "done_reason": done_reason}
    converter = ADAPTER.stream_converter(model="m", created=CREATED, include_usage=False)
    chunks = converter.feed(None, done)
    assert chunks[-1]["choices"][0]["finish_reason"] == finish


def test_stream_error_line() -> None:
    converter = ADAPTER.stream_converter(model="llama3.2", created=CREATED, include_usage=True)
    payloads = lines("chat-stream.ndjson")
    chunks = [c for payload in payloads[:3] for c in converter.feed(None, payload)]
    assert joined(chunks) == "The sky appears"
    error = converter.feed(None, {"error": "an error was encountered while running the model"})
    assert error == [
        {
            "error": {
                "message": "an error was encountered while running the model",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    ]
    assert isinstance(converter.error, ProviderError)
    assert converter.error.status == 500
    assert converter.feed(None, payloads[-1]) == []  # nothing follows an error
    assert converter.close() == []


def test_stream_ignores_non_objects() -> None:
    converter = ADAPTER.stream_converter(model="m", created=CREATED, include_usage=True)
    assert converter.feed(None, None) == []
    assert converter.feed(None, [1, 2]) == []
    assert converter.close() == []


# --- non-streaming answers ----------------------------------------------------------------


def chat_body(name: str) -> dict[str, Any]:
    """The non-streaming answer for a transcript: its done line with the whole message (what
    Ollama sends for ``"stream": false``)."""
    payloads = lines(name)
    body = dict(payloads[-1])
    message: dict[str, Any] = {"role": "assistant", "content": joined_payloads(payloads)}
    calls = [c for p in payloads for c in p.get("message", {}).get("tool_calls", [])]
    if calls:
        message["tool_calls"] = calls
    body["message"] = message
    return body


def joined_payloads(payloads: list[dict[str, Any]]) -> str:
    return "".join(p["message"]["content"] for p in payloads)


def test_convert_response_text() -> None:
    body = chat_body("chat-stream.ndjson")
    assert ADAPTER.convert_response(body, model="ignored", created=CREATED) == {
        "id": "chatcmpl-ollama-" + sha("llama3.22026-03-14T09:26:54.11835743Z", 16),
        "object": "chat.completion",
        "created": CREATED,
        "model": "llama3.2",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": CHAT_TEXT},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 31, "completion_tokens": 33, "total_tokens": 64},
    }


def test_convert_response_tool_call() -> None:
    body = chat_body("chat-stream-tool-call.ndjson")
    result = ADAPTER.convert_response(body, model="llama3.2", created=CREATED)
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_k3n8x2qp",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
            }
        ],
    }
    assert result["usage"] == {"prompt_tokens": 169, "completion_tokens": 15, "total_tokens": 184}
    # without Ollama ids: call_ + 24 hex of sha256("created_at:position:name"), stable
    del body["message"]["tool_calls"][0]["id"]
    body["message"]["tool_calls"].append(
        {"function": {"name": "get_weather", "arguments": {"city": "Kyoto"}}}
    )
    calls = ADAPTER.convert_response(body, model="m", created=0)["choices"][0]["message"]
    created_at = "2026-03-14T09:28:40.19314Z"
    assert [c["id"] for c in calls["tool_calls"]] == [
        "call_" + sha(f"{created_at}:0:get_weather", 24),
        "call_" + sha(f"{created_at}:1:get_weather", 24),
    ]
    assert calls["tool_calls"][1]["function"]["arguments"] == '{"city":"Kyoto"}'


def test_convert_response_thinking_usage_and_generate_body() -> None:
    body = {
        "model": "qwen3",
        "created_at": "2026-03-14T10:00:00Z",
        "message": {"role": "assistant", "content": "4", "thinking": "2+2"},
        "done": True,
        "done_reason": "length",
        "eval_count": 7,
    }
    result = ADAPTER.convert_response(body, model="qwen3", created=CREATED)
    assert result["choices"][0]["message"] == {
        "role": "assistant",
        "content": "4",
        "reasoning_content": "2+2",
    }
    assert result["choices"][0]["finish_reason"] == "length"
    assert result["usage"] == {"prompt_tokens": 0, "completion_tokens": 7, "total_tokens": 7}
    del body["eval_count"]
    assert ADAPTER.convert_response(body, model="qwen3", created=CREATED)["usage"] is None
    generate = lines("generate-stream.ndjson")
    generate_body = {**generate[-1], "response": "".join(p["response"] for p in generate)}
    result = ADAPTER.convert_response(generate_body, model="llama3.2", created=CREATED)
    assert result["choices"][0]["message"] == {"role": "assistant", "content": GENERATE_TEXT}
    assert result["usage"] == {"prompt_tokens": 31, "completion_tokens": 22, "total_tokens": 53}


# --- errors -------------------------------------------------------------------------------


def test_convert_error_model_not_found_fixture() -> None:
    body = msgspec.json.decode((DATA / "error-404-model-not-found.json").read_bytes())
    error = ADAPTER.convert_error(404, body)
    assert error.status == 404
    assert error.body == {
        "error": {
            "message": "model 'llama3.3:70b' not found",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    older = {"error": 'model "x" not found, try pulling it first'}
    assert ADAPTER.convert_error(404, older).body["error"]["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (400, {"error": "missing request body"}, "invalid_request_error", "missing request body"),
        (500, {"error": "llama runner process has terminated"}, "server_error",
         "llama runner process has terminated"),
        (502, "Bad Gateway\n", "server_error", "Bad Gateway"),
        (503, b"", "server_error", "Ollama returned HTTP 503"),
        (429, {"error": "server busy"}, "rate_limit_error", "server busy"),
    ],
)  # fmt: skip
def test_convert_error_other_statuses(status: int, body: Any, kind: str, message: str) -> None:
    error = ADAPTER.convert_error(status, body)
    assert error.status == status
    assert error.body["error"]["type"] == kind
    assert error.body["error"]["message"] == message


# --- requests -----------------------------------------------------------------------------


def test_build_request_minimal_sets_stream_explicitly() -> None:
    request = {"model": "ollama/llama3.2", "messages": [{"role": "user", "content": "why?"}]}
    built = ADAPTER.build_request(request, model="llama3.2")
    assert built.path == "/api/chat"
    assert built.stream is False
    assert built.body == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "why?"}],
        "stream": False,  # Ollama would stream without it
    }
    built = ADAPTER.build_request({**request, "stream": True}, model="llama3.2")
    assert built.stream is True
    assert built.body["stream"] is True


def test_build_request_images_and_text_parts() -> None:
    request = {
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                    {"type": "text", "text": "One word."},
                ],
            },
        ]
    }
    body = ADAPTER.build_request(request, model="llava").body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is this?\nOne word.", "images": [PNG_B64]},
    ]


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
         "Ollama takes base64 images only"),
        ({"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}, "not base64"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
         "'input_audio' not supported by Ollama"),
    ],
)  # fmt: skip
def test_build_request_rejects_unsupported_parts(part: dict[str, Any], message: str) -> None:
    request = {"messages": [{"role": "user", "content": [part]}]}
    with pytest.raises(ProviderError) as caught:
        ADAPTER.build_request(request, model="llava")
    assert caught.value.status == 400
    assert message in caught.value.body["error"]["message"]
    assert "messages[0].content[0]" in caught.value.body["error"]["message"]
    assert caught.value.body["error"]["type"] == "invalid_request_error"


def tool_conversation() -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "what is the weather in tokyo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_k3n8x2qp",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_k3n8x2qp", "content": "11 degrees, rain"},
    ]


def test_build_request_tools_round_trip() -> None:
    request = {"messages": tool_conversation(), "tools": [WEATHER_TOOL], "tool_choice": "auto"}
    body = ADAPTER.build_request(request, model="llama3.2").body
    assert body["messages"] == [
        {"role": "user", "content": "what is the weather in tokyo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}],
        },
        {"role": "tool", "content": "11 degrees, rain", "tool_name": "get_weather"},
    ]
    assert body["tools"] == [WEATHER_TOOL]
    assert "tool_choice" not in body
    # tool_choice "none": Ollama has no switch, so the tools are left out
    none = ADAPTER.build_request({**request, "tool_choice": "none"}, model="llama3.2").body
    assert "tools" not in none
    # and back: the native body normalizes to the OpenAI conversation (same ids: Ollama's
    # tool calls carry none here, so stable ones are generated and the tool result follows)
    normalized = ADAPTER.normalize_request(body)
    generated = "call_" + sha("messages[1]:0:get_weather", 24)
    assert normalized["messages"] == [
        {"role": "user", "content": "what is the weather in tokyo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": generated,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
                }
            ],
        },
        {"role": "tool", "content": "11 degrees, rain", "tool_call_id": generated},
    ]
    assert normalized["tools"] == [WEATHER_TOOL]
    assert normalized["stream"] is False


def test_build_request_options_and_format() -> None:
    request = {
        "messages": [{"role": "user", "content": "JSON please"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 50,
        "max_completion_tokens": 100,
        "stop": "END",
        "seed": 42,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "response_format": {"type": "json_object"},
        "stream": True,
    }
    body = ADAPTER.build_request(request, model="llama3.2").body
    assert body["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 42,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "num_predict": 100,  # max_completion_tokens wins over the legacy max_tokens
        "stop": ["END"],
    }
    assert body["format"] == "json"
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    request["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }
    del request["max_completion_tokens"]
    request["stop"] = ["END", "\n\n"]
    body = ADAPTER.build_request(request, model="llama3.2").body
    assert body["format"] == schema
    assert body["options"]["num_predict"] == 50
    assert body["options"]["stop"] == ["END", "\n\n"]
    text = ADAPTER.build_request(
        {"messages": request["messages"], "response_format": {"type": "text"}}, model="m"
    ).body
    assert "format" not in text
    assert "options" not in text


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"messages": []}, "messages: expected a non-empty list"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "'n' is not supported"),
        ({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"},
         "tool_choice: Ollama cannot force tool use"),
        ({"messages": [{"role": "user", "content": "x"}],
          "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
         "tool_choice"),
        ({"messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]},
         "messages[0].tool_calls[0].function.arguments: not valid JSON"),
        ({"messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]},
         "Ollama needs a JSON object"),
        ({"messages": [{"role": "critic", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "x"}],
          "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
         "response_format.json_schema.schema"),
        ({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "grammar"}},
         "response_format.type"),
    ],
)  # fmt: skip
def test_build_request_invalid(request_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ProviderError) as caught:
        ADAPTER.build_request(request_body, model="llama3.2")
    assert caught.value.status == 400
    assert message in str(caught.value)


def test_normalize_request_fixtures() -> None:
    chat = msgspec.json.decode((DATA / "chat-stream.request.json").read_bytes())
    assert ADAPTER.normalize_request(chat) == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "why is the sky blue?"}],
        "stream": True,  # absent in the body: Ollama streams
    }
    tools = msgspec.json.decode((DATA / "chat-stream-tool-call.request.json").read_bytes())
    normalized = ADAPTER.normalize_request(tools)
    assert normalized["tools"] == [WEATHER_TOOL]
    assert normalized["messages"] == [{"role": "user", "content": "what is the weather in tokyo?"}]
    assert normalized["stream"] is True
    generate = msgspec.json.decode((DATA / "generate-stream.request.json").read_bytes())
    assert ADAPTER.normalize_request(generate) == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "Why is the sky blue?"}],
        "stream": True,
    }


def test_normalize_request_generate_with_system_images_and_options() -> None:
    body = {
        "model": "llava",
        "system": "Answer in French.",
        "prompt": "What is in this picture?",
        "images": [PNG_B64],
        "format": "json",
        "options": {"temperature": 0, "num_predict": 64, "stop": ["\n"], "seed": 7, "top_k": 40},
        "stream": False,
    }
    assert ADAPTER.normalize_request(body) == {
        "model": "llava",
        "messages": [
            {"role": "system", "content": "Answer in French."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                ],
            },
        ],
        "temperature": 0,
        "seed": 7,
        "max_tokens": 64,
        "stop": ["\n"],
        "response_format": {"type": "json_object"},
        "stream": False,
    }


def test_normalize_request_chat_thinking_tool_ids_and_schema() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    body = {
        "model": "qwen3",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "look", "images": ["/9j/4AAQSkZJRg=="]},
            {
                "role": "assistant",
                "content": "",
                "thinking": "need tools",
                "tool_calls": [
                    {"id": "call_abc", "function": {"name": "a", "arguments": {"x": 1}}},
                    {"function": {"index": 1, "name": "b", "arguments": {}}},
                ],
            },
            {"role": "tool", "content": "B", "tool_name": "b"},
            {"role": "tool", "content": "A", "tool_name": "a"},
        ],
        "format": schema,
    }
    out = ADAPTER.normalize_request(body)
    assert out["messages"][1]["content"][0] == {"type": "text", "text": "look"}
    assert out["messages"][1]["content"][1]["image_url"]["url"].startswith("data:image/jpeg;")
    assistant = out["messages"][2]
    assert assistant["reasoning_content"] == "need tools"
    assert assistant["content"] is None
    ids = [call["id"] for call in assistant["tool_calls"]]
    assert ids == ["call_abc", "call_" + sha("messages[2]:1:b", 24)]
    assert [call["function"]["arguments"] for call in assistant["tool_calls"]] == ['{"x":1}', "{}"]
    assert out["messages"][3]["tool_call_id"] == ids[1]  # matched by tool_name
    assert out["messages"][4]["tool_call_id"] == "call_abc"
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }
    assert ADAPTER.normalize_request(body) == out  # deterministic


def test_adapter_name() -> None:
    assert ADAPTER.name == "ollama"


def test_stream_tolerates_odd_payloads() -> None:
    converter = ADAPTER.stream_converter(model="m", created=CREATED, include_usage=True)
    odd: list[Any] = [
        {"model": 3, "created_at": None, "message": "hi", "done": False},
        {"message": {"content": 5, "thinking": ["x"], "tool_calls": {"function": {}}}},
        {"message": {"tool_calls": [None, {"function": "f"}, {"function": {"name": 1}}]}},
        {"response": "ok", "done": True, "prompt_eval_count": "9", "eval_count": 2},
    ]
    chunks = [chunk for payload in odd for chunk in converter.feed(None, payload)]
    chunks += converter.close()
    assert converter.error is None
    result = rebuild(chunks)
    assert result["model"] == "m"
    assert result["choices"][0]["message"]["tool_calls"][0]["function"] == {
        "name": "",
        "arguments": "{}",
    }
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    assert result["usage"] == {"prompt_tokens": 0, "completion_tokens": 2, "total_tokens": 2}

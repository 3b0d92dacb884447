"""Field paths into traces: ``traceforge_shared.evals.fields``."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from traceforge_shared.evals import FieldNotFoundError, resolve_field
from traceforge_shared.evals.fields import parse_field, resolve_data
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace, TraceError

CONTENT = "response.choices[0].message.content"


def tool_call_trace() -> Trace:
    trace = make_trace(text="")
    arguments = json.dumps({"city": "Paris", "unit": "celsius"})
    trace.response["choices"][0] = {
        "index": 0,
        "finish_reason": "tool_calls",
        "message": {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": arguments},
                }
            ],
        },
    }
    return trace


def error_trace() -> Trace:
    trace = make_trace(status="error", status_code=429)
    error = {"message": "Rate limit reached", "type": "rate_limit_error"}
    trace.response = {"error": error}
    trace.metadata.usage = None
    trace.metadata.error = TraceError(type="rate_limit_error", message="Rate limit reached")
    return trace


def test_answer_text_of_a_plain_trace() -> None:
    trace = make_trace(text="Quantum computing uses qubits.")
    assert resolve_field(trace, CONTENT) == "Quantum computing uses qubits."


def test_answer_text_of_a_streamed_trace_is_the_rebuilt_response() -> None:
    trace = make_trace(text="one two three", streaming=True)
    assert resolve_field(trace, CONTENT) == "one two three"
    assert resolve_field(trace, "chunks[1].data.choices[0].delta.content") == " two"
    assert resolve_field(trace, "chunks[-1].data.choices[0].delta.content") == " three"
    assert resolve_field(trace, "metadata.streaming") is True


def test_usage_and_request_fields() -> None:
    trace = make_trace(prompt_tokens=17, completion_tokens=42, latency_ms=250.5)
    assert resolve_field(trace, "metadata.usage.completion_tokens") == 42
    assert resolve_field(trace, "metadata.usage.total_tokens") == 59
    assert resolve_field(trace, "metadata.latency_ms") == 250.5
    assert resolve_field(trace, "request.messages[-1].content") == "Say hello"
    assert resolve_field(trace, "request.messages[0].role") == "user"


def test_whole_objects_come_back_as_plain_data() -> None:
    trace = make_trace(prompt_tokens=3, completion_tokens=4)
    usage = resolve_field(trace, "metadata.usage")
    assert usage == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "output_audio_tokens": 0,
        "image_tokens": 0,
        "estimated": False,
    }
    message = resolve_field(trace, "response.choices[0].message")
    assert message == {"role": "assistant", "content": "Hello there!"}


def test_tool_call_arguments() -> None:
    trace = tool_call_trace()
    path = "response.choices[0].message.tool_calls[0].function.arguments"
    assert json.loads(resolve_field(trace, path)) == {"city": "Paris", "unit": "celsius"}
    assert resolve_field(trace, "response.choices[0].message.tool_calls[0].function.name") == (
        "get_weather"
    )
    assert resolve_field(trace, CONTENT) is None


def test_quoted_keys_reach_keys_with_other_characters() -> None:
    trace = make_trace()
    trace.metadata.response_headers = {"x-request-id": "req_9", "a.b": "dotted", 'q"t': "quote"}
    assert resolve_field(trace, 'metadata.response_headers["x-request-id"]') == "req_9"
    assert resolve_field(trace, "metadata.response_headers.x-request-id") == "req_9"
    assert resolve_field(trace, "metadata.response_headers['a.b']") == "dotted"
    assert resolve_field(trace, r'metadata.response_headers["q\"t"]') == "quote"


def test_error_trace_names_the_missing_part() -> None:
    with pytest.raises(FieldNotFoundError) as caught:
        resolve_field(error_trace(), CONTENT)
    error = caught.value
    assert str(error) == (
        "response.choices[0].message.content: 'choices' not found in response (keys: error)"
    )
    assert error.path == CONTENT
    assert error.missing == "'choices'"
    assert isinstance(error, KeyError)


@pytest.mark.parametrize(
    ("response", "path", "message"),
    [
        (
            None,
            CONTENT,
            f"{CONTENT}: cannot read 'choices' from response: it is null",
        ),
        (
            "upstream said: Bad Gateway",
            CONTENT,
            f"{CONTENT}: cannot read 'choices' from response: it is a string",
        ),
        (
            {"choices": []},
            CONTENT,
            f"{CONTENT}: index 0 out of range in response.choices (length 0)",
        ),
        (
            {"choices": {"0": {}}},
            CONTENT,
            f"{CONTENT}: response.choices is an object, not an array",
        ),
        (
            {"choices": [{"message": {}}]},
            CONTENT,
            f"{CONTENT}: 'content' not found in response.choices[0].message (it has no keys)",
        ),
        (
            {"choices": [{"message": {"role": "assistant", "refusal": "no"}}]},
            "response.choices[-2].message",
            "response.choices[-2].message: index -2 out of range in response.choices (length 1)",
        ),
    ],
)
def test_missing_parts_of_odd_responses(response: Any, path: str, message: str) -> None:
    trace = make_trace()
    trace.response = response
    with pytest.raises(FieldNotFoundError) as caught:
        resolve_field(trace, path)
    assert str(caught.value) == message


def test_unknown_top_level_name_lists_the_trace_keys() -> None:
    with pytest.raises(FieldNotFoundError) as caught:
        resolve_field(make_trace(), "answer")
    message = str(caught.value)
    assert message.startswith("answer: 'answer' not found in the trace (keys: id, timestamp, ")
    assert "response" in message


def test_long_key_lists_are_cut() -> None:
    data = {"doc": {f"k{i}": i for i in range(30)}}
    with pytest.raises(FieldNotFoundError) as caught:
        resolve_data(data, "doc.missing")
    assert str(caught.value) == (
        "doc.missing: 'missing' not found in doc "
        "(keys: k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, ... (30 keys))"
    )


def test_parse_field_steps() -> None:
    assert parse_field("request.messages[-1].content") == ["request", "messages", -1, "content"]
    assert parse_field('a["b.c"][ 2 ].d') == ["a", "b.c", 2, "d"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "invalid field path: empty"),
        ("   ", "invalid field path: empty"),
        ("response..content", "expected a name after '.' at position 9, found '.'"),
        ("response.", "expected a name after '.' at position 9, found the end"),
        (
            "response.choices[0",
            "expected an integer index or a quoted key in '[...]' at position 16",
        ),
        (
            "response.choices[x]",
            "expected an integer index or a quoted key in '[...]' at position 16",
        ),
        ("response.choices[1.5]", "at position 16"),
        ("[0].message", "expected a name at position 0, found '['"),
        ("response choices", "expected '.' or '[' at position 8, found ' '"),
        ("$.response", "expected a name at position 0, found '$'"),
    ],
)
def test_invalid_syntax_is_a_value_error(path: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid field path") as caught:
        resolve_field(make_trace(), path)
    assert message in str(caught.value)
    assert not isinstance(caught.value, FieldNotFoundError)


def test_resolve_field_reads_the_trace_as_its_file_shape() -> None:
    trace = make_trace(model="gpt-4o")
    plain = msgspec.to_builtins(trace)
    assert resolve_field(trace, "model") == plain["model"] == "gpt-4o"
    assert resolve_field(trace, "metadata.status_code") == 200
    assert resolve_field(trace, "native") is None

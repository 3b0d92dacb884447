"""Tests of rebuilding a chat.completion from a recorded stream
(traceforge_proxy.accumulate.ChatCompletionAccumulator).

The accumulator is driven by the real transcripts; every expected value is read from the raw
transcript text with regular expressions or plain loops, never through the code under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_proxy.accumulate import ChatCompletionAccumulator
from traceforge_proxy.sse import SSEParser

#: Real provider wire transcripts (see data/provider-streams/README.md for sources).
PROVIDER_STREAMS = Path(__file__).parent / "data" / "provider-streams"
OPENAI = PROVIDER_STREAMS / "openai-chat"
XAI = PROVIDER_STREAMS / "xai"


TEXT_STREAMS = ["stream-text-usage.sse", "stream-text-usage-2026.sse"]


# -- helpers -------------------------------------------------------------------------------------


def payloads(path: Path) -> list[Any]:
    """The decoded ``data:`` payloads of a transcript, ``[DONE]`` left out."""
    parser = SSEParser()
    events = parser.feed(path.read_bytes()) + parser.close()
    return [
        msgspec.json.decode(e.data) for e in events if e.data is not None and e.data != b"[DONE]"
    ]


def accumulate(path: Path) -> tuple[dict[str, Any], ChatCompletionAccumulator]:
    acc = ChatCompletionAccumulator()
    for payload in payloads(path):
        acc.add(payload)
    result = acc.result()
    assert result is not None
    return result, acc


def json_strings(text: str, key: str) -> list[str]:
    """Every JSON string value of ``"key":"..."`` in ``text``, unescaped, in order."""
    return [json.loads(m) for m in re.findall(rf'"{key}":("(?:[^"\\]|\\.)*")', text)]


def data_lines(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of a data-only transcript, by reading it line by line."""
    return [
        json.loads(line[len("data: ") :])
        for line in text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


def last_usage(text: str) -> dict[str, Any]:
    usages: list[dict[str, Any]] = [
        p["usage"] for p in data_lines(text) if p.get("usage") is not None
    ]
    assert usages, "the transcript has a usage chunk"
    return usages[-1]


def only_choice(result: dict[str, Any]) -> dict[str, Any]:
    assert len(result["choices"]) == 1
    choice: dict[str, Any] = result["choices"][0]
    assert choice["index"] == 0
    return choice


# -- text streams --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEXT_STREAMS)
def test_text_stream(name: str) -> None:
    path = OPENAI / name
    text = path.read_text(encoding="utf-8")
    result, acc = accumulate(path)

    expected_content = "".join(json_strings(text, "content"))
    assert len(expected_content) > 50
    choice = only_choice(result)
    assert choice["message"]["content"] == expected_content
    assert choice["message"]["role"] == "assistant"
    assert "tool_calls" not in choice["message"]
    assert "reasoning_content" not in choice["message"]
    assert set(re.findall(r'"finish_reason":"(\w+)"', text)) == {"stop"}
    assert choice["finish_reason"] == "stop"

    usage_lines = [line for line in text.splitlines() if '"choices":[]' in line]
    assert len(usage_lines) == 1
    expected_usage = json.loads(usage_lines[0][len("data: ") :])["usage"]
    assert result["usage"] == expected_usage
    assert result["usage"]["total_tokens"] == (
        expected_usage["prompt_tokens"] + expected_usage["completion_tokens"]
    )

    first = data_lines(text)[0]
    assert result["object"] == "chat.completion"
    assert result["id"] == first["id"]
    assert result["model"] == first["model"]
    assert result["created"] == first["created"]
    assert result["system_fingerprint"] == first["system_fingerprint"]
    assert acc.chunks == text.count("\ndata: {") + text.startswith("data: {")


def test_text_stream_2024_exact_values() -> None:
    result, _ = accumulate(OPENAI / "stream-text-usage.sse")
    content = only_choice(result)["message"]["content"]
    assert content.startswith("I'm unable to provide real-time weather updates.")
    assert result["usage"]["prompt_tokens"] == 14
    assert result["id"] == "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL"
    assert result["model"] == "gpt-4o-2024-08-06"
    assert "service_tier" not in result


def test_2026_stream_keeps_the_final_usage_despite_null_usage_on_every_chunk() -> None:
    path = OPENAI / "stream-text-usage-2026.sse"
    text = path.read_text(encoding="utf-8")
    lines = data_lines(text)
    null_usage = sum(1 for p in lines if "usage" in p and p["usage"] is None)
    assert null_usage == len(lines) - 1 == 302  # every chunk but the usage chunk

    result, acc = accumulate(path)
    assert result["usage"] == last_usage(text)
    assert result["usage"]["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}
    assert result["usage"]["completion_tokens"] == 300
    assert acc.usage == result["usage"]
    assert result["service_tier"] == "default"
    assert "obfuscation" not in result
    assert only_choice(result)["message"]["content"] == "".join(json_strings(text, "content"))


def test_usage_is_none_until_the_usage_chunk() -> None:
    chunks = payloads(OPENAI / "stream-text-usage-2026.sse")
    acc = ChatCompletionAccumulator()
    for chunk in chunks[:-1]:
        acc.add(chunk)
    assert acc.usage is None
    partial = acc.result()
    assert partial is not None
    assert "usage" not in partial
    assert partial["choices"][0]["finish_reason"] == "stop"
    acc.add(chunks[-1])
    assert acc.usage == chunks[-1]["usage"]


def test_null_usage_after_the_usage_chunk_does_not_erase_it() -> None:
    # Usage is the last non-null one: a later "usage": null chunk (or one without the key)
    # must not wipe it.
    chunks = payloads(OPENAI / "stream-text-usage-2026.sse")
    usage_chunk = chunks[-1]
    acc = ChatCompletionAccumulator()
    for chunk in chunks[:-2]:
        acc.add(chunk)
    acc.add(usage_chunk)
    acc.add(chunks[-2])  # the finish chunk, with "usage": null, arrives last
    acc.add({"id": usage_chunk["id"], "choices": []})
    result = acc.result()
    assert result is not None
    assert result["usage"] == usage_chunk["usage"]
    assert result["choices"][0]["finish_reason"] == "stop"


# -- tool calls ----------------------------------------------------------------------------------


def test_tool_call_stream() -> None:
    path = OPENAI / "stream-tool-calls.sse"
    text = path.read_text(encoding="utf-8")
    result, _ = accumulate(path)

    [call_id] = re.findall(r'"id":"(call_[^"]+)"', text)
    [name] = json_strings(text, "name")
    arguments_text = "".join(json_strings(text, "arguments"))
    expected_arguments = json.loads(arguments_text)
    assert set(expected_arguments) == {"city", "state"}

    choice = only_choice(result)
    message = choice["message"]
    assert message["content"] is None
    assert choice["finish_reason"] == "tool_calls"
    assert len(message["tool_calls"]) == 1
    call = message["tool_calls"][0]
    assert call["id"] == call_id
    assert call["type"] == "function"
    assert call["function"]["name"] == name == "get_weather"
    assert call["function"]["arguments"] == arguments_text
    assert json.loads(call["function"]["arguments"]) == expected_arguments
    assert expected_arguments == {"city": "San Francisco", "state": "CA"}
    assert result["usage"] == last_usage(text)


def test_parallel_tool_calls() -> None:
    path = OPENAI / "stream-parallel-tool-calls.sse"
    text = path.read_text(encoding="utf-8")
    result, _ = accumulate(path)

    # A plain loop over the transcript: first delta of each index has id and name.
    ids: dict[int, str] = {}
    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    for payload in data_lines(text):
        for choice in payload["choices"]:
            for delta_call in choice["delta"].get("tool_calls") or []:
                index = delta_call["index"]
                if "id" in delta_call:
                    ids[index] = delta_call["id"]
                function = delta_call.get("function", {})
                if "name" in function:
                    names[index] = function["name"]
                arguments[index] = arguments.get(index, "") + function.get("arguments", "")
    assert sorted(ids) == [0, 1]

    choice = only_choice(result)
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert len(calls) == 2
    for index, call in enumerate(calls):
        assert call["id"] == ids[index]
        assert call["type"] == "function"
        assert call["function"]["name"] == names[index]
        assert call["function"]["arguments"] == arguments[index]
        assert json.loads(call["function"]["arguments"]) == json.loads(arguments[index])
    assert calls[0]["id"] != calls[1]["id"]
    assert [c["function"]["name"] for c in calls] == ["GetWeatherArgs", "get_stock_price"]
    assert json.loads(calls[0]["function"]["arguments"]) == {
        "city": "Edinburgh",
        "country": "GB",
        "units": "c",
    }
    assert json.loads(calls[1]["function"]["arguments"]) == {"ticker": "AAPL", "exchange": "NASDAQ"}


def test_parallel_tool_calls_in_index_order_even_if_interleaved() -> None:
    # Same chunks, but the two calls' deltas alternate (as some servers send them).
    chunks = payloads(OPENAI / "stream-parallel-tool-calls.sse")

    def call_index(chunk: dict[str, Any]) -> int | None:
        choices = chunk.get("choices") or []
        calls = choices[0]["delta"].get("tool_calls") if choices else None
        return calls[0]["index"] if calls else None

    first = [c for c in chunks if call_index(c) == 0]
    second = [c for c in chunks if call_index(c) == 1]
    rest = [c for c in chunks if call_index(c) is None]
    interleaved = [rest[0]]
    for i in range(max(len(first), len(second))):
        interleaved += second[i : i + 1] + first[i : i + 1]
    interleaved += rest[1:]
    acc = ChatCompletionAccumulator()
    for chunk in interleaved:
        acc.add(chunk)
    result = acc.result()
    assert result is not None
    calls = result["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["GetWeatherArgs", "get_stock_price"]
    assert json.loads(calls[0]["function"]["arguments"])["city"] == "Edinburgh"
    assert json.loads(calls[1]["function"]["arguments"])["ticker"] == "AAPL"


# -- xAI -----------------------------------------------------------------------------------------


def test_xai_reasoning_stream() -> None:
    path = XAI / "chat-stream-reasoning.sse"
    text = path.read_text(encoding="utf-8")
    result, _ = accumulate(path)

    expected_reasoning = "".join(json_strings(text, "reasoning_content"))
    assert expected_reasoning
    message = only_choice(result)["message"]
    assert message["reasoning_content"] == expected_reasoning
    assert message["reasoning_content"].startswith("First, the user said")
    assert message["content"] == "".join(json_strings(text, "content")) == "Hello"
    assert message["role"] == "assistant"
    assert only_choice(result)["finish_reason"] == "stop"
    assert result["usage"] == last_usage(text)
    assert result["usage"]["completion_tokens_details"]["reasoning_tokens"] == 290
    assert result["model"] == "grok-3-mini"


def test_xai_tool_call_in_one_delta() -> None:
    path = XAI / "chat-stream-tool-call.sse"
    text = path.read_text(encoding="utf-8")
    result, _ = accumulate(path)

    [call_id] = re.findall(r'"id":"(call_[^"]+)"', text)
    [arguments_text] = json_strings(text, "arguments")
    choice = only_choice(result)
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    assert message["reasoning_content"] == "".join(json_strings(text, "reasoning_content"))
    [call] = message["tool_calls"]
    assert call["id"] == call_id == "call_55117580"
    assert call["type"] == "function"
    assert call["function"]["name"] == "weather"
    assert (
        json.loads(call["function"]["arguments"])
        == json.loads(arguments_text)
        == {"location": "San Francisco"}
    )
    assert result["usage"] == last_usage(text)


# -- edge cases ----------------------------------------------------------------------------------


def test_no_chunks_gives_none() -> None:
    acc = ChatCompletionAccumulator()
    assert acc.result() is None
    for junk in (None, "[DONE]", 42, ["a"]):
        acc.add(junk)
    assert acc.result() is None
    assert acc.chunks == 0


def test_refusal_and_several_choices() -> None:
    acc = ChatCompletionAccumulator()
    acc.add(
        {
            "id": "c1",
            "model": "m",
            "choices": [
                {"index": 1, "delta": {"role": "assistant", "content": "B"}},
                {"index": 0, "delta": {"role": "assistant", "refusal": "I can"}},
            ],
        }
    )
    acc.add(
        {
            "id": "ignored",
            "choices": [
                {"index": 0, "delta": {"refusal": "not."}, "finish_reason": "stop"},
                {"index": 1, "delta": {"content": "b"}, "finish_reason": "length"},
            ],
        }
    )
    result = acc.result()
    assert result is not None
    assert result["id"] == "c1"
    assert [c["index"] for c in result["choices"]] == [0, 1]
    assert result["choices"][0]["message"]["refusal"] == "I cannot."
    assert result["choices"][0]["message"]["content"] == ""
    assert result["choices"][0]["finish_reason"] == "stop"
    assert result["choices"][1]["message"]["content"] == "Bb"
    assert result["choices"][1]["finish_reason"] == "length"
    assert "usage" not in result

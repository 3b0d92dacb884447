"""Tests made from traces: default assertions, the commented YAML, and its round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from ruamel.yaml import YAML

from traceforge_shared.evals.authoring import default_assertions, test_from_trace
from traceforge_shared.evals.loader import load_test_file
from traceforge_shared.evals.schema import test_file_schema
from traceforge_shared.evals.testcase import (
    Contains,
    FinishReason,
    Fuzzy,
    Latency,
    TestCase,
    TokenCount,
    ToolCall,
)
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

SKY = (
    "The sky looks blue because of Rayleigh scattering: sunlight hits the molecules of the "
    "atmosphere, and shorter wavelengths scatter more.\n\nAt sunset the light travels further."
)


def sky_trace(**kwargs: Any) -> Trace:
    options: dict[str, Any] = {"text": SKY, "latency_ms": 412.0, "completion_tokens": 120}
    trace = make_trace(**(options | kwargs))
    trace.request["messages"] = [
        {"role": "system", "content": "You are a physics teacher.\nAnswer briefly."},
        {"role": "user", "content": "Why is the sky blue?"},
    ]
    return trace


def tool_trace() -> Trace:
    trace = make_trace(latency_ms=900.0, completion_tokens=30)
    trace.request["tools"] = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    big = {f"key{i}": "x" * 30 for i in range(8)}
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
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"city": "Paris", "unit": "celsius"}',
                    },
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "bulk_update", "arguments": json.dumps(big)},
                },
                {
                    "id": "call_3",
                    "type": "function",
                    "function": {"name": "ping", "arguments": "not json"},
                },
                {
                    "id": "call_4",
                    "type": "function",
                    "function": {"name": "noop", "arguments": "{}"},
                },
            ],
        },
    }
    return trace


def round_trip(tmp_path: Path, text: str) -> TestCase:
    path = tmp_path / "made.yaml"
    path.write_text(text, encoding="utf-8")
    return load_test_file(path)


def expected_case(trace: Trace, name: str) -> TestCase:
    request = {k: v for k, v in trace.request.items() if k != "stream_options"}
    return TestCase(
        name=name,
        request=request,
        assertions=default_assertions(trace),
        description=(
            f"Made from trace {trace.id} ({trace.provider} {trace.model}, "
            f"recorded {trace.timestamp})."
        ),
        tags=[],
        source_trace=trace.id,
    )


# --- default assertions -------------------------------------------------------------------


def test_defaults_for_a_text_answer() -> None:
    assert default_assertions(sky_trace()) == [
        Contains(value="scattering"),
        Contains(value="atmosphere"),
        Contains(value="wavelengths"),
        Fuzzy(value=SKY, threshold=0.85),
        FinishReason(value="stop"),
        Latency(max_ms=1500.0),  # 3 x 412 = 1236 -> 1500
        TokenCount(max=240),  # 2 x 120
    ]


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        # longest first, earliest on ties, then in text order; case kept as first written
        ("Rayleigh explains it: rayleigh RAYLEIGH light", ["Rayleigh", "explains", "light"]),
        ("Because however therefore: Paris.", ["Paris"]),  # stop words are skipped
        ("a bb ccc dddd 12345 x_y_z", []),  # under five letters, digits
        ("Über straße Café naïve", ["straße", "naïve"]),  # letters of any script
        ("alpha bravo charlie delta echoes", ["alpha", "charlie", "echoes"]),
    ],
)
def test_key_terms(text: str, terms: list[str]) -> None:
    contains = [
        a.value for a in default_assertions(make_trace(text=text)) if isinstance(a, Contains)
    ]
    assert contains == terms


def test_key_terms_are_deterministic() -> None:
    text = "apple grape lemon mango peach berry melon"  # all five letters: the first three
    trace = make_trace(text=text)
    first = [a.value for a in default_assertions(trace) if isinstance(a, Contains)]
    assert first == ["apple", "grape", "lemon"]
    assert [a.value for a in default_assertions(trace) if isinstance(a, Contains)] == first


@pytest.mark.parametrize(
    ("latency_ms", "budget"),
    [
        (0.0, 1000.0),
        (100.0, 1000.0),
        (334.0, 1500.0),
        (500.0, 1500.0),
        (1000.0, 3000.0),
        (1001.0, 3500.0),
    ],
)
def test_latency_budget(latency_ms: float, budget: float) -> None:
    latencies = [
        a for a in default_assertions(make_trace(latency_ms=latency_ms)) if isinstance(a, Latency)
    ]
    assert latencies == [Latency(max_ms=budget)]


@pytest.mark.parametrize(
    ("completion", "limit"), [(0, 50), (5, 55), (50, 100), (51, 102), (120, 240)]
)
def test_token_budget(completion: int, limit: int) -> None:
    trace = make_trace(completion_tokens=completion)
    budgets = [a for a in default_assertions(trace) if isinstance(a, TokenCount)]
    assert budgets == [TokenCount(max=limit, count="completion")]


def test_defaults_for_tool_calls() -> None:
    assert default_assertions(tool_trace()) == [
        ToolCall(name="get_weather", arguments={"city": "Paris", "unit": "celsius"}),
        ToolCall(name="bulk_update"),  # arguments too big to assert
        ToolCall(name="ping"),  # arguments not JSON
        ToolCall(name="noop"),  # no arguments
        FinishReason(value="tool_calls"),
        Latency(max_ms=3000.0),  # 3 x 900 = 2700 -> 3000
        TokenCount(max=80),  # 30 + 50
    ]


def test_defaults_without_usage() -> None:
    trace = sky_trace()
    trace.metadata.usage = None
    assertions = default_assertions(trace)
    assert not any(isinstance(a, TokenCount) for a in assertions)
    assert isinstance(assertions[-1], Latency)


def test_defaults_for_a_failed_call() -> None:
    trace = make_trace(status="error", status_code=500, latency_ms=50.0)
    trace.response = {"error": {"message": "boom"}}
    trace.metadata.usage = None
    assert default_assertions(trace) == [Latency(max_ms=1000.0)]


# --- the YAML -----------------------------------------------------------------------------


def test_yaml_of_a_text_trace(tmp_path: Path) -> None:
    trace = sky_trace(streaming=True)
    trace.request["stream_options"] = {"include_usage": True}
    trace.request["temperature"] = 0.7
    text = test_from_trace(trace)

    # tidy: name, description, tags, request, assertions, then the source trace
    doc = YAML(typ="safe").load(text)
    assert list(doc) == ["name", "description", "tags", "request", "assertions", "source_trace"]
    assert text.startswith("name: Why is the sky blue?\n")
    assert "\ntags: []\n" in text
    assert doc["description"] == (
        f"Made from trace {trace.id} (openai gpt-4o-mini, recorded {trace.timestamp})."
    )
    assert doc["request"]["stream"] is True  # as recorded
    assert "stream_options" not in doc["request"]
    assert doc["source_trace"] == trace.id

    # a comment above each assertion
    for comment in (
        "  # the answer mentioned 'scattering' when recorded\n  - type: contains\n",
        "  # the answer mentioned 'atmosphere' when recorded\n",
        "  # similarity to the recorded answer, 0-1 (rapidfuzz ratio); lower it if the wording "
        "may vary\n  - type: fuzzy\n",
        "  # the recorded answer ended with 'stop'\n  - type: finish_reason\n",
        "  # 3x the recorded 412 ms, rounded up to a multiple of 500 ms\n  - type: latency\n"
        "    max_ms: 1500\n",
        "  # 2x the recorded 120 completion tokens\n  - type: token_count\n    max: 240\n",
    ):
        assert comment in text
    assert text.count("  # ") == len(default_assertions(trace))

    # multi-line strings as literal blocks, defaults left out
    assert "content: |-\n        You are a physics teacher.\n        Answer briefly.\n" in text
    assert "    value: |-\n      The sky looks blue" in text
    assert "field:" not in text
    assert "description: null" not in text

    assert round_trip(tmp_path, text) == expected_case(trace, "Why is the sky blue?")


def test_yaml_of_a_tool_call_trace(tmp_path: Path) -> None:
    trace = tool_trace()
    text = test_from_trace(trace, name="Weather tool")
    assert text.startswith("name: Weather tool\n")
    assert (
        "  # the model called get_weather when recorded, with these arguments\n"
        "  - type: tool_call\n    name: get_weather\n    arguments: {city: Paris, unit: celsius}\n"
    ) in text
    assert "  # the model called ping when recorded\n  - type: tool_call\n    name: ping\n" in text
    assert "  # the recorded answer ended with 'tool_calls'\n" in text
    assert "  # the recorded 30 completion tokens + 50\n" in text
    assert "required: [city]" in text  # short scalar lists in flow style
    assert round_trip(tmp_path, text) == expected_case(trace, "Weather tool")


def test_yaml_without_usage_round_trips(tmp_path: Path) -> None:
    trace = sky_trace()
    trace.metadata.usage = None
    text = test_from_trace(trace)
    assert "token_count" not in text
    assert round_trip(tmp_path, text) == expected_case(trace, "Why is the sky blue?")


def test_generated_yaml_is_valid_against_the_schema() -> None:
    schema = test_file_schema()
    for trace in (sky_trace(), tool_trace()):
        doc = YAML(typ="safe").load(test_from_trace(trace))
        jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    "value",
    [
        "a\r\nb",  # CR LF: a block would read it back as LF
        "  indented first line\nnext",
        "\ttab\nx",
        "ends with a newline\n",
        "two\n\n",
        "\n",
        "\n\nleading breaks",
        "- looks\n- like a list",
        "# not a comment\nx",
        "key: value\nz",
        "é🎉\nü",
        "nul \x00\nbyte",
        "nel \x85 line\nbreak",
        "ls \u2028 ps \u2029\nx",
        "trailing blank \nline",
        "x\n ",
        "bom \ufeff\nx",
        "quotes ' \" \\ \nx",
        "...\n---\nx",
        "null",
        "yes",
        "1.0",
        "",
        " ",
        "~",
        "a: b",
        "@x",
        "!tag",
        "%x",
    ],
)
def test_awkward_strings_round_trip(tmp_path: Path, value: str) -> None:
    trace = make_trace(text=value or "ok")
    trace.request["messages"][0]["content"] = value
    trace.request["metadata"] = {"note": value, "list": [value, value], value: 1}
    text = test_from_trace(trace, name="awkward")
    assert round_trip(tmp_path, text) == expected_case(trace, "awkward")


def test_awkward_request_values_round_trip(tmp_path: Path) -> None:
    trace = make_trace()
    trace.request.update(
        temperature=1e-05,
        big=10**30,
        huge=1e300,
        negative_zero=-0.0,
        nothing=None,
        flag=False,
        empty={},
        empty_list=[],
        nested=[[], {"a b": {"c:": [1, None, True, 2.5]}}],
        long_line="word " * 99 + "end",
    )
    text = test_from_trace(trace, name="values")
    assert "  long_line: " + "word " * 99 + "end\n" in text  # not folded over lines
    assert round_trip(tmp_path, text) == expected_case(trace, "values")


# --- names --------------------------------------------------------------------------------


def name_of(trace: Trace) -> str:
    doc = YAML(typ="safe").load(test_from_trace(trace))
    return str(doc["name"])


def test_name_from_the_first_user_message() -> None:
    assert name_of(sky_trace()) == "Why is the sky blue?"


def test_name_collapses_whitespace_and_is_cut_at_a_word() -> None:
    trace = make_trace()
    trace.request["messages"] = [
        {
            "role": "user",
            "content": "  Explain\n\nquantum   computing to a ten year old child, "
            "with examples from everyday life and no jargon at all",
        },
        {"role": "user", "content": "second"},
    ]
    name = name_of(trace)
    assert name == "Explain quantum computing to a ten year old child, with..."
    assert len(name) <= 60


def test_name_cut_inside_a_long_word() -> None:
    trace = make_trace()
    trace.request["messages"] = [{"role": "user", "content": "x" * 100}]
    assert name_of(trace) == "x" * 57 + "..."


def test_name_from_content_parts() -> None:
    trace = make_trace()
    trace.request["messages"] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image_url", "image_url": {"url": "data:..."}},
                {"type": "text", "text": "this image"},
            ],
        }
    ]
    assert name_of(trace) == "Describe this image"


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "system", "content": "Be brief."}],
        [{"role": "user", "content": "   "}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
        [],
    ],
)
def test_name_falls_back_to_the_trace_id(messages: list[Any]) -> None:
    trace = make_trace()
    trace.request["messages"] = messages
    assert name_of(trace) == f"Trace {trace.id[:8]}"


def test_explicit_name_wins() -> None:
    text = test_from_trace(sky_trace(), name="Sky: colour?")
    assert YAML(typ="safe").load(text)["name"] == "Sky: colour?"


@pytest.mark.parametrize("request_body", [None, "raw text", {"model": "m"}, {"messages": []}])
def test_not_a_chat_request(request_body: Any) -> None:
    trace = make_trace()
    trace.request = request_body
    with pytest.raises(ValueError, match=f"trace {trace.id} has no chat completion request"):
        test_from_trace(trace)

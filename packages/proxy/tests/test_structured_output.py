"""``response_format`` on the converted route: the ``openai`` SDK's ``parse()`` / ``stream()``
with a Pydantic model against Claude and Gemini through the proxy and the mock upstream, whose
structured answers are real recorded answers carrying JSON constructed from the schema."""

from __future__ import annotations

import json
from typing import Any, Literal

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the env
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from pydantic import BaseModel

from traceforge_proxy.mock_upstream.schema_instance import schema_instance
from traceforge_proxy.providers.anthropic import AnthropicAdapter
from traceforge_proxy.providers.anthropic_request import RESPONSE_TOOL
from traceforge_proxy.testing import saved_traces

from .conftest import MakeProxy, Sdk

ASK: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Solve 8x + 7 = -23 step by step."}
]


class Step(BaseModel):
    explanation: str
    output: str


class MathAnswer(BaseModel):
    steps: list[Step]
    final_answer: str
    confidence: float
    kind: Literal["exact", "approximate"]
    note: str | None


async def _parse(client: Any, model: str, stream: bool, **extra: Any) -> Any:
    if not stream:
        completion = await client.chat.completions.parse(
            model=model, messages=ASK, response_format=MathAnswer, **extra
        )
        return completion
    async with client.chat.completions.stream(
        model=model, messages=ASK, response_format=MathAnswer, **extra
    ) as events:
        return await events.get_final_completion()


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "gemini-2.5-flash"])
async def test_parse_returns_json_of_the_schema(make_proxy, sdk, model: str, stream: bool) -> None:  # type: ignore[no-untyped-def]
    service = await make_proxy(default_provider=None)
    completion = await _parse(sdk(service), model, stream)
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls in (None, [])
    assert isinstance(choice.message.parsed, MathAnswer)
    assert MathAnswer.model_validate_json(choice.message.content) == choice.message.parsed
    (trace,) = await saved_traces(service)
    assert trace.native is not None
    native = trace.native.request
    if model.startswith("claude"):
        assert native["tool_choice"] == {"type": "tool", "name": RESPONSE_TOOL}
        (tool,) = native["tools"]
        assert tool["input_schema"]["properties"]["steps"]["type"] == "array"
    else:
        config = native["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseJsonSchema"]["required"] == list(MathAnswer.model_fields)
    assert trace.response["choices"][0]["message"]["content"] == choice.message.content


@pytest.mark.parametrize("stream", [False, True])
async def test_claude_with_thinking_uses_output_config(make_proxy, sdk, stream: bool) -> None:  # type: ignore[no-untyped-def]
    service = await make_proxy(default_provider=None)
    completion = await _parse(sdk(service), "claude-sonnet-4-5", stream, reasoning_effort="low")
    assert isinstance(completion.choices[0].message.parsed, MathAnswer)
    (trace,) = await saved_traces(service)
    assert trace.native is not None
    native = trace.native.request
    assert "tools" not in native and "tool_choice" not in native
    assert native["output_config"]["format"]["type"] == "json_schema"
    assert native["thinking"] == {"type": "enabled", "budget_tokens": 2048}


async def test_claude_json_object_and_app_tools(make_proxy: MakeProxy, sdk: Sdk) -> None:
    tool: ChatCompletionToolParam = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    service = await make_proxy(default_provider=None)
    client = sdk(service)
    completion = await client.chat.completions.create(
        model="claude-sonnet-4-5", messages=ASK, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)
    await client.chat.completions.create(
        model="claude-sonnet-4-5",
        messages=ASK,
        tools=[tool],
        response_format={"type": "json_object"},
    )
    first, second = await saved_traces(service, expected=2)
    assert first.native is not None and second.native is not None
    assert first.native.request["tools"][0]["input_schema"] == {"type": "object"}
    assert second.native.request["tool_choice"] == {"type": "any"}
    assert [t["name"] for t in second.native.request["tools"]] == ["lookup", RESPONSE_TOOL]


def test_answer_mixing_an_app_tool_and_the_response_tool_keeps_the_tool_call() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
            {"type": "tool_use", "id": "toolu_2", "name": RESPONSE_TOOL, "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
    }
    message = AnthropicAdapter().convert_response(body, model="m", created=0)["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    assert message["message"]["content"] == '{"a":1}'
    assert [c["function"]["name"] for c in message["message"]["tool_calls"]] == ["lookup"]


@pytest.mark.parametrize(
    "schema",
    [
        MathAnswer.model_json_schema(),
        {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "count": {"type": "integer", "minimum": 3, "maximum": 9},
                "ratio": {"type": "number", "exclusiveMinimum": 0},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "code": {"const": "A1"},
                "flag": {"type": ["boolean", "null"]},
                "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
                "id": {"type": "string", "minLength": 12},
                "both": {
                    "allOf": [{"$ref": "#/$defs/A"}, {"properties": {"b": {"type": "integer"}}}]
                },
            },
            "required": ["when", "count"],
            "$defs": {"A": {"type": "object", "properties": {"a": {"type": "string"}}}},
        },
        {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}, "s": {"type": "STRING"}}},
    ],
)
def test_schema_instance_conforms(schema: dict[str, Any]) -> None:
    value = schema_instance(schema)
    lowered = json.loads(json.dumps(schema).replace('"OBJECT"', '"object"'))
    lowered = json.loads(json.dumps(lowered).replace('"INTEGER"', '"integer"'))
    lowered = json.loads(json.dumps(lowered).replace('"STRING"', '"string"'))
    jsonschema.validate(value, lowered, format_checker=jsonschema.FormatChecker())
    assert set(value) == set(schema["properties"])  # every property, not only the required

"""The chat completion view of recorded Responses API answers
(:mod:`traceforge_shared.responses_view`), checked against the openai SDK's own types and
its ``Response.output_text``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openai._models import construct_type_unchecked
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from traceforge_shared.responses_view import chat_completion_view, output_text
from traceforge_shared.trace import Trace, response_text

RESPONSES = Path(__file__).parent / "data" / "provider-streams" / "openai-responses"


def _final(name: str) -> dict[str, Any]:
    """The ``response`` of a recorded stream's terminal event."""
    last = (RESPONSES / name).read_text().rstrip().rsplit("data: ", 1)[1]
    response: dict[str, Any] = json.loads(last)["response"]
    return response


@pytest.mark.parametrize(
    "name",
    [
        "stream-text.sse",
        "stream-function-call.sse",
        "stream-reasoning-function-calls.sse",
        "stream-web-search.sse",
        "stream-incomplete.sse",
    ],
)
def test_view_of_recorded_responses(name: str) -> None:
    response = _final(name)
    sdk = construct_type_unchecked(type_=Response, value=response)
    view = chat_completion_view(response)
    assert view is not None
    completion = ChatCompletion.model_validate(view)  # a valid chat.completion
    message = completion.choices[0].message
    calls = [item for item in sdk.output if item.type == "function_call"]
    assert (message.content or "") == sdk.output_text == output_text(response)
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [  # type: ignore[union-attr]
        (c.call_id, c.name, c.arguments) for c in calls
    ]
    expected_finish = "tool_calls" if calls else "length" if sdk.status == "incomplete" else "stop"
    assert completion.choices[0].finish_reason == expected_finish
    assert completion.usage is not None and sdk.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        sdk.usage.input_tokens,
        sdk.usage.output_tokens,
    )
    trace = Trace(id="t", timestamp="", provider="openai", model="m", endpoint="/v1/responses")
    trace.response = response
    assert response_text(trace) == sdk.output_text


def test_reasoning_summary_in_the_view() -> None:
    view = chat_completion_view(_final("stream-reasoning-function-calls.sse"))
    assert view is not None
    assert "Calculating" in view["choices"][0]["message"]["reasoning_content"]


def test_not_a_response_object() -> None:
    assert chat_completion_view({"object": "chat.completion"}) is None
    assert output_text(None) == ""

"""Responses API traces read as chat completions by every reader: test assertions (the
default field and the ``response.*`` shortcuts), field paths, trace diff against a chat trace,
and create-from-trace.

The traces are made as an app makes them: the openai SDK's ``responses.create`` through the
proxy, against the mock upstream replaying real recorded Responses transcripts
(``mock_upstream/data/openai-responses``: ``response.json`` answers "Dummy PDF file",
``stream-function-call.sse`` calls ``weather`` with ``{"location": "San Francisco"}``).
"""

from __future__ import annotations

from typing import Any

import pytest

from traceforge_proxy.testing import saved_traces
from traceforge_shared.chat_view import chat_request, chat_response, is_responses_trace
from traceforge_shared.diff import diff_traces
from traceforge_shared.evals import resolve_field
from traceforge_shared.evals.aliases import canonical_field
from traceforge_shared.evals.assertions import evaluate, evaluate_all
from traceforge_shared.evals.authoring import default_assertions, test_from_trace
from traceforge_shared.evals.loader import load_test_file
from traceforge_shared.evals.testcase import Contains, Exact, FinishReason, ToolCall
from traceforge_shared.trace import Trace

from .conftest import MakeProxy, Sdk

WEATHER = {
    "type": "function",
    "name": "weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
}


async def _responses_trace(make_proxy: Any, sdk: Any, **options: Any) -> Trace:
    service = await make_proxy()
    client = sdk(service)
    await client.responses.create(model="gpt-4.1-nano", **options)
    (trace,) = await saved_traces(service)
    assert trace.endpoint == "/v1/responses"
    assert trace.response["object"] == "response"  # stored as the wire had it
    return trace


async def test_default_field_assertions_read_the_answer(make_proxy: MakeProxy, sdk: Sdk) -> None:
    trace = await _responses_trace(
        make_proxy, sdk, input="What is in the file?", instructions="Answer briefly."
    )
    assert is_responses_trace(trace)
    results = evaluate_all(
        [Exact(value="Dummy PDF file"), Contains(value="PDF"), FinishReason(value="stop")],
        trace,
    )
    assert [(r.passed, r.message) for r in results] == [(True, r.message) for r in results]
    failing = evaluate(Contains(value="spreadsheet"), trace)
    assert not failing.passed and "Dummy PDF file" in failing.message
    # the shortcuts and chat paths, and the stored Responses paths, all resolve
    assert resolve_field(trace, canonical_field("response.content")) == "Dummy PDF file"
    assert resolve_field(trace, "request.messages[0]") == {
        "role": "system",
        "content": "Answer briefly.",
    }
    assert resolve_field(trace, "request.messages[1].content") == "What is in the file?"
    assert resolve_field(trace, "response.usage.prompt_tokens") == 44  # response.json's
    assert resolve_field(trace, "response.usage.input_tokens") == 44
    assert resolve_field(trace, "response.output[0].content[0].text") == "Dummy PDF file"


async def test_tool_call_assertions_on_a_streamed_responses_call(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    service = await make_proxy()
    async with sdk(service).responses.stream(
        model="gpt-4.1-nano",
        input="Weather in SF?",
        tools=[WEATHER],  # type: ignore[list-item]  # no "strict": FunctionToolParam requires it, the API does not
    ) as stream:
        final = await stream.get_final_response()
    assert final.output[0].type == "function_call"
    (trace,) = await saved_traces(service)
    results = evaluate_all(
        [
            ToolCall(name="weather", arguments={"location": "San Francisco"}),
            FinishReason(value="tool_calls"),
        ],
        trace,
    )
    assert all(r.passed for r in results), [r.message for r in results]
    assert resolve_field(trace, canonical_field("response.tool_calls[0].function.name")) == (
        "weather"
    )
    # the request's tools in chat's nested shape
    assert chat_request(trace)["tools"][0]["function"]["name"] == "weather"


async def test_a_responses_trace_diffs_against_a_chat_trace(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    service = await make_proxy()
    client = sdk(service)
    await client.chat.completions.create(
        model="gpt-4.1-nano", messages=[{"role": "user", "content": "hi"}]
    )
    await client.responses.create(model="gpt-4.1-nano", input="hi")
    chat, responses = await saved_traces(service, expected=2)
    diff = diff_traces(chat, responses)
    paths = (
        {entry.path for entry in diff.added}
        | {entry.path for entry in diff.removed}
        | {entry.path for entry in diff.changed}
    )
    # compared in the chat view: same messages, the answers' text differs
    assert "response.choices[0].message.content" in paths
    assert not any(p.startswith(("request.messages", "request.input")) for p in paths), paths
    assert not any(p.startswith("response.output") for p in paths), paths
    assert diff.answer_b == "Dummy PDF file"
    assert {"endpoint"} <= {p for p in paths if "." not in p}


async def test_create_from_trace_makes_a_chat_test_that_passes(make_proxy, sdk, tmp_path) -> None:  # type: ignore[no-untyped-def]
    trace = await _responses_trace(
        make_proxy, sdk, input="Summarise the attached file", max_output_tokens=64
    )
    path = tmp_path / "from-responses.test.yaml"
    path.write_text(test_from_trace(trace), encoding="utf-8")
    case = load_test_file(path)
    assert case.name == "Summarise the attached file"
    assert case.request["messages"] == [{"role": "user", "content": "Summarise the attached file"}]
    assert case.request["max_tokens"] == 64 and "input" not in case.request
    kinds = {type(a).__name__ for a in default_assertions(trace)}
    assert {"Contains", "Fuzzy", "FinishReason"} <= kinds
    results = evaluate_all(case.assertions, trace)
    assert all(r.passed for r in results), [r.message for r in results]


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_view_of_the_recorded_answer(make_proxy, sdk, stream: bool) -> None:  # type: ignore[no-untyped-def]
    service = await make_proxy()
    client = sdk(service)
    if stream:
        async with client.responses.stream(model="gpt-4.1-nano", input="hi") as events:
            final = await events.get_final_response()
    else:
        final = await client.responses.create(model="gpt-4.1-nano", input="hi")
    (trace,) = await saved_traces(service)
    view = chat_response(trace)
    assert view["choices"][0]["message"]["content"] == final.output_text
    assert view["usage"]["prompt_tokens"] == final.usage.input_tokens
    assert view["usage"]["completion_tokens"] == final.usage.output_tokens

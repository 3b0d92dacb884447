"""The Responses API through the proxy, driven by the openai SDK as an app would.

``gpt-*`` goes to OpenAI (here the mock upstream replaying real recorded Responses streams)
and comes back byte for byte; ``claude-*``, ``gemini-*``, Ollama models and ``command-*`` are
converted (Responses -> chat -> the provider's API, and back) against the mock upstream's
real native transcripts. Every event the SDK receives is validated against
``openai.types.responses`` (the SDK's own types); expected texts and counts are read off
the transcripts (packages/proxy/tests/data/provider-streams).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from traceforge_proxy.mock_upstream.openai_responses import FUNCTION_CALL_STREAM, TEXT_STREAM
from traceforge_proxy.mock_upstream.replay import transcript_bytes
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import saved_traces

from .conftest import MakeProxy, Sdk

EVENT = TypeAdapter(ResponseStreamEvent)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
}
# From anthropic-messages/stream-text.sse, gemini/stream-text.sse, ollama/chat-stream.ndjson,
# cohere/chat-stream.sse (the same texts the chat tests read).
CLAUDE_STREAM_TEXT = (
    "Hello! I'm doing well, thank you for asking. How are you doing today? "
    "Is there anything I can help you with?"
)
GEMINI_STREAM_TEXT = 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y'
LLAMA_TEXT = (
    "The sky appears blue because of a phenomenon called Rayleigh scattering: shorter blue "
    "wavelengths of sunlight are scattered by the gases in the atmosphere much more than "
    "longer red wavelengths."
)
COMMAND_TEXT = "The capital of France is Paris."
CLAUDE_TEXT = (
    "Hello! I'm doing well, thanks for asking. How are you doing today? "
    "Is there anything I can help you with?"
)
CLAUDE_TOOL_ID = "toolu_01NRLabsLyVHZPKxbKvkfSMn"

CONVERTED = [
    ("claude-opus-4-6", "anthropic", CLAUDE_STREAM_TEXT, 12, 30),
    ("gemini-2.5-flash", "gemini", GEMINI_STREAM_TEXT, 9, 23 + 185),
    ("llama3.2", "ollama", LLAMA_TEXT, 31, 33),
    ("command-a-03-2025", "cohere", COMMAND_TEXT, 507, 10),
]


async def _raw(service: ProxyService, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            service.url.removesuffix("/v1") + path,
            json=body,
            headers={"Authorization": "Bearer sk-x"},
        ) as resp,
    ):
        return resp.status, await resp.read()


# -- OpenAI: relayed byte for byte --------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "provider", "options", "transcript"),
    [
        ("gpt-4.1-nano", "openai", {}, TEXT_STREAM),
        ("gpt-4.1-nano", "openai", {"tools": [WEATHER]}, FUNCTION_CALL_STREAM),
        ("grok-4", "xai", {}, TEXT_STREAM),  # xAI's Responses API: the same wire format
    ],
)
async def test_openai_stream_is_relayed_byte_for_byte(  # type: ignore[no-untyped-def]
    make_proxy, sdk, model, provider, options, transcript
) -> None:
    service = await make_proxy(default_provider=None)
    body = {"model": model, "input": "hi", "stream": True, **options}
    status, got = await _raw(service, "/v1/responses", body)
    assert status == 200
    assert got == transcript_bytes(transcript)  # what the mock sends, unchanged
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.endpoint) == (provider, "openai", "/v1/responses")
    assert trace.metadata.upstream_url is not None
    assert trace.metadata.upstream_url.endswith(
        f"{'/xai' if provider == 'xai' else ''}/v1/responses"
    )
    assert trace.metadata.status == "success"
    final = json.loads(transcript_bytes(transcript).rsplit(b"data: ", 1)[1])["response"]
    assert trace.response == final  # the recorded response.completed's response
    assert trace.metadata.usage is not None and trace.metadata.usage.total_tokens > 0


async def test_openai_sdk_stream_and_retrieve(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy()
    client = sdk(service)
    async with client.responses.stream(model="gpt-4.1-nano", input="hi") as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    assert final.output_text == "Dummy PDF file"
    again = await client.responses.retrieve(final.id)
    assert again.id == final.id
    first, second = await saved_traces(service, expected=2)
    assert first.response["id"] == final.id
    assert second.endpoint == f"/v1/responses/{final.id}"
    assert second.metadata.status == "success"


async def test_openai_sdk_non_streaming(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy()
    response = await sdk(service).responses.create(model="gpt-4.1-nano", input="hi")
    assert response.output_text
    (trace,) = await saved_traces(service)
    assert trace.response["id"] == response.id
    assert trace.metadata.usage is not None
    assert response.usage is not None
    assert trace.metadata.usage.prompt_tokens == response.usage.input_tokens


# -- converted providers ------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "provider", "text", "prompt", "completion"), CONVERTED)
async def test_converted_stream(  # type: ignore[no-untyped-def]
    make_proxy, sdk, model, provider, text, prompt, completion
) -> None:
    service = await make_proxy(default_provider=None)
    client = sdk(service)
    received: list[Any] = []
    stream = await client.responses.create(model=model, input="Hello", stream=True)
    async for event in stream:
        received.append(event)
    # Every event is one the SDK's types accept, strictly, with running sequence numbers.
    for event in received:
        EVENT.validate_python(event.model_dump(mode="json"))
    assert [e.sequence_number for e in received] == list(range(len(received)))
    kinds = [e.type for e in received]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    final = received[-1].response
    assert final.output_text == text
    assert "".join(e.delta for e in received if e.type == "response.output_text.delta") == text
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (prompt, completion)

    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == (provider, "converted", model)
    assert trace.endpoint == "/v1/responses"
    assert trace.metadata.status == "success"
    assert trace.request["input"] == "Hello"  # the Responses request the app sent
    assert trace.native is not None and trace.native.request is not None
    Response.model_validate(trace.response)
    assert trace.response == final.model_dump(mode="json", exclude_unset=True)
    usage = trace.metadata.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (
        prompt,
        completion,
    )
    assert trace.metadata.total_chunks == len(received)


async def test_converted_sdk_stream_helper_and_retrieve_404(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    service = await make_proxy(default_provider=None)
    client = sdk(service)
    async with client.responses.stream(model="claude-opus-4-6", input="Hello") as stream:
        final = await stream.get_final_response()
    assert final.output_text == CLAUDE_STREAM_TEXT
    assert final.id.startswith("resp_tf_anthropic_")
    with pytest.raises(openai.NotFoundError, match="converted from anthropic"):
        await client.responses.retrieve(final.id)
    with pytest.raises(openai.BadRequestError, match="background"):
        await client.responses.cancel(final.id)


@pytest.mark.parametrize(
    ("model", "provider"),
    [("claude-opus-4-6", "anthropic"), ("gemini-2.5-flash", "gemini")],
)
async def test_converted_non_streaming(make_proxy, sdk, model, provider) -> None:  # type: ignore[no-untyped-def]
    service = await make_proxy(default_provider=None)
    response = await sdk(service).responses.create(model=model, input="Hello")
    Response.model_validate(response.model_dump(mode="json"))
    assert response.status == "completed"
    assert response.output_text
    assert response.usage is not None and response.usage.total_tokens > 0
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.metadata.status) == (
        provider,
        "converted",
        "success",
    )
    assert trace.response == response.model_dump(mode="json", exclude_unset=True)
    assert trace.native is not None and trace.native.response is not None


@pytest.mark.parametrize(
    ("model", "name", "arguments", "call_id"),
    [
        ("claude-opus-4-6", "get_weather", {"location": "Paris"}, CLAUDE_TOOL_ID),
        ("gemini-2.5-flash", "weather", {"location": "San Francisco"}, None),
        ("llama3.2", "get_weather", {"city": "Tokyo"}, None),
    ],
)
async def test_converted_function_call_stream(  # type: ignore[no-untyped-def]
    make_proxy, sdk, model, name, arguments, call_id
) -> None:
    service = await make_proxy(default_provider=None)
    client = sdk(service)
    async with client.responses.stream(model=model, input="Weather?", tools=[WEATHER]) as stream:
        final = await stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert [c.name for c in calls] == [name]
    assert json.loads(calls[0].arguments) == arguments
    assert calls[0].call_id
    if call_id is not None:
        assert calls[0].call_id == call_id
    (trace,) = await saved_traces(service)
    assert trace.native is not None
    rebuilt = [i for i in trace.response["output"] if i["type"] == "function_call"]
    assert rebuilt[0]["call_id"] == calls[0].call_id
    assert json.loads(rebuilt[0]["arguments"]) == arguments


async def test_function_call_round_trip_to_anthropic(make_proxy: MakeProxy, sdk: Sdk) -> None:
    """The app sends the call and its ``function_call_output`` back, as the Agents SDK
    does: Anthropic gets the ``tool_use`` and its ``tool_result``."""
    service = await make_proxy(default_provider=None)
    client = sdk(service)
    async with client.responses.stream(
        model="claude-opus-4-6",
        input="Weather in Paris?",
        tools=[WEATHER],  # type: ignore[list-item]  # no "strict": FunctionToolParam requires it, the API does not
    ) as stream:
        first = await stream.get_final_response()
    call = next(item for item in first.output if item.type == "function_call")
    history: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    history += [item.model_dump(exclude_none=True) for item in first.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "18C"})
    second = await client.responses.create(
        model="claude-opus-4-6",
        input=history,
        tools=[WEATHER],  # type: ignore[list-item]  # no "strict": FunctionToolParam requires it, the API does not
    )
    assert second.output_text
    _, trace = await saved_traces(service, expected=2)
    messages = trace.native.request["messages"]  # type: ignore[union-attr]
    tool_use = next(
        block
        for message in messages
        if message["role"] == "assistant" and isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "tool_use"
    )
    assert tool_use["id"] == call.call_id and tool_use["name"] == "get_weather"
    result = messages[-1]["content"][-1]
    assert messages[-1]["role"] == "user"
    assert result["type"] == "tool_result" and result["tool_use_id"] == call.call_id
    assert "18C" in json.dumps(result["content"])


async def test_text_format_json_schema_becomes_response_format(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    service = await make_proxy(default_provider=None)
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    await sdk(service).responses.create(
        model="gemini-2.5-flash",
        input="Where?",
        text={"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}},
    )
    (trace,) = await saved_traces(service)
    native = trace.native.request  # type: ignore[union-attr]
    config = native["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "city" in json.dumps(config.get("responseJsonSchema") or config.get("responseSchema"))


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"previous_response_id": "resp_123"}, "previous_response_id"),
        ({"store": True}, "store"),
        ({"background": True}, "background"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
    ],
)
async def test_stateful_and_hosted_features_on_a_converted_provider_are_400(  # type: ignore[no-untyped-def]
    make_proxy, sdk, options, param
) -> None:
    service = await make_proxy(default_provider=None)
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk(service).responses.create(model="claude-opus-4-6", input="hi", **options)
    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert "anthropic" in caught.value.message
    (trace,) = await saved_traces(service)
    assert trace.metadata.status == "error" and trace.metadata.status_code == 400


async def test_routing_prefix_and_header_route_responses(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(default_provider=None)
    client = sdk(service)
    await client.responses.create(model="anthropic/claude-opus-4-6", input="Hello")
    await client.responses.create(
        model="my-model", input="Hello", extra_headers={"X-TraceForge-Provider": "cohere"}
    )
    first, second = await saved_traces(service, expected=2)
    assert (first.provider, first.model, first.route) == (
        "anthropic",
        "claude-opus-4-6",
        "converted",
    )
    assert (second.provider, second.route) == ("cohere", "converted")


async def test_secrets_in_a_converted_responses_call_never_reach_disk(  # type: ignore[no-untyped-def]
    make_proxy, sdk, store
) -> None:
    """Redaction covers the Responses request, the rebuilt ``response``, the native call and
    the provider's chunks (the ``before_save`` hook runs on every trace shape)."""
    secret = "sk-proj-Tf4kePlAnted0123456789abcdefGHIJ"
    service = await make_proxy(default_provider=None)
    async with sdk(service).responses.stream(
        model="claude-opus-4-6", input=f"my key is {secret}", instructions=f"never say {secret}"
    ) as stream:
        await stream.get_final_response()
    (trace,) = await saved_traces(service)
    assert trace.native is not None
    on_disk = b"".join(path.read_bytes() for path in store.traces_dir.glob("*.json"))
    assert secret.encode() not in on_disk
    assert secret not in json.dumps(trace.request) + json.dumps(trace.native.request)


async def test_provider_error_mid_stream_is_an_error_event(make_proxy: MakeProxy, sdk: Sdk) -> None:
    """Anthropic's in-band ``overloaded_error`` (a real event shape) after two text deltas:
    the app gets the text so far, then an ``error`` event the SDK raises on; the trace is an
    error with the provider's type."""
    service = await make_proxy(default_provider=None)
    stream = await sdk(service).responses.create(
        model="anthropic/mock-overloaded-stream", input="Hello", stream=True
    )
    kinds: list[str] = []

    async def read() -> None:
        async for event in stream:
            EVENT.validate_python(event.model_dump(mode="json"))
            kinds.append(event.type)

    with pytest.raises(openai.APIError, match="Overloaded"):
        await read()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "response.output_text.delta" in kinds
    (trace,) = await saved_traces(service)
    assert trace.metadata.status == "error"
    assert trace.metadata.error is not None and "overloaded" in trace.metadata.error.type
    assert trace.response["status"] == "failed"

"""Every provider through the proxy, driven by the official SDKs as a user's app would:
``openai`` through the front door (converted for Anthropic, Gemini, Ollama and Cohere; as is
for xAI), ``anthropic`` and ``google-genai`` on their native routes. The mock upstream replays
each provider's real recorded transcripts; expected values below are read off those files
(packages/proxy/tests/data/provider-streams)."""

from __future__ import annotations

import json
from typing import Any, cast

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import saved_traces

from .conftest import MakeProxy, Sdk

ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello, how are you?"}]
# ASK, as the anthropic SDK types it (the same list)
ANTHROPIC_ASK = cast("list[anthropic.types.MessageParam]", ASK)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}

# From anthropic-messages/stream-text.sse, message.json and stream-tool-use.sse.
CLAUDE_STREAM_TEXT = (
    "Hello! I'm doing well, thank you for asking. How are you doing today? "
    "Is there anything I can help you with?"
)
CLAUDE_TEXT = (
    "Hello! I'm doing well, thanks for asking. How are you doing today? "
    "Is there anything I can help you with?"
)
CLAUDE_TOOL_ID = "toolu_01NRLabsLyVHZPKxbKvkfSMn"
# From gemini/stream-text.sse and generate-content.json.
GEMINI_STREAM_TEXT = 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y'
GEMINI_TEXT = "There are **3** r's in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y."
# From ollama/chat-stream.ndjson.
LLAMA_TEXT = (
    "The sky appears blue because of a phenomenon called Rayleigh scattering: shorter blue "
    "wavelengths of sunlight are scattered by the gases in the atmosphere much more than "
    "longer red wavelengths."
)
# From cohere/chat-stream.sse.
COMMAND_TEXT = "The capital of France is Paris."


async def _stream_text(
    client: openai.AsyncOpenAI, model: str, received: list[Any] | None = None, **options: Any
) -> tuple[str, dict[int, dict[str, str]], str | None, Any]:
    """Stream a chat completion; return text, tool calls by index, finish reason, usage.
    ``received`` collects every chunk."""
    text, finish, usage = "", None, None
    calls: dict[int, dict[str, str]] = {}
    stream = await client.chat.completions.create(model=model, messages=ASK, stream=True, **options)
    async for chunk in stream:
        if received is not None:
            received.append(chunk)
        usage = chunk.usage or usage
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        text += choice.delta.content or ""
        for call in choice.delta.tool_calls or []:
            slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            slot["id"] = call.id or slot["id"]
            if call.function is not None:
                slot["name"] += call.function.name or ""
                slot["arguments"] += call.function.arguments or ""
    return text, calls, finish, usage


# -- the front door: openai SDK, any provider ---------------------------------------------------


@pytest.mark.parametrize(
    ("model", "provider", "text", "prompt_tokens", "completion_tokens"),
    [
        ("claude-opus-4-6", "anthropic", CLAUDE_STREAM_TEXT, 12, 30),
        ("gemini-2.5-flash", "gemini", GEMINI_STREAM_TEXT, 9, 23 + 185),
        ("llama3.2", "ollama", LLAMA_TEXT, 31, 33),
        ("command-a-03-2025", "cohere", COMMAND_TEXT, 507, 10),
    ],
)
async def test_openai_sdk_streams_from_converted_providers(  # type: ignore[no-untyped-def]
    make_proxy, sdk, model, provider, text, prompt_tokens, completion_tokens
) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    client = sdk(service)
    received: list[Any] = []
    got, calls, finish, usage = await _stream_text(
        client, model, received, stream_options={"include_usage": True}
    )
    assert got == text
    assert calls == {}
    assert finish == "stop"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt_tokens, completion_tokens)

    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == (provider, "converted", model)
    assert trace.metadata.status == "success" and trace.metadata.streaming
    assert trace.request["messages"] == ASK  # the OpenAI request the app sent
    assert trace.native is not None and trace.native.request is not None
    assert trace.response["choices"][0]["message"]["content"] == text
    assert trace.response["choices"][0]["finish_reason"] == "stop"
    usage_stored = trace.metadata.usage
    assert usage_stored is not None
    assert (usage_stored.prompt_tokens, usage_stored.completion_tokens) == (
        prompt_tokens,
        completion_tokens,
    )
    # Chunks are the provider's own events, timed.
    assert trace.metadata.chunks_received == len(trace.chunks) > 1
    assert trace.metadata.total_chunks == len(received)  # OpenAI chunks the app got
    assert trace.metadata.first_chunk_latency_ms is not None
    assert all(chunk.delta_ms >= 0 for chunk in trace.chunks)
    assert "choices" not in (trace.chunks[0].data or {})


async def test_openai_sdk_without_include_usage_gets_no_usage_chunk(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    service = await make_proxy(default_provider=None)
    _, _, _, usage = await _stream_text(sdk(service), "claude-opus-4-6")
    assert usage is None
    (trace,) = await saved_traces(service)
    assert trace.metadata.usage is not None  # recorded all the same
    assert trace.metadata.usage.prompt_tokens == 12


@pytest.mark.parametrize(
    ("model", "name", "arguments", "call_id"),
    [
        ("claude-opus-4-6", "get_weather", {"location": "Paris"}, CLAUDE_TOOL_ID),
        ("gemini-2.5-flash", "weather", {"location": "San Francisco"}, None),
        ("llama3.2", "get_weather", {"city": "Tokyo"}, None),
    ],
)
async def test_openai_sdk_tool_call_streams(  # type: ignore[no-untyped-def]
    make_proxy, sdk, model, name, arguments, call_id
) -> None:
    service = await make_proxy(default_provider=None)
    _, calls, finish, _ = await _stream_text(sdk(service), model, tools=[WEATHER])
    assert finish == "tool_calls"
    assert [c["name"] for c in calls.values()] == [name]
    assert json.loads(calls[0]["arguments"]) == arguments
    assert calls[0]["id"]  # every call has an id, generated where the provider sends none
    if call_id is not None:
        assert calls[0]["id"] == call_id
    (trace,) = await saved_traces(service)
    message = trace.response["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["name"] == name
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == arguments
    assert message["tool_calls"][0]["id"] == calls[0]["id"]


async def test_openai_sdk_cohere_parallel_tool_calls(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(default_provider=None)
    _, calls, finish, _ = await _stream_text(sdk(service), "command-a-03-2025", tools=[WEATHER])
    assert finish == "tool_calls"
    assert [(c["id"], c["name"]) for c in calls.values()] == [
        ("weather_e8p4pn45zt0t", "weather"),
        ("cityAttractions_pyxssbwnq9fq", "cityAttractions"),
    ]
    assert all(isinstance(json.loads(c["arguments"]), dict) for c in calls.values())


@pytest.mark.parametrize(
    ("model", "provider", "text"),
    [
        ("claude-opus-4-6", "anthropic", CLAUDE_TEXT),
        ("gemini-2.5-flash", "gemini", GEMINI_TEXT),
        ("llama3.2", "ollama", LLAMA_TEXT),
        ("command-a-03-2025", "cohere", COMMAND_TEXT),
    ],
)
async def test_openai_sdk_non_streaming_converted(  # type: ignore[no-untyped-def]
    make_proxy, sdk, model, provider, text
) -> None:
    service = await make_proxy(default_provider=None)
    completion = await sdk(service).chat.completions.create(model=model, messages=ASK)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == text
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route) == (provider, "converted")
    assert trace.response == completion.model_dump(exclude_unset=True)
    assert trace.native is not None and trace.native.response is not None
    assert trace.response_model == completion.model
    # Priced from the usage when saved (genai-prices); local Ollama models cost nothing.
    cost = trace.metadata.cost_usd
    assert cost == 0.0 if provider == "ollama" else (cost is not None and cost > 0)


async def test_openai_sdk_grok_goes_to_xai_unconverted(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(default_provider=None)
    text, _, finish, _ = await _stream_text(sdk(service), "grok-3-mini")
    assert text == "Hello"  # xai/chat-stream-reasoning.sse
    assert finish == "stop"
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.native) == ("xai", "openai", None)
    assert trace.response["choices"][0]["message"]["reasoning_content"]


async def test_openai_sdk_grok_tool_call_stream_and_non_streaming(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    service = await make_proxy(default_provider=None)
    client = sdk(service)
    _, calls, finish, _ = await _stream_text(client, "grok-3-mini", tools=[WEATHER])
    assert finish == "tool_calls"
    assert [c["name"] for c in calls.values()] and all(c["id"] for c in calls.values())
    completion = await client.chat.completions.create(model="grok-3-mini", messages=ASK)
    assert completion.choices[0].message.content == "Hello"
    streamed, plain = await saved_traces(service, expected=2)
    assert (streamed.provider, plain.provider) == ("xai", "xai")
    tool_calls = streamed.response["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in tool_calls] == [c["name"] for c in calls.values()]


def test_anthropic_sync_sdk_through_a_background_proxy(store) -> None:  # type: ignore[no-untyped-def]
    """The synchronous Anthropic client, as a script would use it, against a proxy on its own
    thread (as ``traceforge start`` runs it)."""
    from traceforge_proxy.runner import BackgroundProxy
    from traceforge_shared.config import Config

    config = Config()
    config.proxy.port = 0
    with BackgroundProxy(ProxyService(config, {}, store, mock_delay_ms=0)) as proxy:
        client = anthropic.Anthropic(
            base_url=proxy.url.removesuffix("/v1") + "/anthropic", api_key="k", max_retries=0
        )
        message = client.messages.create(
            model="claude-opus-4-6", max_tokens=10, messages=ANTHROPIC_ASK
        )
        with client.messages.stream(
            model="claude-opus-4-6", max_tokens=10, messages=ANTHROPIC_ASK
        ) as stream:
            streamed = "".join(stream.text_stream)
        client.close()
        assert proxy.drain()
    assert message.content[0].text == CLAUDE_TEXT  # type: ignore[union-attr]
    assert streamed == CLAUDE_STREAM_TEXT
    assert [s.provider for s in store.list()] == ["anthropic", "anthropic"]


async def test_prefix_and_header_pick_the_provider(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(default_provider=None)
    client = sdk(service)
    first = await client.chat.completions.create(model="anthropic/my-claude", messages=ASK)
    assert first.choices[0].message.content == CLAUDE_TEXT
    second = await client.chat.completions.create(
        model="my-llama", messages=ASK, extra_headers={"X-TraceForge-Provider": "ollama"}
    )
    assert second.choices[0].message.content == LLAMA_TEXT
    one, two = await saved_traces(service, expected=2)
    assert (one.provider, one.model, one.native.request["model"]) == (  # type: ignore[union-attr]
        "anthropic",
        "my-claude",
        "my-claude",
    )
    assert (two.provider, two.model) == ("ollama", "my-llama")
    assert "x-traceforge-provider" not in two.metadata.request_headers


async def test_unknown_model_is_a_clear_400_and_recorded(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(default_provider=None)
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk(service).chat.completions.create(model="mystery-7b", messages=ASK)
    message = str(caught.value)
    assert "no provider for model 'mystery-7b'" in message
    assert "claude-*" in message and "gemini-*" in message and "X-TraceForge-Provider" in message
    (trace,) = await saved_traces(service)
    assert (trace.metadata.status, trace.metadata.status_code) == ("error", 400)
    assert trace.metadata.error is not None and trace.metadata.error.type == "unknown_model"


async def test_provider_http_errors_map_to_openai_errors(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(default_provider=None)
    client = sdk(service)
    with pytest.raises(openai.APIStatusError) as overloaded:
        await client.chat.completions.create(model="anthropic/mock-529", messages=ASK)
    assert overloaded.value.status_code == 529
    assert "Overloaded" in str(overloaded.value)
    with pytest.raises(openai.RateLimitError) as limited:
        await client.chat.completions.create(model="gemini/mock-429", messages=ASK)
    assert limited.value.status_code == 429
    one, two = await saved_traces(service, expected=2)
    for trace, status in ((one, 529), (two, 429)):
        assert (trace.metadata.status, trace.metadata.status_code) == ("error", status)
        assert trace.native is not None and trace.native.response is not None  # provider's body
        assert "error" in trace.response  # the OpenAI-shaped error the app got


async def test_anthropic_error_mid_stream_reaches_the_openai_client(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    service = await make_proxy(default_provider=None)
    received: list[str] = []

    async def consume() -> None:
        stream = await sdk(service).chat.completions.create(
            model="anthropic/mock-overloaded-stream", messages=ASK, stream=True
        )
        async for chunk in stream:
            if chunk.choices:
                received.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError, match="Overloaded"):
        await consume()
    assert "".join(received)  # the text before the error arrived first
    (trace,) = await saved_traces(service)
    assert trace.metadata.status == "error"
    assert trace.metadata.error is not None and "Overloaded" in trace.metadata.error.message
    assert trace.chunks[-1].event == "error"
    assert trace.response["choices"][0]["message"]["content"] == "".join(received)


async def test_unconvertible_request_is_a_400_naming_the_field(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    service = await make_proxy(default_provider=None)
    with pytest.raises(openai.BadRequestError):
        await sdk(service).chat.completions.create(
            model="claude-opus-4-6",
            messages=[
                *ASK,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{not json"},
                        }
                    ],
                },
            ],
        )
    (trace,) = await saved_traces(service)
    assert (trace.metadata.status, trace.metadata.status_code) == ("error", 400)
    assert trace.metadata.upstream_url is None  # nothing was sent


# -- native routes: the providers' own SDKs ------------------------------------------------------


def _anthropic(service: ProxyService) -> anthropic.AsyncAnthropic:
    base = service.url.removesuffix("/v1")
    return anthropic.AsyncAnthropic(
        base_url=f"{base}/anthropic", api_key="sk-ant-test", max_retries=0
    )


async def test_anthropic_sdk_native_create(make_proxy: MakeProxy) -> None:
    service = await make_proxy(default_provider=None)
    client = _anthropic(service)
    message = await client.messages.create(
        model="claude-opus-4-6", max_tokens=100, system="Be nice.", messages=ANTHROPIC_ASK
    )
    await client.close()
    assert message.content[0].text == CLAUDE_TEXT  # type: ignore[union-attr]
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.endpoint) == (
        "anthropic",
        "passthrough",
        "/anthropic/v1/messages",
    )
    assert trace.native is not None
    assert trace.native.request["system"] == "Be nice."
    assert trace.native.response["content"][0]["text"] == CLAUDE_TEXT
    # The normalized view reads like any OpenAI trace.
    assert trace.request["messages"][0] == {"role": "system", "content": "Be nice."}
    assert trace.response["choices"][0]["message"]["content"] == CLAUDE_TEXT
    headers = trace.metadata.request_headers
    # The SDK's credential header (x-api-key or authorization, by SDK version) is redacted.
    assert "[REDACTED]" in (headers.get("x-api-key"), headers.get("authorization"))
    assert "sk-ant-test" not in str(headers)


async def test_anthropic_sdk_native_stream_merges_usage(make_proxy: MakeProxy) -> None:
    service = await make_proxy(default_provider=None)
    client = _anthropic(service)
    async with client.messages.stream(
        model="claude-opus-4-6", max_tokens=100, messages=ANTHROPIC_ASK
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    await client.close()
    assert text == CLAUDE_STREAM_TEXT
    assert final.usage.output_tokens == 30
    (trace,) = await saved_traces(service)
    assert trace.route == "passthrough" and trace.metadata.streaming
    assert [c.event for c in trace.chunks][:2] == ["message_start", "content_block_start"]
    assert "ping" in [c.event for c in trace.chunks]
    assert trace.response["choices"][0]["message"]["content"] == CLAUDE_STREAM_TEXT
    usage = trace.metadata.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (12, 30)


async def test_anthropic_sdk_native_tool_use_stream(make_proxy: MakeProxy) -> None:
    service = await make_proxy(default_provider=None)
    client = _anthropic(service)
    tool = {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
    }
    async with client.messages.stream(
        model="claude-opus-4-6",
        max_tokens=100,
        messages=ANTHROPIC_ASK,
        tools=[tool],  # type: ignore[list-item]
    ) as stream:
        final = await stream.get_final_message()
    await client.close()
    tool_use = [block for block in final.content if block.type == "tool_use"]
    assert tool_use[0].input == {"location": "Paris"}
    (trace,) = await saved_traces(service)
    message = trace.response["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    assert message["message"]["tool_calls"][0]["id"] == CLAUDE_TOOL_ID
    assert trace.request["tools"][0]["function"]["name"] == "get_weather"


def _genai(service: ProxyService) -> genai.Client:
    base = service.url.removesuffix("/v1")
    return genai.Client(
        api_key="AIza-test-key",
        http_options=genai_types.HttpOptions(base_url=f"{base}/gemini"),
    )


async def test_google_genai_native_generate_content(make_proxy: MakeProxy) -> None:
    service = await make_proxy(default_provider=None)
    response = await _genai(service).aio.models.generate_content(
        model="gemini-2.5-flash", contents="How many r's are in strawberry?"
    )
    assert response.text == GEMINI_TEXT
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == (
        "gemini",
        "passthrough",
        "gemini-2.5-flash",
    )
    assert trace.native is not None and trace.native.endpoint.endswith(":generateContent")
    assert trace.request["messages"] == [
        {"role": "user", "content": "How many r's are in strawberry?"}
    ]
    assert trace.response["choices"][0]["message"]["content"] == GEMINI_TEXT
    assert trace.metadata.request_headers["x-goog-api-key"] == "[REDACTED]"


async def test_google_genai_native_stream(make_proxy: MakeProxy) -> None:
    service = await make_proxy(default_provider=None)
    stream = await _genai(service).aio.models.generate_content_stream(
        model="gemini-2.5-flash", contents="How many r's are in strawberry?"
    )
    text = "".join([chunk.text or "" async for chunk in stream])
    assert text == GEMINI_STREAM_TEXT
    (trace,) = await saved_traces(service)
    assert trace.metadata.streaming and trace.route == "passthrough"
    assert trace.response["choices"][0]["message"]["content"] == GEMINI_STREAM_TEXT
    usage = trace.metadata.usage
    assert usage is not None and usage.prompt_tokens == 9  # the last usageMetadata


async def test_ollama_native_ndjson_stream_relayed_byte_for_byte(make_proxy: MakeProxy) -> None:
    import aiohttp

    from traceforge_proxy.mock_upstream import transcript_bytes

    service = await make_proxy(default_provider=None)
    base = service.url.removesuffix("/v1")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}/ollama/api/chat", json={"model": "llama3.2", "messages": ASK}
        ) as response,
    ):
        assert response.headers["Content-Type"].startswith("application/x-ndjson")
        body = await response.read()
    assert body == transcript_bytes("ollama/chat-stream.ndjson")
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route) == ("ollama", "passthrough")
    assert trace.metadata.chunks_received == body.count(b"\n")
    assert trace.response["choices"][0]["message"]["content"] == LLAMA_TEXT
    assert trace.metadata.usage is not None and trace.metadata.usage.completion_tokens == 33


async def test_azure_deployment_map(make_proxy, sdk, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from traceforge_shared.config import Config, UpstreamConfig

    seen: list[tuple[str, str, dict[str, str]]] = []

    async def deployment(request: web.Request) -> web.Response:
        seen.append((request.path, request.query_string, dict(request.headers)))
        return web.json_response(
            {
                "id": "chatcmpl-azure",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o-2024-11-20",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "from azure"},
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            }
        )

    app = web.Application()
    app.router.add_post("/openai/deployments/{name}/chat/completions", deployment)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-123")
        config = Config()
        config.upstreams["azure"] = UpstreamConfig(
            base_url=str(server.make_url("")).rstrip("/"),
            deployments={"gpt-4o": "prod-4o"},
            api_version="2024-10-21",
        )
        service = await make_proxy(default_provider=None, config=config)
        completion = await sdk(service, api_key="sk-placeholder").chat.completions.create(
            model="gpt-4o", messages=ASK
        )
    finally:
        await server.close()
    assert completion.choices[0].message.content == "from azure"
    ((path, query, headers),) = seen
    assert path == "/openai/deployments/prod-4o/chat/completions"
    assert query == "api-version=2024-10-21"
    assert headers["api-key"] == "azure-key-123"
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == ("azure", "openai", "gpt-4o")
    assert trace.metadata.request_headers["api-key"] == "[REDACTED]"


async def test_provider_dying_mid_stream_breaks_the_converted_stream_and_is_recorded(  # type: ignore[no-untyped-def]
    make_proxy, sdk
) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from traceforge_proxy.mock_upstream import transcript_bytes
    from traceforge_shared.config import Config, UpstreamConfig

    recorded = transcript_bytes("anthropic/stream-text.sse")
    first_events = b"\n\n".join(recorded.split(b"\n\n")[:4]) + b"\n\n"

    async def dying(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(first_events)  # message_start .. first text delta
        assert request.transport is not None
        request.transport.close()  # then the connection drops
        return response

    app = web.Application()
    app.router.add_post("/v1/messages", dying)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        config = Config()
        config.upstreams["anthropic"] = UpstreamConfig(
            base_url=str(server.make_url("")).rstrip("/")
        )
        service = await make_proxy(default_provider=None, config=config)
        received: list[Any] = []
        with pytest.raises(openai.APIError):
            await _stream_text(sdk(service), "claude-opus-4-6", received)
    finally:
        await server.close()
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.metadata.status) == ("anthropic", "upstream_error")
    assert trace.metadata.error is not None
    assert trace.metadata.error.type == "upstream_disconnected"
    assert [c.event for c in trace.chunks] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
    ]
    assert trace.response["choices"][0]["message"]["content"] == "Hello"


async def test_every_response_names_its_trace(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(default_provider=None)
    client = sdk(service)
    raw = await client.chat.completions.with_raw_response.create(
        model="claude-opus-4-6", messages=ASK
    )
    streamed = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ASK, stream=True
    )
    async for _ in streamed.parse():
        pass
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="mystery", messages=ASK)
    ids = [
        raw.headers["X-TraceForge-Trace-Id"],
        streamed.headers["X-TraceForge-Trace-Id"],
        caught.value.response.headers["X-TraceForge-Trace-Id"],
    ]
    traces = await saved_traces(service, expected=3)
    assert [t.id for t in traces] == ids


async def test_generic_passthrough_route_and_ollama_generate(make_proxy: MakeProxy) -> None:
    import aiohttp

    from traceforge_proxy.mock_upstream import transcript_bytes

    service = await make_proxy(default_provider=None)
    base = service.url.removesuffix("/v1")
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base}/passthrough/cohere/v2/chat",
            json={"model": "command-a-03-2025", "messages": ASK, "stream": True},
        ) as response:
            cohere_body = await response.read()
        async with session.post(
            f"{base}/ollama/api/generate", json={"model": "llama3.2", "prompt": "Why?"}
        ) as response:
            generate_body = await response.read()
        async with session.post(f"{base}/nowhere/v1/x", json={}) as response:
            assert response.status == 404
            assert "unknown provider 'nowhere'" in (await response.json())["error"]["message"]
    assert cohere_body == transcript_bytes("cohere/chat-stream.sse")
    assert generate_body == transcript_bytes("ollama/generate-stream.ndjson")
    cohere, generate, unknown = await saved_traces(service, expected=3)
    assert (cohere.provider, cohere.route, cohere.endpoint) == (
        "cohere",
        "passthrough",
        "/passthrough/cohere/v2/chat",
    )
    assert cohere.response["choices"][0]["message"]["content"] == COMMAND_TEXT
    assert (generate.provider, generate.model) == ("ollama", "llama3.2")
    assert generate.request["messages"] == [{"role": "user", "content": "Why?"}]
    assert generate.response["choices"][0]["message"]["content"]
    assert unknown.metadata.status_code == 404

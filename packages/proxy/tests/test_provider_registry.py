"""The proxy reads the provider registry (``traceforge_shared.providers``): routing globs,
upstream resolution, auth headers, adapters, native chat endpoints; and the OpenAI-compatible
hosts added with it (groq, ...) work end to end through the proxy with the openai SDK."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.providers import adapter_for, native_chat_model
from traceforge_proxy.routing import RouteChoice, Router, RoutingError
from traceforge_proxy.testing import saved_traces
from traceforge_proxy.upstream import (
    CREDENTIAL_HEADERS,
    KEY_ENVS,
    MOCK_PREFIXES,
    OPENAI_COMPATIBLE,
    Upstream,
    resolve_upstream,
    resolve_upstreams,
)
from traceforge_shared.config import Config, UpstreamConfig
from traceforge_shared.providers import (
    PROVIDER_SPECS,
    ProviderSpec,
    UnknownProviderError,
    provider_names,
)

from .conftest import MakeProxy, Sdk

ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello, how are you?"}]

#: One more OpenAI-compatible provider: all it takes is this entry.
ACME = ProviderSpec(
    name="acme",
    display_name="Acme",
    otel_name="acme",
    pricing_id=None,
    model_globs=("acme-*",),
    base_url="https://api.acme.test/v1",
    key_envs=("ACME_API_KEY",),
    stream_usage=True,
)
WITH_ACME = {**PROVIDER_SPECS, "acme": ACME}


# -- the proxy's tables are views of the registry -------------------------------------------


def test_router_patterns_are_the_registry_globs() -> None:
    router = Router(Config())
    assert router.patterns == {n: s.model_globs for n, s in PROVIDER_SPECS.items()}
    assert router.providers == provider_names()


def test_upstream_tables_are_views_of_the_registry() -> None:
    assert {n: s.key_envs for n, s in PROVIDER_SPECS.items()} == KEY_ENVS
    assert {
        n: s.mock_prefix for n, s in PROVIDER_SPECS.items() if s.mock_prefix is not None
    } == MOCK_PREFIXES
    assert "azure" not in MOCK_PREFIXES
    assert {
        "openai",
        "xai",
        "azure",
        "groq",
        "deepseek",
        "mistral",
        "openrouter",
        "together",
        "fireworks",
        "openai-compatible",
    } == OPENAI_COMPATIBLE
    assert {"authorization", "x-api-key", "x-goog-api-key", "api-key"} == CREDENTIAL_HEADERS


def test_auth_headers_follow_the_registry() -> None:
    def headers(provider: str) -> dict[str, str]:
        return Upstream(provider, "http://x", "k", False).auth_headers()

    assert headers("openai") == {"Authorization": "Bearer k"}
    assert headers("groq") == {"Authorization": "Bearer k"}
    assert headers("anthropic") == {"anthropic-version": "2023-06-01", "x-api-key": "k"}
    assert headers("gemini") == {"x-goog-api-key": "k"}
    assert headers("azure") == {"api-key": "k"}
    assert headers("ollama") == {}
    assert headers("not-registered") == {"Authorization": "Bearer k"}


def test_every_provider_resolves_without_keys_to_the_mock_or_nothing() -> None:
    upstreams = resolve_upstreams(Config(), env={})
    assert tuple(upstreams) == provider_names()
    for name, upstream in upstreams.items():
        assert upstream.mock == (name in MOCK_PREFIXES), name
        assert upstream.base_url is None
        # On the mock, usage is asked for where the real API accepts it.
        assert upstream.inject_stream_usage == PROVIDER_SPECS[name].stream_usage, name
    assert not upstreams["xai"].inject_stream_usage  # unchanged


@pytest.mark.parametrize(
    ("provider", "variable", "base_url", "inject"),
    [
        ("groq", "GROQ_API_KEY", "https://api.groq.com/openai/v1", True),
        ("deepseek", "DEEPSEEK_API_KEY", "https://api.deepseek.com/v1", True),
        ("mistral", "MISTRAL_API_KEY", "https://api.mistral.ai/v1", False),
        ("openrouter", "OPENROUTER_API_KEY", "https://openrouter.ai/api/v1", False),
        ("together", "TOGETHER_API_KEY", "https://api.together.xyz/v1", False),
        ("fireworks", "FIREWORKS_API_KEY", "https://api.fireworks.ai/inference/v1", False),
    ],
)
def test_new_hosts_with_a_key_go_to_their_api(
    provider: str, variable: str, base_url: str, inject: bool
) -> None:
    upstream = resolve_upstream(Config(), provider, env={variable: "key-1"})
    assert (upstream.base_url, upstream.api_key, upstream.mock) == (base_url, "key-1", False)
    assert upstream.inject_stream_usage is inject
    assert upstream.auth_headers() == {"Authorization": "Bearer key-1"}
    # Elsewhere (a gateway in front of it), usage is not asked for unless configured.
    config = Config()
    config.upstreams[provider] = UpstreamConfig(base_url="http://127.0.0.1:9/v1")
    assert not resolve_upstream(config, provider, env={variable: "k"}).inject_stream_usage


def test_openai_compatible_server_needs_a_base_url() -> None:
    keyed = resolve_upstream(Config(), "openai-compatible", env={"OPENAI_COMPATIBLE_API_KEY": "k"})
    assert (keyed.base_url, keyed.mock) == (None, False)
    with pytest.raises(LookupError, match=r"upstreams\.openai-compatible\.base_url"):
        keyed.url_for("chat/completions")
    config = Config()
    config.upstreams["openai-compatible"] = UpstreamConfig(base_url="http://localhost:8000/v1")
    served = resolve_upstream(config, "openai-compatible", env={})
    assert served.url_for("chat/completions") == "http://localhost:8000/v1/chat/completions"
    assert (served.api_key, served.inject_stream_usage) == (None, False)


def test_unknown_provider_is_an_error() -> None:
    with pytest.raises(UnknownProviderError, match="known: openai"):
        resolve_upstream(Config(), "bedrock", env={})


def test_adapters_are_found_by_wire_format() -> None:
    for name, spec in PROVIDER_SPECS.items():
        adapter = adapter_for(name)
        if spec.openai_compatible:
            assert adapter is None, name
        else:
            assert adapter is not None and adapter.name == spec.wire_format, name
    assert adapter_for("not-registered") is None


def test_native_chat_endpoints_come_from_the_registry() -> None:
    body = {"model": "m-1"}
    assert native_chat_model("groq", "chat/completions", body) == "m-1"
    assert native_chat_model("groq", "models", body) is None
    assert native_chat_model("anthropic", "v1/messages", {}) == ""
    assert native_chat_model("anthropic", "v1/messages/count_tokens", body) is None
    assert native_chat_model("ollama", "api/generate", body) == "m-1"
    assert native_chat_model("cohere", "v2/chat", body) == "m-1"
    path = "v1beta/models/gemini-2.5-flash:generateContent"
    assert native_chat_model("gemini", path, body) == "gemini-2.5-flash"
    assert native_chat_model("gemini", "v1beta/models", body) is None
    assert native_chat_model("not-registered", "chat/completions", body) == "m-1"


def test_routing_to_the_new_hosts() -> None:
    router = Router(Config())
    assert router.route("groq/llama-3.3-70b-versatile") == RouteChoice(
        "groq", "llama-3.3-70b-versatile"
    )
    assert router.route("openai-compatible/Qwen/Qwen2.5-7B") == RouteChoice(
        "openai-compatible", "Qwen/Qwen2.5-7B"
    )
    # Without upstreams every provider counts as configured: globs in registry order, so
    # Ollama's llama*/deepseek* come first (see test_routing_hosts.py for the real rule).
    assert router.route("llama-3.3-70b-versatile").provider == "ollama"
    assert router.route("deepseek-chat").provider == "ollama"
    assert router.route("llama-3.3-70b-versatile", "groq").provider == "groq"
    with pytest.raises(RoutingError) as caught:
        router.route("mystery-7b")
    message = str(caught.value)
    assert "by prefix or header only: openrouter, openai-compatible" in message
    assert "openai-compatible" in message


# -- adding a provider is one entry ---------------------------------------------------------


def test_one_more_registry_entry_routes_and_resolves() -> None:
    router = Router(Config(), WITH_ACME)
    assert router.route("acme-large") == RouteChoice("acme", "acme-large")
    assert router.route("acme/other") == RouteChoice("acme", "other")
    assert router.route("gpt-4o").provider == "openai"  # the others unchanged
    keyed = resolve_upstream(Config(), "acme", env={"ACME_API_KEY": "a-1"}, specs=WITH_ACME)
    assert keyed.base_url == "https://api.acme.test/v1" and keyed.inject_stream_usage
    assert keyed.auth_headers() == {"Authorization": "Bearer a-1"}
    mocked = resolve_upstreams(Config(), env={}, specs=WITH_ACME)["acme"]
    assert (mocked.mock, mocked.base_url) == (True, None)
    # Filled in by the runner as for the others: the mock's OpenAI routes.
    assert ACME.mock_prefix == "/v1"
    assert dataclasses.replace(mocked, base_url="http://m/v1").auth_headers(key="c") == {
        "Authorization": "Bearer c"
    }


# -- end to end: the openai SDK, the proxy, a local fake upstream ---------------------------


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


async def test_groq_prefix_goes_to_the_groq_upstream_with_its_key(  # type: ignore[no-untyped-def]
    make_proxy, sdk, monkeypatch
) -> None:
    seen: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append((request.path, dict(request.headers), body))
        return web.json_response(_completion(body["model"], "from groq"))

    app = web.Application()
    app.router.add_post("/openai/v1/chat/completions", chat)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        monkeypatch.setenv("GROQ_API_KEY", "gsk-test-key")
        config = Config()
        config.upstreams["groq"] = UpstreamConfig(
            base_url=str(server.make_url("/openai/v1")).rstrip("/")
        )
        service = await make_proxy(default_provider=None, config=config)
        client = sdk(service, api_key="sk-client-key")
        completion = await client.chat.completions.create(
            model="groq/llama-3.3-70b-versatile", messages=ASK
        )
        by_header = await client.chat.completions.create(
            model="llama-3.3-70b-versatile",
            messages=ASK,
            extra_headers={"X-TraceForge-Provider": "groq"},
        )
    finally:
        await server.close()
    assert completion.choices[0].message.content == "from groq"
    assert by_header.choices[0].message.content == "from groq"
    assert len(seen) == 2
    for path, headers, body in seen:
        assert path == "/openai/v1/chat/completions"
        assert headers["Authorization"] == "Bearer gsk-test-key"  # the proxy's key for groq
        assert body["model"] == "llama-3.3-70b-versatile"
        assert body["messages"] == ASK
    traces = await saved_traces(service, expected=2)
    for trace in traces:
        assert (trace.provider, trace.route, trace.model) == (
            "groq",
            "openai",
            "llama-3.3-70b-versatile",
        )
        assert trace.metadata.request_headers["authorization"] == "[REDACTED]"


async def test_groq_without_a_key_streams_from_the_mock(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(default_provider=None)
    assert (service.upstreams["groq"].base_url or "").endswith("/v1")
    stream = await sdk(service).chat.completions.create(
        model="groq/llama-3.3-70b-versatile", messages=ASK, stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text  # the mock's recorded OpenAI stream
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.metadata.status) == ("groq", "openai", "success")
    assert trace.metadata.usage is not None  # usage asked for on the client's behalf


async def test_native_route_of_a_new_host(make_proxy: MakeProxy, sdk: Sdk) -> None:
    import openai

    service = await make_proxy(default_provider=None)
    base = service.url.removesuffix("/v1")
    client = openai.AsyncOpenAI(base_url=f"{base}/groq/v1", api_key="gsk-x", max_retries=0)
    try:
        completion = await client.chat.completions.create(model="any-model", messages=ASK)
    finally:
        await client.close()
    assert completion.choices[0].message.content
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == ("groq", "passthrough", "any-model")
    assert trace.endpoint == "/groq/v1/chat/completions"

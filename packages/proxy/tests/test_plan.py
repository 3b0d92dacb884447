"""The forwarding plan: every routing and forwarding decision, without I/O."""

from __future__ import annotations

import msgspec
import pytest

from traceforge_proxy.plan import (
    USAGE_WARNING,
    ClientRequest,
    ForwardingPlan,
    ProxyAnswer,
    plan_request,
    stream_framing,
)
from traceforge_proxy.routing import Router
from traceforge_proxy.upstream import Upstream
from traceforge_shared.config import PROVIDERS, Config, UpstreamConfig

BASES = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://gemini.test",
    "ollama": "http://localhost:11434",
    "xai": "https://api.x.ai/v1",
    "cohere": "https://api.cohere.com",
    "azure": "https://res.openai.azure.com",
}


def _upstreams(**keys: str) -> dict[str, Upstream]:
    return {
        p: Upstream(
            p,
            BASES.get(p),
            keys.get(p),
            inject_stream_usage=p == "openai",
            api_version="2024-10-21",
        )
        for p in PROVIDERS
    }


def _router() -> Router:
    config = Config()
    config.upstreams["azure"] = UpstreamConfig(deployments={"my-gpt": "dep1"})
    return Router(config)


def _request(
    path: str, body: object, headers: list[tuple[str, str]] | None = None, query: str = ""
) -> ClientRequest:
    raw = msgspec.json.encode(body) if body is not None else b""
    provider, tail = None, path.removeprefix("/v1/")
    if not path.startswith("/v1/"):
        parts = path.lstrip("/").removeprefix("passthrough/").split("/", 1)
        provider, tail = parts[0], parts[1] if len(parts) > 1 else ""
    return ClientRequest("POST", path, query, headers or [], raw, body, provider, tail)


def _plan(request: ClientRequest, **keys: str) -> ForwardingPlan:
    plan = plan_request(request, _router(), _upstreams(**keys))
    assert isinstance(plan, ForwardingPlan), plan
    return plan


def test_openai_chat_goes_as_is_with_the_client_key() -> None:
    body = {"model": "gpt-4o", "messages": []}
    plan = _plan(_request("/v1/chat/completions", body, [("Authorization", "Bearer sk-c")]))
    assert plan.url == "https://api.openai.com/v1/chat/completions"
    assert plan.headers == {"Authorization": "Bearer sk-c"}
    assert plan.body == msgspec.json.encode(body) and plan.mode == "raw"
    assert (plan.target.provider, plan.target.model, plan.target.route) == (
        "openai",
        "gpt-4o",
        "openai",
    )


def test_openai_key_is_added_when_the_client_sends_none() -> None:
    plan = _plan(_request("/v1/chat/completions", {"model": "gpt-4o"}), openai="sk-proxy")
    assert plan.headers["Authorization"] == "Bearer sk-proxy"


def test_routing_prefix_is_removed_from_the_body() -> None:
    plan = _plan(_request("/v1/chat/completions", {"model": "xai/grok-3"}, query="a=1"))
    assert msgspec.json.decode(plan.body) == {"model": "grok-3"}
    assert plan.url == "https://api.x.ai/v1/chat/completions?a=1"
    assert plan.upstream_url == "https://api.x.ai/v1/chat/completions"


def test_compatible_provider_gets_the_clients_bearer_key_in_its_own_header() -> None:
    headers = [("Authorization", "Bearer sk-c"), ("X-Custom", "1")]
    plan = _plan(_request("/v1/chat/completions", {"model": "my-gpt"}, headers))
    assert plan.url == (
        "https://res.openai.azure.com/openai/deployments/dep1/chat/completions"
        "?api-version=2024-10-21"
    )
    assert plan.headers == {"X-Custom": "1", "api-key": "sk-c"}
    proxied = _plan(_request("/v1/chat/completions", {"model": "grok-3"}, headers), xai="xk")
    assert proxied.headers == {"X-Custom": "1", "Authorization": "Bearer xk"}


def test_stream_usage_is_injected_and_withheld() -> None:
    body = {"model": "gpt-4o", "stream": True, "stream_options": {"x": 1}}
    plan = _plan(_request("/v1/chat/completions", body))
    assert plan.mode == "withhold_usage" and plan.warnings == (USAGE_WARNING,)
    assert msgspec.json.decode(plan.body)["stream_options"] == {"x": 1, "include_usage": True}
    asked = {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True}}
    plan = _plan(_request("/v1/chat/completions", asked))
    assert plan.mode == "raw" and plan.warnings == ()
    assert (
        _plan(_request("/v1/chat/completions", {"model": "grok-3", "stream": True})).mode == "raw"
    )


def test_unknown_model_is_the_proxys_400() -> None:
    answer = plan_request(
        _request("/v1/chat/completions", {"model": "who-knows"}), _router(), _upstreams()
    )
    assert isinstance(answer, ProxyAnswer) and answer.status == 400
    assert answer.failure is not None and answer.failure[:2] == ("error", "unknown_model")
    error = msgspec.json.decode(answer.body)["error"]
    assert error["type"] == "invalid_request_error" and "who-knows" in error["message"]


def test_unroutable_bodies_and_other_paths_go_to_openai() -> None:
    plan = _plan(_request("/v1/chat/completions", {"model": 5}))
    assert plan.url.endswith("/v1/chat/completions") and plan.target.model is None
    models = _plan(_request("/v1/models", None))
    assert models.url == "https://api.openai.com/v1/models" and models.target.provider == "openai"


def test_converted_route_builds_the_native_request() -> None:
    body = {
        "model": "anthropic/claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = [("Authorization", "Bearer sk-ant")]
    plan = _plan(_request("/v1/chat/completions", body, headers))
    assert plan.url == "https://api.anthropic.com/v1/messages" and plan.mode == "convert"
    assert plan.stream and plan.include_usage
    assert plan.headers["x-api-key"] == "sk-ant"
    assert plan.headers["anthropic-version"] == "2023-06-01"
    assert plan.target.route == "converted" and plan.target.native_endpoint == "/v1/messages"
    assert msgspec.json.decode(plan.body) == plan.target.native_request
    assert plan.target.native_request["model"] == "claude-sonnet-4-5"


def test_converted_request_the_adapter_cannot_express_is_its_400() -> None:
    body = {"model": "claude-x", "messages": [{"role": "wizard", "content": "hi"}]}
    answer = plan_request(_request("/v1/chat/completions", body), _router(), _upstreams())
    assert isinstance(answer, ProxyAnswer) and answer.status == 400
    assert answer.failure is None and answer.converted is not None
    assert answer.target is not None and answer.target.route == "converted"
    assert msgspec.json.decode(answer.body) == answer.converted


def test_passthrough_strips_v1_for_compatible_providers_and_detects_chat() -> None:
    plan = _plan(_request("/passthrough/xai/v1/chat/completions", {"model": "grok-3"}))
    assert plan.url == "https://api.x.ai/v1/chat/completions"
    assert plan.target.route == "passthrough" and plan.target.adapter is None
    native = _plan(_request("/anthropic/v1/messages", {"model": "claude-x"}))
    assert native.target.model == "claude-x" and native.target.native_endpoint == "/v1/messages"
    assert native.target.adapter is not None and native.target.adapter.name == "anthropic"
    assert native.headers == {"anthropic-version": "2023-06-01"}
    other = _plan(_request("/anthropic/v1/models", None))
    assert other.target.model is None and other.target.adapter is None


def test_anthropic_version_is_added_only_when_missing() -> None:
    headers = [("x-api-key", "k"), ("anthropic-version", "2099-01-01")]
    plan = _plan(_request("/anthropic/v1/messages", {"model": "c"}, headers))
    assert plan.headers == {"x-api-key": "k", "anthropic-version": "2099-01-01"}


def test_unknown_provider_and_missing_base_url_are_the_proxys_errors() -> None:
    unknown = plan_request(_request("/nope/x", None), _router(), _upstreams())
    assert isinstance(unknown, ProxyAnswer) and unknown.status == 404
    assert unknown.failure is not None and unknown.failure.type == "unknown_provider"
    upstreams = _upstreams()
    upstreams["openai"] = Upstream("openai", None, None, inject_stream_usage=True)
    body = {"model": "gpt-4o", "stream": True}
    missing = plan_request(_request("/v1/chat/completions", body), _router(), upstreams)
    assert isinstance(missing, ProxyAnswer) and missing.status == 502
    assert missing.failure is not None and missing.failure.type == "upstream_not_configured"
    assert missing.warnings == (USAGE_WARNING,)


@pytest.mark.parametrize(
    ("content_type", "framing"),
    [
        ("text/event-stream; charset=utf-8", "sse"),
        ("application/x-ndjson", "ndjson"),
        ("application/json", None),
    ],
)
def test_stream_framing(content_type: str, framing: str | None) -> None:
    assert stream_framing(content_type) == framing


def test_converted_route_relays_a_stream_only_when_asked_and_ok() -> None:
    body = {"model": "claude-x", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    plan = _plan(_request("/v1/chat/completions", body))
    assert plan.framing(200, "text/event-stream") == "sse"
    assert plan.framing(529, "text/event-stream") is None
    raw = _plan(_request("/v1/models", None))
    assert raw.framing(500, "text/event-stream") == "sse"

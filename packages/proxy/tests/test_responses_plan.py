"""The forwarding plan of Responses API calls: routing by model, relayed or converted, and
the ``/v1/responses/{id}`` calls, without I/O."""

from __future__ import annotations

from dataclasses import replace

import msgspec
import pytest

from traceforge_proxy.plan import ClientRequest, ForwardingPlan, ProxyAnswer, plan_request
from traceforge_proxy.providers import ProviderAdapter, adapter_for
from traceforge_proxy.providers.responses import ResponsesAdapter
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


def _upstreams() -> dict[str, Upstream]:
    return {
        p: Upstream(p, BASES.get(p), None, inject_stream_usage=p == "openai", api_version="v9")
        for p in PROVIDERS
    }


def _router() -> Router:
    config = Config()
    config.upstreams["azure"] = UpstreamConfig(deployments={"my-gpt": "dep1"})
    return Router(config)


def _request(
    tail: str,
    body: object = None,
    method: str = "POST",
    headers: list[tuple[str, str]] | None = None,
) -> ClientRequest:
    raw = msgspec.json.encode(body) if body is not None else b""
    return ClientRequest(method, f"/v1/{tail}", "", headers or [], raw, body, None, tail)


def _plan(request: ClientRequest) -> ForwardingPlan | ProxyAnswer:
    return plan_request(request, _router(), _upstreams())


@pytest.mark.parametrize(
    ("model", "url", "sent_model"),
    [
        ("gpt-4.1", "https://api.openai.com/v1/responses", "gpt-4.1"),
        ("openai/gpt-4.1", "https://api.openai.com/v1/responses", "gpt-4.1"),
        ("grok-4", "https://api.x.ai/v1/responses", "grok-4"),
        ("my-gpt", "https://res.openai.azure.com/openai/responses?api-version=v9", "dep1"),
    ],
)
def test_openai_compatible_providers_get_the_request_as_is(
    model: str, url: str, sent_model: str
) -> None:
    body = {"model": model, "input": "hi", "stream": True}
    plan = _plan(_request("responses", body, headers=[("Authorization", "Bearer sk-c")]))
    assert isinstance(plan, ForwardingPlan)
    assert (plan.url, plan.mode) == (url, "raw")
    assert msgspec.json.decode(plan.body) == {**body, "model": sent_model}
    assert not plan.warnings  # no stream_options on the Responses API


@pytest.mark.parametrize(
    ("model", "provider", "path"),
    [
        ("claude-sonnet-4-5", "anthropic", "https://api.anthropic.com/v1/messages"),
        ("gemini-2.5-flash", "gemini", "https://gemini.test/v1beta/models/gemini-2.5-flash"),
        ("ollama/llama3.2", "ollama", "http://localhost:11434/api/chat"),
        ("command-a-03-2025", "cohere", "https://api.cohere.com/v2/chat"),
    ],
)
def test_other_providers_are_converted(model: str, provider: str, path: str) -> None:
    body = {
        "model": model,
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
            {"type": "function_call", "call_id": "call_1", "name": "w", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
        "tools": [{"type": "function", "name": "w", "parameters": {"type": "object"}}],
        "max_output_tokens": 50,
        "stream": True,
    }
    plan = _plan(_request("responses", body))
    assert isinstance(plan, ForwardingPlan)
    assert plan.mode == "convert" and plan.stream
    assert plan.url.startswith(path)
    assert plan.target.provider == provider and plan.target.route == "converted"
    adapter = plan.target.adapter
    assert isinstance(adapter, ResponsesAdapter)
    chat = adapter.chat_request()
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant", "tool"]
    assert chat["messages"][2]["tool_calls"][0]["id"] == "call_1"
    assert chat["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    assert chat["tools"][0]["function"]["name"] == "w"
    assert chat["max_tokens"] == 50


def test_reasoning_and_text_format_become_chat_fields() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {
        "model": "claude-sonnet-4-5",
        "input": "hi",
        "reasoning": {"effort": "low"},
        "text": {"format": {"type": "json_schema", "name": "x", "schema": schema}},
        "tool_choice": {"type": "function", "name": "w"},
    }
    adapter = ResponsesAdapter(_anthropic(), body)
    chat = adapter.chat_request()
    assert chat["reasoning_effort"] == "low"
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "x", "schema": schema},
    }
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "w"}}


def _anthropic() -> ProviderAdapter:
    adapter = adapter_for("anthropic")
    assert adapter is not None
    return adapter


def test_previous_response_id_on_a_converted_provider_is_a_400() -> None:
    body = {"model": "claude-sonnet-4-5", "input": "hi", "previous_response_id": "resp_1"}
    answer = _plan(_request("responses", body))
    assert isinstance(answer, ProxyAnswer) and answer.status == 400
    error = msgspec.json.decode(answer.body)["error"]
    assert error["param"] == "previous_response_id"
    assert "anthropic" in error["message"]


@pytest.mark.parametrize(
    ("tail", "method"),
    [
        ("responses/resp_abc", "GET"),
        ("responses/resp_abc/input_items", "GET"),
        ("responses/resp_abc/cancel", "POST"),
        ("responses/resp_abc", "DELETE"),
    ],
)
def test_calls_by_id_go_to_openai(tail: str, method: str) -> None:
    plan = _plan(_request(tail, method=method))
    assert isinstance(plan, ForwardingPlan)
    assert plan.url == f"https://api.openai.com/v1/{tail}"
    assert plan.method == method


def test_calls_by_id_follow_the_provider_header() -> None:
    request = _request("responses/resp_x", method="GET", headers=[("X-TraceForge-Provider", "xai")])
    plan = _plan(request)
    assert isinstance(plan, ForwardingPlan) and plan.url == "https://api.x.ai/v1/responses/resp_x"


@pytest.mark.parametrize(
    ("tail", "method", "status"),
    [
        ("responses/resp_tf_anthropic_msg_1", "GET", 404),
        ("responses/resp_tf_anthropic_msg_1/input_items", "GET", 404),
        ("responses/resp_tf_anthropic_msg_1", "DELETE", 404),
        ("responses/resp_tf_anthropic_msg_1/cancel", "POST", 400),
    ],
)
def test_converted_ids_are_answered_by_the_proxy(tail: str, method: str, status: int) -> None:
    answer = _plan(_request(tail, method=method))
    assert isinstance(answer, ProxyAnswer) and answer.status == status
    message = msgspec.json.decode(answer.body)["error"]["message"]
    assert "converted from anthropic" in message


def test_a_body_that_is_not_a_request_goes_to_openai_as_is() -> None:
    request = replace(_request("responses", ["not", "an", "object"]))
    plan = _plan(request)
    assert isinstance(plan, ForwardingPlan) and plan.url == "https://api.openai.com/v1/responses"

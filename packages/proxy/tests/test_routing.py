"""Model-name routing and per-provider upstream resolution (pure, no sockets)."""

from __future__ import annotations

import pytest

from traceforge_proxy.routing import RouteChoice, Router, RoutingError
from traceforge_proxy.upstream import resolve_upstream, resolve_upstreams
from traceforge_shared.config import Config, UpstreamConfig


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gpt-4o", "openai"),
        ("o1-mini", "openai"),
        ("o3", "openai"),
        ("o4-mini", "openai"),
        ("chatgpt-4o-latest", "openai"),
        ("text-davinci-003", "openai"),
        ("claude-3-5-sonnet-20241022", "anthropic"),
        ("Claude-Opus-4-6", "anthropic"),  # case-insensitive
        ("gemini-2.5-flash", "gemini"),
        ("llama3.2", "ollama"),
        ("mistral-nemo", "ollama"),
        ("codellama:7b", "ollama"),
        ("phi4", "ollama"),
        ("qwen2.5-coder", "ollama"),
        ("gemma3", "ollama"),
        ("deepseek-r1:14b", "ollama"),
        ("grok-3-mini", "xai"),
        ("command-r-plus", "cohere"),
    ],
)
def test_default_patterns(model: str, provider: str) -> None:
    assert Router(Config()).route(model) == RouteChoice(provider, model)


def test_prefix_overrides_and_is_stripped() -> None:
    router = Router(Config())
    assert router.route("anthropic/claude-3-5-sonnet") == RouteChoice(
        "anthropic", "claude-3-5-sonnet"
    )
    assert router.route("ollama/gpt-oss:20b") == RouteChoice("ollama", "gpt-oss:20b")
    # A slash that is not a provider prefix is part of the model name.
    with pytest.raises(RoutingError):
        router.route("acme/Llama-3-8b")


def test_header_overrides_patterns() -> None:
    router = Router(Config())
    assert router.route("gpt-4o", "ollama") == RouteChoice("ollama", "gpt-4o")
    assert router.route("ollama/x", "Ollama") == RouteChoice("ollama", "x")
    with pytest.raises(RoutingError, match=r"unknown provider 'bedrock'.*X-TraceForge-Provider"):
        router.route("gpt-4o", "bedrock")


def test_unknown_model_lists_patterns_instead_of_guessing() -> None:
    with pytest.raises(RoutingError) as caught:
        Router(Config()).route("mystery-7b")
    message = str(caught.value)
    assert "no provider for model 'mystery-7b'" in message
    assert "anthropic: claude-*" in message
    assert "ollama: llama*, mistral*" in message
    assert "anthropic/mystery-7b" in message and "default_provider" in message


def test_configured_patterns_replace_defaults_and_default_provider() -> None:
    config = Config()
    config.upstreams["ollama"] = UpstreamConfig(models=["my-*"])
    config.proxy.default_provider = "openai"
    router = Router(config)
    assert router.route("my-model").provider == "ollama"
    assert router.route("llama3").provider == "openai"  # ollama's defaults are replaced
    assert router.route("whatever").provider == "openai"


def test_azure_deployments() -> None:
    config = Config()
    config.upstreams["azure"] = UpstreamConfig(
        base_url="https://res.openai.azure.com", deployments={"gpt-4o": "prod-4o"}
    )
    router = Router(config)
    assert router.route("gpt-4o") == RouteChoice("azure", "gpt-4o", "prod-4o")
    assert router.route("gpt-4o-mini").provider == "openai"
    with pytest.raises(RoutingError, match="no Azure deployment"):
        router.route("azure/gpt-4o-mini")


def test_upstreams_use_real_apis_only_with_keys() -> None:
    env = {"ANTHROPIC_API_KEY": "sk-ant-x", "GOOGLE_API_KEY": "g"}
    table = resolve_upstreams(Config(), env=env)
    assert table["anthropic"].base_url == "https://api.anthropic.com"
    assert table["anthropic"].api_key == "sk-ant-x" and not table["anthropic"].mock
    assert table["gemini"].base_url == "https://generativelanguage.googleapis.com"
    assert table["openai"].mock and table["cohere"].mock and table["ollama"].mock
    assert table["azure"].base_url is None and not table["azure"].mock
    assert table["openai"].inject_stream_usage and not table["anthropic"].inject_stream_usage


def test_ollama_host_and_configured_key_variable() -> None:
    ollama = resolve_upstream(Config(), "ollama", env={"OLLAMA_HOST": "10.0.0.5:11434"})
    assert ollama.base_url == "http://10.0.0.5:11434" and not ollama.mock
    config = Config()
    config.upstreams["cohere"] = UpstreamConfig(api_key_env="MY_COHERE")
    cohere = resolve_upstream(config, "cohere", env={"CO_API_KEY": "a", "MY_COHERE": "b"})
    assert cohere.api_key == "b"


def test_auth_headers_per_provider() -> None:
    def headers(provider: str) -> dict[str, str]:
        return resolve_upstream(Config(), provider, env={}).auth_headers("k")

    assert headers("openai") == {"Authorization": "Bearer k"}
    assert headers("anthropic") == {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    assert headers("gemini") == {"x-goog-api-key": "k"}
    assert headers("ollama") == {}
    assert headers("azure") == {"api-key": "k"}
    with pytest.raises(LookupError, match=r"upstreams\.azure\.base_url"):
        resolve_upstream(Config(), "azure", env={}).url_for("chat/completions")

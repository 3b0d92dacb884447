"""`get_provider` (names, models, prefixes) and `traceforge.client_config` (proxy or direct)."""

from __future__ import annotations

import pytest

from traceforge import Signal, client_config
from traceforge.client_config import resolve_endpoint
from traceforge.providers import StreamRequest, UnknownProviderError, get_provider
from traceforge_shared.providers import PROVIDER_SPECS


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(client_config.PROXY_URL_ENV, "")
    for spec in PROVIDER_SPECS.values():
        for name in spec.key_envs:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    client_config.reset_proxy_probe()


@pytest.mark.parametrize(
    ("name_or_model", "provider"),
    [
        ("anthropic", "anthropic"),
        ("claude-sonnet-4-5", "anthropic"),
        ("GPT-4o-mini", "openai"),
        ("grok-3-mini", "xai"),
        ("gemini-2.5-flash", "gemini"),
        ("llama3.2", "ollama"),
        ("command-r-plus", "cohere"),
        ("groq/llama-3.3-70b-versatile", "groq"),
    ],
)
def test_get_provider_by_name_model_or_prefix(name_or_model: str, provider: str) -> None:
    assert get_provider(name_or_model).name == provider


def test_unknown_model_lists_providers() -> None:
    with pytest.raises(UnknownProviderError, match="anthropic"):
        get_provider("no-such-model")


def test_direct_endpoint_from_registry_and_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_API_KEY", "xai-secret")
    endpoint = resolve_endpoint(PROVIDER_SPECS["xai"])
    assert endpoint.base_url == "https://api.x.ai/v1"
    assert endpoint.api_key == "xai-secret"
    assert not endpoint.via_proxy
    assert "xai-secret" not in repr(endpoint)


def test_proxy_env_routes_to_native_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(client_config.PROXY_URL_ENV, "http://127.0.0.1:9999/")
    assert resolve_endpoint(PROVIDER_SPECS["anthropic"]).base_url == (
        "http://127.0.0.1:9999/anthropic"
    )
    xai = resolve_endpoint(PROVIDER_SPECS["xai"])
    assert xai.base_url == "http://127.0.0.1:9999/xai/v1"
    assert xai.via_proxy
    explicit = resolve_endpoint(PROVIDER_SPECS["xai"], base_url="http://h/v1")
    assert explicit.base_url == "http://h/v1"
    assert not explicit.via_proxy
    direct = resolve_endpoint(PROVIDER_SPECS["xai"], use_proxy=False)
    assert direct.base_url == "https://api.x.ai/v1"


def test_ollama_host_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:11434")
    assert resolve_endpoint(PROVIDER_SPECS["ollama"]).base_url == "http://10.0.0.5:11434"


def test_provider_without_base_url_needs_one() -> None:
    with pytest.raises(ValueError, match="base_url"):
        resolve_endpoint(PROVIDER_SPECS["openai-compatible"])


async def test_request_needs_prompt_or_messages() -> None:
    provider = get_provider("openai", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="prompt or messages"):
        async for _ in provider.stream(StreamRequest(model="gpt-4o"), signal=Signal.never()):
            pass


async def test_available_models_falls_back_to_registry_globs() -> None:
    # Nothing listens on port 9 (discard): the models endpoint fails, the globs answer.
    provider = get_provider("openai", base_url="http://127.0.0.1:9/v1", api_key="k")
    models = await provider.available_models(signal=Signal.timeout(10))
    assert models == list(PROVIDER_SPECS["openai"].model_globs)

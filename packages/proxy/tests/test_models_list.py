"""``GET /v1/models`` merges every configured provider's list (the mock upstream serves each
provider's own list shape), tagged with its provider; ``/v1/models/{id}`` answers from the
provider the id routes to; a provider that fails is skipped and named, not fatal."""

from __future__ import annotations

import openai
import pytest

from traceforge_proxy.mock_upstream import create_mock_app
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import saved_traces
from traceforge_shared.config import Config, UpstreamConfig

from .conftest import MakeProxy, Sdk

#: Each provider's models, as the mock lists them in that provider's own shape.
EXPECTED = {
    "openai": ["gpt-4o-2024-08-06", "gpt-4.1-nano", "gpt-4o-mini", "text-embedding-3-small"],
    "anthropic": ["claude-sonnet-4-5-20250929", "claude-sonnet-4-20250514"],
    "gemini": ["gemini-3-pro-preview", "gemini-embedding-001"],
    "ollama": ["llama3.2:latest"],
    "xai": ["grok-3-mini", "grok-4"],
    "cohere": ["command-a-03-2025", "embed-v4.0"],
}


async def test_models_list_merges_every_provider(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    client = sdk(service)
    page = await client.models.list()
    by_provider: dict[str, list[str]] = {}
    for model in page.data:
        assert model.object == "model"
        # the proxy's extra field: openai's Model does not declare it
        assert model.owned_by == model.provider  # type: ignore[attr-defined]
        by_provider.setdefault(model.owned_by, []).append(model.id)
    assert by_provider == EXPECTED
    claude = next(m for m in page.data if m.id == "claude-sonnet-4-5-20250929")
    assert claude.created == 1759104000  # Anthropic's created_at, as epoch seconds

    (trace,) = await saved_traces(service)
    assert (trace.endpoint, trace.metadata.method, trace.metadata.status) == (
        "/v1/models",
        "GET",
        "success",
    )
    assert len(trace.response["data"]) == sum(len(v) for v in EXPECTED.values())
    assert "skipped" not in trace.response


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gpt-4o-mini", "openai"),
        ("claude-sonnet-4-5-20250929", "anthropic"),
        ("gemini-embedding-001", "gemini"),
        ("embed-v4.0", "cohere"),
        ("grok-4", "xai"),
    ],
)
async def test_models_retrieve_answers_from_the_routed_provider(  # type: ignore[no-untyped-def]
    make_proxy, sdk, model, provider
) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    got = await sdk(service).models.retrieve(model)
    assert (got.id, got.owned_by) == (model, provider)
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.model, trace.metadata.status) == (provider, model, "success")


async def test_models_retrieve_unknown_is_404(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    with pytest.raises(openai.NotFoundError, match="claude-nonexistent"):
        await sdk(service).models.retrieve("claude-nonexistent")
    (trace,) = await saved_traces(service)
    assert trace.metadata.status_code == 404 and trace.provider == "anthropic"
    assert trace.metadata.error is not None and trace.metadata.error.type == "model_not_found"


async def test_a_failing_provider_is_skipped_and_named(make_proxy: MakeProxy, sdk: Sdk) -> None:
    config = Config()
    # Nothing listens on port 9 (discard): the Gemini list cannot be fetched.
    config.upstreams["gemini"] = UpstreamConfig(base_url="http://127.0.0.1:9")
    # OpenAI on a real upstream (a second mock app): the providers configured are listed.
    service: ProxyService = await make_proxy(
        create_mock_app(delay_ms=0), default_provider=None, config=config
    )
    page = await sdk(service).models.list()
    assert {m.owned_by for m in page.data} == {"openai"}
    assert page.model_extra is not None
    skipped = page.model_extra["skipped"]
    assert [s["provider"] for s in skipped] == ["gemini"]
    (trace,) = await saved_traces(service)
    assert trace.metadata.status == "success"
    assert any(w.startswith("gemini models skipped") for w in trace.metadata.warnings)


async def test_mock_stand_ins_are_not_listed_beside_a_real_upstream(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    """With a real OpenAI upstream (here a second mock app, not the embedded one), the
    providers that only fall back to the embedded mock are not listed."""
    service: ProxyService = await make_proxy(create_mock_app(delay_ms=0), default_provider=None)
    page = await sdk(service).models.list()
    assert {m.owned_by for m in page.data} == {"openai"}
    assert [m.id for m in page.data] == EXPECTED["openai"]

"""Embeddings through the proxy, driven by the official SDKs against the mock upstream: the
OpenAI SDK's ``embeddings.create`` on the front door for OpenAI, Gemini, Ollama and Cohere
models (float and base64), and each provider's own SDK on its native route. Every answer is
compared with what the same or the provider's own SDK gets from the mock directly; every
call is one trace with the model, dimensions, count, usage and compacted vectors."""

from __future__ import annotations

import base64
import json
import struct

import cohere
import httpx
import ollama
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import saved_traces
from traceforge_shared.views.metadata import metadata_rows

from .conftest import MakeProxy, Sdk

TEXTS = ["Why is the sky blue?", "Why is the grass green?"]
#: One token per 4 characters, rounded up, per text (the mock's count): 20 and 23 characters.
MOCK_TOKENS = 5 + 6


def _mock_root(service: ProxyService) -> str:
    """The embedded mock upstream's address (the proxy forwards there)."""
    base = service.upstreams["anthropic"].base_url
    assert base is not None
    return base.removesuffix("/anthropic")


def _floats(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


async def _direct(service: ProxyService, provider: str, model: str) -> list[list[float]]:
    """The vectors the provider's own SDK gets for :data:`TEXTS` from the mock directly."""
    root = _mock_root(service)
    if provider == "openai":
        async with openai.AsyncOpenAI(base_url=f"{root}/v1", api_key="sk-x") as client:
            answer = await client.embeddings.create(model=model, input=TEXTS)
        return [item.embedding for item in answer.data]
    if provider == "gemini":
        gemini = genai.Client(
            api_key="AIza-test", http_options=genai_types.HttpOptions(base_url=f"{root}/gemini")
        )
        async with gemini.aio as aio:
            result = await aio.models.embed_content(model=model, contents=TEXTS)
        return [list(e.values or []) for e in result.embeddings or []]
    if provider == "ollama":
        async with ollama.AsyncClient(host=f"{root}/ollama") as local:
            embedded = await local.embed(model=model, input=TEXTS)
        return [list(v) for v in embedded.embeddings]
    async with httpx.AsyncClient() as http:
        co = cohere.AsyncClientV2(api_key="co-test", base_url=f"{root}/cohere", httpx_client=http)
        response = await co.embed(
            model=model, texts=TEXTS, input_type="search_document", embedding_types=["float"]
        )
    assert response.embeddings.float_ is not None
    return [list(v) for v in response.embeddings.float_]


@pytest.mark.parametrize(
    ("model", "provider", "route"),
    [
        ("text-embedding-3-small", "openai", "openai"),
        ("gemini-embedding-001", "gemini", "converted"),
        ("nomic-embed-text", "ollama", "converted"),
        ("embed-v4.0", "cohere", "converted"),
    ],
)
@pytest.mark.parametrize("encoding_format", ["float", "base64"])
async def test_openai_sdk_embeddings_for_every_provider(  # type: ignore[no-untyped-def]
    make_proxy, sdk, model, provider, route, encoding_format
) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    client = sdk(service)
    answer = await client.embeddings.create(
        model=model, input=TEXTS, encoding_format=encoding_format
    )
    if encoding_format == "float":
        vectors = [item.embedding for item in answer.data]
    else:  # the SDK returns base64 as the raw string when asked for it explicitly
        vectors = [_floats(item.embedding) for item in answer.data]
    direct = await _direct(service, provider, model)
    assert direct[0] != direct[1]  # each input its own vector
    # float32 precision: the OpenAI SDK asks for base64 unless told (the direct call).
    assert len(vectors) == len(direct)
    assert all(v == pytest.approx(d, rel=1e-6) for v, d in zip(vectors, direct, strict=True))
    assert [item.index for item in answer.data] == [0, 1]
    assert answer.usage.prompt_tokens == MOCK_TOKENS  # Gemini: estimated, same rule

    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == (provider, route, model)
    assert trace.metadata.status == "success"
    assert trace.request["input"] == TEXTS
    assert trace.response["embeddings"] == {"count": 2, "dimensions": 10}
    for item, vector in zip(trace.response["data"], direct, strict=True):
        stored = item["embedding"]
        assert stored["dimensions"] == 10 and stored["encoding_format"] == encoding_format
        assert stored["values"] == pytest.approx(vector[:8], rel=1e-6)
    rows = {row.label: row.value for row in metadata_rows(trace)}
    assert rows["Embeddings"] == "2 vectors of 10 dimensions"
    usage = trace.metadata.usage
    assert usage is not None and usage.completion_tokens == 0
    # Gemini reports no count: estimated from the texts (same rule as the mock's).
    assert usage.prompt_tokens == MOCK_TOKENS
    # genai-prices, USD per million input tokens: 0.02, 0.15, local, 0.12.
    per_million = {"openai": 0.02, "gemini": 0.15, "ollama": 0.0, "cohere": 0.12}[provider]
    assert trace.metadata.cost_usd == pytest.approx(MOCK_TOKENS * per_million / 1e6)
    if route == "converted":
        assert trace.native is not None and trace.native.request is not None
        assert trace.native.endpoint in (
            "/v1beta/models/gemini-embedding-001:batchEmbedContents",
            "/api/embed",
            "/v2/embed",
        )


async def test_dimensions_are_sent_in_each_providers_terms(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    client = sdk(service)
    for model in ("gemini-embedding-001", "all-minilm", "embed-v4.0", "text-embedding-3-small"):
        answer = await client.embeddings.create(model=model, input="hello", dimensions=4)
        assert len(answer.data[0].embedding) == 4
    traces = await saved_traces(service, 4)
    natives = [t.native.request if t.native else t.request for t in traces]
    assert natives[0]["requests"][0]["outputDimensionality"] == 4
    assert natives[1]["dimensions"] == 4
    assert natives[2]["output_dimension"] == 4
    assert natives[3]["dimensions"] == 4
    assert all(t.response["embeddings"]["dimensions"] == 4 for t in traces)


async def test_trace_keeps_configured_number_of_values(make_proxy: MakeProxy, sdk: Sdk) -> None:
    from traceforge_shared.config import Config

    config = Config()
    config.storage.embedding_values = 3
    service: ProxyService = await make_proxy(default_provider=None, config=config)
    await sdk(service).embeddings.create(model="nomic-embed-text", input="x")
    (trace,) = await saved_traces(service)
    assert len(trace.response["data"][0]["embedding"]["values"]) == 3
    # The native answer's vectors are compacted too.
    assert trace.native is not None
    native = trace.native.response["embeddings"][0]
    assert native["dimensions"] == 10
    assert native["values"] == pytest.approx(trace.response["data"][0]["embedding"]["values"])


async def test_bad_input_is_a_400_in_openai_shape(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    client = sdk(service)
    with pytest.raises(openai.BadRequestError, match="token arrays"):
        await client.embeddings.create(model="embed-v4.0", input=[[1, 2, 3]])
    with pytest.raises(openai.BadRequestError, match="no embeddings API"):
        await client.embeddings.create(model="claude-sonnet-4-5", input="x")
    first, second = await saved_traces(service, 2)
    assert (first.metadata.status_code, second.metadata.status_code) == (400, 400)


# -- native routes: each provider's own SDK ------------------------------------------------------


async def test_google_genai_embed_content_native(make_proxy: MakeProxy) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    base = service.url.removesuffix("/v1")
    client = genai.Client(
        api_key="AIza-test", http_options=genai_types.HttpOptions(base_url=f"{base}/gemini")
    )
    async with client.aio as aio:
        result = await aio.models.embed_content(
            model="gemini-embedding-001",
            contents=TEXTS,
            config=genai_types.EmbedContentConfig(output_dimensionality=6),
        )
    got = [list(e.values or []) for e in result.embeddings or []]
    direct = await _direct(service, "gemini", "gemini-embedding-001")
    assert got == [v[:6] for v in direct]
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == (
        "gemini",
        "passthrough",
        "gemini-embedding-001",
    )
    assert trace.request == {"model": "gemini-embedding-001", "input": TEXTS, "dimensions": 6}
    assert trace.response["embeddings"] == {"count": 2, "dimensions": 6}
    assert trace.metadata.usage is not None and trace.metadata.usage.prompt_tokens == MOCK_TOKENS


async def test_ollama_sdk_embed_native(make_proxy: MakeProxy) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    base = service.url.removesuffix("/v1")
    async with ollama.AsyncClient(host=f"{base}/ollama") as local:
        got = await local.embed(model="all-minilm", input=TEXTS)
    direct = await _direct(service, "ollama", "all-minilm")
    assert [list(v) for v in got.embeddings] == direct
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == ("ollama", "passthrough", "all-minilm")
    assert trace.native is not None and trace.native.endpoint == "/api/embed"
    assert trace.response["embeddings"] == {"count": 2, "dimensions": 10}
    assert trace.metadata.usage is not None and trace.metadata.usage.prompt_tokens == MOCK_TOKENS
    assert trace.metadata.cost_usd == 0.0  # local


async def test_cohere_sdk_embed_native(make_proxy: MakeProxy) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    base = service.url.removesuffix("/v1")
    async with httpx.AsyncClient() as http:
        co = cohere.AsyncClientV2(api_key="co-test", base_url=f"{base}/cohere", httpx_client=http)
        response = await co.embed(
            model="embed-v4.0", texts=TEXTS, input_type="search_document", embedding_types=["float"]
        )
    assert response.embeddings.float_ is not None
    assert [list(v) for v in response.embeddings.float_] == await _direct(
        service, "cohere", "embed-v4.0"
    )
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == ("cohere", "passthrough", "embed-v4.0")
    assert trace.response["embeddings"] == {"count": 2, "dimensions": 10}
    usage = trace.metadata.usage
    assert usage is not None and usage.prompt_tokens == MOCK_TOKENS


async def test_provider_errors_reach_the_openai_client_in_openai_shape(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    # The mock's model-not-found for Ollama (404 {"error": "model '...' not found"}).
    with pytest.raises(openai.NotFoundError, match="not found"):
        await sdk(service).embeddings.create(model="ollama/mock-404", input="x")
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.metadata.status) == ("ollama", "converted", "error")
    assert trace.native is not None and trace.native.response == {
        "error": "model 'llama3.3:70b' not found"
    }


async def test_secrets_in_the_input_are_redacted_in_the_trace(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    secret = "sk-proj-Tf4kePlAnted0123456789abcdefGHIJ"
    service: ProxyService = await make_proxy(default_provider=None)
    answer = await sdk(service).embeddings.create(
        model="embed-v4.0", input=[f"my key is {secret}"], encoding_format="float"
    )
    assert len(answer.data[0].embedding) == 10  # the client's call is untouched
    (trace,) = await saved_traces(service)
    assert secret not in json.dumps(trace.request) + json.dumps(trace.native.request)  # type: ignore[union-attr]
    assert any(field.startswith("request.input") for field in trace.metadata.redacted_fields)

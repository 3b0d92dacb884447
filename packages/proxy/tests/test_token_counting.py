"""Token counting and model details on the providers' native routes, through the proxy, with
their official SDKs against the mock upstream: Anthropic ``messages.count_tokens``, Gemini
``models.count_tokens`` (google-genai) and Ollama ``show`` (litellm calls it before a chat).
Each answer equals the SDK's against the mock directly; each call is one trace naming the
endpoint, the model and the count."""

from __future__ import annotations

import aiohttp
import anthropic
import ollama
import pytest
from google import genai
from google.genai import types as genai_types
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import saved_traces

from .conftest import MakeProxy

ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello, how are you?"}]
SYSTEM = "Be nice."


def _roots(service: ProxyService) -> tuple[str, str]:
    """(the proxy's root, the mock upstream's root)."""
    mock = service.upstreams["anthropic"].base_url
    assert mock is not None
    return service.url.removesuffix("/v1"), mock.removesuffix("/anthropic")


async def _anthropic_count(base: str) -> int:
    async with anthropic.AsyncAnthropic(
        base_url=f"{base}/anthropic", api_key="sk-ant-test", max_retries=0
    ) as client:
        counted = await client.messages.count_tokens(
            model="claude-sonnet-4-5",
            system=SYSTEM,
            messages=ASK,  # type: ignore[arg-type]
        )
    return counted.input_tokens


async def test_anthropic_count_tokens(make_proxy: MakeProxy) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    proxy, mock = _roots(service)
    count = await _anthropic_count(proxy)
    # "Hello, how are you?" (19 characters) and "Be nice." (8): 5 + 2 (the mock's count).
    assert count == await _anthropic_count(mock) == 7
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == (
        "anthropic",
        "passthrough",
        "claude-sonnet-4-5",
    )
    assert trace.endpoint == "/anthropic/v1/messages/count_tokens"
    assert trace.response == {"input_tokens": 7}
    assert trace.metadata.status == "success" and trace.metadata.cost_usd is None


async def _gemini_count(base: str) -> int | None:
    client = genai.Client(
        api_key="AIza-test", http_options=genai_types.HttpOptions(base_url=f"{base}/gemini")
    )
    async with client.aio as aio:
        counted = await aio.models.count_tokens(
            model="gemini-2.5-flash", contents="What is the capital of France?"
        )
    return counted.total_tokens


async def test_google_genai_count_tokens(make_proxy: MakeProxy) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    proxy, mock = _roots(service)
    count = await _gemini_count(proxy)
    assert count == await _gemini_count(mock) == 8  # 30 characters
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == (
        "gemini",
        "passthrough",
        "gemini-2.5-flash",
    )
    assert trace.endpoint.endswith("/models/gemini-2.5-flash:countTokens")
    assert trace.response["totalTokens"] == 8


async def test_ollama_show(make_proxy: MakeProxy) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    proxy, mock = _roots(service)
    async with ollama.AsyncClient(host=f"{proxy}/ollama") as client:
        shown = await client.show("llama3.2")
    async with ollama.AsyncClient(host=f"{mock}/ollama") as client:
        direct = await client.show("llama3.2")
    assert shown == direct
    assert shown.modelinfo is not None
    assert shown.modelinfo["llama.context_length"] == 8192
    assert shown.details is not None and shown.details.family == "llama"
    (trace,) = await saved_traces(service)
    assert (trace.provider, trace.route, trace.model) == ("ollama", "passthrough", "llama3.2")
    assert trace.endpoint == "/ollama/api/show"
    assert trace.response["details"]["parameter_size"] == "8.0B"


async def test_ollama_show_unknown_model_is_404(make_proxy: MakeProxy) -> None:
    service: ProxyService = await make_proxy(default_provider=None)
    proxy, _ = _roots(service)
    async with ollama.AsyncClient(host=f"{proxy}/ollama") as client:
        with pytest.raises(ollama.ResponseError) as caught:
            await client.show("mock-404")
    assert caught.value.status_code == 404
    (trace,) = await saved_traces(service)
    assert trace.metadata.status == "error" and trace.metadata.status_code == 404


async def test_ollama_show_takes_the_deprecated_name_field(make_proxy: MakeProxy) -> None:
    """litellm posts ``{"name": ...}`` to ``/api/show``; Ollama still accepts it for
    ``model``, so the mock does too (it answered 400 ``model is required``)."""
    service: ProxyService = await make_proxy(default_provider=None)
    proxy, _ = _roots(service)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy}/ollama/api/show", json={"name": "llama3.2"}) as resp,
    ):
        assert resp.status == 200
        body = await resp.json()
    assert body["details"]["family"] == "llama"
    (trace,) = await saved_traces(service)
    assert trace.metadata.status == "success"

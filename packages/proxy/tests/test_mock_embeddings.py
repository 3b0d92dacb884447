"""The mock upstream's embeddings, model-list, token-count and model-detail routes, called
over HTTP as each provider's API is: shapes, the documented vectors, and each provider's
400/404 answers."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from traceforge_proxy.mock_upstream import create_mock_app, transcript_bytes

#: The documented Ollama /api/embed answer the mock's vectors come from.
DOC_VECTORS: list[list[float]] = json.loads(transcript_bytes("ollama/embed.json"))["embeddings"]


@pytest.fixture
async def mock() -> AsyncIterator[str]:
    runner = web.AppRunner(create_mock_app(delay_ms=0))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def _post(mock: str, path: str, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(mock + path, json=body) as resp:
        return resp.status, await resp.json(content_type=None)


async def _get(mock: str, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(mock + path) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_openai_embeddings_float_and_base64(mock: str) -> None:
    body = {"model": "text-embedding-3-small", "input": ["a", "bb", "ccc"], "dimensions": 4}
    status, answer = await _post(mock, "/v1/embeddings", body)
    assert status == 200
    assert [item["embedding"] for item in answer["data"]] == [
        DOC_VECTORS[0][:4],
        DOC_VECTORS[1][:4],
        DOC_VECTORS[0][:4],
    ]
    assert answer["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    _, encoded = await _post(mock, "/v1/embeddings", {**body, "encoding_format": "base64"})
    raw = base64.b64decode(encoded["data"][1]["embedding"])
    assert list(struct.unpack("<4f", raw)) == pytest.approx(DOC_VECTORS[1][:4], rel=1e-6)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/embeddings", {"model": "m", "input": []}),
        ("/v1/embeddings", {"model": "m", "input": "x", "encoding_format": "int8"}),
        ("/cohere/v2/embed", {"model": "embed-v4.0", "texts": ["x"]}),  # no input_type
        ("/gemini/v1beta/models/gemini-embedding-001:batchEmbedContents", {"requests": []}),
        ("/gemini/v1beta/models/gemini-embedding-001:countTokens", {"contents": []}),
        ("/anthropic/v1/messages/count_tokens", {"model": "claude-sonnet-4-5"}),
        ("/ollama/api/embed", {"model": "all-minilm"}),
    ],
)
async def test_bad_requests_are_400(mock: str, path: str, body: Any) -> None:
    status, _ = await _post(mock, path, body)
    assert status == 400


async def test_gemini_embed_content_and_batch(mock: str) -> None:
    one = {"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 3}
    status, answer = await _post(
        mock, "/gemini/v1beta/models/gemini-embedding-001:embedContent", one
    )
    assert (status, answer) == (200, {"embedding": {"values": DOC_VECTORS[0][:3]}})
    batch = {"requests": [{"content": {"parts": [{"text": t}]}} for t in ("a", "b")]}
    _, answer = await _post(
        mock, "/gemini/v1/models/gemini-embedding-001:batchEmbedContents", batch
    )
    assert answer == {"embeddings": [{"values": DOC_VECTORS[0]}, {"values": DOC_VECTORS[1]}]}


async def test_ollama_embed_is_the_documented_answer(mock: str) -> None:
    body = {"model": "all-minilm", "input": ["Why is the sky blue?", "Why is the grass green?"]}
    status, answer = await _post(mock, "/ollama/api/embed", body)
    assert status == 200
    assert answer["embeddings"] == DOC_VECTORS and answer["model"] == "all-minilm"
    _, legacy = await _post(mock, "/ollama/api/embeddings", {"model": "all-minilm", "prompt": "x"})
    assert legacy == {"embedding": DOC_VECTORS[0]}
    status, _ = await _post(mock, "/ollama/api/embed", {"model": "mock-404", "input": "x"})
    assert status == 404


@pytest.mark.parametrize(
    ("path", "key", "first"),
    [
        ("/v1/models", "data", "gpt-4o-2024-08-06"),
        ("/anthropic/v1/models", "data", "claude-sonnet-4-5-20250929"),
        ("/gemini/v1beta/models", "models", "models/gemini-3-pro-preview"),
        ("/cohere/v1/models", "models", "command-a-03-2025"),
        ("/xai/v1/models", "data", "grok-3-mini"),
        ("/ollama/api/tags", "models", "llama3.2:latest"),
    ],
)
async def test_model_lists_in_each_providers_shape(
    mock: str, path: str, key: str, first: str
) -> None:
    status, answer = await _get(mock, path)
    assert status == 200
    item = answer[key][0]
    assert item.get("id", item.get("name")) == first


async def test_single_models_and_unknown_ones(mock: str) -> None:
    assert (await _get(mock, "/v1/models/gpt-4o-mini"))[1]["id"] == "gpt-4o-mini"
    assert (await _get(mock, "/v1/models/nope"))[0] == 404
    assert (await _get(mock, "/anthropic/v1/models/claude-sonnet-4-20250514"))[0] == 200
    assert (await _get(mock, "/anthropic/v1/models/nope"))[0] == 404
    status, model = await _get(mock, "/gemini/v1beta/models/gemini-embedding-001")
    assert (status, model["supportedGenerationMethods"][0]) == (200, "embedContent")
    assert (await _get(mock, "/gemini/v1beta/models/nope"))[0] == 404


async def test_counts_and_show(mock: str) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "12345678"}]}]
    body = {"model": "claude-sonnet-4-5", "messages": messages, "system": "1234"}
    assert await _post(mock, "/anthropic/v1/messages/count_tokens", body) == (
        200,
        {"input_tokens": 3},
    )
    contents = {"contents": [{"role": "user", "parts": [{"text": "12345"}]}]}
    status, counted = await _post(
        mock, "/gemini/v1beta/models/gemini-2.5-flash:countTokens", contents
    )
    assert (status, counted["totalTokens"]) == (200, 2)
    status, shown = await _post(mock, "/ollama/api/show", {"model": "llama3.2"})
    assert status == 200
    assert shown["model_info"]["general.architecture"] == "llama"
    assert shown["capabilities"] == ["completion", "tools"]

"""Embeddings routes of the mock upstream, for every provider that has an embeddings API.

The vectors are the two 10-dimension vectors of Ollama's documented ``/api/embed`` example
(``data/ollama/embed.json``, from ollama ``docs/api.md``): input ``i`` gets vector ``i % 2``.
A requested dimension count cuts them (or, above 10, repeats their values: constructed).
Token counts are the mock's estimate (one per 4 characters of each text, rounded up); the
answers' shapes follow each provider's API reference.

- ``POST /v1/embeddings`` (also ``/openai/...``, ``/xai/v1/...``;
  https://platform.openai.com/docs/api-reference/embeddings): ``input`` string or list,
  ``dimensions``, ``encoding_format`` ``float`` | ``base64`` (float32 little-endian).
- Gemini ``models/{model}:embedContent`` / ``:batchEmbedContents``
  (https://ai.google.dev/api/embeddings), ``outputDimensionality``; dispatched from
  :mod:`.gemini`.
- ``POST /ollama/api/embed`` (``input``, ``dimensions``) and the legacy
  ``/ollama/api/embeddings`` (``prompt``; one ``embedding``).
- ``POST /cohere/v2/embed`` (https://docs.cohere.com/reference/embed): ``texts``,
  ``input_type`` (required), ``embedding_types`` (``float`` served; default ``float``),
  ``output_dimension``.

Bad requests get 400 in the provider's error shape.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from traceforge_proxy.mock_upstream import replay
from traceforge_proxy.mock_upstream.ollama import checked_body, ollama_json
from traceforge_proxy.mock_upstream.openai_chat import openai_error
from traceforge_proxy.providers.embeddings import openai_embeddings

#: The documented Ollama ``/api/embed`` answer the vectors come from.
OLLAMA_EMBED = "ollama/embed.json"
#: OpenAI-format prefixes served (OpenAI itself and xAI's mock base).
OPENAI_PREFIXES = ("", "/openai", "/xai")


def mock_tokens(texts: list[str]) -> int:
    """The mock's token count for ``texts``: one per 4 characters of each, rounded up."""
    return sum(max(1, math.ceil(len(text) / 4)) for text in texts)


def mock_vectors(count: int, dimensions: int | None = None) -> list[list[float]]:
    """``count`` vectors: the documented ones in turn, cut or repeated to ``dimensions``."""
    base: list[list[float]] = replay.transcript_json(OLLAMA_EMBED)["embeddings"]
    out = []
    for i in range(count):
        vector = base[i % len(base)]
        size = dimensions or len(vector)
        out.append([vector[j % len(vector)] for j in range(size)])
    return out


def _text_list(value: Any) -> list[str] | None:
    texts = [value] if isinstance(value, str) else value
    if isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts):
        return texts
    return None


def _dimensions(value: Any) -> int | str | None:
    """A requested dimension count; ``"bad"`` when it is not a positive integer."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return "bad"


def gemini_embed(model: str, method: str, body: Any) -> tuple[int, Any]:
    """The answer (status, body) to Gemini ``embedContent`` (``method``) or
    ``batchEmbedContents`` for ``model``."""
    items = body.get("requests") if isinstance(body, dict) else None
    if method == "embedContent":
        items = [body]
    if not isinstance(items, list) or not items:
        return 400, "* BatchEmbedContentsRequest.requests: requests is not specified\n"
    vectors = []
    for i, item in enumerate(items):
        parts = replay.dig_list(item, "content", "parts")
        if not parts:
            return 400, "* EmbedContentRequest.content: contents is not specified\n"
        dims = _dimensions(item.get("outputDimensionality"))
        if dims == "bad":
            return 400, "* EmbedContentRequest.output_dimensionality: must be positive\n"
        size = dims if isinstance(dims, int) else None
        vectors.append({"values": mock_vectors(i + 1, size)[i]})
    if method == "embedContent":
        return 200, {"embedding": vectors[0]}
    del model  # the answer does not name it
    return 200, {"embeddings": vectors}


def add_embedding_routes(app: web.Application) -> None:
    """Add the OpenAI, Ollama and Cohere embeddings routes (Gemini's are in :mod:`.gemini`)."""

    async def openai(request: web.Request) -> web.Response:
        try:
            body = await replay.read_json(request)
        except replay.InvalidJSON:
            return openai_error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return openai_error(400, "you must provide a model parameter")
        texts = _text_list(body.get("input"))
        if texts is None:
            return openai_error(400, "'input' : input must be a string or a list of strings")
        dims = _dimensions(body.get("dimensions"))
        encoding = body.get("encoding_format", "float")
        if dims == "bad" or encoding not in ("float", "base64"):
            return openai_error(400, "invalid 'dimensions' or 'encoding_format'")
        answer = openai_embeddings(
            mock_vectors(len(texts), dims if isinstance(dims, int) else None),
            model=body["model"],
            prompt_tokens=mock_tokens(texts),
            encoding_format=encoding,
        )
        return replay.json_response(answer)

    async def ollama(request: web.Request) -> web.Response:
        body = await checked_body(request)
        if isinstance(body, web.Response):
            return body
        legacy = request.path.endswith("/embeddings")
        texts = _text_list(body.get("prompt" if legacy else "input"))
        dims = _dimensions(body.get("dimensions"))
        if texts is None or dims == "bad":
            field = "prompt" if legacy else "input"
            return ollama_json({"error": f"invalid {field} or dimensions"}, status=400)
        vectors = mock_vectors(len(texts), dims if isinstance(dims, int) else None)
        if legacy:
            return ollama_json({"embedding": vectors[0]})
        return ollama_json(
            {
                "model": body["model"],
                "embeddings": vectors,
                "total_duration": 14143917,
                "load_duration": 1019500,
                "prompt_eval_count": mock_tokens(texts),
            }
        )

    async def cohere(request: web.Request) -> web.Response:
        body, problem = await replay.read_checked(
            request, _cohere_problem, not_json="invalid request: the body is not valid JSON"
        )
        if problem is not None:
            return replay.json_response({"message": problem}, status=400)
        texts = body["texts"]
        dims = body.get("output_dimension")
        vectors = mock_vectors(len(texts), dims)
        return replay.json_response(
            {
                "id": "5807ee2e-0cda-445a-9ec8-864c60a06606",
                "embeddings": {"float": vectors},
                "texts": texts,
                "meta": {
                    "api_version": {"version": "2"},
                    "billed_units": {"input_tokens": mock_tokens(texts)},
                },
                "response_type": "embeddings_by_type",
            }
        )

    for prefix in OPENAI_PREFIXES:
        app.router.add_post(f"{prefix}/v1/embeddings", openai)
    app.router.add_post("/ollama/api/embed", ollama)
    app.router.add_post("/ollama/api/embeddings", ollama)
    app.router.add_post("/cohere/v2/embed", cohere)


def _cohere_problem(body: Any) -> str | None:
    """What the mock rejects in a v2 embed request, or ``None``."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return "invalid request: model must be specified"
    if _text_list(body.get("texts")) is None:
        return "invalid request: texts must be a non-empty list of strings"
    if body.get("input_type") is None:
        return "invalid request: input_type must be specified"
    if set(body.get("embedding_types") or ["float"]) != {"float"}:
        return "invalid request: the TraceForge mock serves embedding_types ['float'] only"
    dims = _dimensions(body.get("output_dimension"))
    if dims == "bad":
        return "invalid request: output_dimension must be a positive integer"
    return None

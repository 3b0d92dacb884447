"""Model lists, token counting and model details of the mock upstream, per provider.

The lists are constructed in each API's documented shape, naming the models of the recorded
transcripts and one embedding model per provider; dates and limits are illustrative. Token
counts are the mock's estimate (:func:`~.embeddings.mock_tokens` of the request's texts).

- ``GET /anthropic/v1/models`` (https://docs.anthropic.com/en/api/models-list):
  ``{"data": [{"type": "model", "id", "display_name", "created_at"}], "has_more", "first_id",
  "last_id"}``; ``GET /anthropic/v1/models/{id}`` one of them (404 ``not_found_error``).
- ``POST /anthropic/v1/messages/count_tokens``
  (https://docs.anthropic.com/en/api/messages-count-tokens): ``{"input_tokens"}``; 400
  ``invalid_request_error`` without ``model`` or ``messages``.
- ``GET /gemini/{v1beta,v1}/models`` (https://ai.google.dev/api/models): ``{"models": [{"name":
  "models/...", "displayName", "inputTokenLimit", "outputTokenLimit",
  "supportedGenerationMethods"}]}``; ``GET .../models/{model}`` one of them.
- Gemini ``models/{model}:countTokens`` (https://ai.google.dev/api/tokens): ``{"totalTokens",
  "promptTokensDetails"}``; dispatched from :mod:`.gemini`.
- ``POST /ollama/api/show``: the documented example answer of ollama ``docs/api.md`` ("Show
  Model Information"; its ``// populates if verbose`` comments removed) with ``capabilities``
  added (newer servers send it); ``mock-404`` → the recorded 404.
- ``GET /cohere/v1/models`` (https://docs.cohere.com/reference/list-models): ``{"models":
  [{"name", "endpoints", "finetuned", "context_length"}]}``.
- ``GET /xai/v1/models``: OpenAI's list shape.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from traceforge_proxy.mock_upstream import replay
from traceforge_proxy.mock_upstream.embeddings import mock_tokens
from traceforge_proxy.mock_upstream.ollama import JSON_CONTENT_TYPE, checked_body

ANTHROPIC_MODELS: list[dict[str, Any]] = [
    {
        "type": "model",
        "id": "claude-sonnet-4-5-20250929",
        "display_name": "Claude Sonnet 4.5",
        "created_at": "2025-09-29T00:00:00Z",
    },
    {
        "type": "model",
        "id": "claude-sonnet-4-20250514",
        "display_name": "Claude Sonnet 4",
        "created_at": "2025-05-22T00:00:00Z",
    },
]
GEMINI_MODELS: list[dict[str, Any]] = [
    {
        "name": "models/gemini-3-pro-preview",
        "version": "3-pro-preview-11-2025",
        "displayName": "Gemini 3 Pro Preview",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    },
    {
        "name": "models/gemini-embedding-001",
        "version": "001",
        "displayName": "Gemini Embedding 001",
        "inputTokenLimit": 2048,
        "outputTokenLimit": 1,
        "supportedGenerationMethods": ["embedContent", "countTextTokens", "countTokens"],
    },
]
COHERE_MODELS: dict[str, Any] = {
    "models": [
        {
            "name": "command-a-03-2025",
            "endpoints": ["chat"],
            "finetuned": False,
            "context_length": 256000,
        },
        {
            "name": "embed-v4.0",
            "endpoints": ["embed"],
            "finetuned": False,
            "context_length": 128000,
        },
    ]
}
XAI_MODELS = ["grok-3-mini", "grok-4"]
#: The documented ``/api/show`` answer (ollama ``docs/api.md``), ``capabilities`` added.
OLLAMA_SHOW = "ollama/show.json"


def texts_in(value: Any) -> list[str]:
    """Every string of a ``text`` or ``content`` field in ``value``, at any depth (the texts a
    token count counts)."""
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("text", "content", "system") and isinstance(item, str):
                out.append(item)
            else:
                out.extend(texts_in(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(texts_in(item))
    return out


def gemini_count_tokens(body: Any) -> tuple[int, Any]:
    """The answer (status, body) to Gemini ``countTokens``: ``contents`` or
    ``generateContentRequest.contents``."""
    contents = replay.dig_list(body, "contents") or replay.dig_list(
        body, "generateContentRequest", "contents"
    )
    if not contents:
        return 400, "* CountTokensRequest.contents: contents is not specified\n"
    total = mock_tokens(texts_in(contents))
    return 200, {
        "totalTokens": total,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}],
    }


def gemini_model(name: str) -> dict[str, Any] | None:
    """The listed Gemini model ``name`` (``gemini-...`` or ``models/gemini-...``)."""
    wanted = name if name.startswith("models/") else f"models/{name}"
    return next((m for m in GEMINI_MODELS if m["name"] == wanted), None)


def _anthropic_error(status: int, kind: str, message: str) -> web.Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return replay.json_response(body, status=status)


def add_catalog_routes(app: web.Application) -> None:
    """Add the model lists, Anthropic ``count_tokens``, Ollama ``/api/show`` (Gemini's
    ``countTokens`` and model routes are in :mod:`.gemini`)."""

    async def anthropic_models(_: web.Request) -> web.Response:
        return replay.json_response(
            {
                "data": ANTHROPIC_MODELS,
                "has_more": False,
                "first_id": ANTHROPIC_MODELS[0]["id"],
                "last_id": ANTHROPIC_MODELS[-1]["id"],
            }
        )

    async def anthropic_model(request: web.Request) -> web.Response:
        wanted = request.match_info["model"]
        found = next((m for m in ANTHROPIC_MODELS if m["id"] == wanted), None)
        if found is None:
            return _anthropic_error(404, "not_found_error", f"model: {wanted}")
        return replay.json_response(found)

    async def count_tokens(request: web.Request) -> web.Response:
        try:
            body = await replay.read_json(request)
        except replay.InvalidJSON:
            return _anthropic_error(400, "invalid_request_error", "invalid JSON body")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return _anthropic_error(400, "invalid_request_error", "model: Field required")
        if not replay.has_items(body.get("messages")):
            return _anthropic_error(400, "invalid_request_error", "messages: Field required")
        texts = texts_in(body.get("messages")) + texts_in({"system": body.get("system")})
        return replay.json_response({"input_tokens": mock_tokens(texts)})

    async def ollama_show(request: web.Request) -> web.Response:
        body = await checked_body(request, name_alias=True)
        if isinstance(body, web.Response):
            return body
        return replay.file_response(OLLAMA_SHOW, content_type=JSON_CONTENT_TYPE)

    async def cohere_models(_: web.Request) -> web.Response:
        return replay.json_response(COHERE_MODELS)

    async def xai_models(_: web.Request) -> web.Response:
        data = [
            {"id": m, "object": "model", "created": 1743724800, "owned_by": "xai"}
            for m in XAI_MODELS
        ]
        return replay.json_response({"object": "list", "data": data})

    app.router.add_get("/anthropic/v1/models", anthropic_models)
    app.router.add_get("/anthropic/v1/models/{model}", anthropic_model)
    app.router.add_post("/anthropic/v1/messages/count_tokens", count_tokens)
    app.router.add_post("/ollama/api/show", ollama_show)
    app.router.add_get("/cohere/v1/models", cohere_models)
    app.router.add_get("/xai/v1/models", xai_models)

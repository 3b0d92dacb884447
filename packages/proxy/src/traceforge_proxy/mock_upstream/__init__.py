"""A fake LLM upstream that replays real recorded wire transcripts, for every provider.

It is TraceForge's default upstream when no provider key is set (``traceforge demo``,
``traceforge start`` without ``OPENAI_API_KEY``), and what the tests use. The proxy forwards a
provider without a key here, under a path prefix per provider. Streams are sent event by event
(SSE) or line by line (NDJSON), one write each, byte for byte as recorded, ``delay_ms`` apart
(the recordings carry no timing). The transcripts and their sources: ``data/README.md``.

Routes (details in each provider's module):

OpenAI (:mod:`.openai_chat`), at the root and under ``/openai``:
  - ``POST /v1/chat/completions``, ``POST /openai/v1/chat/completions``: recorded SSE streams
    (text, 2026 long text for ``gpt-4.1*``, one or parallel tool calls; the usage chunk only
    with ``stream_options.include_usage``) or the recorded ``chat.completion`` body; models
    ``mock-401`` / ``mock-429`` → those errors.
  - ``GET /v1/models``, ``GET /openai/v1/models``: a model list.
Anthropic (:mod:`.anthropic`):
  - ``POST /anthropic/v1/messages``: recorded text / tool-use streams or the recorded message;
    ``mock-401``, ``mock-529``, ``mock-overloaded-stream`` (in-band ``event: error``); 400s in
    Anthropic's error shape (a role other than user/assistant/system, ...); a ``request-id``
    header.
Gemini (:mod:`.gemini`):
  - ``POST /gemini/v1beta/models/{model}:generateContent``: the recorded response.
  - ``POST /gemini/v1beta/models/{model}:streamGenerateContent?alt=sse``: recorded CRLF-framed
    text / function-call streams (400 without ``alt=sse``); ``mock-429``; 400s in Google's
    shape. Both also under ``/gemini/v1/`` (``google-genai`` 3.x's default version).
Ollama (:mod:`.ollama`):
  - ``POST /ollama/api/chat``: recorded NDJSON text / tool-call streams (streaming is the
    default); with ``"stream": false`` a body assembled from the stream.
  - ``POST /ollama/api/generate``: the recorded NDJSON stream (or assembled body).
  - ``GET /ollama/api/tags``: a model list. ``mock-404`` → model not found.
Cohere (:mod:`.cohere`):
  - ``POST /cohere/v2/chat``: recorded text / tool-call streams or the recorded body.
Embeddings (:mod:`.embeddings`): ``POST /v1/embeddings`` (also ``/openai``, ``/xai``), Gemini
``:embedContent`` / ``:batchEmbedContents``, ``POST /ollama/api/embed`` (and the legacy
``/api/embeddings``), ``POST /cohere/v2/embed``.
Model lists, token counts, model details (:mod:`.catalog`): ``GET /anthropic/v1/models``,
``POST /anthropic/v1/messages/count_tokens``, ``GET /gemini/{v1beta,v1}/models``, Gemini
``:countTokens``, ``POST /ollama/api/show``, ``GET /cohere/v1/models``, ``GET /xai/v1/models``,
``GET /v1/models/{id}``.
OpenAI Responses API (:mod:`.openai_responses`), at the root, under ``/openai`` and ``/xai``:
  - ``POST /v1/responses``: recorded text / function-call / reasoning streams (named events)
    or the recorded ``response``; ``GET``/``DELETE /v1/responses/{id}`` for the responses it
    served, ``GET .../input_items``, ``POST .../cancel`` (400).
xAI (:mod:`.xai`):
  - ``POST /xai/v1/chat/completions``: recorded reasoning / tool-call streams; without
    ``stream`` a ``chat.completion`` assembled from the stream.

Anything else: 404 in OpenAI's error shape.
"""

from __future__ import annotations

from aiohttp import web

from traceforge_proxy.mock_upstream.anthropic import add_anthropic_routes
from traceforge_proxy.mock_upstream.catalog import add_catalog_routes
from traceforge_proxy.mock_upstream.cohere import add_cohere_routes
from traceforge_proxy.mock_upstream.embeddings import add_embedding_routes
from traceforge_proxy.mock_upstream.gemini import add_gemini_routes
from traceforge_proxy.mock_upstream.ollama import add_ollama_routes
from traceforge_proxy.mock_upstream.openai_chat import (
    COMPLETION,
    ERRORS,
    LONG_TEXT_STREAM,
    PARALLEL_TOOL_STREAM,
    TEXT_STREAM,
    TOOL_STREAM,
    add_openai_routes,
    choose_stream,
    openai_error,
    transcript_events,
)
from traceforge_proxy.mock_upstream.openai_responses import add_responses_routes
from traceforge_proxy.mock_upstream.replay import (
    JSON_CONTENT_TYPE,
    NDJSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
    ndjson_lines,
    sse_events,
    transcript_bytes,
)
from traceforge_proxy.mock_upstream.xai import add_xai_routes

__all__ = [
    "COMPLETION",
    "ERRORS",
    "JSON_CONTENT_TYPE",
    "LONG_TEXT_STREAM",
    "NDJSON_CONTENT_TYPE",
    "PARALLEL_TOOL_STREAM",
    "SSE_CONTENT_TYPE",
    "TEXT_STREAM",
    "TOOL_STREAM",
    "choose_stream",
    "create_mock_app",
    "ndjson_lines",
    "sse_events",
    "transcript_bytes",
    "transcript_events",
]

#: Every route served, for the 404 message.
_SERVED = (
    "/v1/chat/completions, /v1/models (also under /openai), /anthropic/v1/messages, "
    "/gemini/{v1beta,v1}/models/{model}:generateContent and :streamGenerateContent, "
    "/ollama/api/chat, /ollama/api/generate, /ollama/api/tags, /cohere/v2/chat and "
    "/xai/v1/chat/completions; Responses: /v1/responses[/{id}] (also under /openai, /xai); "
    "embeddings: /v1/embeddings, /gemini/.../models/{model}:embedContent "
    "and :batchEmbedContents, /ollama/api/embed, /cohere/v2/embed; model lists and token "
    "counts: /anthropic/v1/models, /anthropic/v1/messages/count_tokens, /gemini/v1beta/models, "
    ":countTokens, /ollama/api/show, /cohere/v1/models, /xai/v1/models"
)


def create_mock_app(*, delay_ms: float = 20.0) -> web.Application:
    """Return the mock upstream app, every provider's routes in it. ``delay_ms``: the pause
    before each streamed event or line (the first too, to look like a time to first token)."""

    async def not_found(request: web.Request) -> web.Response:
        return openai_error(
            404,
            f"Unknown request URL: {request.method} {request.path}. "
            f"The TraceForge mock upstream answers {_SERVED} only.",
            code="unknown_url",
        )

    app = web.Application()
    add_openai_routes(app, delay_ms=delay_ms)
    add_anthropic_routes(app, delay_ms=delay_ms)
    add_gemini_routes(app, delay_ms=delay_ms)
    add_ollama_routes(app, delay_ms=delay_ms)
    add_cohere_routes(app, delay_ms=delay_ms)
    add_xai_routes(app, delay_ms=delay_ms)
    add_responses_routes(app, delay_ms=delay_ms)
    add_embedding_routes(app)
    add_catalog_routes(app)
    app.router.add_route("*", "/{tail:.*}", not_found)  # last: it matches every path
    return app

"""Gemini API routes of the mock upstream (``/gemini`` prefix).

https://ai.google.dev/api/generate-content. The method follows a colon in the last path
segment (``models/gemini-2.0-flash:generateContent``), so the route is
``/gemini/v1beta/models/{name}`` and ``name`` is split on ``:``. Every route is also served
under ``/gemini/v1/`` (the API has both versions, and ``google-genai`` 3.x uses ``v1`` unless
told otherwise), with the same answers.

- ``POST /gemini/v1beta/models/{model}:generateContent``: the recorded
  ``GenerateContentResponse`` ``data/gemini/generate-content.json`` (``application/json;
  charset=UTF-8``).
- ``POST /gemini/v1beta/models/{model}:streamGenerateContent?alt=sse``: a recorded data-only SSE
  stream framed with CRLF and without ``[DONE]`` (``text/event-stream``), event by event:
  ``data/gemini/stream-function-call.sse`` (a whole ``functionCall`` part) when the body has
  ``tools``, else ``data/gemini/stream-text.sse``. A ``generationConfig.responseJsonSchema``
  / ``responseSchema`` gets the same recordings with JSON the mock constructs to fit the
  schema as the text (:mod:`~traceforge_proxy.mock_upstream.structured`). Without
  ``alt=sse`` the real API streams one JSON array; the mock has no such recording and
  answers 400 saying it needs ``alt=sse`` (every Google SDK sends it).
- ``POST .../models/{model}:embedContent`` / ``:batchEmbedContents`` and ``:countTokens``:
  see :mod:`.embeddings` and :mod:`.catalog`; ``GET /gemini/v1beta/models`` and
  ``GET .../models/{model}``: a model list (:mod:`.catalog`).
- model ``mock-429``: 429 ``RESOURCE_EXHAUSTED``
  (``data/gemini/error-429-resource-exhausted.json``, plain JSON on streaming requests too).
- a body that is not a JSON object with a non-empty ``contents`` list: 400 in Google's shape
  ``{"error": {"code": 400, "message": ..., "status": "INVALID_ARGUMENT"}}``; any other method
  after the colon: 404 ``NOT_FOUND`` in the same shape.

Transcript sources: ``data/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from traceforge_proxy.mock_upstream import replay
from traceforge_proxy.mock_upstream.catalog import GEMINI_MODELS, gemini_count_tokens, gemini_model
from traceforge_proxy.mock_upstream.embeddings import gemini_embed
from traceforge_proxy.mock_upstream.structured import gemini_answer, gemini_schema, gemini_stream

PREFIX = "/gemini"
TEXT_STREAM = "gemini/stream-text.sse"
FUNCTION_CALL_STREAM = "gemini/stream-function-call.sse"
GENERATE_CONTENT = "gemini/generate-content.json"
#: The real API serves both; ``google-genai`` 3.x defaults to ``v1``, older SDKs to ``v1beta``.
API_VERSIONS = ("v1beta", "v1")
ERRORS = {"mock-429": (429, "gemini/error-429-resource-exhausted.json")}
#: Content types as the API sends them (see the provider-streams manifest).
SSE_CONTENT_TYPE = "text/event-stream"
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND"}


def _count_tokens(model: str, method: str, body: Any) -> tuple[int, Any]:
    del model, method  # the count does not depend on them
    return gemini_count_tokens(body)


#: Methods other than content generation: ``(model, method, body) -> (status, answer)``.
OTHER_METHODS: dict[str, Callable[[str, str, Any], tuple[int, Any]]] = {
    "embedContent": gemini_embed,
    "batchEmbedContents": gemini_embed,
    "countTokens": _count_tokens,
}


def google_error(code: int, message: str) -> web.Response:
    """An error in Google's shape: ``{"error": {"code", "message", "status"}}``."""
    body = {"error": {"code": code, "message": message, "status": _STATUS_NAMES[code]}}
    return replay.json_response(body, status=code, content_type=JSON_CONTENT_TYPE)


def request_problem(body: Any) -> str | None:
    """What the API rejects in a ``generateContent`` body (no ``contents``), or ``None``."""
    if not isinstance(body, dict) or not replay.has_items(body.get("contents")):
        return "* GenerateContentRequest.contents: contents is not specified\n"
    return None


def add_gemini_routes(app: web.Application, *, delay_ms: float) -> None:
    """Add ``POST /gemini/{v1beta,v1}/models/{model}:generateContent`` and
    ``:streamGenerateContent``."""

    async def model_method(request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["name"].partition(":")
        if method in OTHER_METHODS:
            try:
                body = await replay.read_json(request)
            except replay.InvalidJSON:
                return google_error(400, "Invalid JSON payload received.")
            status, answer = OTHER_METHODS[method](model, method, body)
            if status != 200:
                return google_error(status, answer)
            return replay.json_response(answer, content_type=JSON_CONTENT_TYPE)
        if method not in ("generateContent", "streamGenerateContent"):
            return google_error(
                404,
                f"Method {method or '(none)'!r} of models/{model} is not served by the "
                "TraceForge mock upstream (generateContent, streamGenerateContent, "
                f"{', '.join(OTHER_METHODS)} are).",
            )
        stream = method == "streamGenerateContent"
        if stream and request.query.get("alt") != "sse":
            return google_error(
                400,
                "The TraceForge mock upstream streams only as server-sent events: add ?alt=sse "
                "to streamGenerateContent (the real API would answer a JSON array).",
            )
        body, problem = await replay.read_checked(
            request, request_problem, not_json="Invalid JSON payload received."
        )
        if problem is not None:
            return google_error(400, problem)
        error = ERRORS.get(model)
        if error is not None:
            status, name = error
            return replay.file_response(name, status=status, content_type=JSON_CONTENT_TYPE)
        if (schema := gemini_schema(body)) is not None:
            if not stream:
                answer = gemini_answer(schema)
                return replay.json_response(answer, content_type=JSON_CONTENT_TYPE)
            events = gemini_stream(schema)
            return await replay.replay(
                request, events, content_type=SSE_CONTENT_TYPE, delay_ms=delay_ms
            )
        if not stream:
            return replay.file_response(GENERATE_CONTENT, content_type=JSON_CONTENT_TYPE)
        name = FUNCTION_CALL_STREAM if replay.has_items(body.get("tools")) else TEXT_STREAM
        return await replay.replay_sse(
            request, name, delay_ms=delay_ms, content_type=SSE_CONTENT_TYPE
        )

    async def list_models(_: web.Request) -> web.Response:
        return replay.json_response({"models": GEMINI_MODELS}, content_type=JSON_CONTENT_TYPE)

    async def get_model(request: web.Request) -> web.Response:
        found = gemini_model(request.match_info["name"])
        if found is None:
            return google_error(404, f"models/{request.match_info['name']} is not found.")
        return replay.json_response(found, content_type=JSON_CONTENT_TYPE)

    for version in API_VERSIONS:
        app.router.add_post(f"{PREFIX}/{version}/models/{{name}}", model_method)
        app.router.add_get(f"{PREFIX}/{version}/models", list_models)
        app.router.add_get(f"{PREFIX}/{version}/models/{{name}}", get_model)

"""OpenAI Chat Completions routes of the mock upstream, served at ``/v1/...`` and under the
``/openai`` prefix.

- ``POST {prefix}/v1/chat/completions`` with ``"stream": true``: a recorded SSE transcript
  (``data/*.sse``). Which one: two or more ``tools`` → parallel tool calls; one tool → one tool
  call; a ``gpt-4.1*`` model → a 302-chunk 2026 recording; else a 34-chunk 2024 recording. As
  OpenAI does, the usage chunk (``"choices": []``) is sent only when the request has
  ``stream_options.include_usage``.
- the same without ``stream``: the recorded ``chat.completion`` body (``data/completion.json``).
- model ``mock-401`` / ``mock-429``: the OpenAI error bodies with those statuses.
- a body that is not JSON, or lacks ``model``/``messages``: 400 in OpenAI's error shape
  ``{"error": {"message", "type", "param", "code"}}``.
- ``GET {prefix}/v1/models``: a model list; ``GET {prefix}/v1/models/{id}`` one of them (404
  ``model_not_found``).

Headers: ``x-request-id`` (``req_mock_NNNNNN``) and ``openai-processing-ms``.
"""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

import msgspec
from aiohttp import web

from traceforge_proxy.mock_upstream import structured
from traceforge_proxy.mock_upstream.replay import (
    JSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
    InvalidJSON,
    file_response,
    read_json,
    replay,
    sse_events,
)

#: Transcript file names (in ``mock_upstream/data``).
TEXT_STREAM = "stream-text-usage.sse"
LONG_TEXT_STREAM = "stream-text-usage-2026.sse"
TOOL_STREAM = "stream-tool-calls.sse"
PARALLEL_TOOL_STREAM = "stream-parallel-tool-calls.sse"
COMPLETION = "completion.json"
ERRORS = {
    "mock-401": (401, "error-401-invalid-api-key.json"),
    "mock-429": (429, "error-429-rate-limit.json"),
}
#: ``GET /v1/models`` lists these (constructed).
MODELS = ("gpt-4o-2024-08-06", "gpt-4.1-nano", "gpt-4o-mini", "text-embedding-3-small")
#: Prefixes the routes are served under.
PREFIXES = ("", "/openai")


@cache
def transcript_events(name: str) -> tuple[tuple[bytes, bool], ...]:
    """Split a bundled OpenAI SSE transcript into events: ``(raw bytes, is_usage_chunk)``.

    The raw bytes of all events, joined, equal the file exactly.
    """
    out: list[tuple[bytes, bool]] = []
    for event in sse_events(name):
        usage_only = False
        if event.data and event.data != b"[DONE]":
            payload = msgspec.json.decode(event.data)
            usage_only = payload.get("choices") == [] and payload.get("usage") is not None
        out.append((event.raw, usage_only))
    return tuple(out)


def choose_stream(request: dict[str, Any]) -> str:
    """Return the transcript name a streaming request is answered with."""
    tools = request.get("tools")
    if isinstance(tools, list) and len(tools) >= 2:
        return PARALLEL_TOOL_STREAM
    if isinstance(tools, list) and tools:
        return TOOL_STREAM
    if str(request.get("model", "")).startswith("gpt-4.1"):
        return LONG_TEXT_STREAM
    return TEXT_STREAM


def openai_error(
    status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None
) -> web.Response:
    """An error in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return web.json_response(body, status=status)


def validate_chat_request(body: Any) -> web.Response | None:
    """The 400 OpenAI answers a malformed chat request with, or ``None`` when it is fine."""
    if not isinstance(body, dict) or "model" not in body:
        return openai_error(400, "you must provide a model parameter")
    if not isinstance(body.get("messages"), list):
        return openai_error(
            400, "Missing required parameter: 'messages'.", code="missing_required_parameter"
        )
    return None


def invalid_json_error() -> web.Response:
    """OpenAI's answer to a body that is not JSON."""
    return openai_error(
        400,
        "We could not parse the JSON body of your request. "
        "(HINT: This likely means you aren't using your HTTP "
        "library correctly.)",
    )


async def read_chat_request(request: web.Request) -> dict[str, Any] | web.Response:
    """The chat request body, or the 400 OpenAI answers a body that is not JSON or lacks
    ``model``/``messages`` with."""
    try:
        body = await read_json(request)
    except InvalidJSON:
        return invalid_json_error()
    invalid = validate_chat_request(body)
    return body if invalid is None else invalid


def add_openai_routes(app: web.Application, *, delay_ms: float) -> None:
    """Add the OpenAI routes, at ``/v1/...`` and ``/openai/v1/...``."""
    counter = itertools.count(1)

    async def chat_completions(request: web.Request) -> web.StreamResponse:
        body = await read_chat_request(request)
        if isinstance(body, web.Response):
            return body
        headers = {"x-request-id": f"req_mock_{next(counter):06d}", "openai-processing-ms": "12"}
        error = ERRORS.get(str(body["model"]))
        if error is not None:
            status, name = error
            return file_response(
                name, status=status, content_type="application/json; charset=utf-8", headers=headers
            )
        schema = structured.openai_schema(body)
        if body.get("stream") is not True:
            if schema is not None:
                answer = structured.openai_answer(schema)
                return web.json_response(answer, headers=headers)
            return file_response(COMPLETION, content_type=JSON_CONTENT_TYPE, headers=headers)
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        source = (
            transcript_events(choose_stream(body))
            if schema is None
            else structured.openai_stream(schema)
        )
        events = [raw for raw, usage_only in source if include_usage or not usage_only]
        return await replay(
            request, events, content_type=SSE_CONTENT_TYPE, delay_ms=delay_ms, headers=headers
        )

    data = [
        {"id": m, "object": "model", "created": 1727346168, "owned_by": "traceforge-mock"}
        for m in MODELS
    ]

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": data})

    async def model(request: web.Request) -> web.Response:
        wanted = request.match_info["model"]
        found = next((m for m in data if m["id"] == wanted), None)
        if found is None:
            return openai_error(404, f"The model '{wanted}' does not exist", code="model_not_found")
        return web.json_response(found)

    for prefix in PREFIXES:
        app.router.add_post(f"{prefix}/v1/chat/completions", chat_completions)
        app.router.add_get(f"{prefix}/v1/models", models)
        app.router.add_get(f"{prefix}/v1/models/{{model}}", model)

"""An OpenAI-compatible fake upstream that replays real recorded wire transcripts.

It is TraceForge's default upstream when no provider key is set (``traceforge demo``,
``traceforge start`` without ``OPENAI_API_KEY``), and what the tests use. Answers:

- ``POST /v1/chat/completions`` with ``"stream": true``: a recorded SSE transcript, event by
  event, byte for byte, ``delay_ms`` apart (the recordings carry no timing). Which transcript:
  two or more ``tools`` → parallel tool calls; one tool → one tool call; a ``gpt-4.1*`` model →
  a 302-chunk 2026 recording; else a 34-chunk 2024 recording. As OpenAI does, the usage chunk
  (``"choices": []``) is sent only when the request has ``stream_options.include_usage``.
- the same without ``stream``: the recorded ``chat.completion`` body.
- model ``mock-401`` / ``mock-429``: the recorded OpenAI error bodies with those statuses.
- ``GET /v1/models``: a model list. Anything else: 404 in OpenAI's error shape.
- a body that is not JSON, or lacks ``model``/``messages``: 400, as OpenAI answers.
"""

from __future__ import annotations

import asyncio
import itertools
from functools import cache
from importlib import resources
from typing import Any

import msgspec
from aiohttp import web

from traceforge_proxy.sse import SSEParser

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"

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


@cache
def transcript_bytes(name: str) -> bytes:
    """Return a bundled transcript file's bytes."""
    return (resources.files(__package__) / "data" / name).read_bytes()


@cache
def transcript_events(name: str) -> tuple[tuple[bytes, bool], ...]:
    """Split a bundled SSE transcript into events: ``(raw bytes, is_usage_chunk)``.

    The raw bytes of all events, joined, equal the file exactly.
    """
    parser = SSEParser()
    events = parser.feed(transcript_bytes(name)) + parser.close()
    out: list[tuple[bytes, bool]] = []
    for event in events:
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


def _openai_error(
    status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return web.json_response(body, status=status)


def create_mock_app(*, delay_ms: float = 20.0) -> web.Application:
    """Return the mock upstream app. ``delay_ms``: pause before each SSE event after the first
    (and before the first, to look like a real time to first token)."""
    counter = itertools.count(1)

    async def chat_completions(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return _openai_error(
                400,
                "We could not parse the JSON body of your request. "
                "(HINT: This likely means you aren't using your HTTP "
                "library correctly.)",
            )
        if not isinstance(body, dict) or "model" not in body:
            return _openai_error(400, "you must provide a model parameter")
        if not isinstance(body.get("messages"), list):
            return _openai_error(
                400, "Missing required parameter: 'messages'.", code="missing_required_parameter"
            )
        request_id = f"req_mock_{next(counter):06d}"
        headers = {"x-request-id": request_id, "openai-processing-ms": "12"}
        error = ERRORS.get(str(body["model"]))
        if error is not None:
            status, name = error
            return web.Response(
                status=status,
                body=transcript_bytes(name),
                content_type="application/json",
                charset="utf-8",
                headers=headers,
            )
        if body.get("stream") is not True:
            return web.Response(
                body=transcript_bytes(COMPLETION), headers=headers, content_type=JSON_CONTENT_TYPE
            )
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        response = web.StreamResponse(headers={**headers, "Content-Type": SSE_CONTENT_TYPE})
        await response.prepare(request)
        for raw_event, usage_only in transcript_events(choose_stream(body)):
            if usage_only and not include_usage:
                continue
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000)
            await response.write(raw_event)
        await response.write_eof()
        return response

    async def models(_: web.Request) -> web.Response:
        data = [
            {"id": m, "object": "model", "created": 1727346168, "owned_by": "traceforge-mock"}
            for m in ("gpt-4o-2024-08-06", "gpt-4.1-nano", "gpt-4o-mini")
        ]
        return web.json_response({"object": "list", "data": data})

    async def not_found(request: web.Request) -> web.Response:
        return _openai_error(
            404,
            f"Unknown request URL: {request.method} {request.path}. "
            "The TraceForge mock upstream answers /v1/chat/completions "
            "and /v1/models only.",
            code="unknown_url",
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app

"""Ollama API routes of the mock upstream (``/ollama`` prefix).

https://github.com/ollama/ollama/blob/main/docs/api.md. Ollama streams by default.

- ``POST /ollama/api/chat`` with ``stream`` absent or true: NDJSON (``application/x-ndjson``),
  line by line: ``data/ollama/chat-stream-tool-call.ndjson`` (one line with whole
  ``message.tool_calls``, arguments as an object) when ``tools`` is non-empty, else
  ``data/ollama/chat-stream.ndjson``. Every line is ``{"model", "created_at", "message": {"role",
  "content"}, "done": false}``; the last has ``"done": true``, ``done_reason`` and the metrics
  (``prompt_eval_count`` / ``eval_count`` tokens, durations in ns).
- the same with ``"stream": false``: one JSON body **assembled by the mock** from that stream
  (nothing recorded): the final ``done`` line with ``message.content`` set to the joined
  contents and ``message.tool_calls`` to all tool calls, in order (see :func:`assemble_chat`).
- ``POST /ollama/api/generate``: ``data/ollama/generate-stream.ndjson`` (lines with
  ``response`` text; the last adds ``context``); with ``"stream": false``, assembled the same
  way (``response`` joined).
- model ``mock-404`` (both routes): 404 ``{"error": "model '...' not found"}``
  (``data/ollama/error-404-model-not-found.json``; the recorded body names ``llama3.3:70b``).
- an empty body, a body that is not JSON or an object without ``model``: 400 ``{"error": ...}``
  (``missing request body`` / ``model is required`` as the server says; the invalid-JSON
  message is the mock's).
- ``GET /ollama/api/tags``: a constructed local model list (:data:`TAGS`).

Bodies are compact JSON as Go's ``encoding/json`` writes them (``<``, ``>``, ``&`` escaped),
``application/json; charset=utf-8``. Transcript sources: ``data/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from traceforge_proxy.mock_upstream.replay import (
    NDJSON_CONTENT_TYPE,
    InvalidJSON,
    file_response,
    has_items,
    ndjson_lines,
    ndjson_payloads,
    read_json,
    replay,
)

PREFIX = "/ollama"
CHAT_STREAM = "ollama/chat-stream.ndjson"
CHAT_TOOL_STREAM = "ollama/chat-stream-tool-call.ndjson"
GENERATE_STREAM = "ollama/generate-stream.ndjson"
ERRORS = {"mock-404": (404, "ollama/error-404-model-not-found.json")}
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_GO_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))

#: ``GET /api/tags`` answer: constructed in the shape of ``api/types.go`` ``ListResponse``, for
#: the model of the transcripts; size, digest and date are illustrative.
TAGS: dict[str, Any] = {
    "models": [
        {
            "name": "llama3.2:latest",
            "model": "llama3.2:latest",
            "modified_at": "2026-03-14T09:20:11.214871Z",
            "size": 2019393189,
            "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "llama",
                "families": ["llama"],
                "parameter_size": "3.2B",
                "quantization_level": "Q4_K_M",
            },
        },
    ]
}


def go_json(body: Any) -> bytes:
    """Compact JSON as Go's ``json.Marshal`` writes it (HTML characters escaped)."""
    data = msgspec.json.encode(body)
    for char, escape in _GO_ESCAPES:
        data = data.replace(char, escape)  # these bytes occur only inside JSON strings
    return data


def ollama_json(body: Any, *, status: int = 200) -> web.Response:
    """``body`` as Ollama answers: Go-style compact JSON (:func:`go_json`), ``status``."""
    return web.Response(
        status=status, body=go_json(body), headers={"Content-Type": JSON_CONTENT_TYPE}
    )


def assemble_chat(name: str) -> dict[str, Any]:
    """The non-streaming ``/api/chat`` body for a chat stream: its final (``done``) line, with
    ``message.content`` = all contents joined and ``message.tool_calls`` = all tool calls."""
    lines = ndjson_payloads(name)
    body: dict[str, Any] = dict(lines[-1])
    message: dict[str, Any] = dict(body["message"])
    message["content"] = "".join(line["message"].get("content", "") for line in lines)
    calls = [call for line in lines for call in line["message"].get("tool_calls", [])]
    if calls:
        message["tool_calls"] = calls
    body["message"] = message
    return body


def assemble_generate(name: str) -> dict[str, Any]:
    """The non-streaming ``/api/generate`` body: the final line, ``response`` joined."""
    lines = ndjson_payloads(name)
    body: dict[str, Any] = dict(lines[-1])
    body["response"] = "".join(line.get("response", "") for line in lines)
    return body


async def checked_body(
    request: web.Request, *, name_alias: bool = False
) -> dict[str, Any] | web.Response:
    """The request object, or the error Ollama answers (400, or the recorded 404).

    ``name_alias``: accept the deprecated ``name`` field for ``model`` (``/api/show``, as
    Ollama's server still does; litellm sends ``name``)."""
    if not await request.read():
        return ollama_json({"error": "missing request body"}, status=400)
    try:
        body = await read_json(request)
    except InvalidJSON as exc:
        return ollama_json({"error": f"invalid JSON body: {exc}"}, status=400)
    if name_alias and isinstance(body, dict) and not body.get("model") and body.get("name"):
        body = {**body, "model": body["name"]}
    if not isinstance(body, dict) or not body.get("model"):
        return ollama_json({"error": "model is required"}, status=400)
    error = ERRORS.get(str(body["model"]))
    if error is not None:
        status, name = error
        return file_response(name, status=status, content_type=JSON_CONTENT_TYPE)
    return body


def add_ollama_routes(app: web.Application, *, delay_ms: float) -> None:
    """Add ``POST /ollama/api/chat``, ``POST /ollama/api/generate``, ``GET /ollama/api/tags``."""

    async def stream_or_assemble(
        request: web.Request,
        body: dict[str, Any],
        name: str,
        assemble: Callable[[str], dict[str, Any]],
    ) -> web.StreamResponse:
        if body.get("stream") is False:
            return ollama_json(assemble(name))
        return await replay(
            request, ndjson_lines(name), content_type=NDJSON_CONTENT_TYPE, delay_ms=delay_ms
        )

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await checked_body(request)
        if isinstance(body, web.Response):
            return body
        name = CHAT_TOOL_STREAM if has_items(body.get("tools")) else CHAT_STREAM
        return await stream_or_assemble(request, body, name, assemble_chat)

    async def generate(request: web.Request) -> web.StreamResponse:
        body = await checked_body(request)
        if isinstance(body, web.Response):
            return body
        return await stream_or_assemble(request, body, GENERATE_STREAM, assemble_generate)

    async def tags(_: web.Request) -> web.Response:
        return ollama_json(TAGS)

    app.router.add_post(f"{PREFIX}/api/chat", chat)
    app.router.add_post(f"{PREFIX}/api/generate", generate)
    app.router.add_get(f"{PREFIX}/api/tags", tags)

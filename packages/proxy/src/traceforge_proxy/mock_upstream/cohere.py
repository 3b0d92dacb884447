"""Cohere v2 Chat API routes of the mock upstream (``/cohere`` prefix).

``POST /cohere/v2/chat`` (https://docs.cohere.com/reference/chat):

- ``"stream": true``: a recorded SSE stream of named, hyphenated events (``message-start``,
  ``content-delta``, ..., ``message-end`` with ``finish_reason`` and ``usage``) as
  ``text/event-stream``, event by event: ``data/cohere/chat-stream-tool-call.sse``
  (``tool-plan-delta``, then ``tool-call-start``/``-delta``/``-end`` for two calls) when
  ``tools`` is non-empty, else ``data/cohere/chat-stream.sse``.
- otherwise: the recorded body ``data/cohere/chat.json`` (``{"id", "message": {"role",
  "content": [{"type": "text", "text"}]}, "finish_reason", "usage"}``; the only recorded
  non-streaming body, so also the answer when ``tools`` are sent).
- a body that is not a JSON object with ``model`` and a non-empty ``messages`` list: 400
  ``{"message": ...}`` (Cohere's error shape; the wording is the mock's).

Transcript sources: ``data/README.md``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from traceforge_proxy.mock_upstream import replay

PREFIX = "/cohere"
TEXT_STREAM = "cohere/chat-stream.sse"
TOOL_STREAM = "cohere/chat-stream-tool-call.sse"
CHAT = "cohere/chat.json"
#: Content types as the API sends them (see the provider-streams manifest).
SSE_CONTENT_TYPE = "text/event-stream"
JSON_CONTENT_TYPE = "application/json"


def request_problem(body: Any) -> str | None:
    """What the mock rejects in a v2 chat request body, or ``None``."""
    if not isinstance(body, dict):
        return "invalid request: the body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "invalid request: model must be specified"
    if not replay.has_items(body.get("messages")):
        return "invalid request: messages must be a non-empty list"
    return None


def add_cohere_routes(app: web.Application, *, delay_ms: float) -> None:
    """Add ``POST /cohere/v2/chat``."""

    async def chat(request: web.Request) -> web.StreamResponse:
        body, problem = await replay.read_checked(
            request, request_problem, not_json="invalid request: the body is not valid JSON"
        )
        if problem is not None:
            return replay.json_response({"message": problem}, status=400)
        if body.get("stream") is not True:
            return replay.file_response(CHAT, content_type=JSON_CONTENT_TYPE)
        name = TOOL_STREAM if replay.has_items(body.get("tools")) else TEXT_STREAM
        return await replay.replay_sse(
            request, name, delay_ms=delay_ms, content_type=SSE_CONTENT_TYPE
        )

    app.router.add_post(f"{PREFIX}/v2/chat", chat)

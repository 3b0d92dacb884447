"""xAI routes of the mock upstream (``/xai`` prefix). xAI speaks the OpenAI Chat Completions
format (https://docs.x.ai/docs/api-reference#chat-completions).

``POST /xai/v1/chat/completions``:

- ``"stream": true``: a recorded ``grok-3-mini`` SSE stream (``data:`` chunks, usage chunk with
  ``"choices": []``, ``[DONE]``) as ``text/event-stream``, event by event and whole, whatever
  ``stream_options`` says (both recordings were made with ``include_usage``):
  ``data/xai/chat-stream-tool-call.sse`` (one delta with a complete tool call) when ``tools``
  is non-empty, else ``data/xai/chat-stream-reasoning.sse`` (``reasoning_content`` deltas, then
  ``content``).
- otherwise: a ``chat.completion`` body **assembled by the mock** from that same stream (xAI
  has no recorded non-streaming body); see :func:`assemble_completion`.
- a body that is not JSON, or lacks ``model``/``messages``: 400 in OpenAI's error shape (xAI's
  own error bodies are not recorded).

Transcript sources: ``data/README.md``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from traceforge_proxy.mock_upstream import replay
from traceforge_proxy.mock_upstream.openai_chat import read_chat_request

PREFIX = "/xai"
REASONING_STREAM = "xai/chat-stream-reasoning.sse"
TOOL_STREAM = "xai/chat-stream-tool-call.sse"
#: Content type as the API sends it (see the provider-streams manifest).
SSE_CONTENT_TYPE = "text/event-stream"


def assemble_completion(name: str) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` built from a recorded xAI stream.

    ``id``, ``model`` and ``system_fingerprint`` come from the chunks, ``created`` from the
    last one; ``message.content`` and ``message.reasoning_content`` are the joined deltas
    (``content`` is ``None`` when empty), ``message.tool_calls`` the merged tool-call deltas
    (``arguments`` fragments appended per ``index``); ``finish_reason`` and ``usage`` are the
    stream's.
    """
    chunks = replay.sse_payloads(name)
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    for chunk in chunks:
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            delta = choice.get("delta") or {}
            content.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or "")
            for call in delta.get("tool_calls") or []:
                function = call.get("function") or {}
                merged = calls.setdefault(
                    call.get("index", len(calls)),
                    {
                        "id": call.get("id"),
                        "type": "function",
                        "function": {"name": None, "arguments": ""},
                    },
                )["function"]
                merged["name"] = function.get("name") or merged["name"]
                merged["arguments"] += function.get("arguments") or ""
            finish_reason = choice.get("finish_reason") or finish_reason
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
    if any(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    first, last = chunks[0], chunks[-1]
    return {
        "id": first["id"],
        "object": "chat.completion",
        "created": last["created"],
        "model": first["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage,
        "system_fingerprint": first.get("system_fingerprint"),
    }


def add_xai_routes(app: web.Application, *, delay_ms: float) -> None:
    """Add ``POST /xai/v1/chat/completions``."""

    async def chat_completions(request: web.Request) -> web.StreamResponse:
        body = await read_chat_request(request)
        if isinstance(body, web.Response):
            return body
        name = TOOL_STREAM if replay.has_items(body.get("tools")) else REASONING_STREAM
        if body.get("stream") is not True:
            return replay.json_response(assemble_completion(name))
        return await replay.replay_sse(
            request, name, delay_ms=delay_ms, content_type=SSE_CONTENT_TYPE
        )

    app.router.add_post(f"{PREFIX}/v1/chat/completions", chat_completions)

"""Anthropic Messages API routes of the mock upstream (``/anthropic`` prefix).

``POST /anthropic/v1/messages`` (https://docs.anthropic.com/en/api/messages):

- ``"stream": true``: a recorded SSE transcript, event by event (named events:
  ``message_start``, ``content_block_start``, ``ping``, ``content_block_delta``, ...,
  ``message_stop``) as ``text/event-stream; charset=utf-8``. ``data/anthropic/stream-tool-use.sse``
  (a text block, then a ``tool_use`` block built from ``input_json_delta`` fragments) when
  ``tools`` is non-empty, else ``data/anthropic/stream-text.sse``.
- otherwise: the recorded ``type: "message"`` body ``data/anthropic/message.json``.
- structured output (a forced tool with an ``input_schema``, or ``output_config.format`` /
  ``output_format`` of type ``json_schema``): a recorded answer of that kind whose JSON the
  mock constructs to fit the schema (:mod:`~traceforge_proxy.mock_upstream.structured`).
- model ``mock-401``: 401 ``authentication_error``; ``mock-529``: 529 ``overloaded_error``
  (``data/anthropic/error-*.json``, plain JSON even on streaming requests).
- model ``mock-overloaded-stream`` with ``stream``: status 200, a normal start and then an
  in-band ``event: error`` (``overloaded_error``) with no ``message_stop``
  (``data/anthropic/stream-error-overloaded.sse``); without ``stream``: the 529 body.
- a malformed request: 400 ``{"type": "error", "error": {"type": "invalid_request_error",
  "message": ...}, "request_id": ...}``. Checked as the API does: a JSON object with ``model``,
  ``max_tokens`` (an integer) and ``messages`` (a non-empty list of objects whose ``role`` is
  ``user``, ``assistant`` or ``system``: any other role, ``tool`` for one, is a 400). The
  ``system`` role is accepted because the current API takes system messages inside
  ``messages`` besides the top-level ``system`` parameter: ``anthropic`` 2.x types
  ``MessageParam`` as ``UserMessageParam | AssistantMessageParam | SystemMessageParam``.
  The messages follow the API's wording where it is known; the rest is the mock's.

Every answer has a ``request-id`` header (``req_mock_NNNNNN``), as the API sends; the
``anthropic`` SDK reads it into ``_request_id``. Transcript sources: ``data/README.md``.
"""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

from traceforge_proxy.mock_upstream import replay
from traceforge_proxy.mock_upstream.structured import (
    anthropic_answer,
    anthropic_schema,
    anthropic_stream,
)

PREFIX = "/anthropic"
TEXT_STREAM = "anthropic/stream-text.sse"
TOOL_STREAM = "anthropic/stream-tool-use.sse"
OVERLOADED_STREAM = "anthropic/stream-error-overloaded.sse"
MESSAGE = "anthropic/message.json"
OVERLOADED = "anthropic/error-529-overloaded.json"
ERRORS = {
    "mock-401": (401, "anthropic/error-401-authentication.json"),
    "mock-529": (529, OVERLOADED),
}
#: With ``stream``, an in-band ``event: error`` after a 200; without, the 529 body.
OVERLOADED_STREAM_MODEL = "mock-overloaded-stream"
#: Message roles the API accepts in ``messages`` (``system`` too, see the module docstring).
ROLES = ("user", "assistant", "system")


def request_problem(body: Any) -> str | None:
    """What Anthropic would reject in a Messages request body, or ``None``."""
    if not isinstance(body, dict):
        return "Input should be a valid dictionary"
    if "model" not in body:
        return "model: Field required"
    if "max_tokens" not in body:
        return "max_tokens: Field required"
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        return "max_tokens: Input should be a valid integer"
    if "messages" not in body:
        return "messages: Field required"
    messages = body["messages"]
    if not isinstance(messages, list):
        return "messages: Input should be a valid list"
    if not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages.{i}: Input should be a valid dictionary"
        if message.get("role") not in ROLES:
            return f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'"
    return None


def add_anthropic_routes(app: web.Application, *, delay_ms: float) -> None:
    """Add ``POST /anthropic/v1/messages``."""
    counter = itertools.count(1)

    async def messages(request: web.Request) -> web.StreamResponse:
        request_id = f"req_mock_{next(counter):06d}"
        headers = {"request-id": request_id}
        body, problem = await replay.read_checked(
            request, request_problem, not_json="The request body is not valid JSON."
        )
        if problem is not None:
            error = {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": problem},
                "request_id": request_id,
            }
            return replay.json_response(error, status=400, headers=headers)
        model = str(body["model"])
        stream = body.get("stream") is True
        if model in ERRORS or (model == OVERLOADED_STREAM_MODEL and not stream):
            status, name = ERRORS.get(model, (529, OVERLOADED))
            return replay.file_response(name, status=status, headers=headers)
        if (structured := anthropic_schema(body)) is not None:
            if not stream:
                return replay.json_response(anthropic_answer(*structured), headers=headers)
            events = anthropic_stream(*structured)
            return await replay.replay(
                request,
                events,
                content_type=replay.SSE_CONTENT_TYPE,
                delay_ms=delay_ms,
                headers=headers,
            )
        if not stream:
            return replay.file_response(MESSAGE, headers=headers)
        if model == OVERLOADED_STREAM_MODEL:
            name = OVERLOADED_STREAM
        else:
            name = TOOL_STREAM if replay.has_items(body.get("tools")) else TEXT_STREAM
        return await replay.replay_sse(request, name, delay_ms=delay_ms, headers=headers)

    app.router.add_post(f"{PREFIX}/v1/messages", messages)

"""OpenAI Responses API routes of the mock upstream, at ``/v1/...`` and under ``/openai``
(and ``/xai``, whose Responses API has the same shape).

- ``POST {prefix}/v1/responses`` with ``"stream": true``: a recorded Responses stream
  (``data/openai-responses/*.sse``, named events, no ``[DONE]``). Which one: ``tools``
  (unless the last ``input`` item is a ``function_call_output``: the tool was run, now the
  answer) → a function call (:data:`FUNCTION_CALL_STREAM`); a reasoning model (``o1``/``o3``/``o4``/
  ``gpt-5`` names, or a ``reasoning`` setting) → reasoning with an encrypted summary, then
  function calls (:data:`REASONING_STREAM`); else text (:data:`TEXT_STREAM`).
- the same without ``stream``: the recorded ``response`` body for text
  (``response.json``), else the ``response`` that the chosen stream's
  ``response.completed`` event carries.
- ``GET {prefix}/v1/responses/{id}``: a response this mock served (the last 100 kept);
  ``DELETE`` the same: ``{"id", "object": "response", "deleted": true}``;
  ``GET .../input_items``: ``{"object": "list", "data": []}``; ``POST .../cancel``: 400 (no
  response here runs in the background). Unknown ids: 404 in OpenAI's error shape.
- model ``mock-401`` / ``mock-429``: the OpenAI error bodies with those statuses; a body
  without ``model`` or ``input``: 400.

Shapes: https://platform.openai.com/docs/api-reference/responses. Transcripts and their
sources: ``data/README.md``.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from functools import cache
from typing import Any

import msgspec
from aiohttp import web

from traceforge_proxy.mock_upstream.openai_chat import ERRORS, invalid_json_error, openai_error
from traceforge_proxy.mock_upstream.replay import (
    JSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
    InvalidJSON,
    file_response,
    read_json,
    replay,
    sse_events,
    transcript_bytes,
)

__all__ = [
    "FUNCTION_CALL_STREAM",
    "REASONING_STREAM",
    "RESPONSE",
    "TEXT_STREAM",
    "add_responses_routes",
    "choose_responses_stream",
    "final_response",
]

#: Transcript names (in ``mock_upstream/data``).
TEXT_STREAM = "openai-responses/stream-text.sse"
FUNCTION_CALL_STREAM = "openai-responses/stream-function-call.sse"
REASONING_STREAM = "openai-responses/stream-reasoning-function-calls.sse"
RESPONSE = "openai-responses/response.json"
#: Prefixes the routes are served under.
PREFIXES = ("", "/openai", "/xai")
#: Served responses kept for ``GET /v1/responses/{id}``.
KEPT = 100
_REASONING_MODELS = ("o1", "o3", "o4", "gpt-5")


def choose_responses_stream(request: dict[str, Any]) -> str:
    """The transcript a ``POST /v1/responses`` is answered with (see the module doc)."""
    items = request.get("input")
    last = items[-1] if isinstance(items, list) and items else None
    answered = isinstance(last, dict) and last.get("type") == "function_call_output"
    if request.get("tools") and not answered:
        return FUNCTION_CALL_STREAM
    model = str(request.get("model", ""))
    if model.startswith(_REASONING_MODELS) or isinstance(request.get("reasoning"), dict):
        return REASONING_STREAM
    return TEXT_STREAM


@cache
def final_response(name: str) -> dict[str, Any]:
    """The ``response`` object a recorded stream's terminal event carries."""
    for event in reversed(sse_events(name)):
        if event.data:
            payload = msgspec.json.decode(event.data)
            if isinstance(payload, dict) and isinstance(payload.get("response"), dict):
                response: dict[str, Any] = payload["response"]
                return response
    raise ValueError(f"{name}: no event carries a response")  # pragma: no cover


def add_responses_routes(app: web.Application, *, delay_ms: float) -> None:
    """Add the Responses API routes, at ``/v1/...``, ``/openai/v1/...`` and ``/xai/v1/...``."""
    counter = itertools.count(1)
    served: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def keep(response: dict[str, Any]) -> None:
        served[str(response.get("id"))] = response
        while len(served) > KEPT:
            served.popitem(last=False)

    async def create(request: web.Request) -> web.StreamResponse:
        try:
            body = await read_json(request)
        except InvalidJSON:
            return invalid_json_error()
        if not isinstance(body, dict) or "model" not in body:
            return openai_error(
                400, "Missing required parameter: 'model'.", code="missing_required_parameter"
            )
        if "input" not in body and "prompt" not in body:
            return openai_error(
                400, "Missing required parameter: 'input'.", code="missing_required_parameter"
            )
        headers = {"x-request-id": f"req_mock_r{next(counter):06d}", "openai-processing-ms": "15"}
        error = ERRORS.get(str(body["model"]))
        if error is not None:
            status, name = error
            return file_response(
                name, status=status, content_type="application/json; charset=utf-8", headers=headers
            )
        name = choose_responses_stream(body)
        if body.get("stream") is not True:
            if name == TEXT_STREAM:
                keep(msgspec.json.decode(transcript_bytes(RESPONSE)))
                return file_response(RESPONSE, content_type=JSON_CONTENT_TYPE, headers=headers)
            response = final_response(name)
            keep(response)
            return web.json_response(response, headers=headers)
        keep(final_response(name))
        events = [event.raw for event in sse_events(name)]
        return await replay(
            request, events, content_type=SSE_CONTENT_TYPE, delay_ms=delay_ms, headers=headers
        )

    def not_found(response_id: str) -> web.Response:
        return openai_error(
            404, f"Response with id '{response_id}' not found.", code="response_not_found"
        )

    async def by_id(request: web.Request) -> web.Response:
        response_id = request.match_info["id"]
        response = served.get(response_id)
        if response is None:
            return not_found(response_id)
        if request.method == "DELETE":
            del served[response_id]
            return web.json_response({"id": response_id, "object": "response", "deleted": True})
        return web.json_response(response)

    async def input_items(request: web.Request) -> web.Response:
        response_id = request.match_info["id"]
        if response_id not in served:
            return not_found(response_id)
        return web.json_response(
            {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
        )

    async def cancel(request: web.Request) -> web.Response:
        response_id = request.match_info["id"]
        if response_id not in served:
            return not_found(response_id)
        return openai_error(400, "Only responses created with background=true can be cancelled.")

    for prefix in PREFIXES:
        app.router.add_post(f"{prefix}/v1/responses", create)
        app.router.add_get(f"{prefix}/v1/responses/{{id}}", by_id)
        app.router.add_delete(f"{prefix}/v1/responses/{{id}}", by_id)
        app.router.add_get(f"{prefix}/v1/responses/{{id}}/input_items", input_items)
        app.router.add_post(f"{prefix}/v1/responses/{{id}}/cancel", cancel)

"""OpenAI ``chat.completion`` -> Responses API ``response`` object.

The non-streaming half of the Responses conversion (the stream half is
:mod:`~traceforge_proxy.providers.responses_stream`, and both build their objects here). Shape:
https://platform.openai.com/docs/api-reference/responses/object; ground truth
``openai.types.responses.Response`` of the ``openai`` SDK.

- ``message.reasoning_content`` -> a ``reasoning`` item whose ``summary`` is that text; the
  ``thinking_blocks`` of a converted Anthropic answer (with their signatures) go in its
  ``encrypted_content`` as JSON text, so a client that sends the item back (as it must for
  tool use with extended thinking) gets them to Anthropic again.
- ``message.content`` -> a ``message`` item with one ``output_text`` part;
  ``message.tool_calls`` -> one ``function_call`` item each.
- ``finish_reason`` ``length`` -> ``status: incomplete``, ``incomplete_details.reason:
  max_output_tokens``; ``content_filter`` -> ``incomplete`` with ``content_filter``.
- ``usage`` -> ``input_tokens`` / ``output_tokens`` / ``total_tokens`` with their details.

Converted responses are not stored anywhere: their ids start with
:data:`CONVERTED_ID_PREFIX` so a later ``GET /v1/responses/{id}`` can be answered with a
clear 404.
"""

from __future__ import annotations

import re
from typing import Any

from traceforge_proxy.providers.base import compact_json
from traceforge_shared.usage import responses_usage, usage_from_openai

__all__ = [
    "CONVERTED_ID_PREFIX",
    "function_call_item",
    "message_item",
    "reasoning_item",
    "response_from_completion",
    "response_id",
    "response_object",
    "response_status",
    "response_usage",
]

#: The start of every converted response id (``resp_tf_anthropic_<the provider's id>``).
CONVERTED_ID_PREFIX = "resp_tf_"

_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")

#: ``finish_reason`` -> ``incomplete_details.reason`` (the rest are ``completed``).
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def response_id(provider: str, native_id: Any) -> str:
    """The id of a converted response: :data:`CONVERTED_ID_PREFIX`, the provider, and the
    chat completion's id (which carries the provider's own id) with ``chatcmpl-`` removed."""
    base = str(native_id or "").removeprefix("chatcmpl-") or "response"
    return f"{CONVERTED_ID_PREFIX}{provider}_{_ID_CHARS.sub('_', base)}"


def response_status(finish_reason: Any) -> tuple[str, dict[str, Any] | None]:
    """``(status, incomplete_details)`` for a chat ``finish_reason``."""
    reason = _INCOMPLETE.get(finish_reason) if isinstance(finish_reason, str) else None
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def response_usage(usage: Any) -> dict[str, Any] | None:
    """A chat ``usage`` object (what the chat adapters give: cached tokens in
    ``prompt_tokens_details``, cache writes in ``cache_creation_input_tokens``, reasoning in
    ``completion_tokens_details``) as a Responses ``usage`` object, both read and written by
    the shared usage model (:func:`traceforge_shared.usage.usage_from_openai`,
    :func:`traceforge_shared.usage.responses_usage`); ``None`` without token counts."""
    read = usage_from_openai(usage)
    return None if read is None else responses_usage(read)


def reasoning_item(item_id: str, text: str, blocks: list[Any] | None) -> dict[str, Any]:
    """A ``reasoning`` output item (``summary``: the reasoning text; ``encrypted_content``:
    the provider's thinking blocks as JSON text, or ``None``)."""
    return {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}] if text else [],
        "encrypted_content": compact_json(blocks) if blocks else None,
        "status": "completed",
    }


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    """An assistant ``message`` output item with one ``output_text`` part."""
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def function_call_item(
    item_id: str, call_id: Any, name: Any, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    """A ``function_call`` output item (``arguments`` is JSON text)."""
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def response_object(
    request: dict[str, Any],
    *,
    id: str,
    created: int,
    model: str,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None = None,
    incomplete_details: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``response`` object echoing the request's settings, as OpenAI's does.

    Args:
        request: the client's Responses request (its settings are echoed).
        id: the response id (:func:`response_id`).
        created: ``created_at``, epoch seconds.
        model: the model that answered.
        status: ``in_progress``, ``completed``, ``incomplete`` or ``failed``.
        output: the output items.
        usage: the Responses ``usage`` (:func:`response_usage`).
        incomplete_details: ``{"reason"}`` for an incomplete response.
        error: ``{"code", "message"}`` for a failed one.
    """
    tools = request.get("tools")
    text = request.get("text")
    text = text if isinstance(text, dict) else {}
    reasoning = request.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, dict) else {}
    return {
        "id": id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete_details,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": False,
        "temperature": request.get("temperature"),
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": tools if isinstance(tools, list) else [],
        "top_p": request.get("top_p"),
        "truncation": "disabled",
        "usage": usage,
        "user": request.get("user"),
        "metadata": request.get("metadata") or {},
    }


def response_from_completion(
    completion: dict[str, Any], request: dict[str, Any], *, provider: str, created: int
) -> dict[str, Any]:
    """Convert a one-choice ``chat.completion`` (a chat adapter's answer) into the Responses
    ``response`` the client asked for.

    Args:
        completion: the converted ``chat.completion``.
        request: the client's Responses request.
        provider: the provider that answered (part of the id).
        created: ``created_at``, epoch seconds.
    """
    rid = response_id(provider, completion.get("id"))
    suffix = rid.removeprefix(CONVERTED_ID_PREFIX)
    choices = completion.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    choice: dict[str, Any] = first if isinstance(first, dict) else {}
    found = choice.get("message")
    message: dict[str, Any] = found if isinstance(found, dict) else {}
    output: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content")
    blocks = message.get("thinking_blocks")
    if reasoning or blocks:
        output.append(
            reasoning_item(
                f"rs_{suffix}",
                reasoning if isinstance(reasoning, str) else "",
                blocks if isinstance(blocks, list) else None,
            )
        )
    content = message.get("content")
    if isinstance(content, str) and (content or not message.get("tool_calls")):
        output.append(message_item(f"msg_{suffix}", content))
    calls = message.get("tool_calls")
    for i, call in enumerate(calls if isinstance(calls, list) else []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        arguments = function.get("arguments")
        output.append(
            function_call_item(
                f"fc_{suffix}_{i}",
                call.get("id"),
                function.get("name"),
                arguments if isinstance(arguments, str) else compact_json(arguments),
            )
        )
    status, incomplete = response_status(choice.get("finish_reason"))
    model = completion.get("model")
    return response_object(
        request,
        id=rid,
        created=created,
        model=model if isinstance(model, str) else str(request.get("model") or ""),
        status=status,
        output=output,
        usage=response_usage(completion.get("usage")),
        incomplete_details=incomplete,
    )

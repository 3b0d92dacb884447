"""The chat completion view of a Responses API ``response`` object.

A trace of a Responses API call (``endpoint`` ``/v1/responses``) keeps the ``response`` the
client got in ``trace.response`` (shape: https://platform.openai.com/docs/api-reference/
responses/object). What reads answers as chat completions (the answer text of lists, search,
diff, test authoring) reads it through :func:`chat_completion_view`: the output items as one
assistant message of a one-choice ``chat.completion``:

- ``message`` items -> ``content`` (their ``output_text`` parts joined) and ``refusal``;
- ``function_call`` items -> ``tool_calls`` (``{"id": call_id, "type": "function",
  "function": {"name", "arguments"}}``);
- ``reasoning`` items -> ``reasoning_content`` (summary texts, else reasoning texts);
- other items (``web_search_call``, ``file_search_call``, ...) have no chat equivalent and
  are left out;
- ``finish_reason``: ``tool_calls`` when there are calls, ``length`` for
  ``incomplete_details.reason: max_output_tokens``, ``content_filter`` for that reason, else
  ``stop``; ``usage``: ``prompt_tokens``/``completion_tokens``/``total_tokens`` with the
  cached and reasoning token details.

:func:`chat_request_view` does the same for the request (``instructions`` and ``input`` as
chat ``messages``). Readers do not call these directly but go through
:mod:`traceforge_shared.chat_view`, which picks the view by the trace's shape.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "chat_completion_view",
    "chat_messages",
    "chat_request_view",
    "is_response_object",
    "output_text",
]

_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


def is_response_object(value: Any) -> bool:
    """Whether ``value`` is a Responses API ``response`` object (``object: "response"``)."""
    return isinstance(value, dict) and value.get("object") == "response"


def _items(response: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    output = response.get("output")
    return [
        item
        for item in (output if isinstance(output, list) else [])
        if isinstance(item, dict) and item.get("type") == kind
    ]


def _texts(parts: Any, kind: str, field: str = "text") -> list[str]:
    return [
        part[field]
        for part in (parts if isinstance(parts, list) else [])
        if isinstance(part, dict) and part.get("type") == kind and isinstance(part.get(field), str)
    ]


def output_text(response: Any) -> str:
    """The answer text of a ``response``: every ``output_text`` part of its ``message``
    items, joined (what the openai SDK's ``Response.output_text`` gives); ``""`` if none."""
    if not is_response_object(response):
        return ""
    return "".join(
        text
        for item in _items(response, "message")
        for text in _texts(item.get("content"), "output_text")
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage(usage: Any) -> dict[str, Any] | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    total = usage.get("total_tokens")
    view: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total if isinstance(total, int) else prompt + completion,
    }
    details = usage.get("input_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if isinstance(cached, int):
        view["prompt_tokens_details"] = {"cached_tokens": cached}
    details = usage.get("output_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    if isinstance(reasoning, int):
        view["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return view


def chat_completion_view(response: Any) -> dict[str, Any] | None:
    """The one-choice ``chat.completion`` view of a Responses ``response`` (see the module
    doc), or ``None`` when ``response`` is not a ``response`` object."""
    if not is_response_object(response):
        return None
    messages = _items(response, "message")
    refusals = [t for m in messages for t in _texts(m.get("content"), "refusal", "refusal")]
    calls = [
        {
            "id": item.get("call_id"),
            "type": "function",
            "function": {"name": item.get("name"), "arguments": item.get("arguments") or ""},
        }
        for item in _items(response, "function_call")
    ]
    reasoning = [
        text
        for item in _items(response, "reasoning")
        for text in _texts(item.get("summary"), "summary_text")
        or _texts(item.get("content"), "reasoning_text")
    ]
    text = output_text(response)
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if refusals:
        message["refusal"] = "".join(refusals)
    if reasoning:
        message["reasoning_content"] = "\n\n".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    finish = "tool_calls" if calls else _FINISH.get(str(reason), "stop")
    view: dict[str, Any] = {
        "id": response.get("id"),
        "object": "chat.completion",
        "created": response.get("created_at"),
        "model": response.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    usage = _usage(response.get("usage"))
    if usage is not None:
        view["usage"] = usage
    return view


def _message_content(content: Any) -> Any:
    """A Responses message item's ``content`` as chat content: a string as is; ``input_text``
    / ``output_text`` parts as ``text`` parts, ``refusal`` parts as their text,
    ``input_image`` as ``image_url`` parts; other parts (``input_file``, ...) kept as they
    are. Text-only parts are joined into one string."""
    if not isinstance(content, list):
        return content
    parts: list[Any] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text") and isinstance(part, dict):
            parts.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "refusal" and isinstance(part, dict):
            parts.append({"type": "text", "text": str(part.get("refusal") or "")})
        elif kind == "input_image" and isinstance(part, dict):
            parts.append({"type": "image_url", "image_url": {"url": part.get("image_url")}})
        else:
            parts.append(part)
    if all(isinstance(p, dict) and p.get("type") == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def chat_messages(request: Any) -> list[dict[str, Any]] | None:
    """The chat ``messages`` of a Responses API request body
    (https://platform.openai.com/docs/api-reference/responses/create), for reading it as a
    conversation; ``None`` when ``request`` has no ``input``.

    ``instructions`` -> a first ``system`` message; a string ``input`` -> one ``user``
    message; ``message`` items -> messages of their role (``developer`` kept), content parts
    as chat parts; ``function_call`` items -> the ``tool_calls`` of an assistant message
    (the previous message when it is an assistant's); ``function_call_output`` -> a ``tool``
    message; other items (``reasoning``, ``item_reference``, hosted tool calls) are left
    out. Lenient: what the proxy's converter would refuse is still shown (it reads recorded
    traces, never raises).
    """
    if not isinstance(request, dict) or "input" not in request:
        return None
    messages: list[dict[str, Any]] = []
    instructions = request.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    items = request.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
        return messages
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            messages.append(
                {
                    "role": role if isinstance(role, str) else "user",
                    "content": _message_content(item.get("content")),
                }
            )
        elif kind == "function_call":
            last = messages[-1] if messages else None
            if last is None or last.get("role") != "assistant":
                last = {"role": "assistant", "content": None}
                messages.append(last)
            last.setdefault("tool_calls", []).append(
                {
                    "id": item.get("call_id"),
                    "type": "function",
                    "function": {"name": item.get("name"), "arguments": item.get("arguments")},
                }
            )
        elif kind == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id"),
                    "content": _message_content(item.get("output")),
                }
            )
    return messages


#: Responses request fields and the chat completion names they stand for.
_REQUEST_NAMES = {"max_output_tokens": "max_tokens"}
#: Responses request fields the chat view leaves out: read into other fields (``input``,
#: ``instructions``, ``reasoning``, ``text``) or with no chat completion meaning.
_NOT_IN_CHAT = frozenset(
    {
        "input",
        "instructions",
        "reasoning",
        "text",
        "include",
        "truncation",
        "background",
        "previous_response_id",
        "conversation",
        "prompt",
        "max_tool_calls",
    }
)


def chat_request_view(request: Any) -> dict[str, Any] | None:
    """The chat completion request view of a Responses API request: ``model``, the
    :func:`chat_messages`, function ``tools`` in chat's nested shape
    (``{"type": "function", "function": {name, description, parameters, strict}}``; hosted
    tools kept as they are), ``max_output_tokens`` as ``max_tokens``, ``reasoning.effort``
    as ``reasoning_effort``, ``text.format`` (``json_schema``/``json_object``) as
    ``response_format``; ``include``, ``truncation``, ``background``,
    ``previous_response_id``, ``conversation``, ``prompt`` and ``max_tool_calls`` (no chat
    equivalent) left out; every other field as it is. ``None`` when ``request`` is not a
    Responses request (no ``input``)."""
    messages = chat_messages(request)
    if messages is None or not isinstance(request, dict):
        return None
    view: dict[str, Any] = {}
    for key, value in request.items():
        if isinstance(key, str) and key not in _NOT_IN_CHAT:
            view[_REQUEST_NAMES.get(key, key)] = value
    view["messages"] = messages
    tools = request.get("tools")
    if isinstance(tools, list):
        view["tools"] = [
            {
                "type": "function",
                "function": {
                    k: tool[k]
                    for k in ("name", "description", "parameters", "strict")
                    if tool.get(k) is not None
                },
            }
            if isinstance(tool, dict) and tool.get("type") == "function"
            else tool
            for tool in tools
        ]
    reasoning = request.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        view["reasoning_effort"] = reasoning["effort"]
    text = request.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "description", "schema", "strict") if k in fmt}
        view["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        view["response_format"] = {"type": "json_object"}
    return view

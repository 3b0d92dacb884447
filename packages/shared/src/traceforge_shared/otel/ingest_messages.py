"""Chat messages of an LLM span, from every instrumentation's naming, as OpenAI Chat
Completions messages (https://platform.openai.com/docs/api-reference/chat/create).

Where each naming keeps the messages (attributes are the span's, already decoded from OTLP
``AnyValue``; JSON strings are parsed here):

- OpenTelemetry GenAI semantic conventions v1.37+ and the GenAI conventions v0.1
  (https://github.com/open-telemetry/semantic-conventions-genai, docs/gen-ai/gen-ai-spans.md):
  ``gen_ai.system_instructions``, ``gen_ai.input.messages``, ``gen_ai.output.messages``:
  JSON lists of ``{"role", "parts": [{"type": "text", "content"} | {"type": "tool_call",
  "id", "name", "arguments"} | {"type": "tool_call_response", "id", "response"}],
  "finish_reason"}``.
- Conventions v1.28-v1.36 (docs/gen-ai/gen-ai-events.md): span events
  ``gen_ai.system.message``, ``gen_ai.user.message``, ``gen_ai.assistant.message``,
  ``gen_ai.tool.message`` (``content``, ``tool_calls``, ``id``) and ``gen_ai.choice``
  (``index``, ``finish_reason``, ``message``), the body as attributes or as the JSON string
  ``gen_ai.event.content``; v1.26-v1.27 events ``gen_ai.content.prompt`` /
  ``gen_ai.content.completion`` carrying ``gen_ai.prompt`` / ``gen_ai.completion``.
- Older attributes ``gen_ai.prompt`` / ``gen_ai.completion`` (JSON or text) and
  OpenLLMetry's indexed ``gen_ai.prompt.<i>.role`` / ``.content`` / ``.tool_calls.<j>.name``,
  ``gen_ai.completion.<i>.content`` / ``.finish_reason``
  (https://github.com/traceloop/openllmetry, semconv_ai).
- OpenInference (https://github.com/Arize-ai/openinference, spec/semantic_conventions.md):
  ``llm.input_messages.<i>.message.role`` / ``.content`` / ``.contents.<k>.message_content.text``
  / ``.tool_calls.<j>.tool_call.function.name`` / ``.arguments`` / ``.tool_call.id`` /
  ``.tool_call_id``, ``llm.output_messages...``, else ``input.value`` / ``output.value``.
- Vercel AI SDK (https://ai-sdk.dev/docs/ai-sdk-core/telemetry): ``ai.prompt.messages`` (JSON,
  content parts ``text``, ``tool-call``, ``tool-result``), ``ai.response.text``,
  ``ai.response.toolCalls``, ``ai.response.finishReason``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

#: Finish reasons of other providers and SDKs → OpenAI's (``stop``, ``length``,
#: ``tool_calls``, ``content_filter``).
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "tool_call": "tool_calls",
    "tool-calls": "tool_calls",
    "content-filter": "content_filter",
    "safety": "content_filter",
    "complete": "stop",
}

_EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_INDEXED = re.compile(r"^(\d+)\.(.+)$")


def finish_reason(value: Any) -> str | None:
    """``value`` as an OpenAI finish reason (``end_turn`` → ``stop``, ``MAX_TOKENS`` →
    ``length``, ...); ``None`` when empty."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    return FINISH_REASONS.get(text, text)


def parse_json(value: Any) -> Any:
    """``value`` parsed when it is a string holding a JSON object or array, else as is."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def indexed(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Flattened lists (``<prefix>.<i>.<rest>``) regrouped: one dict of ``rest → value`` per
    index, in index order (``gen_ai.prompt.0.role`` → ``[{"role": ...}]``)."""
    groups: dict[int, dict[str, Any]] = {}
    start = prefix + "."
    for key, value in attrs.items():
        if not key.startswith(start):
            continue
        match = _INDEXED.match(key[len(start) :])
        if match is not None:
            groups.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [groups[i] for i in sorted(groups)]


def _tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {
        "id": str(call_id or ""),
        "type": "function",
        "function": {"name": str(name or ""), "arguments": _text(parse_json(arguments))},
    }


def _openai_tool_calls(value: Any) -> list[dict[str, Any]]:
    """Tool calls already shaped like OpenAI's (``function.name``) or flat (``name``)."""
    calls = parse_json(value)
    out: list[dict[str, Any]] = []
    if not isinstance(calls, list):
        return out
    for call in calls:
        if not isinstance(call, dict):
            continue
        nested = call.get("function")
        function: dict[str, Any] = nested if isinstance(nested, dict) else call
        out.append(_tool_call(call.get("id"), function.get("name"), function.get("arguments")))
    return out


def _message(role: str, content: Any, tool_calls: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    message: dict[str, Any] = {"role": role, "content": content}
    if tool_calls:
        message["tool_calls"] = list(tool_calls)
    return message


def _openai_message(raw: Any, default_role: str = "user") -> dict[str, Any] | None:
    """A message that is already OpenAI-shaped (``role``, ``content``, ``tool_calls``)."""
    if not isinstance(raw, dict):
        return None if raw is None else _message(default_role, _text(raw))
    message = _message(
        str(raw.get("role") or default_role),
        raw.get("content"),
        _openai_tool_calls(raw.get("tool_calls")),
    )
    if raw.get("tool_call_id"):
        message["tool_call_id"] = str(raw["tool_call_id"])
    return message


# -- v1.37+ / v0.1 parts ----------------------------------------------------------------------


def _parts_messages(raw: Any) -> list[dict[str, Any]]:
    """``{"role", "parts": [...]}`` → OpenAI messages (a tool response part is a ``tool``
    message of its own)."""
    if not isinstance(raw, dict):
        return []
    role = str(raw.get("role") or "user")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for part in raw.get("parts") or []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(_text(part.get("content")))
        elif kind == "tool_call":
            calls.append(_tool_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": str(part.get("id") or ""),
                    "content": _text(parse_json(part.get("response"))),
                }
            )
    if texts or calls or not out:
        out.insert(0, _message(role, "".join(texts) if texts else None, calls))
    return out


def _system_instructions(value: Any) -> dict[str, Any] | None:
    parts = parse_json(value)
    if isinstance(parts, str):
        return _message("system", parts)
    if not isinstance(parts, list):
        return None
    text = "".join(
        _text(p.get("content")) for p in parts if isinstance(p, dict) and p.get("type") == "text"
    )
    return _message("system", text)


# -- OpenInference ----------------------------------------------------------------------------


def _openinference_messages(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in indexed(attrs, prefix):
        content: Any = entry.get("message.content")
        if content is None:
            pieces = indexed(entry, "message.contents")
            texts = [str(p["message_content.text"]) for p in pieces if "message_content.text" in p]
            content = "".join(texts) if texts else None
        calls = [
            _tool_call(
                call.get("tool_call.id"),
                call.get("tool_call.function.name"),
                call.get("tool_call.function.arguments"),
            )
            for call in indexed(entry, "message.tool_calls")
        ]
        message = _message(str(entry.get("message.role") or "user"), content, calls)
        if entry.get("message.tool_call_id"):
            message["tool_call_id"] = str(entry["message.tool_call_id"])
        out.append(message)
    return out


# -- Vercel AI SDK ----------------------------------------------------------------------------


def _vercel_messages(value: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for raw in parse_json(value) if isinstance(parse_json(value), list) else []:
        if not isinstance(raw, dict):
            continue
        role = str(raw.get("role") or "user")
        content = raw.get("content")
        if isinstance(content, str) or content is None:
            out.append(_message(role, content))
            continue
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text":
                texts.append(_text(part.get("text")))
            elif kind == "tool-call":
                args = part.get("input", part.get("args"))
                calls.append(_tool_call(part.get("toolCallId"), part.get("toolName"), args))
            elif kind == "tool-result":
                result = part.get("output", part.get("result"))
                if isinstance(result, dict) and "value" in result:  # AI SDK 5 {type, value}
                    result = result["value"]
                results.append(
                    {
                        "role": "tool",
                        "tool_call_id": str(part.get("toolCallId") or ""),
                        "content": _text(result),
                    }
                )
        if texts or calls or not results:
            out.append(_message(role, "".join(texts) if texts else None, calls))
        out.extend(results)
    return out


def _vercel_tool_calls(value: Any) -> list[dict[str, Any]]:
    calls = parse_json(value)
    if not isinstance(calls, list):
        return []
    return [
        _tool_call(c.get("toolCallId"), c.get("toolName"), c.get("input", c.get("args")))
        for c in calls
        if isinstance(c, dict)
    ]


# -- events -----------------------------------------------------------------------------------


def _event_body(attributes: Mapping[str, Any]) -> dict[str, Any]:
    body = parse_json(attributes.get("gen_ai.event.content"))
    merged = dict(body) if isinstance(body, dict) else {}
    for key, value in attributes.items():
        if key != "gen_ai.event.content":
            merged.setdefault(key, value)
    return merged


def _event_messages(events: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """Input messages and ``gen_ai.choice`` bodies of the span's events, in order."""
    inputs: list[dict[str, Any]] = []
    choices: list[Any] = []
    for event in events:
        name = str(event.get("name", ""))
        attributes = event.get("attributes") or {}
        if name in _EVENT_ROLES:
            body = _event_body(attributes)
            message = _message(
                str(body.get("role") or _EVENT_ROLES[name]),
                parse_json(body.get("content")),
                _openai_tool_calls(body.get("tool_calls")),
            )
            if name == "gen_ai.tool.message" and body.get("id"):
                message["tool_call_id"] = str(body["id"])
            inputs.append(message)
        elif name == "gen_ai.choice":
            choices.append(_event_body(attributes))
        elif name == "gen_ai.content.prompt":
            inputs.extend(_loose_messages(attributes.get("gen_ai.prompt")))
        elif name == "gen_ai.content.completion":
            choices.append({"message": parse_json(attributes.get("gen_ai.completion"))})
    return inputs, choices


def _loose_messages(value: Any) -> list[dict[str, Any]]:
    """``gen_ai.prompt`` as JSON messages (OpenAI-shaped or parts) or plain text."""
    parsed = parse_json(value)
    if parsed is None or parsed == "":
        return []
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        return [_message("user", _text(parsed))]
    out: list[dict[str, Any]] = []
    for raw in parsed:
        if isinstance(raw, dict) and "parts" in raw:
            out.extend(_parts_messages(raw))
        else:
            message = _openai_message(raw)
            if message is not None:
                out.append(message)
    return out


# -- the two entry points ---------------------------------------------------------------------


def input_messages(
    attrs: Mapping[str, Any], events: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """The request's messages (OpenAI Chat Completions ``messages``), from whichever naming
    the span uses (newest first); ``[]`` when it recorded none.

    Args:
        attrs: the span's attributes (values already plain Python, JSON strings unparsed).
        events: the span's events, each ``{"name", "attributes"}``.
    """
    system = (
        _system_instructions(attrs["gen_ai.system_instructions"])
        if ("gen_ai.system_instructions" in attrs)
        else None
    )
    messages: list[dict[str, Any]] = []
    if "gen_ai.input.messages" in attrs:
        messages = _loose_messages(attrs["gen_ai.input.messages"])
    elif "ai.prompt.messages" in attrs:
        messages = _vercel_messages(attrs["ai.prompt.messages"])
    elif any(key.startswith("llm.input_messages.") for key in attrs):
        messages = _openinference_messages(attrs, "llm.input_messages")
    elif any(key.startswith("gen_ai.prompt.") for key in attrs):
        messages = [
            _openai_message(
                {
                    "role": entry.get("role"),
                    "content": entry.get("content"),
                    "tool_call_id": entry.get("tool_call_id"),
                    "tool_calls": [
                        {"id": c.get("id"), "name": c.get("name"), "arguments": c.get("arguments")}
                        for c in indexed(entry, "tool_calls")
                    ],
                }
            )
            or {}
            for entry in indexed(attrs, "gen_ai.prompt")
        ]
    elif "gen_ai.prompt" in attrs:
        messages = _loose_messages(attrs["gen_ai.prompt"])
    else:
        messages, _ = _event_messages(events)
        if not messages and "input.value" in attrs:
            value = parse_json(attrs["input.value"])
            if isinstance(value, dict) and isinstance(value.get("messages"), list):
                messages = _loose_messages(value["messages"])
            else:
                messages = _loose_messages(attrs["input.value"])
    if system is not None and not any(m.get("role") == "system" for m in messages):
        messages.insert(0, system)
    return [m for m in messages if m]


def output_message(
    attrs: Mapping[str, Any], events: Sequence[Mapping[str, Any]] = ()
) -> tuple[dict[str, Any] | None, str | None]:
    """The answer's first choice as an OpenAI ``message`` (``role``, ``content``,
    ``tool_calls``) and its finish reason; ``(None, reason)`` when the span recorded no
    output content. The reason falls back to ``gen_ai.response.finish_reasons[0]``."""
    reason: str | None = None
    message: dict[str, Any] | None = None
    if "gen_ai.output.messages" in attrs:
        raw = parse_json(attrs["gen_ai.output.messages"])
        first = raw[0] if isinstance(raw, list) and raw else None
        if isinstance(first, dict):
            parsed = _parts_messages({**first, "role": first.get("role") or "assistant"})
            message = parsed[0] if parsed else None
            reason = finish_reason(first.get("finish_reason"))
    elif "ai.response.text" in attrs or "ai.response.toolCalls" in attrs:
        message = _message(
            "assistant",
            attrs.get("ai.response.text"),
            _vercel_tool_calls(attrs.get("ai.response.toolCalls")),
        )
        reason = finish_reason(attrs.get("ai.response.finishReason"))
    elif any(key.startswith("llm.output_messages.") for key in attrs):
        found = _openinference_messages(attrs, "llm.output_messages")
        message = found[0] if found else None
    elif any(key.startswith("gen_ai.completion.") for key in attrs):
        entries = indexed(attrs, "gen_ai.completion")
        if entries:
            entry = entries[0]
            calls = [
                {"id": c.get("id"), "name": c.get("name"), "arguments": c.get("arguments")}
                for c in indexed(entry, "tool_calls")
            ]
            message = _openai_message(
                {
                    "role": entry.get("role") or "assistant",
                    "content": entry.get("content"),
                    "tool_calls": calls,
                }
            )
            reason = finish_reason(entry.get("finish_reason"))
    elif "gen_ai.completion" in attrs:
        found = _loose_messages(attrs["gen_ai.completion"])
        if found:
            message = {**found[0], "role": "assistant"}
    else:
        _, choices = _event_messages(events)
        if choices:
            body = choices[0]
            raw_message = parse_json(body.get("message"))
            if isinstance(raw_message, list):
                raw_message = raw_message[0] if raw_message else None
            message = _openai_message(raw_message, "assistant") if raw_message is not None else None
            if message is not None:
                message["role"] = "assistant"
            reason = finish_reason(body.get("finish_reason"))
        elif "output.value" in attrs:
            message = _message("assistant", _text(parse_json(attrs["output.value"])))
    if reason is None:
        reasons = attrs.get("gen_ai.response.finish_reasons")
        if isinstance(reasons, (list, tuple)) and reasons:
            reason = finish_reason(reasons[0])
        elif isinstance(reasons, str):
            reason = finish_reason(reasons)
    return message, reason

"""Structured-output answers of the mock upstream: real recorded answers as the frame, the
JSON value built by :func:`~.schema_instance.schema_instance` as the content.

- Anthropic, forced tool (``tool_choice: {"type": "tool", "name"}`` naming a tool with an
  ``input_schema``): the recorded forced-tool answer ``data/anthropic/message-json-tool.json`` /
  ``stream-json-tool.sse`` (vercel/ai ``anthropic-json-tool.1``) with the tool's name and the
  constructed ``input`` (streamed in the recording's ``input_json_delta`` fragments).
- Anthropic structured outputs (``output_config.format`` or the beta ``output_format``, type
  ``json_schema``): the recorded text answer (``message.json`` / ``stream-text.sse``) whose
  text is the constructed JSON, spread over the recording's ``text_delta`` events.
- Gemini (``generationConfig.responseJsonSchema`` or ``responseSchema``): the recorded
  ``generate-content.json`` / ``stream-text.sse`` with the JSON as the text parts.
- OpenAI Chat Completions (``response_format: {"type": "json_schema", "json_schema":
  {"schema"}}``): the recorded ``completion.json`` / ``stream-text-usage.sse`` with the JSON as
  the message content, spread over the recording's content deltas.

Events are re-serialized: compact JSON for Anthropic, Gemini's ``": "`` style with the
recording's line endings for Gemini.
"""

from __future__ import annotations

import json
from typing import Any

from traceforge_proxy.mock_upstream import replay
from traceforge_proxy.mock_upstream.schema_instance import schema_instance

__all__ = [
    "anthropic_answer",
    "anthropic_schema",
    "anthropic_stream",
    "gemini_answer",
    "gemini_schema",
    "gemini_stream",
    "openai_answer",
    "openai_schema",
    "openai_stream",
]

TOOL_MESSAGE = "anthropic/message-json-tool.json"
TOOL_STREAM = "anthropic/stream-json-tool.sse"
TEXT_MESSAGE = "anthropic/message.json"
TEXT_STREAM = "anthropic/stream-text.sse"
GEMINI_CONTENT = "gemini/generate-content.json"
GEMINI_STREAM = "gemini/stream-text.sse"
OPENAI_COMPLETION = "completion.json"
OPENAI_STREAM = "stream-text-usage.sse"


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def anthropic_schema(body: Any) -> tuple[str | None, dict[str, Any]] | None:
    """``(tool name, schema)`` for a forced tool, ``(None, schema)`` for
    ``output_config.format`` / ``output_format``; ``None`` when no structured output is asked."""
    choice = _get(body, "tool_choice")
    if _get(choice, "type") == "tool":
        for tool in _get(body, "tools") or []:
            if _get(tool, "name") == choice.get("name") and isinstance(
                _get(tool, "input_schema"), dict
            ):
                return str(tool["name"]), tool["input_schema"]
    for path in (("output_config", "format"), ("output_format",)):
        spec = _get(body, *path)
        if _get(spec, "type") == "json_schema" and isinstance(_get(spec, "schema"), dict):
            return None, spec["schema"]
    return None


def _pieces(text: str, count: int) -> list[str]:
    """``text`` cut into ``count`` consecutive pieces (the last ones may be empty)."""
    size = -(-len(text) // max(count, 1))
    return [text[i * size : (i + 1) * size] for i in range(count)]


def _named(event: str | None, payload: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return f"{head}data: {data}\n\n".encode()


def anthropic_answer(name: str | None, schema: dict[str, Any]) -> dict[str, Any]:
    """The non-streaming ``message``: a ``tool_use`` of ``name`` (or, for ``None``, one text
    block) carrying an instance of ``schema``."""
    value = schema_instance(schema)
    if name is None:
        message = replay.transcript_json(TEXT_MESSAGE)
        message["content"] = [{"type": "text", "text": json.dumps(value, ensure_ascii=False)}]
        return message  # type: ignore[no-any-return]
    message = replay.transcript_json(TOOL_MESSAGE)
    message["content"][0] |= {"name": name, "input": value}
    return message  # type: ignore[no-any-return]


def anthropic_stream(name: str | None, schema: dict[str, Any]) -> list[bytes]:
    """The SSE events of a streamed answer (see :func:`anthropic_answer`)."""
    text = json.dumps(schema_instance(schema), ensure_ascii=False)
    frame = TEXT_STREAM if name is None else TOOL_STREAM
    events = [(e.event, json.loads(e.data or b"{}")) for e in replay.sse_events(frame)]
    kind, field = ("text_delta", "text") if name is None else ("input_json_delta", "partial_json")
    slots = [p for _, p in events if _get(p, "delta", "type") == kind and p["delta"][field]]
    for payload, piece in zip(slots, _pieces(text, len(slots)), strict=True):
        payload["delta"][field] = piece
    for _, payload in events:
        block = _get(payload, "content_block")
        if name is not None and _get(block, "type") == "tool_use":
            block["name"] = name
    return [_named(event, payload) for event, payload in events]


def gemini_schema(body: Any) -> Any:
    """The ``responseJsonSchema`` / ``responseSchema`` of ``generationConfig`` (either
    spelling), or ``None``."""
    config = _get(body, "generationConfig") or _get(body, "generation_config")
    for key in ("responseJsonSchema", "response_json_schema", "responseSchema", "response_schema"):
        if isinstance(_get(config, key), dict):
            return config[key]
    return None


def gemini_answer(schema: dict[str, Any]) -> dict[str, Any]:
    """The ``GenerateContentResponse`` whose one text part is an instance of ``schema``."""
    response = replay.transcript_json(GEMINI_CONTENT)
    text = json.dumps(schema_instance(schema), ensure_ascii=False)
    response["candidates"][0]["content"]["parts"] = [{"text": text}]
    return response  # type: ignore[no-any-return]


def gemini_stream(schema: dict[str, Any]) -> list[bytes]:
    """The ``alt=sse`` events, the instance of ``schema`` spread over the recording's text
    parts (its empty closing part keeps its ``thoughtSignature``)."""
    text = json.dumps(schema_instance(schema), ensure_ascii=False)
    events = replay.sse_events(GEMINI_STREAM)
    payloads = [json.loads(e.data or b"{}") for e in events]
    parts = [p for r in payloads for p in _get(r, "candidates")[0]["content"]["parts"]]
    slots = [p for p in parts if p.get("text")]
    for part, piece in zip(slots, _pieces(text, len(slots)), strict=True):
        part["text"] = piece
    out = []
    for event, payload in zip(events, payloads, strict=True):
        ending = "\r\n\r\n" if event.raw.endswith(b"\r\n\r\n") else "\n\n"
        data = json.dumps(payload, separators=(",", ": "), ensure_ascii=False)
        out.append(f"data: {data}{ending}".encode())
    return out


def openai_schema(body: Any) -> dict[str, Any] | None:
    """The JSON schema of a Chat Completions ``response_format`` of type ``json_schema``
    (https://platform.openai.com/docs/api-reference/chat/create#chat-create-response_format),
    or ``None``."""
    response_format = _get(body, "response_format")
    if _get(response_format, "type") != "json_schema":
        return None
    schema = _get(response_format, "json_schema", "schema")
    return schema if isinstance(schema, dict) else None


def openai_answer(schema: dict[str, Any]) -> dict[str, Any]:
    """The recorded ``chat.completion`` whose message content is an instance of ``schema``."""
    response = replay.transcript_json(OPENAI_COMPLETION)
    message = response["choices"][0]["message"]
    message["content"] = json.dumps(schema_instance(schema), ensure_ascii=False)
    message["refusal"] = None
    return response  # type: ignore[no-any-return]


def openai_stream(schema: dict[str, Any]) -> list[tuple[bytes, bool]]:
    """The recorded stream's events as ``(raw bytes, is the usage-only chunk)``, the instance
    of ``schema`` spread over the recording's non-empty content deltas."""
    text = json.dumps(schema_instance(schema), ensure_ascii=False)
    events = replay.sse_events(OPENAI_STREAM)
    payloads: list[Any] = [
        None if not e.data or e.data == b"[DONE]" else json.loads(e.data) for e in events
    ]
    slots = [
        choice["delta"]
        for payload in payloads
        if isinstance(payload, dict)
        for choice in payload.get("choices") or []
        if (choice.get("delta") or {}).get("content")
    ]
    for delta, piece in zip(slots, _pieces(text, len(slots)), strict=True):
        delta["content"] = piece
    out = []
    for event, payload in zip(events, payloads, strict=True):
        if payload is None:
            out.append((event.raw, False))
            continue
        usage_only = payload.get("choices") == [] and payload.get("usage") is not None
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        out.append((f"data: {data}\n\n".encode(), usage_only))
    return out

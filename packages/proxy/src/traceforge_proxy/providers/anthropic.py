"""Anthropic Messages API adapter: OpenAI Chat Completions in and out, Anthropic on the wire.

Client side: OpenAI Chat Completions (https://platform.openai.com/docs/api-reference/chat/create)
requests, ``chat.completion`` answers and ``chat.completion.chunk`` streams. Provider side:
Anthropic Messages (https://docs.anthropic.com/en/api/messages): ``POST /v1/messages`` with a
top-level ``system``, alternating ``user``/``assistant`` messages of content blocks (``text``,
``image``, ``tool_use``, ``tool_result``) and a required ``max_tokens``; streams of named SSE
events (https://docs.anthropic.com/en/api/messages-streaming); errors as ``{"type": "error",
"error": {"type", "message"}}`` (https://docs.anthropic.com/en/api/errors). Pure: ids come
from the provider's answer, nothing reads the clock.
"""

from __future__ import annotations

from typing import Any

from traceforge_proxy.providers.anthropic_request import (
    DEFAULT_MAX_TOKENS,
    RESPONSE_TOOL,
    TOOL_CHOICE,
    build_request,
)
from traceforge_proxy.providers.anthropic_stream import (
    FINISH_REASONS,
    AnthropicStreamConverter,
    as_object,
    convert_error,
    error_status,
    finish_reason,
    merge_usage,
)
from traceforge_proxy.providers.base import (
    ProviderRequest,
    StreamUsage,
    compact_json,
    openai_error,
)
from traceforge_proxy.providers.chunks import tool_call

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FINISH_REASONS",
    "AnthropicAdapter",
    "AnthropicStreamConverter",
]

_TOOL_CHOICE_BACK = {kind: choice for choice, kind in TOOL_CHOICE.items()}


class AnthropicAdapter:
    """:class:`~traceforge_proxy.providers.base.ProviderAdapter` for the Anthropic Messages
    API (``POST /v1/messages``). Stateless; see the module docstring for the formats."""

    name = "anthropic"

    def build_request(self, request: dict[str, Any], *, model: str) -> ProviderRequest:
        """OpenAI chat request -> Anthropic Messages request.

        Raises:
            ProviderError: (400) no ``messages`` list, ``n`` > 1, ``logprobs``, invalid tool
                call arguments, unsupported content parts, roles, tools or ``tool_choice``.
        """
        return build_request(request, model)

    def convert_response(self, body: Any, *, model: str, created: int) -> dict[str, Any]:
        """Anthropic ``message`` -> OpenAI ``chat.completion`` (one choice; text blocks
        joined, ``tool_use`` -> ``tool_calls`` but the ``response_format`` tool's input ->
        ``content``, ``thinking`` -> ``reasoning_content`` and ``thinking_blocks`` (each
        ``{"type": "thinking", "thinking", "signature"}`` or ``{"type":
        "redacted_thinking", "data"}``, to send back in the next turn))."""
        if isinstance(body, dict) and body.get("type") == "error":
            raise self.convert_error(
                error_status(as_object(body.get("error")).get("type"), 502), body
            )
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise openai_error(
                502, "Anthropic returned an unexpected response body", "server_error"
            )
        texts: list[str] = []
        reasoning: list[str] = []
        thinking_blocks: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        answered = False  # the response_format tool was called: its input is the text
        for block in body["content"]:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                texts.append(str(block.get("text", "")))
            elif kind == "thinking":
                reasoning.append(str(block.get("thinking", "")))
                thinking_blocks.append(
                    {"type": "thinking", "thinking": reasoning[-1]}
                    | {"signature": block.get("signature")}
                )
            elif kind == "redacted_thinking":
                thinking_blocks.append({"type": "redacted_thinking", "data": block.get("data")})
            elif kind == "tool_use" and block.get("name") == RESPONSE_TOOL:
                texts.append(compact_json(block.get("input")))
                answered = True
            elif kind == "tool_use":
                calls.append(
                    tool_call(block.get("id"), block.get("name"), compact_json(block.get("input")))
                )
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(texts) if texts or not calls else None,
        }
        if reasoning:
            message["reasoning_content"] = "".join(reasoning)
        if thinking_blocks:
            message["thinking_blocks"] = thinking_blocks
        if calls:
            message["tool_calls"] = calls
        completion: dict[str, Any] = {
            "id": body.get("id"),
            "object": "chat.completion",
            "created": created,
            "model": body.get("model") or model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": finish_reason(
                        "end_turn" if answered and not calls else body.get("stop_reason")
                    ),
                }
            ],
        }
        usage = StreamUsage()
        merge_usage(usage, {}, body.get("usage"))
        if (openai_usage := usage.as_openai()) is not None:
            completion["usage"] = openai_usage
        return completion

    def stream_converter(
        self, *, model: str, created: int, include_usage: bool
    ) -> AnthropicStreamConverter:
        """A fresh :class:`AnthropicStreamConverter` for one stream."""
        return AnthropicStreamConverter(model=model, created=created, include_usage=include_usage)

    #: The provider's HTTP error (status, decoded body or text) -> OpenAI's shape.
    convert_error = staticmethod(convert_error)

    def normalize_request(self, body: Any) -> dict[str, Any]:
        """Anthropic Messages request -> its OpenAI chat request view (for traces of native
        calls): ``system`` first, ``tool_use`` -> ``tool_calls``, ``tool_result`` -> ``tool``
        messages, images -> ``image_url`` parts, text blocks joined with blank lines."""
        if not isinstance(body, dict):
            return {"messages": []}
        out: dict[str, Any] = {}
        if "model" in body:
            out["model"] = body["model"]
        messages: list[dict[str, Any]] = []
        system = body.get("system")
        if isinstance(system, list):
            system = _joined_text(system)
        if isinstance(system, str) and system:
            messages.append({"role": "system", "content": system})
        for message in body.get("messages") or []:
            if isinstance(message, dict):
                messages.extend(_normalize_message(message))
        out["messages"] = messages
        tools = []
        for tool in body.get("tools") or []:  # server tools (no input_schema) are left out
            if isinstance(tool, dict) and "input_schema" in tool:
                function = {"name": tool.get("name"), "description": tool.get("description")}
                function = {k: v for k, v in function.items() if v is not None}
                function["parameters"] = tool["input_schema"]
                tools.append({"type": "function", "function": function})
        if tools:
            out["tools"] = tools
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            if choice.get("type") == "tool":
                out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
            elif choice.get("type") in _TOOL_CHOICE_BACK:
                out["tool_choice"] = _TOOL_CHOICE_BACK[choice["type"]]
            if choice.get("disable_parallel_tool_use") is True:
                out["parallel_tool_calls"] = False
        for key in ("max_tokens", "temperature", "top_p", "stream"):
            if body.get(key) is not None:
                out[key] = body[key]
        if body.get("stop_sequences"):
            out["stop"] = body["stop_sequences"]
        metadata = body.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
            out["user"] = metadata["user_id"]
        return out


def _joined_text(blocks: Any) -> str:
    if isinstance(blocks, str):
        return blocks
    texts = [b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
    return "\n\n".join(str(t) for t in texts)


def _normalize_message(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One Anthropic message -> OpenAI messages (tool results become ``tool`` messages)."""
    role, content = message.get("role"), message.get("content")
    if not isinstance(content, list):
        return [{"role": role, "content": content}]
    blocks = [b for b in content if isinstance(b, dict)]
    if role == "assistant":
        calls = [
            tool_call(b.get("id"), b.get("name"), compact_json(b.get("input", {})))
            for b in blocks
            if b.get("type") == "tool_use"
        ]
        has_text = any(b.get("type") == "text" for b in blocks)
        out: dict[str, Any] = {"role": role, "content": _joined_text(blocks) if has_text else None}
        if calls:
            out["tool_calls"] = calls
        return [out]
    result: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for b in blocks:
        if b.get("type") == "tool_result":
            tool_content = _joined_text(b.get("content") or "")
            result.append(
                {"role": "tool", "tool_call_id": b.get("tool_use_id"), "content": tool_content}
            )
        elif b.get("type") == "text":
            parts.append({"type": "text", "text": b.get("text", "")})
        elif b.get("type") == "image" and isinstance(source := b.get("source"), dict):
            url = source.get("url")
            if source.get("type") == "base64":
                url = f"data:{source.get('media_type')};base64,{source.get('data')}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
    if parts and all(p["type"] == "text" for p in parts):
        result.append({"role": role, "content": _joined_text(parts)})
    elif parts:
        result.append({"role": role, "content": parts})
    return result

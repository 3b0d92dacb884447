"""Anthropic Messages API through the ``anthropic`` SDK.

API reference: https://docs.anthropic.com/en/api/messages (streaming events:
https://docs.anthropic.com/en/api/messages-streaming; errors, ``overloaded_error`` in-band
included: https://docs.anthropic.com/en/api/errors).

Request conversion from OpenAI's shape: ``system`` messages and `StreamRequest.system` go to
the top-level ``system``; assistant ``tool_calls`` become ``tool_use`` blocks and ``tool``
messages ``tool_result`` blocks in a user turn; OpenAI function tools become
``{"name", "description", "input_schema"}``. ``max_tokens`` is required by the API: 1024
when the request has none.

Usage: ``prompt_tokens`` = ``input_tokens`` + ``cache_read_input_tokens`` +
``cache_creation_input_tokens`` (Anthropic counts cached input apart), ``cached_tokens`` =
``cache_read_input_tokens``, ``completion_tokens`` = the last ``output_tokens``.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic

from traceforge.errors import ProviderError, Timeout, from_status
from traceforge.providers import base, events

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicConverter", "AnthropicProvider", "anthropic_params"]

#: ``max_tokens`` sent when the request has none (the API requires one).
DEFAULT_MAX_TOKENS = 1024


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def anthropic_params(request: events.StreamRequest) -> dict[str, Any]:
    """The ``messages.create`` keyword arguments for ``request`` (``stream`` not included)."""
    system: list[str] = [request.system] if request.system else []
    messages: list[dict[str, Any]] = []
    for message in request.conversation():
        role = message.get("role")
        if role == "system":
            system.append(_text(message.get("content")))
            continue
        if role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": _text(message.get("content")),
            }
            if (
                messages
                and messages[-1]["role"] == "user"
                and isinstance(messages[-1]["content"], list)
            ):
                messages[-1]["content"].append(block)
            else:
                messages.append({"role": "user", "content": [block]})
            continue
        if role == "assistant" and message.get("tool_calls"):
            blocks: list[dict[str, Any]] = []
            if message.get("content"):
                blocks.append({"type": "text", "text": _text(message["content"])})
            for call in message["tool_calls"]:
                function = call.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id"),
                        "name": function.get("name"),
                        "input": json.loads(function.get("arguments") or "{}"),
                    }
                )
            messages.append({"role": "assistant", "content": blocks})
            continue
        messages.append({"role": role, "content": message.get("content")})
    params: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if system:
        params["system"] = "\n\n".join(system)
    if request.temperature is not None:
        # In the body directly: not every ``anthropic`` release declares the argument.
        params["extra_body"] = {"temperature": request.temperature}
    if request.tools:
        params["tools"] = [
            {
                "name": tool["function"]["name"],
                "description": tool["function"].get("description", ""),
                "input_schema": tool["function"].get("parameters") or {"type": "object"},
            }
            for tool in request.tools
        ]
    return params


class AnthropicConverter(base.Converter):
    """Raw stream events → events: ``text_delta`` → `TokenEvent`, ``thinking_delta`` →
    `ReasoningEvent`, a ``tool_use`` block start → `ToolCallEvent` (id, name), its
    ``input_json_delta`` fragments → `ToolCallEvent` (arguments); ``message_start`` /
    ``message_delta`` usage and ``stop_reason`` → the `DoneEvent`."""

    def __init__(self) -> None:
        self.tool_index: dict[int, int] = {}  # content block index → tool call index
        self.finish_reason: str | None = None
        self.input_tokens: int | None = None
        self.cached: int | None = None
        self.output_tokens: int | None = None

    def feed(self, item: Any) -> list[events.StreamEvent]:
        kind = item.type
        if kind == "message_start":
            usage = item.message.usage
            self.cached = usage.cache_read_input_tokens
            self.input_tokens = (
                usage.input_tokens
                + (usage.cache_read_input_tokens or 0)
                + (usage.cache_creation_input_tokens or 0)
            )
            self.output_tokens = usage.output_tokens
        elif kind == "content_block_start":
            block = item.content_block
            if block.type == "tool_use":
                index = self.tool_index[item.index] = len(self.tool_index)
                return [
                    events.ToolCallEvent(
                        id=block.id, name=block.name, arguments_delta="", index=index
                    )
                ]
            if block.type == "text" and block.text:
                return [events.TokenEvent(block.text)]
        elif kind == "content_block_delta":
            delta = item.delta
            if delta.type == "text_delta" and delta.text:
                return [events.TokenEvent(delta.text)]
            if delta.type == "thinking_delta" and delta.thinking:
                return [events.ReasoningEvent(delta.thinking)]
            if delta.type == "input_json_delta" and delta.partial_json:
                index = self.tool_index.get(item.index, 0)
                return [
                    events.ToolCallEvent(
                        id=None, name=None, arguments_delta=delta.partial_json, index=index
                    )
                ]
        elif kind == "message_delta":
            self.finish_reason = item.delta.stop_reason or self.finish_reason
            if item.usage is not None and item.usage.output_tokens is not None:
                self.output_tokens = item.usage.output_tokens
        return []

    def end(self) -> list[events.StreamEvent]:
        usage = base.make_usage(self.input_tokens, self.output_tokens, cached=self.cached)
        return [events.DoneEvent(self.finish_reason, usage)]


class AnthropicProvider(base.Provider):
    """Anthropic (``wire_format == "anthropic"``)."""

    def _client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(**self._sdk_options())

    async def _open(self, request: events.StreamRequest) -> base.OpenedStream:
        client = self._client()
        return await base.open_stream(
            lambda: client.messages.create(**anthropic_params(request), stream=True),
            client.close,
            close_method="close",
        )

    def _converter(self, request: events.StreamRequest) -> base.Converter:
        return AnthropicConverter()

    def _map_error(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, anthropic.APIStatusError):
            # An in-band ``event: error`` arrives with the stream's 200: no status of its own.
            status = exc.status_code if exc.status_code >= 400 else None
            return from_status(self.name, status, exc.body, dict(exc.response.headers))
        if isinstance(exc, anthropic.APITimeoutError):
            return Timeout(str(exc), provider=self.name)
        if isinstance(exc, anthropic.APIConnectionError):
            return ProviderError(f"connection failed: {exc}", provider=self.name)
        if isinstance(exc, anthropic.APIError):
            return from_status(self.name, None, exc.body)
        return None

    async def _fetch_models(self) -> list[str]:
        return await base.list_model_ids(self._client())

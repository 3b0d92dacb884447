"""Cohere's v2 Chat API through the ``cohere`` SDK (``AsyncClientV2.chat_stream``).

API reference: https://docs.cohere.com/reference/chat-stream (named events
``message-start``, ``content-delta``, ``tool-plan-delta``, ``tool-call-start`` /
``-delta`` / ``-end``, ``message-end`` with ``finish_reason`` and ``usage``).

Cohere v2 takes OpenAI-shaped messages (``system``, ``user``, ``assistant`` with
``tool_calls``, ``tool`` with ``tool_call_id``) and function tools as they are. Events:
``content-delta`` → `TokenEvent`, ``tool-plan-delta`` (the model's plan before calling tools)
and thinking deltas → `ReasoningEvent`, ``tool-call-start`` → `ToolCallEvent` (id, name),
``tool-call-delta`` → `ToolCallEvent` (arguments). Usage: ``usage.tokens.input_tokens`` /
``output_tokens`` (the tokens processed; ``billed_units`` may be fewer) and
``cached_tokens``. The SDK's own retries are off (``max_retries=0``).
"""

from __future__ import annotations

from typing import Any

import cohere
from cohere.core.api_error import ApiError

from traceforge.errors import ProviderError, from_status
from traceforge.providers import base, events

__all__ = ["CohereConverter", "CohereProvider"]

_NO_RETRIES: Any = {"max_retries": 0}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _path(obj: Any, *names: str) -> Any:
    for name in names:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj


class CohereConverter(base.DoneConverter):
    """``V2ChatStreamResponse`` events → events (see the module docstring)."""

    def feed(self, item: Any) -> list[events.StreamEvent]:
        kind = getattr(item, "type", None)
        message = _path(item, "delta", "message")
        if kind == "content-delta":
            content = _path(message, "content")
            thinking = _path(content, "thinking")
            text = _path(content, "text")
            out: list[events.StreamEvent] = []
            if thinking:
                out.append(events.ReasoningEvent(thinking))
            if text:
                out.append(events.TokenEvent(text))
            return out
        if kind == "tool-plan-delta":
            plan = _path(message, "tool_plan")
            return [events.ReasoningEvent(plan)] if plan else []
        if kind == "tool-call-start":
            call = _path(message, "tool_calls")
            return [
                events.ToolCallEvent(
                    id=_path(call, "id"),
                    name=_path(call, "function", "name"),
                    arguments_delta=_path(call, "function", "arguments") or "",
                    index=item.index or 0,
                )
            ]
        if kind == "tool-call-delta":
            arguments = _path(message, "tool_calls", "function", "arguments")
            if arguments:
                return [
                    events.ToolCallEvent(
                        id=None, name=None, arguments_delta=arguments, index=item.index or 0
                    )
                ]
        if kind == "message-end":
            delta = item.delta
            reason = _path(delta, "finish_reason")
            self.finish_reason = None if reason is None else str(reason)
            usage = _path(delta, "usage")
            self.usage = base.make_usage(
                _int(_path(usage, "tokens", "input_tokens")),
                _int(_path(usage, "tokens", "output_tokens")),
                cached=_int(_path(usage, "cached_tokens")),
            )
        return []


class CohereProvider(base.Provider):
    """Cohere (``wire_format == "cohere"``)."""

    def _client(self) -> cohere.AsyncClientV2:
        return cohere.AsyncClientV2(**self._sdk_options(), log_warning_experimental_features=False)

    async def _open(self, request: events.StreamRequest) -> base.OpenedStream:
        messages: list[dict[str, Any]] = []
        if request.system is not None:
            messages.append({"role": "system", "content": request.system})
        messages += request.conversation()
        params: dict[str, Any] = {"model": request.model, "messages": messages}
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if request.tools:
            params["tools"] = request.tools
        client = self._client()

        async def start() -> Any:
            return client.chat_stream(**params, request_options=_NO_RETRIES)

        async def close_client() -> None:
            await client.__aexit__(None, None, None)  # type: ignore[no-untyped-call]  # closes its httpx client

        return await base.open_stream(start, close_client)

    def _converter(self, request: events.StreamRequest) -> base.Converter:
        return CohereConverter()

    def _map_error(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, ApiError):
            return from_status(self.name, exc.status_code, exc.body, exc.headers)
        return None

    async def _fetch_models(self) -> list[str]:
        async with self._client() as client:
            listed = await client.models.list(request_options=_NO_RETRIES)
        return [model.name for model in listed.models or () if model.name]

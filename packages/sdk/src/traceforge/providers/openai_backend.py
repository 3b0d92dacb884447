"""OpenAI Chat Completions through the ``openai`` SDK: OpenAI, Azure OpenAI, xAI and every
OpenAI-compatible registry entry (groq, deepseek, mistral, openrouter, together, fireworks,
openai-compatible).

API reference: https://platform.openai.com/docs/api-reference/chat/create-chat-completion
(streaming chunks: https://platform.openai.com/docs/api-reference/chat/streaming); xAI's
``reasoning_content`` deltas: https://docs.x.ai/docs/guides/reasoning.

Streams always ask for ``stream_options.include_usage`` so the `DoneEvent` carries usage.
The SDK's own retries are off (``max_retries=0``): `traceforge.retry` does them.
"""

from __future__ import annotations

import os
from typing import Any

import openai

from traceforge.errors import ProviderError, Timeout, from_status
from traceforge.providers import base, events

__all__ = ["OpenAIConverter", "OpenAIProvider", "openai_messages"]

#: Azure's API version when ``OPENAI_API_VERSION`` is not set.
AZURE_API_VERSION = "2024-10-21"


def openai_messages(request: events.StreamRequest) -> list[dict[str, Any]]:
    """The request's messages in OpenAI's shape, ``system`` first when given."""
    messages = request.conversation()
    if request.system is not None:
        messages.insert(0, {"role": "system", "content": request.system})
    return messages


_get = base.model_field


class OpenAIConverter(base.DoneConverter):
    """``ChatCompletionChunk`` → events: ``delta.reasoning_content`` (xAI, DeepSeek) or
    ``delta.reasoning`` → `ReasoningEvent`, ``delta.content`` → `TokenEvent`,
    ``delta.tool_calls[]`` → `ToolCallEvent` (``index``, ``id``, ``function.name``,
    ``function.arguments``); the usage chunk and ``finish_reason`` → the `DoneEvent`."""

    def feed(self, item: Any) -> list[events.StreamEvent]:
        out: list[events.StreamEvent] = []
        usage = getattr(item, "usage", None)
        if usage is not None:
            prompt_details = _get(usage, "prompt_tokens_details")
            completion_details = _get(usage, "completion_tokens_details")
            self.usage = base.make_usage(
                _get(usage, "prompt_tokens"),
                _get(usage, "completion_tokens"),
                _get(usage, "total_tokens"),
                _get(prompt_details, "cached_tokens") if prompt_details else None,
                _get(completion_details, "reasoning_tokens") if completion_details else None,
            )
        for choice in getattr(item, "choices", None) or ():
            delta = choice.delta
            if delta is not None:
                reasoning = _get(delta, "reasoning_content") or _get(delta, "reasoning")
                if isinstance(reasoning, str) and reasoning:
                    out.append(events.ReasoningEvent(reasoning))
                if delta.content:
                    out.append(events.TokenEvent(delta.content))
                for call in delta.tool_calls or ():
                    function = call.function
                    out.append(
                        events.ToolCallEvent(
                            id=call.id,
                            name=function.name if function else None,
                            arguments_delta=(function.arguments or "") if function else "",
                            index=call.index,
                        )
                    )
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return out


class OpenAIProvider(base.Provider):
    """A provider speaking OpenAI Chat Completions (``wire_format == "openai"``)."""

    def _client(self) -> openai.AsyncOpenAI:
        options = self._sdk_options()
        if self.name == "azure" and not self.endpoint.via_proxy:
            return openai.AsyncAzureOpenAI(
                azure_endpoint=options.pop("base_url"),
                api_version=os.environ.get("OPENAI_API_VERSION", AZURE_API_VERSION),
                **options,
            )
        return openai.AsyncOpenAI(**options)

    async def _open(self, request: events.StreamRequest) -> base.OpenedStream:
        client = self._client()
        params: dict[str, Any] = {
            "model": request.model,
            "messages": openai_messages(request),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            key = "max_completion_tokens" if self.name in ("openai", "azure") else "max_tokens"
            params[key] = request.max_tokens
        if request.tools:
            params["tools"] = request.tools
        return await base.open_stream(
            lambda: client.chat.completions.create(**params), client.close, close_method="close"
        )

    def _converter(self, request: events.StreamRequest) -> base.Converter:
        return OpenAIConverter()

    def _map_error(self, exc: Exception) -> ProviderError | None:
        return map_openai_error(self.name, exc)

    async def _fetch_models(self) -> list[str]:
        return await base.list_model_ids(self._client())


def map_openai_error(provider: str, exc: Exception) -> ProviderError | None:
    """An ``openai`` SDK exception as a `ProviderError` (None for other exceptions):
    ``APIStatusError`` by status (`from_status`), ``APITimeoutError`` → `Timeout`,
    ``APIConnectionError`` → `ProviderError` without status, an in-stream ``APIError`` by
    its body."""
    if isinstance(exc, openai.APIStatusError):
        return from_status(provider, exc.status_code, exc.body, dict(exc.response.headers))
    if isinstance(exc, openai.APITimeoutError):
        return Timeout(str(exc), provider=provider)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(f"connection failed: {exc}", provider=provider)
    if isinstance(exc, openai.APIError):
        return from_status(provider, None, exc.body if exc.body is not None else exc.message)
    return None

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
from traceforge.providers.base import Converter, OpenedStream, Provider, make_usage
from traceforge.providers.events import (
    DoneEvent,
    ReasoningEvent,
    StreamEvent,
    StreamRequest,
    TokenEvent,
    ToolCallEvent,
    Usage,
)

__all__ = ["OpenAIConverter", "OpenAIProvider", "openai_messages"]

#: Azure's API version when ``OPENAI_API_VERSION`` is not set.
AZURE_API_VERSION = "2024-10-21"


def openai_messages(request: StreamRequest) -> list[dict[str, Any]]:
    """The request's messages in OpenAI's shape, ``system`` first when given."""
    messages = request.conversation()
    if request.system is not None:
        messages.insert(0, {"role": "system", "content": request.system})
    return messages


def _get(obj: Any, name: str) -> Any:
    """An attribute of an SDK model, extra (undeclared) fields included."""
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None)
        if isinstance(extra, dict):
            value = extra.get(name)
    return value


class OpenAIConverter(Converter):
    """``ChatCompletionChunk`` → events: ``delta.reasoning_content`` (xAI, DeepSeek) or
    ``delta.reasoning`` → `ReasoningEvent`, ``delta.content`` → `TokenEvent`,
    ``delta.tool_calls[]`` → `ToolCallEvent` (``index``, ``id``, ``function.name``,
    ``function.arguments``); the usage chunk and ``finish_reason`` → the `DoneEvent`."""

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.usage = Usage()

    def feed(self, item: Any) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        usage = getattr(item, "usage", None)
        if usage is not None:
            prompt_details = _get(usage, "prompt_tokens_details")
            completion_details = _get(usage, "completion_tokens_details")
            self.usage = make_usage(
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
                    events.append(ReasoningEvent(reasoning))
                if delta.content:
                    events.append(TokenEvent(delta.content))
                for call in delta.tool_calls or ():
                    function = call.function
                    events.append(
                        ToolCallEvent(
                            id=call.id,
                            name=function.name if function else None,
                            arguments_delta=(function.arguments or "") if function else "",
                            index=call.index,
                        )
                    )
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return events

    def end(self) -> list[StreamEvent]:
        return [DoneEvent(self.finish_reason, self.usage)]


class OpenAIProvider(Provider):
    """A provider speaking OpenAI Chat Completions (``wire_format == "openai"``)."""

    def _client(self) -> openai.AsyncOpenAI:
        key = self.endpoint.api_key or "traceforge-no-key"  # the SDK refuses no key at all
        if self.name == "azure" and not self.endpoint.via_proxy:
            return openai.AsyncAzureOpenAI(
                azure_endpoint=self.endpoint.base_url,
                api_key=key,
                api_version=os.environ.get("OPENAI_API_VERSION", AZURE_API_VERSION),
                max_retries=0,
            )
        return openai.AsyncOpenAI(api_key=key, base_url=self.endpoint.base_url, max_retries=0)

    async def _open(self, request: StreamRequest) -> OpenedStream:
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
        try:
            stream = await client.chat.completions.create(**params)
        except BaseException:
            await client.close()
            raise

        async def close() -> None:
            try:
                await stream.close()
            finally:
                await client.close()

        return OpenedStream(items=stream.__aiter__(), close=close)

    def _converter(self, request: StreamRequest) -> Converter:
        return OpenAIConverter()

    def _map_error(self, exc: Exception) -> ProviderError | None:
        return map_openai_error(self.name, exc)

    async def _fetch_models(self) -> list[str]:
        client = self._client()
        try:
            return [model.id async for model in client.models.list()]
        finally:
            await client.close()


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

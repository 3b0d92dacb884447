"""Ollama's chat API through the ``ollama`` SDK (``AsyncClient.chat(stream=True)``).

API reference: https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion
(NDJSON stream of ``{"message": {"content", "thinking", "tool_calls"}, "done"}`` lines; the
``done`` line has ``done_reason``, ``prompt_eval_count`` and ``eval_count``).

Ollama takes OpenAI-shaped messages and tools; only assistant ``tool_calls`` arguments are
sent as objects (Ollama's shape) instead of JSON strings. ``temperature`` and ``max_tokens``
go in ``options`` (``temperature``, ``num_predict``). Events: ``message.content`` →
`TokenEvent`, ``message.thinking`` → `ReasoningEvent`, each whole tool call →
one `ToolCallEvent` (arguments JSON-encoded; ``id`` Ollama's when the SDK keeps it, else
``call_<index>``). Usage: ``prompt_eval_count`` → prompt, ``eval_count`` → completion.
"""

from __future__ import annotations

import json
from typing import Any

import ollama

from traceforge.errors import ProviderError, from_status
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

__all__ = ["OllamaConverter", "OllamaProvider", "ollama_messages"]


def ollama_messages(request: StreamRequest) -> list[dict[str, Any]]:
    """The request's messages in Ollama's shape, ``system`` first when given."""
    out: list[dict[str, Any]] = []
    if request.system is not None:
        out.append({"role": "system", "content": request.system})
    for message in request.conversation():
        message = dict(message)
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {
                    "function": {
                        "name": (call.get("function") or {}).get("name"),
                        "arguments": json.loads(
                            (call.get("function") or {}).get("arguments") or "{}"
                        ),
                    }
                }
                for call in message["tool_calls"]
            ]
        if message.get("content") is None:
            message["content"] = ""
        out.append(message)
    return out


def _extra(obj: Any, name: str) -> Any:
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None)
        if isinstance(extra, dict):
            value = extra.get(name)
    return value


class OllamaConverter(Converter):
    """``ChatResponse`` lines → events (see the module docstring)."""

    def __init__(self) -> None:
        self.calls = 0
        self.finish_reason: str | None = None
        self.usage = Usage()

    def feed(self, item: Any) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        message = item.message
        if message is not None:
            thinking = getattr(message, "thinking", None)
            if thinking:
                events.append(ReasoningEvent(thinking))
            if message.content:
                events.append(TokenEvent(message.content))
            for call in message.tool_calls or ():
                index = self.calls
                self.calls += 1
                events.append(
                    ToolCallEvent(
                        id=_extra(call, "id") or f"call_{index}",
                        name=call.function.name,
                        arguments_delta=json.dumps(dict(call.function.arguments or {})),
                        index=index,
                    )
                )
        if item.done:
            self.finish_reason = item.done_reason
            self.usage = make_usage(item.prompt_eval_count, item.eval_count)
        return events

    def end(self) -> list[StreamEvent]:
        return [DoneEvent(self.finish_reason, self.usage)]


class OllamaProvider(Provider):
    """Ollama (``wire_format == "ollama"``); no key (a Bearer one is sent if given)."""

    def _client(self) -> ollama.AsyncClient:
        headers = {}
        if self.endpoint.api_key:
            headers["Authorization"] = f"Bearer {self.endpoint.api_key}"
        return ollama.AsyncClient(host=self.endpoint.base_url, headers=headers)

    async def _open(self, request: StreamRequest) -> OpenedStream:
        options: dict[str, Any] = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        client = self._client()
        try:
            stream = await client.chat(
                model=request.model,
                messages=ollama_messages(request),
                tools=request.tools or None,
                stream=True,
                options=options or None,
            )
        except BaseException:
            await client.close()  # type: ignore[no-untyped-call]
            raise

        async def close() -> None:
            try:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
            finally:
                await client.close()  # type: ignore[no-untyped-call]

        return OpenedStream(items=stream.__aiter__(), close=close)

    def _converter(self, request: StreamRequest) -> Converter:
        return OllamaConverter()

    def _map_error(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, ollama.ResponseError):
            status = exc.status_code if exc.status_code > 0 else None
            return from_status(self.name, status, {"error": exc.error})
        return None

    async def _fetch_models(self) -> list[str]:
        client = self._client()
        try:
            listed = await client.list()
            return [model.model for model in listed.models if model.model]
        finally:
            await client.close()  # type: ignore[no-untyped-call]

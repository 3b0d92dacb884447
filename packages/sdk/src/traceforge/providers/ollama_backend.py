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
from traceforge.providers import base, events

__all__ = ["OllamaConverter", "OllamaProvider", "ollama_messages"]


def ollama_messages(request: events.StreamRequest) -> list[dict[str, Any]]:
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


class OllamaConverter(base.DoneConverter):
    """``ChatResponse`` lines → events (see the module docstring)."""

    def feed(self, item: Any) -> list[events.StreamEvent]:
        out: list[events.StreamEvent] = []
        message = item.message
        if message is not None:
            thinking = getattr(message, "thinking", None)
            if thinking:
                out.append(events.ReasoningEvent(thinking))
            if message.content:
                out.append(events.TokenEvent(message.content))
            for call in message.tool_calls or ():
                out.append(
                    self.whole_call(
                        base.model_field(call, "id"),
                        call.function.name,
                        json.dumps(dict(call.function.arguments or {})),
                    )
                )
        if item.done:
            self.finish_reason = item.done_reason
            self.usage = base.make_usage(item.prompt_eval_count, item.eval_count)
        return out


class OllamaProvider(base.Provider):
    """Ollama (``wire_format == "ollama"``); no key (a Bearer one is sent if given)."""

    def _client(self) -> ollama.AsyncClient:
        headers = {}
        if self.endpoint.api_key:
            headers["Authorization"] = f"Bearer {self.endpoint.api_key}"
        return ollama.AsyncClient(host=self.endpoint.base_url, headers=headers)

    async def _open(self, request: events.StreamRequest) -> base.OpenedStream:
        options: dict[str, Any] = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        client = self._client()
        return await base.open_stream(
            lambda: client.chat(
                model=request.model,
                messages=ollama_messages(request),
                tools=request.tools or None,
                stream=True,
                options=options or None,
            ),
            client.close,
        )

    def _converter(self, request: events.StreamRequest) -> base.Converter:
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

"""Google Gemini API through the ``google-genai`` SDK (``client.aio.models``).

API reference: https://ai.google.dev/api/generate-content (``streamGenerateContent`` with
``alt=sse``; ``GenerateContentResponse``, ``UsageMetadata``); errors:
https://ai.google.dev/gemini-api/docs/troubleshooting.

Request conversion from OpenAI's shape: ``system`` messages and `StreamRequest.system` →
``system_instruction``; ``assistant`` → role ``model``; assistant ``tool_calls`` →
``functionCall`` parts; ``tool`` messages → ``functionResponse`` parts (named after the call
they answer); OpenAI function tools → ``function_declarations`` with their JSON Schema as
``parameters_json_schema``. Automatic function calling is off: tool calls are returned.

Events: text parts → `TokenEvent`, ``thought`` parts → `ReasoningEvent`, each whole
``functionCall`` part → one `ToolCallEvent` (``args`` JSON-encoded; ``id`` the API's, else
``call_<index>``). Usage: ``promptTokenCount``, ``candidatesTokenCount``,
``totalTokenCount``, ``cachedContentTokenCount``, ``thoughtsTokenCount``. Finish reason: the
API's enum name (``STOP``, ``MAX_TOKENS``, ...).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from traceforge.errors import ProviderError, from_status
from traceforge.providers import base, events

__all__ = ["API_VERSION", "GeminiConverter", "GeminiProvider", "gemini_contents"]

#: The API version used (the one every Gemini feature is in first).
API_VERSION = "v1beta"


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def gemini_contents(request: events.StreamRequest) -> tuple[list[dict[str, Any]], str | None]:
    """``(contents, system_instruction)`` for ``request``, as JSON-shaped dicts."""
    system: list[str] = [request.system] if request.system else []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id → function name
    for message in request.conversation():
        role = message.get("role")
        if role == "system":
            system.append(_text(message.get("content")))
        elif role == "tool":
            call_id = str(message.get("tool_call_id"))
            part = {
                "function_response": {
                    "name": names.get(call_id, call_id),
                    "response": {"content": _text(message.get("content"))},
                }
            }
            contents.append({"role": "user", "parts": [part]})
        elif role == "assistant":
            parts: list[dict[str, Any]] = []
            if message.get("content"):
                parts.append({"text": _text(message["content"])})
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                names[str(call.get("id"))] = function.get("name", "")
                parts.append(
                    {
                        "function_call": {
                            "name": function.get("name"),
                            "args": json.loads(function.get("arguments") or "{}"),
                        }
                    }
                )
            contents.append({"role": "model", "parts": parts or [{"text": ""}]})
        else:
            contents.append({"role": "user", "parts": [{"text": _text(message.get("content"))}]})
    return contents, ("\n\n".join(system) if system else None)


class GeminiConverter(base.DoneConverter):
    """``GenerateContentResponse`` chunks → events (see the module docstring)."""

    def feed(self, item: Any) -> list[events.StreamEvent]:
        out: list[events.StreamEvent] = []
        for candidate in item.candidates or ():
            content = candidate.content
            for part in (content.parts if content is not None else None) or ():
                if part.text:
                    out.append(
                        events.ReasoningEvent(part.text)
                        if part.thought
                        else events.TokenEvent(part.text)
                    )
                call = part.function_call
                if call is not None:
                    out.append(self.whole_call(call.id, call.name, json.dumps(call.args or {})))
            if candidate.finish_reason is not None:
                reason = candidate.finish_reason
                self.finish_reason = getattr(reason, "value", None) or str(reason)
        meta = item.usage_metadata
        if meta is not None:
            self.usage = base.make_usage(
                meta.prompt_token_count,
                meta.candidates_token_count,
                meta.total_token_count,
                meta.cached_content_token_count,
                meta.thoughts_token_count,
            )
        return out


def _retry_delay_s(body: Any) -> float | None:
    """Google's ``RetryInfo.retryDelay`` (``"57s"``) from an error body, in seconds."""
    error = body.get("error") if isinstance(body, dict) else None
    for detail in (error or {}).get("details") or ():
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        match = re.fullmatch(r"([0-9.]+)s", delay or "")
        if match:
            return float(match.group(1))
    return None


class GeminiProvider(base.Provider):
    """Google Gemini (``wire_format == "gemini"``)."""

    def _client(self) -> tuple[genai.Client, httpx.AsyncClient]:
        """A google-genai client on an httpx client of our own, closed with the call.

        google-genai's aiohttp transport leaves a stream's connection unreleased when the
        stream is closed mid-read (an abort), which aiohttp reports as an unclosed
        connection when it is collected; with an httpx client the call owns, closing it
        closes every connection at once.
        """
        http = httpx.AsyncClient(timeout=None)
        client = genai.Client(
            api_key=self.endpoint.api_key or "traceforge-no-key",
            http_options=types.HttpOptions(
                base_url=self.endpoint.base_url,
                api_version=API_VERSION,
                httpx_async_client=http,
            ),
        )
        return client, http

    async def _open(self, request: events.StreamRequest) -> base.OpenedStream:
        contents, system = gemini_contents(request)
        config: dict[str, Any] = {"automatic_function_calling": {"disable": True}}
        if system is not None:
            config["system_instruction"] = system
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["max_output_tokens"] = request.max_tokens
        if request.tools:
            config["tools"] = [
                {
                    "function_declarations": [
                        {
                            "name": tool["function"]["name"],
                            "description": tool["function"].get("description", ""),
                            "parameters_json_schema": tool["function"].get("parameters")
                            or {"type": "object"},
                        }
                        for tool in request.tools
                    ]
                }
            ]
        client, http = self._client()
        return await base.open_stream(
            lambda: client.aio.models.generate_content_stream(
                model=request.model,
                contents=contents,
                config=types.GenerateContentConfig(**config),
            ),
            lambda: _close_clients(client, http),
        )

    def _converter(self, request: events.StreamRequest) -> base.Converter:
        return GeminiConverter()

    def _map_error(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, genai_errors.APIError):
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None)
            error = from_status(
                self.name, exc.code or None, exc.details, dict(headers) if headers else None
            )
            if error.retry_after_s is None:
                error.retry_after_s = _retry_delay_s(exc.details)
            return error
        return None

    async def _fetch_models(self) -> list[str]:
        client, http = self._client()
        try:
            pager = await client.aio.models.list()
            return [
                (model.name or "").removeprefix("models/") async for model in pager if model.name
            ]
        finally:
            await _close_clients(client, http)


async def _close_clients(client: genai.Client, http: httpx.AsyncClient) -> None:
    """Close the google-genai client, then the httpx client it ran on (its connections)."""
    try:
        await client.aio.aclose()
    finally:
        await http.aclose()

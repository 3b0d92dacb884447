"""Cohere adapter: OpenAI Chat Completions to and from Cohere's v2 ``POST /v2/chat``.

Source of the Cohere format: https://docs.cohere.com/reference/chat and
https://docs.cohere.com/reference/chat-stream (v2). The shapes:

- request ``{"model", "messages": [{"role": "system"|"user"|"assistant"|"tool", "content":
  str | [{"type": "text", "text"} | {"type": "image_url", "image_url": {"url"}}],
  "tool_calls": [{"id", "type": "function", "function": {"name", "arguments": str}}],
  "tool_plan", "tool_call_id"}], "tools" (OpenAI shape), "tool_choice": "REQUIRED"|"NONE",
  "response_format": {"type": "json_object", "json_schema"}, "temperature", "p",
  "max_tokens", "stop_sequences", "seed", "frequency_penalty", "presence_penalty", "stream"}``.
- answer ``{"id", "message": {"role", "content": [{"type": "text", "text"}], "tool_plan",
  "tool_calls"}, "finish_reason": "COMPLETE"|"MAX_TOKENS"|"TOOL_CALL"|..., "usage":
  {"billed_units": {...}, "tokens": {"input_tokens", "output_tokens"}, "cached_tokens"}}``;
  the model is not echoed.
- stream: named SSE events whose name is also ``data.type``: ``message-start`` (``id``),
  ``content-start``/``-delta``/``-end`` (``delta.message.content.text``), ``tool-plan-delta``
  (``delta.message.tool_plan``), ``tool-call-start``/``-delta``/``-end`` (``index``,
  ``delta.message.tool_calls``), ``citation-start``/``-end`` and ``message-end``
  (``delta.finish_reason``, ``delta.usage``), the last event.
- reasoning models (https://docs.cohere.com/docs/reasoning): request ``thinking: {"type":
  "enabled", "token_budget"}`` (from ``reasoning_effort``); answers hold ``{"type":
  "thinking", "thinking"}`` content items (streamed as ``content-start``/``-delta`` with
  ``delta.message.content.thinking``), converted to ``reasoning_content`` and sent back as a
  thinking item of the assistant message.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from traceforge_proxy.providers.base import (
    ChunkStream,
    ProviderError,
    ProviderRequest,
    StreamUsage,
    dig,
    invalid_request,
    json_format,
    max_tokens,
    message_objects,
    one_choice_messages,
    openai_error,
    status_error,
)
from traceforge_proxy.providers.chunks import ChunkBuilder, completion
from traceforge_proxy.providers.params import reject_unsupported
from traceforge_proxy.providers.reasoning import THINKING_BUDGETS, reasoning_effort
from traceforge_shared.usage import usage_from_cohere

#: Cohere ``finish_reason`` -> OpenAI (anything else: ``stop``).
_FINISH = {"MAX_TOKENS": "length", "ERROR_LIMIT": "length", "TOOL_CALL": "tool_calls"}
_FINISH["ERROR_TOXIC"] = "content_filter"
#: OpenAI request field -> Cohere request field, for fields copied as they are.
_SAMPLING = {
    "temperature": "temperature",
    "top_p": "p",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}
#: OpenAI error ``type`` and ``code`` by HTTP status (others: 5xx server_error, else invalid).
_ERROR_KINDS = {
    401: ("authentication_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def _dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _error_text(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        return body.strip()
    for message in (dig(body, "message"), dig(body, "error", "message"), dig(body, "error")):
        if isinstance(message, str) and message:
            return message
    return _dumps(body) if body is not None else ""


def _usage(usage: Any) -> StreamUsage:
    """``usage.tokens`` counts (what the model processed), else ``usage.billed_units``
    (read by :func:`traceforge_shared.usage.usage_from_cohere`)."""
    return StreamUsage.of(usage_from_cohere(usage), details=dig(usage, "cached_tokens") is not None)


def _openai_call(call: Any, missing: str = "{}") -> dict[str, Any]:
    """A Cohere tool call as OpenAI's; ``missing`` stands for absent arguments."""
    arguments = dig(call, "function", "arguments")
    if not isinstance(arguments, str):
        arguments = missing if arguments is None else _dumps(arguments)
    name = dig(call, "function", "name") or ""
    return {
        "id": dig(call, "id"),
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _cohere_content(content: Any, where: str, *, images: bool) -> Any:
    """OpenAI content as Cohere's: user lists stay lists of text/image parts; other roles
    get a string (text parts joined by ``\\n``)."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise invalid_request(f"{where}.content: expected a string or a list of content parts")
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = dig(part, "type")
        if kind in ("text", "refusal"):
            parts.append({"type": "text", "text": str(dig(part, kind) or "")})
        elif kind == "image_url" and images:
            url = dig(part, "image_url", "url") or dig(part, "image_url")
            if not isinstance(url, str):
                raise invalid_request(f"{where}.content[{j}].image_url.url: expected a string")
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            raise invalid_request(f"{where}.content[{j}]: content part {kind!r} not supported here")
    return parts if images else "\n".join(part["text"] for part in parts)


def _cohere_messages(messages: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for where, message in message_objects(messages, "{where}: expected an object"):
        role = message.get("role")
        role = "system" if role == "developer" else role
        content = _cohere_content(message.get("content"), where, images=role == "user")
        item: dict[str, Any] = {"role": role, "content": content}
        if role == "assistant":
            calls = message.get("tool_calls") or []
            if calls:
                if not content:
                    del item["content"]
                plan = message.get("reasoning_content")
                if isinstance(plan, str) and plan:
                    item["tool_plan"] = plan
                item["tool_calls"] = [_openai_call(call) for call in calls]
                for j, call in enumerate(item["tool_calls"]):
                    if not isinstance(call["id"], str) or not call["function"]["name"]:
                        problem = f"{where}.tool_calls[{j}]: id and function.name needed"
                        raise invalid_request(problem)
            elif isinstance(thinking := message.get("reasoning_content"), str) and thinking:
                # a reasoning model's thinking goes back as a thinking content item
                text = [{"type": "text", "text": content}] if content else []
                item["content"] = [{"type": "thinking", "thinking": thinking}, *text]
        elif role == "tool":
            if not isinstance(message.get("tool_call_id"), str):
                raise invalid_request(f"{where}.tool_call_id: missing")
            item = {"role": "tool", "tool_call_id": message["tool_call_id"], "content": content}
        elif role not in ("system", "user"):
            raise invalid_request(f"{where}.role: {message.get('role')!r} not supported by Cohere")
        out.append(item)
    return out


class CohereStream(ChunkStream):
    """Converts one Cohere v2 chat stream (SSE events, each ``data`` decoded) into
    ``chat.completion.chunk`` objects."""

    def __init__(self, *, model: str, created: int, include_usage: bool) -> None:
        seed = hashlib.sha256(f"{model}:{created}".encode()).hexdigest()[:16]
        super().__init__(
            ChunkBuilder(
                id="chatcmpl-cohere-" + seed,
                model=model,
                created=created,
                include_usage=include_usage,
                role_pending=True,
            )
        )
        self._indexes: dict[int | None, int] = {}  # Cohere tool-call index -> OpenAI index
        self._calls = 0

    def _fail(self, message: str) -> list[dict[str, Any]]:
        self.error = openai_error(500, message or "Cohere stream error", "server_error")
        return [self.error.body]

    def feed(self, event: str | None, payload: Any) -> list[dict[str, Any]]:
        """Convert one event; its name is ``event`` or, failing that, ``payload["type"]``."""
        if self.error is not None or not isinstance(payload, dict):
            return []
        kind = event or payload.get("type")
        if kind == "error" or payload.get("type") == "error" or (not kind and "message" in payload):
            return self._fail(_error_text(payload))
        message = dig(payload, "delta", "message")
        if kind == "message-start":
            if isinstance(payload.get("id"), str) and payload["id"]:
                self._chunks.id = payload["id"]
            return [self._chunks.delta({})] if self._chunks.role_pending else []
        thinking = dig(message, "content", "thinking")
        if kind in ("content-start", "content-delta") and isinstance(thinking, str):
            return [self._chunks.reasoning(thinking)] if thinking else []
        if kind in ("content-start", "content-delta"):
            text = dig(message, "content", "text")
            return [self._chunks.text(text)] if isinstance(text, str) and text else []
        if kind == "tool-plan-delta":
            plan = dig(message, "tool_plan")
            return [self._chunks.reasoning(plan)] if isinstance(plan, str) and plan else []
        if kind in ("tool-call-start", "tool-call-delta"):
            call = dig(message, "tool_calls")
            call = call[0] if isinstance(call, list) and call else call
            key = payload.get("index") if isinstance(payload.get("index"), int) else None
            if kind == "tool-call-start":
                self._indexes[key] = index = self._calls
                self._calls += 1
                entry = {"index": index, **_openai_call(call, missing="")}
            else:
                fragment = dig(call, "function", "arguments")
                if not isinstance(fragment, str) or not fragment:
                    return []
                index = self._indexes.get(key, max(self._calls - 1, 0))
                entry = {"index": index, "function": {"arguments": fragment}}
            return [self._chunks.delta({"tool_calls": [entry]})]
        if kind == "message-end":
            delta = dig(payload, "delta")
            if isinstance(dig(delta, "error"), str) and delta["error"]:
                return self._fail(delta["error"])
            self.usage.update_from(_usage(dig(delta, "usage")))
            return [self._chunks.finish(_FINISH.get(str(dig(delta, "finish_reason")), "stop"))]
        return []  # content-end, tool-call-end, citation-start/end, debug, ...


class CohereAdapter:
    """:class:`~traceforge_proxy.providers.base.ProviderAdapter` for Cohere v2 chat."""

    name = "cohere"

    def build_request(self, request: dict[str, Any], *, model: str) -> ProviderRequest:
        """OpenAI request -> ``POST /v2/chat`` body (see the module docstring for shapes).

        Raises:
            ProviderError: 400 for what Cohere cannot take: a named ``tool_choice``, images
                outside user messages, audio/file parts, ``n`` > 1, tool calls without ids.
        """
        reject_unsupported(request, "cohere")
        messages = one_choice_messages(request, "Cohere")
        stream = bool(request.get("stream"))
        body: dict[str, Any] = {"model": model, "messages": _cohere_messages(messages)}
        if request.get("tools"):
            body["tools"] = request["tools"]
        tool_choice = request.get("tool_choice")
        if tool_choice in ("required", "none"):
            body["tool_choice"] = tool_choice.upper()
        elif tool_choice not in (None, "auto"):
            raise invalid_request(
                'tool_choice: Cohere cannot force a named tool; use "required", "auto" or "none"'
            )
        for name, cohere_name in _SAMPLING.items():
            if request.get(name) is not None:
                body[cohere_name] = request[name]
        if (limit := max_tokens(request)) is not None:
            body["max_tokens"] = limit
        stop = request.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else stop
        wanted = json_format(request, "Cohere")
        if wanted == "json":
            body["response_format"] = {"type": "json_object"}
        elif wanted is not None:
            body["response_format"] = {"type": "json_object", "json_schema": wanted}
        if (effort := reasoning_effort(request)) == "none":
            body["thinking"] = {"type": "disabled"}
        elif effort is not None:
            body["thinking"] = {"type": "enabled", "token_budget": THINKING_BUDGETS[effort]}
        body["stream"] = stream
        return ProviderRequest("/v2/chat", body, stream)

    def convert_response(self, body: Any, *, model: str, created: int) -> dict[str, Any]:
        """A non-streaming ``/v2/chat`` body -> ``chat.completion`` (``model`` is the
        request's: Cohere does not echo it)."""
        if not isinstance(body, dict):
            raise openai_error(502, "Cohere answered with a non-object body", "server_error")
        content = dig(body, "message", "content")
        texts = [
            part["text"]
            for part in (content if isinstance(content, list) else ())
            if dig(part, "type") == "text" and isinstance(part.get("text"), str)
        ]
        if isinstance(content, str):
            texts = [content]
        calls = dig(body, "message", "tool_calls")
        calls = [_openai_call(call) for call in calls] if isinstance(calls, list) else []
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(texts) if texts or not calls else None,
        }
        plan = dig(body, "message", "tool_plan")
        thinking = [
            part["thinking"]
            for part in (content if isinstance(content, list) else ())
            if dig(part, "type") == "thinking" and isinstance(part.get("thinking"), str)
        ]
        if isinstance(plan, str) and plan:
            thinking.insert(0, plan)
        if thinking:
            message["reasoning_content"] = "".join(thinking)
        if calls:
            message["tool_calls"] = calls
        finish_reason = _FINISH.get(str(body.get("finish_reason")), "stop")
        usage = _usage(body.get("usage")).as_openai()
        return completion(body.get("id"), model, created, message, finish_reason, usage)

    def stream_converter(self, *, model: str, created: int, include_usage: bool) -> CohereStream:
        """A converter for one ``/v2/chat`` SSE stream."""
        return CohereStream(model=model, created=created, include_usage=include_usage)

    def convert_error(self, status: int, body: Any) -> ProviderError:
        """``{"id"?, "message"}`` (or text) with its HTTP status -> OpenAI's error shape."""
        message = _error_text(body) or f"Cohere returned HTTP {status}"
        return status_error(status, message, _ERROR_KINDS)

    def normalize_request(self, body: Any) -> dict[str, Any]:
        """A native v2 body -> OpenAI request: content item lists as text/image parts
        (documents as JSON text), ``tool_plan`` as ``reasoning_content``, ``p`` as ``top_p``,
        ``stop_sequences`` as ``stop``, ``tool_choice`` and ``response_format`` mapped back."""
        if not isinstance(body, dict):
            return {"model": None, "messages": [], "stream": False}
        messages: list[dict[str, Any]] = []
        for message in body.get("messages") or ():
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, dict):
                content = [content]
            if isinstance(content, list):
                content = [_openai_part(part) for part in content]
            item: dict[str, Any] = {"role": message.get("role"), "content": content}
            if isinstance(message.get("tool_plan"), str) and message["tool_plan"]:
                item["reasoning_content"] = message["tool_plan"]
            calls = message.get("tool_calls")
            if isinstance(calls, list) and calls:
                item["tool_calls"] = [_openai_call(call) for call in calls]
            if isinstance(message.get("tool_call_id"), str):
                item["tool_call_id"] = message["tool_call_id"]
            messages.append(item)
        out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
        if body.get("tools"):
            out["tools"] = body["tools"]
        if body.get("tool_choice") in ("REQUIRED", "NONE"):
            out["tool_choice"] = body["tool_choice"].lower()
        for name, cohere_name in _SAMPLING.items():
            if body.get(cohere_name) is not None:
                out[name] = body[cohere_name]
        if body.get("max_tokens") is not None:
            out["max_tokens"] = body["max_tokens"]
        if body.get("stop_sequences"):
            out["stop"] = body["stop_sequences"]
        schema = dig(body, "response_format", "json_schema")
        if isinstance(schema, dict):
            spec = {"name": "response", "schema": schema}
            out["response_format"] = {"type": "json_schema", "json_schema": spec}
        elif dig(body, "response_format", "type") in ("json_object", "text"):
            out["response_format"] = {"type": body["response_format"]["type"]}
        out["stream"] = bool(body.get("stream"))
        return out


def _openai_part(part: Any) -> dict[str, Any]:
    """One Cohere content item as an OpenAI content part."""
    kind = dig(part, "type")
    if kind == "image_url":
        url = dig(part, "image_url", "url") or dig(part, "image_url")
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "text" and isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    document = dig(part, "document") if kind == "document" else part
    return {"type": "text", "text": _dumps(document)}

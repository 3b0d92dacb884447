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

import json
import re
from typing import Any

from traceforge_proxy.providers.base import (
    ProviderError,
    ProviderRequest,
    StreamUsage,
    openai_error,
)

#: ``max_tokens`` sent when the client gave none (Anthropic requires the field).
DEFAULT_MAX_TOKENS = 4096

#: Anthropic ``stop_reason`` -> OpenAI ``finish_reason`` (anything else -> ``stop``).
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}

_TOOL_CHOICE = {"auto": "auto", "required": "any", "none": "none"}
_TOOL_CHOICE_BACK = {"auto": "auto", "any": "required", "none": "none"}

#: Anthropic error type -> (HTTP status the API sends it with, OpenAI type, OpenAI code); a
#: type of ``None`` means "server_error" from 500 up, else "invalid_request_error".
_ERRORS: dict[str, tuple[int, str | None, str | None]] = {
    "invalid_request_error": (400, "invalid_request_error", None),
    "authentication_error": (401, "authentication_error", "invalid_api_key"),
    "billing_error": (402, None, None),
    "permission_error": (403, "permission_error", None),
    "not_found_error": (404, "invalid_request_error", None),
    "request_too_large": (413, None, None),
    "rate_limit_error": (429, "rate_limit_error", "rate_limit_exceeded"),
    "api_error": (500, "server_error", None),
    "timeout_error": (504, None, None),
    "overloaded_error": (529, "server_error", "overloaded"),
}

_PROMPT_USAGE_KEYS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
_DATA_URL = re.compile(r"data:([^;,]+);base64,(.*)", re.DOTALL)
_BAD_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _bad(message: str) -> ProviderError:
    return openai_error(400, message, "invalid_request_error")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _call(call_id: Any, name: Any, arguments: str) -> dict[str, Any]:
    """An OpenAI ``tool_calls[]`` entry."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _tool_id(value: Any, where: str) -> str:
    """Anthropic ids must match ``^[a-zA-Z0-9_-]+$``; other characters become ``_``."""
    if not isinstance(value, str) or not value:
        raise _bad(f"{where} must be a non-empty string")
    return _BAD_ID_CHARS.sub("_", value)


def _finish(stop_reason: Any) -> str:
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _merge_usage(usage: StreamUsage, prompt_parts: dict[str, int], raw: Any) -> None:
    """Merge an Anthropic ``usage`` object into ``usage``. ``prompt_parts`` keeps the input,
    cache-read and cache-creation counts seen so far (their sum is the OpenAI prompt)."""
    if not isinstance(raw, dict):
        return
    for key in _PROMPT_USAGE_KEYS:
        if (value := _count(raw.get(key))) is not None:
            prompt_parts[key] = value
    if prompt_parts:
        usage.prompt_tokens = sum(prompt_parts.values())
    if "cache_read_input_tokens" in prompt_parts:
        usage.cached_tokens = prompt_parts["cache_read_input_tokens"]
    if (output := _count(raw.get("output_tokens"))) is not None:
        usage.completion_tokens = output


def _image_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise _bad(f"{where}.image_url.url must be a string")
    if match := _DATA_URL.fullmatch(url):
        source = {"type": "base64", "media_type": match[1], "data": match[2]}
        return {"type": "image", "source": source}
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise _bad(f"{where}.image_url.url must be a base64 data: URL or an http(s) URL")


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """OpenAI message content (string or parts) -> Anthropic content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise _bad(f"{where}.content must be a string or a list of content parts")
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if isinstance(part, dict) and kind in ("text", "refusal"):
            text = part.get(kind)
            if isinstance(text, str) and text:
                blocks.append({"type": "text", "text": text})
        elif isinstance(part, dict) and kind == "image_url":
            blocks.append(_image_block(part, f"{where}.content[{j}]"))
        else:
            raise _bad(f"{where}.content[{j}]: part type {kind!r} is not supported by Anthropic")
    return blocks


def _assistant_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    blocks = _blocks(message.get("content"), where)
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise _bad(f"{where}.tool_calls must be a list")
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise _bad(f"{where}.tool_calls[{j}] must have function.name")
        arguments = fn.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError as exc:
                raise _bad(
                    f"{where}.tool_calls[{j}].function.arguments is not valid JSON: {exc}"
                ) from None
        if not isinstance(arguments, dict):
            raise _bad(f"{where}.tool_calls[{j}].function.arguments must be a JSON object")
        call_id = _tool_id(call.get("id"), f"{where}.tool_calls[{j}].id")
        blocks.append({"type": "tool_use", "id": call_id, "name": fn["name"], "input": arguments})
    return blocks


def _messages(messages: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """OpenAI messages -> (system texts, alternating Anthropic messages)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _bad(f"{where} must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            parts = _blocks(message.get("content"), where)
            if any(part["type"] != "text" for part in parts):
                raise _bad(f"{where}.content may only hold text parts")
            system.extend(part["text"] for part in parts)
            continue
        if role == "user":
            blocks = _blocks(message.get("content"), where)
        elif role == "assistant":
            blocks = _assistant_blocks(message, where)
        elif role == "tool":
            role = "user"
            content = message.get("content")
            result = content if isinstance(content, str) else _blocks(content, where)
            tool_use_id = _tool_id(message.get("tool_call_id"), f"{where}.tool_call_id")
            blocks = [{"type": "tool_result", "tool_use_id": tool_use_id, "content": result}]
        else:
            raise _bad(f"{where}.role {role!r} is not supported by Anthropic")
        if not blocks:
            continue  # Anthropic rejects empty content
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)  # Anthropic requires alternating roles
        else:
            out.append({"role": role, "content": blocks})
    for message in out:
        blocks = message["content"]
        if len(blocks) == 1 and blocks[0]["type"] == "text":
            message["content"] = blocks[0]["text"]
    return system, out


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _bad("tools must be a list")
    out = []
    for j, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or tool.get("type") != "function" or not fn.get("name"):
            raise _bad(f"tools[{j}]: only function tools with a name are supported")
        converted: dict[str, Any] = {"name": fn["name"]}
        if fn.get("description"):
            converted["description"] = fn["description"]
        converted["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
        out.append(converted)
    return out


def _tool_choice(choice: Any, parallel: Any, has_tools: bool) -> dict[str, Any] | None:
    result: dict[str, Any] | None = None
    if isinstance(choice, str) and choice in _TOOL_CHOICE:
        result = {"type": _TOOL_CHOICE[choice]}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str):
            raise _bad("tool_choice.function.name must be a string")
        result = {"type": "tool", "name": name}
    elif choice is not None:
        raise _bad(f"tool_choice {choice!r} is not supported by Anthropic")
    if parallel is False and has_tools and (result is None or result["type"] != "none"):
        result = result or {"type": "auto"}
        result["disable_parallel_tool_use"] = True
    return result


def _error_status(error_type: Any, default: int) -> int:
    return _ERRORS.get(str(error_type), (default, None, None))[0]


def _error(status: int, error_type: Any, message: str) -> ProviderError:
    mapped = _ERRORS.get(error_type) if isinstance(error_type, str) else None
    _, kind, code = mapped or (status, None, None)
    if kind is None:
        kind = "server_error" if status >= 500 else "invalid_request_error"
    elif error_type == "not_found_error" and "model" in message.lower():
        code = "model_not_found"
    return openai_error(status, message, kind, code)


class AnthropicStreamConverter:
    """Anthropic Messages SSE events -> OpenAI ``chat.completion.chunk`` objects.

    Keeps the message id and model from ``message_start``, numbers ``tool_use`` blocks 0, 1, …
    as OpenAI ``tool_calls[].index`` (by Anthropic block index), and merges usage:
    ``message_start`` gives input and cache counts, ``message_delta`` the running
    ``output_tokens`` total. See :class:`~traceforge_proxy.providers.base.StreamConverter`.
    """

    def __init__(self, *, model: str, created: int, include_usage: bool) -> None:
        self.usage = StreamUsage()
        self.error: ProviderError | None = None
        self._id = ""
        self._model = model
        self._created = created
        self._include_usage = include_usage
        self._prompt_parts: dict[str, int] = {}
        self._tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool index
        self._tool_has_args: set[int] = set()

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def _tool_args(self, k: int, arguments: str) -> dict[str, Any]:
        self._tool_has_args.add(k)
        return self._chunk({"tool_calls": [{"index": k, "function": {"arguments": arguments}}]})

    def feed(self, event: str | None, payload: Any) -> list[dict[str, Any]]:
        """Convert one event (``event`` name, decoded ``data``); see the protocol."""
        if self.error is not None or not isinstance(payload, dict):
            return []
        kind = payload.get("type") if isinstance(payload.get("type"), str) else event
        index = payload.get("index")
        if kind == "message_start":
            message = _obj(payload.get("message"))
            self._id = message.get("id") or self._id
            self._model = message.get("model") or self._model
            _merge_usage(self.usage, self._prompt_parts, message.get("usage"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start" and isinstance(index, int):
            block = _obj(payload.get("content_block"))
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            if block.get("type") == "thinking" and block.get("thinking"):
                return [self._chunk({"reasoning_content": block["thinking"]})]
            if block.get("type") == "tool_use":
                k = self._tool_index[index] = len(self._tool_index)
                tool_input = block.get("input")
                arguments = _compact(tool_input) if tool_input else ""
                if arguments:
                    self._tool_has_args.add(k)
                call = _call(block.get("id"), block.get("name", ""), arguments)
                return [self._chunk({"tool_calls": [{"index": k, **call}]})]
            return []
        if kind == "content_block_delta":
            delta = _obj(payload.get("delta"))
            if delta.get("type") == "text_delta" and delta.get("text"):
                return [self._chunk({"content": delta["text"]})]
            if delta.get("type") == "thinking_delta" and delta.get("thinking"):
                return [self._chunk({"reasoning_content": delta["thinking"]})]
            if delta.get("type") == "input_json_delta" and index in self._tool_index:
                partial = delta.get("partial_json")
                if isinstance(partial, str) and partial:
                    return [self._tool_args(self._tool_index[index], partial)]
            return []  # signature_delta, citations_delta, empty fragments
        if kind == "content_block_stop" and index in self._tool_index:
            k = self._tool_index[index]
            # a tool without arguments streams only "": OpenAI clients expect an object
            return [] if k in self._tool_has_args else [self._tool_args(k, "{}")]
        if kind == "message_delta":
            _merge_usage(self.usage, self._prompt_parts, payload.get("usage"))
            return [self._chunk({}, _finish(_obj(payload.get("delta")).get("stop_reason")))]
        if kind == "error":
            error = _obj(payload.get("error"))
            text = str(error.get("message") or "Anthropic stream error")
            self.error = _error(_error_status(error.get("type"), 500), error.get("type"), text)
            return [self.error.body]
        return []  # ping, content_block_stop of text, message_stop, unknown events

    def close(self) -> list[dict[str, Any]]:
        """The usage chunk (``"choices": []``) when ``include_usage`` was asked, else ``[]``."""
        usage = self.usage.as_openai()
        if self.error is not None or not self._include_usage or usage is None:
            return []
        return [{**self._chunk({}), "choices": [], "usage": usage}]


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
        messages = request.get("messages") if isinstance(request, dict) else None
        if not isinstance(messages, list):
            raise _bad("messages must be a list of messages")
        if isinstance(n := request.get("n"), int) and n > 1:
            raise _bad("n > 1 is not supported by Anthropic (one choice per request)")
        if request.get("logprobs"):
            raise _bad("logprobs are not supported by Anthropic")
        system, converted = _messages(messages)
        max_tokens = request.get("max_completion_tokens")
        max_tokens = request.get("max_tokens") if max_tokens is None else max_tokens
        max_tokens = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
        body: dict[str, Any] = {"model": model, "messages": converted, "max_tokens": max_tokens}
        if system:
            body["system"] = "\n\n".join(system)
        tools = request.get("tools")
        if tools is not None:
            body["tools"] = _tools(tools)
        choice = _tool_choice(
            request.get("tool_choice"), request.get("parallel_tool_calls"), bool(tools)
        )
        if choice is not None:
            body["tool_choice"] = choice
        for key in ("temperature", "top_p"):
            if request.get(key) is not None:
                body[key] = request[key]
        stop = request.get("stop")
        if isinstance(stop, str):
            body["stop_sequences"] = [stop]
        elif isinstance(stop, list):
            body["stop_sequences"] = stop
        elif stop is not None:
            raise _bad("stop must be a string or a list of strings")
        if isinstance(request.get("user"), str):
            body["metadata"] = {"user_id": request["user"]}
        stream = request.get("stream") is True
        if stream:
            body["stream"] = True
        return ProviderRequest(path="/v1/messages", body=body, stream=stream)

    def convert_response(self, body: Any, *, model: str, created: int) -> dict[str, Any]:
        """Anthropic ``message`` -> OpenAI ``chat.completion`` (one choice; text blocks
        joined, ``tool_use`` -> ``tool_calls``, ``thinking`` -> ``reasoning_content``)."""
        if isinstance(body, dict) and body.get("type") == "error":
            raise self.convert_error(_error_status(_obj(body.get("error")).get("type"), 502), body)
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise openai_error(
                502, "Anthropic returned an unexpected response body", "server_error"
            )
        texts: list[str] = []
        reasoning: list[str] = []
        calls: list[dict[str, Any]] = []
        for block in body["content"]:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                texts.append(str(block.get("text", "")))
            elif kind == "thinking":
                reasoning.append(str(block.get("thinking", "")))
            elif kind == "tool_use":
                calls.append(
                    _call(block.get("id"), block.get("name"), _compact(block.get("input")))
                )
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(texts) if texts or not calls else None,
        }
        if reasoning:
            message["reasoning_content"] = "".join(reasoning)
        if calls:
            message["tool_calls"] = calls
        completion: dict[str, Any] = {
            "id": body.get("id"),
            "object": "chat.completion",
            "created": created,
            "model": body.get("model") or model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": _finish(body.get("stop_reason"))}
            ],
        }
        usage = StreamUsage()
        _merge_usage(usage, {}, body.get("usage"))
        if (openai_usage := usage.as_openai()) is not None:
            completion["usage"] = openai_usage
        return completion

    def stream_converter(
        self, *, model: str, created: int, include_usage: bool
    ) -> AnthropicStreamConverter:
        """A fresh :class:`AnthropicStreamConverter` for one stream."""
        return AnthropicStreamConverter(model=model, created=created, include_usage=include_usage)

    def convert_error(self, status: int, body: Any) -> ProviderError:
        """Anthropic error (``{"type": "error", "error": {"type", "message"}}``, other JSON,
        text or bytes) -> OpenAI-shaped :class:`ProviderError` with the same status."""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return _error(status, error.get("type"), error["message"])
        if isinstance(body, bytes | bytearray):
            text = bytes(body).decode("utf-8", "replace")
        else:
            text = body if isinstance(body, str) else "" if body is None else _compact(body)
        return _error(status, None, text[:500] or f"Anthropic API error (HTTP {status})")

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
            _call(b.get("id"), b.get("name"), _compact(b.get("input", {})))
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

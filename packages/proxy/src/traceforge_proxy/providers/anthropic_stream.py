"""Anthropic Messages answers -> OpenAI: the stream converter, stop reasons, usage, errors.

Anthropic streams named SSE events (https://docs.anthropic.com/en/api/messages-streaming):
``message_start`` (id, model, input and cache counts), ``content_block_start`` / ``_delta`` /
``_stop`` per text, ``thinking`` or ``tool_use`` block, ``message_delta`` (``stop_reason``,
running ``output_tokens``), ``message_stop``, ``ping`` and in-band ``error``. Errors are
``{"type": "error", "error": {"type", "message"}}`` (https://docs.anthropic.com/en/api/errors).
Pure: nothing reads the clock.
"""

from __future__ import annotations

from typing import Any

from traceforge_proxy.providers.anthropic_request import RESPONSE_TOOL
from traceforge_proxy.providers.base import (
    ChunkStream,
    ProviderError,
    StreamUsage,
    compact_json,
    openai_error,
)
from traceforge_proxy.providers.chunks import ChunkBuilder
from traceforge_shared.usage import usage_from_anthropic

#: Anthropic ``stop_reason`` -> OpenAI ``finish_reason`` (anything else -> ``stop``).
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}

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


def as_object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}``."""
    return value if isinstance(value, dict) else {}


def finish_reason(stop_reason: Any) -> str:
    """Anthropic ``stop_reason`` -> OpenAI ``finish_reason`` (unknown or missing: ``stop``)."""
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def merge_usage(usage: StreamUsage, prompt_parts: dict[str, int], raw: Any) -> None:
    """Merge an Anthropic ``usage`` object into ``usage``. ``prompt_parts`` keeps the input,
    cache-read and cache-creation counts seen so far (``message_start`` has them,
    ``message_delta`` may repeat them); what they mean is
    :func:`traceforge_shared.usage.usage_from_anthropic`'s (their sum is the prompt)."""
    if not isinstance(raw, dict):
        return
    for key in _PROMPT_USAGE_KEYS:
        if (value := _count(raw.get(key))) is not None:
            prompt_parts[key] = value
    merged = usage_from_anthropic(prompt_parts) if prompt_parts else None
    if merged is not None:
        usage.prompt_tokens = merged.prompt_tokens
    if "cache_read_input_tokens" in prompt_parts and merged is not None:
        usage.cached_tokens = merged.cache_read_tokens
    if merged is not None and merged.cache_write_tokens:
        usage.cache_write_tokens = merged.cache_write_tokens
    if (output := _count(raw.get("output_tokens"))) is not None:
        usage.completion_tokens = output


def error_status(error_type: Any, default: int) -> int:
    """The HTTP status Anthropic sends ``error_type`` with, else ``default``."""
    return _ERRORS.get(str(error_type), (default, None, None))[0]


def anthropic_error(status: int, error_type: Any, message: str) -> ProviderError:
    """An Anthropic error (``error.type``, message) with ``status`` -> OpenAI's shape."""
    mapped = _ERRORS.get(error_type) if isinstance(error_type, str) else None
    _, kind, code = mapped or (status, None, None)
    if kind is None:
        kind = "server_error" if status >= 500 else "invalid_request_error"
    elif error_type == "not_found_error" and "model" in message.lower():
        code = "model_not_found"
    return openai_error(status, message, kind, code)


def convert_error(status: int, body: Any) -> ProviderError:
    """Anthropic error (``{"type": "error", "error": {"type", "message"}}``, other JSON, text
    or bytes) -> OpenAI-shaped :class:`ProviderError` with the same status."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return anthropic_error(status, error.get("type"), error["message"])
    if isinstance(body, bytes | bytearray):
        text = bytes(body).decode("utf-8", "replace")
    else:
        text = body if isinstance(body, str) else "" if body is None else compact_json(body)
    return anthropic_error(status, None, text[:500] or f"Anthropic API error (HTTP {status})")


class AnthropicStreamConverter(ChunkStream):
    """Anthropic Messages SSE events -> OpenAI ``chat.completion.chunk`` objects.

    Keeps the message id and model from ``message_start``, numbers ``tool_use`` blocks 0, 1, …
    as OpenAI ``tool_calls[].index`` (by Anthropic block index), sends the input of the
    ``response_format`` tool (:data:`~.anthropic_request.RESPONSE_TOOL`) as ``content``,
    ``thinking`` text as ``reasoning_content`` and, once its ``signature_delta`` arrives, the
    whole block as ``delta.thinking_blocks: [{"type": "thinking", "thinking", "signature"}]``
    (``redacted_thinking`` blocks likewise, with ``data``), and merges usage:
    ``message_start`` gives input and cache counts, ``message_delta`` the running
    ``output_tokens`` total. See :class:`~traceforge_proxy.providers.base.StreamConverter`.
    """

    def __init__(self, *, model: str, created: int, include_usage: bool) -> None:
        super().__init__(
            ChunkBuilder(id="", model=model, created=created, include_usage=include_usage)
        )
        self._prompt_parts: dict[str, int] = {}
        self._tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool index
        self._tool_has_args: set[int] = set()
        self._json_blocks: set[int] = set()  # RESPONSE_TOOL calls: their input is the text
        self._thinking: dict[int | None, list[str]] = {}  # thinking block index -> its text

    def _tool_args(self, k: int, arguments: str) -> dict[str, Any]:
        self._tool_has_args.add(k)
        return self._chunks.tool_arguments(k, arguments)

    def feed(self, event: str | None, payload: Any) -> list[dict[str, Any]]:
        """Convert one event (``event`` name, decoded ``data``); see the protocol."""
        if self.error is not None or not isinstance(payload, dict):
            return []
        kind = payload.get("type") if isinstance(payload.get("type"), str) else event
        index = payload.get("index")
        if kind == "message_start":
            message = as_object(payload.get("message"))
            self._chunks.id = message.get("id") or self._chunks.id
            self._chunks.model = message.get("model") or self._chunks.model
            merge_usage(self.usage, self._prompt_parts, message.get("usage"))
            return [self._chunks.role("")]
        if kind == "content_block_start" and isinstance(index, int):
            return self._block_start(index, as_object(payload.get("content_block")))
        if kind == "content_block_delta":
            delta = as_object(payload.get("delta"))
            if delta.get("type") == "text_delta" and delta.get("text"):
                return [self._chunks.text(delta["text"])]
            if delta.get("type") == "thinking_delta" and delta.get("thinking"):
                self._thinking.setdefault(index, []).append(str(delta["thinking"]))
                return [self._chunks.reasoning(delta["thinking"])]
            if delta.get("type") == "signature_delta" and delta.get("signature"):
                text = "".join(self._thinking.get(index, []))
                block = {"type": "thinking", "thinking": text, "signature": delta["signature"]}
                return [self._chunks.delta({"thinking_blocks": [block]})]
            partial = delta.get("partial_json")
            if delta.get("type") == "input_json_delta" and isinstance(partial, str) and partial:
                if index in self._json_blocks:
                    return [self._chunks.text(partial)]
                if index in self._tool_index:
                    return [self._tool_args(self._tool_index[index], partial)]
            return []  # citations_delta, empty fragments
        if kind == "content_block_stop" and index in self._tool_index:
            k = self._tool_index[index]
            # a tool without arguments streams only "": OpenAI clients expect an object
            return [] if k in self._tool_has_args else [self._tool_args(k, "{}")]
        if kind == "message_delta":
            merge_usage(self.usage, self._prompt_parts, payload.get("usage"))
            stop_reason = as_object(payload.get("delta")).get("stop_reason")
            if stop_reason == "tool_use" and self._json_blocks and not self._tool_index:
                stop_reason = "end_turn"  # only the response_format tool: a text answer
            return [self._chunks.finish(finish_reason(stop_reason))]
        if kind == "error":
            error = as_object(payload.get("error"))
            text = str(error.get("message") or "Anthropic stream error")
            status = error_status(error.get("type"), 500)
            self.error = anthropic_error(status, error.get("type"), text)
            return [self.error.body]
        return []  # ping, content_block_stop of text, message_stop, unknown events

    def _block_start(self, index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
        if block.get("type") == "text" and block.get("text"):
            return [self._chunks.text(block["text"])]
        if block.get("type") == "thinking" and block.get("thinking"):
            self._thinking[index] = [str(block["thinking"])]
            return [self._chunks.reasoning(block["thinking"])]
        if block.get("type") == "redacted_thinking" and isinstance(block.get("data"), str):
            redacted = {"type": "redacted_thinking", "data": block["data"]}
            return [self._chunks.delta({"thinking_blocks": [redacted]})]
        if block.get("type") == "tool_use" and block.get("name") == RESPONSE_TOOL:
            self._json_blocks.add(index)
            tool_input = block.get("input")
            return [self._chunks.text(compact_json(tool_input))] if tool_input else []
        if block.get("type") == "tool_use":
            k = self._tool_index[index] = len(self._tool_index)
            tool_input = block.get("input")
            arguments = compact_json(tool_input) if tool_input else ""
            if arguments:
                self._tool_has_args.add(k)
            return [
                self._chunks.tool_call_start(k, block.get("id"), block.get("name", ""), arguments)
            ]
        return []

"""Rebuild a ``chat.completion`` from the ``chat.completion.chunk`` objects of a stream.

Format: OpenAI Chat Completions streaming
(https://platform.openai.com/docs/api-reference/chat-streaming). Text and refusal deltas are
joined per choice; tool calls are joined per ``tool_calls[].index`` (only the first delta of a
call carries ``id``, ``type`` and ``function.name``; later ones carry ``function.arguments``
fragments); the finish reason is the one the stream sent; usage is the last non-null ``usage``
(the usage chunk has ``"choices": []``), or Groq's ``x_groq.usage`` (its last chunk).
Reasoning is kept under the name the stream used:
``delta.reasoning_content`` (DeepSeek, xAI, the proxy's converted streams) joins into
``message.reasoning_content``, ``delta.reasoning`` (Groq, OpenRouter, vLLM) into
``message.reasoning``; ``delta.thinking_blocks`` lists (converted Anthropic thinking with its
``signature``) are concatenated into ``message.thinking_blocks``.

Streams from OpenAI-compatible servers are not always well formed: an ``index`` that is a
string (``"0"``), ``null`` or missing, or a name that is not a string, never raises; such
values are read as best they can be and noted once in :attr:`ChatCompletionAccumulator.warnings`.
"""

from __future__ import annotations

from typing import Any

from traceforge_shared.usage import chunk_usage

_HEADER_FIELDS = ("id", "created", "model", "service_tier", "system_fingerprint")


class _Choice:
    __slots__ = (
        "content",
        "finish_reason",
        "reasoning",
        "reasoning_groq",
        "refusal",
        "role",
        "thinking_blocks",
        "tool_calls",
    )

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.reasoning: list[str] = []  # delta.reasoning_content (DeepSeek, xAI, converted)
        self.reasoning_groq: list[str] = []  # delta.reasoning (Groq, OpenRouter, vLLM)
        self.thinking_blocks: list[Any] = []  # converted Anthropic thinking, with signatures
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None


def _index(value: Any) -> int | None:
    """An ``index`` as an int: ints as they are, digit strings (``"0"``) parsed; anything
    else (``null``, ``1.5``, ``true``, a list) is ``None``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


class ChatCompletionAccumulator:
    """Feed decoded chunk objects with :meth:`add`; :meth:`result` returns the completion.

    Attributes:
        usage: the last ``usage`` object seen.
        chunks: chunk objects added.
        warnings: notes about malformed chunks (each kind noted once), for the trace.
    """

    def __init__(self) -> None:
        self._header: dict[str, Any] = {}
        self._choices: dict[int, _Choice] = {}
        self.usage: dict[str, Any] | None = None
        self.chunks = 0
        self.warnings: list[str] = []

    def _note(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def _read_index(self, value: Any, default: int, what: str) -> int:
        index = _index(value)
        if index is not None:
            if not isinstance(value, int):
                self._note(f"a stream chunk had a {what} index that is not an integer: {value!r}")
            return index
        if value is not None or what == "tool call":
            self._note(f"a stream chunk had a {what} index that is not an integer: {value!r}")
        return default

    def add(self, chunk: Any) -> None:
        """Merge one ``chat.completion.chunk`` (a decoded JSON object); anything else is
        ignored."""
        if not isinstance(chunk, dict):
            return
        self.chunks += 1
        for name in _HEADER_FIELDS:
            value = chunk.get(name)
            if value is not None and name not in self._header:
                self._header[name] = value
        usage = chunk_usage(chunk)  # ``usage``, else Groq's ``x_groq.usage``
        if usage is not None:
            self.usage = usage
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            index = self._read_index(choice.get("index"), 0, "choice")
            state = self._choices.get(index)
            if state is None:
                state = self._choices[index] = _Choice()
            finish = choice.get("finish_reason")
            if finish is not None:
                state.finish_reason = finish if isinstance(finish, str) else str(finish)
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._add_delta(state, delta)

    def _add_delta(self, state: _Choice, delta: dict[str, Any]) -> None:
        role = delta.get("role")
        if isinstance(role, str):
            state.role = role
        for key, parts in (
            ("content", state.content),
            ("refusal", state.refusal),
            ("reasoning_content", state.reasoning),
            ("reasoning", state.reasoning_groq),
        ):
            value = delta.get(key)
            if isinstance(value, str):
                parts.append(value)
        blocks = delta.get("thinking_blocks")
        if isinstance(blocks, list):
            state.thinking_blocks.extend(blocks)
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for call in tool_calls:
                if not isinstance(call, dict):
                    continue
                if "index" in call:
                    # A bad index: a call with an id starts a new slot, else it continues
                    # the last one.
                    last = max(state.tool_calls, default=-1)
                    fallback = last + 1 if call.get("id") or last < 0 else last
                    index = self._read_index(call["index"], fallback, "tool call")
                else:
                    index = len(state.tool_calls)
                slot = state.tool_calls.get(index)
                if slot is None:
                    slot = state.tool_calls[index] = {
                        "id": None,
                        "type": "function",
                        "name": "",
                        "arguments": [],
                    }
                if isinstance(call.get("id"), str) and call["id"]:
                    slot["id"] = call["id"]
                if isinstance(call.get("type"), str) and call["type"]:
                    slot["type"] = call["type"]
                function = call.get("function")
                if isinstance(function, dict):
                    if isinstance(function.get("name"), str):
                        slot["name"] += function["name"]
                    arguments = function.get("arguments")
                    if isinstance(arguments, str):
                        slot["arguments"].append(arguments)

    def result(self) -> dict[str, Any] | None:
        """Return the rebuilt ``chat.completion`` object, or ``None`` if no chunk arrived."""
        if not self.chunks:
            return None
        completion: dict[str, Any] = {"id": self._header.get("id"), "object": "chat.completion"}
        for name in ("created", "model", "service_tier", "system_fingerprint"):
            if name in self._header:
                completion[name] = self._header[name]
        choices = []
        for index in sorted(self._choices):
            state = self._choices[index]
            message: dict[str, Any] = {
                "role": state.role,
                "content": "".join(state.content)
                if state.content or not state.tool_calls
                else None,
            }
            if state.refusal:
                message["refusal"] = "".join(state.refusal)
            if state.reasoning:
                message["reasoning_content"] = "".join(state.reasoning)
            if state.reasoning_groq:
                message["reasoning"] = "".join(state.reasoning_groq)
            if state.thinking_blocks:
                message["thinking_blocks"] = state.thinking_blocks
            if state.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": slot["id"],
                        "type": slot["type"],
                        "function": {"name": slot["name"], "arguments": "".join(slot["arguments"])},
                    }
                    for _, slot in sorted(state.tool_calls.items())
                ]
            choices.append(
                {"index": index, "message": message, "finish_reason": state.finish_reason}
            )
        completion["choices"] = choices
        if self.usage is not None:
            completion["usage"] = self.usage
        return completion

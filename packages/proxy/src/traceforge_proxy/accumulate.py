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

Joined text is kept as UTF-8 in one growing buffer per field (:class:`_Text`), not a list of
delta strings: ~1 byte per ASCII character instead of ~60 bytes per delta, so a stream merged
past the chunk cap (:mod:`~traceforge_proxy.stream_tail`) grows only by the text it carries.
:meth:`ChatCompletionAccumulator.as_chunk` folds everything merged into one chunk.
"""

from __future__ import annotations

from typing import Any

from traceforge_shared.usage import chunk_usage

_HEADER_FIELDS = ("id", "created", "model", "service_tier", "system_fingerprint")


class _Text:
    """Text joined from deltas: UTF-8 in one growing buffer (amortized O(1) per delta).
    Truthy once a delta (even ``""``) was added, as a list of deltas would be."""

    __slots__ = ("_buffer", "_seen")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._seen = False

    def add(self, value: str) -> None:
        self._buffer += value.encode("utf-8", "surrogatepass")
        self._seen = True

    def __bool__(self) -> bool:
        return self._seen

    def value(self) -> str:
        return self._buffer.decode("utf-8", "surrogatepass")


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
        self.role: str | None = None  # "assistant" unless a delta named one
        self.content = _Text()
        self.refusal = _Text()
        self.reasoning = _Text()  # delta.reasoning_content (DeepSeek, xAI, converted)
        self.reasoning_groq = _Text()  # delta.reasoning (Groq, OpenRouter, vLLM)
        self.thinking_blocks: list[Any] = []  # converted Anthropic thinking, with signatures
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None

    #: ``(delta key, attribute)`` of each joined text field.
    TEXTS = (
        ("content", "content"),
        ("refusal", "refusal"),
        ("reasoning_content", "reasoning"),
        ("reasoning", "reasoning_groq"),
    )


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
        for key, attribute in _Choice.TEXTS:
            value = delta.get(key)
            if isinstance(value, str):
                text: _Text = getattr(state, attribute)
                text.add(value)
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
                        "type": None,  # "function" unless a delta named one
                        "name": "",
                        "arguments": _Text(),
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
                        slot["arguments"].add(arguments)

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
                "role": state.role or "assistant",
                "content": state.content.value() if state.content or not state.tool_calls else None,
            }
            if state.refusal:
                message["refusal"] = state.refusal.value()
            if state.reasoning:
                message["reasoning_content"] = state.reasoning.value()
            if state.reasoning_groq:
                message["reasoning"] = state.reasoning_groq.value()
            if state.thinking_blocks:
                message["thinking_blocks"] = state.thinking_blocks
            if state.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": slot["id"],
                        "type": slot["type"] or "function",
                        "function": {"name": slot["name"], "arguments": slot["arguments"].value()},
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

    def as_chunk(self) -> dict[str, Any] | None:
        """Everything merged so far as one ``chat.completion.chunk``, or ``None`` if no chunk
        arrived: adding it to another accumulator (after the chunks that came before these)
        has the effect of adding each chunk this one took. Header fields are the first seen,
        ``usage`` and each finish reason the last, texts and tool-call arguments joined per
        choice and tool-call ``index``, only what the chunks named is set (no default role or
        tool-call type). Used for the chunks past the chunk cap
        (:mod:`~traceforge_proxy.stream_tail`). One limit: a malformed tool call with no
        usable ``index`` is placed by this accumulator's calls, not the whole stream's."""
        if not self.chunks:
            return None
        chunk: dict[str, Any] = {"object": "chat.completion.chunk", **self._header}
        choices: list[dict[str, Any]] = []
        for index in sorted(self._choices):
            state = self._choices[index]
            delta: dict[str, Any] = {}
            if state.role is not None:
                delta["role"] = state.role
            for key, attribute in _Choice.TEXTS:
                text: _Text = getattr(state, attribute)
                if text:
                    delta[key] = text.value()
            if state.thinking_blocks:
                delta["thinking_blocks"] = list(state.thinking_blocks)
            calls = []
            for call_index, slot in sorted(state.tool_calls.items()):
                call: dict[str, Any] = {"index": call_index}
                if slot["id"] is not None:
                    call["id"] = slot["id"]
                if slot["type"] is not None:
                    call["type"] = slot["type"]
                function: dict[str, Any] = {}
                if slot["name"]:
                    function["name"] = slot["name"]
                if slot["arguments"]:
                    function["arguments"] = slot["arguments"].value()
                call["function"] = function
                calls.append(call)
            if calls:
                delta["tool_calls"] = calls
            choices.append({"index": index, "delta": delta, "finish_reason": state.finish_reason})
        chunk["choices"] = choices
        if self.usage is not None:
            chunk["usage"] = self.usage
        return chunk

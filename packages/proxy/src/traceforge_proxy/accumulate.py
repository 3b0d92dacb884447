"""Rebuild a ``chat.completion`` from the ``chat.completion.chunk`` objects of a stream.

Format: OpenAI Chat Completions streaming
(https://platform.openai.com/docs/api-reference/chat-streaming). Text and refusal deltas are
joined per choice; tool calls are joined per ``tool_calls[].index`` (only the first delta of a
call carries ``id``, ``type`` and ``function.name``; later ones carry ``function.arguments``
fragments); the finish reason is the one the stream sent; usage is the last non-null ``usage``
(the usage chunk has ``"choices": []``).
"""

from __future__ import annotations

from typing import Any

_HEADER_FIELDS = ("id", "created", "model", "service_tier", "system_fingerprint")


class _Choice:
    __slots__ = ("content", "finish_reason", "reasoning", "refusal", "role", "tool_calls")

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None


class ChatCompletionAccumulator:
    """Feed decoded chunk objects with :meth:`add`; :meth:`result` returns the completion."""

    def __init__(self) -> None:
        self._header: dict[str, Any] = {}
        self._choices: dict[int, _Choice] = {}
        self.usage: dict[str, Any] | None = None
        self.chunks = 0

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
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            state = self._choices.get(index)
            if state is None:
                state = self._choices[index] = _Choice()
            if choice.get("finish_reason") is not None:
                state.finish_reason = choice["finish_reason"]
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._add_delta(state, delta)

    @staticmethod
    def _add_delta(state: _Choice, delta: dict[str, Any]) -> None:
        role = delta.get("role")
        if isinstance(role, str):
            state.role = role
        for key, parts in (
            ("content", state.content),
            ("refusal", state.refusal),
            ("reasoning_content", state.reasoning),
        ):
            value = delta.get(key)
            if isinstance(value, str):
                parts.append(value)
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for call in tool_calls:
                if not isinstance(call, dict):
                    continue
                index = call.get("index", len(state.tool_calls))
                slot = state.tool_calls.get(index)
                if slot is None:
                    slot = state.tool_calls[index] = {
                        "id": None,
                        "type": "function",
                        "name": "",
                        "arguments": [],
                    }
                if call.get("id"):
                    slot["id"] = call["id"]
                if call.get("type"):
                    slot["type"] = call["type"]
                function = call.get("function")
                if isinstance(function, dict):
                    if function.get("name"):
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

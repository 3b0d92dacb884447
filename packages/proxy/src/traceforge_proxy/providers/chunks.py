"""OpenAI ``chat.completion.chunk`` objects, built one way for every stream converter.

The key sets are OpenAI's (Chat Completions streaming reference, and the recorded streams in
``tests/data/provider-streams/openai-chat``): every chunk has ``id``, ``object``, ``created``,
``model`` (then ``system_fingerprint`` when one is known) and ``choices``, plus ``usage`` when
the client asked for ``stream_options.include_usage`` (``null`` on every chunk but the last,
whose ``choices`` is ``[]``). Every choice has ``index``, ``delta``, ``logprobs`` (``null``: no
converted provider reports them) and ``finish_reason``. A tool call opens with ``index``,
``id``, ``type`` and ``function.name``/``arguments``; later fragments carry ``index`` and
``function.arguments`` only.

Pure: no clock, no I/O; ``created`` (epoch seconds) comes from the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The ``object`` of every stream chunk.
CHUNK_OBJECT = "chat.completion.chunk"


def tool_call(call_id: Any, name: Any, arguments: str) -> dict[str, Any]:
    """An OpenAI ``tool_calls[]`` entry: ``{"id", "type": "function", "function": {"name",
    "arguments"}}`` (``arguments`` is JSON text). Used in messages and, with an ``index``
    added, in the delta that opens a streamed call."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def completion(
    completion_id: Any,
    model: Any,
    created: int,
    message: dict[str, Any],
    finish_reason: str | None,
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    """A one-choice ``chat.completion``: ``{"id", "object", "created", "model", "choices":
    [{"index": 0, "message", "logprobs": null, "finish_reason"}], "usage"}``."""
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [choice],
        "usage": usage,
    }


def delta_chunk(
    head: dict[str, Any],
    delta: dict[str, Any],
    finish_reason: str | None,
    include_usage: bool,
    *,
    index: int = 0,
) -> dict[str, Any]:
    """A chunk of one choice: ``head`` (``id``, ``object``, ``created``, ``model``) plus
    ``choices: [{index, delta, logprobs: null, finish_reason}]`` and ``"usage": null`` when
    ``include_usage`` (as OpenAI sends it on every chunk but the usage chunk)."""
    choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    chunk = {**head, "choices": [choice]}
    return {**chunk, "usage": None} if include_usage else chunk


@dataclass(kw_only=True)
class ChunkBuilder:
    """Builds the chunks of one converted stream.

    Attributes:
        id: the chunk ``id`` (the provider's message/response id once known); settable.
        model: the ``model`` reported (the provider's own model name once known); settable.
        created: epoch seconds, the same on every chunk.
        include_usage: the client's ``stream_options.include_usage``.
        role_pending: when ``True``, the next delta built gets ``"role": "assistant"`` first
            (then it turns ``False``): for providers that send no opening event.
        system_fingerprint: added to the head when not ``None``.
    """

    id: str
    model: str
    created: int
    include_usage: bool
    role_pending: bool = False
    system_fingerprint: str | None = None

    def head(self) -> dict[str, Any]:
        """``{"id", "object", "created", "model"}`` (+ ``system_fingerprint``), a new dict."""
        head: dict[str, Any] = {
            "id": self.id,
            "object": CHUNK_OBJECT,
            "created": self.created,
            "model": self.model,
        }
        if self.system_fingerprint is not None:
            head["system_fingerprint"] = self.system_fingerprint
        return head

    def delta(
        self, delta: dict[str, Any], finish_reason: str | None = None, *, index: int = 0
    ) -> dict[str, Any]:
        """A chunk of choice ``index`` carrying ``delta`` (see :func:`delta_chunk`)."""
        if self.role_pending:
            delta = {"role": "assistant", **delta}
            self.role_pending = False
        return delta_chunk(self.head(), delta, finish_reason, self.include_usage, index=index)

    def role(self, content: str | None = "") -> dict[str, Any]:
        """The opening chunk: ``delta: {"role": "assistant", "content": content}``."""
        return self.delta({"role": "assistant", "content": content})

    def text(self, text: str) -> dict[str, Any]:
        """A ``delta: {"content": text}`` chunk."""
        return self.delta({"content": text})

    def reasoning(self, text: str) -> dict[str, Any]:
        """A ``delta: {"reasoning_content": text}`` chunk (the field xAI and DeepSeek send)."""
        return self.delta({"reasoning_content": text})

    def tool_call_start(
        self, index: int, call_id: Any, name: Any, arguments: str = ""
    ) -> dict[str, Any]:
        """The chunk opening tool call ``index`` (0, 1, ... in the answer's order)."""
        return self.delta({"tool_calls": [{"index": index, **tool_call(call_id, name, arguments)}]})

    def tool_arguments(self, index: int, arguments: str) -> dict[str, Any]:
        """A fragment of tool call ``index``'s JSON arguments."""
        return self.delta({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})

    def finish(self, finish_reason: str | None, *, index: int = 0) -> dict[str, Any]:
        """The chunk ending choice ``index``: an empty delta and its ``finish_reason``."""
        return self.delta({}, finish_reason, index=index)

    def final(self, usage: dict[str, Any] | None, *, failed: bool) -> list[dict[str, Any]]:
        """The chunks closing the stream: the usage chunk when the client asked for it, the
        provider reported ``usage`` (the OpenAI object) and the stream did not fail; else
        none."""
        if failed or not self.include_usage or usage is None:
            return []
        return [self.usage(usage)]

    def usage(self, usage: dict[str, Any] | None) -> dict[str, Any]:
        """The usage chunk: ``"choices": []`` and the OpenAI ``usage`` object. Whether to send
        it (only with ``include_usage``, never after an error) is the converter's call."""
        return {**self.head(), "choices": [], "usage": usage}

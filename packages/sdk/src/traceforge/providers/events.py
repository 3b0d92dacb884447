"""What a provider call takes and gives: `StreamRequest`, the `StreamEvent` union, `Usage`
and `GenerateResult`.

Every backend translates its provider's wire events into the same five event types, in the
order the provider sent them:

- `TokenEvent`: answer text (OpenAI ``delta.content``, Anthropic ``text_delta``, Gemini text
  parts, Ollama ``message.content``, Cohere ``content-delta``);
- `ToolCallEvent`: a tool call or a fragment of its JSON arguments (the first event of a call
  carries its ``id`` and ``name``; later ones only ``arguments_delta``), keyed by ``index``;
- `ReasoningEvent`: reasoning text (xAI ``reasoning_content``, Anthropic ``thinking_delta``,
  Gemini ``thought`` parts, Ollama ``message.thinking``, Cohere ``tool_plan`` deltas);
- `ErrorEvent`: the call failed (`traceforge.errors.ProviderError`); always the last event;
- `DoneEvent`: the call ended normally, with the finish reason and the token `Usage`; always
  the last event.

An aborted call yields neither: it just stops (see `traceforge.providers.Provider.stream`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from traceforge.errors import ProviderError

__all__ = [
    "DoneEvent",
    "ErrorEvent",
    "GenerateResult",
    "ReasoningEvent",
    "StreamEvent",
    "StreamRequest",
    "TokenEvent",
    "ToolCall",
    "ToolCallEvent",
    "Usage",
]


@dataclass(frozen=True)
class StreamRequest:
    """One chat call, provider-neutral.

    Attributes:
        model: the provider's model name (``gpt-4o-mini``, ``claude-sonnet-4-5``, ...).
        prompt: a single user message; appended after ``messages`` when both are given.
        messages: a conversation in OpenAI Chat Completions shape
            (https://platform.openai.com/docs/api-reference/chat/create): dicts with ``role``
            (``system`` | ``user`` | ``assistant`` | ``tool``) and ``content`` (a string),
            assistant ``tool_calls`` and tool ``tool_call_id`` as OpenAI writes them. Each
            backend converts them to its provider's format.
        system: a system prompt (sent the provider's way: Anthropic ``system``, Gemini
            ``system_instruction``, a first ``system`` message elsewhere).
        temperature: sampling temperature, or None for the provider's default.
        max_tokens: the most tokens to generate, or None for the provider's default
            (Anthropic requires one: 1024 is sent when None).
        tools: function tools in OpenAI's shape
            ``{"type": "function", "function": {"name", "description", "parameters"}}``.

    At least one of ``prompt`` and ``messages`` must be given (`ValueError` otherwise, raised
    by ``stream``).
    """

    model: str
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    tools: list[dict[str, Any]] | None = None

    def conversation(self) -> list[dict[str, Any]]:
        """``messages`` then ``prompt`` as a user message, in OpenAI shape (``system`` not
        included).

        Raises:
            ValueError: neither ``prompt`` nor ``messages`` was given.
        """
        if self.prompt is None and not self.messages:
            raise ValueError("StreamRequest needs a prompt or messages")
        out = [dict(message) for message in self.messages or ()]
        if self.prompt is not None:
            out.append({"role": "user", "content": self.prompt})
        return out


@dataclass(frozen=True)
class Usage:
    """Token counts of one call (tokens; None when the provider did not report that count).

    Attributes:
        prompt_tokens: input tokens (OpenAI ``prompt_tokens``, Anthropic ``input_tokens``,
            Gemini ``promptTokenCount``, Ollama ``prompt_eval_count``, Cohere
            ``tokens.input_tokens``).
        completion_tokens: output tokens.
        total_tokens: as the provider reports it, else prompt + completion.
        cached_tokens: input tokens served from the provider's prompt cache.
        reasoning_tokens: tokens spent on reasoning / thinking.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True)
class TokenEvent:
    """A piece of the answer's text."""

    text: str
    type: Literal["token"] = "token"


@dataclass(frozen=True)
class ToolCallEvent:
    """A tool call, or a fragment of its arguments.

    Attributes:
        id: the call's id (None on fragments after the first, and when the provider gives
            none: the backend then makes one up, ``call_<index>``).
        name: the function's name (None on fragments after the first).
        arguments_delta: a fragment of the JSON-encoded arguments; the fragments of one
            ``index``, joined, are the whole arguments.
        index: which call of the answer (0, 1, ...).
    """

    id: str | None
    name: str | None
    arguments_delta: str
    index: int
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True)
class ReasoningEvent:
    """A piece of the model's reasoning (thinking) text."""

    text: str
    type: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True)
class ErrorEvent:
    """The call failed; nothing follows."""

    error: ProviderError
    type: Literal["error"] = "error"


@dataclass(frozen=True)
class DoneEvent:
    """The call ended normally; nothing follows.

    Attributes:
        finish_reason: the provider's own value (``stop``, ``end_turn``, ``STOP``,
            ``COMPLETE``, ``tool_calls``, ...), or None when it sent none.
        usage: the call's token counts.
    """

    finish_reason: str | None
    usage: Usage = field(default_factory=Usage)
    type: Literal["done"] = "done"


#: One event of `Provider.stream`; switch on ``event.type`` or ``isinstance``.
StreamEvent: TypeAlias = TokenEvent | ToolCallEvent | ReasoningEvent | ErrorEvent | DoneEvent


@dataclass(frozen=True)
class ToolCall:
    """A whole tool call: ``arguments`` is the JSON-encoded arguments, as sent."""

    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True)
class GenerateResult:
    """What `Provider.generate` returns: the stream's events put together.

    Attributes:
        text: every `TokenEvent` joined.
        tool_calls: one `ToolCall` per index, in index order.
        reasoning: every `ReasoningEvent` joined.
        finish_reason: the `DoneEvent`'s.
        usage: the `DoneEvent`'s.
    """

    text: str
    tool_calls: list[ToolCall]
    reasoning: str
    finish_reason: str | None
    usage: Usage

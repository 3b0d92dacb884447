"""Which stream events carry content, for the time to first token.

``TraceMetadata.first_content_latency_ms`` is measured at the first event that carries
content: a text, refusal, reasoning or tool-call delta. Role-only first chunks, keep-alives,
``response.created`` and usage chunks do not count.

Shapes: OpenAI ``chat.completion.chunk`` ``choices[].delta``
(https://platform.openai.com/docs/api-reference/chat-streaming), with the reasoning names of
OpenAI-compatible hosts (``reasoning_content``: DeepSeek, xAI; ``reasoning``: Groq, OpenRouter);
the converted chunks of every other provider have the same shape. Responses API events
(https://platform.openai.com/docs/api-reference/responses-streaming) of the types in
:data:`RESPONSES_CONTENT_EVENTS`.
"""

from __future__ import annotations

from typing import Any

#: Responses API stream events that carry content.
RESPONSES_CONTENT_EVENTS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.audio.delta",
        "response.audio.transcript.delta",
    }
)

#: ``delta`` keys of a chat chunk that carry content.
_DELTA_KEYS = ("content", "refusal", "reasoning_content", "reasoning", "tool_calls", "audio")


def chunk_has_content(chunk: Any) -> bool:
    """Whether a decoded ``chat.completion.chunk`` carries a non-empty content delta (text,
    refusal, reasoning or tool call) in any choice."""
    if not isinstance(chunk, dict):
        return False
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return False
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict) and any(delta.get(key) for key in _DELTA_KEYS):
            return True
    return False


def event_has_content(kind: str | None, payload: Any) -> bool:
    """Whether an OpenAI-format stream event carries content: a Responses event whose type
    (``kind``, else the payload's ``type``) is in :data:`RESPONSES_CONTENT_EVENTS`, or a chat
    chunk (:func:`chunk_has_content`)."""
    if isinstance(payload, dict):
        event_type = payload.get("type")
        if isinstance(event_type, str) and event_type.startswith("response."):
            kind = event_type
    if kind is not None and kind.startswith("response."):
        return kind in RESPONSES_CONTENT_EVENTS and bool(
            payload.get("delta") if isinstance(payload, dict) else False
        )
    return chunk_has_content(payload)

"""Merging one stream's events into the answer being rebuilt, event by event.

Two places rebuild a streamed answer from its events, with the same rules: the trace builder
(:mod:`~traceforge_proxy.trace_build`, the stored events, in the writer) and the stream tail
(:mod:`~traceforge_proxy.stream_tail`, the events past ``proxy.chunk_cap``, on the event
loop). Both are an :class:`AnswerMerge`:

- an event's data is decoded once (:meth:`AnswerMerge.decode`): JSON cut at the depth limit
  and data that is not JSON are noted (the first malformed event only) and counted;
- an OpenAI-format event goes to the Responses rebuild when it is a Responses API event
  (https://platform.openai.com/docs/api-reference/responses-streaming), else to the chat
  completion accumulator (https://platform.openai.com/docs/api-reference/chat-streaming); an
  ``error`` object inside a 2xx stream (Groq style) is kept as the stream's error;
- a provider's own event goes through the adapter's stream converter and its chunks are
  merged the same way;
- the arrival time (``perf_counter_ns``) of the first event carrying content (text,
  reasoning, a tool call) is kept for the time to first token.

Nothing here raises on a bad event: what cannot be merged is noted for the trace's
``metadata.warnings``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from traceforge_proxy.accumulate import ChatCompletionAccumulator
from traceforge_proxy.bodies import depth_warning, json_view
from traceforge_proxy.content import event_has_content
from traceforge_proxy.providers import StreamConverter
from traceforge_proxy.responses_accumulate import ResponsesAccumulator

__all__ = ["AnswerMerge", "ResponsesSink", "decode_chunk"]


def decode_chunk(data: bytes) -> tuple[Any, str | None, bool]:
    """One event's ``data`` as stored: ``(payload, raw, cut)``: the decoded JSON (``None``
    for ``[DONE]`` and data that is not JSON), the text kept instead (``"[DONE]"``, the
    malformed data), and whether the JSON was cut at the depth limit."""
    if data == b"[DONE]":
        return None, "[DONE]", False
    try:
        payload, cut = json_view(data)
        return payload, None, cut
    except msgspec.DecodeError:
        return None, data.decode("utf-8", "replace"), False


class ResponsesSink(Protocol):
    """Where Responses API events go: a
    :class:`~traceforge_proxy.responses_accumulate.ResponsesAccumulator`, or the compact
    :class:`~traceforge_proxy.responses_accumulate.ResponsesEventTail`."""

    def add(self, kind: str, payload: dict[str, Any]) -> None:
        """Take one event of ``kind`` (:meth:`ResponsesAccumulator.kind`)."""
        ...


R = TypeVar("R", bound=ResponsesSink)


class AnswerMerge(Generic[R]):
    """The answer of one stream, merged from its events (see the module docstring).

    Args:
        responses: where Responses API events go.
        first_content_ns: the first content's arrival time, if already known.

    Attributes:
        chat: the chat completion rebuilt from chat chunks.
        responses: the Responses rebuild.
        stream_error: the first ``error`` object a 2xx stream carried, else ``None``.
        first_content_ns: when the first event with content arrived (``None``: none yet).
        malformed: events whose data was not JSON.
    """

    def __init__(self, responses: R, first_content_ns: int | None = None) -> None:
        self.chat = ChatCompletionAccumulator()
        self.responses = responses
        self.stream_error: dict[str, Any] | None = None
        self.first_content_ns = first_content_ns
        self.malformed = 0

    def _note(self, message: str) -> None:
        """Keep ``message`` for the trace's warnings (each subclass keeps its own list)."""
        raise NotImplementedError

    def decode(self, data: bytes, index: int) -> tuple[Any, str | None]:
        """Event ``index``'s data decoded (:func:`decode_chunk`): ``(payload, raw)``; a cut
        or malformed event is noted and counted."""
        payload, raw, cut = decode_chunk(data)
        if cut:
            self._note(depth_warning(f"chunk {index}"))
        if raw is not None and raw != "[DONE]":
            self.malformed += 1
            if self.malformed == 1:
                self._note(
                    f"chunk {index}: stream data is not JSON (forwarded as is): {raw[:120]!r}"
                )
        return payload, raw

    def merge_openai(
        self, event: str | None, payload: dict[str, Any], index: int, at_ns: int
    ) -> None:
        """Merge OpenAI-format event ``index`` (SSE ``event`` name) that arrived at
        ``at_ns``."""
        try:
            kind = ResponsesAccumulator.kind(event, payload)
            if kind is not None:
                self.responses.add(kind, payload)
            else:
                if payload.get("error") and self.stream_error is None:
                    self.stream_error = payload
                self.chat.add(payload)
        except Exception as exc:  # a malformed chunk must not break the stream or the trace
            self._note(f"chunk {index}: could not be merged into the answer: {exc!r}")
        if self.first_content_ns is None and event_has_content(event, payload):
            self.first_content_ns = at_ns

    def merge_native(
        self,
        converter: StreamConverter | None,
        event: str | None,
        payload: dict[str, Any],
        at_ns: int,
    ) -> None:
        """Merge a provider's own event through ``converter`` (nothing once it failed)."""
        if converter is None or converter.error is not None:
            return
        try:
            chunks = converter.feed(event, payload)
        except Exception as exc:  # an event the converter cannot read: noted, not raised
            self._note(f"could not convert a stream event for the trace: {exc!r}")
            return
        self.merge_converted(chunks)
        if self.first_content_ns is None and any(event_has_content(None, c) for c in chunks):
            self.first_content_ns = at_ns

    def merge_converted(self, chunks: Iterable[Any]) -> None:
        """Merge converted chunks: chat chunks, or Responses events (a Responses call
        converted for another provider)."""
        for chunk in chunks:
            kind = ResponsesAccumulator.kind(None, chunk)
            if kind is not None:
                self.responses.add(kind, chunk)
            else:
                self.chat.add(chunk)

"""A stream past the chunk cap (``proxy.chunk_cap``): merged on the event loop, not kept.

Up to the cap the :class:`~traceforge_proxy.exchange.Exchange` keeps each event's raw bytes
for the writer to decode (:func:`~traceforge_proxy.trace_build.build_trace`). From the cap on
a :class:`StreamTail` decodes each event as it arrives and merges it into compact state, so an
open stream's memory stops growing with its events (it grows only with the answer's text):

- OpenAI chat chunks into a :class:`~traceforge_proxy.accumulate.ChatCompletionAccumulator`
  (Chat Completions streaming, https://platform.openai.com/docs/api-reference/chat-streaming);
- Responses API events into a :class:`~traceforge_proxy.responses_accumulate.
  ResponsesEventTail` (https://platform.openai.com/docs/api-reference/responses-streaming);
- a provider's own events on the passthrough route (Anthropic, Gemini, ...) through the
  adapter's stream converter, which first reads the stored events once (at the cap) to get the
  state the provider spreads over a stream (ids, content blocks, tool-call indexes, usage);
- on the converted route the converter already runs on the loop: its chunks are merged.

:meth:`StreamTail.record` hands over a :class:`~traceforge_proxy.exchange_record.TailRecord`
whose ``merged`` events the builder merges after the stored ones: the same answer (text,
reasoning, tool calls and their arguments, finish reason, usage) as with no cap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from traceforge_proxy.answer_merge import AnswerMerge, decode_chunk
from traceforge_proxy.exchange_record import TailRecord
from traceforge_proxy.providers import StreamConverter
from traceforge_proxy.responses_accumulate import ResponsesEventTail

__all__ = ["StreamTail", "TailMode"]

#: ``openai``: OpenAI-format events; ``native``: a provider's events, read by ``converter``;
#: ``converted``: the converted route (its chunks come from :meth:`StreamTail.merge`).
TailMode = Literal["openai", "native", "converted"]


class StreamTail(AnswerMerge[ResponsesEventTail]):
    """The events of one stream from index ``start`` (the chunk cap) on, merged as they come.

    Args:
        mode: see :data:`TailMode`.
        start: index of the first event it takes (``proxy.chunk_cap``).
        converter: ``native`` mode: a fresh stream converter of the provider's adapter
            (``None``: the events are counted, not read, as the builder would).
        stored: ``native`` mode: the stored events ``(data bytes, event name)`` the converter
            reads first, its output dropped (the builder makes it from the stored chunks).
    """

    def __init__(
        self,
        mode: TailMode,
        start: int,
        *,
        converter: StreamConverter | None = None,
        stored: Iterable[tuple[bytes, str | None]] = (),
    ) -> None:
        super().__init__(ResponsesEventTail())
        self.mode = mode
        self._next = start
        self._converter = converter
        self._notes: list[str] = []
        self._received = 0
        self._last_ns = 0
        self._converted = 0
        if converter is not None:
            for data, event in stored:
                payload = decode_chunk(data)[0]
                if isinstance(payload, dict) and converter.error is None:
                    converter.feed(event, payload)

    def _note(self, message: str) -> None:
        if message not in self._notes:
            self._notes.append(message)

    def add(self, data: bytes, event: str | None, now_ns: int) -> Any:
        """Take one event's ``data`` bytes (SSE ``event`` name) that arrived at ``now_ns``;
        return its decoded JSON (``None`` for ``[DONE]`` and data that is not JSON). Never
        raises: what cannot be merged is noted for the trace."""
        index = self._next
        self._next += 1
        self._received += 1
        self._last_ns = now_ns
        payload, _ = self.decode(data, index)
        if not isinstance(payload, dict):
            return payload
        if self.mode == "openai":
            self.merge_openai(event, payload, index, now_ns)
        elif self.mode == "native":
            self.merge_native(self._converter, event, payload, now_ns)
        return payload

    def merge(self, chunks: list[dict[str, Any]]) -> None:
        """Converted route: merge the OpenAI chunks (or Responses events) the converter made
        from the tail's events, as sent to the client (not changed)."""
        self._converted += len(chunks)
        self.merge_converted(chunks)

    @property
    def received(self) -> int:
        """Events with data taken so far."""
        return self._received

    @property
    def converted(self) -> int:
        """Converted route: OpenAI chunks (or Responses events) merged so far."""
        return self._converted

    def record(self) -> TailRecord:
        """What the trace is built from (see :class:`TailRecord`)."""
        chat = self.chat.as_chunk()
        merged: list[Any] = [] if chat is None else [chat]
        merged.extend(self.responses.events())
        converter = self._converter
        error = converter.error if converter is not None else None
        return TailRecord(
            received=self._received,
            last_ns=self._last_ns,
            merged=merged,
            converted=self._converted,
            notes=[*self._notes, *self.chat.warnings],
            malformed=self.malformed,
            first_content_ns=self.first_content_ns,
            stream_error=self.stream_error,
            native=converter is not None,
            native_error=None if error is None else (error.status, error.body),
            native_usage=converter.usage.as_openai() if converter is not None else None,
        )

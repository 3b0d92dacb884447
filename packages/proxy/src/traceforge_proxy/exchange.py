"""The record of one proxied call while it is in flight.

The proxy handler feeds an :class:`Exchange` events as the call progresses (the plan, the
response headers, each stream event's raw bytes with its arrival time, the end or the
failure). Nothing is decoded here that the relay does not need: a stream's events are kept
as bytes (plus ``perf_counter_ns`` times packed in an ``array('q')``) and decoded once, by the
writer, when :func:`~traceforge_proxy.trace_build.build_trace` builds the trace from
:meth:`Exchange.record` (in the writer thread or the writer process). Only the converted
route decodes on the event loop (its converter writes the client's chunks), and the
usage-chunk check decodes only the event whose bytes hold an empty ``"choices"`` list.

Past ``proxy.chunk_cap`` no bytes are kept: a :class:`~traceforge_proxy.stream_tail.
StreamTail` decodes each later event on the loop and merges it, so an open stream's memory
stops growing at the cap while the rebuilt answer stays whole.
"""

from __future__ import annotations

import array
import logging
import pickle
import re
from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from traceforge_proxy.content import event_has_content
from traceforge_proxy.errors import error_body
from traceforge_proxy.exchange_record import ExchangeRecord, FailureRecord
from traceforge_proxy.grouping import Grouping
from traceforge_proxy.headers import redact_headers
from traceforge_proxy.plan import Failure, ForwardingPlan, Framing, ProxyAnswer, Target
from traceforge_proxy.providers import ProviderAdapter, StreamConverter
from traceforge_proxy.sse import SSEEvent
from traceforge_proxy.stream_reads import UNTERMINATED, StreamReads, frame_reads
from traceforge_proxy.stream_tail import StreamTail
from traceforge_proxy.trace_build import build_trace, decode_json, stored_chunk, usage_from
from traceforge_shared.trace import StreamChunk, Trace, TraceError

__all__ = ["Exchange", "decode_json", "usage_from"]

log = logging.getLogger("traceforge.proxy")

_json_decode = msgspec.json.decode

#: An empty ``"choices"`` list in an event's bytes: the candidate usage-only chunk.
_EMPTY_CHOICES = re.compile(rb'"choices"\s*:\s*\[\s*\]')


class Exchange:
    """The record of one call, filled by events as it progresses; the proxy's *flow*.

    Times are ``time.perf_counter_ns()`` values the caller passes in; nothing here reads a
    clock. The events, in the order they happen: :meth:`sending` (the plan, when the request
    goes upstream) or :meth:`answer` (the proxy answers itself); :meth:`headers_received`;
    then :meth:`body_received`, or :meth:`stream_started` and the stream's events (recorded by
    a :mod:`~traceforge_proxy.relay` through :meth:`add_event` / :meth:`add_native_event`);
    :meth:`upstream_failed` or :meth:`client_gone` when something breaks; :meth:`end`.
    The trace's status and error are decided in one place, :meth:`_outcome`.

    Args:
        trace_id: id the trace will be saved under.
        timestamp: ISO 8601 UTC arrival time.
        started_ns: when the request reached the proxy.
        method, endpoint: HTTP method and proxy path (``/v1/chat/completions``).
        provider: provider name until the call is routed.
        request_body: the client's request body as received.
        request_json: the decoded request body (``None`` if empty or not JSON).
        chunk_cap: chunks kept at most; later chunks are counted, not kept.
        request_cut: ``request_json`` is a view cut at the depth limit (the body was too deep
            to decode whole).
    """

    def __init__(
        self,
        *,
        trace_id: str,
        timestamp: str,
        started_ns: int,
        method: str,
        endpoint: str,
        provider: str,
        request_body: bytes,
        request_json: Any,
        chunk_cap: int,
        request_cut: bool = False,
    ) -> None:
        self.trace_id, self.timestamp, self.method, self.endpoint = (
            trace_id,
            timestamp,
            method,
            endpoint,
        )
        self.request_body, self.request_json = request_body, request_json
        self.request_cut = request_cut
        self.started_ns = self.sent_ns = started_ns
        self.chunk_cap = chunk_cap
        self.provider = provider
        self.model = (request_json.get("model") if isinstance(request_json, dict) else None) or ""
        self.upstream_url: str | None = None
        self.request_headers: dict[str, str] = {}
        self.response_headers: dict[str, str] = {}
        self.redacted_fields: list[str] = []
        self.warnings: list[str] = []
        self.status_code = 0
        self.response_body: bytes | None = None
        self.streaming = False
        self.ended_ns: int | None = None
        #: when the first event carrying content (text, reasoning, tool call) arrived.
        self.first_content_ns: int | None = None
        # The stored events (the first chunk_cap) as received: data bytes, arrival times
        # (ns), names by index; indexes withheld from the client (any); converted route: the
        # chunks the client got for them. Later events go to the tail.
        self._data: list[bytes] = []
        self._received = 0
        self._tail: StreamTail | None = None
        self._times = array.array("q")
        self._events: dict[int, str] = {}
        self._withheld: list[int] = []
        self._converted: list[dict[str, Any]] = []
        # The raw relay's stream kept as reads (framed when the trace is built), and when it
        # ended; ``None``: events are recorded one by one.
        self._reads: StreamReads | None = None
        self._reads_closed_ns: int | None = None
        self._headers_ns: int | None = None
        self._created = 0
        self._failure: Failure | None = None
        #: the whole answer was too large to decode for the trace (bytes kept, or ``None``).
        self.response_truncated: int | None = None
        #: the stream is in the provider's format (converted and passthrough routes).
        self.native_stream = False
        # Routes other than plain OpenAI (see traceforge_shared.trace.ROUTES).
        self.route: str = "openai"
        self.adapter: ProviderAdapter | None = None
        self.native_endpoint: str | None = None
        #: converted route: the body sent to the provider.
        self.native_request: Any = None
        #: converted route, non-streaming: the OpenAI answer the client got.
        self.converted_response: Any = None
        #: converted route: converts the provider's stream events into OpenAI chunks.
        self.converter: StreamConverter | None = None
        #: the run, session, tags and metadata the request's headers named (:meth:`grouped`).
        self.grouping: Grouping | None = None

    # -- events -----------------------------------------------------------------------------

    def grouped(self, grouping: Grouping) -> None:
        """Record the call's grouping headers (:func:`traceforge_proxy.grouping.read_grouping`):
        its run and span, session, tags and metadata; what was cut becomes a warning."""
        self.grouping = grouping
        self.warnings.extend(grouping.warnings)

    def routed(self, target: Target) -> None:
        """Record where the call goes (provider, model, route, adapter, native endpoint)."""
        self.provider = target.provider
        if target.model is not None:
            self.model = target.model
        self.route = target.route
        self.adapter = target.adapter
        self.native_endpoint = target.native_endpoint
        self.native_request = target.native_request

    def sending(self, plan: ForwardingPlan, now_ns: int) -> None:
        """The request goes upstream at ``now_ns`` as ``plan`` says (credentials redacted
        in the recorded headers)."""
        self.routed(plan.target)
        self.warnings.extend(plan.warnings)
        self.upstream_url = plan.upstream_url
        self.request_headers = redact_headers(
            plan.headers, "metadata.request_headers", self.redacted_fields
        )
        self.sent_ns = now_ns

    def answer(self, answer: ProxyAnswer) -> None:
        """The proxy answers the client itself (its own error, a provider error in OpenAI's
        shape, or the converted answer)."""
        if answer.target is not None:
            self.routed(answer.target)
        self.warnings.extend(answer.warnings)
        self.status_code = answer.status
        if not answer.keeps_upstream_body:
            self.response_body = answer.body
        if answer.converted is not None:
            self.converted_response = answer.converted
        if answer.failure is not None:
            self._failure = answer.failure

    def headers_received(
        self, status: int, headers: Iterable[tuple[str, str]], now_ns: int, created: int
    ) -> None:
        """The upstream answered ``status`` with ``headers`` at ``now_ns``; ``created``
        (epoch seconds) dates the OpenAI objects converted from the answer."""
        self.status_code = status
        self.response_headers = redact_headers(
            headers, "metadata.response_headers", self.redacted_fields
        )
        self._headers_ns = now_ns
        self._created = created

    def body_received(self, body: bytes, *, truncated: bool = False) -> None:
        """The upstream's whole (non-stream) body arrived, decoded; ``truncated``: it decodes
        to more than ``len(body)`` bytes (the recording cap), so it is not recorded."""
        if truncated:  # not recorded: keep nothing of it
            self.response_truncated, body = len(body), b""
        self.response_body = body

    def stream_started(self, converter: StreamConverter | None, *, native: bool = False) -> None:
        """The answer is relayed as a stream; ``converter`` turns its native events into the
        OpenAI chunks the client gets (converted route); ``native``: the events are in the
        provider's format (converted route, passthrough calls of an adapter's provider)."""
        self.streaming = True
        self.converter = converter
        self.native_stream = native or converter is not None

    def upstream_failed(self, kind: Literal["timeout", "failed"], detail: str, now_ns: int) -> None:
        """The upstream timed out (``timeout``) or failed (refused, reset, hung up) at
        ``now_ns``. Before a stream started the proxy answers instead: ``status_code`` (504 for
        a timeout, else 502) and ``response_body`` (OpenAI-shaped error) are what to send.

        Error types: ``upstream_timeout``; ``upstream_unreachable`` before the upstream
        answered; ``upstream_disconnected`` after.
        """
        url = self.upstream_url
        if kind == "timeout":
            error_type = "upstream_timeout"
        else:
            error_type = (
                "upstream_unreachable" if self._headers_ns is None else "upstream_disconnected"
            )
        if self.streaming:
            message = f"upstream stream broke off after {self.chunks_received} chunks: {detail}"
        elif self._headers_ns is not None:
            message = f"upstream {url} failed while sending its answer: {detail}"
        elif kind == "timeout":
            message = f"upstream {url} did not answer within the configured timeouts"
        else:
            message = f"could not reach upstream {url}: {detail}"
        self._failure = Failure("upstream_error", error_type, message)
        if not self.streaming:
            self.status_code = 504 if kind == "timeout" else 502
            self.response_body = error_body(message, error_type)
        self.end(now_ns)

    def client_gone(self, now_ns: int, detail: str | None = None) -> None:
        """The client hung up at ``now_ns`` (``detail``: the write error, mid-stream). Ignored
        once the call has ended (the whole answer was sent)."""
        if self.ended_ns is not None:
            return
        message = (
            "the client closed the connection before the answer was complete"
            if detail is None
            else f"the client closed the connection mid-stream: {detail}"
        )
        self._failure = Failure("client_disconnected", "client_disconnected", message)
        self.end(now_ns)

    def end(self, now_ns: int) -> None:
        """The call ended at ``now_ns`` (last byte relayed, or the failure); the first call
        counts."""
        if self.ended_ns is None:
            self.ended_ns = now_ns

    @property
    def failed(self) -> bool:
        """Whether the call failed without a whole answer from the upstream (the proxy's own
        error, a broken upstream, a client that hung up)."""
        return self._failure is not None

    @property
    def error(self) -> TraceError | None:
        """The failure recorded so far, if any (error answers of the upstream itself are read
        from its body when the trace is built)."""
        failure = self._failure
        return None if failure is None else TraceError(type=failure.type, message=failure.message)

    # -- recording, called on the event loop ------------------------------------------------

    def keep_reads(self, framing: Framing) -> None:
        """Record the stream as the upstream's reads (:meth:`add_read`), framed into events
        when the trace is built (:mod:`~traceforge_proxy.stream_reads`)."""
        self._reads = StreamReads(framing)

    def add_read(self, data: bytes, now_ns: int) -> bool:
        """Keep one read of the stream that arrived at ``now_ns``; ``False``: the reads may
        now hold ``chunk_cap`` events: call :meth:`take_reads` and record events from here."""
        reads = self._reads
        if reads is None:  # framed meanwhile (an accessor of the events): record events
            return False
        return reads.add(data, now_ns) < self.chunk_cap

    def take_reads(self) -> StreamReads | None:
        """Stop keeping reads: those kept so far (the caller frames and records them)."""
        reads, self._reads = self._reads, None
        return reads

    def reads_closed(self, now_ns: int) -> None:
        """The stream kept as reads ended at ``now_ns`` (its last bytes make an event)."""
        self._reads_closed_ns = now_ns

    def _framed(self) -> None:
        """Frame the reads kept so far into recorded events now (an accessor of the events
        was called on the loop: the chunk count of a failure message, tests)."""
        reads = self.take_reads()
        if reads is None:
            return
        framed = frame_reads(
            reads.framing,
            reads.data,
            reads.ns,
            native=self.native_stream,
            closed_ns=self._reads_closed_ns,
        )
        if framed.unterminated:
            self.warnings.append(UNTERMINATED)
        self._data, self._times, self._events = framed.data, framed.ns, framed.events
        self._received = len(framed.data)

    def _keep(self, data: bytes, event: str | None, now_ns: int) -> bool:
        """Keep one event's raw ``data`` and arrival time; ``False``: it is past the chunk
        cap (not kept: the caller hands it to :attr:`tail`)."""
        index = self._received
        self._received += 1
        if index >= self.chunk_cap:
            return False
        self._data.append(data)
        self._times.append(now_ns)
        if event is not None:
            self._events[index] = event
        return True

    @property
    def tail(self) -> StreamTail:
        """The merged events past the chunk cap (made at the first of them)."""
        tail = self._tail
        if tail is None:
            tail = self._tail = self._start_tail()
        return tail

    def _start_tail(self) -> StreamTail:
        if self.converter is not None:
            return StreamTail("converted", self.chunk_cap)
        if not self.native_stream:
            return StreamTail("openai", self.chunk_cap)
        # Passthrough: the builder's view of the provider's events needs the converter's state
        # from the stored ones (read once, here; see docs/performance.md).
        adapter = self.adapter if self.route == "passthrough" else None
        converter = None
        if adapter is not None and self.status_code < 400:
            converter = adapter.stream_converter(
                model=self.model, created=self._created, include_usage=False
            )
        stored = [(data, self._events.get(i)) for i, data in enumerate(self._data)]
        return StreamTail("native", self.chunk_cap, converter=converter, stored=stored)

    def add_event(self, event: SSEEvent, now_ns: int, *, withhold_usage_chunk: bool) -> bool:
        """Record one SSE event that arrived at ``now_ns`` (its raw bytes: decoded when the
        trace is built).

        Returns ``True`` when the event is the usage-only chunk (``"choices": []`` with
        ``usage``) and ``withhold_usage_chunk`` is set: the caller must not forward it. Only
        an event whose bytes hold an empty ``"choices"`` list is decoded to check (OpenAI
        sends ``"usage": null`` in every chunk of such a stream). Events without data
        (comments, keep-alives) are not chunks and are never withheld.
        """
        data = event.data
        if data is None:
            return False
        index = self._received
        if not self._keep(data, event.event, now_ns):
            payload = self.tail.add(data, event.event, now_ns)
            if withhold_usage_chunk and _usage_only(payload):
                self._withheld.append(index)
                return True
            return False
        if withhold_usage_chunk and _EMPTY_CHOICES.search(data) is not None:
            try:
                payload = _json_decode(data)
            except (msgspec.DecodeError, RecursionError):
                return False
            if _usage_only(payload):
                self._withheld.append(index)
                return True
        return False

    def add_native_event(self, event: SSEEvent, now_ns: int) -> list[dict[str, Any]]:
        """Record one provider-format event (SSE event or NDJSON line) that arrived at
        ``now_ns``; on the converted route (a converter is set) decode it and return the
        OpenAI ``chat.completion.chunk`` objects it converts to (else, and for events that
        carry nothing, like ``ping``, an empty list: the passthrough route's OpenAI view is
        made when the trace is built)."""
        data = event.data
        if data is None or not data.strip():
            return []
        converter = self.converter
        if not self._keep(data, event.event, now_ns):
            payload = self.tail.add(data, event.event, now_ns)
            if converter is None or converter.error is not None:
                return []
        elif converter is None or converter.error is not None:
            return []
        else:
            try:
                payload = _json_decode(data) if data != b"[DONE]" else None
            except (msgspec.DecodeError, RecursionError):
                payload = None
        if not isinstance(payload, dict):
            return []
        chunks = converter.feed(event.event, payload)
        self._add_converted(chunks)
        if self.first_content_ns is None and any(event_has_content(None, c) for c in chunks):
            self.first_content_ns = now_ns
        return chunks

    def _add_converted(self, chunks: list[dict[str, Any]]) -> None:
        """Keep what a converter produced (chat chunks or Responses events), as sent; past
        the chunk cap, merge it into the tail instead."""
        if self._tail is not None:
            self._tail.merge(chunks)
        else:
            self._converted.extend(chunks)

    @property
    def chunks_converted(self) -> int:
        """Converted route: OpenAI chunks sent to the client (``[DONE]`` not counted)."""
        return len(self._converted) + (self._tail.converted if self._tail is not None else 0)

    def close_native_stream(self) -> list[dict[str, Any]]:
        """The provider's stream ended: the converter's last chunks (the usage chunk)."""
        if self.converter is None or self.converter.error is not None:
            return []
        chunks = self.converter.close()
        self._add_converted(chunks)
        return chunks

    @property
    def chunks_received(self) -> int:
        """Stream events with data received so far (chunks)."""
        self._framed()
        return self._received

    @property
    def chunks_withheld(self) -> int:
        """Chunks not forwarded (the usage-only chunk the proxy asked for)."""
        return len(self._withheld)

    @property
    def chunks_stored(self) -> int:
        """Chunks the trace will store (at most ``chunk_cap``)."""
        self._framed()
        return len(self._data)

    def stored_chunk(self, index: int) -> StreamChunk:
        """Stored chunk ``index`` as the trace will have it (decoded now: for the ``chunk``
        hook, when an addon listens)."""
        self._framed()
        previous = self._times[index - 1] if index else self.sent_ns
        chunk = stored_chunk(
            index,
            self._data[index],
            self._events.get(index),
            self._times[index],
            previous,
            self.sent_ns,
        )
        if index in self._withheld:
            chunk.forwarded = False
        return chunk

    @property
    def chunks(self) -> list[StreamChunk]:
        """The stored chunks so far, decoded (tests and tools; the hot path keeps bytes)."""
        return [self.stored_chunk(i) for i in range(self.chunks_stored)]

    # -- hand-over -------------------------------------------------------------------------

    def record(self) -> ExchangeRecord:
        """The :class:`ExchangeRecord` the trace is built from (shares this exchange's
        lists: call it once the call is over)."""
        failure = self._failure
        grouping = self.grouping
        converter = self.converter
        error = converter.error if converter is not None else None
        usage = converter.usage.as_openai() if converter is not None else None
        passthrough_adapter = self.adapter if self.route == "passthrough" else None
        reads = self._reads
        return ExchangeRecord(
            trace_id=self.trace_id,
            timestamp=self.timestamp,
            method=self.method,
            endpoint=self.endpoint,
            provider=self.provider,
            model=self.model,
            request_body=self.request_body,
            upstream_url=self.upstream_url,
            request_headers=self.request_headers,
            response_headers=self.response_headers,
            redacted_fields=self.redacted_fields,
            warnings=self.warnings,
            status_code=self.status_code,
            response_body=self.response_body,
            response_truncated=self.response_truncated,
            streaming=self.streaming,
            started_ns=self.started_ns,
            sent_ns=self.sent_ns,
            ended_ns=self.ended_ns,
            created=self._created,
            failure=None if failure is None else FailureRecord(*failure),
            route=self.route,
            adapter=None if passthrough_adapter is None else pickle.dumps(passthrough_adapter),
            native_endpoint=self.native_endpoint,
            native_request=self.native_request,
            converted_response=self.converted_response,
            native_stream=self.native_stream,
            chunk_cap=self.chunk_cap,
            chunk_data=self._data,
            chunk_ns=self._times.tobytes(),
            chunk_events=self._events,
            withheld=self._withheld,
            converted_chunks=self._converted,
            converter_error=None if error is None else (error.status, error.body),
            converter_usage=usage,
            first_content_ns=self.first_content_ns,
            session_id=grouping.session_id if grouping is not None else None,
            tags=list(grouping.tags) if grouping is not None else [],
            meta=dict(grouping.meta) if grouping is not None else {},
            span=grouping.span if grouping is not None else None,
            tail=self._tail.record() if self._tail is not None else None,
            stream_reads=None if reads is None else reads.data,
            stream_read_ns=b"" if reads is None else reads.ns.tobytes(),
            stream_framing=None if reads is None else reads.framing,
            stream_closed_ns=self._reads_closed_ns,
        )

    def to_trace(self) -> Trace:
        """Build the :class:`Trace` of this exchange (:func:`~traceforge_proxy.trace_build.
        build_trace` of :meth:`record`). Reads no clock and changes nothing."""
        return build_trace(self.record())


def _usage_only(payload: Any) -> bool:
    """Whether a decoded event is the usage-only chunk (``"choices": []`` with ``usage``)."""
    return (
        isinstance(payload, dict)
        and payload.get("choices") == []
        and payload.get("usage") is not None
    )

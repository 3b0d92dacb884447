"""Building the :class:`~traceforge_shared.trace.Trace` of a finished call from its
:class:`~traceforge_proxy.exchange_record.ExchangeRecord`: the one code path of both writer
modes (the writer thread, or the writer process after the record crossed the pipe).

The stream's events arrive here as the upstream's raw ``data`` bytes with their arrival
times: each is decoded once (msgspec), stored as a :class:`~traceforge_shared.trace.
StreamChunk` up to the chunk cap, and merged into the rebuilt answer: a ``chat.completion``
(OpenAI Chat Completions streaming, https://platform.openai.com/docs/api-reference/chat-
streaming), a Responses API ``response`` (https://platform.openai.com/docs/api-reference/
responses-streaming), or, for a provider's own stream on the passthrough route, the OpenAI
view its adapter's stream converter makes. Events past the chunk cap were merged on the
event loop (:mod:`~traceforge_proxy.stream_tail`): the record's ``tail`` holds them as a few
equivalent events, merged after the stored ones. Reads no clock.
"""

from __future__ import annotations

import array
import logging
import pickle
from typing import Any

import msgspec

from traceforge_proxy.answer_merge import AnswerMerge, decode_chunk
from traceforge_proxy.bodies import depth_warning, json_view
from traceforge_proxy.exchange_record import ExchangeRecord, TailRecord
from traceforge_proxy.providers import ProviderAdapter, StreamConverter
from traceforge_proxy.responses_accumulate import ResponsesAccumulator
from traceforge_proxy.stream_reads import UNTERMINATED, frame_reads
from traceforge_shared.token_estimate import estimate_usage
from traceforge_shared.trace import (
    NativeCall,
    StreamChunk,
    Trace,
    TraceError,
    TraceMetadata,
    Usage,
)
from traceforge_shared.usage import usage_from_openai, usage_from_responses

__all__ = ["build_trace", "decode_chunk", "decode_json", "stored_chunk", "usage_from"]

log = logging.getLogger("traceforge.proxy")

#: ``object`` values of answers whose usage is estimated when the provider reported none.
_ESTIMATED_OBJECTS = frozenset({"chat.completion", "response"})


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


def decode_json(body: bytes) -> Any:
    """Decode JSON bytes; return the text (or ``None`` if empty) when they are not JSON.
    Containers nested deeper than :data:`~traceforge_proxy.bodies.MAX_DEPTH` are
    placeholders (:func:`~traceforge_proxy.bodies.json_view`)."""
    return _decode_view(body)[0]


def _decode_view(body: bytes | None) -> tuple[Any, bool]:
    """:func:`decode_json`, and whether the JSON was cut at the depth limit."""
    if not body:
        return None, False
    try:
        return json_view(body)
    except msgspec.DecodeError:
        return body.decode("utf-8", "replace"), False


def usage_from(obj: Any) -> Usage | None:
    """Read an OpenAI ``usage`` object (Chat Completions, with its ``*_details`` and the
    OpenAI-compatible hosts' variants, or the Responses API's) into :class:`Usage`; see
    :func:`traceforge_shared.usage.usage_from_openai`. Every answer the proxy records is in
    OpenAI's shape by then (the adapters convert the others' usage into it)."""
    return usage_from_openai(obj)


def stored_chunk(
    index: int, data: bytes, event: str | None, at_ns: int, previous_ns: int, sent_ns: int
) -> StreamChunk:
    """The :class:`StreamChunk` of event ``index`` (``data`` bytes, ``event`` name) that
    arrived at ``at_ns``, the one before it at ``previous_ns``, the request sent at
    ``sent_ns`` (nanoseconds; the chunk's times are in ms)."""
    payload, raw, _ = decode_chunk(data)
    return StreamChunk(
        index=index,
        delta_ms=_ms(at_ns - previous_ns),
        offset_ms=_ms(at_ns - sent_ns),
        data=payload,
        raw=raw,
        event=event,
        forwarded=True,
    )


def build_trace(record: ExchangeRecord) -> Trace:
    """Build the :class:`Trace` of a finished call. Reads no clock and changes nothing:
    every time it needs is in the record.

    Never loses the call: if the answer cannot be rebuilt (a stream no reader expects),
    the trace keeps the request, the chunks and the status, without a response, and says
    why in ``metadata.warnings``. Bodies nested deeper than
    :data:`~traceforge_proxy.bodies.MAX_DEPTH` are recorded cut there, with a warning.
    """
    if record.stream_reads is not None:
        record = _framed(record)
    try:
        return _Builder(record).build([])
    except Exception as exc:
        log.exception("trace %s: the answer could not be rebuilt", record.trace_id)
        return _Builder(record).build(
            [f"the answer could not be rebuilt for the trace: {exc!r}"], bare=True
        )


def _framed(record: ExchangeRecord) -> ExchangeRecord:
    """``record`` with its stream's reads framed into events (what the raw relay kept)."""
    times = array.array("q")
    times.frombytes(record.stream_read_ns)
    framed = frame_reads(
        record.stream_framing or "sse",
        record.stream_reads or [],
        times,
        native=record.native_stream,
        closed_ns=record.stream_closed_ns,
    )
    warnings = record.warnings
    if framed.unterminated and UNTERMINATED not in warnings:
        warnings = [*warnings, UNTERMINATED]
    return msgspec.structs.replace(
        record,
        chunk_data=framed.data,
        chunk_ns=framed.ns.tobytes(),
        chunk_events=framed.events,
        warnings=warnings,
        stream_reads=None,
        stream_read_ns=b"",
    )


class _Builder(AnswerMerge[ResponsesAccumulator]):
    """Replays one record's stream into the accumulators, then assembles the trace."""

    def __init__(self, record: ExchangeRecord) -> None:
        super().__init__(ResponsesAccumulator(), record.first_content_ns)
        self.r = record
        self.notes: list[str] = []
        self.chunks: list[StreamChunk] = []
        self.adapter: ProviderAdapter | None = (
            pickle.loads(record.adapter) if record.adapter is not None else None
        )
        #: passthrough streams: the OpenAI view of the provider's events.
        self.converter: StreamConverter | None = None

    # -- the stream ------------------------------------------------------------------------

    def _note(self, message: str) -> None:
        if message not in self.notes and message not in self.r.warnings:
            self.notes.append(message)

    def _replay(self, bare: bool) -> None:
        r = self.r
        if (
            not bare
            and r.native_stream
            and r.route == "passthrough"
            and self.adapter is not None
            and r.status_code < 400
        ):
            self.converter = self.adapter.stream_converter(
                model=r.model, created=r.created, include_usage=False
            )
        times = array.array("q")
        times.frombytes(r.chunk_ns)
        withheld = set(r.withheld)
        events = r.chunk_events
        previous = r.sent_ns
        merge = r.route != "converted" and not bare
        for index, data in enumerate(r.chunk_data):
            at = times[index]
            event = events.get(index)
            payload, raw = self.decode(data, index)
            if merge and isinstance(payload, dict):
                if r.native_stream:
                    self.merge_native(self.converter, event, payload, at)
                else:
                    self.merge_openai(event, payload, index, at)
            if index < r.chunk_cap:
                self.chunks.append(
                    StreamChunk(
                        index=index,
                        delta_ms=_ms(at - previous),
                        offset_ms=_ms(at - r.sent_ns),
                        data=payload,
                        raw=raw,
                        event=event,
                        forwarded=index not in withheld,
                    )
                )
            previous = at
        if not bare:
            self.merge_converted(r.converted_chunks)
        tail = r.tail
        if tail is not None:
            self._merge_tail(tail, bare)

    def _merge_tail(self, tail: TailRecord, bare: bool) -> None:
        """Merge the events past the chunk cap (already merged on the loop into a few
        equivalent OpenAI events), after the stored ones."""
        for note in tail.notes:
            self._note(note)
        self.malformed += tail.malformed
        if bare:
            return
        self.merge_converted(tail.merged)
        if self.stream_error is None and isinstance(tail.stream_error, dict):
            self.stream_error = tail.stream_error
        if self.first_content_ns is None:
            self.first_content_ns = tail.first_content_ns

    # -- the trace -------------------------------------------------------------------------

    def _converter_error(self) -> tuple[int, Any] | None:
        if self.r.converter_error is not None:
            return self.r.converter_error
        tail = self.r.tail
        if self.converter is not None and tail is not None and tail.native:
            return tail.native_error  # the loop's converter read the whole stream
        error = self.converter.error if self.converter is not None else None
        return None if error is None else (error.status, error.body)

    def _counted_usage(self) -> Any:
        if self.converter is None:
            return self.r.converter_usage
        tail = self.r.tail
        if tail is not None and tail.native:
            return tail.native_usage  # the loop's converter read the whole stream
        return self.converter.usage.as_openai()

    def build(self, notes: list[str], *, bare: bool = False) -> Trace:
        """The trace; ``bare``: without the response (the fallback of :func:`build_trace`)."""
        r = self.r
        self._replay(bare)
        notes[:0] = self.notes
        notes.extend(self.chat.warnings)
        request, cut = _decode_view(r.request_body)
        if cut:
            notes.append(depth_warning("the request"))
        native: NativeCall | None = None
        body: Any = None
        if r.response_truncated is not None:
            notes.append(
                "the answer was relayed whole, but it decodes to more than "
                f"{r.response_truncated} bytes: not recorded (too large to record)"
            )
        elif r.response_body:
            body, cut = _decode_view(r.response_body)
            if cut:
                notes.append(depth_warning("the answer"))
        responses_stream = r.streaming and self.responses.events and not self.chat.chunks
        response: Any
        usage: Usage | None
        if bare:
            response, usage = None, None
        elif responses_stream:
            response = self.responses.result()
            usage = (
                usage_from_responses(response.get("usage")) if isinstance(response, dict) else None
            )
        elif r.streaming:
            response = self.chat.result()
            usage = usage_from(self.chat.usage)
            if usage is None and isinstance(response, dict):
                usage = usage_from(response.get("usage"))
            has_converter = r.converter_usage is not None or self.converter is not None
            if usage is None and has_converter:
                # The client did not ask for the usage chunk; the converter counted anyway.
                counted = self._counted_usage()
                usage = usage_from(counted)
                if counted is not None and isinstance(response, dict):
                    response["usage"] = counted
        elif r.route == "openai":
            response = body
            usage = usage_from(response.get("usage")) if isinstance(response, dict) else None
        else:
            response = self._normalized_response(body, notes)
            usage = usage_from(response.get("usage")) if isinstance(response, dict) else None
        if r.route == "converted":
            native = NativeCall(
                endpoint=r.native_endpoint or "",
                request=r.native_request,
                response=None if r.streaming else body,
            )
        elif r.route == "passthrough":
            native = NativeCall(
                endpoint=r.native_endpoint or r.endpoint,
                request=request,
                response=None if r.streaming else body,
            )
            request = self._normalized_request(request, notes)
        answer = body if r.route == "passthrough" or bare else response
        status, error = self._outcome(answer, bool(responses_stream))
        if (
            usage is None
            and status == "success"
            and isinstance(response, dict)
            and response.get("object") in _ESTIMATED_OBJECTS
        ):
            # The provider reported no usage: a local estimate, flagged as such.
            usage = estimate_usage(request, response, r.model)
        response_model = response.get("model") if isinstance(response, dict) else None
        return Trace(
            id=r.trace_id,
            timestamp=r.timestamp,
            request=request,
            provider=r.provider,
            response=response,
            model=r.model,
            chunks=self.chunks,
            endpoint=r.endpoint,
            metadata=self._metadata(status, error, usage, notes),
            route=r.route,
            native=native,
            response_model=response_model if isinstance(response_model, str) else None,
            session_id=r.session_id,
            tags=list(r.tags),
            meta=dict(r.meta),
            span=msgspec.structs.replace(r.span) if r.span is not None else None,
        )

    def _outcome(self, answer: Any, responses_stream: bool) -> tuple[str, TraceError | None]:
        """The trace's status and error, decided here only: a recorded failure (the proxy's
        own error, a broken upstream, a client that hung up); else the provider's error in a
        converted stream; else an HTTP error status, read from the ``answer`` body; else
        success."""
        r = self.r
        if r.failure is not None:
            return r.failure.status, TraceError(type=r.failure.type, message=r.failure.message)
        converter_error = self._converter_error()
        if converter_error is not None:
            return "error", _error_from_body(converter_error[1], converter_error[0])
        if r.status_code >= 400:
            return "error", _error_from_body(answer, r.status_code)
        if self.stream_error is not None:
            return "error", _stream_error(self.stream_error)
        if responses_stream:
            return self._responses_outcome(answer)
        return "success", None

    def _responses_outcome(self, response: Any) -> tuple[str, TraceError | None]:
        """A Responses API stream: ``success`` only when it ended in ``response.completed``;
        ``incomplete`` for ``response.incomplete`` or a stream cut off before its terminal
        event; ``error`` for ``response.failed`` or an ``error`` event."""
        responses = self.responses
        failed = response.get("error") if isinstance(response, dict) else None
        if responses.final == "failed" or responses.error is not None:
            source = responses.error
            if source is None:
                source = {"error": failed if isinstance(failed, dict) else "response.failed"}
            return "error", _stream_error(source)
        if responses.final == "incomplete":
            details = response.get("incomplete_details") if isinstance(response, dict) else None
            reason = details.get("reason") if isinstance(details, dict) else None
            return "incomplete", TraceError(
                type=str(reason or "incomplete"),
                message=f"the response is incomplete: {reason or 'no reason given'}",
            )
        if responses.final is None:
            return "incomplete", TraceError(
                type="stream_incomplete",
                message="the Responses stream ended without response.completed",
            )
        return "success", None

    def _metadata(
        self, status: str, error: TraceError | None, usage: Usage | None, notes: list[str]
    ) -> TraceMetadata:
        r = self.r
        warnings = [*r.warnings, *notes]
        tail = r.tail
        received = len(r.chunk_data) + (tail.received if tail is not None else 0)
        if self.malformed > 1:
            warnings.append(f"{self.malformed} chunks in all had SSE data that is not JSON")
        if received > r.chunk_cap:
            warnings.append(
                f"chunk cap reached: {received} chunks received, the first "
                f"{r.chunk_cap} stored (proxy.chunk_cap)"
            )
        times = array.array("q")
        times.frombytes(r.chunk_ns)
        first = times[0] if times else None
        last = times[-1] if times else None
        if tail is not None and tail.received:
            last = tail.last_ns
        ended = r.ended_ns
        if ended is None:  # never ended (a record built by hand): its last known moment
            ended = last if last is not None else r.sent_ns
        first_content = self.first_content_ns
        return TraceMetadata(
            status=status,
            status_code=r.status_code,
            method=r.method,
            latency_ms=_ms(ended - r.started_ns),
            streaming=r.streaming,
            first_chunk_latency_ms=_ms(first - r.sent_ns) if first is not None else None,
            first_content_latency_ms=_ms(first_content - r.sent_ns)
            if first_content is not None
            else None,
            stream_duration_ms=_ms(last - first)
            if first is not None and last is not None
            else (0.0 if r.streaming else None),
            total_chunks=len(r.converted_chunks) + (tail.converted if tail is not None else 0)
            if r.route == "converted"
            else received - len(r.withheld),
            chunks_received=received,
            chunks_buffered=len(self.chunks),
            warnings=warnings,
            usage=usage,
            error=error,
            redacted_fields=list(r.redacted_fields),
            upstream_url=r.upstream_url,
            request_headers=r.request_headers,
            response_headers=r.response_headers,
        )

    def _normalized_request(self, native: Any, notes: list[str]) -> Any:
        """Passthrough: the OpenAI view of the native request (the native one if none)."""
        r = self.r
        if self.adapter is None or not isinstance(native, dict) or r.native_endpoint is None:
            return native
        try:
            view = self.adapter.normalize_request(native)
        except Exception as exc:  # a view for reading only: never lose the trace over it
            notes.append(f"could not normalize the request: {exc}")
            return native
        if r.model and "model" not in view:
            view = {"model": r.model, **view}
        return view

    def _normalized_response(self, body: Any, notes: list[str]) -> Any:
        """Converted and passthrough routes, non-streaming: the OpenAI view of the answer."""
        r = self.r
        if r.route == "converted":
            return r.converted_response if r.converted_response is not None else body
        if (
            self.adapter is None
            or r.native_endpoint is None
            or r.status_code >= 400
            or not isinstance(body, dict)
        ):
            return body
        try:
            return self.adapter.convert_response(body, model=r.model, created=r.created)
        except Exception as exc:  # a view for reading only: never lose the trace over it
            notes.append(f"could not normalize the response: {exc}")
            return body


def _stream_error(payload: dict[str, Any]) -> TraceError:
    """The error object an upstream sent inside a 2xx stream: ``{"error": {...}}`` (OpenAI
    style, Groq), ``{"error": "text"}``, or a Responses ``error`` event (``code``/``message``
    at its top level)."""
    err = payload.get("error")
    if not isinstance(err, dict):
        err = payload if isinstance(err, str | None) and "message" in payload else {"message": err}
    kind = err.get("code") or err.get("type")
    if kind == "error" or not isinstance(kind, str | int) or isinstance(kind, bool):
        kind = "stream_error"
    message = err.get("message")
    return TraceError(type=str(kind), message=str(message if message is not None else err)[:500])


def _error_from_body(body: Any, status_code: int) -> TraceError:
    """Read an error object from an upstream error body (OpenAI, Anthropic, Gemini, Ollama
    or Cohere shape, or any JSON/text)."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        kind = err.get("code") or err.get("type") or err.get("status") or f"http_{status_code}"
        if isinstance(kind, int):
            kind = err.get("status") or f"http_{status_code}"
        return TraceError(type=str(kind), message=str(err.get("message", "")))
    if isinstance(body, dict) and isinstance(body.get("error") or body.get("message"), str):
        return TraceError(
            type=f"http_{status_code}", message=str(body.get("error") or body["message"])
        )
    text = body if isinstance(body, str) else msgspec.json.encode(body).decode() if body else ""
    return TraceError(type=f"http_{status_code}", message=text[:500])

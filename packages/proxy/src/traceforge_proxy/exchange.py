"""The record of one proxied call while it is in flight, and its conversion into a Trace.

The proxy handler feeds an :class:`Exchange` events as the call progresses (the plan, the
response headers, each SSE event with its arrival time, the end or the failure);
:meth:`Exchange.to_trace` is called off the event loop, by the trace writer, once the call is
over.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from traceforge_proxy.accumulate import ChatCompletionAccumulator
from traceforge_proxy.bodies import MAX_DEPTH, depth_warning, json_view, limit_depth
from traceforge_proxy.content import event_has_content
from traceforge_proxy.errors import error_body
from traceforge_proxy.grouping import Grouping
from traceforge_proxy.headers import redact_headers
from traceforge_proxy.plan import Failure, ForwardingPlan, ProxyAnswer, Target
from traceforge_proxy.providers import ProviderAdapter, StreamConverter
from traceforge_proxy.responses_accumulate import ResponsesAccumulator
from traceforge_proxy.sse import SSEEvent
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

log = logging.getLogger("traceforge.proxy")

_json_decode = msgspec.json.decode


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


#: ``object`` values of answers whose usage is estimated when the provider reported none.
_ESTIMATED_OBJECTS = frozenset({"chat.completion", "response"})


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
        self.first_chunk_ns: int | None = None
        #: when the first event carrying content (text, reasoning, tool call) arrived.
        self.first_content_ns: int | None = None
        self.last_chunk_ns: int | None = None
        self.chunks: list[StreamChunk] = []
        self.chunks_received = 0
        self.chunks_withheld = 0
        self._headers_ns: int | None = None
        self._created = 0
        self._failure: Failure | None = None
        self._malformed = 0
        self._accumulator = ChatCompletionAccumulator()
        self._responses = ResponsesAccumulator()
        #: an error object the upstream sent inside a 2xx stream (Groq style).
        self._stream_error: dict[str, Any] | None = None
        #: the whole answer was too large to decode for the trace (bytes kept, or ``None``).
        self.response_truncated: int | None = None
        self._cut: list[str] = []
        # Routes other than plain OpenAI (see traceforge_shared.trace.ROUTES).
        self.route: str = "openai"
        self.adapter: ProviderAdapter | None = None
        self.native_endpoint: str | None = None
        #: converted route: the body sent to the provider.
        self.native_request: Any = None
        #: converted route, non-streaming: the OpenAI answer the client got.
        self.converted_response: Any = None
        #: converts native stream events into OpenAI chunks (converted and passthrough routes).
        self.converter: StreamConverter | None = None
        #: converted route: OpenAI chunks sent to the client (``[DONE]`` not counted).
        self.chunks_converted = 0
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

    def stream_started(self, converter: StreamConverter | None) -> None:
        """The answer is relayed as a stream; ``converter`` turns its native events into
        OpenAI chunks (converted route, passthrough chat calls)."""
        self.streaming = True
        self.converter = converter

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

    def add_event(self, event: SSEEvent, now_ns: int, *, withhold_usage_chunk: bool) -> bool:
        """Record one SSE event that arrived at ``now_ns``.

        Returns ``True`` when the event is the usage-only chunk (``"choices": []`` with
        ``usage``) and ``withhold_usage_chunk`` is set: the caller must not forward it.
        Events without data (comments, keep-alives) are not chunks and are never withheld.
        """
        data = event.data
        if data is None:
            return False
        index = self.chunks_received
        payload, raw = self._decode(data, index)
        withheld = False
        if isinstance(payload, dict):
            self._merge(event.event, payload, index)
            if self.first_content_ns is None and event_has_content(event.event, payload):
                self.first_content_ns = now_ns
            if (
                withhold_usage_chunk
                and payload.get("choices") == []
                and payload.get("usage") is not None
            ):
                withheld = True
                self.chunks_withheld += 1
        self._record(event.event, payload, raw, now_ns, forwarded=not withheld)
        return withheld

    def _merge(self, event: str | None, payload: dict[str, Any], index: int) -> None:
        """Merge one decoded OpenAI event into the answer being rebuilt (chat chunk or
        Responses event); a chunk that cannot be merged is noted, never raised."""
        try:
            kind = ResponsesAccumulator.kind(event, payload)
            if kind is not None:
                self._responses.add(kind, payload)
            else:
                error = payload.get("error")
                if error and self._stream_error is None:
                    self._stream_error = payload
                self._accumulator.add(payload)
        except Exception as exc:  # a malformed chunk must not break the relay
            self._note(f"chunk {index}: could not be merged into the answer: {exc!r}")

    def _note(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def add_native_event(self, event: SSEEvent, now_ns: int) -> list[dict[str, Any]]:
        """Record one provider-format event (SSE event or NDJSON line) that arrived at
        ``now_ns`` and return the OpenAI ``chat.completion.chunk`` objects it converts to
        (empty without a converter, or for events that carry nothing, like ``ping``)."""
        data = event.data
        if data is None or not data.strip():
            return []
        payload, raw = self._decode(data, self.chunks_received)
        self._record(event.event, payload, raw, now_ns, forwarded=True)
        if self.converter is None or payload is None or self.converter.error is not None:
            return []
        chunks = self.converter.feed(event.event, payload)
        self._add_converted(chunks)
        if self.first_content_ns is None and any(event_has_content(None, c) for c in chunks):
            self.first_content_ns = now_ns
        return chunks

    def _add_converted(self, chunks: list[dict[str, Any]]) -> None:
        """Merge what a converter produced: chat chunks, or Responses events (a Responses
        call converted for another provider) into the Responses rebuild."""
        for chunk in chunks:
            kind = ResponsesAccumulator.kind(None, chunk)
            if kind is not None:
                self._responses.add(kind, chunk)
            else:
                self._accumulator.add(chunk)
        self.chunks_converted += len(chunks)

    def close_native_stream(self) -> list[dict[str, Any]]:
        """The provider's stream ended: the converter's last chunks (the usage chunk)."""
        if self.converter is None or self.converter.error is not None:
            return []
        chunks = self.converter.close()
        self._add_converted(chunks)
        return chunks

    def _decode(self, data: bytes, index: int) -> tuple[Any, str | None]:
        if data == b"[DONE]":
            return None, "[DONE]"
        try:
            payload, cut = json_view(data)
            if cut:
                self._note(depth_warning(f"chunk {index}"))
            return payload, None
        except msgspec.DecodeError:
            raw = data.decode("utf-8", "replace")
            self._malformed += 1
            if self._malformed == 1:
                self.warnings.append(
                    f"chunk {index}: stream data is not JSON (forwarded as is): {raw[:120]!r}"
                )
            return None, raw

    def _record(
        self, event: str | None, payload: Any, raw: str | None, now_ns: int, *, forwarded: bool
    ) -> None:
        index = self.chunks_received
        self.chunks_received += 1
        previous = self.last_chunk_ns if self.last_chunk_ns is not None else self.sent_ns
        if self.first_chunk_ns is None:
            self.first_chunk_ns = now_ns
        self.last_chunk_ns = now_ns
        if index < self.chunk_cap:
            self.chunks.append(
                StreamChunk(
                    index=index,
                    delta_ms=_ms(now_ns - previous),
                    offset_ms=_ms(now_ns - self.sent_ns),
                    data=payload,
                    raw=raw,
                    event=event,
                    forwarded=forwarded,
                )
            )

    # -- conversion, called off the event loop ----------------------------------------------

    def to_trace(self) -> Trace:
        """Build the :class:`Trace` of this exchange. Reads no clock and changes nothing:
        every time it needs was recorded by the events.

        Never loses the call: if the answer cannot be rebuilt (a stream no reader expects),
        the trace keeps the request, the chunks and the status, without a response, and
        says why in ``metadata.warnings``. Bodies nested deeper than
        :data:`~traceforge_proxy.bodies.MAX_DEPTH` are recorded cut there, with a warning.
        """
        try:
            return self._build([])
        except Exception as exc:
            log.exception("trace %s: the answer could not be rebuilt", self.trace_id)
            return self._build(
                [f"the answer could not be rebuilt for the trace: {exc!r}"], bare=True
            )

    def _request_view(self, notes: list[str]) -> Any:
        """The request as recorded: its JSON cut at the depth limit (or its text)."""
        if self.request_json is None:
            request, cut = _decode_view(self.request_body)
        elif self.request_cut:
            request, cut = self.request_json, True
        elif self.request_body.count(b"{") + self.request_body.count(b"[") > MAX_DEPTH:
            request, cut = limit_depth(self.request_json)
        else:
            request, cut = self.request_json, False
        if cut:
            notes.append(depth_warning("the request"))
        return request

    def _build(self, notes: list[str], *, bare: bool = False) -> Trace:
        """The trace; ``bare``: without the response (the fallback of :meth:`to_trace`)."""
        notes.extend(self._accumulator.warnings)
        request: Any = self._request_view(notes)
        native: NativeCall | None = None
        body: Any = None
        if self.response_truncated is not None:
            notes.append(
                "the answer was relayed whole, but it decodes to more than "
                f"{self.response_truncated} bytes: not recorded (too large to record)"
            )
        elif self.response_body:
            body, cut = _decode_view(self.response_body)
            if cut:
                notes.append(depth_warning("the answer"))
        response: Any
        usage: Usage | None
        if bare:
            response, usage = None, None
        elif self.streaming and self._responses.events and not self._accumulator.chunks:
            response = self._responses.result()
            usage = (
                usage_from_responses(response.get("usage")) if isinstance(response, dict) else None
            )
        elif self.streaming:
            response = self._accumulator.result()
            usage = usage_from(self._accumulator.usage)
            if usage is None and isinstance(response, dict):
                usage = usage_from(response.get("usage"))
            if usage is None and self.converter is not None:
                # The client did not ask for the usage chunk; the converter counted anyway.
                counted = self.converter.usage.as_openai()
                usage = usage_from(counted)
                if counted is not None and isinstance(response, dict):
                    response["usage"] = counted
        elif self.route == "openai" or bare:
            response = body
            usage = usage_from(response.get("usage")) if isinstance(response, dict) else None
        else:
            response = self._normalized_response(body, notes)
            usage = usage_from(response.get("usage")) if isinstance(response, dict) else None
        if self.route == "converted":
            native = NativeCall(
                endpoint=self.native_endpoint or "",
                request=self.native_request,
                response=None if self.streaming else body,
            )
        elif self.route == "passthrough":
            native = NativeCall(
                endpoint=self.native_endpoint or self.endpoint,
                request=request,
                response=None if self.streaming else body,
            )
            request = self._normalized_request(request, notes)
        status, error = self._outcome(body if self.route == "passthrough" or bare else response)
        if (
            usage is None
            and status == "success"
            and isinstance(response, dict)
            and response.get("object") in _ESTIMATED_OBJECTS
        ):
            # The provider reported no usage: a local estimate, flagged as such.
            usage = estimate_usage(request, response, self.model)
        response_model = response.get("model") if isinstance(response, dict) else None
        grouping = self.grouping
        return Trace(
            id=self.trace_id,
            timestamp=self.timestamp,
            request=request,
            provider=self.provider,
            response=response,
            model=self.model,
            chunks=self.chunks,
            endpoint=self.endpoint,
            metadata=self._metadata(status, error, usage, notes),
            route=self.route,
            native=native,
            response_model=response_model if isinstance(response_model, str) else None,
            session_id=grouping.session_id if grouping is not None else None,
            tags=list(grouping.tags) if grouping is not None else [],
            meta=dict(grouping.meta) if grouping is not None else {},
            span=msgspec.structs.replace(grouping.span) if grouping is not None else None,
        )

    def _outcome(self, answer: Any) -> tuple[str, TraceError | None]:
        """The trace's status and error, decided here only: a recorded failure (the proxy's
        own error, a broken upstream, a client that hung up); else the provider's error in a
        converted stream; else an HTTP error status, read from the ``answer`` body; else
        success."""
        if self._failure is not None:
            failure = self._failure
            return failure.status, TraceError(type=failure.type, message=failure.message)
        converter_error = self.converter.error if self.converter is not None else None
        if converter_error is not None:
            return "error", _error_from_body(converter_error.body, converter_error.status)
        if self.status_code >= 400:
            return "error", _error_from_body(answer, self.status_code)
        if self._stream_error is not None:
            return "error", _stream_error(self._stream_error)
        if self.streaming and self._responses.events and not self._accumulator.chunks:
            return self._responses_outcome(answer)
        return "success", None

    def _responses_outcome(self, response: Any) -> tuple[str, TraceError | None]:
        """A Responses API stream: ``success`` only when it ended in ``response.completed``;
        ``incomplete`` for ``response.incomplete`` or a stream cut off before its terminal
        event; ``error`` for ``response.failed`` or an ``error`` event."""
        responses = self._responses
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
        warnings = [*self.warnings, *notes]
        if self._malformed > 1:
            warnings.append(f"{self._malformed} chunks in all had SSE data that is not JSON")
        if self.chunks_received > self.chunk_cap:
            warnings.append(
                f"chunk cap reached: {self.chunks_received} chunks received, the first "
                f"{self.chunk_cap} stored (proxy.chunk_cap)"
            )
        ended = self.ended_ns
        if ended is None:  # never ended (a trace built by hand): its last known moment
            ended = self.last_chunk_ns if self.last_chunk_ns is not None else self.sent_ns
        first, last = self.first_chunk_ns, self.last_chunk_ns
        return TraceMetadata(
            status=status,
            status_code=self.status_code,
            method=self.method,
            latency_ms=_ms(ended - self.started_ns),
            streaming=self.streaming,
            first_chunk_latency_ms=_ms(first - self.sent_ns) if first is not None else None,
            first_content_latency_ms=_ms(self.first_content_ns - self.sent_ns)
            if self.first_content_ns is not None
            else None,
            stream_duration_ms=_ms(last - first)
            if first is not None and last is not None
            else (0.0 if self.streaming else None),
            total_chunks=self.chunks_converted
            if self.route == "converted"
            else self.chunks_received - self.chunks_withheld,
            chunks_received=self.chunks_received,
            chunks_buffered=len(self.chunks),
            warnings=warnings,
            usage=usage,
            error=error,
            redacted_fields=list(self.redacted_fields),
            upstream_url=self.upstream_url,
            request_headers=self.request_headers,
            response_headers=self.response_headers,
        )

    def _normalized_request(self, native: Any, notes: list[str]) -> Any:
        """Passthrough: the OpenAI view of the native request (the native one if none)."""
        if self.adapter is None or not isinstance(native, dict) or self.native_endpoint is None:
            return native
        try:
            view = self.adapter.normalize_request(native)
        except Exception as exc:  # a view for reading only: never lose the trace over it
            notes.append(f"could not normalize the request: {exc}")
            return native
        if self.model and "model" not in view:
            view = {"model": self.model, **view}
        return view

    def _normalized_response(self, body: Any, notes: list[str]) -> Any:
        """Converted and passthrough routes, non-streaming: the OpenAI view of the answer."""
        if self.route == "converted":
            return self.converted_response if self.converted_response is not None else body
        if (
            self.adapter is None
            or self.native_endpoint is None
            or self.status_code >= 400
            or not isinstance(body, dict)
        ):
            return body
        try:
            return self.adapter.convert_response(body, model=self.model, created=self._created)
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

"""The finished record of one proxied call: what the trace is built from, and nothing else.

An :class:`~traceforge_proxy.exchange.Exchange` fills it on the event loop and hands it over
once the call is over (:meth:`~traceforge_proxy.exchange.Exchange.record`);
:func:`~traceforge_proxy.trace_build.build_trace` turns it into the
:class:`~traceforge_shared.trace.Trace`, in the writer thread (``storage.writer: thread``) or
in the writer process (``process``: the record crosses the pipe encoded once with msgspec
MessagePack, :func:`encode_record` / :func:`decode_record`). It holds raw bytes, not decoded
JSON: the stream's events are kept as the upstream sent them (their ``data`` bytes, their
arrival times packed as int64 nanoseconds), and decoded by the builder.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from traceforge_shared.trace import SpanContext

__all__ = ["ExchangeRecord", "FailureRecord", "TailRecord", "decode_record", "encode_record"]


class FailureRecord(msgspec.Struct, array_like=True):
    """Why the call failed (:class:`~traceforge_proxy.plan.Failure`): trace status, error
    type, message."""

    status: str
    type: str
    message: str


class TailRecord(msgspec.Struct, kw_only=True, array_like=True):
    """The stream past the chunk cap, merged on the event loop as it arrived
    (:class:`~traceforge_proxy.stream_tail.StreamTail`): no raw bytes, only what the rebuilt
    answer and the metadata need.

    Attributes:
        received: events with data past the cap (counted, not stored).
        last_ns: arrival time of the last of them (``perf_counter_ns``).
        merged: OpenAI-format events equivalent to the tail's, to merge after the stored
            chunks (and, on the converted route, after ``converted_chunks``): at most one
            ``chat.completion.chunk`` (:meth:`~traceforge_proxy.accumulate.
            ChatCompletionAccumulator.as_chunk`), then compact Responses events
            (:class:`~traceforge_proxy.responses_accumulate.ResponsesEventTail`).
        converted: converted route: OpenAI chunks (or Responses events) sent past the cap.
        notes: warnings for the trace (malformed or cut events, unmergeable chunks).
        malformed: events whose data was not JSON.
        first_content_ns: when the first event with content arrived, if it was past the cap.
        stream_error: the first chunk carrying an ``error`` (OpenAI-style in-band error).
        native: passthrough route: a stream converter read the provider's events on the loop
            (caught up with the stored ones at the cap); ``native_error`` and
            ``native_usage`` are its error ``(HTTP status, body)`` and usage (OpenAI shape).
    """

    received: int = 0
    last_ns: int = 0
    merged: list[Any] = []
    converted: int = 0
    notes: list[str] = []
    malformed: int = 0
    first_content_ns: int | None = None
    stream_error: Any = None
    native: bool = False
    native_error: tuple[int, Any] | None = None
    native_usage: Any = None


class ExchangeRecord(msgspec.Struct, kw_only=True, array_like=True):
    """Everything :func:`~traceforge_proxy.trace_build.build_trace` reads. Times are
    ``time.perf_counter_ns()`` values (nanoseconds); nothing here is a clock reading of the
    builder.

    Attributes:
        trace_id, timestamp, method, endpoint, provider, model: the call's identity
            (``timestamp`` ISO 8601 UTC).
        request_body: the client's request body as received (decoded by the builder).
        upstream_url: where it was sent (``None``: never sent).
        request_headers, response_headers: as sent and received, credentials redacted.
        redacted_fields: where those credentials were.
        warnings: what the call noted on the way (the builder adds its own after them).
        status_code: HTTP status the client got (0: none).
        response_body: the whole (non-stream) answer's decoded bytes, or ``None``.
        response_truncated: the answer was too large to record: its size in bytes.
        streaming: the answer was relayed as a stream.
        started_ns, sent_ns, ended_ns: request read, sent upstream, call over (``None``:
            never ended, a record built by hand).
        created: epoch seconds dating the OpenAI objects converted from the answer.
        failure: the proxy's own failure (upstream, client, planning), if any.
        route: ``openai``, ``converted`` or ``passthrough``.
        adapter: passthrough only: the provider's adapter, pickled (the builder rebuilds
            the OpenAI view of the native call with it).
        native_endpoint, native_request: converted and passthrough routes: the provider's
            endpoint; converted: the body sent to it.
        converted_response: converted route, whole answer: the OpenAI answer the client got.
        native_stream: the stream is in the provider's format (converted and passthrough
            routes): its events are read by the adapter's stream converter.
        chunk_cap: events whose chunk is stored at most (``proxy.chunk_cap``).
        chunk_data: the ``data`` bytes of the first ``chunk_cap`` events, in arrival order
            (events without data are not chunks); later events are in ``tail``.
        chunk_ns: their arrival times, packed native int64 (``array('q')`` bytes).
        chunk_events: ``event:`` names by chunk index (only the chunks that had one).
        withheld: indexes of chunks not forwarded (the usage-only chunk the proxy asked for).
        converted_chunks: converted route: the OpenAI chunks (or Responses events) the client
            got, in order.
        converter_error: converted route: the provider's error in the stream, as
            ``(HTTP status, body)``.
        converter_usage: converted route: the usage the converter counted (OpenAI shape).
        first_content_ns: converted route: when the first converted chunk with content was
            made (the other routes' is found by the builder).
        session_id, tags, meta, span: the grouping headers' run, session, tags and metadata.
        tail: the events past the chunk cap, merged (``None``: the stream stayed within it).
        stream_reads: the raw relay's stream as the upstream's reads (``None``: recorded as
            events in ``chunk_data``), framed by the builder
            (:func:`~traceforge_proxy.stream_reads.frame_reads`); ``stream_read_ns``: their
            arrival times (``array('q')`` bytes); ``stream_framing``: ``sse`` or
            ``ndjson``; ``stream_closed_ns``: when the stream ended (``None``: it broke off).
    """

    trace_id: str
    timestamp: str
    method: str
    endpoint: str
    provider: str
    model: str
    request_body: bytes
    upstream_url: str | None = None
    request_headers: dict[str, str] = {}
    response_headers: dict[str, str] = {}
    redacted_fields: list[str] = []
    warnings: list[str] = []
    status_code: int = 0
    response_body: bytes | None = None
    response_truncated: int | None = None
    streaming: bool = False
    started_ns: int = 0
    sent_ns: int = 0
    ended_ns: int | None = None
    created: int = 0
    failure: FailureRecord | None = None
    route: str = "openai"
    adapter: bytes | None = None
    native_endpoint: str | None = None
    native_request: Any = None
    converted_response: Any = None
    native_stream: bool = False
    chunk_cap: int = 10_000
    chunk_data: list[bytes] = []
    chunk_ns: bytes = b""
    chunk_events: dict[int, str] = {}
    withheld: list[int] = []
    converted_chunks: list[Any] = []
    converter_error: tuple[int, Any] | None = None
    converter_usage: Any = None
    first_content_ns: int | None = None
    session_id: str | None = None
    tags: list[str] = []
    meta: dict[str, str] = {}
    span: SpanContext | None = None
    tail: TailRecord | None = None
    stream_reads: list[bytes] | None = None
    stream_read_ns: bytes = b""
    stream_framing: Literal["sse", "ndjson"] | None = None
    stream_closed_ns: int | None = None


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ExchangeRecord)


def encode_record(record: ExchangeRecord) -> bytes:
    """``record`` as MessagePack bytes (https://msgpack.org/; what crosses the pipe)."""
    return _encoder.encode(record)


def decode_record(data: bytes | msgspec.Raw) -> ExchangeRecord:
    """The :class:`ExchangeRecord` encoded in ``data`` (bytes, or a message's field left
    encoded: :class:`~traceforge_proxy.writer_protocol.SubmitUndecoded`).

    Raises:
        msgspec.DecodeError: ``data`` is not an encoded record.
    """
    return _decoder.decode(data)

"""``POST /v1/traces``: OTLP/HTTP trace ingest, so OpenTelemetry exporters can send spans.

Point any standard exporter at the API (``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:3001``,
or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:3001/v1/traces``). The request is an
``ExportTraceServiceRequest`` (https://opentelemetry.io/docs/specs/otlp/#otlphttp-request):

- ``Content-Type: application/x-protobuf`` (binary protobuf) or ``application/json``
  (OTLP/JSON: hex ids, lowerCamelCase names); anything else is ``415``;
- ``Content-Encoding: gzip`` (or ``deflate``, or none); the decoded body is held to the same
  size limit as the sent one (``413``);
- a body that cannot be decoded is ``400`` (``{"error": ...}`` for JSON requests, an OTLP
  ``google.rpc.Status`` for protobuf ones, as the spec asks).

Answer ``200`` with an ``ExportTraceServiceResponse`` in the request's encoding: empty when
every span was stored, else ``partial_success`` with ``rejected_spans`` and an
``error_message`` naming the first problems (bad ids, end before start): the good spans of the
request are stored all the same. What is stored:
:func:`traceforge_shared.otel.ingest_store.ingest` (spans as runs, LLM calls as traces
unless the proxy already recorded the call, everything redacted first). With ``export.otlp``
set, the stored spans are then queued for export (:mod:`traceforge_web_api.otlp_forward`): the
answer does not wait for it.

Writes need no ``Origin`` (exporters send none); a page of another site is refused by the
Origin check as for every write (:mod:`traceforge_web_api.security`).
"""

from __future__ import annotations

import msgspec
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from traceforge_shared.otel.ingest_map import DecodedSpan
from traceforge_shared.otel.ingest_store import IngestResult, ingest
from traceforge_shared.store import TraceStore
from traceforge_web_api.common import ApiError, error_response, get_store, read_body, route
from traceforge_web_api.feed import TraceFeed
from traceforge_web_api.otlp_decode import (
    OtlpDecodeError,
    decode_json,
    decode_protobuf,
    decompress,
)
from traceforge_web_api.otlp_forward import forwarder
from traceforge_web_api.routes.events import FEED_STATE_KEY
from traceforge_web_api.security import DEFAULT_MAX_BODY_BYTES

#: The path exporters post to (``<endpoint>/v1/traces``).
OTLP_TRACES_PATH = "/v1/traces"

#: Media types the route reads.
PROTOBUF_MEDIA_TYPE = "application/x-protobuf"
JSON_MEDIA_TYPE = "application/json"

#: ``app.state`` attribute holding the body size limit (bytes, sent and decompressed).
LIMIT_STATE_KEY = "otlp_max_body_bytes"


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _bad_request(message: str, protobuf: bool) -> Response:
    if not protobuf:
        return error_response(400, message)
    return Response(rpc_status(3, message), status_code=400, media_type=PROTOBUF_MEDIA_TYPE)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def rpc_status(code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` message (``code`` field 1, ``message`` field 2), the OTLP/HTTP
    error body of protobuf requests
    (https://github.com/googleapis/googleapis/blob/master/google/rpc/status.proto); encoded
    here so the API needs no googleapis package. ``code`` 3 is ``INVALID_ARGUMENT``."""
    text = message.encode("utf-8")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _answer(result: IngestResult, protobuf: bool) -> Response:
    message = ExportTraceServiceResponse()
    if result.rejected:
        message.partial_success.CopyFrom(
            ExportTracePartialSuccess(
                rejected_spans=result.rejected, error_message=result.error_message
            )
        )
    if protobuf:
        return Response(message.SerializeToString(), media_type=PROTOBUF_MEDIA_TYPE)
    return Response(msgspec.json.encode(MessageToDict(message)), media_type=JSON_MEDIA_TYPE)


def _store(app: Starlette, store: TraceStore, spans: list[DecodedSpan]) -> IngestResult:
    """Store ``spans`` and queue what is to be exported (a worker thread: file and SQLite
    writes; the queue only appends)."""
    result = ingest(store, spans)
    queue = forwarder(app, store)
    if queue is not None and result.to_export:
        queue.put_spans(result.to_export)
    return result


async def export_traces(request: Request) -> Response:
    """``POST /v1/traces``: decode, store, answer (see the module)."""
    media_type = _media_type(request)
    protobuf = media_type == PROTOBUF_MEDIA_TYPE
    if not protobuf and media_type != JSON_MEDIA_TYPE:
        raise ApiError(
            415,
            f"OTLP bodies must be {PROTOBUF_MEDIA_TYPE} or {JSON_MEDIA_TYPE}, not {media_type!r}",
        )
    limit = getattr(request.app.state, LIMIT_STATE_KEY, DEFAULT_MAX_BODY_BYTES)
    body = await read_body(request, limit)
    try:
        body = decompress(body, request.headers.get("content-encoding", ""), limit)
    except OverflowError:
        raise ApiError(413, f"decompressed body too large (more than {limit} bytes)") from None
    except OtlpDecodeError as exc:
        return _bad_request(str(exc), protobuf)
    problems: list[str] = []
    spans: list[DecodedSpan]
    try:
        if protobuf:
            spans = decode_protobuf(body)
        else:
            spans, problems = decode_json(body)
    except OtlpDecodeError as exc:
        return _bad_request(str(exc), protobuf)
    result = await run_in_threadpool(_store, request.app, get_store(request), spans)
    feed = getattr(request.app.state, FEED_STATE_KEY, None)
    if isinstance(feed, TraceFeed) and not feed.watch:
        # In the proxy's process the feed is pushed, not watching files: announce here.
        for trace in result.saved_traces:
            feed.saved(trace)
        feed.spans_saved(result.saved_spans)
    for problem in problems:
        result.reject(problem)
    return _answer(result, protobuf)


routes: list[BaseRoute] = [route(OTLP_TRACES_PATH, {"POST": export_traces}, name="otlp_traces")]

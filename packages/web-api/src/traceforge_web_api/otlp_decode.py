"""Decode an OTLP ``ExportTraceServiceRequest`` (protobuf or OTLP/JSON) into
:class:`~traceforge_shared.otel.ingest_map.DecodedSpan` values.

Formats (https://opentelemetry.io/docs/specs/otlp/#otlphttp): protobuf is the
``opentelemetry-proto`` message as is; OTLP/JSON is the protobuf JSON mapping with the OTLP
exceptions: ``traceId``/``spanId``/``parentSpanId`` are hex strings (not base64), enum values
are integers, field names lowerCamelCase (receivers must accept snake_case too), 64-bit
integers may be strings or numbers. Ids are kept as received (hex; bad lengths are rejected
per span later, as OTLP partial success).
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from traceforge_shared.otel.ingest_map import DecodedSpan

__all__ = ["OtlpDecodeError", "decode_json", "decode_protobuf", "decompress"]


class OtlpDecodeError(ValueError):
    """The body is not an OTLP trace export request; the message says why."""


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """``body`` decoded from ``Content-Encoding`` ``encoding`` (``gzip``, ``deflate`` or
    ``identity``/none), refusing more than ``limit`` bytes of output (a zip bomb).

    Raises:
        OtlpDecodeError: unknown encoding or a corrupt stream.
        OverflowError: the decoded body would exceed ``limit`` bytes.
    """
    kind = encoding.strip().lower()
    if kind in ("", "identity"):
        return body
    if kind not in ("gzip", "x-gzip", "deflate"):
        raise OtlpDecodeError(f"unsupported Content-Encoding {encoding!r} (gzip or none)")
    wbits = 16 + zlib.MAX_WBITS if kind != "deflate" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise OtlpDecodeError(f"the {kind} body cannot be decompressed: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise OverflowError(limit)
    return out


def _proto_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_proto_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _proto_attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)


def _proto_attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pair: KeyValue
    for pair in pairs:
        out[pair.key] = _proto_value(pair.value)
    return out


def decode_protobuf(body: bytes) -> list[DecodedSpan]:
    """The spans of a protobuf ``ExportTraceServiceRequest``.

    Raises:
        OtlpDecodeError: the bytes are not that message.
    """
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError) as exc:
        raise OtlpDecodeError(f"the body is not an OTLP protobuf trace request: {exc}") from None
    spans: list[DecodedSpan] = []
    for resource_spans in request.resource_spans:
        resource = _proto_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    DecodedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes=_proto_attributes(span.attributes),
                        events=[
                            {
                                "name": event.name,
                                "time_ns": event.time_unix_nano,
                                "attributes": _proto_attributes(event.attributes),
                            }
                            for event in span.events
                        ],
                        status_code=int(span.status.code),
                        status_message=span.status.message,
                        resource=resource,
                        scope=scope_spans.scope.name,
                    )
                )
    return spans


def _get(data: Mapping[str, Any], camel: str, snake: str) -> Any:
    return data[camel] if camel in data else data.get(snake)


def _json_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    if "stringValue" in value or "string_value" in value:
        return str(_get(value, "stringValue", "string_value"))
    if "boolValue" in value or "bool_value" in value:
        return bool(_get(value, "boolValue", "bool_value"))
    if "intValue" in value or "int_value" in value:
        return int(_get(value, "intValue", "int_value"))
    if "doubleValue" in value or "double_value" in value:
        return float(_get(value, "doubleValue", "double_value"))
    if "arrayValue" in value or "array_value" in value:
        inner = _get(value, "arrayValue", "array_value") or {}
        return [_json_value(v) for v in inner.get("values") or []]
    if "kvlistValue" in value or "kvlist_value" in value:
        inner = _get(value, "kvlistValue", "kvlist_value") or {}
        return _json_attributes(inner.get("values"))
    if "bytesValue" in value or "bytes_value" in value:
        return str(_get(value, "bytesValue", "bytes_value"))
    return None


def _json_attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if isinstance(pair, dict) and isinstance(pair.get("key"), str):
            out[pair["key"]] = _json_value(pair.get("value"))
    return out


def _json_span(span: dict[str, Any], resource: dict[str, Any], scope: str) -> DecodedSpan:
    status = span.get("status") or {}
    return DecodedSpan(
        trace_id=str(_get(span, "traceId", "trace_id") or ""),
        span_id=str(_get(span, "spanId", "span_id") or ""),
        parent_span_id=str(_get(span, "parentSpanId", "parent_span_id") or "") or None,
        name=str(span.get("name") or ""),
        start_ns=int(_get(span, "startTimeUnixNano", "start_time_unix_nano") or 0),
        end_ns=int(_get(span, "endTimeUnixNano", "end_time_unix_nano") or 0),
        attributes=_json_attributes(span.get("attributes")),
        events=[
            {
                "name": str(event.get("name") or ""),
                "time_ns": int(_get(event, "timeUnixNano", "time_unix_nano") or 0),
                "attributes": _json_attributes(event.get("attributes")),
            }
            for event in span.get("events") or []
            if isinstance(event, dict)
        ],
        status_code=int(status.get("code") or 0),
        status_message=str(status.get("message") or ""),
        resource=resource,
        scope=scope,
    )


def decode_json(body: bytes) -> tuple[list[DecodedSpan], list[str]]:
    """The spans of an OTLP/JSON ``ExportTraceServiceRequest``, and the reasons for spans
    that could not be read (a non-numeric time, a span that is not an object: rejected, the
    others kept).

    Raises:
        OtlpDecodeError: the body is not JSON, or not an object with ``resourceSpans``.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise OtlpDecodeError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise OtlpDecodeError("the body must be a JSON object with resourceSpans")
    spans: list[DecodedSpan] = []
    problems: list[str] = []
    for resource_spans in _get(data, "resourceSpans", "resource_spans") or []:
        if not isinstance(resource_spans, dict):
            raise OtlpDecodeError("resourceSpans must hold objects")
        resource = _json_attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope_spans in _get(resource_spans, "scopeSpans", "scope_spans") or []:
            if not isinstance(scope_spans, dict):
                raise OtlpDecodeError("scopeSpans must hold objects")
            scope = str((scope_spans.get("scope") or {}).get("name") or "")
            for span in scope_spans.get("spans") or []:
                try:
                    if not isinstance(span, dict):
                        raise TypeError("a span must be a JSON object")
                    spans.append(_json_span(span, resource, scope))
                except (TypeError, ValueError, AttributeError) as exc:
                    problems.append(f"span {str(span)[:80]}: {exc}")
    return spans, problems

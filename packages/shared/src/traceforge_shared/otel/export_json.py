"""OTLP/JSON lines: one ``ExportTraceServiceRequest`` per line, as an OpenTelemetry
Collector's ``otlpjsonfile`` receiver reads them.

OTLP/JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) is the
protobuf JSON mapping with three differences: field names in lowerCamelCase, enums as
integers, and ``traceId`` / ``spanId`` / ``parentSpanId`` as hex strings (not base64).
:func:`otlp_json_line` writes it from the protobuf message (``opentelemetry-proto``, never
hand-built) and :func:`parse_otlp_json_line` reads it back.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = ["otlp_json_line", "parse_otlp_json_line"]

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _ids(node: Any, convert: Any) -> None:
    """Rewrite every id field inside ``node`` in place with ``convert``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = convert(value)
            else:
                _ids(value, convert)
    elif isinstance(node, list):
        for item in node:
            _ids(item, convert)


def otlp_json_line(request: ExportTraceServiceRequest) -> str:
    """``request`` in OTLP/JSON on one line (no newline at the end)."""
    data = json_format.MessageToDict(request, use_integers_for_enums=True)
    _ids(data, lambda b64: base64.b64decode(b64).hex())
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def parse_otlp_json_line(line: str) -> ExportTraceServiceRequest:
    """One OTLP/JSON line back into an ``ExportTraceServiceRequest``.

    Raises:
        ValueError: the line is not JSON, an id is not hex, or a field is not part of the
            message (``google.protobuf.json_format.ParseError`` is a ``ValueError``).
    """
    data = json.loads(line)
    _ids(data, lambda hex_id: base64.b64encode(bytes.fromhex(hex_id)).decode())
    request = ExportTraceServiceRequest()
    json_format.ParseDict(data, request)
    return request

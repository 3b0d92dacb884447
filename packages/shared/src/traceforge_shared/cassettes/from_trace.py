"""A stored trace as a recording: its request key and the upstream answer it recorded.

``traceforge test run --replay`` re-serves recorded traces through the proxy, as a cassette
replay does with interaction files, so both use the same request key
(:func:`~traceforge_shared.cassettes.key.request_key`) and the same replay path:

- :func:`trace_request_view` / :func:`trace_request_key`: what the app sent, as the proxy
  saw it (the key the store indexes, ``request_key`` of ``index.sqlite``);
- :func:`recorded_response_of`: the upstream's native answer rebuilt from the trace: a
  stream's chunks framed again as the provider sends them (SSE ``event:``/``data:`` lines,
  https://html.spec.whatwg.org/multipage/server-sent-events.html; NDJSON lines for Ollama,
  https://github.com/ollama/ollama/blob/main/docs/api.md), each at its recorded offset; a
  whole answer as its JSON body (the provider's native body on converted and passthrough
  routes).

Traces keep decoded events, not the raw bytes: the rebuilt bytes carry the same events in the
same order with the same payloads (JSON re-encoded compactly, key order kept), not
necessarily the upstream's exact whitespace.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec

from traceforge_shared.cassettes.format import Read, RecordedResponse, kept_header
from traceforge_shared.cassettes.key import RequestView, clean_query, request_key
from traceforge_shared.providers import PROVIDER_SPECS
from traceforge_shared.trace import Trace

#: ``Trace.meta`` key of a replayed call (cassette or trace replay): where its answer came
#: from. Such traces are copies, never recordings: they get no request key.
REPLAYED_FROM_META = "replayed_from"

#: ``Content-Type`` of a rebuilt answer when the trace kept none.
SSE_TYPE = "text/event-stream"
NDJSON_TYPE = "application/x-ndjson"
JSON_TYPE = "application/json"


def trace_request_view(trace: Trace) -> RequestView | None:
    """The :class:`RequestView` of the call ``trace`` recorded: its provider, method,
    endpoint, query and the app's (redacted) body; ``None`` for a replayed trace
    (``meta.replayed_from``) or one without a request body.

    The body is what the app sent: ``trace.request`` on the ``openai`` and ``converted``
    routes, ``trace.native.request`` on ``passthrough`` (where ``trace.request`` is a
    normalized view). The query is the upstream URL's on ``passthrough`` (the app's own,
    credentials dropped), else empty (``/v1/...`` calls have none)."""
    if REPLAYED_FROM_META in trace.meta:
        return None
    body: Any = trace.request
    query = ""
    if trace.route == "passthrough" and trace.native is not None:
        body = trace.native.request
        query = clean_query(urlsplit(trace.metadata.upstream_url or "").query)
    if body is None:
        return None
    return RequestView(trace.provider, trace.metadata.method, trace.endpoint, query, body)


def trace_request_key(trace: Trace) -> str | None:
    """The request key of the call ``trace`` recorded (volatile fields left out, no
    configured ignore fields), or ``None`` (see :func:`trace_request_view`)."""
    view = trace_request_view(trace)
    return None if view is None else request_key(view)


def is_ndjson(trace: Trace) -> bool:
    """Whether ``trace``'s stream was NDJSON (Ollama's wire format) rather than SSE."""
    kind = _content_type(trace).split(";", 1)[0].strip().lower()
    if kind:
        return kind in ("application/x-ndjson", "application/ndjson", "application/jsonl")
    spec = PROVIDER_SPECS.get(trace.provider)
    return spec is not None and spec.wire_format == "ollama" and trace.route != "openai"


def _content_type(trace: Trace) -> str:
    headers = trace.metadata.response_headers
    return next((v for k, v in headers.items() if k.lower() == "content-type"), "")


def _payload(data: Any, raw: str | None) -> str:
    if raw is not None:
        return raw
    return msgspec.json.encode(data).decode()


def chunk_bytes(trace: Trace) -> list[tuple[bytes, float]]:
    """Each kept chunk of ``trace`` framed as its upstream sent it, with its offset (ms
    since the request was sent): ``event: <name>\\n`` (when it had one) and ``data:
    <payload>\\n\\n`` for SSE, ``<json>\\n`` for NDJSON. Withheld chunks are included: the
    upstream sent them."""
    ndjson = is_ndjson(trace)
    out: list[tuple[bytes, float]] = []
    for chunk in trace.chunks:
        payload = _payload(chunk.data, chunk.raw)
        if ndjson:
            text = payload + "\n"
        else:
            lines = "".join(f"data: {line}\n" for line in payload.split("\n"))
            text = (f"event: {chunk.event}\n" if chunk.event else "") + lines + "\n"
        out.append((text.encode(), chunk.offset_ms))
    return out


def answer_body(trace: Trace) -> Any:
    """The upstream's whole (non-streamed) answer: ``native.response`` on converted and
    passthrough routes, else ``trace.response``."""
    if trace.route != "openai" and trace.native is not None and trace.native.response is not None:
        return trace.native.response
    return trace.response


def recorded_response_of(trace: Trace) -> RecordedResponse:
    """The upstream answer ``trace`` recorded, as a cassette response the proxy's replay
    source serves (:class:`~traceforge_shared.cassettes.format.RecordedResponse`).

    Headers: the allowlisted ones the trace kept (:func:`kept_header`), with a
    ``Content-Type`` (SSE, NDJSON or JSON) when it kept none. Timing: the headers at the first
    chunk's offset (streams) or at the call's latency, each chunk at its ``offset_ms``."""
    metadata = trace.metadata
    headers = [(k, v) for k, v in metadata.response_headers.items() if kept_header(k)]
    streamed = metadata.streaming and bool(trace.chunks)
    if not any(k.lower() == "content-type" for k, _ in headers):
        kind = (NDJSON_TYPE if is_ndjson(trace) else SSE_TYPE) if streamed else JSON_TYPE
        headers.append(("content-type", kind))
    status = metadata.status_code or 200
    if streamed:
        reads = [Read.of(data, offset) for data, offset in chunk_bytes(trace)]
        first = trace.chunks[0].offset_ms
        return RecordedResponse(
            status=status,
            headers=headers,
            headers_ms=max(0.0, first),
            stream=True,
            reads=reads,
            end_ms=trace.chunks[-1].offset_ms,
        )
    body = answer_body(trace)
    text = body if isinstance(body, str) else msgspec.json.encode(body).decode()
    return RecordedResponse(
        status=status,
        headers=headers,
        headers_ms=metadata.latency_ms,
        stream=False,
        body="" if body is None else text,
        end_ms=metadata.latency_ms,
    )

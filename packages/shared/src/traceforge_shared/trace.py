"""The trace file anatomy: one recorded LLM API call.

A trace is stored as one JSON document (see :mod:`traceforge_shared.store`). Field names follow
the OpenAI Chat Completions wire format where they mirror it (``usage.prompt_tokens``,
``finish_reason``; https://platform.openai.com/docs/api-reference/chat) and the OpenTelemetry
GenAI semantic conventions elsewhere (``provider`` is ``gen_ai.provider.name``, ``model`` is
``gen_ai.request.model``).

Units are in the names: ``*_ms`` are milliseconds (float), token counts are integers, costs USD.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

#: Version of the trace file layout written by this code. Readers upgrade older files through
#: :data:`traceforge_shared.store.upgrade.UPGRADES` and reject newer ones.
SCHEMA_VERSION = 1

#: Outcome of a call, as stored in ``TraceMetadata.status``.
#:
#: - ``success``: the upstream answered 2xx and the body (or stream) arrived complete.
#: - ``error``: the upstream answered with an HTTP error status (4xx/5xx), relayed to the client.
#: - ``upstream_error``: the upstream could not be reached, timed out, or broke off mid-stream.
#: - ``client_disconnected``: the client hung up before the answer was complete.
TraceStatus = Literal["success", "error", "upstream_error", "client_disconnected"]

TRACE_STATUSES: tuple[str, ...] = ("success", "error", "upstream_error", "client_disconnected")


class Usage(msgspec.Struct, kw_only=True, omit_defaults=False):
    """Token usage of one call, as the provider reported it (OpenAI ``usage`` object).

    Attributes:
        prompt_tokens: input tokens (``gen_ai.usage.input_tokens``).
        completion_tokens: output tokens (``gen_ai.usage.output_tokens``).
        total_tokens: prompt + completion tokens as reported by the provider.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class StreamChunk(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One SSE event of a streamed answer, with its arrival timing.

    Attributes:
        index: 0-based position of the event in the stream.
        delta_ms: ms since the previous chunk arrived (for the first chunk: since the request
            was sent upstream, i.e. the first-chunk latency).
        offset_ms: ms since the request was sent upstream.
        data: the event's ``data:`` payload decoded as JSON (for OpenAI a
            ``chat.completion.chunk`` object). ``None`` when the payload is not JSON.
        raw: the ``data:`` payload as text when it is not JSON (``[DONE]``, a malformed line).
        event: the SSE ``event:`` name when the provider sends one (Anthropic, OpenAI Responses).
        forwarded: ``False`` when the proxy withheld this chunk from the client (the usage chunk
            it asked for on the client's behalf); the client received every other chunk.
    """

    index: int
    delta_ms: float
    offset_ms: float
    data: Any = None
    raw: str | None = None
    event: str | None = None
    forwarded: bool = True


class TraceError(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What went wrong, for traces whose status is not ``success``.

    Attributes:
        type: a short machine-readable kind (``upstream_unreachable``, ``upstream_timeout``,
            ``upstream_disconnected``, ``client_disconnected``, or the provider's error type).
        message: a sentence a person can act on.
    """

    type: str
    message: str


class TraceMetadata(msgspec.Struct, kw_only=True, omit_defaults=False):
    """Measurements and bookkeeping of one call.

    Attributes:
        status: outcome, one of :data:`TRACE_STATUSES`.
        status_code: HTTP status returned to the client (the upstream's, or the proxy's own
            502/504 when the upstream failed); 0 if no response was started.
        method: HTTP method of the request.
        latency_ms: ms from the request reaching the proxy to the end of the answer (for
            streams: to the last chunk).
        streaming: whether the answer was an SSE stream.
        first_chunk_latency_ms: ms from sending the request upstream to the first SSE chunk
            (time to first token); ``None`` for non-streaming calls.
        stream_duration_ms: ms from the first to the last chunk; ``None`` if not streaming.
        total_chunks: chunks the client received (withheld chunks not counted).
        chunks_received: chunks that arrived from the upstream.
        chunks_buffered: chunks kept in ``Trace.chunks`` (fewer than received past the cap).
        warnings: things a person should know (chunk cap reached, malformed SSE line, ...).
        usage: token usage; ``None`` when the provider reported none.
        cost_usd: cost of the call in USD, when known.
        error: what went wrong, when status is not ``success``.
        redacted_fields: paths of values replaced before saving (never the values).
        upstream_url: the URL the request was forwarded to (no credentials).
        request_headers: request headers as sent upstream, credentials redacted.
        response_headers: response headers the upstream sent.
    """

    status: str = "success"
    status_code: int = 0
    method: str = "POST"
    latency_ms: float = 0.0
    streaming: bool = False
    first_chunk_latency_ms: float | None = None
    stream_duration_ms: float | None = None
    total_chunks: int = 0
    chunks_received: int = 0
    chunks_buffered: int = 0
    warnings: list[str] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    cost_usd: float | None = None
    error: TraceError | None = None
    redacted_fields: list[str] = msgspec.field(default_factory=list)
    upstream_url: str | None = None
    request_headers: dict[str, str] = msgspec.field(default_factory=dict)
    response_headers: dict[str, str] = msgspec.field(default_factory=dict)


class Trace(msgspec.Struct, kw_only=True, omit_defaults=False):
    """One recorded call: request, response, chunks and metadata.

    Attributes:
        id: unique, time-sortable id (see :func:`traceforge_shared.ids.new_trace_id`).
        timestamp: when the request reached the proxy, ISO 8601 UTC
            (``2026-11-23T08:55:54.123456Z``).
        schema_version: layout version of this record (:data:`SCHEMA_VERSION`).
        provider: provider name (``openai``, ...), OpenTelemetry ``gen_ai.provider.name``.
        model: model asked for in the request (``gen_ai.request.model``); ``""`` if none.
        endpoint: the API path called, e.g. ``/v1/chat/completions``.
        request: the request body as JSON (or its text when it was not JSON).
        response: the response body as JSON; for streams the rebuilt ``chat.completion``, so a
            streaming trace's response looks like a non-streaming one. ``None`` if none arrived.
        chunks: every SSE chunk kept (up to the chunk cap), in arrival order.
        metadata: measurements, see :class:`TraceMetadata`.
    """

    id: str
    timestamp: str
    provider: str
    model: str
    endpoint: str
    request: Any = None
    response: Any = None
    chunks: list[StreamChunk] = msgspec.field(default_factory=list)
    metadata: TraceMetadata = msgspec.field(default_factory=TraceMetadata)
    schema_version: int = SCHEMA_VERSION


class TraceSummary(msgspec.Struct, kw_only=True, frozen=True):
    """The columns of a trace that listing needs, read from the store's index (no file parse).

    Attributes mirror :class:`Trace` and :class:`TraceMetadata`; token counts are 0 when the
    provider reported no usage.
    """

    id: str
    timestamp: str
    provider: str
    model: str
    endpoint: str
    status: str
    status_code: int
    streaming: bool
    latency_ms: float
    first_chunk_latency_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float | None


def summarize(trace: Trace) -> TraceSummary:
    """Return the index columns of ``trace``."""
    meta = trace.metadata
    usage = meta.usage or Usage()
    return TraceSummary(
        id=trace.id,
        timestamp=trace.timestamp,
        provider=trace.provider,
        model=trace.model,
        endpoint=trace.endpoint,
        status=meta.status,
        status_code=meta.status_code,
        streaming=meta.streaming,
        latency_ms=meta.latency_ms,
        first_chunk_latency_ms=meta.first_chunk_latency_ms,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        cost_usd=meta.cost_usd,
    )


def response_text(trace: Trace) -> str:
    """Return the assistant text of a chat completion trace (``choices[0].message.content``).

    Returns ``""`` when the response is not a chat completion or has no text.
    """
    response = trace.response
    if not isinstance(response, dict):
        return ""
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    return content if isinstance(content, str) else ""


def chunk_text(chunk: StreamChunk) -> str:
    """Return the text delta a ``chat.completion.chunk`` carries (``""`` if none)."""
    data = chunk.data
    if not isinstance(data, dict):
        return ""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta")
    if not isinstance(delta, dict):
        return ""
    content = delta.get("content")
    return content if isinstance(content, str) else ""

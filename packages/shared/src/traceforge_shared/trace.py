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
#: - ``incomplete``: the stream ended cleanly but the answer is not whole (a Responses API
#:   stream ending in ``response.incomplete``, or without ``response.completed``).
#: - ``replay_miss``: the proxy replays a cassette and no recording matched the request; it
#:   answered a 400 naming the nearest recording (docs/replay.md).
TraceStatus = Literal[
    "success", "error", "upstream_error", "client_disconnected", "incomplete", "replay_miss"
]

TRACE_STATUSES: tuple[str, ...] = (
    "success",
    "error",
    "upstream_error",
    "client_disconnected",
    "incomplete",
    "replay_miss",
)


class Usage(msgspec.Struct, kw_only=True, omit_defaults=False):
    """Token usage of one call, the same meaning for every provider.

    The three OpenAI names stay (trace files already hold them); they are the OpenTelemetry
    GenAI input and output tokens. Every other count is a *part* of one of them, never added
    on top, and is 0 when the provider reported none. How each provider's own fields map here
    is in :mod:`traceforge_shared.usage` (one reader per format) and docs/trace-format.md.

    Attributes:
        prompt_tokens: input tokens (``gen_ai.usage.input_tokens``), cache reads and writes
            included (Anthropic's ``input_tokens`` + ``cache_creation_input_tokens`` +
            ``cache_read_input_tokens``; Gemini's ``promptTokenCount``).
        completion_tokens: output tokens (``gen_ai.usage.output_tokens``), reasoning
            included (xAI and Gemini report reasoning apart: it is added here, as it is
            billed as output).
        total_tokens: prompt + completion tokens (the provider's total when larger).
        cache_read_tokens: of ``prompt_tokens``, read from the provider's prompt cache
            (OpenAI ``prompt_tokens_details.cached_tokens``, Anthropic
            ``cache_read_input_tokens``, Gemini ``cachedContentTokenCount``).
        cache_write_tokens: of ``prompt_tokens``, written to the prompt cache (Anthropic
            ``cache_creation_input_tokens``).
        reasoning_tokens: of ``completion_tokens``, spent reasoning (OpenAI and xAI
            ``completion_tokens_details.reasoning_tokens``, Gemini ``thoughtsTokenCount``).
        audio_tokens: of ``prompt_tokens``, audio input.
        output_audio_tokens: of ``completion_tokens``, audio output.
        image_tokens: of ``prompt_tokens``, image input.
        estimated: the provider reported no usage; the counts were estimated locally
            (:mod:`traceforge_shared.token_estimate`), shown with a ``~``.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    audio_tokens: int = 0
    output_audio_tokens: int = 0
    image_tokens: int = 0
    estimated: bool = False


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
        first_chunk_latency_ms: ms from sending the request upstream to the first stream chunk
            (time to first byte of the stream); ``None`` for non-streaming calls.
        first_content_latency_ms: ms from sending the request upstream to the first chunk
            carrying content: a text, refusal, reasoning or tool-call delta (time to first
            token; role-only and metadata chunks before it do not count); ``None`` for
            non-streaming calls and streams that carried no content.
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
    first_content_latency_ms: float | None = None
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


#: How a call reached its provider: ``openai`` (OpenAI format to an OpenAI-compatible
#: provider, forwarded as is), ``converted`` (OpenAI format converted to and from another
#: provider's API), ``passthrough`` (the provider's own API, forwarded as is).
ROUTES = ("openai", "converted", "passthrough")


class NativeCall(msgspec.Struct, kw_only=True, omit_defaults=False):
    """The call in the provider's own format, when it differs from the OpenAI view.

    Attributes:
        endpoint: the provider API path (``/v1/messages``, ``/api/chat``, ...).
        request: the request body the provider received (converted route) or the client sent
            (passthrough route).
        response: the provider's non-streaming answer; ``None`` for streams (their native
            events are the trace's ``chunks``).
    """

    endpoint: str
    request: Any = None
    response: Any = None


class SpanContext(msgspec.Struct, kw_only=True, omit_defaults=False):
    """Where a recorded call sits in its run (W3C Trace Context,
    https://www.w3.org/TR/trace-context/): the call is a span of the run.

    Attributes:
        trace_id: the run id, 32 lower-case hex digits: the ``traceparent`` trace id, or a
            new one when the request had no (valid) ``traceparent``.
        span_id: the call's own span id, 16 lower-case hex digits, made by the proxy.
        parent_span_id: the ``traceparent`` parent id (the app's span around the call);
            ``None`` when the call started its own run.
        tracestate: the ``tracestate`` header as received (vendor data, forwarded untouched),
            when there was one.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    tracestate: str | None = None


class Trace(msgspec.Struct, kw_only=True, omit_defaults=False):
    """One recorded call: request, response, chunks and metadata.

    Attributes:
        id: unique, time-sortable id (see :func:`traceforge_shared.ids.new_trace_id`).
        timestamp: when the request reached the proxy, ISO 8601 UTC
            (``2026-11-23T08:55:54.123456Z``).
        schema_version: layout version of this record (:data:`SCHEMA_VERSION`).
        provider: provider name (``openai``, ...), OpenTelemetry ``gen_ai.provider.name``.
        model: model asked for in the request (``gen_ai.request.model``), routing prefix
            removed; ``""`` if none.
        endpoint: the proxy path called, e.g. ``/v1/chat/completions``, ``/anthropic/v1/messages``.
        request: the request body as JSON (or its text when it was not JSON). For chat calls
            this is the OpenAI Chat Completions view, whatever the provider: as sent on the
            ``openai`` and ``converted`` routes, normalized from the native body on
            ``passthrough``.
        response: the answer as JSON, as an OpenAI ``chat.completion`` for chat calls (for
            streams: rebuilt from the chunks), so every trace reads, lists, diffs and tests
            the same way. ``None`` if none arrived.
        chunks: every stream chunk kept (up to the chunk cap), in arrival order, in the
            provider's own format (SSE events, or NDJSON lines for Ollama).
        metadata: measurements, see :class:`TraceMetadata`.
        route: one of :data:`ROUTES`.
        response_model: model that answered, as the provider reports it
            (``gen_ai.response.model``), when known.
        native: the provider-format request and answer, for ``converted`` and ``passthrough``
            routes; ``None`` on the ``openai`` route (``request``/``response`` are native).
        session_id: the ``X-TraceForge-Session-Id`` header: the session (conversation or
            user) the call belongs to; ``None`` when not sent.
        tags: the ``X-TraceForge-Tags`` header, split at commas, trimmed, empty ones dropped.
        meta: the ``X-TraceForge-Meta-<key>`` headers, key lower-cased, values redacted.
        span: the call's place in its run (:class:`SpanContext`); ``None`` in traces
            recorded before runs existed.
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
    route: str = "openai"
    response_model: str | None = None
    native: NativeCall | None = None
    session_id: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    meta: dict[str, str] = msgspec.field(default_factory=dict)
    span: SpanContext | None = None
    schema_version: int = SCHEMA_VERSION


class TraceSummary(msgspec.Struct, kw_only=True, frozen=True):
    """The columns of a trace that listing needs, read from the store's index (no file parse).

    Attributes mirror :class:`Trace` and :class:`TraceMetadata`; token counts are 0 when the
    provider reported no usage. ``source`` is ``Trace.meta["source"]`` (the
    ``X-TraceForge-Meta-Source`` header; :data:`TEST_SOURCE` for ``traceforge test run``).
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
    route: str = "openai"
    session_id: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    source: str | None = None


#: The ``meta`` key (``X-TraceForge-Meta-Source`` header) saying what made a call;
#: ``traceforge test run`` sends :data:`TEST_SOURCE`, so test traffic can be told apart.
SOURCE_META_KEY = "source"
#: The :data:`SOURCE_META_KEY` value of calls made by ``traceforge test run``.
TEST_SOURCE = "test"


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
        route=trace.route,
        session_id=trace.session_id,
        tags=list(trace.tags),
        source=trace.meta.get(SOURCE_META_KEY),
    )


def response_text(trace: Trace) -> str:
    """Return the assistant text of a chat completion trace (``choices[0].message.content``),
    or of a Responses API trace (its ``output_text`` parts, see
    :mod:`traceforge_shared.responses_view`).

    Returns ``""`` when the response is neither or has no text.
    """
    response = trace.response
    if not isinstance(response, dict):
        return ""
    if response.get("object") == "response":
        from traceforge_shared.responses_view import output_text

        return output_text(response)
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    return content if isinstance(content, str) else ""


def chunk_text(chunk: StreamChunk) -> str:
    """Return the text delta a stream chunk carries (``""`` if none).

    Knows the chunk shapes of OpenAI ``chat.completion.chunk`` (``choices[0].delta.content``),
    Anthropic ``content_block_delta`` (``delta.text``), Gemini (``candidates[0].content.parts
    [].text``), Ollama chat and generate lines (``message.content``, ``response``) and Cohere
    v2 ``content-delta`` (``delta.message.content.text``).
    """
    data = chunk.data
    if not isinstance(data, dict):
        return ""
    choices = data.get("choices")
    if isinstance(choices, list):
        if not choices or not isinstance(choices[0], dict):
            return ""
        delta = choices[0].get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        return content if isinstance(content, str) else ""
    delta = data.get("delta")
    if isinstance(delta, dict):
        if isinstance(delta.get("text"), str):  # Anthropic text_delta
            return str(delta["text"])
        message = delta.get("message")  # Cohere content-delta
        content = message.get("content") if isinstance(message, dict) else None
        text = content.get("text") if isinstance(content, dict) else None
        return text if isinstance(text, str) else ""
    candidates = data.get("candidates")
    if isinstance(candidates, list):  # Gemini
        first = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
        content = first.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list):
            return ""
        return "".join(
            p["text"]
            for p in parts
            if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
        )
    message = data.get("message")  # Ollama /api/chat
    if isinstance(message, dict):
        content = message.get("content")
        return content if isinstance(content, str) else ""
    response = data.get("response")  # Ollama /api/generate
    return response if isinstance(response, str) else ""

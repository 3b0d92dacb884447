"""Factories for tests of any TraceForge package (the mitmproxy ``test/tflow.py`` idea)."""

from __future__ import annotations

import json
import time
from typing import Any

from traceforge_shared.ids import new_trace_id, utc_timestamp
from traceforge_shared.spans import Span
from traceforge_shared.trace import StreamChunk, Trace, TraceMetadata, Usage


def make_trace(
    *,
    model: str = "gpt-4o-mini",
    provider: str = "openai",
    text: str = "Hello there!",
    status: str = "success",
    status_code: int = 200,
    streaming: bool = False,
    epoch_s: float | None = None,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    latency_ms: float = 123.0,
) -> Trace:
    """Return a plausible chat completion trace (streamed: one chunk per word of ``text``).

    ``epoch_s`` sets the timestamp, so tests can build ordered stores.
    """
    moment = time.time() if epoch_s is None else epoch_s
    trace_id = new_trace_id()
    chunks: list[StreamChunk] = []
    if streaming:
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            chunks.append(
                StreamChunk(
                    index=i,
                    delta_ms=10.0,
                    offset_ms=10.0 * (i + 1),
                    data={
                        "object": "chat.completion.chunk",
                        "choices": [
                            {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                        ],
                    },
                )
            )
    usage = Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    return Trace(
        id=trace_id,
        timestamp=utc_timestamp(moment),
        provider=provider,
        model=model,
        endpoint="/v1/chat/completions",
        request={
            "model": model,
            "messages": [{"role": "user", "content": "Say hello"}],
            "stream": streaming,
        },
        response={
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        },
        chunks=chunks,
        metadata=TraceMetadata(
            status=status,
            status_code=status_code,
            latency_ms=latency_ms,
            streaming=streaming,
            first_chunk_latency_ms=10.0 if streaming else None,
            stream_duration_ms=10.0 * (len(chunks) - 1) if streaming else None,
            total_chunks=len(chunks),
            chunks_received=len(chunks),
            chunks_buffered=len(chunks),
            usage=usage,
        ),
    )


def transcript_events(text: str, *, ndjson: bool = False) -> list[tuple[str | None, Any]]:
    """``(event name, decoded data)`` of each SSE event (blank-line separated, ``event:`` and
    ``data:`` lines; ``[DONE]`` kept as the string) or, with ``ndjson``, of each JSON line of
    a recorded transcript. For building test traces; the proxy frames live streams with its
    own incremental parsers.

    Raises:
        json.JSONDecodeError: an event's data is not JSON.
    """
    if ndjson:
        return [(None, json.loads(line)) for line in text.splitlines() if line.strip()]
    events: list[tuple[str | None, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            joined = "\n".join(data)
            events.append((name, joined if joined == "[DONE]" else json.loads(joined)))
    return events


def make_span(
    trace_id: str,
    span_id: str,
    *,
    parent: str | None = None,
    name: str = "step",
    kind: str = "custom",
    start_ms: float = 0.0,
    duration_ms: float = 10.0,
    epoch_s: float = 1_767_225_600.0,
    status: str = "ok",
    session_id: str | None = None,
    tags: list[str] | None = None,
    attributes: dict[str, Any] | None = None,
    input_tokens: int | None = None,
    output_tokens: int = 0,
    cost_usd: float | None = None,
    source: str = "sdk",
) -> Span:
    """Return a span of run ``trace_id`` (32 hex) starting ``start_ms`` after ``epoch_s``
    (default 2026-01-01T00:00:00Z) and lasting ``duration_ms``; ``input_tokens`` set gives
    it a usage (``output_tokens`` with it)."""
    start_ns = int(epoch_s * 1e9) + int(start_ms * 1e6)
    usage = None
    if input_tokens is not None:
        usage = Usage(
            prompt_tokens=input_tokens,
            completion_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        )
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=kind,
        start_ns=start_ns,
        end_ns=start_ns + int(duration_ms * 1e6),
        status=status,
        session_id=session_id,
        tags=list(tags or []),
        attributes=dict(attributes or {}),
        usage=usage,
        cost_usd=cost_usd,
        source=source,
    )

"""Factories for tests of any TraceForge package (the mitmproxy ``test/tflow.py`` idea)."""

from __future__ import annotations

import json
import time
from typing import Any

from traceforge_shared.ids import new_trace_id, utc_timestamp
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

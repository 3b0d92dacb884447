"""Traces for the API tests, built without the proxy.

:func:`traceforge_shared.testing.make_trace` makes OpenAI and Ollama calls; the builders here
assemble Anthropic and Gemini traces (streamed and not) from the provider transcripts the
proxy's tests replay (``packages/proxy/tests/data``, read as data, never imported), in the
shape the proxy records them: the OpenAI view in ``request``/``response``, the provider's
events in ``chunks``, its bodies in ``native``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from traceforge_shared.ids import new_trace_id, utc_timestamp
from traceforge_shared.trace import NativeCall, StreamChunk, Trace, TraceMetadata, Usage

#: Base URL of the tests' clients: a loopback Host, which the API answers (not
#: ``testserver``, Starlette's default, which it refuses with ``421``).
LOOPBACK_URL = "http://127.0.0.1"

#: 2026-11-23T08:00:00Z; the fixtures' traces are one minute apart after it.
BASE_EPOCH = 1795420800.0

#: Recorded provider answers (data files of the proxy's tests).
TRANSCRIPTS = Path(__file__).parents[2] / "proxy" / "tests" / "data" / "provider-streams"


def sse_events(path: Path) -> list[tuple[str | None, str]]:
    """``(event name, data)`` of each event of an SSE transcript."""
    events: list[tuple[str | None, str]] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].strip())
        if data:
            events.append((name, "\n".join(data)))
    return events


def _load(relative: str) -> Any:
    return json.loads((TRANSCRIPTS / relative).read_text(encoding="utf-8"))


def _completion(model: str, text: str, finish: str, usage: Usage) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish,
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        },
    }


def _chunks(events: list[tuple[str | None, str]]) -> list[StreamChunk]:
    return [
        StreamChunk(
            index=i, delta_ms=15.0, offset_ms=15.0 * (i + 1), data=json.loads(data), event=name
        )
        for i, (name, data) in enumerate(events)
    ]


def _streamed(chunks: list[StreamChunk], latency_ms: float, usage: Usage) -> TraceMetadata:
    return TraceMetadata(
        status="success",
        status_code=200,
        latency_ms=latency_ms,
        streaming=True,
        first_chunk_latency_ms=15.0,
        stream_duration_ms=15.0 * (len(chunks) - 1),
        total_chunks=len(chunks),
        chunks_received=len(chunks),
        chunks_buffered=len(chunks),
        usage=usage,
        cost_usd=0.0005,
    )


def anthropic_stream_trace(epoch_s: float) -> Trace:
    """``claude-sonnet-4-5`` streamed through ``/anthropic/v1/messages`` (passthrough)."""
    native_request = _load("anthropic-messages/stream-text.request.json")
    events = sse_events(TRANSCRIPTS / "anthropic-messages" / "stream-text.sse")
    chunks = _chunks(events)
    text = "".join(
        c.data["delta"]["text"]
        for c in chunks
        if c.event == "content_block_delta" and c.data["delta"].get("type") == "text_delta"
    )
    start = next(c.data for c in chunks if c.event == "message_start")["message"]
    end = next(c.data for c in chunks if c.event == "message_delta")
    prompt, completion = start["usage"]["input_tokens"], end["usage"]["output_tokens"]
    usage = Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
    return Trace(
        id=new_trace_id(),
        timestamp=utc_timestamp(epoch_s),
        provider="anthropic",
        model=native_request["model"],
        endpoint="/anthropic/v1/messages",
        request={
            "model": native_request["model"],
            "max_tokens": native_request["max_tokens"],
            "messages": native_request["messages"],
            "stream": True,
        },
        response=_completion(start["model"], text, "stop", usage),
        chunks=chunks,
        metadata=_streamed(chunks, 900.0, usage),
        route="passthrough",
        response_model=start["model"],
        native=NativeCall(endpoint="/v1/messages", request=native_request),
    )


def anthropic_message_trace(epoch_s: float) -> Trace:
    """``claude-sonnet-4-5`` answered in one body (OpenAI format converted to Anthropic)."""
    native_request = _load("anthropic-messages/message.request.json")
    answer = _load("anthropic-messages/message.json")
    text = "".join(block["text"] for block in answer["content"] if block["type"] == "text")
    prompt, completion = answer["usage"]["input_tokens"], answer["usage"]["output_tokens"]
    usage = Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
    return Trace(
        id=new_trace_id(),
        timestamp=utc_timestamp(epoch_s),
        provider="anthropic",
        model=native_request["model"],
        endpoint="/v1/chat/completions",
        request={"model": native_request["model"], "messages": native_request["messages"]},
        response=_completion(answer["model"], text, "stop", usage),
        metadata=TraceMetadata(
            status="success", status_code=200, latency_ms=700.0, usage=usage, cost_usd=0.0004
        ),
        route="converted",
        response_model=answer["model"],
        native=NativeCall(endpoint="/v1/messages", request=native_request, response=answer),
    )


def _gemini_usage(metadata: dict[str, Any]) -> Usage:
    return Usage(
        prompt_tokens=metadata["promptTokenCount"],
        completion_tokens=metadata["candidatesTokenCount"],
        total_tokens=metadata["totalTokenCount"],
    )


def _gemini_request(native: dict[str, Any], model: str) -> dict[str, Any]:
    messages = [
        {"role": "user", "content": "".join(part["text"] for part in content["parts"])}
        for content in native["contents"]
    ]
    return {"model": model, "messages": messages}


def gemini_stream_trace(epoch_s: float) -> Trace:
    """``gemini-3-pro-preview`` streamed through ``/gemini/...:streamGenerateContent``."""
    native_request = _load("gemini/stream-text.request.json")
    chunks = _chunks(sse_events(TRANSCRIPTS / "gemini" / "stream-text.sse"))
    text = "".join(
        part.get("text", "")
        for c in chunks
        for part in c.data["candidates"][0]["content"]["parts"]
        if not part.get("thought")
    )
    last = chunks[-1].data
    model = last["modelVersion"]
    usage = _gemini_usage(last["usageMetadata"])
    return Trace(
        id=new_trace_id(),
        timestamp=utc_timestamp(epoch_s),
        provider="gemini",
        model=model,
        endpoint=f"/gemini/v1beta/models/{model}:streamGenerateContent",
        request={**_gemini_request(native_request, model), "stream": True},
        response=_completion(model, text, "stop", usage),
        chunks=chunks,
        metadata=_streamed(chunks, 2400.0, usage),
        route="passthrough",
        response_model=model,
        native=NativeCall(
            endpoint=f"/v1beta/models/{model}:streamGenerateContent", request=native_request
        ),
    )


def gemini_content_trace(epoch_s: float) -> Trace:
    """``gemini-3-pro-preview`` answered in one body (OpenAI format converted to Gemini)."""
    native_request = _load("gemini/generate-content.request.json")
    answer = _load("gemini/generate-content.json")
    model = answer["modelVersion"]
    text = "".join(p.get("text", "") for p in answer["candidates"][0]["content"]["parts"])
    usage = _gemini_usage(answer["usageMetadata"])
    return Trace(
        id=new_trace_id(),
        timestamp=utc_timestamp(epoch_s),
        provider="gemini",
        model=model,
        endpoint="/v1/chat/completions",
        request=_gemini_request(native_request, model),
        response=_completion(model, text, "stop", usage),
        metadata=TraceMetadata(status="success", status_code=200, latency_ms=3100.0, usage=usage),
        route="converted",
        response_model=model,
        native=NativeCall(
            endpoint=f"/v1beta/models/{model}:generateContent",
            request=native_request,
            response=answer,
        ),
    )

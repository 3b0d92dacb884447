"""The TUI tests' fixed sample traces (fixed ids and timestamps).

The sample, oldest first, one minute apart from 2026-11-23 08:00:00 UTC:

- ``PLAIN``: OpenAI gpt-4o-mini, not streamed.
- ``STREAM``: OpenAI gpt-4o, streamed in 40 chunks with two slow gaps, a redacted field, a
  warning and a cost.
- ``ERROR``: OpenAI gpt-4o-mini, rate limited (429), no answer.
- ``ANTHROPIC``: Anthropic claude-sonnet-4-5 on the converted route (with its native call).
- ``TOOLS``: OpenAI gpt-4o answering with a tool call, after an earlier tool round trip.
- ``OLLAMA``: Ollama llama3, streamed, on the passthrough route.
"""

from __future__ import annotations

from typing import Any

import msgspec

from traceforge_shared.testing import make_trace
from traceforge_shared.trace import NativeCall, StreamChunk, Trace, TraceError

#: 2026-11-23T08:00:00Z.
BASE_EPOCH = 1795420800.0
SIZE = (120, 40)

PLAIN = "a1" * 12
STREAM = "b2" * 12
ERROR = "c3" * 12
ANTHROPIC = "d4" * 12
TOOLS = "e5" * 12
OLLAMA = "f6" * 12

STREAM_TEXT = " ".join(
    f"word{i}" if i % 7 else "Streaming" for i in range(40)
)  # 40 words: 40 chunks
#: The gaps before chunks 1..39 (ms): even, but two slow ones.
SLOW_CHUNKS = (12, 27)


def _messages(trace: Trace, messages: list[dict[str, Any]], **extra: Any) -> Trace:
    request = dict(trace.request)
    request["messages"] = messages
    request.update(extra)
    return msgspec.structs.replace(trace, request=request)


def stream_chunks(text: str, *, first_ms: float = 180.0) -> list[StreamChunk]:
    """OpenAI chunks, one per word of ``text``, with the gaps of :data:`SLOW_CHUNKS`."""
    chunks: list[StreamChunk] = []
    offset = 0.0
    for i, word in enumerate(text.split(" ")):
        if i == 0:
            delta = first_ms
        elif i in SLOW_CHUNKS:
            delta = 400.0 if i == SLOW_CHUNKS[1] else 250.0
        else:
            delta = 10.0 + (i % 3) * 4
        offset += delta
        chunks.append(
            StreamChunk(
                index=i,
                delta_ms=delta,
                offset_ms=offset,
                data={
                    "object": "chat.completion.chunk",
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": word if i == 0 else " " + word},
                            "finish_reason": None,
                        }
                    ],
                },
            )
        )
    return chunks


def sample_traces() -> list[Trace]:
    """The sample traces, oldest first."""
    plain = make_trace(
        model="gpt-4o-mini",
        epoch_s=BASE_EPOCH,
        text="Paris is the capital of France.",
        latency_ms=250.4,
    )
    plain = _messages(
        msgspec.structs.replace(plain, id=PLAIN),
        [{"role": "user", "content": "What is the capital of France?"}],
    )

    stream = make_trace(
        model="gpt-4o",
        epoch_s=BASE_EPOCH + 60,
        streaming=True,
        text=STREAM_TEXT,
        prompt_tokens=12,
        completion_tokens=40,
        latency_ms=1830.0,
    )
    chunks = stream_chunks(STREAM_TEXT)
    stream = _messages(
        msgspec.structs.replace(
            stream,
            id=STREAM,
            chunks=chunks,
            metadata=msgspec.structs.replace(
                stream.metadata,
                first_chunk_latency_ms=180.0,
                cost_usd=0.00042,
                redacted_fields=["request.messages[0].content"],
                warnings=["usage was requested on the client's behalf"],
            ),
        ),
        [
            {"role": "system", "content": "You count words."},
            {"role": "user", "content": "Stream forty words please"},
        ],
    )

    error = make_trace(
        model="gpt-4o-mini",
        epoch_s=BASE_EPOCH + 120,
        status="error",
        status_code=429,
        text="",
    )
    error = msgspec.structs.replace(
        error,
        id=ERROR,
        response={"error": {"type": "rate_limit_error", "message": "Rate limit reached"}},
        metadata=msgspec.structs.replace(
            error.metadata,
            usage=None,
            error=TraceError(type="rate_limit_error", message="Rate limit reached for gpt-4o-mini"),
        ),
    )
    error = _messages(error, [{"role": "user", "content": "Tell me a joke"}])

    anthropic = make_trace(
        model="claude-sonnet-4-5",
        provider="anthropic",
        epoch_s=BASE_EPOCH + 180,
        text="Bonjour! Je suis Claude.",
        latency_ms=912.0,
    )
    anthropic = _messages(
        msgspec.structs.replace(
            anthropic,
            id=ANTHROPIC,
            route="converted",
            response_model="claude-sonnet-4-5-20250929",
            native=NativeCall(
                endpoint="/v1/messages",
                request={
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 1024,
                    "system": "Answer in French.",
                    "messages": [{"role": "user", "content": "Say hello in French"}],
                },
                response={
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "text", "text": "Bonjour! Je suis Claude."}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 10, "output_tokens": 5},
                },
            ),
        ),
        [
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Say hello in French"},
        ],
    )

    tools = make_trace(model="gpt-4o", epoch_s=BASE_EPOCH + 240, text="", latency_ms=640.0)
    tools = _messages(
        msgspec.structs.replace(
            tools,
            id=TOOLS,
            response={
                "object": "chat.completion",
                "model": "gpt-4o",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_2",
                                    "type": "function",
                                    "function": {
                                        "name": "get_forecast",
                                        "arguments": '{"city": "Lyon", "days": 3}',
                                    },
                                }
                            ],
                        },
                    }
                ],
            },
        ),
        [
            {"role": "user", "content": "Weather in Paris, then the forecast for Lyon?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 18}'},
        ],
        tools=[
            {
                "type": "function",
                "function": {"name": "get_weather", "description": "Current weather of a city"},
            },
            {
                "type": "function",
                "function": {"name": "get_forecast", "description": "Forecast for some days"},
            },
        ],
    )

    ollama = make_trace(
        model="llama3",
        provider="ollama",
        epoch_s=BASE_EPOCH + 300,
        streaming=True,
        text="local llama says hi",
    )
    ollama = _messages(
        msgspec.structs.replace(ollama, id=OLLAMA, route="passthrough"),
        [{"role": "user", "content": "Greet me, llama"}],
    )
    return [plain, stream, error, anthropic, tools, ollama]

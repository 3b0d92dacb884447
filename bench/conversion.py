"""Cost per event of the converted route's hot path, against the plain OpenAI route's, in the
same process.

    python bench/conversion.py [--repeat 200]

For each provider's recorded stream (the mock upstream's transcripts), it times what the proxy
does per upstream read on the event loop: framing (SSE or NDJSON), recording each event
(timing + JSON decode) and, on the converted route, converting it to OpenAI chunks, feeding
the accumulator and encoding the chunks sent to the app. The baseline is the OpenAI route on
OpenAI's own 302-event stream (framing + record + accumulate, bytes relayed as read).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import msgspec

from traceforge_proxy.exchange import Exchange
from traceforge_proxy.mock_upstream import LONG_TEXT_STREAM, transcript_bytes
from traceforge_proxy.ndjson import NDJSONParser
from traceforge_proxy.providers import adapter_for
from traceforge_proxy.sse import SSEParser
from traceforge_proxy.testing import make_exchange

STREAMS = {
    "anthropic": "anthropic/stream-text.sse",
    "anthropic (tools)": "anthropic/stream-tool-use.sse",
    "gemini": "gemini/stream-text.sse",
    "ollama": "ollama/chat-stream.ndjson",
    "cohere": "cohere/chat-stream.sse",
}


def _exchange() -> Exchange:
    exchange = make_exchange()
    exchange.streaming = True
    return exchange


def openai_route(data: bytes) -> tuple[float, int]:
    exchange = _exchange()
    start = time.perf_counter()
    events = SSEParser().feed(data)
    for i, event in enumerate(events):
        exchange.add_event(event, i, withhold_usage_chunk=False)
    return time.perf_counter() - start, len(events)


def converted_route(provider: str, data: bytes) -> tuple[float, int]:
    exchange = _exchange()
    exchange.route = "converted"
    adapter = adapter_for(provider.split(" ")[0])
    assert adapter is not None
    exchange.adapter = adapter
    exchange.converter = adapter.stream_converter(model="m", created=0, include_usage=True)
    parser = NDJSONParser() if provider == "ollama" else SSEParser()
    start = time.perf_counter()
    events = parser.feed(data) + parser.close()
    out = b""
    for i, event in enumerate(events):
        for chunk in exchange.add_native_event(event, i):
            out += b"data: " + msgspec.json.encode(chunk) + b"\n\n"
    return time.perf_counter() - start, len(events)


def per_event_us(func: Callable[[], tuple[float, int]], repeat: int) -> float:
    """Median over ``repeat`` runs of the per-event time (set-up excluded), in µs."""
    samples = []
    for _ in range(repeat):
        elapsed, events = func()
        samples.append(elapsed / events * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    baseline_data = transcript_bytes(LONG_TEXT_STREAM)
    baseline = per_event_us(lambda: openai_route(baseline_data), args.repeat)
    print(f"conversion.py (median of {args.repeat} runs per stream)")
    print(f"  baseline: OpenAI route, 302 events   {baseline:6.1f} µs/event")
    for provider, name in STREAMS.items():
        data = transcript_bytes(name)
        cost = per_event_us(lambda d=data, p=provider: converted_route(p, d), args.repeat)  # type: ignore[misc]
        print(f"  {provider:<18} converted          {cost:6.1f} µs/event  {cost / baseline:4.2f}x")


if __name__ == "__main__":
    main()

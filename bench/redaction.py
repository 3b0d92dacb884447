"""Cost of redaction per chunk, against the baseline of saving the same trace unredacted, in
the same process.

    python bench/redaction.py [--repeat 30]

Traces are built the way the proxy builds them (SSE framing, Exchange.add_event, to_trace)
from the bundled real transcripts: a 302-chunk 2026 OpenAI stream, the 34-chunk 2024 one,
and the 302-chunk one with planted secrets and PII in its deltas. Redaction runs in the trace
writer thread, not in the chunk loop, but it takes the GIL from the event loop, so its cost
per chunk is what to watch.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time

import msgspec

from traceforge_proxy.mock_upstream import LONG_TEXT_STREAM, TEXT_STREAM, transcript_bytes
from traceforge_proxy.sse import SSEParser
from traceforge_proxy.testing import make_exchange
from traceforge_shared.redact import Redactor
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

PLANTED = " mail bob@example.com, key sk-proj-FAKE0123456789abcdefghij, call +1 415 555 2671"


def build(name: str, plant: bool) -> Trace:
    parser = SSEParser()
    exchange = make_exchange()
    exchange.streaming = True
    for i, event in enumerate(parser.feed(transcript_bytes(name))):
        if plant and event.data and b'"content":"' in event.data and i % 50 == 5:
            payload = msgspec.json.decode(event.data)
            payload["choices"][0]["delta"]["content"] += PLANTED
            event = event._replace(data=msgspec.json.encode(payload))
        exchange.add_event(event, i * 1_000_000, withhold_usage_chunk=False)
    return exchange.to_trace()


def timed(func, traces: list[Trace]) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for trace in traces:
        func(trace)
    return (time.perf_counter() - start) / len(traces) * 1000


def main(repeat: int) -> None:
    redactor = Redactor()
    with tempfile.TemporaryDirectory() as home:
        store = TraceStore(home, fsync=False)
        for label, name, plant in (
            ("2024 stream", TEXT_STREAM, False),
            ("2026 stream", LONG_TEXT_STREAM, False),
            ("2026 stream + planted PII", LONG_TEXT_STREAM, True),
        ):
            trace = build(name, plant)
            chunks = len(trace.chunks)
            saves, redactions = [], []
            for _ in range(repeat):
                copies = [copy.deepcopy(trace) for _ in range(5)]
                saves.append(timed(store.save, copies))
                copies = [copy.deepcopy(trace) for _ in range(5)]
                redactions.append(timed(redactor.before_save, copies))
            save, red = statistics.median(saves), statistics.median(redactions)
            print(
                f"{label:<28} {chunks:4d} chunks  save {save:6.2f} ms  redact {red:6.2f} ms  "
                f"= {red / chunks * 1000:5.1f} µs/chunk, {red / save:4.2f}x the save"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    main(parser.parse_args().repeat)

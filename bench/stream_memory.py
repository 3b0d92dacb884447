"""Memory the proxy holds per stored chunk while a stream is open (issue #21's target: at most
0.35 KB), measured exactly with ``tracemalloc`` instead of the load harness's noisy RSS.

    python bench/stream_memory.py [--chunks 5000] [--per-read 1,8,32]

An OpenAI streaming answer of ``--chunks`` ``chat.completion.chunk`` events (~166 bytes each,
about the load harness's size) goes through the proxy's relay as the proxy relays it
(:func:`traceforge_proxy.relay.start_relay` on a fresh
:class:`~traceforge_proxy.exchange.Exchange`, raw route, no ``chunk`` hook listening), in
reads of ``--per-read`` events each: one event a read as a slow model sends them, several
when the upstream's sends come in bursts (``proxy.stream_coalesce_ms``). Each read is a new
bytes object made while ``tracemalloc`` traces, as a socket read is; what is still allocated
once the last event went through, before the call ends (the reads the exchange keeps for the
trace builder, their arrival times; past ``proxy.chunk_cap`` events, the framed events) is
divided by the chunks stored. A last row passes the chunk cap halfway (``chunk_cap`` =
chunks / 2), where the relay switches from keeping reads to framing events on the loop. The
baseline in the same run is the bytes of the events themselves: the ratio says what the
bookkeeping adds to the data.

Prints a table; ``--json`` prints the rows as JSON. Exit 1 when a row is over the target.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import tracemalloc

import msgspec

from traceforge_proxy.plan import ForwardingPlan, Target
from traceforge_proxy.relay import start_relay
from traceforge_proxy.testing import make_exchange

#: Issue #21's bound: bytes held per stored chunk while a stream is open.
TARGET_BYTES = 350


def events(chunks: int) -> list[bytes]:
    """``chunks`` SSE events shaped like the load harness's (one token of text each)."""
    out = []
    for index in range(chunks):
        payload = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "gpt-bench-sse",
            "choices": [{"index": 0, "delta": {"content": f"tok{index:06d} "}}],
        }
        out.append(b"data: " + msgspec.json.encode(payload) + b"\n\n")
    return out


def held_per_chunk(stream: list[bytes], per_read: int, chunk_cap: int) -> tuple[float, int]:
    """Relay ``stream`` in reads of ``per_read`` events and return the bytes still allocated
    per stored chunk while the call is open, and the chunks stored."""
    blob = b"".join(stream)
    ends = [0]
    for index in range(per_read, len(stream) + per_read, per_read):
        ends.append(ends[-1] + sum(len(e) for e in stream[index - per_read : index]))
    exchange = make_exchange(
        request_body=b'{"model": "gpt-bench-sse", "stream": true}', chunk_cap=chunk_cap
    )
    plan = ForwardingPlan(Target("openai"), "POST", "http://upstream/v1", {}, b"{}", "raw")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    exchange.sending(plan, 1_000)
    exchange.headers_received(200, [("Content-Type", "text/event-stream")], 2_000, 1_700)
    relay = start_relay(plan, exchange, "sse", 200, 1_700, keep_reads=True)
    now = 3_000
    for start, end in itertools.pairwise(ends):
        relay.feed(blob[start:end], now)  # a new bytes object, as a socket read makes
        now += 1_000
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    relay.close(now)
    stored = exchange.chunks_stored
    return held / max(stored, 1), stored


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 if a row is over :data:`TARGET_BYTES`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=5_000)
    parser.add_argument("--per-read", default="1,8,32", help="events per read, comma-separated")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    stream = events(args.chunks)
    event_bytes = sum(len(e) for e in stream) / len(stream)
    rows = []
    cases = [(int(n), 10_000) for n in args.per_read.split(",")] + [(1, args.chunks // 2)]
    for per_read, chunk_cap in cases:
        per_chunk, stored = held_per_chunk(stream, per_read, chunk_cap)
        rows.append(
            {
                "events_per_read": per_read,
                "chunk_cap": chunk_cap,
                "chunks_stored": stored,
                "bytes_per_chunk": round(per_chunk, 1),
                "event_bytes": round(event_bytes, 1),
                "ratio_to_event": round(per_chunk / event_bytes, 2),
                "target_bytes": TARGET_BYTES,
                "met": per_chunk <= TARGET_BYTES,
            }
        )
    if args.json:
        print(msgspec.json.encode(rows).decode())
    else:
        print(f"{args.chunks} events of {event_bytes:.0f} bytes; target {TARGET_BYTES} B/chunk")
        print(
            f"{'events/read':>12} {'chunk_cap':>10} {'stored':>8} {'B/chunk':>8} "
            f"{'x event':>8} {'met':>5}"
        )
        for row in rows:
            print(
                f"{row['events_per_read']:>12} {row['chunk_cap']:>10} {row['chunks_stored']:>8} "
                f"{row['bytes_per_chunk']:>8.0f} {row['ratio_to_event']:>8.2f} "
                f"{'yes' if row['met'] else 'NO':>5}"
            )
    return 0 if all(row["met"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

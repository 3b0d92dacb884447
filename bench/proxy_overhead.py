"""Proxy overhead on streams: the same requests straight to the upstream and through the
proxy, interleaved in rounds in one process, reported as ratios against the direct baseline.

    python bench/proxy_overhead.py [--rounds 7] [--requests 50] [--chunks 200]

The upstream is a loopback aiohttp app streaming ``--chunks`` OpenAI-style chunks with no
delay, so the numbers are the proxy's own cost (framing, timing, JSON decode, accumulation,
writing to the client, trace building and saving in the writer thread), not network time.
Not a substitute for the multi-process harness of the benchmarks issue (separate load
generator, pinned cores, peers): a quick check that a change did not slow the hot path.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

import aiohttp
import msgspec
from aiohttp import web

from traceforge_proxy.runner import ProxyService
from traceforge_proxy.upstream import Upstream
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore


def upstream_app(chunks: int) -> web.Application:
    payload = [
        b"data: "
        + msgspec.json.encode(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "gpt-bench",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": f" tok{i}"},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
            }
        )
        + b"\n\n"
        for i in range(chunks)
    ]
    payload.append(
        b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,'
        b'"model":"gpt-bench","choices":[],"usage":{"prompt_tokens":5,'
        b'"completion_tokens":%d,"total_tokens":%d}}\n\n' % (chunks, chunks + 5)
    )
    payload.append(b"data: [DONE]\n\n")

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in payload:
            await response.write(event)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    return app


async def one(session: aiohttp.ClientSession, url: str) -> tuple[float, float, int]:
    body = {
        "model": "gpt-bench",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    start = time.perf_counter()
    first = None
    size = 0
    async with session.post(f"{url}/chat/completions", json=body) as response:
        async for data in response.content.iter_any():
            if first is None:
                first = time.perf_counter()
            size += len(data)
    end = time.perf_counter()
    return ((first or end) - start) * 1000, (end - start) * 1000, size


async def main(rounds: int, requests: int, chunks: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        config = Config()
        config.proxy.port = 0
        store = TraceStore(home, fsync=False)
        upstream = Upstream(
            provider="openai", base_url=None, api_key=None, inject_stream_usage=False, mock=False
        )
        service = ProxyService(config, upstream, store, upstream_app=upstream_app(chunks))
        await service.start()
        direct = service.upstream.base_url or ""
        results: dict[str, list[tuple[float, float]]] = {"direct": [], "proxy": []}
        round_medians: dict[str, list[float]] = {"direct": [], "proxy": []}
        async with aiohttp.ClientSession() as session:
            await one(session, direct)
            await one(session, service.url)  # warm up both paths
            for _ in range(rounds):
                for name, url in (("direct", direct), ("proxy", service.url)):
                    totals = []
                    for _ in range(requests):
                        ttfb, total, size = await one(session, url)
                        results[name].append((ttfb, total))
                        totals.append(total)
                    round_medians[name].append(statistics.median(totals))
        await service.stop()
        saved = store.count()

    def med(name: str, i: int) -> float:
        return statistics.median(r[i] for r in results[name])

    print(
        f"{rounds} rounds x {requests} streams of {chunks} chunks ({size} bytes each); "
        f"{saved} traces saved"
    )
    for label, i in (("time to first byte", 0), ("whole stream", 1)):
        d, p = med("direct", i), med("proxy", i)
        print(
            f"{label:>20}: direct {d:7.2f} ms  proxy {p:7.2f} ms  "
            f"ratio {p / d:5.2f}x  added {p - d:+.2f} ms"
        )
    spread = [p / d for d, p in zip(round_medians["direct"], round_medians["proxy"], strict=True)]
    print(
        f"{'round ratio spread':>20}: min {min(spread):.2f}x  median "
        f"{statistics.median(spread):.2f}x  max {max(spread):.2f}x"
    )
    per_chunk = (med("proxy", 1) - med("direct", 1)) / (chunks + 2) * 1000
    print(f"{'added per chunk':>20}: {per_chunk:.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.requests, args.chunks))

"""The load generator: a separate process that runs jobs sent on stdin, one JSON line each, and
answers one JSON line of results per job.

    python -m harness.loadgen          # then write jobs to its stdin

A job (:class:`Job`) is a closed loop: ``concurrency`` workers send ``requests`` chat
completion requests for one profile to ``url`` (an OpenAI-compatible ``/v1`` base), after
``warmup`` unmeasured ones. Per request it measures the time to first byte (response headers
received, ms), the time to first token (first content chunk, ms), the total time (ms) and, for
each content chunk, its delay: arrival time minus the send time the fake upstream wrote into
the chunk (ms, one ``CLOCK_MONOTONIC`` for both processes). It checks every stream: each chunk
sequence number once and in order, and the ``[DONE]`` event; a missing chunk is counted as
lost, never skipped.
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import time
from collections import Counter
from typing import Any

import aiohttp
import msgspec

from harness.profiles import (
    FAULT_CHUNKS,
    PROFILES,
    Profile,
    fault_for,
    from_letters,
    profile_for,
)
from harness.stats import summary

_STAMP = re.compile(rb'"content":\s*"([a-z]+):([a-z]+) ')


class Job(msgspec.Struct, kw_only=True):
    """One closed-loop load run.

    Attributes:
        url: OpenAI-compatible API base, e.g. ``http://127.0.0.1:8787/v1``.
        profile: a name from :data:`harness.profiles.PROFILES`.
        concurrency: requests in flight at once.
        requests: measured requests.
        warmup: unmeasured requests sent first (connections opened, caches warm).
        timeout_s: limit on one whole request, in seconds.
        model: model name to send instead of the profile's.
        mix: model name -> weight: each request picks its model at random (seeded), for mixed
            loads with injected faults (``gpt-fault-<kind>``, streamed); overrides ``model``.
        duration_s: run for this long instead of ``requests`` requests.
        max_s: send no new request after this many seconds (fewer than ``requests`` then:
            bounds a round on a slow system).
        seed: of the random choice of ``mix``.
    """

    url: str
    profile: str
    concurrency: int = 1
    requests: int = 200
    warmup: int = 0
    timeout_s: float = 120.0
    model: str | None = None
    mix: dict[str, int] | None = None
    duration_s: float | None = None
    max_s: float | None = None
    seed: int = 0


class _Sample(msgspec.Struct):
    ttfb_ms: float
    ttft_ms: float | None
    total_ms: float
    delays_ms: list[float]
    lost: int
    error: str | None
    model: str = ""


def _body(profile: Profile, model: str, stream: bool) -> bytes:
    request: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "stream": stream,
    }
    size = len(msgspec.json.encode(request))
    pad = profile.request_kb * 1024 - size - 60
    if pad > 0:
        filler = ("lorem ipsum dolor sit amet " * (pad // 27 + 1))[:pad]
        request["messages"].insert(0, {"role": "system", "content": filler})
    return msgspec.json.encode(request)


async def _one(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    stream: bool,
    chunks: int,
    timeout_s: float,
) -> _Sample:
    start = time.monotonic_ns()
    ttft: float | None = None
    delays: list[float] = []
    try:
        async with asyncio.timeout(timeout_s):
            async with session.post(url, data=body) as response:
                ttfb = (time.monotonic_ns() - start) / 1e6
                if response.status != 200:
                    await response.read()
                    return _Sample(ttfb, None, ttfb, [], 0, f"http {response.status}")
                if not stream:
                    payload = await response.read()
                    total = (time.monotonic_ns() - start) / 1e6
                    ok = b'"choices"' in payload
                    return _Sample(ttfb, None, total, [], 0, None if ok else "bad body")
                expected = 0
                lost = 0
                done = False
                async for line in response.content:
                    if not line.startswith(b"data:"):
                        continue
                    now = time.monotonic_ns()
                    match = _STAMP.search(line)
                    if match is None:
                        done = done or line.startswith(b"data: [DONE]")
                        continue
                    seq = from_letters(match[1])
                    if ttft is None:
                        ttft = (now - start) / 1e6
                    delays.append((now - from_letters(match[2])) / 1e6)
                    if seq != expected:
                        lost += abs(seq - expected)
                    expected = seq + 1
                lost += max(0, chunks - expected)
                total = (time.monotonic_ns() - start) / 1e6
                error = None if done and not lost else ("lost chunks" if lost else "no [DONE]")
                return _Sample(ttfb, ttft, total, delays, lost, error)
    except TimeoutError:
        elapsed = (time.monotonic_ns() - start) / 1e6
        return _Sample(elapsed, ttft, elapsed, delays, 0, "timeout")
    except aiohttp.ClientError as exc:
        elapsed = (time.monotonic_ns() - start) / 1e6
        return _Sample(elapsed, ttft, elapsed, delays, 0, type(exc).__name__)


def _requests(job: Job) -> dict[str, tuple[bytes, bool, int]]:
    """Model -> (request body, streamed, chunks expected) for every model the job sends."""
    profile = PROFILES[job.profile]
    models = list(job.mix) if job.mix else [job.model or profile.model]
    out = {}
    for model in models:
        fault = fault_for(model)
        of_model = profile_for(model) or profile
        stream = True if fault else of_model.stream
        chunks = FAULT_CHUNKS if fault else of_model.chunks
        body = _body(of_model, model, stream)
        out[model] = (body, stream, chunks)
    return out


async def run_job(job: Job) -> dict[str, Any]:
    """Run one job; returns its results as a JSON-ready dict (times in ms, rates per second,
    ``by_model``: per model, requests sent, errors by kind and chunks lost)."""
    url = job.url.rstrip("/") + "/chat/completions"
    bodies = _requests(job)
    models = list(bodies)
    weights = [job.mix[m] for m in models] if job.mix else None
    rng = random.Random(job.seed)
    connector = aiohttp.TCPConnector(limit=job.concurrency, force_close=False)
    headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
    samples: list[_Sample] = []
    cutoff: float | None = None
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker(todo: list[int], keep: bool, until: float | None) -> None:
            while (until is None and todo) or (until is not None and time.monotonic() < until):
                if until is None:
                    todo.pop()
                if keep and cutoff is not None and time.monotonic() > cutoff:
                    return
                model = rng.choices(models, weights)[0] if weights else models[0]
                body, stream, chunks = bodies[model]
                sample = await _one(session, url, body, stream, chunks, job.timeout_s)
                sample.model = model
                if keep:
                    samples.append(sample)

        if job.warmup:
            todo = list(range(job.warmup))
            await asyncio.gather(*(worker(todo, False, None) for _ in range(job.concurrency)))
        todo = list(range(job.requests))
        until = None if job.duration_s is None else time.monotonic() + job.duration_s
        cutoff = None if job.max_s is None else time.monotonic() + job.max_s
        started = time.perf_counter()
        await asyncio.gather(*(worker(todo, True, until) for _ in range(job.concurrency)))
        wall = time.perf_counter() - started
    errors = Counter(s.error for s in samples if s.error)
    delays = [d for s in samples for d in s.delays_ms]
    by_model: dict[str, dict[str, Any]] = {}
    for s in samples:
        entry = by_model.setdefault(s.model, {"sent": 0, "errors": {}, "lost_chunks": 0})
        entry["sent"] += 1
        entry["lost_chunks"] += s.lost
        if s.error:
            entry["errors"][s.error] = entry["errors"].get(s.error, 0) + 1
    return {
        "profile": job.profile,
        "concurrency": job.concurrency,
        "requests": len(samples),
        "sent": job.warmup + len(samples),
        "ok": len(samples) - sum(errors.values()),
        "errors": dict(errors),
        "lost_chunks": sum(s.lost for s in samples),
        "chunks": len(delays),
        "wall_s": wall,
        "rps": len(samples) / wall if wall else None,
        "ttfb_ms": summary([s.ttfb_ms for s in samples]),
        "ttft_ms": summary([s.ttft_ms for s in samples if s.ttft_ms is not None]),
        "total_ms": summary([s.total_ms for s in samples]),
        "chunk_delay_ms": summary(delays),
        "by_model": by_model,
    }


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        job = msgspec.json.decode(line, type=Job)
        result = await run_job(job)
        sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(_serve())

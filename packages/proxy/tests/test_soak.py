"""Reduced soak: many calls at once through the official SDK with a mix of upstream faults, and
a ``traceforge start`` process killed under load (the 10-minute soak lives in ``bench/``).

No assertion is about time: the only timeout is the proxy's read timeout, which the stalling
upstream exceeds on purpose, and the waits for a subprocess have deadlines so a hang fails.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import importlib.util
import os
import random
import re
import signal
import socket
import struct
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.server import TRACE_ID_HEADER
from traceforge_proxy.testing import saved_traces, transcript_chunks, upstream_app
from traceforge_proxy.upstream import KEY_ENVS
from traceforge_shared.store import TraceStore
from traceforge_shared.store.files import encode_trace, read_trace_file
from traceforge_shared.trace import Trace

from .conftest import MakeProxy, Sdk

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
SSE = "text/event-stream; charset=utf-8"

#: The stream an app gets: no usage chunk, ``[DONE]`` last.
EVENTS = transcript_chunks()
#: The stream the upstream sends when asked for usage (the proxy asks on the app's behalf).
WITH_USAGE = transcript_chunks(include_usage=True)
(USAGE_CHUNK,) = [raw for raw in WITH_USAGE if raw not in EVENTS]
TOTAL_TOKENS = msgspec.json.decode(USAGE_CHUNK[len(b"data: ") :])["usage"]["total_tokens"]
TEXT = "".join(
    choice["delta"].get("content") or ""
    for raw in EVENTS[:-1]
    for choice in msgspec.json.decode(raw[len(b"data: ") :])["choices"]
)

SERVER_ERROR = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
RATE_LIMITED = {
    "error": {
        "message": "Rate limit reached for gpt-4o on requests per min (RPM): Limit 500.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
#: Broken events a misbehaving upstream mixes into a stream: ``(bytes, the chunk's raw text as
#: the trace keeps it, or None when the event has no data and so is no chunk)``.
JUNK: list[tuple[bytes, str | None]] = [
    (b"data: {this is not json\n\n", "{this is not json"),
    (b'data: {"id": "chatcmpl-cut", "choices": [\n\n', '{"id": "chatcmpl-cut", "choices": ['),
    (b"data: <html>502 Bad Gateway</html>\n\n", "<html>502 Bad Gateway</html>"),
    (b"no colon on this line\n\n", None),
]

#: ok: a whole stream; reset: the connection is reset (RST) after ``cut`` events; http500 and
#: http429: an OpenAI error body (429 with Retry-After); stall_headers: no answer at all;
#: stall_stream: silence after ``cut`` events; malformed: junk events mixed into a good stream.
KINDS = ("ok", "reset", "http500", "http429", "stall_headers", "stall_stream", "malformed")
#: The proxy's read timeout here: what ends the stalls, and long enough that no healthy call
#: meets it on a loaded CI machine (0.3 s did: a normal call got a 504 there).
READ_TIMEOUT_S = 2.0


@dataclasses.dataclass
class Call:
    """One request of the mixed run, and what the fake upstream does with it."""

    model: str
    kind: str
    cut: int = 0
    sent: list[bytes] = dataclasses.field(default_factory=list)
    junk: list[str] = dataclasses.field(default_factory=list)
    received: list[str] = dataclasses.field(default_factory=list)


def _plan(rng: random.Random, count: int) -> list[Call]:
    calls = []
    for i in range(count):
        call = Call(f"gpt-soak-{i:02d}", rng.choice(KINDS))
        if call.kind in ("reset", "stall_stream"):
            call.cut = rng.randint(1, len(EVENTS) - 2)
        if call.kind == "malformed":
            call.sent = list(WITH_USAGE)
            for raw, _ in rng.sample(JUNK, rng.randint(2, len(JUNK))):
                call.sent.insert(rng.randint(1, len(call.sent) - 1), raw)  # never after [DONE]
            call.junk = [text for raw in call.sent if (text := dict(JUNK).get(raw))]
        calls.append(call)
    return calls


async def _until(condition: Callable[[], bool], interval_s: float = 0.001) -> None:
    """Wait until ``condition()`` holds (state no event signals: buffers, files on disk); fail
    after 30 s, so a hang is reported rather than waited out."""
    for _ in range(int(30 / interval_s)):
        if condition():
            return
        await asyncio.sleep(interval_s)
    raise AssertionError(f"gave up waiting for {condition}")


async def _reset(request: web.Request) -> None:
    """Reset the connection (TCP RST: SO_LINGER 0, then close), as a crashed upstream host
    would, once all that was written is with the kernel (so the proxy gets those bytes, then
    the reset)."""
    transport = request.transport
    assert transport is not None
    await _until(lambda: transport.get_write_buffer_size() == 0)
    transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    transport.abort()


async def _drive(client: openai.AsyncOpenAI, call: Call) -> str:
    """Make ``call`` as an app would; check what the app gets; return the trace id the
    response named."""
    if call.kind in ("http500", "http429", "stall_headers"):
        with pytest.raises(openai.APIStatusError) as info:
            await client.chat.completions.create(model=call.model, messages=USER, stream=True)
        error = info.value
        expected = {
            "http500": (openai.InternalServerError, 500, "server_error"),
            "http429": (openai.RateLimitError, 429, "requests"),
            "stall_headers": (openai.InternalServerError, 504, "traceforge_proxy_error"),
        }[call.kind]
        assert (type(error), error.status_code, error.type) == expected, error
        if call.kind == "http500":
            assert error.body == SERVER_ERROR["error"]  # relayed as the upstream sent it
        if call.kind == "http429":
            assert error.code == "rate_limit_exceeded"
            assert error.response.headers["retry-after"] == "7"
        if call.kind == "stall_headers":
            assert error.code == "upstream_timeout"
        return error.response.headers[TRACE_ID_HEADER]
    if call.kind == "malformed":
        async with client.chat.completions.with_streaming_response.create(
            model=call.model, messages=USER, stream=True
        ) as response:
            received = b"".join([part async for part in response.iter_bytes()])
        # Forwarded as sent, junk included; only the usage chunk the proxy asked for is held.
        assert received == b"".join(raw for raw in call.sent if raw != USAGE_CHUNK)
        return response.headers[TRACE_ID_HEADER]

    stream = await client.chat.completions.create(model=call.model, messages=USER, stream=True)

    async def read_all() -> None:
        async for chunk in stream:
            call.received.append(chunk.choices[0].delta.content or "")

    if call.kind == "ok":
        await read_all()
        assert "".join(call.received) == TEXT
        assert len(call.received) == len(EVENTS) - 1  # every chunk but [DONE]
    else:  # the stream breaks off: the SDK must raise, not end as if complete
        with pytest.raises(openai.APIConnectionError):
            await read_all()
        assert len(call.received) == call.cut
    return stream.response.headers[TRACE_ID_HEADER]


def _check_trace(call: Call, trace: Trace) -> None:
    meta = trace.metadata
    assert trace.model == call.model
    assert trace.request["model"] == call.model
    assert meta.upstream_url is not None and meta.upstream_url.endswith("/v1/chat/completions")
    error = (meta.error.type, meta.error.message) if meta.error is not None else None
    if call.kind in ("ok", "malformed"):
        assert (meta.status, meta.status_code, error) == ("success", 200, None)
        assert meta.streaming
        assert trace.response["choices"][0]["message"]["content"] == TEXT
        assert trace.response["choices"][0]["finish_reason"] == "stop"
        assert meta.usage is not None and meta.usage.total_tokens == TOTAL_TOKENS
        # Every chunk stored, the usage chunk too (the only one not forwarded).
        sent = WITH_USAGE if call.kind == "ok" else call.sent
        chunks = [raw for raw in sent if raw.startswith(b"data:")]
        assert meta.chunks_received == len(chunks) == len(trace.chunks) == meta.chunks_buffered
        assert [c.forwarded for c in trace.chunks].count(False) == 1
        assert [c.raw for c in trace.chunks if c.data is None] == [*call.junk, "[DONE]"]
        if call.kind == "malformed":
            assert any("not JSON" in warning for warning in meta.warnings), meta.warnings
    elif call.kind in ("reset", "stall_stream"):
        kind = "upstream_disconnected" if call.kind == "reset" else "upstream_timeout"
        assert (meta.status, meta.status_code) == ("upstream_error", 200)
        assert error is not None and error[0] == kind
        assert meta.streaming
        assert meta.chunks_received == call.cut == len(trace.chunks)
        assert trace.response["choices"][0]["message"]["content"] == "".join(call.received)
    else:
        status, code, kind = {
            "http500": ("error", 500, "server_error"),
            "http429": ("error", 429, "rate_limit_exceeded"),
            "stall_headers": ("upstream_error", 504, "upstream_timeout"),
        }[call.kind]
        assert (meta.status, meta.status_code) == (status, code)
        assert error is not None and error[0] == kind
        assert not meta.streaming and meta.chunks_received == 0
        if call.kind == "http500":
            assert trace.response == SERVER_ERROR
        if call.kind == "http429":
            assert trace.response == RATE_LIMITED
            assert meta.response_headers["retry-after"] == "7"


async def test_mixed_faults_under_concurrency(make_proxy: MakeProxy, sdk: Sdk) -> None:
    """60 streaming calls, 20 at a time, each meeting a fault a seeded RNG picked: each gets
    the right answer or error through the SDK and exactly one trace recording what happened."""
    calls = _plan(random.Random(20240611), 60)
    assert set(KINDS) == {call.kind for call in calls}  # the seed draws every fault
    by_model = {call.model: call for call in calls}
    hits: collections.Counter[str] = collections.Counter()
    release = asyncio.Event()  # ends the stalled handlers once the test is over

    async def upstream(request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        call = by_model[payload["model"]]
        hits[call.model] += 1
        if call.kind == "http500":
            return web.json_response(SERVER_ERROR, status=500)
        if call.kind == "http429":
            return web.json_response(RATE_LIMITED, status=429, headers={"Retry-After": "7"})
        if call.kind == "stall_headers":
            await release.wait()
            return web.json_response({})
        asked = (payload.get("stream_options") or {}).get("include_usage") is True
        events = call.sent if call.kind == "malformed" else WITH_USAGE if asked else EVENTS
        if call.kind in ("reset", "stall_stream"):
            events = events[: call.cut]
        response = web.StreamResponse(headers={"Content-Type": SSE})
        await response.prepare(request)
        for event in events:
            await response.write(event)
            await asyncio.sleep(0)  # let the other calls interleave
        if call.kind == "reset":
            await _reset(request)
        elif call.kind == "stall_stream":
            await release.wait()
        else:
            await response.write_eof()
        return response

    service = await make_proxy(upstream_app(upstream), read_timeout_s=READ_TIMEOUT_S)
    client = sdk(service)
    gate = asyncio.Semaphore(20)

    async def one(call: Call) -> str:
        async with gate:
            return await _drive(client, call)

    try:
        trace_ids = await asyncio.gather(*(one(call) for call in calls))
    finally:
        release.set()
    assert hits == {call.model: 1 for call in calls}  # one upstream request per call: no retry
    traces = {trace.id: trace for trace in await saved_traces(service, expected=len(calls))}
    assert sorted(traces) == sorted(trace_ids)  # one trace per call: the one it was told of
    for call, trace_id in zip(calls, trace_ids, strict=True):
        _check_trace(call, traces[trace_id])
    assert [p.name for p in service.store.traces_dir.iterdir() if p.name.startswith(".")] == []


# -- a proxy process killed under load ------------------------------------------------------

TRACEFORGE = [sys.executable, "-m", "traceforge_cli.main"]
#: A write_atomic temp file (``.<id>.<random>.tmp``): what a write cut short leaves behind.
TEMP_FILE = re.compile(r"\.[0-9a-f]+\.[^.]+\.tmp")


@dataclasses.dataclass
class ProxyProcess:
    process: asyncio.subprocess.Process
    url: str
    log: Path


@pytest.fixture
async def start_cli_proxy(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[ProxyProcess]]]:
    """``await start_cli_proxy(home, upstream_url)``: ``traceforge start`` as a subprocess,
    returned once it listens; killed at teardown if still running."""
    started: list[ProxyProcess] = []
    keys = {name for names in KEY_ENVS.values() for name in names} | {"OLLAMA_HOST"}
    env = {k: v for k, v in os.environ.items() if k not in keys} | {"PYTHONUNBUFFERED": "1"}

    async def start(home: Path, upstream: str) -> ProxyProcess:
        log = tmp_path / f"proxy-{len(started)}.stderr"
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                *TRACEFORGE,
                "start",
                "--home",
                str(home),
                "--upstream",
                upstream,
                "--port",
                "0",
                "--no-api",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        started.append(ProxyProcess(process, "", log))
        assert process.stdout is not None
        async with asyncio.timeout(60):
            while line := await process.stdout.readline():
                if match := re.search(rb"listening on (http://\S+/v1)", line):
                    started[-1].url = match.group(1).decode()
                    return started[-1]
        raise AssertionError(f"traceforge start did not start: {log.read_text()}")

    yield start
    for proxy in started:
        if proxy.process.returncode is None:
            proxy.process.kill()
        await proxy.process.communicate()


def _trace_files(traces: Path) -> list[str]:
    try:
        return sorted(os.listdir(traces))
    except FileNotFoundError:
        return []


async def _stream_text(client: openai.AsyncOpenAI, model: str) -> str | None:
    """The text of a streamed answer; ``None`` if the stream broke off (the proxy died)."""
    text = ""
    try:
        async for chunk in await client.chat.completions.create(
            model=model, messages=USER, stream=True
        ):
            text += chunk.choices[0].delta.content or ""
    except openai.APIConnectionError:
        return None
    return text


@pytest.mark.skipif(
    importlib.util.find_spec("traceforge_cli") is None, reason="needs traceforge-cli"
)
async def test_sigkill_under_load_leaves_a_readable_store(tmp_path, start_cli_proxy) -> None:  # type: ignore[no-untyped-def]
    """``traceforge start`` is SIGKILLed with 30 streams in flight, 20 of them ending one after
    another, as soon as the first of their traces is on disk (the others being built, written
    or indexed). The store must then list exactly the whole trace files, every one readable,
    and the proxy restarted on the same home must record the next call and list it too."""
    home = tmp_path / "home"
    traces = home / "traces"
    done = [f"gpt-done-{i:02d}" for i in range(20)]  # streams the upstream completes
    live = [f"gpt-live-{i:02d}" for i in range(10)]  # streams still running at the kill
    streaming: set[str] = set()
    all_streaming = asyncio.Event()
    finish = asyncio.Event()
    stop = asyncio.Event()

    async def upstream(request: web.Request) -> web.StreamResponse:
        model = (await request.json())["model"]
        response = web.StreamResponse(headers={"Content-Type": SSE})
        await response.prepare(request)
        try:
            if model in done or model in live:
                await response.write(b"".join(EVENTS[:2]))
                streaming.add(model)
                if len(streaming) == len(done) + len(live):
                    all_streaming.set()
            if model in live:
                while not stop.is_set():  # until the proxy is gone
                    await response.write(EVENTS[1])
                    await asyncio.sleep(0.02)
                return response
            if model in done:
                await finish.wait()
                # One after another, so the writer is kept busy rather than given one batch.
                await asyncio.sleep(0.005 * done.index(model))
            for event in EVENTS[2:] if model in done else EVENTS:
                await response.write(event)
            await response.write_eof()
        except ConnectionError:  # the proxy was killed
            pass
        return response

    server = TestServer(upstream_app(upstream), host="127.0.0.1")
    await server.start_server()
    upstream_url = str(server.make_url("/v1"))
    try:
        proxy = await start_cli_proxy(home, upstream_url)
        async with openai.AsyncOpenAI(
            base_url=proxy.url, api_key="sk-soak", max_retries=0
        ) as client:
            # A first call, saved and indexed before the load: at the kill the index exists
            # and lags behind the files, rather than not existing yet.
            assert await _stream_text(client, "gpt-warmup") == TEXT
            reader = TraceStore(home)
            await _until(lambda: len(reader.list()) == 1, interval_s=0.005)
            calls = {
                model: asyncio.create_task(_stream_text(client, model)) for model in done + live
            }
            async with asyncio.timeout(30):
                await all_streaming.wait()
            finish.set()
            await _until(lambda: sum(n[0] != "." for n in _trace_files(traces)) > 1)
            proxy.process.kill()
            assert await proxy.process.wait() == -signal.SIGKILL
            texts = {model: await task for model, task in calls.items()}
        assert all(texts[model] is None for model in live)  # cut off by the kill, not completed
        assert all(texts[model] in (TEXT, None) for model in done)

        # What the kill left on disk: whole trace files, and maybe temp files of writes it cut
        # short; a torn trace file under its final name would be a bug.
        names = _trace_files(traces)
        complete = {name.removesuffix(".json") for name in names if name[0] != "."}
        assert len(complete) > 1, names
        for name in names:
            assert TEMP_FILE.fullmatch(name) or name.endswith(".json"), names
        for trace_id in complete:
            read_trace_file(traces / f"{trace_id}.json")
        # Whether this kill cut a write short is down to timing: leave a torn temp file as it
        # would, so the store is always shown one.
        some = read_trace_file(traces / f"{min(complete)}.json")
        torn = encode_trace(msgspec.structs.replace(some, id="f" * 24))
        (traces / f".{'f' * 24}.k1ll3d.tmp").write_bytes(torn[: len(torn) // 2])

        store = TraceStore(home)  # a reader opening the home after the crash
        summaries = store.list(limit=None)
        assert {s.id for s in summaries} == complete  # every whole trace, nothing else
        assert store.count() == len(complete)
        for summary in summaries:
            trace = store.get(summary.id)
            assert trace.model in [*done, "gpt-warmup"]
            assert trace.metadata.status == "success" and trace.metadata.streaming
            assert trace.response["choices"][0]["message"]["content"] == TEXT
            assert trace.metadata.chunks_received == len(EVENTS) == len(trace.chunks)

        # Restarted on the same home, the proxy records the next call, listed with the rest.
        stop.set()
        proxy = await start_cli_proxy(home, upstream_url)
        async with openai.AsyncOpenAI(
            base_url=proxy.url, api_key="sk-soak", max_retries=0
        ) as client:
            assert await _stream_text(client, "gpt-after-restart") == TEXT
        proxy.process.send_signal(signal.SIGINT)  # it stops once every trace is saved
        out, _ = await proxy.process.communicate()
        stderr = proxy.log.read_text()
        assert proxy.process.returncode == 0, stderr
        assert b"stopped" in out
        assert "Traceback" not in stderr and "could not save" not in stderr, stderr
    finally:
        stop.set()
        await server.close()
    after = TraceStore(home)
    newest, *rest = after.list(limit=None)
    assert newest.model == "gpt-after-restart" and newest.status == "success"
    assert {s.id for s in rest} == complete
    assert after.get(newest.id).response["choices"][0]["message"]["content"] == TEXT


@pytest.mark.skipif(
    importlib.util.find_spec("traceforge_cli") is None, reason="needs traceforge-cli"
)
async def test_sigterm_saves_the_call_in_flight(tmp_path, start_cli_proxy) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM (``kill``, systemd, ``docker stop``) stops ``traceforge start`` like Ctrl-C:
    the call still streaming is cut, recorded, and saved before the process exits 0."""
    home = tmp_path / "home"
    streaming = asyncio.Event()
    stop = asyncio.Event()

    async def upstream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": SSE})
        await response.prepare(request)
        try:
            await response.write(b"".join(EVENTS[:2]))
            streaming.set()
            while not stop.is_set():  # never finishes on its own
                await response.write(EVENTS[1])
                await asyncio.sleep(0.02)
        except ConnectionError:
            pass
        return response

    server = TestServer(upstream_app(upstream), host="127.0.0.1")
    await server.start_server()
    try:
        proxy = await start_cli_proxy(home, str(server.make_url("/v1")))
        async with openai.AsyncOpenAI(
            base_url=proxy.url, api_key="sk-soak", max_retries=0
        ) as client:
            call = asyncio.create_task(_stream_text(client, "gpt-in-flight"))
            await asyncio.wait_for(streaming.wait(), 30)
            proxy.process.send_signal(signal.SIGTERM)
            out, _ = await proxy.process.communicate()
            assert await call is None  # the app saw the stream break off
    finally:
        stop.set()
        await server.close()
    assert proxy.process.returncode == 0, proxy.log.read_text()
    assert b"stopped" in out
    (summary,) = TraceStore(home).list(limit=None)
    trace = TraceStore(home).get(summary.id)
    assert trace.model == "gpt-in-flight"
    assert trace.metadata.streaming and trace.metadata.chunks_received >= 2
    assert trace.metadata.status != "success"

"""Cassettes under faults: secrets in bodies that are not UTF-8 (binary audio, latin-1
text) never reach disk, in the cassette or the trace store; answers broken off part way (the
upstream dying mid-stream, the app hanging up) are recorded with their break and replayed
the same way. Driven by the official openai SDK (and a raw aiohttp client where the bytes
and read boundaries matter) against fake upstreams on real sockets."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import openai
import pytest
from aiohttp import web
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.modes import REPLAY_REDACTED_HEADER, REPLAYED_FROM_HEADER
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import saved_traces, transcript_chunks, upstream_app
from traceforge_proxy.testing_cassettes import socket_guard
from traceforge_shared.cassettes import Cassette
from traceforge_shared.store import TraceStore

# The ``start`` fixture is shared with the routes tests.
_spec = importlib.util.spec_from_file_location(
    "cassette_routes", Path(__file__).with_name("test_cassette_routes.py")
)
assert _spec is not None and _spec.loader is not None
routes = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("cassette_routes", routes)
_spec.loader.exec_module(routes)
start = routes.start
Start = Callable[..., Awaitable[ProxyService]]

OPENAI_KEY = "sk-proj-" + "Zq8Lr2Vn6Tx4Pb0Hc7Jm3Wd5Ky9Fs1Ga"
AWS_KEY = "AKIA" + "Z7Q2MX4LPW9RT3KB"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
SSE_LATIN1 = "text/event-stream; charset=iso-8859-1"


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _leaks(root: Path, secrets: tuple[bytes, ...]) -> list[str]:
    """Every file under ``root`` holding one of ``secrets``, as is or in a cassette read
    (base64 included, decoded)."""
    found = [str(p) for p in _files_under(root) if any(s in p.read_bytes() for s in secrets)]
    for directory in {p.parent for p in root.rglob("*.yaml")}:
        cassette = Cassette(directory.name, directory.parent.parent)
        for path, interaction in cassette.interactions():
            body = b"".join(r.data for r in interaction.response.body_reads())
            if any(s in body for s in secrets):
                found.append(f"{path} (decoded)")
    return found


# -- secrets in bodies that are not UTF-8 ---------------------------------------------------

#: An MP3 frame header and binary filler around two keys, each right next to bytes that are
#: letters in latin-1 (0xE9, 0xAA): not UTF-8, and not text.
SPEECH = (
    b"ID3\x04\x00\x00\x00\x00\x00\x0f\xff\xfb\x90\xc4\x00\x00\xe9"
    + AWS_KEY.encode()
    + b"\xaa\x00\x01\x02\xff\xfe"
    + OPENAI_KEY.encode()
    + b"\x00\x80\x81\xc3\x28"
)


async def _speech_upstream(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=SPEECH, headers={"Content-Type": "audio/mpeg"})


async def _speech(service: ProxyService) -> tuple[bytes, dict[str, str]]:
    async with openai.AsyncOpenAI(base_url=service.url, api_key="sk-test", max_retries=0) as sdk:
        raw = await sdk.audio.speech.with_raw_response.create(
            model="gpt-4o-mini-tts", voice="alloy", input="hi"
        )
        return raw.content, dict(raw.headers)


async def test_keys_in_a_binary_answer_never_reach_disk(start: Start, store: TraceStore) -> None:
    recorder = await start("record", upstream_app=upstream_app(_speech_upstream))
    live, _ = await _speech(recorder)
    assert live == SPEECH  # the app gets the upstream's bytes
    (trace,) = await saved_traces(recorder)
    await recorder.stop()
    assert _leaks(store.home, (OPENAI_KEY.encode(), AWS_KEY.encode())) == []
    ((path, interaction),) = Cassette("c", store.home).interactions()
    response = interaction.response
    assert response.body_base64 is not None  # still binary, stored byte for byte ...
    assert sorted(response.redacted) == ["api_key"]  # ... but marked: not the originals
    expected = SPEECH.replace(AWS_KEY.encode(), b"[API_KEY_REDACTED]").replace(
        OPENAI_KEY.encode(), b"[API_KEY_REDACTED]"
    )
    assert b"".join(r.data for r in response.body_reads()) == expected
    assert trace.meta["recorded_to"] == f"c/{path.name}"

    with socket_guard() as guard:
        player = await start("replay")
        guard.allowed.add(player.port)
        replayed, headers = await _speech(player)
        traces = await saved_traces(player, expected=2)
    assert guard.blocked == []
    assert replayed == expected  # the redacted bytes, said so
    assert headers[REPLAY_REDACTED_HEADER.lower()] == "api_key"
    assert headers[REPLAYED_FROM_HEADER.lower()] == f"c/{path.name}"
    assert traces[-1].meta["replay_redacted"] == "api_key"


async def test_a_key_split_across_latin1_reads_is_redacted_in_place(
    start: Start, store: TraceStore
) -> None:
    """A latin-1 SSE stream (not UTF-8) whose key is cut between two reads: the marker goes
    to the read where the key starts, the rest is cut from the next; every read keeps its
    boundary and its other bytes."""
    cut = 12
    reads = [
        b'data: {"note":"caf\xe9 ' + OPENAI_KEY[:cut].encode(),
        OPENAI_KEY[cut:].encode() + b' d\xe9j\xe0 vu"}\n\n',
        b"data: [DONE]\n\n",
    ]
    written = asyncio.Event()

    async def latin1_stream(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": SSE_LATIN1})
        await response.prepare(request)
        for data in reads:
            await response.write(data)
            await asyncio.sleep(0.03)  # each write arrives as a read of its own
        written.set()
        return response

    recorder = await start("record", upstream_app=upstream_app(latin1_stream))
    body = {"model": "gpt-4o-mini", "messages": USER, "stream": True}
    status, _, live = await routes._raw_reads(routes.root(recorder), "/v1/chat/completions", body)
    assert (status, b"".join(live)) == (200, b"".join(reads))
    await saved_traces(recorder)
    await recorder.stop()
    assert _leaks(store.home, (OPENAI_KEY.encode(), OPENAI_KEY[cut:].encode())) == []
    (interaction,) = Cassette("c", store.home)
    recorded = [r.data for r in interaction.response.reads]
    assert recorded == [
        b'data: {"note":"caf\xe9 [API_KEY_REDACTED]',
        b' d\xe9j\xe0 vu"}\n\n',
        b"data: [DONE]\n\n",
    ]
    assert interaction.response.redacted == ["api_key"]

    player = await start("replay", timing="recorded")
    _, _, replayed = await routes._raw_reads(routes.root(player), "/v1/chat/completions", body)
    # The app gets the recorded bytes, written as when live (the relay writes whole events
    # on this route, so a key cut between reads reached the app in one write both times).
    assert b"".join(replayed) == b"".join(recorded)
    assert len(replayed) == len(live) == 2


async def test_latin1_and_binary_bodies_in_traces_are_redacted(
    make_proxy: Callable[..., Awaitable[ProxyService]], store: TraceStore
) -> None:
    """The trace store path without a cassette: a live call with a binary answer."""
    service = await make_proxy(upstream_app(_speech_upstream))
    live, _ = await _speech(service)
    assert live == SPEECH
    (trace,) = await saved_traces(service)
    assert trace.metadata.status == "success"
    assert _leaks(store.home, (OPENAI_KEY.encode(), AWS_KEY.encode())) == []


# -- answers broken off part way -------------------------------------------------------------


async def _dying(request: web.Request) -> web.StreamResponse:
    """Five events of a real OpenAI transcript, then the connection drops (no terminating
    chunk)."""
    await request.read()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    await response.prepare(request)
    for event in transcript_chunks()[:5]:
        await response.write(event)
        await asyncio.sleep(0.01)
    assert request.transport is not None
    request.transport.close()
    return response


async def _read_until_broken(service: ProxyService) -> tuple[list[str | None], str]:
    async with openai.AsyncOpenAI(base_url=service.url, api_key="sk-test", max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
        received: list[str | None] = []

        async def read_all() -> None:
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content)

        with pytest.raises(openai.APIConnectionError) as caught:
            await read_all()
        return received, type(caught.value).__name__


async def test_a_stream_the_upstream_broke_off_replays_the_same_break(
    start: Start, store: TraceStore
) -> None:
    recorder = await start("record", upstream_app=upstream_app(_dying))
    live = await _read_until_broken(recorder)
    (recorded_trace,) = await saved_traces(recorder)
    await recorder.stop()
    assert len(live[0]) == 5
    (interaction,) = Cassette("c", store.home)
    response = interaction.response
    assert b"".join(r.data for r in response.reads) == b"".join(transcript_chunks()[:5])
    assert response.broken is not None and response.broken.cause == "upstream_failed"
    assert response.broken.offset_ms >= response.reads[-1].offset_ms

    with socket_guard() as guard:
        player = await start("replay", timing="recorded")
        guard.allowed.add(player.port)
        replayed = await _read_until_broken(player)
        traces = await saved_traces(player, expected=2)
    assert guard.blocked == []
    assert replayed == live  # the same chunks, then the same break
    replay_trace = traces[-1]
    assert replay_trace.meta["replayed_from"] == recorded_trace.meta["recorded_to"]
    for trace in (recorded_trace, replay_trace):
        assert trace.metadata.status == "upstream_error"
        assert trace.metadata.error is not None
        assert trace.metadata.error.type == "upstream_disconnected"
        assert trace.metadata.chunks_received == 5
    assert replay_trace.metadata.error.message == recorded_trace.metadata.error.message  # type: ignore[union-attr]


async def test_a_stream_the_app_hung_up_on_is_recorded_and_replays(
    start: Start, store: TraceStore
) -> None:
    """The app stops after 3 chunks of an endless stream: recorded as far as the proxy read
    it; replayed, the app gets the same chunks and hangs up again (no miss)."""

    upstream_gone = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        event = transcript_chunks()[1]
        try:
            for _ in range(10_000):
                await response.write(event)
                await asyncio.sleep(0.005)
        except (ConnectionError, asyncio.CancelledError):
            upstream_gone.set()
            raise
        return response

    async def first_three(service: ProxyService) -> list[str | None]:
        async with openai.AsyncOpenAI(
            base_url=service.url, api_key="sk-test", max_retries=0
        ) as sdk:
            stream = await sdk.chat.completions.create(
                model="gpt-4o",
                messages=USER,
                stream=True,
            )
            received: list[str | None] = []
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content)
                if len(received) == 3:
                    break
            await stream.close()
            return received

    recorder = await start("record", upstream_app=upstream_app(endless))
    live = await first_three(recorder)
    await asyncio.wait_for(upstream_gone.wait(), 5)  # the proxy closed the upstream call
    (recorded_trace,) = await saved_traces(recorder)
    assert recorded_trace.metadata.status == "client_disconnected"
    await recorder.stop()
    (interaction,) = Cassette("c", store.home)
    recorded = interaction.response
    assert recorded.broken is not None and recorded.broken.cause == "client_gone"
    assert 3 <= len(b"".join(r.data for r in recorded.reads).split(b"\n\n")) - 1 < 10_000

    with socket_guard() as guard:
        player = await start("replay")
        guard.allowed.add(player.port)
        assert await first_three(player) == live
        traces = await saved_traces(player, expected=2)
    assert guard.blocked == []
    assert traces[-1].meta["replayed_from"].startswith("c/0001-")
    assert player.cassette is not None and player.cassette.misses == 0

    # An app that reads on past where the recording ends gets a broken stream, saying why.
    again = await start("replay")
    async with aiohttp.ClientSession() as session:
        call = {"model": "gpt-4o", "messages": USER, "stream": True}
        async with session.post(f"{again.url}/chat/completions", json=call) as response:
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
    (*_, broken) = await saved_traces(again, expected=3)
    assert broken.metadata.error is not None
    assert "the app hung up when it was recorded" in broken.metadata.error.message

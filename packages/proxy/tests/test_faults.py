"""Faults: what the app sees through the official SDK, and what the trace records."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import cast

import aiohttp
import msgspec
import openai
import pytest
from aiohttp import web
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.testing import saved_traces, transcript_chunks, upstream_app

from .conftest import MakeProxy, Sdk

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
SSE = "text/event-stream; charset=utf-8"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_upstream_unreachable(make_proxy: MakeProxy, sdk: Sdk) -> None:
    port = _free_port()  # nothing listens there
    service = await make_proxy(base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(openai.InternalServerError) as info:
        await sdk(service).chat.completions.create(model="gpt-4o", messages=USER)
    assert info.value.status_code == 502
    assert "could not reach upstream" in info.value.message
    (trace,) = await saved_traces(service)
    assert trace.metadata.status == "upstream_error"
    assert trace.metadata.status_code == 502
    assert trace.metadata.error is not None
    assert trace.metadata.error.type == "upstream_unreachable"
    assert trace.request["model"] == "gpt-4o"


async def test_upstream_timeout_before_headers(make_proxy: MakeProxy, sdk: Sdk) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    service = await make_proxy(upstream_app(slow), read_timeout_s=0.2)
    try:
        with pytest.raises(openai.APIStatusError) as info:
            await sdk(service).chat.completions.create(model="gpt-4o", messages=USER)
    finally:
        release.set()
    assert info.value.status_code == 504
    (trace,) = await saved_traces(service)
    assert (trace.metadata.status, trace.metadata.status_code) == ("upstream_error", 504)
    assert trace.metadata.error is not None
    assert trace.metadata.error.type == "upstream_timeout"


@pytest.mark.parametrize(
    ("model", "status", "error_cls", "code"),
    [
        ("mock-401", 401, openai.AuthenticationError, "invalid_api_key"),
        ("mock-429", 429, openai.RateLimitError, "rate_limit_exceeded"),
    ],
)
async def test_upstream_http_error_relayed(
    make_proxy: MakeProxy,
    sdk: Callable[..., openai.AsyncOpenAI],
    model: str,
    status: int,
    error_cls: type[openai.APIStatusError],
    code: str,
) -> None:
    service = await make_proxy()
    with pytest.raises(error_cls) as info:
        await sdk(service).chat.completions.create(model=model, messages=USER, stream=True)
    assert info.value.status_code == status
    assert info.value.code == code
    (trace,) = await saved_traces(service)
    assert (trace.metadata.status, trace.metadata.status_code) == ("error", status)
    assert trace.metadata.error is not None
    assert trace.metadata.error.type == code
    assert trace.response["error"]["code"] == code
    assert not trace.metadata.streaming


async def test_client_disconnects_mid_stream(make_proxy: MakeProxy, sdk: Sdk) -> None:
    """The app stops reading after 3 chunks: the proxy closes the upstream request and saves
    the partial trace."""
    upstream_gone = asyncio.Event()
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": SSE})
        await response.prepare(request)
        event = transcript_chunks()[1]
        try:
            for _ in range(10_000):
                await response.write(event)
                sent += 1
                await asyncio.sleep(0.005)
        except (ConnectionError, asyncio.CancelledError):
            upstream_gone.set()
            raise
        return response

    service = await make_proxy(upstream_app(endless))
    stream = await sdk(service).chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    received = 0
    async for _chunk in stream:
        received += 1
        if received == 3:
            break
    await stream.close()
    await asyncio.wait_for(upstream_gone.wait(), 5)
    assert sent < 10_000
    (trace,) = await saved_traces(service)
    meta = trace.metadata
    assert meta.status == "client_disconnected"
    assert meta.error is not None and meta.error.type == "client_disconnected"
    assert 3 <= meta.chunks_received < 10_000
    assert len(trace.chunks) == meta.chunks_received
    assert trace.response["choices"][0]["message"]["content"].startswith("I'm")


async def test_upstream_dies_mid_stream(make_proxy: MakeProxy, sdk: Sdk) -> None:
    async def dying(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": SSE})
        await response.prepare(request)
        for event in transcript_chunks()[:5]:
            await response.write(event)
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.close()  # no terminating chunk: a broken stream
        return response

    service = await make_proxy(upstream_app(dying))
    stream = await sdk(service).chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    received: list[str | None] = []

    async def read_all() -> None:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content)

    with pytest.raises(openai.APIConnectionError):
        await read_all()
    assert len(received) == 5  # everything the upstream sent arrived before the break
    (trace,) = await saved_traces(service)
    meta = trace.metadata
    assert meta.status == "upstream_error"
    assert meta.error is not None and meta.error.type == "upstream_disconnected"
    assert meta.chunks_received == 5 == len(trace.chunks)
    # every delta of the transcript's first five chunks carries content (a str)
    assert trace.response["choices"][0]["message"]["content"] == "".join(
        cast("list[str]", received)
    )


async def test_malformed_sse_line_forwarded_and_noted(make_proxy: MakeProxy, sdk: Sdk) -> None:
    events = transcript_chunks()
    broken = b"data: {this is not json\n\n"
    body = events[0] + events[1] + broken + b"".join(events[2:])

    async def upstream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": SSE})
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        return response

    service = await make_proxy(upstream_app(upstream), inject=False)
    client = sdk(service)
    async with client.chat.completions.with_streaming_response.create(
        model="gpt-4o",
        messages=USER,
        stream=True,
    ) as response:
        received = b"".join([part async for part in response.iter_bytes()])
    assert received == body  # forwarded as is
    (trace,) = await saved_traces(service)
    meta = trace.metadata
    assert meta.status == "success"
    assert any("not JSON" in w for w in meta.warnings)
    assert trace.chunks[2].raw == "{this is not json"
    assert trace.chunks[2].data is None
    assert meta.chunks_received == len(events) + 1
    assert trace.response["choices"][0]["finish_reason"] == "stop"


async def test_chunk_cap(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(chunk_cap=10)
    text = ""
    async for chunk in await sdk(service).chat.completions.create(
        model="gpt-4o", messages=USER, stream=True
    ):
        text += chunk.choices[0].delta.content or ""
    (trace,) = await saved_traces(service)
    meta = trace.metadata
    assert meta.chunks_received == len(transcript_chunks(include_usage=True))
    assert meta.chunks_buffered == len(trace.chunks) == 10
    assert any("chunk cap" in w for w in meta.warnings)
    # Past the cap chunks are still forwarded and still count towards the rebuilt answer.
    assert trace.response["choices"][0]["message"]["content"] == text
    assert meta.usage is not None and meta.usage.total_tokens == 44


async def test_auth_passthrough_and_env_key(make_proxy, store) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[str | None, dict[str, object]]] = []

    async def recording(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization"), await request.json()))
        return web.json_response({"object": "chat.completion", "choices": []})

    service = await make_proxy(upstream_app(recording), api_key="sk-from-env-SECRET")
    async with openai.AsyncOpenAI(
        base_url=service.url, api_key="sk-client-SECRET", max_retries=0
    ) as client:
        await client.chat.completions.create(model="gpt-4o", messages=USER)
    async with (  # an app that sends no key at all
        aiohttp.ClientSession() as session,
        session.post(
            f"{service.url}/chat/completions", json={"model": "gpt-4o", "messages": USER}
        ) as response,
    ):
        assert response.status == 200
    assert [auth for auth, _ in seen] == ["Bearer sk-client-SECRET", "Bearer sk-from-env-SECRET"]
    traces = await saved_traces(service, expected=2)
    for trace in traces:
        assert trace.metadata.request_headers["authorization"] == "[REDACTED]"
        raw = store.path_for(trace.id).read_bytes()
        assert b"SECRET" not in raw


async def test_no_stream_options_injected_for_unknown_upstreams(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    bodies: list[dict[str, object]] = []

    async def strict(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        bodies.append(body)
        response = web.StreamResponse(headers={"Content-Type": SSE})
        await response.prepare(request)
        await response.write(b"".join(transcript_chunks()))
        await response.write_eof()
        return response

    service = await make_proxy(upstream_app(strict), inject=False)
    async for _ in await sdk(service).chat.completions.create(
        model="gpt-4o", messages=USER, stream=True
    ):
        pass
    assert "stream_options" not in bodies[0]
    (trace,) = await saved_traces(service)
    # No usage came: a local estimate, flagged as one.
    assert trace.metadata.usage is not None and trace.metadata.usage.estimated
    assert all(c.forwarded for c in trace.chunks)


async def test_invalid_json_request_relayed(make_proxy: MakeProxy) -> None:
    service = await make_proxy()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{service.url}/chat/completions",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        ) as response,
    ):
        assert response.status == 400
        body = await response.json()
    assert "parse the JSON body" in body["error"]["message"]
    (trace,) = await saved_traces(service)
    assert trace.request == "{not json"
    assert (trace.metadata.status, trace.metadata.status_code) == ("error", 400)


async def test_100_concurrent_streams_all_saved(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy(mock_delay_ms=1)
    client = sdk(service)
    expected = "".join(
        (msgspec.json.decode(raw[6:]) if raw.startswith(b"data: {") else {"choices": []})
        .get("choices", [{}])[0]
        .get("delta", {})
        .get("content")
        or ""
        for raw in transcript_chunks()
        if raw.startswith(b"data: {") and b'"choices":[]' not in raw
    )

    async def one(i: int) -> str:
        text = ""
        stream = await client.chat.completions.create(
            model=f"gpt-4o-{i}", messages=USER, stream=True
        )
        async for chunk in stream:
            text += chunk.choices[0].delta.content or ""
        return text

    texts = await asyncio.gather(*(one(i) for i in range(100)))
    assert texts == [expected] * 100
    traces = await saved_traces(service, expected=100)
    assert sorted(t.model for t in traces) == sorted(f"gpt-4o-{i}" for i in range(100))
    for trace in traces:
        assert trace.metadata.status == "success"
        assert trace.response["choices"][0]["message"]["content"] == expected
    leftovers = [p.name for p in service.store.traces_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert json.loads(service.store.path_for(traces[0].id).read_text())["schema_version"] == 1

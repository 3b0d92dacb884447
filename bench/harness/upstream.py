"""The fake OpenAI-compatible upstream of the benchmark (aiohttp, loopback).

``POST /v1/chat/completions`` answers by the model name (see :mod:`harness.profiles`):
streams of N ``chat.completion.chunk`` SSE events with a fixed gap, JSON chat completions of
about 1 KB, or injected faults. Each content chunk carries its sequence number and send time in
its text, ``"<seq>:<monotonic ns> "`` written in letters (:func:`harness.profiles.letters`),
so the load generator can check that every chunk arrived,
in order, once, and measure each chunk's delay (``CLOCK_MONOTONIC`` is one clock for every
process of the machine). Wire format: OpenAI's chat completions API reference
(https://platform.openai.com/docs/api-reference/chat-streaming).

    python -m harness.upstream --port 9001
"""

from __future__ import annotations

import argparse
import asyncio
import time

import msgspec
from aiohttp import web

from harness.profiles import FAULT_CHUNKS, Profile, fault_for, letters, profile_for

_CHUNK_HEAD = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"%s","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"content":"'
)
_CHUNK_TAIL = b'"},"logprobs":null,"finish_reason":null}]}\n\n'
_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
_ANSWER_TEXT = "Paris is the capital of France. " * 24  # ~800 bytes: a ~1 KB JSON body


def _first_chunk(model: bytes) -> bytes:
    return (
        b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
        b'"model":"' + model + b'","system_fingerprint":"fp_bench","choices":[{"index":0,'
        b'"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n'
    )


def _last_chunks(model: bytes, chunks: int, usage: bool) -> bytes:
    done = (
        b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
        b'"model":"' + model + b'","system_fingerprint":"fp_bench","choices":[{"index":0,'
        b'"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
    )
    if usage:
        done += (
            b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
            b'"model":"' + model + b'","system_fingerprint":"fp_bench","choices":[],'
            b'"usage":{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":%d}}\n\n'
            % (chunks, chunks + 12)
        )
    return done + b"data: [DONE]\n\n"


def _completion(model: str) -> bytes:
    return msgspec.json.encode(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": _ANSWER_TEXT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 180, "total_tokens": 192},
        }
    )


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"error": {"message": message, "type": code, "param": None, "code": code}}
    headers = {"Retry-After": "1"} if status == 429 else None
    return web.json_response(body, status=status, headers=headers)


async def _stream(
    request: web.Request,
    model: str,
    chunks: int,
    gap_s: float,
    usage: bool,
    *,
    fault: str | None = None,
) -> web.StreamResponse:
    response = web.StreamResponse(headers=_SSE_HEADERS)
    await response.prepare(request)
    name = model.encode()
    head = _CHUNK_HEAD % name
    write = response.write
    try:
        await write(_first_chunk(name))
        for seq in range(chunks):
            if gap_s:
                await asyncio.sleep(gap_s)
            stamp = letters(seq) + b":" + letters(time.monotonic_ns()) + b" "
            await write(head + stamp + _CHUNK_TAIL)
            if fault == "reset" and seq == 4:
                assert request.transport is not None
                request.transport.abort()  # RST, no terminating chunk
                return response
            if fault == "stall" and seq == 1:
                await asyncio.sleep(3600)
            if fault == "malformed" and seq in (1, 3):
                await write(b"data: {this is not json\n\n" if seq == 1 else b"stray line\n\n")
        await write(_last_chunks(name, chunks, usage))
        await response.write_eof()
    except ConnectionError:  # the client (the proxy under test) went away: its business
        pass
    return response


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Answer one chat completion request by its model name (400 for unknown names)."""
    body = await request.read()
    try:
        payload = msgspec.json.decode(body)
        model = str(payload["model"])
    except (msgspec.DecodeError, KeyError, TypeError):
        return _error(400, "invalid_request_error", "request body is not a chat completion")
    stream = bool(payload.get("stream"))
    usage = bool((payload.get("stream_options") or {}).get("include_usage"))
    fault = fault_for(model)
    if fault == "http500":
        return _error(500, "server_error", "The server had an error processing your request.")
    if fault == "http429":
        return _error(429, "rate_limit_exceeded", "Rate limit reached for requests.")
    if fault is not None:
        return await _stream(request, model, FAULT_CHUNKS, 0.002, usage, fault=fault)
    profile: Profile | None = profile_for(model)
    if profile is None:
        return _error(400, "model_not_found", f"unknown benchmark model {model!r}")
    if profile.stream and stream:
        return await _stream(request, model, profile.chunks, profile.gap_ms / 1000, usage)
    if profile.gap_ms:
        await asyncio.sleep(profile.gap_ms / 1000)
    return web.Response(body=_completion(model), content_type="application/json")


def make_app() -> web.Application:
    """The upstream app: chat completions under ``/v1`` (and without it, for mitmproxy tests)."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/chat/completions", chat_completions)
    return app


def main() -> None:
    """Serve until killed; prints ``ready <port>`` once listening."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_args()

    async def serve() -> None:
        runner = web.AppRunner(make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        print(f"ready {port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()

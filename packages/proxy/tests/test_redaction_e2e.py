"""Planted secrets and PII pushed through the proxy with the official ``openai`` SDK: nothing
under the TraceForge home holds a planted value afterwards, while the app and the upstream
saw every original byte."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
from aiohttp import web

from traceforge_proxy.testing import saved_traces

# Obviously fake values in the real formats.
PLANTED = [
    "sk-proj-Tf4kePlAnted0123456789abcdefGHIJ",  # OpenAI project key
    "sk-ant-api03-fAkEpLaNtEd0123456789abcdefghij",  # Anthropic
    "AIzaSyFAKEplanted0123456789abcdefghijkl",  # Google (AIza + 35)
    "xai-FAKEplanted0123456789abcdefgh",  # xAI
    "AKIAFAKEPLANTED12345",  # AWS access key id
    "ghp_FAKEplanted0123456789abcdefghijklmnop",  # GitHub
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlcGxhbnRlZA",  # JWT
    "planted.person+llm@example.org",
    "+44 20 7946 0958",
    "(415) 555-2671",
    "4111 1111 1111 1111",  # Visa test card (Luhn-valid)
    "123-45-6789",  # SSN
    "203.0.113.77",  # IPv4 (documentation range)
]
PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEplantedFAKEkeyMaterial0123456789\n"
    "-----END RSA PRIVATE KEY-----"
)
TEXT = "Here you go: " + " | ".join(PLANTED) + " | " + PRIVATE_KEY + " | done."
ARGUMENTS = json.dumps({"email": PLANTED[7], "api_key": PLANTED[0], "max_tokens": 100})
HEADER_KEY = "sk-HEADERplanted0123456789abcdefghijkl"


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-planted",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + msgspec.json.encode(body) + b"\n\n"


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _upstream(seen: list[tuple[dict[str, str], bytes]]) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen.append(({k.lower(): v for k, v in request.headers.items()}, body))
        if not json.loads(body).get("stream"):
            return web.json_response(
                {
                    "id": "chatcmpl-planted",
                    "object": "chat.completion",
                    "created": 1,
                    "model": "gpt-4o",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": TEXT},
                        }
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
                },
                headers={"x-debug-contact": PLANTED[7]},
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_chunk({"role": "assistant", "content": ""}))
        for piece in _split(TEXT, 7):  # every planted value is split across chunks
            await response.write(_chunk({"content": piece}))
        await response.write(
            _chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "save", "arguments": ""},
                        }
                    ]
                }
            )
        )
        for piece in _split(ARGUMENTS, 5):
            await response.write(
                _chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            )
        await response.write(_chunk({}, "tool_calls"))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    return app


def _files_under(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file()]


async def test_planted_values_never_reach_disk(make_proxy, sdk, store) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[dict[str, str], bytes]] = []
    service = await make_proxy(_upstream(seen))
    client = sdk(
        service,
        api_key=PLANTED[0],
        default_headers={"X-Api-Key": HEADER_KEY, "X-User-Email": PLANTED[7]},
    )
    messages = [
        {
            "role": "user",
            "content": f"my card is {PLANTED[10]}, mail me at "
            f"{PLANTED[7]}, key {PLANTED[5]}\n{PRIVATE_KEY}",
        }
    ]

    # Non-streaming.
    completion = await client.chat.completions.create(
        model="gpt-4o", messages=messages, user=PLANTED[7]
    )
    assert completion.choices[0].message.content == TEXT  # the app got the originals
    # Streaming.
    text, arguments = "", ""
    async for chunk in await client.chat.completions.create(
        model="gpt-4o", messages=messages, stream=True
    ):
        if chunk.choices:
            delta = chunk.choices[0].delta
            text += delta.content or ""
            for call in delta.tool_calls or []:
                arguments += call.function.arguments or "" if call.function else ""
    assert text == TEXT
    assert arguments == ARGUMENTS

    # The upstream got the originals, byte for byte.
    for headers, body in seen:
        assert headers["authorization"] == f"Bearer {PLANTED[0]}"
        assert headers["x-api-key"] == HEADER_KEY
        assert headers["x-user-email"] == PLANTED[7]
        assert json.loads(body)["messages"] == messages

    traces = await saved_traces(service, expected=2)
    files = _files_under(store.home)
    assert any(p.suffix == ".json" for p in files)
    for path in files:
        data = path.read_bytes()
        for value in [*PLANTED, PRIVATE_KEY, HEADER_KEY]:
            for form in {value.encode(), json.dumps(value)[1:-1].encode()}:
                assert form not in data, f"{value!r} found in {path}"

    plain, streamed = traces
    assert not plain.metadata.streaming and streamed.metadata.streaming
    content = plain.response["choices"][0]["message"]["content"]
    for marker in (
        "[API_KEY_REDACTED]",
        "[EMAIL_REDACTED]",
        "[PHONE_REDACTED]",
        "[CARD_REDACTED]",
        "[SSN_REDACTED]",
        "[JWT_REDACTED]",
        "[PRIVATE_KEY_REDACTED]",
        "[IP_REDACTED]",
    ):
        assert marker in content
    # Stored chunks still add up to the stored (redacted) answer.
    rebuilt = streamed.response["choices"][0]["message"]
    deltas = "".join(
        c.data["choices"][0]["delta"].get("content") or ""
        for c in streamed.chunks
        if isinstance(c.data, dict) and c.data.get("choices")
    )
    stored_arguments = "".join(
        call["function"].get("arguments") or ""
        for c in streamed.chunks
        if isinstance(c.data, dict) and c.data.get("choices")
        for call in c.data["choices"][0]["delta"].get("tool_calls") or []
    )
    for value in [*PLANTED, PRIVATE_KEY]:  # pieces split across chunks do not add up to one
        assert value not in deltas
        assert value not in stored_arguments
    assert deltas == rebuilt["content"] == content
    stored_args = json.loads(rebuilt["tool_calls"][0]["function"]["arguments"])
    assert stored_args == {
        "email": "[EMAIL_REDACTED]",
        "api_key": "[API_KEY_REDACTED]",
        "max_tokens": 100,
    }
    # What was redacted is listed, by place and kind.
    fields = "\n".join(streamed.metadata.redacted_fields)
    assert "metadata.request_headers.authorization: header" in fields
    assert "metadata.request_headers.x-api-key: header" in fields
    assert "request.messages[0].content: " in fields
    assert "chunks[" in fields and ".delta.content: " in fields
    assert ".function.arguments: " in fields
    assert "request.user: email" in "\n".join(plain.metadata.redacted_fields)
    assert "metadata.response_headers.x-debug-contact: email" in "\n".join(
        plain.metadata.redacted_fields
    )
    # Usage fields are not secrets.
    assert plain.metadata.usage is not None and plain.metadata.usage.total_tokens == 12
    assert plain.response["usage"]["total_tokens"] == 12


async def test_planted_values_in_converted_and_native_calls_never_reach_disk(  # type: ignore[no-untyped-def]
    make_proxy, sdk, store
) -> None:
    import anthropic

    service = await make_proxy(default_provider=None)
    content = f"mail {PLANTED[7]}, key {PLANTED[1]}, card {PLANTED[10]}"
    # Converted: the OpenAI request and the Anthropic request built from it are both stored.
    await sdk(service, api_key=PLANTED[1]).chat.completions.create(
        model="claude-opus-4-6", messages=[{"role": "user", "content": content}]
    )
    # Native: the Anthropic SDK's own request, and the normalized view of it.
    client = anthropic.AsyncAnthropic(
        base_url=service.url.removesuffix("/v1") + "/anthropic", api_key=PLANTED[1], max_retries=0
    )
    async with client.messages.stream(
        model="claude-opus-4-6",
        max_tokens=50,
        system=f"Reply to {PLANTED[7]}",
        messages=[{"role": "user", "content": content}],
    ) as stream:
        await stream.get_final_message()
    await client.close()
    converted, native = await saved_traces(service, expected=2)
    assert converted.native is not None and native.native is not None
    assert "[EMAIL_REDACTED]" in converted.native.request["messages"][0]["content"]
    assert "[EMAIL_REDACTED]" in native.native.request["system"]
    assert "[EMAIL_REDACTED]" in native.request["messages"][0]["content"]  # the OpenAI view
    for path in _files_under(store.home):
        data = path.read_bytes()
        for value in (PLANTED[1], PLANTED[7], PLANTED[10]):
            assert value.encode() not in data, f"{value!r} found in {path}"

"""Replay machinery shared by every provider of the mock upstream.

A transcript is a file under ``mock_upstream/data`` (``"stream-text-usage.sse"`` for OpenAI,
``"anthropic/stream-text.sse"``, ``"ollama/chat-stream.ndjson"``, ...). A stream is sent in the
units a real server writes: one SSE event (:func:`sse_events`, framed by
:class:`~traceforge_proxy.sse.SSEParser`, so LF and CRLF framing both work) or one NDJSON line
(:func:`ndjson_lines`) per write, ``delay_ms`` apart (:func:`replay`). The units joined are the
file, byte for byte; both splitters check it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import msgspec
from aiohttp import web

from traceforge_proxy.sse import SSEEvent, SSEParser

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"
NDJSON_CONTENT_TYPE = "application/x-ndjson"

_PACKAGE = "traceforge_proxy.mock_upstream"
_LINE = re.compile(rb"[^\n]*\n|[^\n]+\Z")


class InvalidJSON(ValueError):
    """The request body is not JSON."""


@cache
def transcript_bytes(name: str) -> bytes:
    """Return a bundled transcript file's bytes; ``name`` is relative to ``mock_upstream/data``
    and uses ``/`` (``"gemini/stream-text.sse"``)."""
    return resources.files(_PACKAGE).joinpath("data", *name.split("/")).read_bytes()


def transcript_json(name: str) -> Any:
    """Return a bundled JSON transcript, decoded (a fresh object on each call)."""
    return msgspec.json.decode(transcript_bytes(name))


@cache
def sse_events(name: str) -> tuple[SSEEvent, ...]:
    """Split a bundled SSE transcript into events; their ``raw`` bytes, joined, are the file."""
    data = transcript_bytes(name)
    parser = SSEParser()
    events = tuple(parser.feed(data) + parser.close())
    if b"".join(event.raw for event in events) != data:  # pragma: no cover - framing bug
        raise ValueError(f"{name}: SSE events do not add up to the file")
    return events


@cache
def ndjson_lines(name: str) -> tuple[bytes, ...]:
    """Split a bundled NDJSON transcript into lines, each with its ``\\n``; joined, the file."""
    data = transcript_bytes(name)
    lines = tuple(_LINE.findall(data))
    if b"".join(lines) != data:  # pragma: no cover - cannot happen with the pattern above
        raise ValueError(f"{name}: lines do not add up to the file")
    return lines


def ndjson_payloads(name: str) -> list[Any]:
    """The decoded objects of a bundled NDJSON transcript, one per line."""
    return [msgspec.json.decode(line) for line in ndjson_lines(name) if line.strip()]


def sse_payloads(name: str) -> list[Any]:
    """The decoded ``data:`` payloads of a bundled SSE transcript, ``[DONE]`` left out."""
    return [
        msgspec.json.decode(event.data)
        for event in sse_events(name)
        if event.data is not None and event.data != b"[DONE]"
    ]


async def read_json(request: web.Request) -> Any:
    """The request body, decoded. Raises :class:`InvalidJSON` when it is not JSON (an empty
    body included)."""
    raw = await request.read()
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidJSON(str(exc)) from exc


async def read_checked(
    request: web.Request, check: Callable[[Any], str | None], *, not_json: str
) -> tuple[Any, str | None]:
    """The decoded request body (``None`` when it is not JSON) and what the provider would
    reject in it: ``not_json`` when it is not JSON, else ``check(body)`` (``None``: fine)."""
    try:
        body = await read_json(request)
    except InvalidJSON:
        return None, not_json
    return body, check(body)


def json_response(
    body: Any,
    *,
    status: int = 200,
    content_type: str = JSON_CONTENT_TYPE,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A non-streaming answer: ``body`` as compact JSON, or, when it is ``bytes`` (a bundled
    file's, see :func:`file_response`), those bytes unchanged."""
    data = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return web.Response(
        status=status, body=data, headers={**(headers or {}), "Content-Type": content_type}
    )


def file_response(name: str, **options: Any) -> web.Response:
    """A non-streaming answer whose body is the bundled file ``name``, unchanged; ``options``
    (``status``, ``content_type``, ``headers``) as :func:`json_response` takes them."""
    return json_response(transcript_bytes(name), **options)


async def replay(
    request: web.Request,
    chunks: Iterable[bytes],
    *,
    content_type: str,
    delay_ms: float,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Stream ``chunks`` (events or lines, unchanged) with status 200: one write each, with a
    ``delay_ms`` pause before each one (the first too, like a time to first token). A client
    (the proxy) that hangs up mid-stream ends the replay quietly, as a real provider would."""
    response = web.StreamResponse(headers={**(headers or {}), "Content-Type": content_type})
    await response.prepare(request)
    try:
        for chunk in chunks:
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000)
            await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:  # aiohttp's ClientConnectionResetError is one
        pass
    return response


async def replay_sse(
    request: web.Request,
    name: str,
    *,
    delay_ms: float,
    content_type: str = SSE_CONTENT_TYPE,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Stream the bundled SSE transcript ``name`` event by event (see :func:`replay`)."""
    events = (event.raw for event in sse_events(name))
    return await replay(
        request, events, content_type=content_type, delay_ms=delay_ms, headers=headers
    )


def has_items(value: object) -> bool:
    """Whether a request field is a non-empty list (``tools``, ``messages``, ``contents``)."""
    return isinstance(value, list) and len(value) > 0


def dig_list(value: Any, *keys: str) -> list[Any]:
    """``value[k1][k2]...`` when it is a list, else ``[]`` (a level missing or not an
    object)."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, list) else []

"""The planted corpus (packages/shared/tests/data/planted_secrets.json: 90 fake secrets and PII
values of every documented kind) through the running proxy on every route, as a user's app
sends them: the official ``openai``, ``anthropic`` and ``google-genai`` SDKs, aiohttp for the
Ollama and Cohere native APIs.

A local fake upstream answers with the real recorded transcripts
(tests/data/provider-streams) with the planted values added to the streamed text: each value
is split over 2-5 chunks at seeded random points, and each chunk is its own network write.
Requests carry the values too (user text, tool-call arguments and tool results as JSON inside
JSON strings, form-shaped text).

Asserted per route: the app got every planted value back whole, the upstream got every
planted value the app sent, and once the writer drained, no planted value and no fragment of
8+ characters of one is anywhere under the home (every file: traces, the SQLite index, the
rest).
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from google import genai
from google.genai import types as genai_types
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.runner import ProxyService
from traceforge_proxy.upstream import Upstream
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import transcript_events

DATA = Path(__file__).parent / "data" / "provider-streams"
CORPUS: list[dict[str, str]] = json.loads(
    (Path(__file__).parents[2] / "shared" / "tests" / "data" / "planted_secrets.json").read_text(
        encoding="utf-8"
    )
)
BATCH = 30  # values per call
#: Fields that carry streamed or answered text.
TEXT_KEYS = frozenset({"content", "text", "delta", "arguments", "response"})
PIECE_PAUSE_S = 0.001  # between the network writes of a planted value's pieces


# -- planting ---------------------------------------------------------------------------------


def _cuts(text: str, values: list[str], rng: random.Random) -> list[int]:
    """Cut points of ``text``: 1-4 strictly inside each value (2-5 pieces each)."""
    cuts: set[int] = set()
    at = 0
    for value in values:
        start = text.index(value, at)
        end = start + len(value)
        inner = range(start + 1, end)
        cuts.update(rng.sample(inner, min(len(inner), rng.randint(1, 4))))
        at = end
    return sorted(cuts)


def _pieces(text: str, cuts: list[int]) -> list[str]:
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def _text_slots(events: list[Any]) -> list[tuple[int, dict[str, Any], str]]:
    """``(event index, container, key)`` of the text field most events carry, in order."""
    by_path: dict[str, list[tuple[int, dict[str, Any], str]]] = {}

    def walk(value: Any, path: str, i: int) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and key in TEXT_KEYS:
                    by_path.setdefault(f"{path}.{key}", []).append((i, value, key))
                else:
                    walk(item, f"{path}.{key}", i)
        elif isinstance(value, list):
            for n, item in enumerate(value):
                walk(item, f"{path}[{n}]", i)

    for i, (name, data) in enumerate(events):
        walk(data, f"{name}:{data.get('type') if isinstance(data, dict) else ''}", i)
    return max(by_path.values(), key=len)


def _replace_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return new if value == old and old else value
    if isinstance(value, dict):
        return {k: _replace_strings(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, old, new) for v in value]
    return value


def plant_stream(
    events: list[tuple[str | None, Any]],
    text: str,
    values: list[str],
    rng: random.Random,
    *,
    replace: bool = False,
) -> tuple[list[tuple[str | None, Any]], set[int]]:
    """Add ``text`` (which holds ``values``) to the streamed text of ``events``: the first
    piece at the end of the last text event, the others in copies of that event right after
    it (with ``replace``, the streamed text is emptied first: tool-call arguments). Strings
    equal to the whole old text (the final aggregates) become the whole new text. Returns
    the events and the indexes of those holding planted pieces."""
    events = copy.deepcopy(events)
    slots = _text_slots(events)
    old = "".join(container[key] for _, container, key in slots)
    if replace:
        for _, container, key in slots:
            container[key] = ""
    pieces = _pieces(text, _cuts(text, values, rng))
    at, container, key = slots[-1]
    template = copy.deepcopy(events[at])
    container[key] += pieces[0]
    clones = []
    for piece in pieces[1:]:
        clone = copy.deepcopy(template)
        _, holder, name = _text_slots([clone])[0]
        holder[name] = piece
        clones.append(clone)
    events[at + 1 : at + 1] = clones
    new = ("" if replace else old) + text
    if not replace:
        events = [(name, _replace_strings(data, old, new)) for name, data in events]
    return events, set(range(at, at + len(pieces)))


def encode_event(name: str | None, data: Any, ndjson: bool) -> bytes:
    body = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    if ndjson:
        return body.encode() + b"\n"
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {body}\n\n".encode()


def _longest_text(value: Any) -> tuple[dict[str, Any], str] | None:
    best: tuple[dict[str, Any], str] | None = None
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if (
                    isinstance(child, str)
                    and key in TEXT_KEYS
                    and (best is None or len(child) > len(best[0][best[1]]))
                ):
                    best = (item, key)
                else:
                    stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return best


# -- the fake upstream -------------------------------------------------------------------------


@dataclass
class FakeUpstream:
    """Answers every provider's API from its recorded transcripts with ``text`` planted.

    Attributes:
        text: text added to the next answer; ``values``: the planted values inside it.
        tool_args: when set, the next streamed answer's tool-call arguments instead.
        seen: ``(path with query, body)`` of each request received.
    """

    rng: random.Random
    text: str = ""
    values: list[str] = field(default_factory=list)
    tool_args: str | None = None
    seen: list[tuple[str, bytes]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append((request.path_qs, body))
        sent = json.loads(body) if body else {}
        path = request.path
        if path.startswith("/openai/v1/chat/completions"):
            tools = bool(sent.get("tools"))
            stream = sent.get("stream", False)
            name = "stream-tool-calls.sse" if tools else "stream-text-usage.sse"
            return await self.answer(request, "openai-chat", name, "completion.json", stream)
        if path.startswith("/openai/v1/responses"):
            stream = sent.get("stream", False)
            return await self.answer(
                request, "openai-responses", "stream-text.sse", "response.json", stream
            )
        if path.startswith("/anthropic/v1/messages"):
            stream = sent.get("stream", False)
            return await self.answer(
                request, "anthropic-messages", "stream-text.sse", "message.json", stream
            )
        if path.startswith("/gemini/"):
            stream = ":streamGenerateContent" in path
            return await self.answer(
                request, "gemini", "stream-text.sse", "generate-content.json", stream
            )
        if path.startswith("/ollama/api/chat"):
            stream = sent.get("stream", True)
            return await self.answer(request, "ollama", "chat-stream.ndjson", None, stream)
        if path.startswith("/cohere/v2/chat"):
            stream = sent.get("stream", False)
            return await self.answer(request, "cohere", "chat-stream.sse", "chat.json", stream)
        return web.json_response({"error": f"fake upstream: no route {path}"}, status=404)

    async def answer(
        self,
        request: web.Request,
        provider: str,
        stream_file: str,
        json_file: str | None,
        stream: bool,
    ) -> web.StreamResponse:
        ndjson = stream_file.endswith(".ndjson")
        events = transcript_events((DATA / provider / stream_file).read_text(), ndjson=ndjson)
        if not stream:
            if json_file is not None:
                document = json.loads((DATA / provider / json_file).read_text())
            else:  # Ollama answers stream=false with the last line, holding the whole text
                document = copy.deepcopy(events[-1][1])
                document["message"] = {
                    "role": "assistant",
                    "content": "".join(e[1]["message"]["content"] for e in events),
                }
            slot = _longest_text(document)
            assert slot is not None
            slot[0][slot[1]] += self.text
            raw = json.dumps(document).encode()
            # Network writes cut through the planted values too.
            whole = raw.decode()
            escaped = [json.dumps(v)[1:-1] for v in self.values]
            parts = [p.encode() for p in _pieces(whole, _cuts(whole, escaped, self.rng))]
            return await self._write(request, "application/json", parts, set(range(len(parts))))
        if self.tool_args is not None:
            escaped = [json.dumps(v)[1:-1] for v in self.values]
            events, planted = plant_stream(events, self.tool_args, escaped, self.rng, replace=True)
        else:
            events, planted = plant_stream(events, self.text, self.values, self.rng)
        kind = "application/x-ndjson" if ndjson else "text/event-stream"
        return await self._write(
            request, kind, [encode_event(n, d, ndjson) for n, d in events], planted
        )

    async def _write(
        self, request: web.Request, content_type: str, parts: list[bytes], paused: set[int]
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        for i, part in enumerate(parts):
            await response.write(part)
            if i in paused:
                await asyncio.sleep(PIECE_PAUSE_S)
        await response.write_eof()
        return response


# -- the app's calls ---------------------------------------------------------------------------


def _planted(batch: list[dict[str, str]]) -> str:
    return " " + " | ".join(entry["text"] for entry in batch) + " "


def _chat_messages(batch: list[dict[str, str]]) -> list[ChatCompletionMessageParam]:
    """A conversation holding the batch in user text, tool-call arguments and a tool result."""
    text = _planted(batch)
    arguments = json.dumps({"password": batch[0]["secret"], "notes": text})
    return [
        {"role": "user", "content": f"Remember these:{text}"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "save_notes", "arguments": arguments},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": json.dumps({"api_key": batch[-1]["secret"], "saved": text}),
        },
        {"role": "user", "content": "Now say them back."},
    ]


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "save_notes",
            "description": "Save notes",
            "parameters": {"type": "object", "properties": {"notes": {"type": "string"}}},
        },
    }
]

Call = Callable[[ProxyService, FakeUpstream, list[dict[str, str]]], Awaitable[tuple[str, str]]]


def _openai(service: ProxyService) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=service.url, api_key="sk-test", max_retries=0)


def _chat(model: str, *, stream: bool, tools: bool = False) -> Call:
    async def call(
        service: ProxyService, fake: FakeUpstream, batch: list[dict[str, str]]
    ) -> tuple[str, str]:
        messages = _chat_messages(batch)
        options: dict[str, Any] = {"tools": TOOLS} if tools else {}
        async with _openai(service) as client:
            if not stream:
                completion = await client.chat.completions.create(
                    model=model, messages=messages, **options
                )
                return completion.choices[0].message.content or "", json.dumps(messages)
            text, arguments = "", ""
            chunks = await client.chat.completions.create(
                model=model, messages=messages, stream=True, **options
            )
            async for chunk in chunks:
                for choice in chunk.choices:
                    text += choice.delta.content or ""
                    for tool_call in choice.delta.tool_calls or []:
                        if tool_call.function is not None:
                            arguments += tool_call.function.arguments or ""
        if tools:
            text = json.loads(arguments)["notes"]
        return text, json.dumps(messages)

    return call


def _responses(*, stream: bool) -> Call:
    async def call(
        service: ProxyService, fake: FakeUpstream, batch: list[dict[str, str]]
    ) -> tuple[str, str]:
        ask = f"Remember these:{_planted(batch)}"
        async with _openai(service) as client:
            if not stream:
                response = await client.responses.create(model="gpt-4.1-nano", input=ask)
                return response.output_text, ask
            text = ""
            events = await client.responses.create(model="gpt-4.1-nano", input=ask, stream=True)
            async for event in events:
                if event.type == "response.output_text.delta":
                    text += event.delta
        return text, ask

    return call


def _anthropic_native(*, stream: bool) -> Call:
    async def call(
        service: ProxyService, fake: FakeUpstream, batch: list[dict[str, str]]
    ) -> tuple[str, str]:
        base = service.url.removesuffix("/v1")
        ask = f"Remember these:{_planted(batch)}"
        messages: list[Any] = [{"role": "user", "content": ask}]
        async with anthropic.AsyncAnthropic(
            base_url=f"{base}/anthropic", api_key="sk-ant-test", max_retries=0
        ) as client:
            if not stream:
                message = await client.messages.create(
                    model="claude-sonnet-4-5", max_tokens=256, messages=messages
                )
                return "".join(b.text for b in message.content if b.type == "text"), ask
            async with client.messages.stream(
                model="claude-sonnet-4-5", max_tokens=256, messages=messages
            ) as events:
                return "".join([t async for t in events.text_stream]), ask

    return call


def _gemini_native(*, stream: bool) -> Call:
    async def call(
        service: ProxyService, fake: FakeUpstream, batch: list[dict[str, str]]
    ) -> tuple[str, str]:
        base = service.url.removesuffix("/v1")
        ask = f"Remember these:{_planted(batch)}"
        client = genai.Client(
            api_key="AIza-test-key", http_options=genai_types.HttpOptions(base_url=f"{base}/gemini")
        )
        if not stream:
            response = await client.aio.models.generate_content(
                model="gemini-2.5-flash", contents=ask
            )
            return response.text or "", ask
        chunks = await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents=ask
        )
        return "".join([chunk.text or "" async for chunk in chunks]), ask

    return call


def _http_native(path: str, model: str, *, stream: bool) -> Call:
    async def call(
        service: ProxyService, fake: FakeUpstream, batch: list[dict[str, str]]
    ) -> tuple[str, str]:
        base = service.url.removesuffix("/v1")
        body = {"model": model, "messages": _chat_messages(batch)[:1], "stream": stream}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{base}{path}", json=body) as response,
        ):
            assert response.status == 200, await response.text()
            raw = (await response.read()).decode()
        return _native_text(raw, ndjson="ollama" in path, stream=stream), json.dumps(body)

    return call


def _native_text(raw: str, *, ndjson: bool, stream: bool) -> str:
    """The answer's text from an Ollama (``ndjson``) or Cohere v2 native answer."""
    if ndjson:
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        return "".join(line["message"]["content"] for line in lines)
    if not stream:
        return "".join(part["text"] for part in json.loads(raw)["message"]["content"])
    text = ""
    for _, data in transcript_events(raw):
        if isinstance(data, dict) and data.get("type") == "content-delta":
            text += data["delta"]["message"]["content"]["text"]
    return text


ROUTES: dict[str, Call] = {
    "openai-chat-stream": _chat("gpt-4o", stream=True),
    "openai-chat": _chat("gpt-4o", stream=False),
    "openai-chat-tool-call-stream": _chat("gpt-4o", stream=True, tools=True),
    "openai-responses-stream": _responses(stream=True),
    "openai-responses": _responses(stream=False),
    "anthropic-native-stream": _anthropic_native(stream=True),
    "anthropic-native": _anthropic_native(stream=False),
    "anthropic-converted-stream": _chat("claude-sonnet-4-5", stream=True),
    "anthropic-converted": _chat("claude-sonnet-4-5", stream=False),
    "gemini-native-stream": _gemini_native(stream=True),
    "gemini-native": _gemini_native(stream=False),
    "gemini-converted-stream": _chat("gemini-2.5-flash", stream=True),
    "gemini-converted": _chat("gemini-2.5-flash", stream=False),
    "ollama-native-stream": _http_native("/ollama/api/chat", "llama3.2", stream=True),
    "ollama-native": _http_native("/ollama/api/chat", "llama3.2", stream=False),
    "ollama-converted-stream": _chat("llama3.2", stream=True),
    "ollama-converted": _chat("llama3.2", stream=False),
    "cohere-native-stream": _http_native("/cohere/v2/chat", "command-a-03-2025", stream=True),
    "cohere-native": _http_native("/cohere/v2/chat", "command-a-03-2025", stream=False),
    "cohere-converted-stream": _chat("command-a-03-2025", stream=True),
    "cohere-converted": _chat("command-a-03-2025", stream=False),
}

#: Routes where a leak is the proxy's, not the redaction engine's (reported, not fixed here).
PROXY_LEAKS: dict[str, str] = {}


def grams(text: str) -> set[str]:
    """Every 8-character substring of ``text``."""
    return {text[i : i + 8] for i in range(len(text) - 7)}


def _home_text(home: Path) -> dict[str, str]:
    """Every file under ``home``, decoded byte for byte (latin-1), by relative path."""
    return {
        str(path.relative_to(home)): path.read_bytes().decode("latin-1")
        for path in sorted(home.rglob("*"))
        if path.is_file()
    }


#: Text that is on disk legitimately: the transcripts, and what surrounds each planted value
#: (``postgres://admin:`` before a password, ``example.com`` of a host).
BASELINE = "\n".join(
    [p.read_text() for p in sorted(DATA.rglob("*")) if p.is_file()]
    + [entry["text"].replace(entry["secret"], "\n") for entry in CORPUS]
)
_BASELINE_GRAMS = grams(BASELINE)
#: Each 8-character fragment of a planted secret (plain or JSON-escaped) that cannot be on disk
#: for another reason, with the kind of its secret.
FRAGMENTS: dict[str, str] = {
    fragment: entry["kind"]
    for entry in CORPUS
    for form in (entry["secret"], json.dumps(entry["secret"])[1:-1])
    for fragment in grams(form)
    if fragment not in _BASELINE_GRAMS
}


def test_corpus_covers_every_documented_kind() -> None:
    from traceforge_shared.redact import KINDS

    assert len(CORPUS) >= 80
    assert {e["kind"] for e in CORPUS} >= set(KINDS) - {"auth_header"}


@pytest.mark.parametrize(
    "route",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=PROXY_LEAKS[name]))
        if name in PROXY_LEAKS
        else name
        for name in ROUTES
    ],
)
async def test_corpus_through_every_route_leaves_nothing_on_disk(
    route: str, tmp_path: Path
) -> None:
    fake = FakeUpstream(random.Random(route))
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    config = Config()
    config.proxy.port = 0
    config.proxy.default_provider = None
    upstreams = {
        name: Upstream(
            provider=name,
            base_url=f"{base}/{name}" + ("/v1" if name == "openai" else ""),
            api_key="upstream-test-key",
            inject_stream_usage=True,
            mock=False,
        )
        for name in ("openai", "anthropic", "gemini", "ollama", "cohere")
    }
    home = tmp_path / "home"
    service = ProxyService(config, upstreams, TraceStore(home, fsync=False), mock_delay_ms=0)
    await service.start()
    call = ROUTES[route]
    try:
        for i in range(0, len(CORPUS), BATCH):
            batch = CORPUS[i : i + BATCH]
            fake.text = _planted(batch)
            fake.values = [entry["text"] for entry in batch]
            fake.tool_args = (
                json.dumps({"notes": fake.text}) if route.endswith("tool-call-stream") else None
            )
            received, _ = await call(service, fake, batch)
            for entry in batch:  # the app got the real bytes
                assert entry["text"] in received, (entry["kind"], route)
            upstream_body = fake.seen[-1][1].decode()
            for entry in batch:  # and the provider got the real request
                value = entry["text"]
                assert value in upstream_body or json.dumps(value)[1:-1] in upstream_body, (
                    entry["kind"],
                    route,
                )
    finally:
        await service.stop()
        await server.close()
    assert await asyncio.to_thread(service.writer.drain, 30.0)
    stored = _home_text(home)
    assert any(name.startswith("traces/") for name in stored)
    assert "index.sqlite" in stored
    leaks = {
        (FRAGMENTS[fragment], name, fragment)
        for name, text in stored.items()
        for fragment in grams(text) & FRAGMENTS.keys()
    }
    assert sorted(leaks) == [], len(leaks)

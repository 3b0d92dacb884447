"""Matching replayed requests to recordings: misses answered in each provider's error shape
naming the nearest recording and what differs, recorded order for identical requests, a
re-recording superseding the earlier run's, ignore fields, auto and passthrough modes,
redaction of what a cassette stores."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from traceforge_proxy.cassette_usage import ReplayTracker
from traceforge_proxy.modes import REPLAY_MISS_HEADER, REPLAYED_FROM_HEADER
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import saved_traces
from traceforge_proxy.testing_cassettes import socket_guard
from traceforge_shared.cassettes import Cassette
from traceforge_shared.store import TraceStore

# The ``start`` fixture and drivers are shared with the routes tests.
_spec = importlib.util.spec_from_file_location(
    "cassette_routes", Path(__file__).with_name("test_cassette_routes.py")
)
assert _spec is not None and _spec.loader is not None
routes = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("cassette_routes", routes)
_spec.loader.exec_module(routes)
start = routes.start
Start = Callable[..., Awaitable[ProxyService]]

ASK = routes.ASK


def _openai(service: ProxyService) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=service.url, api_key="sk-test", max_retries=0)


async def _chat(service: ProxyService, content: str, **options: Any) -> Any:
    client = _openai(service)
    try:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": content}],
            **options,
        )
        return raw.headers, raw.parse()
    finally:
        await client.close()


async def test_changed_prompt_is_a_400_naming_the_field(start: Start) -> None:
    recorder = await start("record")
    await _chat(recorder, "Hello")
    await recorder.stop()

    with socket_guard() as guard:
        player = await start("replay")
        guard.allowed.add(player.port)
        client = _openai(player)
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
            )
        await client.close()
        (_, trace) = await saved_traces(player, expected=2)
    assert guard.blocked == []
    error = caught.value
    assert error.code == "replay_miss"
    assert 'body.messages[0].content: "Hi" != "Hello"' in error.message
    assert "c/0001-openai-gpt-4o-mini-" in error.message
    header = error.response.headers[REPLAY_MISS_HEADER]
    assert header.startswith("nearest c/0001-openai-gpt-4o-mini-")
    assert 'body.messages[0].content: "Hi" != "Hello"' in header
    assert trace.metadata.status == "replay_miss"
    assert trace.metadata.status_code == 400
    assert trace.metadata.error is not None and trace.metadata.error.type == "replay_miss"
    assert trace.meta["cassette"] == "c"


async def test_misses_use_each_providers_error_shape(start: Start) -> None:
    recorder = await start("record")
    await routes.anthropic_stream(routes.root(recorder))
    await recorder.stop()
    player = await start("replay")
    client = anthropic.AsyncAnthropic(
        base_url=routes.root(player) + "/anthropic", api_key="sk-ant-test", max_retries=0
    )
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model="claude-opus-4-6", max_tokens=99, messages=ASK)
    await client.close()
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "body.max_tokens: 99 != 100" in body["error"]["message"]
    # Gemini, Ollama, Cohere: their own shapes.
    base = routes.root(player)
    async with aiohttp.ClientSession() as session:
        gemini = f"{base}/gemini/v1beta/models/gemini-2.5-flash:generateContent"
        async with session.post(gemini, json={"contents": []}) as response:
            error = (await response.json())["error"]
            assert (response.status, error["code"], error["status"]) == (
                400,
                400,
                "INVALID_ARGUMENT",
            )
        async with session.post(f"{base}/ollama/api/chat", json={"model": "m"}) as response:
            assert list(await response.json()) == ["error"]
        async with session.post(f"{base}/cohere/v2/chat", json={"model": "m"}) as response:
            assert "cassette 'c'" in (await response.json())["message"]


async def test_identical_requests_replay_in_recorded_order_once_each(start: Start) -> None:
    recorder = await start("record")
    await _chat(recorder, "Hello")
    await _chat(recorder, "Hello")
    await recorder.stop()
    player = await start("replay")
    first, _ = await _chat(player, "Hello")
    second, _ = await _chat(player, "Hello")
    assert first[REPLAYED_FROM_HEADER].startswith("c/0001-")
    assert second[REPLAYED_FROM_HEADER].startswith("c/0002-")
    with pytest.raises(openai.BadRequestError, match="were all replayed already"):
        await _chat(player, "Hello")


async def test_re_recording_supersedes_the_earlier_run(start: Start, store: TraceStore) -> None:
    """`--mode record` run twice over one cassette (it appends): the newer run's recording
    of a request is the one replayed; the older one is reported unused."""
    for _ in range(2):
        recorder = await start("record")
        await _chat(recorder, "Hello")
        await recorder.stop()
    first, second = Cassette("c", store.home).files()
    assert (first.name[:5], second.name[:5]) == ("0001-", "0002-")
    player = await start("replay")
    headers, _ = await _chat(player, "Hello")
    assert headers[REPLAYED_FROM_HEADER] == f"c/{second.name}"
    with pytest.raises(openai.BadRequestError, match="1 recording"):
        await _chat(player, "Hello")  # the superseded one is not served after it
    assert player.cassette is not None and player.cassette.index is not None
    assert [r.ref for r in player.cassette.index.superseded] == [f"c/{first.name}"]
    tracker = ReplayTracker()
    for trace in await saved_traces(player, expected=4):
        tracker.before_save(trace)
    assert tracker.report(player.cassette).unused == [f"c/{first.name}"]


async def test_a_miss_recorded_in_auto_mode_adds_to_the_recorded_run(
    start: Start, store: TraceStore
) -> None:
    """Misses recorded while replaying do not supersede: they come after what was there."""
    recorder = await start("record")
    await _chat(recorder, "Hello")
    await recorder.stop()
    auto = await start("auto")
    await _chat(auto, "Hello")  # replayed
    await _chat(auto, "Hello")  # a miss: recorded
    await auto.stop()
    assert len(Cassette("c", store.home).files()) == 2
    player = await start("replay")
    first, _ = await _chat(player, "Hello")
    second, _ = await _chat(player, "Hello")
    assert [first[REPLAYED_FROM_HEADER][:7], second[REPLAYED_FROM_HEADER][:7]] == [
        "c/0001-",
        "c/0002-",
    ]


async def test_volatile_and_ignored_fields_do_not_change_the_key(start: Start) -> None:
    recorder = await start("record")
    await _chat(recorder, "Hello", temperature=0.2, user="alice")
    await recorder.stop()
    player = await start("replay", ignore=("temperature",))
    headers, _ = await _chat(player, "Hello", temperature=0.9, user="bob")
    assert headers[REPLAYED_FROM_HEADER].startswith("c/0001-")
    strict = await start("replay")
    with pytest.raises(openai.BadRequestError, match=r"body\.temperature: 0\.9 != 0\.2"):
        await _chat(strict, "Hello", temperature=0.9)


async def test_auto_records_a_miss_then_replays_it(start: Start, store: TraceStore) -> None:
    auto = await start("auto")
    await _chat(auto, "Hello")
    (first,) = await saved_traces(auto)
    await auto.stop()
    assert "recorded_to" in first.meta and len(Cassette("c", store.home).files()) == 1
    again = await start("auto")
    headers, _ = await _chat(again, "Hello")
    assert headers[REPLAYED_FROM_HEADER] == first.meta["recorded_to"]
    assert again.cassette is not None and again.cassette.recorded == 0
    await again.stop()
    assert len(Cassette("c", store.home).files()) == 1


async def test_passthrough_forwards_a_miss_without_recording(
    start: Start, store: TraceStore
) -> None:
    player = await start("replay", on_miss="passthrough")
    _, completion = await _chat(player, "Hello")
    assert completion.choices[0].message.content
    (trace,) = await saved_traces(player)
    assert trace.metadata.status == "success" and "replayed_from" not in trace.meta
    await player.stop()
    assert Cassette("c", store.home).files() == []


async def test_offline_replay_never_connects(start: Start) -> None:
    with socket_guard() as guard:
        player = await start("replay")
        guard.allowed.add(player.port)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{player.url}/models") as response,
        ):
            body = await response.text()
    assert guard.blocked == []  # the proxy's own session refused before any socket
    assert "replaying a cassette offline" in body


async def test_cassettes_store_redacted_requests_and_answers(
    start: Start, store: TraceStore
) -> None:
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"
    recorder = await start("record")
    await _chat(recorder, f"my key is {secret}")
    await recorder.stop()
    (path,) = Cassette("c", store.home).files()
    text = path.read_text()
    assert secret not in text and "sk-test" not in text
    assert "REDACTED" in text
    # The same request (same secret) replays: keys are computed on the redacted request.
    player = await start("replay")
    headers, _ = await _chat(player, f"my key is {secret}")
    assert headers[REPLAYED_FROM_HEADER] == f"c/{path.name}"

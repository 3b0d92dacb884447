"""The app's tests: recorded once (``pytest --traceforge-mode record``), replayed in CI with
the network blocked (the default mode). Cassettes: ``tests/cassettes/test_assistant/<test>/``."""

from __future__ import annotations

import time

import assistant
import openai
import pytest

pytestmark = pytest.mark.usefixtures("traceforge_proxy")


def test_weather_tool_call() -> None:
    call = assistant.weather_tool_call("Paris")
    assert call.name == "get_weather"
    assert set(call.arguments) == {"city", "state"}


def test_summary() -> None:
    text = assistant.summary("TraceForge records LLM calls and replays them in CI.")
    assert text.strip()


def test_haiku() -> None:
    text = assistant.haiku("the sea")
    assert len(text.split()) >= 3


def test_replayed_stream_is_the_recording(traceforge_proxy) -> None:  # type: ignore[no-untyped-def]
    """Replay serves the recorded bytes, read for read, at the recorded times (compared with
    the cassette; recording mode only records)."""
    client = openai.OpenAI()
    started = time.perf_counter()
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[assistant.WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        reads = [
            (data, (time.perf_counter() - started) * 1000)
            for data in response.http_response.iter_raw()
        ]
    if traceforge_proxy.mode != "replay":
        return
    ((_, recorded),) = traceforge_proxy.interactions()
    expected = recorded.response.reads
    assert b"".join(data for data, _ in reads) == b"".join(r.data for r in expected)
    assert [data for data, _ in reads] == [r.data for r in expected]
    # Times from the second read on (the client is waiting for each by then; the first may
    # wait in the socket while the SDK sets up), against the recorded spacing: at least 3 in
    # 4 within 5 ms and none 50 ms off, so a late wake-up on a loaded machine is not a
    # failure (every read within 5 ms is measured, not asserted: bench/replay_timing.py).
    anchor_got, anchor_expected = reads[1][1], expected[1].offset_ms
    deviations = [
        abs((got_ms - anchor_got) - (read.offset_ms - anchor_expected))
        for (_, got_ms), read in zip(reads[1:], expected[1:], strict=True)
    ]
    assert sum(d <= 5.0 for d in deviations) >= 0.75 * len(deviations), deviations
    assert max(deviations) < 50.0, deviations

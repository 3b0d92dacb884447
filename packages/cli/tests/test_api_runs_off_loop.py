"""Test runs started from the API never stall the capture proxy sharing its event loop
(``traceforge start``): a slow assertion runs while a proxied call completes promptly.

Loop lag is measured by a ticker task that sleeps 10 ms at a time and records how late it
wakes; the bound (0.5 s) is generous for a loaded 2-core machine, and far below the
assertion's own cost (at least 1 s: the regex timeout), which is what the lag was before:
the whole assertion ran on the loop."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

# `regex` is imported here, not in the measured window: without a bytecode cache
# (PYTHONDONTWRITEBYTECODE, as in CI) importing it compiles 4,000 lines of Python, which holds
# the GIL for ~0.3 s, whichever thread does it: a once-per-process cost, not this test's topic.
import regex  # type: ignore[import-untyped]  # noqa: F401

from traceforge_cli.commands.start import _test_runner
from traceforge_proxy.runner import ProxyService
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_web_api.embedded import bind, embedded_server

#: Largest event-loop lag accepted while the slow assertion runs, in seconds.
MAX_LAG_S = 0.5

#: The slow assertion: catastrophic backtracking on the recorded answer. Python's `re` takes
#: exponential in the input: ~2.5 s on 23 characters, far more on the 31 used here (on a fast
#: machine 23 could finish inside the timeout); the `regex` module gives up after 1 s.
SLOW_TEST = """\
name: slow
source_trace: {trace_id}
request: {{model: gpt-4o-mini, messages: [{{role: user, content: slow}}]}}
assertions: [{{type: regex, pattern: '^(a|a)*$'}}]
"""

PROXY_TEST = """\
name: slow-live
request: {model: gpt-4o-mini, messages: [{role: user, content: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!}]}
assertions: [{type: regex, field: 'request.messages[0].content', pattern: '^(a|a)*$'}]
"""


def _config() -> Config:
    config = Config()
    config.proxy.host, config.proxy.port = "127.0.0.1", 0
    return config


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.01)
        lags.append(loop.time() - before - 0.01)


async def _scenario(
    store: TraceStore, body: dict[str, object]
) -> tuple[dict[str, Any], float, float]:
    """Start a test run through the API, make a proxied call while it runs; return the run,
    the call's duration and the largest loop lag seen (seconds)."""
    service = ProxyService(_config(), {}, store, mock_delay_ms=0)
    await service.start()
    sock: socket.socket = bind("127.0.0.1", 0)
    api = embedded_server(store, test_runner=_test_runner(service))
    api_task = asyncio.create_task(api.serve(sockets=[sock]))
    api_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sdk = openai.AsyncOpenAI(base_url=service.url, api_key="sk-lag", max_retries=0)
    # First calls load lazily imported modules (SDK, API, runner): a lag of their own, once
    # per process, that is not what this test is about.
    await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "0"}])
    assert await asyncio.to_thread(service.writer.drain, 30.0)  # redaction's imports
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{api_url}/api/tests/run", json={**body, "names": []}) as warm_up,
    ):
        assert warm_up.status == 200, await warm_up.text()
    lags: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(lags, stop))
    try:
        async with aiohttp.ClientSession() as http:

            async def run_tests() -> dict[str, Any]:
                async with http.post(f"{api_url}/api/tests/run", json=body) as response:
                    assert response.status == 200, await response.text()
                    run: dict[str, Any] = await response.json()
                    return run

            run_task = asyncio.create_task(run_tests())
            await asyncio.sleep(0.3)  # the run has started its slow assertion
            began = time.perf_counter()
            answer = await sdk.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
            call_s = time.perf_counter() - began
            assert answer.choices[0].message.content
            assert not run_task.done(), "the run ended before the proxied call: no overlap"
            run = await run_task
    finally:
        stop.set()
        await ticker
        await sdk.close()
        api.should_exit = True
        await api_task
        sock.close()
        await service.stop()
    return run, call_s, max(lags)


@pytest.mark.timeout(120)
def test_a_slow_replayed_assertion_does_not_stall_proxying(store: TraceStore, home: Path) -> None:
    recorded = make_trace(model="gpt-4o-mini", text="a" * 30 + "!")
    store.save(recorded)
    (home / "tests").mkdir(parents=True)
    (home / "tests" / "slow.yaml").write_text(SLOW_TEST.format(trace_id=recorded.id))
    run, call_s, lag = asyncio.run(_scenario(store, {"mode": "replay"}))
    (result,) = run["results"]
    assert result["status"] == "failed"
    assert "timed out" in result["assertions"][0]["message"]
    assert run["duration_ms"] >= 800  # the assertion was slow (1 s regex timeout) ...
    assert lag < MAX_LAG_S, f"the event loop stalled {lag:.3f} s"  # ... and the loop was not
    assert call_s < MAX_LAG_S + 1.0


@pytest.mark.timeout(120)
def test_a_slow_live_assertion_does_not_stall_proxying(store: TraceStore, home: Path) -> None:
    (home / "tests").mkdir(parents=True)
    (home / "tests" / "slow-live.yaml").write_text(PROXY_TEST)
    run, call_s, lag = asyncio.run(_scenario(store, {"mode": "proxy"}))
    (result,) = run["results"]
    assert result["status"] == "failed"
    assert "timed out" in result["assertions"][0]["message"]
    assert lag < MAX_LAG_S, f"the event loop stalled {lag:.3f} s"
    assert call_s < MAX_LAG_S + 1.0

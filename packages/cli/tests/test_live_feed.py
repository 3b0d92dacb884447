"""The proxy's ``saved`` hook wired through: the test runner gets each stored trace, and the
live feed of an API in the proxy's process (``traceforge start``) announces the traces the
proxy saves, test runs through the API included. In-process, on loopback sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import openai
import pytest
from starlette.testclient import TestClient

from traceforge_cli.testrun import RunOptions, run_tests
from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_shared.config import Config
from traceforge_shared.evals import TestCase
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace, summarize
from traceforge_web_api import create_app
from traceforge_web_api.embedded import live_feed
from traceforge_web_api.routes import events

DEADLINE_S = 20.0


@pytest.fixture(autouse=True)
def fast_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "KEEPALIVE_S", 0.05)


def _config() -> Config:
    config = Config()
    config.proxy.host, config.proxy.port = "127.0.0.1", 0
    return config


def _trace_ids(lines: Iterator[str], count: int) -> list[str]:
    found: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    for line in lines:
        if line.startswith("data: "):
            found.append(msgspec.json.decode(line[len("data: ") :])["id"])
            if len(found) == count:
                return found
        assert time.monotonic() < deadline, f"only {len(found)} of {count} events arrived"
    raise AssertionError("the stream ended")


class Saved:
    def __init__(self) -> None:
        self.traces: list[Trace] = []

    def saved(self, trace: Trace) -> None:
        self.traces.append(trace)


CASE = TestCase(
    name="hi",
    request={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
)


def test_run_tests_hands_proxy_mode_addons_every_saved_trace(store: TraceStore) -> None:
    listener = Saved()
    run = asyncio.run(
        run_tests(
            [(Path("hi.yaml"), CASE), (Path("again.yaml"), CASE)],
            config=_config(),
            store=store,
            options=RunOptions(mode="proxy"),
            addons=[listener],
        )
    )
    assert [r.status for r in run.results] == ["passed", "passed"]
    stored = {s.id for s in store.list()}
    assert len(stored) == 2
    assert {t.id for t in listener.traces} == stored


def test_run_tests_direct_mode_gives_addons_nothing(store: TraceStore) -> None:
    listener = Saved()
    run = asyncio.run(
        run_tests(
            [(Path("hi.yaml"), CASE)],
            config=_config(),
            store=store,
            options=RunOptions(mode="direct"),
            addons=[listener],
        )
    )
    assert [r.status for r in run.results] == ["passed"]
    assert listener.traces == []
    assert store.list() == []


def test_the_proxy_pushes_its_traces_to_the_live_feed(store: TraceStore) -> None:
    feed = live_feed(store)
    service = ProxyService(_config(), {}, store, addons=[feed], mock_delay_ms=0)
    with (
        BackgroundProxy(service) as proxy,
        TestClient(create_app(store, feed=feed), base_url="http://127.0.0.1") as client,
        client.stream("GET", "/api/events") as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        with openai.OpenAI(base_url=proxy.url, api_key="sk-feed-test", max_retries=0) as sdk:
            sdk.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
        (announced,) = _trace_ids(lines, 1)
        assert proxy.drain()
        (summary,) = store.list()
        assert announced == summary.id
        assert summarize(store.get(announced)) == summary

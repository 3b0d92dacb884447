"""``BackgroundProxy.drain`` after a call the app has finished reading: the proxy runs in
another thread, so the app can hold the whole answer before the proxy handed the call to its
writer; drain must still wait for that trace (a flaky test of the TUI's playground showed an
empty store after drain)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest

from traceforge_proxy.exchange import Exchange
from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore


class _SlowToHandOver:
    """A ``response`` hook that holds the call 0.3 s after its answer was sent (standing
    for a proxy thread that has not run yet when the client is done)."""

    def __init__(self) -> None:
        self.calls = 0

    def response(self, flow: Exchange) -> None:
        self.calls += 1
        time.sleep(0.3)


@pytest.fixture
def proxy(store: TraceStore) -> Iterator[BackgroundProxy]:
    config = Config()
    config.proxy.port = 0
    config.proxy.default_provider = "openai"
    service = ProxyService(config, {}, store, addons=[_SlowToHandOver()], mock_delay_ms=0)
    with BackgroundProxy(service) as running:
        yield running


def test_drain_waits_for_a_stream_the_app_has_read_to_the_end(
    proxy: BackgroundProxy, store: TraceStore
) -> None:
    """A stream's last bytes go out before its handler returns (a whole JSON answer is sent
    after, so it cannot race)."""
    with openai.OpenAI(base_url=proxy.url, api_key="sk-test", max_retries=0) as client:
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
    assert chunks
    assert proxy.service.calls_in_flight == 1  # the app is done; the proxy is not
    assert proxy.drain(10.0)
    assert proxy.service.calls_in_flight == 0
    assert len(store.list(limit=None)) == 1

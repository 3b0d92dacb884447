"""A user addon given to :class:`ProxyService` sees every hook of a real call, in order, on
loopback sockets in front of the built-in mock upstream."""

from __future__ import annotations

import threading
from typing import Any

import openai

from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_proxy.writer import TraceWriter
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import StreamChunk, Trace


class Recorder:
    """Implements every hook; records ``(hook, thread name)`` per call."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store
        self.calls: list[str] = []
        self.threads: dict[str, set[str]] = {}
        self.saved_on_disk: list[bool] = []

    def _note(self, hook: str) -> None:
        self.calls.append(hook)
        self.threads.setdefault(hook, set()).add(threading.current_thread().name)

    def request(self, flow: Any) -> None:
        self._note("request")

    def response_headers(self, flow: Any) -> None:
        self._note("response_headers")

    def chunk(self, flow: Any, chunk: StreamChunk) -> None:
        self._note("chunk")

    def response(self, flow: Any) -> None:
        self._note("response")

    def error(self, flow: Any) -> None:
        self._note("error")

    def before_save(self, trace: Trace) -> Trace:
        self._note("before_save")
        return trace

    def saved(self, trace: Trace) -> None:
        self._note("saved")
        self.saved_on_disk.append(self.store.path_for(trace.id).is_file())


def test_a_user_addon_sees_every_hook_of_a_call_in_order(store: TraceStore) -> None:
    config = Config()
    config.proxy.host, config.proxy.port = "127.0.0.1", 0
    recorder = Recorder(store)
    service = ProxyService(config, {}, store, addons=[recorder], mock_delay_ms=0)
    assert service.addons.addons[0] is recorder  # user flow hooks before the writer's
    assert isinstance(service.addons.addons[-1], TraceWriter)
    with (
        BackgroundProxy(service) as proxy,
        openai.OpenAI(base_url=proxy.url, api_key="sk-addon-secret", max_retries=0) as sdk,
    ):
        stream = sdk.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = len(list(stream))
        assert proxy.drain()
        streamed = list(recorder.calls)
        recorder.calls.clear()
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert proxy.drain()
        plain = list(recorder.calls)
    (trace,) = [store.get(s.id) for s in store.list() if s.streaming]
    assert streamed[:2] == ["request", "response_headers"]
    assert streamed[2:-3] == ["chunk"] * len(trace.chunks)
    assert len(trace.chunks) >= chunks > 0
    assert streamed[-3:] == ["response", "before_save", "saved"]
    assert plain == ["request", "response_headers", "response", "before_save", "saved"]
    assert recorder.saved_on_disk == [True, True]
    assert recorder.threads["before_save"] == recorder.threads["saved"] == {"trace-writer"}
    assert "trace-writer" not in recorder.threads["request"]

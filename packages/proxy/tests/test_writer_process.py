"""The writer process (``storage.writer: process``), driven as an app would: the official
``openai`` and ``anthropic`` SDKs through the proxy to the embedded mock upstream (real
recorded provider transcripts), the traces read back through the store.

Covers: the same stored trace (redacted, priced) as thread mode, secrets never on disk,
a SIGKILL of the writer process under load (restarted, nothing completed is lost), a clean
stop draining everything, and a real full disk (a small tmpfs, when it can be mounted).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anthropic
import msgspec
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.runner import ProxyService, writer_mode
from traceforge_proxy.server import TRACE_ID_HEADER
from traceforge_proxy.testing import get_health
from traceforge_proxy.upstream import Upstream
from traceforge_proxy.writer_process import ProcessTraceWriter
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

#: A real-looking OpenAI project key and an email: both must be redacted before disk.
SECRET_KEY = "sk-proj-" + "Q7wZ3kLm9PxR2vTb8NcY4hJd6FgS1aEu0iOq5WnXtBy"
EMAIL = "ada.lovelace.private@example.org"
ASK: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": f"My key is {SECRET_KEY}; mail {EMAIL}. Write a haiku."}
]
WAIT_S = 30.0


def _config(writer: str) -> Config:
    config = Config()
    config.proxy.port = 0
    config.proxy.default_provider = "openai"
    config.storage.writer = writer  # type: ignore[assignment]
    return config


@contextlib.asynccontextmanager
async def _service(home: Path, writer: str, **options: Any) -> AsyncIterator[ProxyService]:
    store = TraceStore(home, fsync=False)
    upstream = Upstream("openai", None, None, inject_stream_usage=True, mock=True)
    service = ProxyService(_config(writer), upstream, store, mock_delay_ms=0, **options)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def _traces(home: Path) -> list[Trace]:
    store = TraceStore(home, fsync=False)
    return [store.get(s.id) for s in reversed(store.list(limit=None))]


#: Fields that differ between two runs of the same calls: ids, clocks, ports, span ids.
_TIMES = ("latency_ms", "first_chunk_latency_ms", "first_content_latency_ms")


def _comparable(trace: Trace) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(trace)
    for key in ("id", "timestamp", "span"):
        data.pop(key, None)
    meta = data["metadata"]
    for key in (*_TIMES, "stream_duration_ms", "response_headers"):
        meta.pop(key, None)
    meta["upstream_url"] = re.sub(r":\d+/", ":PORT/", meta.get("upstream_url") or "")
    for chunk in data["chunks"]:
        chunk.pop("delta_ms")
        chunk.pop("offset_ms")
    if isinstance(data.get("response"), dict):  # converted answers are dated and named now
        data["response"].pop("created", None)
        data["response"].pop("id", None)
    return data


async def _calls(service: ProxyService) -> None:
    """An OpenAI streaming call, a converted Claude stream, and the Anthropic SDK's own
    streaming and non-streaming calls (passthrough), one after another."""
    client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-x", max_retries=0)
    text = ""
    async for chunk in await client.chat.completions.create(
        model="gpt-4o", messages=ASK, stream=True
    ):
        text += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert text
    converted = ""
    async for chunk in await client.chat.completions.create(
        model="claude-opus-4-6", messages=ASK, stream=True
    ):
        converted += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert converted
    await client.close()
    native = anthropic.AsyncAnthropic(
        base_url=service.url.removesuffix("/v1") + "/anthropic",
        api_key="sk-ant-test",
        max_retries=0,
    )
    content = ASK[0]["content"]
    assert isinstance(content, str)
    message: Any = [{"role": "user", "content": content}]
    async with native.messages.stream(
        model="claude-opus-4-6", max_tokens=50, messages=message
    ) as stream:
        assert "".join([t async for t in stream.text_stream])
    created = await native.messages.create(model="claude-opus-4-6", max_tokens=50, messages=message)
    assert created.content
    await native.close()


async def test_process_mode_stores_the_same_traces_as_thread_mode(tmp_path: Path) -> None:
    async with _service(tmp_path / "thread", "thread") as service:
        assert service.writer_mode == "thread"
        await _calls(service)
    async with _service(tmp_path / "process", "process") as service:
        assert service.writer_mode == "process"
        assert isinstance(service.writer, ProcessTraceWriter)
        await _calls(service)
    threaded, processed = _traces(tmp_path / "thread"), _traces(tmp_path / "process")
    assert [t.route for t in processed] == ["openai", "converted", "passthrough", "passthrough"]
    for one, two in zip(threaded, processed, strict=True):
        assert _comparable(one) == _comparable(two)
        meta = two.metadata
        assert meta.status == "success" and meta.usage is not None
        assert meta.cost_usd is not None and meta.cost_usd > 0  # priced in the child
        assert any("api_key" in field for field in meta.redacted_fields)
        for name in _TIMES[:1]:
            assert getattr(meta, name) is not None
    stream = processed[0]
    assert stream.metadata.streaming and len(stream.chunks) > 5
    assert stream.metadata.first_content_latency_ms is not None
    assert stream.response is not None and stream.response["choices"][0]["message"]["content"]


async def test_a_secret_in_the_request_never_reaches_any_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with _service(home, "process") as service:
        await _calls(service)
        assert await asyncio.to_thread(service.writer.drain, WAIT_S)
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in files) and len(_traces(home)) == 4
    for path in files:
        data = path.read_bytes()
        assert SECRET_KEY.encode() not in data, path
        assert EMAIL.encode() not in data, path


async def _stream(client: openai.AsyncOpenAI) -> str:
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    async for _ in raw.parse():
        pass
    return raw.headers[TRACE_ID_HEADER]


async def test_sigkill_of_the_writer_process_loses_no_completed_call(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with _service(home, "process") as service:
        writer = service.writer
        assert isinstance(writer, ProcessTraceWriter)
        client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-x", max_retries=0)
        first_pid = writer.pid
        assert first_pid is not None
        done: list[str] = []
        mid_load = asyncio.Event()

        async def worker(n: int) -> None:
            for _ in range(n):
                done.append(await _stream(client))
                if len(done) == 30:
                    mid_load.set()

        load = [asyncio.create_task(worker(12)) for _ in range(10)]
        await mid_load.wait()  # some saved, some in the pipe, more to come
        os.kill(first_pid, signal.SIGKILL)
        await asyncio.gather(*load)
        await client.close()
        assert await asyncio.to_thread(writer.drain, WAIT_S)
        assert writer.restarts >= 1 and writer.pid != first_pid
        assert writer.failures == 0
    assert len(done) == 120
    saved = {t.id for t in _traces(home)}
    assert saved == set(done)  # every completed call, once


async def test_a_clean_stop_saves_every_call_handed_over(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with _service(home, "process") as service:
        client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-x", max_retries=0)
        ids = await asyncio.gather(*(_stream(client) for _ in range(40)))
        await client.close()
        # No drain: stop() itself must wait for the writer process to save them all.
    assert {t.id for t in _traces(home)} == set(ids)


def test_before_save_addons_and_replay_keep_thread_mode() -> None:
    class Rewrites:
        def before_save(self, trace: Trace) -> Trace:
            return trace

    config = _config("process")
    assert writer_mode(config, "thread") == "process"
    assert writer_mode(config, "process", addons=[Rewrites()]) == "thread"
    assert writer_mode(config, "process", in_proxy=True) == "thread"
    config.storage.writer = None
    assert writer_mode(config, "process") in ("process", "thread")  # the env var may say


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (a real file system that fills up); skipped where it cannot be
    mounted (not root, no mount permission)."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Write zeros until the file system is full."""
    with path.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()


async def test_a_full_disk_degrades_healthz_and_the_traces_land_once_it_clears(
    full_disk: Path,
) -> None:
    home = full_disk / "home"
    async with _service(home, "process") as service:
        client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-x", max_retries=0)
        first = await _stream(client)
        assert await asyncio.to_thread(service.writer.drain, WAIT_S)
        filler = full_disk / "filler"
        _fill(filler)
        held = [await _stream(client) for _ in range(3)]  # the proxy keeps proxying
        assert await asyncio.to_thread(service.writer.drain, WAIT_S)
        health = await get_health(service)
        assert health["status"] == "degraded" and health["unsaved_traces"] >= 1
        assert health["store_error"]
        filler.unlink()
        after = await _stream(client)  # a new save retries the held ones first
        assert await asyncio.to_thread(service.writer.drain, WAIT_S)
        for _ in range(200):
            if (await get_health(service))["status"] == "ok":
                break
            await asyncio.sleep(0.05)
        health = await get_health(service)
        assert health["status"] == "ok" and health["unsaved_traces"] == 0
        assert health["dropped_traces"] == 0
        await client.close()
    assert {t.id for t in _traces(home)} == {first, *held, after}


class _Heads:
    """A ``saved`` addon that reads only the trace's head."""

    saved_head_only = True

    def __init__(self) -> None:
        self.traces: list[Trace] = []

    def saved(self, trace: Trace) -> None:
        self.traces.append(trace)


class _Wholes(_Heads):
    """A ``saved`` addon that reads the whole trace (no ``saved_head_only``)."""

    saved_head_only = False


async def _saved_by(addon: _Heads, home: Path) -> Trace:
    async with _service(home, "process", addons=[addon]) as service:
        client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-x", max_retries=0)
        trace_id = await _stream(client)
        await client.close()
        assert service.writer.drain(WAIT_S)
        for _ in range(int(WAIT_S / 0.05)):  # the reply follows the save
            if addon.traces:
                break
            await asyncio.sleep(0.05)
    (trace,) = addon.traces
    assert trace.id == trace_id
    return trace


async def test_head_only_saved_hooks_get_the_head_and_others_the_whole_trace(
    tmp_path: Path,
) -> None:
    head = await _saved_by(_Heads(), tmp_path / "a")
    stored = TraceStore(tmp_path / "a", fsync=False).get(head.id)
    assert stored.chunks and stored.request is not None and stored.response is not None
    assert head.chunks == [] and head.request is None and head.response is None
    assert head.metadata == stored.metadata  # usage, cost, times: what the hooks read
    assert (head.model, head.provider, head.span) == (stored.model, stored.provider, stored.span)
    whole = await _saved_by(_Wholes(), tmp_path / "b")
    assert whole == TraceStore(tmp_path / "b", fsync=False).get(whole.id)


async def test_a_stalled_writer_fills_the_pipe_and_nothing_is_lost_or_garbled(
    tmp_path: Path,
) -> None:
    """The writer process stopped (SIGSTOP) while 3 MiB of calls are handed over: the pipe
    (1 MiB) fills, frames are cut where the pipe is full and finished by the sender thread;
    the calls still complete for the app, and once the writer runs again every trace is
    saved once, whole."""
    home = tmp_path / "home"
    essay = "The quick brown fox jumps over the lazy dog. " * 2_000  # ~90 KB per request
    async with _service(home, "process") as service:
        writer = service.writer
        assert isinstance(writer, ProcessTraceWriter)
        client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-x", max_retries=0)
        await _stream(client)  # the writer process is started and ready
        pid = writer.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            ids = []
            for n in range(36):
                raw = await client.chat.completions.with_raw_response.create(
                    model="gpt-4o", messages=[{"role": "user", "content": f"{n} {essay}"}]
                )
                ids.append(raw.headers[TRACE_ID_HEADER])
        finally:
            os.kill(pid, signal.SIGCONT)
        await client.close()
        assert await asyncio.to_thread(writer.drain, WAIT_S)
        assert writer.restarts == 0 and writer.failures == 0
    traces = {t.id: t for t in _traces(home)}
    assert set(ids) <= set(traces)
    for n, trace_id in enumerate(ids):
        assert trace_id in traces
        assert traces[trace_id].request["messages"][0]["content"] == f"{n} {essay}"


def _policies(pid: int) -> list[int]:
    return sorted(os.sched_getscheduler(int(t)) for t in os.listdir(f"/proc/{pid}/task"))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux scheduling policies")
@pytest.mark.parametrize("setting", [None, "normal"])
async def test_the_writer_saves_at_idle_priority_and_reads_at_normal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None
) -> None:
    """Every thread of the writer process but the pipe's reader runs ``SCHED_IDLE`` (the
    proxy preempts it at once); ``TRACEFORGE_WRITER_SCHED=normal`` keeps them all normal.
    Calls are saved either way."""
    if setting is not None:
        monkeypatch.setenv("TRACEFORGE_WRITER_SCHED", setting)
    else:
        monkeypatch.delenv("TRACEFORGE_WRITER_SCHED", raising=False)
    home = tmp_path / "home"
    async with _service(home, "process") as service:
        writer = service.writer
        assert isinstance(writer, ProcessTraceWriter)
        client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-x", max_retries=0)
        trace_id = await _stream(client)
        await client.close()
        assert await asyncio.to_thread(writer.drain, WAIT_S)
        assert writer.pid is not None
        policies = _policies(writer.pid)
        nices = [
            os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir(f"/proc/{writer.pid}/task")
        ]
    assert len(policies) >= 2  # the reader, the main thread, the saving thread
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert sorted(nices).count(own) == 1  # the reader, at the proxy's priority
    assert all(n > own for n in nices if n != own)  # the rest niced
    if setting == "normal":
        assert set(policies) == {os.SCHED_OTHER}
    else:
        assert policies.count(os.SCHED_OTHER) == 1  # the reader
        assert set(policies) == {os.SCHED_OTHER, os.SCHED_IDLE}
    assert [t.id for t in _traces(home)] == [trace_id]

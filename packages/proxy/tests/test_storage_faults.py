"""Storage faults while the proxy runs, driven as an app would: the official ``openai`` SDK
through the proxy to the embedded mock upstream, with the trace store broken underneath.

Disk full and read-only are simulated in the store's write path (``write_atomic`` raising
``OSError(ENOSPC)`` / ``EROFS``: tests run as root, where ``chmod`` stops nothing); a real
read-only directory is used too when the tests do not run as root. The simulated faults
patch this process, so those tests use the writer thread (``storage.writer: thread``); the
writer process meets a real full disk in ``test_writer_process.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

import traceforge_shared.store as store_module
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.server import TRACE_ID_HEADER
from traceforge_proxy.testing import get_health
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Invent a holiday."}]
WAIT_S = 10.0


class BrokenDisk:
    """Makes the store's file writes fail with ``OSError(code)`` until :meth:`fix`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
        self.monkeypatch = monkeypatch
        self.code = code
        self.real = store_module.write_atomic  # type: ignore[attr-defined]
        monkeypatch.setattr(store_module, "write_atomic", self.write)

    def write(self, path: Path, data: bytes, *, fsync: bool = True) -> None:
        raise OSError(self.code, os.strerror(self.code), str(path))

    def fix(self) -> None:
        self.monkeypatch.setattr(store_module, "write_atomic", self.real)


async def _call(client: openai.AsyncOpenAI) -> str:
    """One chat completion through the proxy; returns its trace id."""
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4.1-nano", messages=USER
    )
    assert raw.parse().choices[0].message.content
    return raw.headers[TRACE_ID_HEADER]


async def _drain(service: ProxyService) -> None:
    assert await asyncio.to_thread(service.writer.drain, WAIT_S)


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def _on_disk(store: TraceStore) -> list[str]:
    return sorted(p.stem for p in store.traces_dir.glob("*.json"))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
async def test_a_full_or_read_only_disk_holds_traces_and_every_one_lands_once_it_clears(
    make_proxy: Any, sdk: Any, store: TraceStore, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    service = await make_proxy(writer="thread")  # the fault is injected here
    client = sdk(service)
    changes: list[str] = []
    service.writer.on_health_change = lambda health: changes.append(health.status)
    assert (await get_health(service))["status"] == "ok"

    disk = BrokenDisk(monkeypatch, code)
    held = [await _call(client) for _ in range(4)]  # every call is answered
    await _drain(service)
    health = await get_health(service)
    assert health["status"] == "degraded"
    assert health["unsaved_traces"] == 4
    assert health["dropped_traces"] == 0
    assert os.strerror(code) in health["store_error"]
    assert _on_disk(store) == []
    assert changes == ["degraded"]

    disk.fix()
    last = await _call(client)  # the next save retries the held ones first
    await _drain(service)
    assert _on_disk(store) == sorted([*held, last])
    assert [s.id for s in TraceStore(store.home).list(limit=None)] == [last, *reversed(held)]
    health = await get_health(service)
    assert (health["status"], health["unsaved_traces"], health["store_error"]) == ("ok", 0, None)
    assert changes == ["degraded", "ok"]
    assert service.writer.failures == 0


async def test_held_traces_are_retried_on_a_timer(
    make_proxy: Any, sdk: Any, store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await make_proxy(writer="thread")  # the fault is injected here
    service.writer.retry_interval_s = 0.02
    client = sdk(service)
    disk = BrokenDisk(monkeypatch, errno.ENOSPC)
    held = [await _call(client) for _ in range(3)]
    await _drain(service)
    assert (await get_health(service))["unsaved_traces"] == 3
    disk.fix()  # no new call: the writer's timer retries
    await _until(lambda: service.writer.storage_health().unsaved_traces == 0)
    assert _on_disk(store) == sorted(held)
    assert (await get_health(service))["status"] == "ok"


async def test_a_full_unsaved_queue_drops_the_oldest_and_counts_them(
    make_proxy: Any, sdk: Any, store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await make_proxy(writer="thread")  # the fault is injected here
    client = sdk(service)
    disk = BrokenDisk(monkeypatch, errno.ENOSPC)
    first = await _call(client)
    await _drain(service)
    one = service.writer.storage_health().unsaved_bytes
    service.writer.max_unsaved_bytes = int(one * 2.5)  # room for two of these traces
    ids = [first] + [await _call(client) for _ in range(4)]
    await _drain(service)
    health = await get_health(service)
    assert (health["unsaved_traces"], health["dropped_traces"]) == (2, 3)
    disk.fix()
    service.writer.retry_interval_s = 0.02
    await _until(lambda: service.writer.storage_health().unsaved_traces == 0)
    assert _on_disk(store) == sorted(ids[-2:])  # the newest two survived
    health = await get_health(service)
    assert (health["status"], health["dropped_traces"]) == ("ok", 3)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes to read-only dirs"
)
async def test_a_real_read_only_traces_directory(
    make_proxy: Any, sdk: Any, store: TraceStore
) -> None:
    store.traces_dir.mkdir(parents=True)
    store.save(make_trace())  # the index exists and is writable; the traces dir is not
    store.traces_dir.chmod(0o500)
    try:
        service = await make_proxy()
        client = sdk(service)
        held = await _call(client)
        await _drain(service)
        health = await get_health(service)
        assert (health["status"], health["unsaved_traces"]) == ("degraded", 1)
    finally:
        store.traces_dir.chmod(0o700)
    service.writer.retry_interval_s = 0.02
    await _until(lambda: service.writer.storage_health().unsaved_traces == 0)
    assert held in _on_disk(store)


# -- the index ---------------------------------------------------------------------------------

CORRUPT_INDEXES = {
    "garbage": lambda data: b"\x00garbage\xff" * 500,
    "truncated": lambda data: data[: len(data) // 2],
}


def _seed(store: TraceStore, count: int) -> list[str]:
    now = time.time()  # recent: the start-up prune keeps them (retention_days)
    traces = [make_trace(epoch_s=now - count + i) for i in range(count)]
    store.save_many(traces)
    conn = store.index.connection()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in index.sqlite itself
    store.index.close()
    return [t.id for t in traces]


@pytest.mark.parametrize("damage", CORRUPT_INDEXES.values(), ids=CORRUPT_INDEXES.keys())
async def test_a_corrupt_index_at_start_is_moved_aside_and_rebuilt(
    make_proxy: Any, sdk: Any, store: TraceStore, damage: Callable[[bytes], bytes]
) -> None:
    old = _seed(store, 300)  # enough rows that half the file loses some
    index = store.home / "index.sqlite"
    index.write_bytes(damage(index.read_bytes()))

    service = await make_proxy()
    new = [await _call(sdk(service)) for _ in range(3)]
    await _drain(service)
    assert service.writer.failures == 0
    assert (await get_health(service))["status"] == "ok"

    listed = {s.id for s in TraceStore(store.home).list(limit=None)}
    assert listed == {*old, *new}
    aside = list(store.home.glob("index.sqlite.corrupt-*"))
    assert len([p for p in aside if not p.name.endswith("-wal")]) == 1


async def test_an_index_corrupted_while_the_proxy_runs_is_rebuilt_without_losing_traces(
    make_proxy: Any, sdk: Any, store: TraceStore
) -> None:
    service = await make_proxy()
    client = sdk(service)
    before = [await _call(client) for _ in range(2)]
    await _drain(service)
    with contextlib.closing(sqlite3.connect(store.home / "index.sqlite")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL emptied into the file
    # Another program replaces the index with garbage (a sync tool, a bad restore).
    index = store.home / "index.sqlite"
    broken = index.with_name("broken")
    broken.write_bytes(b"not a database at all" * 100)
    os.replace(broken, index)

    after = [await _call(client) for _ in range(3)]
    await _drain(service)
    assert service.writer.failures == 0
    listed = {s.id for s in TraceStore(store.home).list(limit=None)}
    assert listed == {*before, *after}
    assert list(store.home.glob("index.sqlite.corrupt-*"))


async def test_stale_temp_files_are_removed_when_the_proxy_starts(
    make_proxy: Any, store: TraceStore
) -> None:
    store.traces_dir.mkdir(parents=True)
    stale = store.traces_dir / f".{'ab' * 12}.{'0' * 16}.tmp"
    stale.write_bytes(b'{"schema_version": 1, "id": "ab')  # half a trace: killed mid-write
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    service = await make_proxy()
    await _drain(service)
    assert not stale.exists()

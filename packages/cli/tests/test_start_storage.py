"""``traceforge start``'s console while the store cannot be written: one warning line when
saving starts failing, one when it recovers. The start command's ``_serve`` runs in-process
(on loopback sockets) with the store's write path failing with ``ENOSPC``."""

from __future__ import annotations

import asyncio
import errno
import io
import os
import time
from pathlib import Path

import openai
import pytest
from rich.console import Console

import traceforge_shared.store as store_module
from traceforge_cli.commands.start import _serve
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.upstream import resolve_upstreams
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore

DEADLINE_S = 20.0


async def _until(text: io.StringIO, needle: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while needle not in text.getvalue():
        assert time.monotonic() < deadline, text.getvalue()
        await asyncio.sleep(0.01)


async def test_start_warns_when_saving_fails_and_when_it_recovers(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config()
    config.proxy.host, config.proxy.port = "127.0.0.1", 0
    store = TraceStore(home, fsync=False)
    service = ProxyService(config, resolve_upstreams(config), store, mock_delay_ms=0)
    out = io.StringIO()
    console = Console(file=out, width=200)
    serving = asyncio.create_task(_serve(service, console, None, None))
    await _until(out, "listening on")

    real = store_module.write_atomic  # type: ignore[attr-defined]

    def full(path: Path, data: bytes, *, fsync: bool = True) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(store_module, "write_atomic", full)
    async with openai.AsyncOpenAI(base_url=service.url, api_key="sk-x", max_retries=0) as client:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        await _until(out, "cannot save traces")
        monkeypatch.setattr(store_module, "write_atomic", real)
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "again"}]
        )
        await _until(out, "saving traces again")
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    lines = [line for line in out.getvalue().splitlines() if "traces" in line and ":" in line]
    warning = next(line for line in lines if "cannot save traces" in line)
    assert warning.startswith("warning: cannot save traces ([Errno 28] No space left on device")
    assert sum("cannot save traces" in line for line in lines) == 1
    assert sum("saving traces again" in line for line in lines) == 1
    assert len(store.list()) == 2

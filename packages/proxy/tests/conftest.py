"""Fixtures: a proxy on a free loopback port, in the test's own event loop, in front of the
embedded mock upstream (real OpenAI transcripts) or a fault-injecting upstream app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import openai
import pytest
from aiohttp import web

from traceforge_proxy.runner import ProxyService
from traceforge_proxy.upstream import KEY_ENVS, Upstream
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore

MakeProxy = Callable[..., Awaitable[ProxyService]]
#: What the ``sdk`` fixture gives: ``sdk(service, api_key="sk-x", **options)``.
Sdk = Callable[..., openai.AsyncOpenAI]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRACEFORGE_HOME", str(tmp_path / "default-home"))
    # Every provider goes to the embedded mock, whatever keys the machine has.
    for names in KEY_ENVS.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)


@pytest.fixture
def store(tmp_path) -> TraceStore:  # type: ignore[no-untyped-def]
    return TraceStore(tmp_path / "home", fsync=False)


@pytest.fixture
async def make_proxy(store: TraceStore) -> AsyncIterator[MakeProxy]:
    """``await make_proxy(upstream_app=None, **options)`` starts a proxy; stopped at teardown.

    Options: ``mock_delay_ms`` (default 0), ``chunk_cap``, ``read_timeout_s``,
    ``connect_timeout_s``, ``inject`` (inject_stream_usage, default True), ``api_key``,
    ``base_url`` (forward there instead of starting an upstream app), ``default_provider``
    (for models no pattern matches; default ``openai``, so the mock's ``mock-*`` models
    work), ``config`` (a base :class:`Config` to start from), ``writer`` (``storage.writer``:
    ``process`` or ``thread``; default: ``$TRACEFORGE_STORAGE_WRITER``, else ``thread``).
    """
    services: list[ProxyService] = []

    async def make(
        upstream_app: web.Application | None = None,
        *,
        mock_delay_ms: float = 0.0,
        chunk_cap: int = 10_000,
        read_timeout_s: float = 300.0,
        connect_timeout_s: float = 10.0,
        inject: bool = True,
        api_key: str | None = None,
        base_url: str | None = None,
        default_provider: str | None = "openai",
        config: Config | None = None,
        writer: Literal["process", "thread"] | None = None,
    ) -> ProxyService:
        config = config or Config()
        if writer is not None:
            config.storage.writer = writer
        config.proxy.port = 0
        config.proxy.default_provider = default_provider
        config.proxy.chunk_cap = chunk_cap
        config.proxy.read_timeout_s = read_timeout_s
        config.proxy.connect_timeout_s = connect_timeout_s
        upstream = Upstream(
            provider="openai",
            base_url=base_url,
            api_key=api_key,
            inject_stream_usage=inject,
            mock=base_url is None,
        )
        service = ProxyService(
            config, upstream, store, mock_delay_ms=mock_delay_ms, upstream_app=upstream_app
        )
        await service.start()
        services.append(service)
        return service

    yield make
    for service in services:
        await service.stop()


@pytest.fixture
async def sdk(make_proxy: MakeProxy) -> AsyncIterator[Sdk]:
    """``sdk(service, api_key="sk-x", **options)``: an ``openai.AsyncOpenAI`` client pointed at
    the proxy, with retries off (the proxy must never retry on its own, and tests see each
    failure once); closed at teardown."""
    clients: list[openai.AsyncOpenAI] = []

    def connect(
        service: ProxyService, api_key: str = "sk-x", **options: object
    ) -> openai.AsyncOpenAI:
        client = openai.AsyncOpenAI(base_url=service.url, api_key=api_key, max_retries=0, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.close()

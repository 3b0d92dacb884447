"""Running the proxy (and, when needed, the embedded mock upstream) on real sockets.

:class:`ProxyService` runs on the caller's event loop (``traceforge start``);
:class:`BackgroundProxy` runs one in a thread of its own, for callers that are synchronous
(``traceforge demo``, tests driving the synchronous OpenAI client).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Literal

from aiohttp import web

from traceforge_proxy.app import create_proxy_app
from traceforge_proxy.budgets import BudgetGuard
from traceforge_proxy.cassette_session import CassetteSession
from traceforge_proxy.embedding_trace import EmbeddingVectors
from traceforge_proxy.hooks import Addons
from traceforge_proxy.live import LiveCalls
from traceforge_proxy.mock_upstream import create_mock_app
from traceforge_proxy.modes import CassetteOptions
from traceforge_proxy.otlp_export import otlp_export_addon
from traceforge_proxy.server import HANDLER_KEY, ProxyHandler
from traceforge_proxy.transport import UpstreamSender
from traceforge_proxy.upstream import MOCK_PREFIXES, Upstream, resolve_upstreams
from traceforge_proxy.writer import TraceWriter
from traceforge_proxy.writer_process import ProcessTraceWriter
from traceforge_shared.config import Config
from traceforge_shared.cost import CostRecorder
from traceforge_shared.redact import Redactor
from traceforge_shared.store import TraceStore

#: Upstream address of a provider that offline replay leaves unset (never connected to).
OFFLINE_URL = "http://replay.invalid"

#: Environment variable choosing the writer when ``storage.writer`` is not set: ``process``
#: or ``thread`` (the test suite runs once with each).
WRITER_ENV = "TRACEFORGE_STORAGE_WRITER"

WriterMode = Literal["process", "thread"]


def writer_mode(
    config: Config,
    default: WriterMode,
    *,
    addons: Sequence[object] = (),
    in_proxy: bool = False,
) -> WriterMode:
    """Where traces are saved: ``thread`` when an addon must see (or rewrite) traces before
    they are saved in the proxy's own process (any of ``addons`` with a ``before_save``
    hook, or ``in_proxy``: a cassette, replay from traces), else ``storage.writer``, else
    ``$TRACEFORGE_STORAGE_WRITER``, else ``default``.

    Raises:
        ValueError: ``$TRACEFORGE_STORAGE_WRITER`` is neither ``process`` nor ``thread``.
    """
    if in_proxy or any(callable(getattr(a, "before_save", None)) for a in addons):
        return "thread"
    if config.storage.writer is not None:
        return config.storage.writer
    env = os.environ.get(WRITER_ENV, "").strip().lower()
    if env in ("process", "thread"):
        return "process" if env == "process" else "thread"
    if env:
        raise ValueError(f"{WRITER_ENV} must be 'process' or 'thread', not {env!r}")
    return default


def _bound_port(runner: web.AppRunner) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
    raise RuntimeError("site is not listening")


class ProxyService:
    """The proxy plus, for a mock upstream, the mock; started and stopped together.

    Args:
        config: proxy settings (host, port: 0 picks a free port).
        upstream: upstreams by provider, or one upstream (providers not given are resolved
            from ``config`` and the environment). Upstreams with ``mock`` set go to
            the embedded mock upstream, started on a free loopback port.
        store: where traces are saved.
        addons: addons (see :mod:`traceforge_proxy.hooks`), each implementing any hooks.
            Their ``before_save`` hooks run after the redactor built from
            ``config.redaction`` and the cost recorder; their flow hooks (``request``,
            ``response``, ...) run before the writer's, in the order given.
        mock_delay_ms: the mock's pause between SSE events.
        upstream_app: an aiohttp app to start as the OpenAI upstream instead of the mock
            (tests use it for fault-injecting upstreams).
        cassette: record to or replay from a cassette (:mod:`traceforge_proxy.modes`);
            offline replay starts no mock upstream and opens no upstream connection.
        sender: how planned requests reach upstreams when there is no cassette
            (:class:`~traceforge_proxy.transport.UpstreamSender`; default: the network);
            ``traceforge test run --replay`` answers from stored traces
            (:class:`~traceforge_proxy.trace_replay.TraceReplay`). Give it in ``addons``
            too when it has hooks.
        writer: where traces are saved when neither ``storage.writer`` nor
            ``$TRACEFORGE_STORAGE_WRITER`` says (:func:`writer_mode`): ``thread`` (a
            :class:`TraceWriter`) or ``process`` (a :class:`~traceforge_proxy.
            writer_process.ProcessTraceWriter`; ``traceforge start``).

    Attributes:
        writer: the :class:`TraceWriter` or :class:`~traceforge_proxy.writer_process.
            ProcessTraceWriter` (an addon itself: ``response``/``error`` hand the call
            over to save).
        writer_mode: ``process`` or ``thread``.
        addons: the proxy's flow hooks: ``Addons([budgets, *addons, writer])``.
        budgets: the :class:`~traceforge_proxy.budgets.BudgetGuard` of ``config.budgets``
            (``None`` without budgets); its ``on_alert`` may be replaced before :meth:`start`.
        url: after :meth:`start`, the proxy's base URL for SDKs
            (``http://127.0.0.1:8787/v1``).
        upstreams: after :meth:`start`, every provider's upstream actually used (mock
            addresses filled in).
        upstream: the OpenAI one.
    """

    def __init__(
        self,
        config: Config,
        upstream: Upstream | Mapping[str, Upstream],
        store: TraceStore,
        *,
        addons: Sequence[object] = (),
        mock_delay_ms: float = 20.0,
        upstream_app: web.Application | None = None,
        cassette: CassetteOptions | None = None,
        sender: UpstreamSender | None = None,
        writer: WriterMode = "thread",
    ) -> None:
        self.config = config
        self.sender = sender
        #: the cassette recorded to or replayed from (``None``: live, :mod:`.modes`).
        self.cassette = (
            None
            if cassette is None or cassette.mode == "live"
            else CassetteSession(cassette, store.home, config.redaction)
        )
        cassette_addons = () if self.cassette is None else (self.cassette,)
        given = {upstream.provider: upstream} if isinstance(upstream, Upstream) else upstream
        self.upstreams = {**resolve_upstreams(config), **given}
        self.store = store
        #: the ``budgets:`` of the config, enforced (``None`` when there are none).
        self.budgets = BudgetGuard(config.budgets, store) if config.budgets else None
        budget_addons = () if self.budgets is None else (self.budgets,)
        #: where traces are saved: ``process`` or ``thread`` (:func:`writer_mode`).
        self.writer_mode = writer_mode(
            config, writer, addons=addons, in_proxy=self.cassette is not None or sender is not None
        )
        # Redaction runs first, so no other addon ever sees an unredacted trace; then the
        # cost in USD is priced from the usage (genai-prices); embedding vectors are stored
        # as their dimensions and first values.
        redactor = Redactor(config.redaction)
        #: calls in flight on ``GET /_traceforge/events`` (:mod:`traceforge_proxy.live`).
        self.live = LiveCalls(redactor)
        #: the ``export.otlp`` addon (``saved``: spans exported from the SDK's batch thread);
        #: in process mode it runs in the writer process (``None`` here).
        self.otlp_export = None
        #: saves the traces (an addon: ``response``/``error`` hand the call over).
        self.writer: TraceWriter | ProcessTraceWriter
        if self.writer_mode == "process":
            # The before_save chain and the export are built in the writer process from
            # the config; the proxy keeps the saved hooks (live feed, budgets, addons).
            self.writer = ProcessTraceWriter(
                config,
                store.home,
                fsync=store.fsync,
                addons=[*addons, *budget_addons, self.live],
            )
        else:
            self.otlp_export = otlp_export_addon(config, store.home)
            export_addons = () if self.otlp_export is None else (self.otlp_export,)
            self.writer = TraceWriter(
                store,
                addons=[
                    redactor,
                    *cassette_addons,
                    EmbeddingVectors(config.storage.embedding_values),
                    CostRecorder(),
                    *addons,
                    *budget_addons,
                    *export_addons,
                    self.live,
                ],
                storage=config.storage,
            )
        self.addons = Addons([*budget_addons, *addons, self.live, self.writer])
        self.mock_delay_ms = mock_delay_ms
        self.upstream_app = upstream_app
        self._runners: list[web.AppRunner] = []
        self._handler: ProxyHandler | None = None
        self.url = ""
        self.port = 0

    async def start(self) -> None:
        """Bind and start serving.

        Raises:
            OSError: the port is taken or the host cannot be bound.
            traceforge_shared.cassettes.CassetteError: a cassette file cannot be read.
            traceforge_proxy.writer_process.WriterProcessError: the writer process did not
                start.
        """
        offline = self.cassette is not None and self.cassette.options.offline
        if isinstance(self.writer, ProcessTraceWriter):  # ready before the first request
            await asyncio.get_running_loop().run_in_executor(None, self.writer.start)
        if self.cassette is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.cassette.load)
        if offline:  # no mock: replayed answers need no upstream, and nothing is reached
            for provider, upstream in self.upstreams.items():
                if upstream.mock:
                    self.upstreams[provider] = dataclasses.replace(
                        upstream, base_url=OFFLINE_URL + MOCK_PREFIXES[provider], mock=False
                    )
        if self.upstream_app is not None:
            address = await self._serve_upstream(self.upstream_app)
            self.upstreams["openai"] = dataclasses.replace(
                self.upstreams["openai"], base_url=f"{address}/v1", mock=False
            )
        if any(u.mock for u in self.upstreams.values()):
            address = await self._serve_upstream(create_mock_app(delay_ms=self.mock_delay_ms))
            for provider, upstream in self.upstreams.items():
                if upstream.mock:
                    self.upstreams[provider] = dataclasses.replace(
                        upstream, base_url=address + MOCK_PREFIXES[provider]
                    )
        app = create_proxy_app(
            self.upstreams,
            self.addons,
            self.config,
            sender=self.cassette if self.cassette is not None else self.sender,
            offline=offline,
        )
        self._handler = app[HANDLER_KEY]
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        proxy = self.config.proxy
        await web.TCPSite(runner, proxy.host, proxy.port).start()
        self._runners.append(runner)
        self.port = _bound_port(runner)
        host = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
        self.url = f"http://{host}:{self.port}/v1"

    @property
    def upstream(self) -> Upstream:
        """The OpenAI upstream."""
        return self.upstreams["openai"]

    @property
    def calls_in_flight(self) -> int:
        """Calls received and not yet handed to the writer (0 before :meth:`start`). A
        client can have read a whole answer a moment before its call is handed over."""
        handler = self._handler
        return 0 if handler is None else handler.calls_in_flight

    async def _serve_upstream(self, app: web.Application) -> str:
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runners.append(runner)
        return f"http://127.0.0.1:{_bound_port(runner)}"

    async def stop(self) -> None:
        """Stop serving, then wait until every recorded trace is saved."""
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self.cassette is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.cassette.close)
        await asyncio.get_running_loop().run_in_executor(None, self.writer.close)
        if self.otlp_export is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.otlp_export.close)


class BackgroundProxy:
    """A :class:`ProxyService` on an event loop in a daemon thread; a context manager.

    Use :meth:`drain` to wait until the traces of finished calls are on disk.
    """

    def __init__(self, service: ProxyService) -> None:
        self.service = service
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="traceforge-proxy", daemon=True
        )

    @property
    def url(self) -> str:
        """The proxy's base URL for SDKs."""
        return self.service.url

    def start(self) -> BackgroundProxy:
        """Start the thread and the service; returns once the proxy listens."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self._loop).result(30)
        return self

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every call received so far has ended and its trace is saved (the
        proxy runs in another thread: a client may have read its whole answer before the
        call was handed to the writer); ``False`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.service.calls_in_flight:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return self.service.writer.drain(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """Stop the service and the thread."""
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.service.stop(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> BackgroundProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

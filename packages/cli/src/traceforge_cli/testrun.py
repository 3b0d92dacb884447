"""Running LLM regression tests: each test's request goes through the capture proxy (so the
run is itself traced), straight to the providers through the SDK's client with no proxy
(``direct``: :mod:`traceforge_cli.directrun`, nothing recorded), or not at all (``replay``: the
recorded answer is checked, offline and deterministic); its assertions are then evaluated
against the trace of the call (for ``direct``, one built in memory and never saved).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiohttp
import msgspec

from traceforge_proxy.runner import ProxyService
from traceforge_proxy.server import TRACE_ID_HEADER
from traceforge_shared.config import Config
from traceforge_shared.evals import TestCase, TestResult, TestRun
from traceforge_shared.evals.replay import (
    find_recording,
    load_error_result,
    new_run_id,
    normalized_request,
    replay_tests,
    test_result,
)
from traceforge_shared.ids import utc_timestamp
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

Mode = Literal["proxy", "direct", "replay"]

__all__ = [
    "Mode",
    "RunOptions",
    "find_recording",
    "load_error_result",
    "new_run_id",
    "normalized_request",
    "run_tests",
]


@dataclass
class RunOptions:
    """How to run.

    Attributes:
        mode: ``proxy`` (through an in-process capture proxy; every run is a trace in the
            store), ``direct`` (straight to each provider with the SDK's client, no proxy,
            nothing recorded: results have no trace id) or ``replay`` (no network: the
            recorded trace of each test's request is checked).
        concurrency: tests in flight at once.
        timeout_s: limit per test, seconds.
        mock_delay_ms: pause between events of the built-in mock upstream (providers with no
            key set; in ``direct`` mode the mock alone is started), ms.
    """

    mode: Mode = "proxy"
    concurrency: int = 5
    timeout_s: float = 120.0
    mock_delay_ms: float = 0.0


class _Capture:
    """``saved`` addon: hands each stored (redacted) trace to the test waiting for it, once
    it is on disk. Called in the proxy's writer thread; the hand-over runs on ``loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[str, asyncio.Future[Trace]] = {}
        self.arrived: dict[str, Trace] = {}

    def saved(self, trace: Trace) -> None:
        """Deliver ``trace`` on the event loop (any thread may call this)."""
        self.loop.call_soon_threadsafe(self._deliver, trace)

    def _deliver(self, trace: Trace) -> None:
        future = self.waiting.pop(trace.id, None)
        if future is not None and not future.done():
            future.set_result(trace)
        else:
            self.arrived[trace.id] = trace

    async def wait(self, trace_id: str, timeout_s: float) -> Trace:
        trace = self.arrived.pop(trace_id, None)
        if trace is not None:
            return trace
        future = self.waiting[trace_id] = self.loop.create_future()
        return await asyncio.wait_for(future, timeout_s)


async def _call(session: aiohttp.ClientSession, url: str, case: TestCase, timeout_s: float) -> str:
    """Send the test's request through the proxy and read the whole answer; return the id
    of the trace the proxy recorded."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    # No key header: the proxy adds each provider's key from the environment.
    async with session.post(
        f"{url}/chat/completions", json=case.request, timeout=timeout
    ) as response:
        await response.read()
        trace_id = response.headers.get(TRACE_ID_HEADER)
        if not trace_id:
            raise RuntimeError(f"the proxy answered {response.status} without a trace id")
        return trace_id


async def run_tests(
    cases: Sequence[tuple[Path, TestCase]],
    *,
    config: Config,
    store: TraceStore,
    options: RunOptions,
    on_result: Callable[[TestResult], None] | None = None,
    addons: Sequence[object] = (),
) -> TestRun:
    """Run ``cases`` at most ``options.concurrency`` at a time; results keep file order.

    ``on_result`` is called as each test finishes (progress bars). A test whose request
    fails (HTTP error, timeout, unroutable model) still gets its assertions evaluated when
    a trace was recorded: an error answer fails the assertions that expect an answer.
    ``addons`` are given to the in-process proxy in ``proxy`` mode (see
    :mod:`traceforge_proxy.hooks`; e.g. a live feed's ``saved`` hook); ``direct`` and
    ``replay`` runs save nothing to ``store``, so they get none. ``direct`` starts no proxy
    (:func:`traceforge_cli.directrun.run_direct`).
    """
    run_id, started_at, started = new_run_id(), utc_timestamp(), time.perf_counter()
    results: list[TestResult | None] = [None] * len(cases)

    def done(index: int, result: TestResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    if options.mode == "replay":
        replayed = await replay_tests(cases, store, on_result)
        return msgspec.structs.replace(replayed, id=run_id, started=started_at)
    if options.mode == "direct":
        # Imported here: the SDK's client is only needed by direct runs.
        from traceforge_cli.directrun import run_direct

        await run_direct(
            cases,
            config=config,
            concurrency=options.concurrency,
            timeout_s=options.timeout_s,
            mock_delay_ms=options.mock_delay_ms,
            done=done,
        )
    else:
        await _run_proxied(cases, config, store, options, done, addons)
    return TestRun(
        id=run_id,
        started=started_at,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        mode=options.mode,
        results=[r for r in results if r is not None],
    )


async def _run_proxied(
    cases: Sequence[tuple[Path, TestCase]],
    config: Config,
    store: TraceStore,
    options: RunOptions,
    done: Callable[[int, TestResult], None],
    addons: Sequence[object],
) -> None:
    proxy_config = msgspec.structs.replace(
        config, proxy=msgspec.structs.replace(config.proxy, host="127.0.0.1", port=0)
    )
    capture = _Capture(asyncio.get_running_loop())
    service = ProxyService(
        proxy_config,
        {},
        store,
        addons=[*addons, capture],
        mock_delay_ms=options.mock_delay_ms,
    )
    await service.start()
    limit = asyncio.Semaphore(max(1, options.concurrency))
    try:
        async with aiohttp.ClientSession() as session:

            async def one(index: int, path: Path, case: TestCase) -> None:
                async with limit:
                    began = time.perf_counter()
                    trace: Trace | None = None
                    error: str | None = None
                    try:
                        trace_id = await _call(session, service.url, case, options.timeout_s)
                        trace = await capture.wait(trace_id, options.timeout_s)
                    except TimeoutError:
                        error = f"no answer within {options.timeout_s:g} s"
                    except (aiohttp.ClientError, RuntimeError) as exc:
                        error = f"request failed: {exc}"
                    done(index, test_result(path, case, trace, began, error))

            await asyncio.gather(*(one(i, p, c) for i, (p, c) in enumerate(cases)))
    finally:
        await service.stop()

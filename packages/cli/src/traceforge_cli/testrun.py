"""Running LLM regression tests: each test's request goes through the capture proxy (so the
run is itself traced), straight to the providers through the SDK's client with no proxy
(``direct``: :mod:`traceforge_cli.directrun`, nothing recorded), or through the proxy answering
from the recorded traces (``replay``: :mod:`traceforge_proxy.trace_replay`, offline and
deterministic, the recorded answer relayed and converted again as it was live); its assertions
are then evaluated against the trace of the call (for ``direct``, one built in memory and never
saved).
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

from traceforge_proxy.replay_miss import REPLAY_MISS
from traceforge_proxy.routing import Router, RoutingError
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.server import TRACE_ID_HEADER
from traceforge_proxy.trace_replay import REPLAY_TRACE_HEADER, TraceReplay
from traceforge_shared.config import Config
from traceforge_shared.evals import TestCase, TestResult, TestRun
from traceforge_shared.evals.graded import ModelAccess
from traceforge_shared.evals.replay import (
    NO_RECORDING,
    find_recording,
    load_error_result,
    new_run_id,
    test_result,
)
from traceforge_shared.evals.testcase import Python
from traceforge_shared.evals.variables import RequestNotReady, prepare_case
from traceforge_shared.ids import utc_timestamp
from traceforge_shared.providers import provider_spec
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import SOURCE_META_KEY, TEST_SOURCE, Trace

Mode = Literal["proxy", "direct", "replay"]

__all__ = [
    "Mode",
    "RunOptions",
    "find_recording",
    "load_error_result",
    "new_run_id",
    "run_tests",
]

#: Sent with every test call: ``X-TraceForge-Meta-Source: test`` becomes the trace's
#: ``meta["source"]`` (:mod:`traceforge_proxy.grouping`), so test traffic can be filtered.
TEST_SOURCE_HEADER = f"X-TraceForge-Meta-{SOURCE_META_KEY.title()}"

#: What the proxy puts before a replay miss's message
#: (:func:`traceforge_proxy.replay_miss.miss_answer`).
MISS_PREFIX = "TraceForge replay: "


@dataclass
class RunOptions:
    """How to run.

    Attributes:
        mode: ``proxy`` (through an in-process capture proxy; every run is a trace in the
            store), ``direct`` (straight to each provider with the SDK's client, no proxy,
            nothing recorded: results have no trace id) or ``replay`` (no network: each
            test's request goes through an in-process proxy that answers from the recorded
            trace of that request, :mod:`traceforge_proxy.trace_replay`; the replayed trace,
            marked ``meta.replayed_from``, is checked).
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


class _BuiltCapture(_Capture):
    """A :class:`_Capture` handing over each trace once built (``before_save``, after
    redaction and the replay's marks), not once on disk: a replayed test neither waits for
    the file write nor hangs while the store cannot be written (the writer keeps retrying)."""

    def before_save(self, trace: Trace) -> Trace:
        """Deliver ``trace`` (the writer thread calls this; the hand-over runs on the loop)."""
        self.loop.call_soon_threadsafe(self._deliver, trace)
        return trace

    def saved(self, trace: Trace) -> None:
        """Delivered already (:meth:`before_save`)."""


def _model_access(service: ProxyService, config: Config, timeout_s: float) -> ModelAccess:
    """Model calls of assertions (``llm_rubric``, ``similar``) go through ``service``; a
    model whose provider resolves to the built-in mock (no key set) is unavailable."""
    router = Router(config)

    def unavailable(model: str) -> str | None:
        try:
            choice = router.route(model)
        except RoutingError as exc:
            return str(exc)
        upstream = service.upstreams.get(choice.provider)
        if upstream is not None and upstream.mock:
            keys = " or ".join(provider_spec(choice.provider).key_envs) or "its key"
            return (
                f"no key for {choice.provider} ({keys} not set): the proxy would answer "
                "from its built-in mock"
            )
        return None

    return ModelAccess(base_url=service.url, timeout_s=timeout_s, unavailable=unavailable)


async def _call(
    session: aiohttp.ClientSession,
    url: str,
    case: TestCase,
    timeout_s: float,
    headers: dict[str, str] | None = None,
) -> str:
    """Send the test's request through the proxy (with ``headers`` besides the source
    header) and read the whole answer; return the id of the trace the proxy recorded."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    # No key header: the proxy adds each provider's key from the environment. The source
    # header marks the trace as test traffic (Trace.meta["source"] == "test"), which the
    # TUI can hide and filters select with source:test.
    async with session.post(
        f"{url}/chat/completions",
        json=case.request,
        timeout=timeout,
        headers={TEST_SOURCE_HEADER: TEST_SOURCE, **(headers or {})},
    ) as response:
        await response.read()
        trace_id = response.headers.get(TRACE_ID_HEADER)
        if not trace_id:
            raise RuntimeError(f"the proxy answered {response.status} without a trace id")
        return trace_id


def _miss_reason(trace: Trace) -> str:
    """The replay miss of ``trace`` as a test error: ``no recording for this request
    (nearest: ..., differs in: ...)``."""
    error = trace.metadata.error
    message = error.message if error is not None else NO_RECORDING
    return message.removeprefix(MISS_PREFIX)


def _quick_to_check(case: TestCase, access: ModelAccess | None) -> bool:
    """Whether ``case``'s assertions are checked on the event loop: no model calls
    (``access`` is ``None``, as in ``replay``) and no ``python`` assertion (a child
    process). They take well under a millisecond there, less than a hop to a worker thread
    and back while the proxy's writer thread holds the GIL."""
    return access is None and not any(isinstance(a, Python) for a in case.assertions)


async def run_tests(
    cases: Sequence[tuple[Path, TestCase]],
    *,
    config: Config,
    store: TraceStore,
    options: RunOptions,
    on_result: Callable[[TestResult], None] | None = None,
    addons: Sequence[object] = (),
    on_trace: Callable[[TestResult, Trace | None], None] | None = None,
) -> TestRun:
    """Run ``cases`` at most ``options.concurrency`` at a time; results keep file order.

    ``on_result`` is called as each test finishes (progress bars); ``on_trace``, just
    before it, with the result and the trace its assertions were checked against (``None``
    without one): callers showing actual values read them there, not from the store, where
    the trace may not be saved yet (its writer saves in the background). A test whose request
    fails (HTTP error, timeout, unroutable model) still gets its assertions evaluated when
    a trace was recorded: an error answer fails the assertions that expect an answer.
    ``addons`` are given to the in-process proxy in ``proxy`` and ``replay`` modes (see
    :mod:`traceforge_proxy.hooks`; e.g. a live feed's ``saved`` hook): both save the traces
    of their calls to ``store`` (replayed ones marked ``meta.replayed_from``). ``replay``
    makes no model calls (model-graded assertions say so); a test whose request has no
    recording is an ``error`` result naming the nearest recording and what differs.
    ``direct`` starts no proxy and saves nothing
    (:func:`traceforge_cli.directrun.run_direct`).
    """
    run_id, started_at, started = new_run_id(), utc_timestamp(), time.perf_counter()
    results: list[TestResult | None] = [None] * len(cases)

    def done(index: int, result: TestResult, trace: Trace | None = None) -> None:
        results[index] = result
        if on_trace is not None:
            on_trace(result, trace)
        if on_result is not None:
            on_result(result)

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
    done: Callable[[int, TestResult, Trace | None], None],
    addons: Sequence[object],
) -> None:
    proxy_config = msgspec.structs.replace(
        config, proxy=msgspec.structs.replace(config.proxy, host="127.0.0.1", port=0)
    )
    # Replay: one proxy for the whole run, answering every call from the stored traces.
    replay = TraceReplay(store, config.redaction) if options.mode == "replay" else None
    loop = asyncio.get_running_loop()
    capture = _Capture(loop) if replay is None else _BuiltCapture(loop)
    service = ProxyService(
        proxy_config,
        {},
        store,
        addons=[*addons, *([replay] if replay is not None else []), capture],
        mock_delay_ms=options.mock_delay_ms,
        sender=replay,
    )
    await service.start()
    access = None if replay is not None else _model_access(service, config, options.timeout_s)
    limit = asyncio.Semaphore(max(1, options.concurrency))
    try:
        async with aiohttp.ClientSession() as session:

            async def one(index: int, path: Path, case: TestCase) -> None:
                async with limit:
                    began = time.perf_counter()
                    trace: Trace | None = None
                    error: str | None = None
                    try:
                        sent = prepare_case(case)  # ${TRACEFORGE_*} filled, no markers
                        prefer = (
                            {REPLAY_TRACE_HEADER: case.source_trace}
                            if replay is not None and case.source_trace
                            else None
                        )
                        trace_id = await _call(
                            session, service.url, sent, options.timeout_s, prefer
                        )
                        trace = await capture.wait(trace_id, options.timeout_s)
                        if replay is not None and trace.metadata.status == REPLAY_MISS:
                            error, trace = _miss_reason(trace), None
                    except RequestNotReady as exc:
                        error = str(exc)
                    except TimeoutError:
                        error = f"no answer within {options.timeout_s:g} s"
                    except (aiohttp.ClientError, RuntimeError) as exc:
                        error = f"request failed: {exc}"
                    if _quick_to_check(case, access):
                        result = test_result(path, case, trace, began, error, access)
                    else:  # model-graded assertions call this proxy, on this loop
                        result = await asyncio.to_thread(
                            test_result, path, case, trace, began, error, access
                        )
                    done(index, result, trace)

            await asyncio.gather(*(one(i, p, c) for i, (p, c) in enumerate(cases)))
    finally:
        await service.stop()

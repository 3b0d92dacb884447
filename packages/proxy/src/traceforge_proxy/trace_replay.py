"""Replaying stored traces through the proxy (``traceforge test run --replay``).

:class:`TraceReplay` is an :class:`~traceforge_proxy.transport.UpstreamSender` that answers
every planned call from the trace store instead of the network, as a cassette replay
(:mod:`traceforge_proxy.cassette_session`) answers from interaction files: after planning
(routing, conversion as live), the request's key
(:func:`~traceforge_shared.cassettes.request_key` of the request redacted as traces are) is
looked up in the store's ``request_key`` index
(:func:`~traceforge_shared.evals.replay.lookup_recording`; the trace named by
``X-TraceForge-Replay-Trace`` first, e.g. a test's ``source_trace``), and the recorded upstream
answer (:func:`~traceforge_shared.cassettes.from_trace.recorded_response_of`) is served by a
:class:`~traceforge_proxy.replay_source.ReplayResponse` through the same relay, conversion
and trace building as a live answer. Nothing reaches the network.

A request without a recording is answered 400 in the provider's error shape
(:func:`~traceforge_proxy.replay_miss.miss_answer`: trace status ``replay_miss``) saying
``no recording for this request (nearest: trace <id>, differs in: ...)``.

Traces: ``meta.replayed_from`` is ``trace/<recorded id>`` (replayed traces get no request
key, so they never count as recordings).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING

import aiohttp

from traceforge_proxy.cassette_recorder import recorded_request
from traceforge_proxy.modes import ReplayTiming
from traceforge_proxy.plan import ClientRequest, ForwardingPlan, ProxyAnswer
from traceforge_proxy.replay_miss import miss_answer
from traceforge_proxy.replay_source import ReplayResponse, pause_until
from traceforge_proxy.transport import UpstreamResponse
from traceforge_shared.cassettes import canonical_request, key_of, request_view
from traceforge_shared.cassettes.from_trace import REPLAYED_FROM_META, recorded_response_of
from traceforge_shared.config import RedactionConfig
from traceforge_shared.evals.replay import (
    REPLAYED_FROM_TRACE,
    lookup_recording,
    no_recording_message,
    read_recording,
)
from traceforge_shared.redact import Redactor
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

if TYPE_CHECKING:
    from traceforge_proxy.exchange import Exchange

#: Request header naming the recorded trace to prefer (when it records this request).
REPLAY_TRACE_HEADER = "X-TraceForge-Replay-Trace"


class TraceReplay:
    """Answers calls from the recorded traces of ``store`` (see the module docstring); give
    it to :class:`~traceforge_proxy.runner.ProxyService` as ``sender`` and in ``addons``
    (its ``before_save`` hook marks the replayed traces).

    Args:
        store: the trace store recordings are read from.
        redaction: the redaction settings traces were saved with: the request is redacted
            the same way before its key is computed, so a request carrying a secret finds the
            recording that stored its placeholder.
        timing: pacing of the replayed answers (default ``fast``: no pauses).

    Attributes:
        hits, misses: calls answered from a recording, calls without one.
    """

    def __init__(
        self,
        store: TraceStore,
        redaction: RedactionConfig | None = None,
        timing: ReplayTiming | None = None,
    ) -> None:
        self.store = store
        self.redactor = Redactor(redaction or RedactionConfig())
        self.timing = timing or ReplayTiming("fast")
        self.hits = 0
        self.misses = 0
        self._marks: dict[str, str] = {}
        self._lock = threading.Lock()
        self._refreshed = False

    async def send(
        self,
        session: aiohttp.ClientSession,
        client: ClientRequest,
        plan: ForwardingPlan,
        exchange: Exchange,
        headers: dict[str, str],
        client_timeout: aiohttp.ClientTimeout,
    ) -> UpstreamResponse | ProxyAnswer:
        """Serve the recording of this request, or answer the miss (never the network)."""
        request = recorded_request(client, plan, self.redactor)
        canonical = canonical_request(request_view(request))
        prefer = client.header(REPLAY_TRACE_HEADER)
        if not self._refreshed:  # may read many trace files: off the loop
            await asyncio.to_thread(self._refresh_once)
        # One indexed query and one trace file (~0.2 ms): on the loop, cheaper than a hop to a
        # worker thread and back while the writer thread holds the GIL (1,000 tests: ~10% of
        # the run, bench/replay_scale.py).
        trace = self._find(key_of(canonical), prefer, request.provider, _asks_stream(client))
        if trace is None:
            self.misses += 1
            message = await asyncio.to_thread(
                no_recording_message,
                self.store,
                canonical,
                model=plan.target.model or request.model or None,
                prefer=prefer,
                refresh=False,
            )
            return miss_answer(client, message, message)
        self.hits += 1
        metadata = trace.metadata
        if metadata.chunks_buffered < metadata.chunks_received:
            exchange.warnings.append(
                f"replayed trace {trace.id} kept {metadata.chunks_buffered} of "
                f"{metadata.chunks_received} chunks (chunk cap): the replayed stream is cut"
            )
        recorded = recorded_response_of(trace)
        ref = REPLAYED_FROM_TRACE + trace.id
        self._marks[exchange.trace_id] = ref
        # Offsets count from when the exchange was sent, as the recording's did.
        since_sent = (time.perf_counter_ns() - exchange.sent_ns) / 1e9
        sent_at = asyncio.get_running_loop().time() - max(since_sent, 0.0)
        await pause_until(sent_at, self.timing, recorded.headers_ms)
        return ReplayResponse(recorded, ref, self.timing, sent_at)

    def _refresh_once(self) -> None:
        """Bring the index up to date with the trace files once (files added by hand or by
        another process before the run); afterwards this process's writer indexes what it
        saves, and a refresh while it saves would rescan the whole directory."""
        with self._lock:
            if not self._refreshed:
                self.store.refresh()
                self._refreshed = True

    def _find(self, key: str, prefer: str | None, provider: str, stream: bool) -> Trace | None:
        """The recording of ``key`` (``prefer`` first); failing that, the ``prefer`` trace
        itself when it answered the same provider the same way (streamed or not): a test
        made from a ``passthrough`` call sends the OpenAI view of a native request, whose
        key differs, to the same upstream wire format."""
        self._refresh_once()
        found = lookup_recording(self.store, [key], prefer, refresh=False)
        if found is not None:
            return read_recording(self.store, found.id)
        trace = read_recording(self.store, prefer)
        if (
            trace is not None
            and trace.provider == provider
            and trace.metadata.streaming == stream
            and REPLAYED_FROM_META not in trace.meta
        ):
            return trace
        return None

    def before_save(self, trace: Trace) -> Trace:
        """``before_save`` hook: ``meta.replayed_from = trace/<recorded id>`` on a replayed
        call's trace."""
        ref = self._marks.pop(trace.id, None)
        if ref is not None:
            trace.meta[REPLAYED_FROM_META] = ref
        return trace


def _asks_stream(client: ClientRequest) -> bool:
    """Whether the app asked for a stream (``"stream": true`` in its JSON body)."""
    return isinstance(client.json, dict) and client.json.get("stream") is True

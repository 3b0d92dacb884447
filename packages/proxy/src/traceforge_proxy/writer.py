"""Saves finished traces off the event loop, so a slow disk never delays a chunk.

The writer is itself an addon: its ``response`` and ``error`` hooks queue the finished flow.
In its own thread it builds the trace, runs the ``before_save`` hooks (redaction first),
saves, then fires ``saved`` for each trace now on disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from typing import Protocol

from traceforge_proxy.hooks import Addons
from traceforge_shared.config import StorageConfig
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

log = logging.getLogger("traceforge.proxy")


class FinishedFlow(Protocol):
    """A call that is over (the proxy's :class:`~traceforge_proxy.exchange.Exchange`)."""

    @property
    def trace_id(self) -> str:
        """The id the trace is saved under."""
        ...

    def to_trace(self) -> Trace:
        """Build the trace of the call (no clock read: the flow is final)."""
        ...


class TraceWriter:
    """One background thread that turns finished flows into traces and saves them.

    Every queued flow is saved (the queue is unbounded: nothing is dropped under load);
    :meth:`drain` waits until all queued so far are on disk and their ``saved`` hooks have
    run. The flows that finish while the thread is busy are saved together, up to
    ``max_batch`` at a time, with one index commit (:meth:`TraceStore.save_many`); if that
    fails they are saved one by one, so a bad trace costs only itself. Every ``prune_every``
    saves the store is pruned to the storage limits.

    Per trace, in the writer's thread: ``flow.to_trace()``, ``addons.before_save(trace)``
    (an exception drops the trace, logged, never saved unredacted), save, then
    ``addons.saved(trace)`` (an exception is logged; the writer goes on).

    Args:
        store: where traces go.
        addons: the addons whose ``before_save`` and ``saved`` hooks run, in order (an
            :class:`Addons` or the addon objects themselves).
        storage: retention limits and ``fsync`` (``None``: never prune, the store's fsync).
        prune_every: saves between two prunes.
        max_batch: flows saved at most per index commit.

    Attributes:
        failures: traces lost so far (not built, dropped by ``before_save``, not saved).
    """

    def __init__(
        self,
        store: TraceStore,
        *,
        addons: Addons | Sequence[object] = (),
        storage: StorageConfig | None = None,
        prune_every: int = 200,
        max_batch: int = 256,
    ) -> None:
        self.store = store
        self.addons = addons if isinstance(addons, Addons) else Addons(addons)
        self.storage = storage
        self.prune_every = prune_every
        self.max_batch = max_batch
        self.failures = 0
        self._queue: queue.SimpleQueue[FinishedFlow | None] = queue.SimpleQueue()
        self._pending = 0
        self._saved = 0
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="trace-writer", daemon=True)
        self._thread.start()

    def submit(self, flow: FinishedFlow) -> None:
        """Queue a finished flow for saving (returns at once)."""
        with self._cond:
            self._pending += 1
        self._queue.put(flow)

    def response(self, flow: FinishedFlow) -> None:
        """``response`` hook: the call ended with a whole answer; queue it for saving."""
        self.submit(flow)

    def error(self, flow: FinishedFlow) -> None:
        """``error`` hook: the call ended without a whole answer; queue it for saving."""
        self.submit(flow)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            flows = [f for f in batch if f is not None]
            try:
                self._save(flows)
            finally:
                with self._cond:
                    self._pending -= len(flows)
                    self._cond.notify_all()
            if len(flows) < len(batch):  # close() was called
                return

    def _trace(self, flow: FinishedFlow) -> Trace | None:
        try:
            return self.addons.before_save(flow.to_trace())
        except Exception:
            self.failures += 1
            log.exception("could not build trace %s; dropped", flow.trace_id)
            return None

    def _store(self, traces: list[Trace]) -> list[Trace]:
        """Save ``traces``; return those on disk."""
        fsync = None if self.storage is None else self.storage.fsync
        try:
            self.store.save_many(traces, fsync=fsync)
            return traces
        except Exception:
            log.warning("saving %d traces at once failed; saving them one by one", len(traces))
        stored: list[Trace] = []
        for trace in traces:
            try:
                self.store.save_many([trace], fsync=fsync)
                stored.append(trace)
            except Exception:
                self.failures += 1
                log.exception("could not save trace %s", trace.id)
        return stored

    def _save(self, flows: list[FinishedFlow]) -> None:
        traces = [t for t in map(self._trace, flows) if t is not None]
        stored = self._store(traces) if traces else []
        for trace in stored:
            self.addons.saved(trace)
        before, self._saved = self._saved, self._saved + len(traces)
        if (
            self.storage is not None
            and before // self.prune_every < self._saved // self.prune_every
        ):
            try:
                self.store.prune(
                    max_traces=self.storage.max_traces, retention_days=self.storage.retention_days
                )
            except Exception:
                log.exception("could not prune the store")

    def drain(self, timeout: float | None = 30.0) -> bool:
        """Wait until every queued flow is saved (or dropped) and its ``saved`` hooks ran;
        returns ``False`` on timeout (seconds)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Save what is queued, then stop the thread (later submissions are not saved)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

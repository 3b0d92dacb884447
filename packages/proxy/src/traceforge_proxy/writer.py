"""Saves finished traces off the event loop, so a slow disk never delays a chunk."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence

from traceforge_proxy.exchange import Exchange
from traceforge_proxy.hooks import BeforeSave
from traceforge_shared.config import StorageConfig
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

log = logging.getLogger("traceforge.proxy")


class TraceWriter:
    """One background thread that turns finished exchanges into traces and saves them.

    Every submitted exchange is saved (the queue is unbounded: nothing is dropped under load);
    :meth:`drain` waits until all submitted so far are on disk. The exchanges that finish while
    the thread is busy are saved together, up to ``max_batch`` at a time, with one index
    commit (:meth:`TraceStore.save_many`). Every ``prune_every`` saves the store is pruned to
    the storage limits.

    Args:
        store: where traces go.
        addons: ``before_save`` hooks, applied in order.
        storage: retention limits and ``fsync`` (``None``: never prune, the store's fsync).
        prune_every: saves between two prunes.
        max_batch: exchanges saved at most per index commit.
    """

    def __init__(
        self,
        store: TraceStore,
        *,
        addons: Sequence[BeforeSave] = (),
        storage: StorageConfig | None = None,
        prune_every: int = 200,
        max_batch: int = 256,
    ) -> None:
        self.store = store
        self.addons = list(addons)
        self.storage = storage
        self.prune_every = prune_every
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Exchange | None] = queue.SimpleQueue()
        self._pending = 0
        self._saved = 0
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="trace-writer", daemon=True)
        self._thread.start()
        self.failures = 0

    def submit(self, exchange: Exchange) -> None:
        """Queue a finished exchange for saving (returns at once)."""
        with self._cond:
            self._pending += 1
        self._queue.put(exchange)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            exchanges = [e for e in batch if e is not None]
            try:
                self._save(exchanges)
            finally:
                with self._cond:
                    self._pending -= len(exchanges)
                    self._cond.notify_all()
            if len(exchanges) < len(batch):  # close() was called
                return

    def _trace(self, exchange: Exchange) -> Trace | None:
        try:
            trace = exchange.to_trace()
            for addon in self.addons:
                trace = addon.before_save(trace)
        except Exception:
            self.failures += 1
            log.exception("could not build trace %s", exchange.trace_id)
            return None
        return trace

    def _save(self, exchanges: list[Exchange]) -> None:
        traces = [t for t in map(self._trace, exchanges) if t is not None]
        fsync = None if self.storage is None else self.storage.fsync
        try:
            self.store.save_many(traces, fsync=fsync)
        except Exception:
            # Save them one by one, so one bad trace costs only itself.
            for trace in traces:
                try:
                    self.store.save_many([trace], fsync=fsync)
                except Exception:
                    self.failures += 1
                    log.exception("could not save trace %s", trace.id)
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
        """Wait until every submitted trace is saved; returns ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Save what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

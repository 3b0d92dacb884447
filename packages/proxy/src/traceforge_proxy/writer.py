"""Saves finished traces off the event loop, so a slow disk never delays a chunk."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from traceforge_proxy.exchange import Exchange
from traceforge_proxy.hooks import BeforeSave
from traceforge_shared.config import StorageConfig
from traceforge_shared.store import TraceStore

log = logging.getLogger("traceforge.proxy")


class TraceWriter:
    """One background thread that turns finished exchanges into traces and saves them.

    Every submitted exchange is saved (the queue is unbounded: nothing is dropped under load);
    :meth:`drain` waits until all submitted so far are on disk. Every ``prune_every`` saves the
    store is pruned to the storage limits.

    Args:
        store: where traces go.
        addons: ``before_save`` hooks, applied in order.
        storage: retention limits (``None``: never prune).
        prune_every: saves between two prunes.
    """

    def __init__(
        self,
        store: TraceStore,
        *,
        addons: Sequence[BeforeSave] = (),
        storage: StorageConfig | None = None,
        prune_every: int = 200,
    ) -> None:
        self.store = store
        self.addons = list(addons)
        self.storage = storage
        self.prune_every = prune_every
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace-writer")
        self._pending = 0
        self._saved = 0
        self._cond = threading.Condition()
        self.failures = 0

    def submit(self, exchange: Exchange) -> None:
        """Queue a finished exchange for saving (returns at once)."""
        with self._cond:
            self._pending += 1
        self._executor.submit(self._save, exchange)

    def _save(self, exchange: Exchange) -> None:
        try:
            trace = exchange.to_trace()
            for addon in self.addons:
                trace = addon.before_save(trace)
            self.store.save(trace)
            self._saved += 1
            if self.storage is not None and self._saved % self.prune_every == 0:
                self.store.prune(
                    max_traces=self.storage.max_traces, retention_days=self.storage.retention_days
                )
        except Exception:
            self.failures += 1
            log.exception("could not save trace %s", exchange.trace_id)
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    def drain(self, timeout: float | None = 30.0) -> bool:
        """Wait until every submitted trace is saved; returns ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Save what is queued, then stop the thread."""
        self._executor.shutdown(wait=True)

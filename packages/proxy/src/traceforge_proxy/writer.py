"""Saves finished traces off the event loop, so a slow disk never delays a chunk.

The writer is itself an addon: its ``response`` and ``error`` hooks queue the finished flow.
In its own thread it builds the trace, runs the ``before_save`` hooks (redaction first),
saves, then fires ``saved`` for each trace now on disk.

When the store cannot be written (disk full, read-only, quota: see :func:`is_store_fault`)
the proxy keeps proxying: the writer holds the unsaved traces in memory, bounded by their
encoded size, and retries every ``retry_interval_s`` and before each new save; when the
bound is reached the oldest are dropped and counted. :meth:`TraceWriter.storage_health`
(``/healthz``) says so.

Thread or process (``storage.writer``, :func:`~traceforge_proxy.runner.writer_mode`): this
class runs in a thread of the proxy (``thread``), or inside the writer process
(``process``, :mod:`traceforge_proxy.writer_process`, the default of ``traceforge start``),
where the proxy's :class:`~traceforge_proxy.writer_process.ProcessTraceWriter` hands it each
finished call's record. Both build the trace with the same code
(:func:`~traceforge_proxy.trace_build.build_trace`). The rule: an addon whose
``before_save`` hook must run in the proxy's own process (it reads or changes state there:
a cassette session, replay from stored traces, the test runner's addons; any addon with
``before_save`` given to :class:`~traceforge_proxy.runner.ProxyService`) makes the service
use ``thread``; the built-in chain (Redactor, EmbeddingVectors, CostRecorder) and the OTLP
export are rebuilt in the writer process from the config.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

from traceforge_proxy.hooks import Addons
from traceforge_shared.config import StorageConfig
from traceforge_shared.store import TraceStore
from traceforge_shared.store.files import decode_trace, encode_trace
from traceforge_shared.trace import Trace

log = logging.getLogger("traceforge.proxy")

#: ``errno`` values that mean the store as a whole cannot be written right now (rather
#: than one trace being unsavable): the traces are held and retried.
STORE_FAULT_ERRNOS = frozenset(
    code
    for code in (
        errno.ENOSPC,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.EIO,
        getattr(errno, "EDQUOT", None),
        errno.ENOENT,
    )
    if code is not None
)

#: SQLite result codes meaning the index cannot be written now: PERM, BUSY, LOCKED,
#: READONLY, IOERR, FULL, CANTOPEN.
_SQLITE_FAULTS = frozenset({3, 5, 6, 8, 10, 13, 14})

#: Saves between two prunes at most, when ``prune_every`` is automatic.
_MAX_PRUNE_EVERY = 200


def is_store_fault(exc: BaseException) -> bool:
    """Whether a save failed because the store cannot be written now (disk full, read-only,
    no permission, I/O error, the index full, read-only or locked), as opposed to a fault of
    the one trace: such traces are held and retried."""
    if isinstance(exc, OSError):
        return exc.errno in STORE_FAULT_ERRNOS
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _SQLITE_FAULTS


@dataclasses.dataclass(frozen=True)
class StorageHealth:
    """Whether traces are being saved (:meth:`TraceWriter.storage_health`).

    Attributes:
        status: ``"ok"``, or ``"degraded"`` while traces cannot be saved.
        unsaved_traces: traces held in memory, waiting for the store.
        unsaved_bytes: their encoded size (bytes).
        dropped_traces: traces dropped because the unsaved queue was full, since start.
        store_error: the last save error while degraded (one line), else ``None``.
    """

    status: Literal["ok", "degraded"]
    unsaved_traces: int
    unsaved_bytes: int
    dropped_traces: int
    store_error: str | None

    def as_dict(self) -> dict[str, object]:
        """The ``/healthz`` fields: ``status``, ``unsaved_traces``, ``dropped_traces``,
        ``store_error``."""
        return {
            "status": self.status,
            "unsaved_traces": self.unsaved_traces,
            "dropped_traces": self.dropped_traces,
            "store_error": self.store_error,
        }


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
    :meth:`drain` waits until all queued so far are saved or held. The flows that finish
    while the thread is busy are saved together, up to ``max_batch`` at a time, with one
    index commit (:meth:`TraceStore.save_many`); if that fails they are saved one by one, so
    a bad trace costs only itself.

    Store faults (:func:`is_store_fault`): the traces are held in memory (at most
    ``storage.unsaved_queue_mb`` MiB of encoded JSON; the oldest are dropped beyond it) and
    retried every ``retry_interval_s`` seconds and before each new save, oldest first; their
    ``saved`` hooks fire once they land. ``on_health_change`` (if set) is called, in the
    writer's thread, when saving starts failing and when every held trace is saved.

    Retention: when the thread starts it removes stale temp files
    (:meth:`TraceStore.remove_stale_temp_files`) and prunes the store to the storage limits;
    then it prunes every ``prune_every`` saves and at least every ``prune_interval_s``.

    Per trace, in the writer's thread: ``flow.to_trace()``, ``addons.before_save(trace)``
    (an exception drops the trace, logged, never saved unredacted), save, then
    ``addons.saved(trace)`` (an exception is logged; the writer goes on).

    Args:
        store: where traces go.
        addons: the addons whose ``before_save`` and ``saved`` hooks run, in order (an
            :class:`Addons` or the addon objects themselves).
        storage: retention limits, ``fsync`` and ``unsaved_queue_mb`` (``None``: never prune,
            the store's fsync, 64 MiB).
        prune_every: saves between two prunes; ``None``: a tenth of ``storage.max_traces``,
            at least 1 and at most 200 (so a small limit is held closely).
        prune_interval_s: seconds between two timed prunes (``None``: no timed prunes, and
            none at start).
        retry_interval_s: seconds between two attempts to save held traces.
        max_batch: flows saved at most per index commit.
        max_unsaved_bytes: the unsaved queue's bound in bytes (default: from ``storage``).
        on_health_change: called with the new :class:`StorageHealth` when saving starts
            failing (``degraded``) and when it recovers (``ok``).
        on_done: called in the writer's thread with each batch of flows once they are
            saved (their ``saved`` hooks ran), held or dropped (the writer process
            acknowledges them to the proxy with it).

    Attributes:
        failures: traces lost so far (not built, dropped by ``before_save``, not saved,
            dropped from the unsaved queue).
        dropped: traces dropped from the full unsaved queue (also in ``failures``).
    """

    def __init__(
        self,
        store: TraceStore,
        *,
        addons: Addons | Sequence[object] = (),
        storage: StorageConfig | None = None,
        prune_every: int | None = None,
        prune_interval_s: float | None = 60.0,
        retry_interval_s: float = 2.0,
        max_batch: int = 256,
        max_unsaved_bytes: int | None = None,
        on_health_change: Callable[[StorageHealth], object] | None = None,
        on_done: Callable[[list[FinishedFlow]], object] | None = None,
    ) -> None:
        self.store = store
        self.addons = addons if isinstance(addons, Addons) else Addons(addons)
        self.storage = storage
        if prune_every is None:
            limit = None if storage is None else storage.max_traces
            prune_every = (
                _MAX_PRUNE_EVERY if limit is None else max(1, min(_MAX_PRUNE_EVERY, limit // 10))
            )
        self.prune_every = prune_every
        self.prune_interval_s = prune_interval_s
        self.retry_interval_s = retry_interval_s
        self.max_batch = max_batch
        if max_unsaved_bytes is None:
            mb = 64 if storage is None else storage.unsaved_queue_mb
            max_unsaved_bytes = mb * 1024 * 1024
        self.max_unsaved_bytes = max_unsaved_bytes
        self.on_health_change = on_health_change
        self.on_done = on_done
        self.failures = 0
        self.dropped = 0
        self._queue: queue.SimpleQueue[FinishedFlow | None] = queue.SimpleQueue()
        self._pending = 1  # the start-up work (temp files, first prune)
        self._saved = 0
        self._cond = threading.Condition()
        # Held traces, oldest first: (id, encoded JSON). Touched by the writer thread only;
        # the counters below are read by storage_health() under _cond.
        self._unsaved: collections.deque[tuple[str, bytes]] = collections.deque()
        self._unsaved_bytes = 0
        self._store_error: str | None = None
        self._next_retry = 0.0
        self._next_prune = 0.0
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

    def storage_health(self) -> StorageHealth:
        """Return whether traces are being saved, and how many wait in memory (any thread)."""
        with self._cond:
            return StorageHealth(
                status="ok" if self._store_error is None else "degraded",
                unsaved_traces=len(self._unsaved),
                unsaved_bytes=self._unsaved_bytes,
                dropped_traces=self.dropped,
                store_error=self._store_error,
            )

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._start_up()
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()
        while True:
            try:
                first = self._queue.get(timeout=self._wait_s())
            except queue.Empty:
                self._timers()
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            flows = [f for f in batch if f is not None]
            try:
                self._save(flows)
                if self.on_done is not None:
                    self.on_done(flows)
            finally:
                with self._cond:
                    self._pending -= len(flows)
                    self._cond.notify_all()
            if len(flows) < len(batch):  # close() was called
                self._shut_down()
                return

    def _start_up(self) -> None:
        try:
            self.store.remove_stale_temp_files()
        except Exception:
            log.exception("could not remove stale temp files")
        if self.prune_interval_s is not None:
            self._prune()

    def _wait_s(self) -> float | None:
        """Seconds until the next timed job (retry, prune); ``None``: none due."""
        deadlines: list[float] = []
        if self._unsaved:
            deadlines.append(self._next_retry)
        if self.storage is not None and self.prune_interval_s is not None:
            deadlines.append(self._next_prune)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _timers(self) -> None:
        now = time.monotonic()
        if self._unsaved and now >= self._next_retry:
            self._retry()
        if self.prune_interval_s is not None and now >= self._next_prune:
            self._prune()

    def _shut_down(self) -> None:
        if self._unsaved:
            self._retry()
        if self._unsaved:
            with self._cond:
                lost = len(self._unsaved)
                self.failures += lost
                self._unsaved.clear()
                self._unsaved_bytes = 0
            log.error(
                "stopping with %d traces unsaved (%s): they are lost", lost, self._store_error
            )

    # -- saving ---------------------------------------------------------------------------

    def _trace(self, flow: FinishedFlow) -> Trace | None:
        try:
            return self.addons.before_save(flow.to_trace())
        except Exception:
            self.failures += 1
            log.exception("could not build trace %s; dropped", flow.trace_id)
            return None

    def _attempt(self, traces: list[Trace]) -> tuple[list[Trace], list[Trace]]:
        """Save ``traces``; return those on disk and those to hold (a store fault stopped
        them). A trace failing otherwise is dropped and counted."""
        fsync = None if self.storage is None else self.storage.fsync
        try:
            self.store.save_many(traces, fsync=fsync)
            return traces, []
        except Exception as exc:
            if is_store_fault(exc):
                self._fault(exc)
                return [], traces
            log.warning("saving %d traces at once failed; saving them one by one", len(traces))
        stored: list[Trace] = []
        for i, trace in enumerate(traces):
            try:
                self.store.save_many([trace], fsync=fsync)
                stored.append(trace)
            except Exception as exc:
                if is_store_fault(exc):
                    self._fault(exc)
                    return stored, traces[i:]
                self.failures += 1
                log.exception("could not save trace %s", trace.id)
        return stored, []

    def _save(self, flows: list[FinishedFlow]) -> None:
        traces = [t for t in map(self._trace, flows) if t is not None]
        if self._unsaved:
            self._retry()  # before each new save, oldest first
        stored: list[Trace] = []
        held: list[Trace] = traces
        if not self._unsaved and traces:  # else still failing: queue behind the held ones
            stored, held = self._attempt(traces)
        self._hold(held)
        if stored and not self._unsaved:
            self._recovered()
        for trace in stored:
            self.addons.saved(trace)
        before, self._saved = self._saved, self._saved + len(traces)
        if before // self.prune_every < self._saved // self.prune_every:
            self._prune()

    def _hold(self, traces: list[Trace]) -> None:
        if not traces:
            return
        dropped = 0
        with self._cond:
            for trace in traces:
                data = encode_trace(trace)
                self._unsaved.append((trace.id, data))
                self._unsaved_bytes += len(data)
            while self._unsaved_bytes > self.max_unsaved_bytes:
                _, data = self._unsaved.popleft()
                self._unsaved_bytes -= len(data)
                dropped += 1
            self.dropped += dropped
            self.failures += dropped
        if dropped:
            log.error(
                "unsaved trace queue full (%d bytes): dropped the %d oldest unsaved traces",
                self.max_unsaved_bytes,
                dropped,
            )

    def _retry(self) -> None:
        """Save the held traces, oldest first, a batch at a time, until done or a store
        fault (then the next retry is in ``retry_interval_s``)."""
        while self._unsaved:
            chunk = list(self._unsaved)[: self.max_batch]
            traces: list[Trace] = []
            for _, data in chunk:
                try:
                    traces.append(decode_trace(data))
                except Exception:  # cannot happen: the bytes were just encoded
                    log.exception("held trace unreadable; dropped")
            stored, held = self._attempt(traces)
            keep = {t.id for t in held}
            with self._cond:
                back: list[tuple[str, bytes]] = []
                for _ in chunk:
                    entry = self._unsaved.popleft()
                    self._unsaved_bytes -= len(entry[1])
                    if entry[0] in keep:
                        back.append(entry)
                self._unsaved.extendleft(reversed(back))
                self._unsaved_bytes += sum(len(data) for _, data in back)
            for trace in stored:
                self.addons.saved(trace)
            if held:
                self._next_retry = time.monotonic() + self.retry_interval_s
                return
        self._recovered()

    def _fault(self, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        with self._cond:
            first = self._store_error is None
            self._store_error = message
            self._next_retry = time.monotonic() + self.retry_interval_s
        if first:
            log.warning("cannot save traces (%s): holding them in memory and retrying", message)
            self._announce()

    def _recovered(self) -> None:
        with self._cond:
            if self._store_error is None:
                return
            self._store_error = None
        log.warning("saving traces again; every held trace is saved")
        self._announce()

    def _announce(self) -> None:
        callback = self.on_health_change
        if callback is not None:
            try:
                callback(self.storage_health())
            except Exception:
                log.exception("on_health_change failed")

    def _prune(self) -> None:
        if self.prune_interval_s is not None:
            self._next_prune = time.monotonic() + self.prune_interval_s
        if self.storage is None:
            return
        try:
            self.store.prune(
                max_traces=self.storage.max_traces, retention_days=self.storage.retention_days
            )
        except Exception:
            log.exception("could not prune the store")

    # -- waiting --------------------------------------------------------------------------

    def drain(self, timeout: float | None = 30.0) -> bool:
        """Wait until every queued flow is saved, held (store fault) or dropped, and the
        ``saved`` hooks of those saved ran; returns ``False`` on timeout (seconds)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Save what is queued (and, one last time, what is held), then stop the thread
        (later submissions are not saved; held traces that still cannot be saved are
        lost, logged)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

"""Handing saved traces and stored spans to the OTLP exporter without mapping them in the
caller's thread.

Two callers export as they store: the proxy's ``saved`` hook (the trace writer's thread) and
the web API's OTLP ingest (``POST /v1/traces``, whose answer must not wait for an export).
Both call :meth:`ExportQueue.put_trace` / :meth:`ExportQueue.put_spans`: an append to a
bounded deque under a lock, nothing else. The queue's own thread then does the work, item by
item: the GenAI mapping (:meth:`~traceforge_shared.otel.export_sdk.OtlpExport.map_trace` /
:meth:`~traceforge_shared.otel.export_sdk.OtlpExport.map_span`), the SDK span and the
metrics (:meth:`~traceforge_shared.otel.export_sdk.OtlpExport.submit`), after which the
SDK's ``BatchSpanProcessor`` thread encodes, batches and sends.

The thread starts with the first item, in the process that puts it: a queue made in a child
process (the proxy's trace writer runs in one) shares nothing with its parent.
:meth:`ExportQueue.close` exports everything put so far, then stops both threads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable

from traceforge_shared.otel.export_sdk import OtlpExport
from traceforge_shared.spans import Span
from traceforge_shared.trace import Trace

__all__ = ["MAX_QUEUED", "ExportQueue"]

log = logging.getLogger("traceforge.otel")

#: Items waiting to be mapped, at most (the ``BatchSpanProcessor``'s own queue size): more
#: are dropped and counted, never waited for.
MAX_QUEUED = 2048


class ExportQueue:
    """Traces and spans waiting to be exported by ``export`` (see the module).

    Items must not be changed once put (the proxy and the ingest put what they just saved).

    Args:
        export: the configured exporter; the queue owns it and shuts it down on
            :meth:`close`.
        max_items: items waiting at most (more are dropped and counted in
            :attr:`dropped`).

    Attributes:
        dropped: items refused because the queue was full or closed.
    """

    def __init__(self, export: OtlpExport, *, max_items: int = MAX_QUEUED) -> None:
        self.export = export
        self.max_items = max_items
        self.dropped = 0
        self._items: deque[Trace | Span] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def put_trace(self, trace: Trace) -> None:
        """Queue a saved (redacted) trace; returns at once."""
        self._put((trace,))

    def put_spans(self, spans: Iterable[Span]) -> None:
        """Queue stored (redacted) spans; returns at once."""
        self._put(spans)

    def _put(self, items: Iterable[Trace | Span]) -> None:
        with self._cond:
            if self._closed:
                self.dropped += sum(1 for _ in items)
                return
            if self._thread is None or self._pid != os.getpid():
                self._start()
            for item in items:
                if len(self._items) >= self.max_items:
                    self.dropped += 1
                else:
                    self._items.append(item)
            self._cond.notify()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="traceforge-otlp-map", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closed:
                    self._cond.wait()
                if not self._items:
                    return
                batch = list(self._items)
                self._items.clear()
                self._busy = True
            for item in batch:
                self._export_one(item)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _export_one(self, item: Trace | Span) -> None:
        try:
            span = (
                self.export.map_trace(item)
                if isinstance(item, Trace)
                else self.export.map_span(item)
            )
            self.export.submit(span)
        except ValueError as exc:  # a trace whose timestamp is not ISO 8601
            log.warning("not exported over OTLP: %s", exc)
        except Exception:  # never let one bad item stop the export thread
            log.exception("OTLP export of one item failed")

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Map everything queued, then export it (spans and metrics); whether it all went
        within ``timeout_s`` seconds."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._items or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return self.export.force_flush(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Export what is queued, then stop the mapping thread and the exporter's threads
        (a second call does nothing)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            thread = self._thread if self._pid == os.getpid() else None
        if thread is not None:
            thread.join()
        self.export.shutdown()

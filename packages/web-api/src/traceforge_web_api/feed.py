"""New traces as they are saved, for ``GET /api/events``.

A :class:`TraceFeed` hands the :class:`~traceforge_shared.trace.TraceSummary` of each new
trace to every subscriber. It learns of new traces in one of two ways:

- pushed (``watch=False``), when the API runs in the capture proxy's process
  (``traceforge start``): the feed is a proxy addon, and its :meth:`TraceFeed.saved` hook is
  called (in the proxy's writer thread) with each trace once it is on disk.
- watched (``watch=True``, the default), when the API runs alone: the store's ``traces/``
  directory is watched with :func:`watchfiles.awatch` and each new trace file is read
  through the store. One watcher, so one worker thread, serves all the subscribers of an
  event loop: it starts with the first subscriber and stops (within ``step_ms``) when the
  last one leaves. The store writes a trace to a hidden temporary file and renames it into
  place, so a ``<id>.json`` appearing is a complete trace.

Each trace id is announced once (a trace saved twice, or pushed and then seen, is not
announced again).

A subscriber that falls more than ``buffer`` traces behind is closed (its client reconnects
and reloads the list) rather than slowing the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path

from watchfiles import Change, awatch

from traceforge_shared.ids import is_valid_id_prefix
from traceforge_shared.store import StoreError, TraceStore
from traceforge_shared.trace import Trace, TraceSummary, summarize

logger = logging.getLogger(__name__)

#: Trace ids remembered as announced (a file touched twice is announced once).
_REMEMBERED = 10_000


class FeedUnavailable(RuntimeError):
    """The traces directory cannot be watched (too many subscribers, no watch available)."""


class Subscription:
    """What one subscriber receives: call :meth:`get` until it returns ``None``."""

    def __init__(self, buffer: int) -> None:
        self._queue: asyncio.Queue[TraceSummary | None] = asyncio.Queue(buffer)
        self._closed = False

    def _offer(self, summary: TraceSummary) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait(summary)
        except asyncio.QueueFull:
            logger.info("closing a trace event subscriber that fell behind")
            self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)

    async def get(self) -> TraceSummary | None:
        """Wait for the next new trace's summary; ``None`` when the feed is over for this
        subscriber."""
        if self._closed and self._queue.empty():
            return None
        return await self._queue.get()


class _Watcher:
    """The subscribers of one event loop and, when watching, their directory watcher."""

    def __init__(self, store: TraceStore, watch: bool, debounce_ms: int, step_ms: int) -> None:
        self.store = store
        self.watch = watch
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.subscribers: set[Subscription] = set()
        self.task: asyncio.Task[None] | None = None
        self.stop_event = asyncio.Event()
        self.lock = asyncio.Lock()
        self.announced: OrderedDict[str, None] = OrderedDict()

    async def start(self) -> None:
        if not self.watch:
            return
        async with self.lock:
            if self.task is not None and not self.task.done():
                return
            self.stop_event = asyncio.Event()
            try:
                self.store.traces_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise FeedUnavailable(f"cannot create {self.store.traces_dir}: {exc}") from exc
            self.task = asyncio.create_task(self._watch(), name="traceforge-trace-feed")
            # The task's first step registers the watch (awatch creates its notifier before
            # it first waits): once this returns, no new file can be missed.
            await asyncio.sleep(0)
            failure = (
                self.task.exception() if self.task.done() and not self.task.cancelled() else None
            )
            if failure is not None:
                self.task = None
                raise FeedUnavailable(f"cannot watch {self.store.traces_dir}: {failure}")

    async def stop_if_idle(self) -> None:
        async with self.lock:
            if self.subscribers or self.task is None:
                return
            self.stop_event.set()
            task, self.task = self.task, None
            with contextlib.suppress(Exception):
                await task

    def _summary(self, trace_id: str) -> TraceSummary | None:
        try:
            return summarize(self.store.get(trace_id))
        except StoreError:  # deleted again, or not a trace
            return None

    async def _watch(self) -> None:
        try:
            async for changes in awatch(
                self.store.traces_dir,
                watch_filter=_is_trace_file,
                stop_event=self.stop_event,
                debounce=self.debounce_ms,
                step=self.step_ms,
                recursive=False,
            ):
                ids = sorted({Path(path).stem for _, path in changes})
                for trace_id in ids:
                    if trace_id in self.announced:
                        continue
                    summary = await asyncio.to_thread(self._summary, trace_id)
                    if summary is not None:
                        self.announce(summary)
        except Exception:
            logger.exception("watching %s for new traces failed", self.store.traces_dir)
            raise
        finally:
            for subscriber in list(self.subscribers):
                subscriber._close()

    def announce(self, summary: TraceSummary) -> None:
        """Offer ``summary`` to every subscriber unless its trace was announced already
        (on this watcher's event loop)."""
        if summary.id in self.announced:
            return
        self.announced[summary.id] = None
        while len(self.announced) > _REMEMBERED:
            self.announced.popitem(last=False)
        for subscriber in list(self.subscribers):
            subscriber._offer(summary)


def _is_trace_file(change: Change, path: str) -> bool:
    name = Path(path).name
    return (
        change != Change.deleted
        and name.endswith(".json")
        and is_valid_id_prefix(name[: -len(".json")])
    )


class TraceFeed:
    """Subscriptions to the traces saved into ``store`` from now on.

    Args:
        store: the store whose traces are announced.
        watch: watch ``store``'s ``traces/`` directory (the API runs alone). ``False``: the
            capture proxy runs in this process and calls :meth:`saved` (pass the feed to it
            as an addon); nothing is watched.
        max_subscribers: open subscriptions allowed at once (per event loop).
        buffer: traces a subscriber may fall behind before it is closed.
        debounce_ms, step_ms: :func:`watchfiles.awatch` grouping of file changes: a batch is
            announced once no change came for ``step_ms``, or after ``debounce_ms`` at most.
    """

    def __init__(
        self,
        store: TraceStore,
        *,
        watch: bool = True,
        max_subscribers: int = 64,
        buffer: int = 256,
        debounce_ms: int = 500,
        step_ms: int = 50,
    ) -> None:
        self.store = store
        self.watch = watch
        self.max_subscribers = max_subscribers
        self.buffer = buffer
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self._watchers: dict[asyncio.AbstractEventLoop, _Watcher] = {}
        # saved() reads _watchers from the proxy's writer thread.
        self._lock = threading.Lock()

    def saved(self, trace: Trace) -> None:
        """Proxy ``saved`` hook: announce ``trace``, now on disk, to every subscriber.

        Safe to call from any thread: the summary is handed to each subscriber's event loop
        with ``loop.call_soon_threadsafe``. A loop already closed is skipped.
        """
        summary = summarize(trace)
        with self._lock:
            watchers = list(self._watchers.items())
        for loop, watcher in watchers:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(watcher.announce, summary)

    async def subscribe(self) -> Subscription:
        """Return a new subscription; every trace saved after this returns reaches it.
        Pair each with :meth:`unsubscribe`.

        Raises:
            FeedUnavailable: too many subscribers, or the directory cannot be watched.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            watcher = self._watchers.get(loop)
            if watcher is None:
                watcher = self._watchers[loop] = _Watcher(
                    self.store, self.watch, self.debounce_ms, self.step_ms
                )
        if len(watcher.subscribers) >= self.max_subscribers:
            raise FeedUnavailable(f"too many event subscribers (at most {self.max_subscribers})")
        subscription = Subscription(self.buffer)
        watcher.subscribers.add(subscription)
        try:
            await watcher.start()
        except BaseException:
            await self.unsubscribe(subscription)
            raise
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        """End ``subscription``; the last one of a loop stops its watcher."""
        loop = asyncio.get_running_loop()
        watcher = self._watchers.get(loop)
        if watcher is None:
            return
        watcher.subscribers.discard(subscription)
        subscription._close()
        await watcher.stop_if_idle()
        if not watcher.subscribers and watcher.task is None:
            with self._lock:
                self._watchers.pop(loop, None)

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

Spans and runs are announced too (``span`` and ``run`` events, :class:`FeedEvent`): the
span of each saved trace that belongs to a run (it had a ``traceparent``) and then its run's
updated :class:`~traceforge_shared.spans.RunSummary`; spans received in this process (the
OTLP endpoint) through :meth:`TraceFeed.spans_saved`; when watching, each new span file of
``spans/`` (its spans, then its run).

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from watchfiles import Change, awatch

from traceforge_shared.ids import is_valid_id_prefix
from traceforge_shared.spans import Span, is_trace_id, span_from_trace
from traceforge_shared.store import StoreError, TraceStore
from traceforge_shared.trace import Trace, TraceSummary, summarize

logger = logging.getLogger(__name__)

#: Trace ids remembered as announced (a file touched twice is announced once).
_REMEMBERED = 10_000


_span_decoder = msgspec.json.Decoder(Span)


class FeedEvent(msgspec.Struct, frozen=True):
    """An announcement other than a new trace.

    Attributes:
        event: ``span`` (``data`` is a :class:`~traceforge_shared.spans.Span`) or ``run``
            (``data`` is the run's :class:`~traceforge_shared.spans.RunSummary` after the
            change).
        data: the announced object.
    """

    event: str
    data: Any


#: What a subscription yields: a new trace's summary, or a span or run event.
FeedItem = TraceSummary | FeedEvent


def run_events(store: TraceStore, spans: Sequence[Span]) -> list[FeedEvent]:
    """The events announcing ``spans`` (already stored): one ``span`` event each, then one
    ``run`` event per run they belong to, with the run's summary as the store now has it (a
    run deleted meanwhile is left out)."""
    events = [FeedEvent("span", span) for span in spans]
    for trace_id in dict.fromkeys(span.trace_id for span in spans):
        try:
            events.append(FeedEvent("run", store.spans.get_run_summary(trace_id)))
        except StoreError:
            continue
    return events


class FeedUnavailable(RuntimeError):
    """The traces directory cannot be watched (too many subscribers, no watch available)."""


class Subscription:
    """What one subscriber receives: call :meth:`get` until it returns ``None``."""

    def __init__(self, buffer: int) -> None:
        self._queue: asyncio.Queue[FeedItem | None] = asyncio.Queue(buffer)
        self._closed = False

    def _offer(self, summary: FeedItem) -> None:
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

    async def get(self) -> FeedItem | None:
        """Wait for the next new trace's summary (or span or run event); ``None`` when the
        feed is over for this subscriber."""
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
                self.store.spans.dir.mkdir(parents=True, exist_ok=True)
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

    def _summary(self, trace_id: str) -> tuple[TraceSummary | None, list[FeedEvent]]:
        try:
            trace = self.store.get(trace_id)
        except StoreError:  # deleted again, or not a trace
            return None, []
        span = span_from_trace(trace)
        return summarize(trace), [] if span is None else run_events(self.store, [span])

    def _segment_events(self, path: Path) -> list[FeedEvent]:
        """The events of a new span file: its spans (a bad line is skipped), then its run."""
        try:
            lines = path.read_bytes().splitlines()
        except OSError:  # pruned or deleted again
            return []
        spans: list[Span] = []
        for line in lines:
            try:
                spans.append(_span_decoder.decode(line))
            except msgspec.MsgspecError:
                continue
        return run_events(self.store, spans) if spans else []

    async def _watch(self) -> None:
        try:
            async for changes in awatch(
                self.store.traces_dir,
                self.store.spans.dir,
                watch_filter=_is_watched_file,
                stop_event=self.stop_event,
                debounce=self.debounce_ms,
                step=self.step_ms,
                recursive=False,
            ):
                paths = sorted({Path(path) for _, path in changes})
                for path in paths:
                    if _is_span_file(path.name):
                        for event in await asyncio.to_thread(self._segment_events, path):
                            self.announce_event(event)
                        continue
                    if path.stem in self.announced:
                        continue
                    summary, events = await asyncio.to_thread(self._summary, path.stem)
                    if summary is not None:
                        self.announce(summary, events)
        except Exception:
            logger.exception("watching %s for new traces failed", self.store.traces_dir)
            raise
        finally:
            for subscriber in list(self.subscribers):
                subscriber._close()

    def announce(self, summary: TraceSummary, events: Sequence[FeedEvent] = ()) -> None:
        """Offer ``summary``, then ``events`` (its span and run), to every subscriber unless
        its trace was announced already (on this watcher's event loop)."""
        if summary.id in self.announced:
            return
        self.announced[summary.id] = None
        while len(self.announced) > _REMEMBERED:
            self.announced.popitem(last=False)
        for subscriber in list(self.subscribers):
            subscriber._offer(summary)
            for event in events:
                subscriber._offer(event)

    def announce_event(self, event: FeedEvent) -> None:
        """Offer a span or run event to every subscriber (on this watcher's event loop)."""
        for subscriber in list(self.subscribers):
            subscriber._offer(event)


def _is_span_file(name: str) -> bool:
    """A span file of the store: ``<32 hex run id>-<segment>.jsonl``, not hidden."""
    return name.endswith(".jsonl") and len(name) > 33 and name[32] == "-" and is_trace_id(name[:32])


def _is_watched_file(change: Change, path: str) -> bool:
    return _is_trace_file(change, path) or (
        change != Change.deleted and _is_span_file(Path(path).name)
    )


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

    #: ``saved`` reads only the trace's head (metadata, grouping, span): a writer process
    #: sends no bodies back.
    saved_head_only = True

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
        """Proxy ``saved`` hook: announce ``trace``, now on disk, to every subscriber (and,
        when the call belongs to a run, its span and the run's new summary).

        Safe to call from any thread: the summary is handed to each subscriber's event loop
        with ``loop.call_soon_threadsafe``. A loop already closed is skipped.
        """
        with self._lock:
            watchers = list(self._watchers.items())
        if not watchers:  # nobody listens: no summary, no run query in the writer thread
            return
        summary = summarize(trace)
        span = span_from_trace(trace)
        events = [] if span is None else run_events(self.store, [span])
        for loop, watcher in watchers:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(watcher.announce, summary, events)

    def spans_saved(self, spans: Sequence[Span]) -> None:
        """Announce ``spans``, just stored by this process (the OTLP endpoint calls it after
        :meth:`~traceforge_shared.store.spans.SpanStore.write`): a ``span`` event each, then
        a ``run`` event per run. Safe to call from any thread, like :meth:`saved`."""
        if not spans:
            return
        with self._lock:
            watchers = list(self._watchers.items())
        if not watchers:
            return
        events = run_events(self.store, spans)
        for loop, watcher in watchers:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                for event in events:
                    loop.call_soon_threadsafe(watcher.announce_event, event)

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

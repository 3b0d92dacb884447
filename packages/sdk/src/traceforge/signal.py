"""`Signal`: the cancellation signal every provider call requires, the Pythonic twin of the web
platform's ``AbortSignal`` (https://dom.spec.whatwg.org/#interface-AbortSignal).

A signal starts not aborted and is aborted at most once, with a reason (an exception: a
`traceforge.errors.Cancelled` by default, a `traceforge.errors.Timeout` for timeouts). Whoever
runs a call watches it: ``await signal.wait()``, ``signal.add_callback(fn)``, or polls
``signal.aborted`` / ``signal.raise_if_aborted()``. The provider backends close the HTTP stream
as soon as the signal aborts and yield nothing more.

```python
signal = Signal.timeout(30)                             # aborts with Timeout after 30 s
signal, controller = Signal.timeout_with_controller(30)  # ... or earlier: controller.abort()
signal, counter = Signal.token_limit(100)               # aborts at the 100th counter.increment()
signal = Signal.merge(user_signal, Signal.timeout(30))  # the first reason wins
```

Asyncio interop, both ways:

- a task cancelled (``task.cancel()``, ``asyncio.timeout``) while it iterates a stream closes
  the stream too (the backends close it in ``finally``), whatever the signal;
- ``with signal.cancel_on_abort(): ...`` cancels the enclosed code when the signal aborts and
  raises the signal's reason in place of `asyncio.CancelledError` (as ``asyncio.timeout``
  raises `TimeoutError`), so plain awaits that know nothing of signals stop too;
- ``Signal.from_asyncio_timeout(cm)`` is a signal that aborts with `Timeout` when the
  ``asyncio.timeout`` context manager ``cm`` expires.

Thread safety: ``abort`` may be called from any thread (the sync twins ``stream_sync`` /
``generate_sync`` run an event loop in a worker thread); callbacks run in the aborting thread,
and ``wait()`` wakes its own event loop thread-safely. Timers use the running event loop when
there is one, else a daemon `threading.Timer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeAlias

from traceforge.errors import Cancelled, Timeout

__all__ = [
    "AbortCallback",
    "AbortController",
    "CancelOnAbort",
    "Signal",
    "TokenCounter",
]

_log = logging.getLogger(__name__)

_callback_keys = itertools.count()  # next() is atomic under the GIL

#: A callback run when a signal aborts: called with the reason, or with no argument when it
#: takes none (``response.close`` fits as it is).
AbortCallback: TypeAlias = Callable[[BaseException], object] | Callable[[], object]


def _takes_reason(fn: AbortCallback) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: call with the reason
        return True
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(
        p.kind is inspect.Parameter.VAR_POSITIONAL
        or (p.kind in positional and p.default is inspect.Parameter.empty)
        for p in parameters
    )


class Signal:
    """Whether (and why) a call must stop. Aborted at most once; never un-aborted.

    Build one with `AbortController`, `Signal.never`, `Signal.timeout`,
    `Signal.timeout_with_controller`, `Signal.merge`, `Signal.token_limit` or
    `Signal.from_asyncio_timeout`; ``Signal()`` alone is a signal nothing aborts but its own
    (private) ``_abort``.
    """

    __slots__ = (
        "__weakref__",
        "_aborted",
        "_callbacks",
        "_deadline",
        "_deadline_reason",
        "_lock",
        "_never",
        "_reason",
    )

    def __init__(self) -> None:
        self._aborted = False
        self._reason: BaseException | None = None
        self._callbacks: dict[int, tuple[AbortCallback, bool]] = {}
        self._lock = threading.Lock()
        self._deadline: float | None = None  # time.monotonic() at which a timeout fires
        self._deadline_reason: Callable[[], BaseException] = lambda: Timeout("timed out")
        self._never = False

    def __repr__(self) -> str:
        state = f"aborted, reason={self._reason!r}" if self.aborted else "not aborted"
        return f"<Signal {state}>"

    # ----------------------------------------------------------------- state

    @property
    def aborted(self) -> bool:
        """True once the signal has aborted (a passed timeout counts even if its timer has not
        run yet: a blocked event loop does not hide it)."""
        if not self._aborted and self._deadline is not None and time.monotonic() >= self._deadline:
            self._abort(self._deadline_reason())
        return self._aborted

    @property
    def reason(self) -> BaseException | None:
        """Why the signal aborted (an exception), or None while it has not."""
        return self._reason if self.aborted else None

    def raise_if_aborted(self) -> None:
        """Raise the reason if the signal has aborted, else return.

        Raises:
            BaseException: the reason (`Cancelled`, `Timeout` or what ``abort`` was given).
        """
        if self.aborted:
            assert self._reason is not None
            raise self._reason

    async def wait(self) -> BaseException:
        """Wait until the signal aborts and return the reason (at once if already aborted).

        Never returns for `Signal.never`; cancel the waiting task to stop waiting.
        """
        if self.aborted:
            assert self._reason is not None
            return self._reason
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BaseException] = loop.create_future()

        def resolve(reason: BaseException) -> None:
            if not future.done():
                future.set_result(reason)

        def wake(reason: BaseException) -> None:
            # RuntimeError: the waiting loop is closed, nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(resolve, reason)

        remove = self.add_callback(wake)
        try:
            return await future
        finally:
            remove()

    def add_callback(self, fn: AbortCallback) -> Callable[[], None]:
        """Run ``fn(reason)`` (or ``fn()`` if it takes no argument) once, when the signal
        aborts; at once, in this thread, if it already has.

        Returns:
            A function that removes the callback (safe to call more than once, or after it
            ran). Remove callbacks of long-lived signals when the call they guard ends.

        Exceptions raised by a callback are logged and do not stop the other callbacks.
        """
        takes_reason = _takes_reason(fn)
        if self.aborted:
            assert self._reason is not None
            self._run(fn, takes_reason, self._reason)
            return _noop
        if self._never:
            return _noop
        key = next(_callback_keys)
        with self._lock:
            if not self._aborted:
                self._callbacks[key] = (fn, takes_reason)

                def remove() -> None:
                    with self._lock:
                        self._callbacks.pop(key, None)

                return remove
        assert self._reason is not None
        self._run(fn, takes_reason, self._reason)
        return _noop

    def cancel_on_abort(self, task: asyncio.Task[object] | None = None) -> CancelOnAbort:
        """A context manager (``with`` or ``async with``) that cancels ``task`` (default: the
        current task) when the signal aborts while the block runs. For the current task, the
        resulting `asyncio.CancelledError` leaves the block as the signal's reason instead
        (as ``asyncio.timeout`` turns it into `TimeoutError`); another task stays cancelled.

        Raises:
            RuntimeError: no ``task`` given and no task is running.
        """
        return CancelOnAbort(self, task)

    # ----------------------------------------------------------------- aborting

    def _abort(self, reason: BaseException) -> bool:
        """Abort with ``reason``; False if the signal had already aborted (nothing changes)."""
        if self._never:
            return False
        with self._lock:
            if self._aborted:
                return False
            self._reason = reason
            self._aborted = True
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for fn, takes_reason in callbacks:
            self._run(fn, takes_reason, reason)
        return True

    @staticmethod
    def _run(fn: AbortCallback, takes_reason: bool, reason: BaseException) -> None:
        try:
            if takes_reason:
                fn(reason)  # type: ignore[call-arg]
            else:
                fn()  # type: ignore[call-arg]
        except Exception:
            _log.exception("signal callback %r failed", fn)

    def _schedule(self, seconds: float, reason: Callable[[], BaseException]) -> None:
        """Abort with ``reason()`` after ``seconds``: on the running loop, else a timer thread."""
        self._deadline = time.monotonic() + max(0.0, seconds)
        self._deadline_reason = reason
        if seconds <= 0:
            self._abort(reason())
            return

        def fire() -> None:
            self._abort(reason())

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            timer = threading.Timer(seconds, fire)
            timer.daemon = True
            timer.start()
            self.add_callback(timer.cancel)
        else:
            handle = loop.call_later(seconds, fire)
            self.add_callback(handle.cancel)

    # ----------------------------------------------------------------- constructors

    @classmethod
    def never(cls) -> Signal:
        """A signal that never aborts (callbacks are not even kept)."""
        signal = cls()
        signal._never = True
        return signal

    @classmethod
    def timeout(cls, seconds: float) -> Signal:
        """A signal that aborts with `Timeout` after ``seconds`` (s; 0 or less: already)."""
        signal = cls()
        signal._schedule(seconds, lambda: Timeout(f"timed out after {seconds:g} s"))
        return signal

    @classmethod
    def timeout_with_controller(cls, seconds: float) -> tuple[Signal, AbortController]:
        """A signal that aborts with `Timeout` after ``seconds`` (s), or earlier when its
        controller's ``abort()`` is called.

        Returns:
            ``(signal, controller)``; ``controller.signal is signal``.
        """
        controller = AbortController()
        controller.signal._schedule(seconds, lambda: Timeout(f"timed out after {seconds:g} s"))
        return controller.signal, controller

    @classmethod
    def merge(cls, *signals: Signal) -> Signal:
        """A signal that aborts as soon as any of ``signals`` does, with that one's reason
        (already aborted if one already is: the first such one's reason). No signals: never.
        """
        live = [s for s in signals if not s._never]
        if not live:
            return cls.never()
        merged = cls()
        for signal in live:
            if signal.aborted:
                assert signal.reason is not None
                merged._abort(signal.reason)
                return merged
        removers = [signal.add_callback(merged._abort) for signal in live]

        def detach() -> None:
            for remove in removers:
                remove()

        merged.add_callback(detach)
        return merged

    @classmethod
    def token_limit(cls, n: int) -> tuple[Signal, TokenCounter]:
        """A signal that aborts with `Cancelled` once ``counter.increment()`` has counted ``n``
        (tokens, token events, ... whatever the caller counts).

        Returns:
            ``(signal, counter)``.

        Raises:
            ValueError: ``n`` is less than 1.
        """
        if n < 1:
            raise ValueError(f"token limit must be at least 1, got {n}")
        controller = AbortController()
        return controller.signal, TokenCounter(n, controller)

    @classmethod
    def from_asyncio_timeout(cls, cm: asyncio.Timeout) -> Signal:
        """A signal that aborts with `Timeout` when ``cm`` (from ``asyncio.timeout(...)``, or
        ``asyncio.timeout_at``) expires: at ``cm.when()`` on the running loop's clock, read now
        (a later ``cm.reschedule()`` is not followed). ``cm.when()`` None: never.

        Must be called with a running event loop.
        """
        when = cm.when()
        if when is None:
            return cls.never()
        loop = asyncio.get_running_loop()
        signal = cls()
        signal._schedule(when - loop.time(), lambda: Timeout("asyncio timeout expired"))
        return signal


def _noop() -> None:
    return None


class AbortController:
    """Aborts its `signal` on demand (the twin of the web's ``AbortController``)."""

    __slots__ = ("signal",)

    def __init__(self) -> None:
        self.signal = Signal()

    def abort(self, reason: BaseException | None = None) -> None:
        """Abort the signal with ``reason`` (default ``Cancelled("aborted")``); no effect if it
        has already aborted."""
        self.signal._abort(Cancelled("aborted") if reason is None else reason)


class TokenCounter:
    """Counts toward a `Signal.token_limit`; aborts its signal when the count reaches it."""

    __slots__ = ("_controller", "count", "limit")

    def __init__(self, limit: int, controller: AbortController) -> None:
        self.limit = limit
        self.count = 0
        self._controller = controller

    @property
    def signal(self) -> Signal:
        """The signal this counter aborts."""
        return self._controller.signal

    def increment(self, k: int = 1) -> bool:
        """Count ``k`` more; abort the signal with `Cancelled` once the count reaches the limit.

        Returns:
            True if the signal is (now) aborted.
        """
        self.count += k
        if self.count >= self.limit:
            self._controller.abort(Cancelled(f"token limit of {self.limit} reached"))
        return self._controller.signal.aborted


class CancelOnAbort:
    """Context manager of `Signal.cancel_on_abort`: cancels a task when the signal aborts and
    turns the resulting `asyncio.CancelledError` into the signal's reason on exit.

    A cancellation that did not come from the signal (another ``task.cancel()``) propagates
    unchanged. If the signal aborted before the block is entered, the task is cancelled at its
    first await inside the block.
    """

    __slots__ = ("_cancelled", "_loop", "_remove", "_signal", "_task", "_task_arg")

    def __init__(self, signal: Signal, task: asyncio.Task[object] | None) -> None:
        self._signal = signal
        self._task_arg = task
        self._task: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._remove: Callable[[], None] = _noop
        self._cancelled = False

    def __enter__(self) -> Signal:
        task = self._task_arg
        if task is None:
            try:
                task = asyncio.current_task()
            except RuntimeError:  # no running event loop
                task = None
        if task is None:
            raise RuntimeError("cancel_on_abort() needs a running task")
        self._task = task
        self._loop = task.get_loop()
        self._remove = self._signal.add_callback(self._on_abort)
        return self._signal

    def _on_abort(self) -> None:
        loop, task = self._loop, self._task
        assert loop is not None and task is not None
        if loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._cancel()
        else:
            loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        assert self._task is not None
        if not self._task.done() and not self._cancelled:
            self._cancelled = True
            self._task.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._remove()
        task = self._task
        if not self._cancelled or task is None:
            return
        try:
            current = asyncio.current_task()
        except RuntimeError:
            current = None
        if current is None or task is not current:  # another task: it stays cancelled
            return
        # Take back the cancellation we asked for (as asyncio.timeout does).
        if task.uncancel() == 0 and exc_type is asyncio.CancelledError:
            reason = self._signal.reason
            assert reason is not None
            raise reason from exc

    async def __aenter__(self) -> Signal:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

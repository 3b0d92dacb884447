"""`traceforge.Signal`: constructors, callbacks, waiting, threads and asyncio interop."""

from __future__ import annotations

import asyncio
import threading

import pytest

import traceforge
from traceforge import AbortController, Cancelled, Signal, Timeout


def test_exports_are_sorted_and_exist() -> None:
    assert traceforge.__all__ == sorted(traceforge.__all__)
    for name in traceforge.__all__:
        assert hasattr(traceforge, name)


def test_controller_aborts_once_with_default_reason() -> None:
    controller = AbortController()
    signal = controller.signal
    assert not signal.aborted
    assert signal.reason is None
    signal.raise_if_aborted()
    controller.abort()
    assert signal.aborted
    assert isinstance(signal.reason, Cancelled)
    first = signal.reason
    controller.abort(ValueError("later"))
    assert signal.reason is first
    with pytest.raises(Cancelled):
        signal.raise_if_aborted()


def test_callbacks_get_the_reason_or_nothing_and_can_be_removed() -> None:
    controller = AbortController()
    seen: list[object] = []
    controller.signal.add_callback(lambda reason: seen.append(reason))
    controller.signal.add_callback(lambda: seen.append("no-arg"))
    remove = controller.signal.add_callback(lambda: seen.append("removed"))
    remove()
    remove()
    reason = KeyError("why")
    controller.abort(reason)
    assert seen == [reason, "no-arg"]
    # Already aborted: called at once.
    controller.signal.add_callback(lambda r: seen.append(("late", r)))
    assert seen[-1] == ("late", reason)


def test_a_failing_callback_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    controller = AbortController()
    seen: list[str] = []

    def boom() -> None:
        raise RuntimeError("boom")

    controller.signal.add_callback(boom)
    controller.signal.add_callback(lambda: seen.append("ran"))
    controller.abort()
    assert seen == ["ran"]
    assert "signal callback" in caplog.text


def test_never_keeps_no_callbacks() -> None:
    signal = Signal.never()
    remove = signal.add_callback(lambda: None)
    remove()
    assert not signal.aborted
    assert signal._callbacks == {}


async def test_wait_returns_the_reason() -> None:
    controller = AbortController()
    waiter = asyncio.create_task(controller.signal.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    reason = Cancelled("stop")
    controller.abort(reason)
    assert await waiter is reason
    assert await controller.signal.wait() is reason
    assert controller.signal._callbacks == {}


async def test_wait_on_never_can_be_cancelled() -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await Signal.never().wait()


async def test_timeout_aborts_with_timeout_on_the_loop() -> None:
    signal = Signal.timeout(0.01)
    assert not signal.aborted
    reason = await signal.wait()
    assert isinstance(reason, Timeout)
    assert "0.01 s" in str(reason)


def test_timeout_without_a_loop_uses_a_timer_thread() -> None:
    signal = Signal.timeout(0.01)
    fired = threading.Event()
    signal.add_callback(fired.set)
    assert fired.wait(5)
    assert isinstance(signal.reason, Timeout)


def test_zero_timeout_is_already_aborted() -> None:
    assert isinstance(Signal.timeout(0).reason, Timeout)


def test_a_passed_deadline_counts_even_if_the_loop_is_blocked() -> None:
    signal = Signal.timeout(1000)
    assert signal._deadline is not None
    signal._deadline -= 2000
    assert isinstance(signal.reason, Timeout)


async def test_timeout_with_controller_aborts_early_and_cancels_the_timer() -> None:
    signal, controller = Signal.timeout_with_controller(1000)
    assert controller.signal is signal
    controller.abort()
    assert isinstance(signal.reason, Cancelled)
    signal2, _ = Signal.timeout_with_controller(0.01)
    assert isinstance(await signal2.wait(), Timeout)


async def test_merge_takes_the_first_reason_and_detaches() -> None:
    a, b = AbortController(), AbortController()
    merged = Signal.merge(a.signal, b.signal, Signal.never())
    assert not merged.aborted
    first = Cancelled("b first")
    b.abort(first)
    assert merged.reason is first
    a.abort(Cancelled("a later"))
    assert merged.reason is first
    assert a.signal._callbacks == {}


def test_merge_of_an_aborted_signal_and_of_nothing() -> None:
    done = AbortController()
    done.abort(Cancelled("x"))
    assert Signal.merge(AbortController().signal, done.signal).reason is done.signal.reason
    assert not Signal.merge().aborted
    assert not Signal.merge(Signal.never()).aborted


async def test_merge_with_a_timeout() -> None:
    merged = Signal.merge(AbortController().signal, Signal.timeout(0.01))
    assert isinstance(await merged.wait(), Timeout)


def test_token_limit_aborts_at_the_nth_increment() -> None:
    signal, counter = Signal.token_limit(5)
    assert counter.signal is signal
    results = [counter.increment() for _ in range(4)]
    assert results == [False] * 4
    assert not signal.aborted
    assert counter.increment()
    assert isinstance(signal.reason, Cancelled)
    assert "5" in str(signal.reason)
    signal2, counter2 = Signal.token_limit(5)
    counter2.increment(7)
    assert signal2.aborted
    with pytest.raises(ValueError, match="at least 1"):
        Signal.token_limit(0)


async def test_abort_from_another_thread_wakes_the_loop() -> None:
    controller = AbortController()
    waiter = asyncio.create_task(controller.signal.wait())
    await asyncio.sleep(0)
    thread = threading.Thread(target=controller.abort)
    thread.start()
    reason = await asyncio.wait_for(waiter, 5)
    thread.join()
    assert isinstance(reason, Cancelled)


async def test_cancel_on_abort_raises_the_reason_instead_of_cancelled_error() -> None:
    controller = AbortController()
    asyncio.get_running_loop().call_later(0.01, controller.abort, Cancelled("user"))
    with pytest.raises(Cancelled, match="user"), controller.signal.cancel_on_abort():
        await asyncio.sleep(1000)
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0)  # the task is not cancelled any more


async def test_cancel_on_abort_async_with_and_already_aborted() -> None:
    signal = Signal.timeout(0)
    with pytest.raises(Timeout):
        async with signal.cancel_on_abort():
            await asyncio.sleep(1000)


async def test_cancel_on_abort_leaves_other_cancellations_alone() -> None:
    controller = AbortController()

    async def body() -> None:
        with controller.signal.cancel_on_abort():
            await asyncio.sleep(1000)

    task = asyncio.create_task(body())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    controller.abort()  # removed callback: nothing happens


async def test_cancel_on_abort_without_abort_is_transparent() -> None:
    controller = AbortController()
    with controller.signal.cancel_on_abort() as signal:
        await asyncio.sleep(0)
    assert signal is controller.signal
    assert controller.signal._callbacks == {}


async def test_cancel_on_abort_of_another_task() -> None:
    controller = AbortController()
    worker = asyncio.create_task(asyncio.sleep(1000))
    with controller.signal.cancel_on_abort(worker):
        controller.abort()
        with pytest.raises(asyncio.CancelledError):
            await worker
    assert worker.cancelled()


def test_cancel_on_abort_needs_a_task() -> None:
    with pytest.raises(RuntimeError, match="running task"):  # noqa: SIM117
        with AbortController().signal.cancel_on_abort():
            pass


async def test_from_asyncio_timeout() -> None:
    async with asyncio.timeout(10) as cm:
        signal = Signal.from_asyncio_timeout(cm)
        await asyncio.sleep(0)
    assert not signal.aborted
    async with asyncio.timeout(0.01) as cm:
        signal = Signal.from_asyncio_timeout(cm)
        cm.reschedule(None)  # not followed: the signal still fires at the first deadline
        assert isinstance(await signal.wait(), Timeout)
    async with asyncio.timeout(None) as cm:
        assert not Signal.from_asyncio_timeout(cm).aborted
        await asyncio.sleep(0)

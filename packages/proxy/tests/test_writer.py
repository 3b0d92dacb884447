"""The trace writer, without a proxy or a socket: flows are stand-ins whose ``to_trace``
returns a prepared trace; the store is a real one in ``tmp_path``, wrapped where a test
needs to watch or break ``save_many`` / ``prune``."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from traceforge_proxy.hooks import Addons
from traceforge_proxy.writer import TraceWriter, is_store_fault
from traceforge_shared.config import StorageConfig
from traceforge_shared.store import TraceStore
from traceforge_shared.store.files import encode_trace
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

WAIT_S = 10.0


class Flow:
    """A finished call: ``to_trace`` returns ``trace``, after ``gate`` is set if given."""

    def __init__(self, trace: Trace | None = None, gate: threading.Event | None = None) -> None:
        self.trace = trace or make_trace()
        self.gate = gate
        self.started = threading.Event()

    @property
    def trace_id(self) -> str:
        return self.trace.id

    def to_trace(self) -> Trace:
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT_S)
        return self.trace


class BrokenFlow(Flow):
    def to_trace(self) -> Trace:
        raise RuntimeError("no trace for you")


class SpyStore(TraceStore):
    """A store recording each ``save_many`` batch and ``prune`` call; ``fail_batches`` makes
    that many of the next multi-trace ``save_many`` calls fail, ``bad_ids`` always fail."""

    def __init__(self, home: Path) -> None:
        super().__init__(home, fsync=False)
        self.batches: list[list[str]] = []
        self.fsyncs: list[bool | None] = []
        self.prunes: list[tuple[int | None, int | None]] = []
        self.fail_batches = 0
        self.bad_ids: set[str] = set()
        self.fault: OSError | None = None  # raised by every save while set (disk full...)

    def save_many(self, traces: Sequence[Trace], *, fsync: bool | None = None) -> list[Path]:
        ids = [t.id for t in traces]
        self.batches.append(ids)
        self.fsyncs.append(fsync)
        if len(traces) > 1 and self.fail_batches:
            self.fail_batches -= 1
            raise OSError("disk hiccup")
        if self.bad_ids.intersection(ids):
            raise OSError("this one never saves")
        if self.fault is not None:
            raise self.fault
        return super().save_many(traces, fsync=fsync)

    def prune(self, **kwargs: Any) -> int:
        self.prunes.append((kwargs["max_traces"], kwargs["retention_days"]))
        return super().prune(**kwargs)


class SavedLog:
    """``saved`` addon: records each trace id and whether its file existed then."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store
        self.seen: list[tuple[str, bool]] = []

    def saved(self, trace: Trace) -> None:
        self.seen.append((trace.id, self.store.path_for(trace.id).is_file()))


@pytest.fixture
def spy(tmp_path: Path) -> SpyStore:
    return SpyStore(tmp_path / "home")


@pytest.fixture
def writers() -> Iterator[list[TraceWriter]]:
    made: list[TraceWriter] = []
    yield made
    for writer in made:
        writer.close()


def _writer(made: list[TraceWriter], store: TraceStore, **kwargs: Any) -> TraceWriter:
    writer = TraceWriter(store, **kwargs)
    made.append(writer)
    return writer


def _hold(writer: TraceWriter) -> tuple[Flow, threading.Event]:
    """Submit a flow whose trace waits for the returned gate: the writer is busy with it
    (and later flows queue up) until the gate is set."""
    gate = threading.Event()
    first = Flow(gate=gate)
    writer.submit(first)
    assert first.started.wait(WAIT_S)
    return first, gate


def _stored_ids(store: TraceStore) -> set[str]:
    return {p.stem for p in store.traces_dir.glob("*.json")}


def test_submitted_flows_are_saved_and_drain_waits(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    writer = _writer(writers, spy)
    flows = [Flow() for _ in range(5)]
    for flow in flows:
        writer.submit(flow)
    assert writer.drain(WAIT_S)
    assert _stored_ids(spy) == {f.trace_id for f in flows}
    assert spy.get(flows[0].trace_id) == flows[0].trace
    assert writer.failures == 0


def test_response_and_error_hooks_queue_the_flow(spy: SpyStore, writers: list[TraceWriter]) -> None:
    writer = _writer(writers, spy)
    answered, failed = Flow(), Flow(make_trace(status="upstream_error", status_code=502))
    addons = Addons([writer])  # as the proxy holds it
    assert addons.has("response") and addons.has("error")
    assert not addons.has("request") and not addons.has("saved")
    addons.response(answered)  # type: ignore[arg-type]
    addons.error(failed)  # type: ignore[arg-type]
    assert writer.drain(WAIT_S)
    assert _stored_ids(spy) == {answered.trace_id, failed.trace_id}


def test_flows_finished_while_busy_are_saved_in_one_batch(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    writer = _writer(writers, spy)
    first, gate = _hold(writer)  # the thread is busy with the first flow
    rest = [Flow() for _ in range(4)]
    for flow in rest:
        writer.submit(flow)
    gate.set()
    assert writer.drain(WAIT_S)
    assert spy.batches == [[first.trace_id], [f.trace_id for f in rest]]


def test_batches_are_at_most_max_batch(spy: SpyStore, writers: list[TraceWriter]) -> None:
    writer = _writer(writers, spy, max_batch=2)
    first, gate = _hold(writer)
    rest = [Flow() for _ in range(5)]
    for flow in rest:
        writer.submit(flow)
    gate.set()
    assert writer.drain(WAIT_S)
    ids = [f.trace_id for f in rest]
    assert spy.batches == [[first.trace_id], ids[0:2], ids[2:4], ids[4:5]]


def test_before_save_hooks_run_in_order_and_their_result_is_stored(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    order: list[str] = []

    class Tag:
        def __init__(self, tag: str) -> None:
            self.tag = tag

        def before_save(self, trace: Trace) -> Trace:
            order.append(self.tag)
            trace.metadata.warnings.append(self.tag)
            return trace

    log = SavedLog(spy)
    received: list[Trace] = []

    class Keep:
        def saved(self, trace: Trace) -> None:
            received.append(trace)

    writer = _writer(writers, spy, addons=[Tag("redact"), Tag("cost"), log, Keep()])
    flow = Flow()
    writer.submit(flow)
    assert writer.drain(WAIT_S)
    assert order == ["redact", "cost"]
    assert spy.get(flow.trace_id).metadata.warnings == ["redact", "cost"]
    assert received == [flow.trace]  # saved sees the rewritten trace
    assert log.seen == [(flow.trace_id, True)]


def test_addons_may_be_given_as_an_addons_object(spy: SpyStore, writers: list[TraceWriter]) -> None:
    log = SavedLog(spy)
    addons = Addons([log])
    writer = _writer(writers, spy, addons=addons)
    assert writer.addons is addons
    flow = Flow()
    writer.submit(flow)
    assert writer.drain(WAIT_S)
    assert log.seen == [(flow.trace_id, True)]


def test_a_failing_before_save_drops_only_that_trace(
    spy: SpyStore, writers: list[TraceWriter], caplog: pytest.LogCaptureFixture
) -> None:
    secret = make_trace(text="sk-live-do-not-store")

    class Redactor:
        def before_save(self, trace: Trace) -> Trace:
            if trace.id == secret.id:
                raise ValueError("redaction failed")
            return trace

    log = SavedLog(spy)
    writer = _writer(writers, spy, addons=[Redactor(), log])
    first, gate = _hold(writer)
    good, bad = Flow(), Flow(secret)
    writer.submit(bad)
    writer.submit(good)
    with caplog.at_level(logging.ERROR, logger="traceforge.proxy"):
        gate.set()
        assert writer.drain(WAIT_S)
    assert _stored_ids(spy) == {first.trace_id, good.trace_id}
    assert not any("sk-live" in p.read_text() for p in spy.traces_dir.glob("*.json"))
    assert [i for i, _ in log.seen] == [first.trace_id, good.trace_id]
    assert writer.failures == 1
    assert any(secret.id in r.getMessage() for r in caplog.records)


def test_a_flow_that_cannot_build_its_trace_is_dropped(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    writer = _writer(writers, spy)
    broken, fine = BrokenFlow(), Flow()
    writer.submit(broken)
    writer.submit(fine)
    assert writer.drain(WAIT_S)
    assert _stored_ids(spy) == {fine.trace_id}
    assert writer.failures == 1


def test_saved_fires_after_the_file_exists(spy: SpyStore, writers: list[TraceWriter]) -> None:
    got: list[Trace] = []

    class Reader:
        def saved(self, trace: Trace) -> None:
            got.append(spy.get(trace.id))  # raises if not on disk and indexed

    log = SavedLog(spy)
    writer = _writer(writers, spy, addons=[log, Reader()])
    flows = [Flow() for _ in range(3)]
    for flow in flows:
        writer.submit(flow)
    assert writer.drain(WAIT_S)
    assert log.seen == [(f.trace_id, True) for f in flows]
    assert got == [f.trace for f in flows]


def test_a_failing_saved_hook_is_logged_and_the_writer_goes_on(
    spy: SpyStore, writers: list[TraceWriter], caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def saved(self, trace: Trace) -> None:
            raise RuntimeError("listener broke")

    log = SavedLog(spy)
    writer = _writer(writers, spy, addons=[Broken(), log])
    flows = [Flow(), Flow()]
    with caplog.at_level(logging.ERROR, logger="traceforge.proxy"):
        for flow in flows:
            writer.submit(flow)
            assert writer.drain(WAIT_S)
    assert _stored_ids(spy) == {f.trace_id for f in flows}
    assert [i for i, _ in log.seen] == [f.trace_id for f in flows]
    assert writer.failures == 0
    assert [r.getMessage() for r in caplog.records] == ["addon hook saved failed"] * 2


def test_a_failed_batch_is_saved_one_by_one(spy: SpyStore, writers: list[TraceWriter]) -> None:
    log = SavedLog(spy)
    writer = _writer(writers, spy, addons=[log])
    first, gate = _hold(writer)
    rest = [Flow() for _ in range(3)]
    for flow in rest:
        writer.submit(flow)
    spy.fail_batches = 1
    gate.set()
    assert writer.drain(WAIT_S)
    ids = [f.trace_id for f in rest]
    assert spy.batches == [[first.trace_id], ids, *([i] for i in ids)]
    assert _stored_ids(spy) == {first.trace_id, *ids}
    assert [i for i, _ in log.seen] == [first.trace_id, *ids]
    assert writer.failures == 0


def test_one_unsavable_trace_costs_only_itself(spy: SpyStore, writers: list[TraceWriter]) -> None:
    log = SavedLog(spy)
    writer = _writer(writers, spy, addons=[log])
    first, gate = _hold(writer)
    good, bad, also_good = Flow(), Flow(), Flow()
    spy.bad_ids.add(bad.trace_id)
    for flow in (good, bad, also_good):
        writer.submit(flow)
    gate.set()
    assert writer.drain(WAIT_S)
    assert _stored_ids(spy) == {first.trace_id, good.trace_id, also_good.trace_id}
    assert [i for i, _ in log.seen] == [first.trace_id, good.trace_id, also_good.trace_id]
    assert writer.failures == 1


def test_fsync_comes_from_the_storage_config(spy: SpyStore, writers: list[TraceWriter]) -> None:
    plain = _writer(writers, spy)
    plain.submit(Flow())
    assert plain.drain(WAIT_S)
    durable = _writer(writers, spy, storage=StorageConfig(fsync=True))
    durable.submit(Flow())
    assert durable.drain(WAIT_S)
    assert spy.fsyncs == [None, True]


def test_the_store_is_pruned_every_prune_every_saves(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    storage = StorageConfig(max_traces=4, retention_days=None)
    writer = _writer(writers, spy, storage=storage, prune_every=3)
    counts = []
    for _ in range(7):
        writer.submit(Flow())
        assert writer.drain(WAIT_S)
        counts.append(len(spy.prunes))
    # Once at start, then every 3 saves.
    assert counts == [1, 1, 2, 2, 2, 3, 3]
    assert spy.prunes == [(4, None)] * 3
    assert len(_stored_ids(spy)) == 5  # pruned to 4 at the 6th save, then one more


def test_a_batch_crossing_the_cadence_prunes_once(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    writer = _writer(writers, spy, storage=StorageConfig(), prune_every=2)
    _, gate = _hold(writer)
    for _ in range(4):
        writer.submit(Flow())
    gate.set()
    assert writer.drain(WAIT_S)
    assert spy.batches[1:] and len(spy.batches[1]) == 4
    # At start, then 1 save, then 5: one boundary crossed per batch at most.
    assert len(spy.prunes) == 2


def test_no_storage_config_never_prunes(spy: SpyStore, writers: list[TraceWriter]) -> None:
    writer = _writer(writers, spy, prune_every=1)
    for _ in range(3):
        writer.submit(Flow())
    assert writer.drain(WAIT_S)
    assert spy.prunes == []


def test_a_failing_prune_is_logged_and_saving_goes_on(
    spy: SpyStore, writers: list[TraceWriter], caplog: pytest.LogCaptureFixture
) -> None:
    def broken_prune(**kwargs: Any) -> int:
        raise OSError("cannot list")

    spy.prune = broken_prune  # type: ignore[method-assign]
    writer = _writer(writers, spy, storage=StorageConfig(), prune_every=1)
    with caplog.at_level(logging.ERROR, logger="traceforge.proxy"):
        writer.submit(Flow())
        assert writer.drain(WAIT_S)
        writer.submit(flow := Flow())
        assert writer.drain(WAIT_S)
    assert flow.trace_id in _stored_ids(spy)
    # At start (before the first submit), then after each save.
    assert [r.getMessage() for r in caplog.records] == ["could not prune the store"] * 3


def test_drain_times_out_while_a_save_is_pending(spy: SpyStore, writers: list[TraceWriter]) -> None:
    writer = _writer(writers, spy)
    _, gate = _hold(writer)
    assert writer.drain(0.05) is False
    gate.set()
    assert writer.drain(WAIT_S) is True
    assert writer.drain(0) is True  # nothing pending: at once


def test_close_saves_what_is_queued_then_stops(spy: SpyStore) -> None:
    log = SavedLog(spy)
    writer = TraceWriter(spy, addons=[log])
    first, gate = _hold(writer)
    queued = [Flow() for _ in range(3)]
    for flow in queued:
        writer.submit(flow)
    closer = threading.Thread(target=writer.close)
    closer.start()
    gate.set()
    closer.join(WAIT_S)
    assert not closer.is_alive()
    assert not writer._thread.is_alive()
    assert _stored_ids(spy) == {first.trace_id, *(f.trace_id for f in queued)}
    assert len(log.seen) == 4
    writer.close()  # a second close is a no-op


def test_flows_submitted_after_close_are_not_saved(spy: SpyStore) -> None:
    writer = TraceWriter(spy)
    writer.close()
    writer.submit(Flow())
    assert writer.drain(0.05) is False
    assert _stored_ids(spy) == set()


# -- retention -----------------------------------------------------------------------------------


def test_a_small_max_traces_is_kept_after_many_saves(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    """``max_traces: 5`` once held 150 traces (a prune every 200 saves): the cadence now
    follows the limit, so after the writer drains at most 5 remain."""
    writer = _writer(writers, spy, storage=StorageConfig(max_traces=5, retention_days=None))
    most = 0
    for _ in range(15):
        for _ in range(10):
            writer.submit(Flow())
        assert writer.drain(WAIT_S)
        most = max(most, len(_stored_ids(spy)))
    assert len(_stored_ids(spy)) <= 5
    assert most <= 5


def test_the_store_is_pruned_when_the_writer_starts(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    spy.save_many([make_trace(epoch_s=1_767_225_600 + i) for i in range(10)])
    writer = _writer(writers, spy, storage=StorageConfig(max_traces=3, retention_days=None))
    assert writer.drain(WAIT_S)  # no save at all
    assert len(_stored_ids(spy)) == 3


def test_the_store_is_pruned_on_a_timer_without_saves(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    _writer(writers, spy, storage=StorageConfig(retention_days=1), prune_interval_s=0.01)
    deadline = time.monotonic() + WAIT_S
    while len(spy.prunes) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert set(spy.prunes) == {(10_000, 1)}


def test_stale_temp_files_are_removed_when_the_writer_starts(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    spy.traces_dir.mkdir(parents=True)
    stale = spy.traces_dir / f".{'ab' * 12}.{'1' * 16}.tmp"
    stale.write_bytes(b"{")
    os.utime(stale, (0, 0))
    writer = _writer(writers, spy)
    assert writer.drain(WAIT_S)
    assert not stale.exists()


# -- store faults: held in memory and retried ----------------------------------------------------


def test_a_store_fault_holds_the_traces_and_they_land_in_order_when_it_clears(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    log = SavedLog(spy)
    changes: list[tuple[str, int]] = []
    writer = _writer(
        writers,
        spy,
        addons=[log],
        retry_interval_s=3600,  # only new saves retry here
        on_health_change=lambda h: changes.append((h.status, h.unsaved_traces)),
    )
    spy.fault = OSError(errno.ENOSPC, "No space left on device")
    held = [Flow() for _ in range(3)]
    for flow in held:
        writer.submit(flow)
        assert writer.drain(WAIT_S)
    health = writer.storage_health()
    assert (health.status, health.unsaved_traces, health.dropped_traces) == ("degraded", 3, 0)
    assert health.store_error is not None and "No space" in health.store_error
    assert health.unsaved_bytes > 0
    assert log.seen == [] and _stored_ids(spy) == set()
    spy.fault = None
    writer.submit(last := Flow())
    assert writer.drain(WAIT_S)
    assert [i for i, _ in log.seen] == [f.trace_id for f in [*held, last]]
    assert all(on_disk for _, on_disk in log.seen)
    assert writer.storage_health().status == "ok"
    assert changes == [("degraded", 0), ("ok", 0)]
    assert writer.failures == 0


def test_held_traces_are_retried_by_the_timer(spy: SpyStore, writers: list[TraceWriter]) -> None:
    writer = _writer(writers, spy, retry_interval_s=0.01)
    spy.fault = OSError(errno.EROFS, "Read-only file system")
    flows = [Flow() for _ in range(4)]
    for flow in flows:
        writer.submit(flow)
    assert writer.drain(WAIT_S)
    spy.fault = None
    deadline = time.monotonic() + WAIT_S
    while writer.storage_health().unsaved_traces:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert _stored_ids(spy) == {f.trace_id for f in flows}


def test_a_full_unsaved_queue_drops_the_oldest(spy: SpyStore, writers: list[TraceWriter]) -> None:
    flows = [Flow() for _ in range(5)]
    size = max(len(encode_trace(f.trace)) for f in flows)
    writer = _writer(writers, spy, max_unsaved_bytes=size * 2, retry_interval_s=3600)
    spy.fault = OSError(errno.ENOSPC, "No space left on device")
    for flow in flows:
        writer.submit(flow)
        assert writer.drain(WAIT_S)
    health = writer.storage_health()
    assert (health.unsaved_traces, health.dropped_traces) == (2, 3)
    assert writer.failures == 3
    spy.fault = None
    writer.submit(Flow())
    assert writer.drain(WAIT_S)
    assert {f.trace_id for f in flows[3:]} <= _stored_ids(spy)
    assert not {f.trace_id for f in flows[:3]} & _stored_ids(spy)


def test_the_unsaved_queue_bound_comes_from_the_storage_config(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    writer = _writer(writers, spy, storage=StorageConfig(unsaved_queue_mb=3))
    assert writer.max_unsaved_bytes == 3 * 1024 * 1024
    assert _writer(writers, spy).max_unsaved_bytes == 64 * 1024 * 1024


def test_an_error_that_is_not_a_store_fault_is_not_held(
    spy: SpyStore, writers: list[TraceWriter]
) -> None:
    writer = _writer(writers, spy)
    spy.fault = OSError("odd failure, no errno")
    writer.submit(Flow())
    assert writer.drain(WAIT_S)
    assert writer.storage_health().unsaved_traces == 0
    assert writer.failures == 1


def test_close_tries_the_held_traces_once_more_and_logs_what_is_lost(
    spy: SpyStore, caplog: pytest.LogCaptureFixture
) -> None:
    writer = TraceWriter(spy, retry_interval_s=3600)
    spy.fault = OSError(errno.ENOSPC, "No space left on device")
    writer.submit(Flow())
    writer.submit(Flow())
    assert writer.drain(WAIT_S)
    with caplog.at_level(logging.ERROR, logger="traceforge.proxy"):
        writer.close()
    assert writer.failures == 2
    assert any("2 traces unsaved" in r.getMessage() for r in caplog.records)


def test_close_saves_the_held_traces_if_the_store_is_back(spy: SpyStore) -> None:
    writer = TraceWriter(spy, retry_interval_s=3600)
    spy.fault = OSError(errno.ENOSPC, "No space left on device")
    writer.submit(flow := Flow())
    assert writer.drain(WAIT_S)
    spy.fault = None
    writer.close()
    assert _stored_ids(spy) == {flow.trace_id}


def test_store_faults_are_told_from_faults_of_one_trace() -> None:
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13
    readonly = sqlite3.OperationalError("attempt to write a readonly database")
    readonly.sqlite_errorcode = 8
    no_table = sqlite3.OperationalError("no such table: meta")
    no_table.sqlite_errorcode = 1
    assert is_store_fault(OSError(errno.ENOSPC, "No space left on device"))
    assert is_store_fault(OSError(errno.EROFS, "Read-only file system"))
    assert is_store_fault(OSError(errno.EACCES, "Permission denied"))
    assert is_store_fault(full) and is_store_fault(readonly)
    assert not is_store_fault(no_table)
    assert not is_store_fault(OSError("no errno"))
    assert not is_store_fault(ValueError("bad trace"))

"""The trace writer, without a proxy or a socket: flows are stand-ins whose ``to_trace``
returns a prepared trace; the store is a real one in ``tmp_path``, wrapped where a test
needs to watch or break ``save_many`` / ``prune``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from traceforge_proxy.hooks import Addons
from traceforge_proxy.writer import TraceWriter
from traceforge_shared.config import StorageConfig
from traceforge_shared.store import TraceStore
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

    def save_many(self, traces: Sequence[Trace], *, fsync: bool | None = None) -> list[Path]:
        ids = [t.id for t in traces]
        self.batches.append(ids)
        self.fsyncs.append(fsync)
        if len(traces) > 1 and self.fail_batches:
            self.fail_batches -= 1
            raise OSError("disk hiccup")
        if self.bad_ids.intersection(ids):
            raise OSError("this one never saves")
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
    assert counts == [0, 0, 1, 1, 1, 2, 2]
    assert spy.prunes == [(4, None), (4, None)]
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
    assert len(spy.prunes) == 1  # 1 save, then 5: one boundary crossed per batch at most


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
    assert [r.getMessage() for r in caplog.records] == ["could not prune the store"] * 2


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

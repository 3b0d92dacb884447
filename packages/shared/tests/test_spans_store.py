"""The span store: files, index, derived spans of proxied calls, queries, retention, rebuild
and the upgrade of an index written before runs existed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from traceforge_shared.spans import RunSummary, Span, SpanProblem
from traceforge_shared.store import (
    AmbiguousRunIdError,
    RunFilter,
    RunNotFoundError,
    SessionNotFoundError,
    TraceStore,
)
from traceforge_shared.testing import make_span, make_trace
from traceforge_shared.trace import SpanContext, Trace

EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z
RUN_A = "a" * 31 + "1"
RUN_B = "b" * 31 + "2"
RUN_C = "c" * 31 + "3"


@pytest.fixture
def store(traceforge_home: Path) -> Iterator[TraceStore]:
    s = TraceStore(fsync=False)
    yield s
    s.index.close()


def agent_run(
    trace_id: str = RUN_A, *, session: str | None = "s-1", epoch_s: float = EPOCH
) -> list[Span]:
    """An agent (root) calling the model, then a tool that searched an index."""
    return [
        make_span(
            trace_id,
            "0000000000000001",
            name="invoke_agent planner",
            kind="agent",
            duration_ms=100,
            session_id=session,
            tags=["nightly"],
            epoch_s=epoch_s,
        ),
        make_span(
            trace_id,
            "0000000000000002",
            parent="0000000000000001",
            name="chat gpt-4o",
            kind="llm",
            start_ms=5,
            duration_ms=40,
            input_tokens=30,
            output_tokens=7,
            cost_usd=0.002,
            epoch_s=epoch_s,
        ),
        make_span(
            trace_id,
            "0000000000000003",
            parent="0000000000000001",
            name="execute_tool search",
            kind="tool",
            start_ms=50,
            duration_ms=30,
            status="error",
            epoch_s=epoch_s,
        ),
        make_span(
            trace_id,
            "0000000000000004",
            parent="0000000000000003",
            name="retrieve docs",
            kind="retrieval",
            start_ms=55,
            duration_ms=60,
            epoch_s=epoch_s,
        ),
    ]


def with_context(trace: Trace, trace_id: str, span_id: str, parent: str | None = None) -> Trace:
    trace.span = SpanContext(trace_id=trace_id, span_id=span_id, parent_span_id=parent)
    return trace


def test_write_then_get_run_in_tree_order(store: TraceStore) -> None:
    spans = agent_run()
    assert store.spans.write(list(reversed(spans))) == 4
    got = store.spans.get_run(RUN_A)
    assert [s.span_id[-1] for s in got] == ["1", "2", "3", "4"]
    assert got[1] == spans[1]  # every field kept
    assert got[0].start_time == "2026-01-01T00:00:00.000000Z"


def test_run_summary_sums_the_spans(store: TraceStore) -> None:
    store.spans.write(agent_run())
    (run,) = store.spans.list_runs()
    assert (run.trace_id, run.name, run.kind) == (RUN_A, "invoke_agent planner", "agent")
    assert (run.span_count, run.llm_calls, run.input_tokens, run.output_tokens) == (4, 1, 30, 7)
    assert run.cost_usd == pytest.approx(0.002)
    assert (run.status, run.error_count, run.session_id) == ("error", 1, "s-1")
    assert run.duration_ms == pytest.approx(115.0)  # the retrieval ends last, at 55 + 60 ms
    assert run.start_time == "2026-01-01T00:00:00.000000Z"
    assert store.spans.get_run_summary(RUN_A[:6]) == run


def test_one_file_per_run_per_write_and_no_temp_files(store: TraceStore) -> None:
    store.spans.write([*agent_run(RUN_A), *agent_run(RUN_B)])
    store.spans.write(agent_run(RUN_A)[:1])
    names = sorted(p.name for p in (store.home / "spans").iterdir())
    assert len(names) == 3 and not any(n.startswith(".") for n in names)
    assert sum(n.startswith(RUN_A) for n in names) == 2
    lines = (store.home / "spans" / names[-1]).read_bytes().splitlines()
    assert msgspec.json.decode(lines[0], type=Span).trace_id == RUN_B


def test_writing_a_span_again_replaces_it_also_after_a_rebuild(store: TraceStore) -> None:
    store.spans.write(agent_run())
    renamed = agent_run()[2]
    renamed.name, renamed.status = "execute_tool search v2", "ok"
    store.spans.write([renamed])
    assert store.spans.get_run(RUN_A)[2].name == "execute_tool search v2"
    assert store.spans.list_runs()[0].status == "ok"
    (store.home / "index.sqlite").unlink()
    again = TraceStore(fsync=False)
    assert again.spans.get_run(RUN_A)[2].name == "execute_tool search v2"
    assert again.spans.list_runs()[0].span_count == 4


def test_invalid_spans_write_nothing(store: TraceStore) -> None:
    good = agent_run()
    bad = make_span(RUN_A, "xyz", name="bad")
    with pytest.raises(SpanProblem, match="span_id must be 16 lower-case hex"):
        store.spans.write([*good, bad])
    with pytest.raises(SpanProblem, match="unknown kind"):
        store.spans.write([make_span(RUN_A, "00000000000000aa", kind="llm-call")])
    with pytest.raises(SpanProblem, match="end_ns is before start_ns"):
        store.spans.write([make_span(RUN_A, "00000000000000aa", duration_ms=-1)])
    assert store.spans.list_runs() == []
    assert not (store.home / "spans").exists()


def test_spans_are_redacted_before_they_reach_disk(store: TraceStore) -> None:
    secret = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2
    span = make_span(
        RUN_A,
        "00000000000000aa",
        attributes={"gen_ai.prompt": f"use {secret}", "api_key": "hunter2-long-value"},
    )
    store.spans.write([span])
    on_disk = b"".join(p.read_bytes() for p in (store.home / "spans").iterdir())
    assert secret.encode() not in on_disk and b"hunter2" not in on_disk
    (got,) = store.spans.get_run(RUN_A)
    assert got.attributes["api_key"] == "[REDACTED]"
    assert got.attributes["gen_ai.prompt"].startswith("use [")


def test_a_proxied_call_is_a_span_of_its_run(store: TraceStore) -> None:
    store.spans.write(agent_run())
    call = with_context(
        make_trace(epoch_s=EPOCH + 0.01, prompt_tokens=11, completion_tokens=4, latency_ms=20),
        RUN_A,
        "00000000000000cc",
        parent="0000000000000001",
    )
    call.session_id, call.tags = "s-1", ["proxy"]
    store.save(call)
    spans = store.spans.get_run(RUN_A)
    assert [s.span_id for s in spans][:3] == [
        "0000000000000001",
        "0000000000000002",
        "00000000000000cc",
    ]
    derived = spans[2]
    assert (derived.kind, derived.source, derived.trace_ref) == ("llm", "proxy", call.id)
    assert derived.name == "chat gpt-4o-mini"
    assert derived.duration_ms == pytest.approx(20.0)
    assert not (store.home / "spans" / f"{RUN_A}-{call.id}.jsonl").exists()  # no second file
    (run,) = store.spans.list_runs()
    assert (run.span_count, run.llm_calls, run.input_tokens) == (5, 2, 41)
    assert store.spans.list_runs(RunFilter(tag="proxy"))[0].trace_id == RUN_A
    # Deleting the trace takes its span along; the run's sums follow.
    store.delete(call.id)
    (run,) = store.spans.list_runs()
    assert (run.span_count, run.llm_calls, run.input_tokens) == (4, 1, 30)
    assert store.spans.list_runs(RunFilter(tag="proxy")) == []


def test_a_run_of_proxied_calls_only_goes_when_its_traces_go(store: TraceStore) -> None:
    trace = with_context(make_trace(epoch_s=EPOCH), RUN_B, "00000000000000dd")
    store.save(trace)
    assert store.spans.list_runs()[0].trace_id == RUN_B
    store.delete_many([trace.id])
    assert store.spans.list_runs() == []
    with pytest.raises(RunNotFoundError):
        store.spans.get_run(RUN_B)


def test_traces_without_context_make_no_span(store: TraceStore) -> None:
    store.save_many([make_trace(), make_trace()])
    assert store.spans.list_runs() == []


def test_filters_and_paging(store: TraceStore) -> None:
    store.spans.write(agent_run(RUN_A, session="s-1", epoch_s=EPOCH))
    store.spans.write(agent_run(RUN_B, session="s-2", epoch_s=EPOCH + 60)[:2])
    store.spans.write(
        [
            make_span(
                RUN_C,
                "00000000000000ee",
                name="Nightly_Eval 100%",
                kind="chain",
                epoch_s=EPOCH + 120,
                status="unset",
            )
        ]
    )

    def ids(runs: list[RunSummary]) -> list[str]:
        return [r.trace_id for r in runs]

    assert ids(store.spans.list_runs()) == [RUN_C, RUN_B, RUN_A]
    assert ids(store.spans.list_runs(limit=1, offset=1)) == [RUN_B]
    assert ids(store.spans.list_runs(RunFilter(session_id="s-2"))) == [RUN_B]
    assert ids(store.spans.list_runs(RunFilter(status="error"))) == [RUN_A]
    assert ids(store.spans.list_runs(RunFilter(status="ok"))) == [RUN_B]
    assert ids(store.spans.list_runs(RunFilter(status="unset"))) == [RUN_C]
    assert ids(store.spans.list_runs(RunFilter(kind="chain"))) == [RUN_C]
    assert ids(store.spans.list_runs(RunFilter(q="eval 100%"))) == [RUN_C]
    assert ids(store.spans.list_runs(RunFilter(q="eval_"))) == []  # _ is literal
    assert ids(store.spans.list_runs(RunFilter(tag="nightly"))) == [RUN_B, RUN_A]
    assert ids(store.spans.list_runs(RunFilter(tag="night"))) == []
    since = datetime.fromtimestamp(EPOCH + 30, UTC)
    assert ids(store.spans.list_runs(RunFilter(since=since))) == [RUN_C, RUN_B]
    assert ids(store.spans.list_runs(RunFilter(until=since.replace(tzinfo=None)))) == [RUN_A]
    assert store.spans.count_runs() == 3
    assert store.spans.count_runs(RunFilter(tag="nightly")) == 2
    with pytest.raises(ValueError, match="unknown run status"):
        RunFilter(status="failed")
    with pytest.raises(ValueError, match="unknown span kind"):
        RunFilter(kind="agents")


def test_sessions(store: TraceStore) -> None:
    store.spans.write(agent_run(RUN_A, session="s-1", epoch_s=EPOCH))
    store.spans.write(agent_run(RUN_B, session="s-1", epoch_s=EPOCH + 60))
    store.spans.write(agent_run(RUN_C, session="s-2", epoch_s=EPOCH + 30))
    store.spans.write([make_span("d" * 32, "00000000000000ff", epoch_s=EPOCH + 90)])  # none
    first, second = store.spans.list_sessions()
    assert (first.session_id, first.runs, first.calls, first.errors) == ("s-1", 2, 2, 2)
    assert (first.input_tokens, first.output_tokens) == (60, 14)
    assert first.cost_usd == pytest.approx(0.004)
    assert first.first_time == "2026-01-01T00:00:00.000000Z"
    assert first.last_time == "2026-01-01T00:01:00.115000Z"
    assert second.session_id == "s-2"
    assert [r.trace_id for r in store.spans.get_session("s-1")] == [RUN_A, RUN_B]
    since = datetime.fromtimestamp(EPOCH + 45, UTC)
    assert [s.session_id for s in store.spans.list_sessions(since=since)] == ["s-1"]
    with pytest.raises(SessionNotFoundError):
        store.spans.get_session("s-9")


@pytest.mark.parametrize("text", ["", "xyz", "../etc", "a" * 33, "1" * 5])
def test_run_ids_that_match_nothing(store: TraceStore, text: str) -> None:
    store.spans.write(agent_run())
    with pytest.raises(RunNotFoundError):
        store.spans.get_run(text)


def test_ambiguous_run_prefix(store: TraceStore) -> None:
    store.spans.write([*agent_run("ab" + "0" * 29 + "1"), *agent_run("ab" + "0" * 29 + "2")])
    with pytest.raises(AmbiguousRunIdError) as caught:
        store.spans.get_run("ab")
    assert len(caught.value.matches) == 2
    assert len(store.spans.get_run("AB" + "0" * 29 + "2")) == 4


def test_iter_spans_in_start_order(store: TraceStore) -> None:
    store.spans.write(agent_run(RUN_B, epoch_s=EPOCH + 60))
    store.spans.write(agent_run(RUN_A, epoch_s=EPOCH))
    got = list(store.spans.iter_spans())
    assert [s.start_ns for s in got] == sorted(s.start_ns for s in got)
    assert len(got) == 8
    since = int((EPOCH + 60) * 1e9)
    assert {s.trace_id for s in store.spans.iter_spans(since_ns=since)} == {RUN_B}
    assert {s.trace_id for s in store.spans.iter_spans(until_ns=since)} == {RUN_A}


def test_retention_follows_the_trace_rules(store: TraceStore) -> None:
    now = datetime.fromtimestamp(EPOCH, UTC) + timedelta(days=10)
    store.spans.write(agent_run(RUN_A, epoch_s=EPOCH))  # ten days old
    store.spans.write(agent_run(RUN_B, epoch_s=EPOCH + 9 * 86_400))
    store.spans.write(agent_run(RUN_C, epoch_s=EPOCH + 9.5 * 86_400))
    store.prune(max_traces=None, retention_days=5, now=now)
    assert [r.trace_id for r in store.spans.list_runs()] == [RUN_C, RUN_B]
    assert not any(p.name.startswith(RUN_A) for p in (store.home / "spans").iterdir())
    store.prune(max_traces=1, retention_days=None, now=now)
    assert [r.trace_id for r in store.spans.list_runs()] == [RUN_C]
    assert len(list((store.home / "spans").iterdir())) == 1


def test_rebuild_from_files(store: TraceStore) -> None:
    store.spans.write(agent_run(RUN_A))
    store.save(
        with_context(make_trace(epoch_s=EPOCH), RUN_A, "00000000000000cc", "0000000000000002")
    )
    before = store.spans.list_runs()
    assert before[0].span_count == 5
    assert store.spans.rebuild() == 5
    assert store.spans.list_runs() == before
    (store.home / "index.sqlite").unlink()
    fresh = TraceStore(fsync=False)
    assert fresh.spans.list_runs() == before
    assert [s.span_id for s in fresh.spans.get_run(RUN_A)] == [
        s.span_id for s in store.spans.get_run(RUN_A)
    ]


def test_a_span_file_removed_by_hand_is_noticed(store: TraceStore) -> None:
    store.spans.write(agent_run(RUN_A)[:2])
    store.spans.write(agent_run(RUN_A)[2:])
    first = sorted((store.home / "spans").iterdir())[0]
    first.unlink()
    spans = store.spans.get_run(RUN_A)
    assert [s.span_id[-1] for s in spans] == ["3", "4"]  # their parent is gone: 3 is a root
    assert store.spans.list_runs()[0].name == "execute_tool search"


def test_a_span_file_copied_in_by_hand_is_indexed(store: TraceStore, tmp_path: Path) -> None:
    other = TraceStore(tmp_path / "other", fsync=False)
    other.spans.write(agent_run(RUN_B))
    store.spans.write(agent_run(RUN_A))
    for path in (other.home / "spans").iterdir():
        (store.home / "spans" / path.name).write_bytes(path.read_bytes())
    assert {r.trace_id for r in store.spans.list_runs()} == {RUN_A, RUN_B}


def test_a_broken_span_line_is_skipped(store: TraceStore) -> None:
    good = msgspec.json.encode(agent_run(RUN_B)[0])
    (store.home / "spans").mkdir(parents=True)
    (store.home / "spans" / f"{RUN_B}-0001.jsonl").write_bytes(good + b"\n{not json\n")
    (store.home / "spans" / "notes.txt").write_text("not a span file")
    (run,) = store.spans.list_runs()
    assert (run.trace_id, run.span_count) == (RUN_B, 1)


def test_upgrade_of_an_index_without_span_tables(store: TraceStore) -> None:
    """An index.sqlite from before runs existed: the span tables are added, the traces are
    not re-read into the trace index, and trace files holding a span context get their spans."""
    plain = [make_trace(epoch_s=EPOCH + i) for i in range(3)]
    store.save_many(plain)
    # A trace file with a span context copied in from a newer TraceForge, indexed as a trace
    # by an older one: its span was never derived.
    newer = with_context(make_trace(epoch_s=EPOCH + 5), RUN_C, "00000000000000ab")
    store.save(newer)
    conn = sqlite3.connect(store.home / "index.sqlite")
    with conn:
        for name in ("spans", "runs", "span_segments", "runs_dirty"):
            conn.execute(f"DROP TABLE {name}")
        conn.execute("DROP TRIGGER spans_follow_traces")
        conn.execute("DELETE FROM meta WHERE key = 'spans_layout'")
    conn.close()
    calls: list[tuple[int, int]] = []
    upgraded = TraceStore(fsync=False, progress=lambda done, total: calls.append((done, total)))
    (run,) = upgraded.spans.list_runs()
    assert (run.trace_id, run.span_count) == (RUN_C, 1)
    assert calls == []  # the trace index was kept: no trace re-read into it
    assert len(upgraded.list(limit=None)) == 4
    conn = sqlite3.connect(store.home / "index.sqlite")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert {"spans", "runs", "span_segments", "runs_dirty", "spans_follow_traces"} <= tables
    upgraded.index.close()


def test_trace_files_without_the_new_fields_still_load(store: TraceStore) -> None:
    trace = make_trace()
    doc = msgspec.json.decode(msgspec.json.encode(trace))
    for key in ("session_id", "tags", "meta", "span"):
        del doc[key]
    store.traces_dir.mkdir(parents=True, exist_ok=True)
    (store.traces_dir / f"{trace.id}.json").write_bytes(msgspec.json.encode(doc))
    loaded = store.get(trace.id)
    assert (loaded.session_id, loaded.tags, loaded.meta, loaded.span) == (None, [], {}, None)


def test_a_trace_index_of_another_layout_brings_the_runs_back(store: TraceStore) -> None:
    """A new trace index layout drops the index; traces and spans come back from the files."""
    store.spans.write(agent_run(RUN_A))
    call = with_context(make_trace(epoch_s=EPOCH), RUN_A, "00000000000000cc", "0000000000000002")
    store.save(call)
    before = store.spans.list_runs()
    store.index.close()
    conn = sqlite3.connect(store.home / "index.sqlite")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    reopened = TraceStore(fsync=False)
    assert reopened.spans.list_runs() == before
    assert reopened.spans.get_run(RUN_A)[2].trace_ref == call.id
    reopened.rebuild_index()  # the trace rows go and come back: so do their spans
    assert reopened.spans.list_runs() == before
    reopened.index.close()


def test_a_trace_and_its_span_are_indexed_together(
    store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure while indexing a proxied call's span leaves neither its span nor its trace
    row: the next read indexes both from the trace file."""
    call = with_context(make_trace(epoch_s=EPOCH), RUN_B, "00000000000000dd")

    def failing(spans: object) -> object:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO runs_dirty (trace_id) VALUES ('x')")  # rolled back
            raise sqlite3.OperationalError("disk I/O error")

        return write

    monkeypatch.setattr(store.spans.index, "writer", failing)
    with pytest.raises(sqlite3.OperationalError):
        store.save(call)
    assert store.index.ids() == set()
    conn = sqlite3.connect(store.home / "index.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM runs_dirty").fetchone() == (0,)
    conn.close()
    reader = TraceStore(store.home, fsync=False)  # its own SpanStore: not patched
    assert [s.id for s in reader.list()] == [call.id]
    assert [s.trace_ref for s in reader.spans.get_run(RUN_B)] == [call.id]
    reader.index.close()

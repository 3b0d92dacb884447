"""Tests of the file-based trace store (traceforge_shared.store.TraceStore)."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

import traceforge_shared.store as store_module
from traceforge_shared.ids import utc_timestamp
from traceforge_shared.store import (
    AmbiguousTraceIdError,
    InvalidTraceIdError,
    StoreError,
    TraceFilter,
    TraceNotFoundError,
    TraceSchemaError,
    TraceStore,
)
from traceforge_shared.store.files import encode_trace, read_trace_file, write_atomic
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import (
    SCHEMA_VERSION,
    TRACE_STATUSES,
    StreamChunk,
    Trace,
    TraceError,
    TraceMetadata,
    TraceSummary,
    Usage,
    summarize,
)

BASE_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
def store(traceforge_home: Path) -> Iterator[TraceStore]:
    """A store in the test's own home (found through $TRACEFORGE_HOME)."""
    s = TraceStore(fsync=False)
    assert s.home == traceforge_home
    yield s
    s.index.close()


def with_id(trace: Trace, trace_id: str) -> Trace:
    return msgspec.structs.replace(trace, id=trace_id)


def json_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".json"))


def hidden_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def ids_of(summaries: list[TraceSummary]) -> list[str]:
    return [s.id for s in summaries]


# -- construction ------------------------------------------------------------------------------


def test_home_defaults_to_env_and_argument_wins(traceforge_home: Path, tmp_path: Path) -> None:
    assert TraceStore().home == traceforge_home
    assert TraceStore().traces_dir == traceforge_home / "traces"
    explicit = tmp_path / "explicit"
    assert TraceStore(explicit).home == explicit
    assert TraceStore(str(explicit)).traces_dir == explicit / "traces"


def test_error_hierarchy() -> None:
    for error in (AmbiguousTraceIdError, InvalidTraceIdError, TraceNotFoundError, TraceSchemaError):
        assert issubclass(error, StoreError)
    assert issubclass(InvalidTraceIdError, ValueError)
    assert issubclass(TraceNotFoundError, LookupError)
    assert issubclass(AmbiguousTraceIdError, LookupError)


# -- save / get ----------------------------------------------------------------------------------


def test_save_get_roundtrip(store: TraceStore) -> None:
    trace = make_trace(streaming=True, text="one two three", model="gpt-4o", epoch_s=BASE_EPOCH)
    path = store.save(trace)

    assert path == store.traces_dir / f"{trace.id}.json"
    assert path.is_file()
    assert json_files(store.traces_dir) == [f"{trace.id}.json"]
    on_disk = msgspec.json.decode(path.read_bytes())
    assert on_disk["id"] == trace.id
    assert on_disk["schema_version"] == SCHEMA_VERSION
    assert on_disk["model"] == "gpt-4o"
    assert [c["data"]["choices"][0]["delta"]["content"] for c in on_disk["chunks"]] == [
        "one",
        " two",
        " three",
    ]

    got = store.get(trace.id)
    assert got == trace
    assert got.timestamp == "2026-01-01T00:00:00.000000Z"
    assert len(got.chunks) == 3
    assert got.metadata.usage == Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)


def test_roundtrip_keeps_every_field(store: TraceStore) -> None:
    trace = Trace(
        id="0123456789abcdef01234567",
        timestamp=utc_timestamp(BASE_EPOCH + 0.123456),
        provider="xai",
        model="grok-3-mini",
        endpoint="/v1/chat/completions",
        request={"model": "grok-3-mini", "stream": True, "messages": []},
        response=None,
        chunks=[
            StreamChunk(
                index=0,
                delta_ms=412.5,
                offset_ms=412.5,
                data={"choices": [{"delta": {"content": "Hé ✓"}}]},
            ),
            StreamChunk(
                index=1,
                delta_ms=1.25,
                offset_ms=413.75,
                raw="[DONE]",
                event="done",
                forwarded=False,
            ),
        ],
        metadata=TraceMetadata(
            status="upstream_error",
            status_code=502,
            method="POST",
            latency_ms=999.5,
            streaming=True,
            first_chunk_latency_ms=412.5,
            stream_duration_ms=1.25,
            total_chunks=1,
            chunks_received=2,
            chunks_buffered=2,
            warnings=["chunk cap reached"],
            usage=None,
            cost_usd=0.0042,
            error=TraceError(type="upstream_disconnected", message="the upstream hung up"),
            redacted_fields=["request_headers.authorization"],
            upstream_url="https://api.x.ai/v1/chat/completions",
            request_headers={"authorization": "[REDACTED]"},
            response_headers={"content-type": "text/event-stream"},
        ),
    )
    store.save(trace)
    got = store.get(trace.id)
    assert got == trace
    assert got.chunks[1].forwarded is False
    assert got.chunks[0].data["choices"][0]["delta"]["content"] == "Hé ✓"
    assert got.metadata.error == TraceError(
        type="upstream_disconnected", message="the upstream hung up"
    )
    [summary] = store.list()
    assert summary.status == "upstream_error"
    assert summary.status_code == 502
    assert summary.provider == "xai"
    assert summary.streaming is True
    assert summary.latency_ms == 999.5
    assert summary.first_chunk_latency_ms == 412.5
    assert (summary.prompt_tokens, summary.completion_tokens, summary.total_tokens) == (0, 0, 0)
    assert summary.cost_usd == 0.0042
    assert summary.timestamp == "2026-01-01T00:00:00.123456Z"


def test_save_again_replaces_the_trace(store: TraceStore) -> None:
    trace = make_trace(model="first")
    store.save(trace)
    store.save(msgspec.structs.replace(trace, model="second"))
    assert json_files(store.traces_dir) == [f"{trace.id}.json"]
    assert store.get(trace.id).model == "second"
    assert [s.model for s in store.list()] == ["second"]
    assert store.count() == 1


def test_get_accepts_upper_case_and_whitespace(store: TraceStore) -> None:
    trace = with_id(make_trace(), "abcdef0123456789abcdef01")
    store.save(trace)
    assert store.get(" ABCDEF0123456789ABCDEF01 ").id == trace.id
    assert store.get("ABCDEF").id == trace.id


# -- ids and prefixes --------------------------------------------------------------------------


@pytest.fixture
def three(store: TraceStore) -> list[Trace]:
    traces = [
        with_id(make_trace(epoch_s=BASE_EPOCH + 1), "aaaa1111" + "0" * 16),
        with_id(make_trace(epoch_s=BASE_EPOCH + 2), "aaaa2222" + "0" * 16),
        with_id(make_trace(epoch_s=BASE_EPOCH + 3), "bbbb3333" + "0" * 16),
    ]
    for trace in traces:
        store.save(trace)
    return traces


def test_get_by_unique_prefix(store: TraceStore, three: list[Trace]) -> None:
    assert store.get("aaaa1").id == three[0].id
    assert store.get("aaaa2222").id == three[1].id
    assert store.get("b") == three[2]
    assert store.resolve_id("bbbb") == three[2].id
    assert store.get(three[1].id) == three[1]


@pytest.mark.parametrize("prefix", ["a", "aaaa", "AAAA"])
def test_ambiguous_prefix(store: TraceStore, three: list[Trace], prefix: str) -> None:
    with pytest.raises(AmbiguousTraceIdError) as info:
        store.get(prefix)
    assert info.value.matches == [three[0].id, three[1].id]
    message = str(info.value)
    assert repr(prefix) in message
    assert three[0].id in message
    assert three[1].id in message
    assert "and more" not in message
    with pytest.raises(AmbiguousTraceIdError):
        store.delete(prefix)
    assert store.count() == 3


@pytest.mark.parametrize("text", ["c", "aaaa3", "aaaa1111" + "0" * 16 + "1", "0" * 32])
def test_unknown_id_raises_not_found(store: TraceStore, three: list[Trace], text: str) -> None:
    with pytest.raises(TraceNotFoundError, match="no trace with id or prefix"):
        store.get(text)
    with pytest.raises(TraceNotFoundError):
        store.delete(text)
    assert store.count() == 3


def test_not_found_in_empty_store(store: TraceStore) -> None:
    assert not store.traces_dir.exists()
    with pytest.raises(TraceNotFoundError):
        store.get("abc")
    assert store.list() == []
    assert store.count() == 0


INVALID_IDS = [
    "../etc/passwd",
    "/abs",
    "..%2f",
    "ZZ",
    "",
    "   ",
    "..",
    ".",
    "a/b",
    "a\\b",
    "abc.json",
    "0x1f",
    "ab cd",
    "a" * 33,
    "abc\x00",
    "~",
    "\uff41\uff42",  # full-width "ab"
    "\u0661\u0662",  # Arabic-Indic digits
]


@pytest.mark.parametrize("text", INVALID_IDS)
def test_invalid_ids_are_refused(store: TraceStore, three: list[Trace], text: str) -> None:
    with pytest.raises(InvalidTraceIdError):
        store.get(text)
    with pytest.raises(InvalidTraceIdError):
        store.resolve_id(text)
    with pytest.raises(InvalidTraceIdError):
        store.delete(text)
    with pytest.raises(InvalidTraceIdError):
        store.path_for(text)
    assert store.count() == 3


@pytest.mark.parametrize("bad_id", ["abc\n", "abc\r\n", "\nabc", "abc "])
def test_ids_with_surrounding_whitespace_cannot_be_saved(store: TraceStore, bad_id: str) -> None:
    # resolve_id strips what a user types, but a stored id must be exactly hex.
    with pytest.raises(InvalidTraceIdError):
        store.path_for(bad_id)
    with pytest.raises(InvalidTraceIdError):
        store.save(with_id(make_trace(), bad_id))
    assert not store.traces_dir.exists() or os.listdir(store.traces_dir) == []


def test_path_traversal_is_refused_on_save_and_get(store: TraceStore, tmp_path: Path) -> None:
    # A readable trace file outside the traces directory must stay unreachable.
    outside = make_trace()
    (store.home).mkdir(parents=True, exist_ok=True)
    (store.home / "secret.json").write_bytes(encode_trace(outside))
    (tmp_path / "passwd.json").write_bytes(encode_trace(outside))
    for text in ("../secret", "../../passwd", str(tmp_path / "passwd"), "..%2fsecret"):
        with pytest.raises(InvalidTraceIdError):
            store.get(text)
    for bad_id in ("../evil", "/tmp/evil", "EVIL", "..%2fevil"):
        with pytest.raises(InvalidTraceIdError):
            store.save(with_id(make_trace(), bad_id))
    assert sorted(p.name for p in tmp_path.rglob("*evil*")) == []
    assert (store.home / "secret.json").read_bytes() == encode_trace(outside)
    assert store.count() == 0


# -- delete --------------------------------------------------------------------------------------


def test_delete(store: TraceStore, three: list[Trace]) -> None:
    assert store.delete("aaaa2") == three[1].id
    assert not (store.traces_dir / f"{three[1].id}.json").exists()
    assert json_files(store.traces_dir) == [f"{three[0].id}.json", f"{three[2].id}.json"]
    with pytest.raises(TraceNotFoundError):
        store.get(three[1].id)
    with pytest.raises(TraceNotFoundError):
        store.delete(three[1].id)
    # the prefix that was ambiguous is now unique
    assert store.get("aaaa").id == three[0].id
    assert ids_of(store.list()) == [three[2].id, three[0].id]
    assert store.count() == 2
    assert store.delete(three[2].id) == three[2].id
    assert ids_of(store.list()) == [three[0].id]


def test_get_after_file_unlinked_by_hand(store: TraceStore, three: list[Trace]) -> None:
    (store.traces_dir / f"{three[2].id}.json").unlink()
    with pytest.raises(TraceNotFoundError):
        store.get("bbbb")
    assert store.count() == 2


# -- list ----------------------------------------------------------------------------------------


def test_list_newest_first_with_limit_and_offset(store: TraceStore) -> None:
    traces = [make_trace(epoch_s=BASE_EPOCH + 60 * i, model=f"m{i}") for i in range(10)]
    shuffled = traces[:]
    random.Random(1234).shuffle(shuffled)
    for trace in shuffled:
        store.save(trace)
    newest_first = [t.id for t in reversed(traces)]

    assert ids_of(store.list()) == newest_first
    assert ids_of(store.list(limit=None)) == newest_first
    assert ids_of(store.list(limit=3)) == newest_first[:3]
    assert ids_of(store.list(limit=3, offset=3)) == newest_first[3:6]
    assert ids_of(store.list(limit=3, offset=9)) == newest_first[9:]
    assert store.list(limit=3, offset=10) == []
    assert ids_of(store.list(limit=None, offset=0)) == newest_first
    assert store.list(limit=0) == []
    timestamps = [s.timestamp for s in store.list(limit=None)]
    assert timestamps == sorted(timestamps, reverse=True)
    assert timestamps[0] == "2026-01-01T00:09:00.000000Z"

    newest = store.list(limit=1)[0]
    assert newest.model == "m9"
    assert newest.provider == "openai"
    assert newest.endpoint == "/v1/chat/completions"
    assert newest.status == "success"
    assert newest.status_code == 200
    assert newest.streaming is False
    assert newest.latency_ms == 123.0
    assert newest.first_chunk_latency_ms is None
    assert (newest.prompt_tokens, newest.completion_tokens, newest.total_tokens) == (10, 5, 15)
    assert newest.cost_usd is None


def test_list_default_limit_is_50(store: TraceStore) -> None:
    for i in range(55):
        store.save(make_trace(epoch_s=BASE_EPOCH + i))
    assert len(store.list()) == 50
    assert len(store.list(limit=None)) == 55
    assert store.count() == 55
    assert len(store.list(offset=50)) == 5


@pytest.fixture
def varied(store: TraceStore) -> dict[str, Trace]:
    traces = {
        "t1": make_trace(
            model="gpt-4o", provider="openai", status="success", streaming=False, epoch_s=BASE_EPOCH
        ),
        "t2": make_trace(
            model="gpt-4o-mini",
            provider="openai",
            status="error",
            status_code=429,
            streaming=True,
            epoch_s=BASE_EPOCH + 100,
        ),
        "t3": make_trace(
            model="grok-3-mini",
            provider="xai",
            status="upstream_error",
            status_code=502,
            streaming=True,
            epoch_s=BASE_EPOCH + 200,
        ),
        "t4": make_trace(
            model="gpt-4o-mini",
            provider="openai",
            status="client_disconnected",
            status_code=0,
            streaming=False,
            epoch_s=BASE_EPOCH + 300,
        ),
    }
    for trace in traces.values():
        store.save(trace)
    return traces


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(BASE_EPOCH + seconds, tz=UTC)


PLUS_TWO = timezone(timedelta(hours=2))

FILTER_CASES = [
    ({}, ["t4", "t3", "t2", "t1"]),
    ({"model": "gpt-4o-mini"}, ["t4", "t2"]),
    ({"model": "gpt-4o"}, ["t1"]),
    ({"model": "gpt"}, []),
    ({"provider": "xai"}, ["t3"]),
    ({"provider": "openai"}, ["t4", "t2", "t1"]),
    ({"status": "success"}, ["t1"]),
    ({"status": "error"}, ["t2"]),
    ({"status": "upstream_error"}, ["t3"]),
    ({"status": "client_disconnected"}, ["t4"]),
    ({"streaming": True}, ["t3", "t2"]),
    ({"streaming": False}, ["t4", "t1"]),
    ({"since": _at(100)}, ["t4", "t3", "t2"]),  # inclusive
    ({"since": _at(100.000001)}, ["t4", "t3"]),
    ({"until": _at(200)}, ["t2", "t1"]),  # exclusive
    ({"since": _at(50), "until": _at(250)}, ["t3", "t2"]),
    ({"since": _at(100).replace(tzinfo=None)}, ["t4", "t3", "t2"]),  # naive means UTC
    ({"since": _at(100).astimezone(PLUS_TWO)}, ["t4", "t3", "t2"]),  # converted to UTC
    ({"until": _at(300).astimezone(PLUS_TWO)}, ["t3", "t2", "t1"]),
    ({"since": _at(301)}, []),
    ({"model": "gpt-4o-mini", "streaming": True}, ["t2"]),
    ({"provider": "openai", "status": "upstream_error"}, []),
    ({"provider": "openai", "since": _at(1), "streaming": False}, ["t4"]),
]


@pytest.mark.parametrize(("kwargs", "expected"), FILTER_CASES)
def test_filters(
    store: TraceStore, varied: dict[str, Trace], kwargs: dict[str, object], expected: list[str]
) -> None:
    filters = TraceFilter(**kwargs)  # type: ignore[arg-type]
    assert ids_of(store.list(filters, limit=None)) == [varied[name].id for name in expected]
    assert store.count(filters) == len(expected)
    assert [t.id for t in store.iter_traces(filters)] == [varied[n].id for n in expected]


def test_filters_combine_with_paging(store: TraceStore, varied: dict[str, Trace]) -> None:
    filters = TraceFilter(provider="openai")
    assert ids_of(store.list(filters, limit=1, offset=1)) == [varied["t2"].id]


@pytest.mark.parametrize("status", ["ok", "SUCCESS", "", "failed"])
def test_unknown_status_raises_value_error(status: str) -> None:
    with pytest.raises(ValueError, match="unknown status") as info:
        TraceFilter(status=status)
    for known in TRACE_STATUSES:
        assert known in str(info.value)


@pytest.mark.parametrize("status", TRACE_STATUSES)
def test_known_statuses_are_accepted(status: str) -> None:
    assert TraceFilter(status=status).sql() == ("status = ?", [status])


# -- atomic writes -----------------------------------------------------------------------------


def test_concurrent_saves_are_atomic(traceforge_home: Path) -> None:
    store = TraceStore(fsync=True)
    traces = [make_trace(epoch_s=BASE_EPOCH + i, text=f"trace number {i}") for i in range(100)]
    start = threading.Barrier(100, timeout=30)

    def save(trace: Trace) -> Path:
        start.wait()  # every thread writes at the same moment
        try:
            return store.save(trace)
        finally:
            store.index.close()

    with ThreadPoolExecutor(max_workers=100) as pool:
        paths = list(pool.map(save, traces))

    assert sorted(paths) == sorted(store.traces_dir / f"{t.id}.json" for t in traces)
    assert json_files(store.traces_dir) == sorted(f"{t.id}.json" for t in traces)
    assert hidden_files(store.traces_dir) == []
    assert sorted(os.listdir(store.traces_dir)) == json_files(store.traces_dir)
    by_id = {t.id: t for t in traces}
    for path in store.traces_dir.iterdir():
        assert read_trace_file(path) == by_id[path.stem]
    listed = store.list(limit=None)
    assert len(listed) == 100
    assert ids_of(listed) == [t.id for t in reversed(traces)]
    assert store.count() == 100
    store.index.close()

    fresh = TraceStore()  # another reader on the same home sees the same
    assert len(fresh.list(limit=None)) == 100
    fresh.index.close()


def test_concurrent_saves_of_one_id_leave_one_whole_file(store: TraceStore) -> None:
    base = make_trace()
    versions = [msgspec.structs.replace(base, model=f"model-{i}") for i in range(40)]
    start = threading.Barrier(len(versions), timeout=30)

    def save(trace: Trace) -> None:
        start.wait()
        try:
            store.save(trace)
        finally:
            store.index.close()

    with ThreadPoolExecutor(max_workers=len(versions)) as pool:
        list(pool.map(save, versions))

    assert os.listdir(store.traces_dir) == [f"{base.id}.json"]
    assert store.get(base.id) in versions
    assert store.count() == 1


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_failed_write_leaves_nothing(
    traceforge_home: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    store = TraceStore(fsync=True)
    trace = make_trace()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if failing == "write":
        monkeypatch.setattr(store_module, "encode_trace", lambda t: _Unwritable())
    else:
        monkeypatch.setattr(os, failing, boom)
    with pytest.raises((OSError, TypeError)):
        store.save(trace)
    monkeypatch.undo()

    assert os.listdir(store.traces_dir) == []
    assert not (store.traces_dir / f"{trace.id}.json").exists()
    assert store.list() == []
    with pytest.raises(TraceNotFoundError):
        store.get(trace.id)
    store.index.close()


class _Unwritable:
    """Not bytes: ``fh.write`` fails after the temp file was created."""


def test_failed_replace_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "abc.json"
    target.write_bytes(b"old contents\n")

    def boom(src: object, dst: object) -> None:
        assert Path(str(src)).name.startswith(".abc.")
        assert Path(str(src)).read_bytes() == b"new contents\n"
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(PermissionError):
        write_atomic(target, b"new contents\n", fsync=False)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["abc.json"]
    assert target.read_bytes() == b"old contents\n"

    write_atomic(target, b"new contents\n", fsync=True)
    assert os.listdir(tmp_path) == ["abc.json"]
    assert target.read_bytes() == b"new contents\n"


def test_keyboard_interrupt_during_write_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "abc.json", b"data", fsync=True)
    assert os.listdir(tmp_path) == []


# -- the index is a cache ---------------------------------------------------------------------


def _delete_index_files(home: Path) -> None:
    for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
        (home / name).unlink(missing_ok=True)
    assert not any(p.name.startswith("index.sqlite") for p in home.iterdir())


@pytest.mark.parametrize("same_instance", [True, False])
def test_index_rebuilt_after_deleting_it(
    store: TraceStore, three: list[Trace], same_instance: bool
) -> None:
    assert ids_of(store.list()) == [t.id for t in reversed(three)]
    store.index.close()
    _delete_index_files(store.home)

    reader = store if same_instance else TraceStore(fsync=False)
    assert ids_of(reader.list()) == [t.id for t in reversed(three)]
    assert (store.home / "index.sqlite").exists()
    assert reader.count() == 3
    assert reader.get("bbbb") == three[2]
    with pytest.raises(AmbiguousTraceIdError):
        reader.get("aaaa")
    reader.index.close()


def test_index_of_another_layout_version_is_rebuilt(store: TraceStore, three: list[Trace]) -> None:
    store.list()
    store.index.close()
    conn = sqlite3.connect(store.home / "index.sqlite")
    conn.execute("DELETE FROM traces")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()

    reader = TraceStore(fsync=False)
    assert ids_of(reader.list()) == [t.id for t in reversed(three)]
    reader.index.close()


def test_list_reflects_files_added_and_removed_by_hand(
    store: TraceStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_trace(epoch_s=BASE_EPOCH, model="saved")
    store.save(first)
    assert ids_of(store.list()) == [first.id]

    parses: list[Path] = []
    real_read = read_trace_file  # the function store_module.read_trace_file is

    def counting_read(path: Path) -> Trace:
        parses.append(path)
        return real_read(path)

    monkeypatch.setattr(store_module, "read_trace_file", counting_read)
    assert ids_of(store.list()) == [first.id]
    assert parses == []  # nothing changed: listing parses no file

    # A trace written by another store (another process, a backup) copied in by hand.
    other = TraceStore(tmp_path / "elsewhere", fsync=False)
    copied = make_trace(epoch_s=BASE_EPOCH + 10, model="copied")
    shutil.copyfile(other.save(copied), store.traces_dir / f"{copied.id}.json")
    other.index.close()

    assert ids_of(store.list()) == [copied.id, first.id]
    assert parses == [store.traces_dir / f"{copied.id}.json"]  # only the new file is parsed
    assert store.get(copied.id[:10]).model == "copied"
    assert store.count(TraceFilter(model="copied")) == 1

    # Files the store must ignore: temp files, other extensions.
    (store.traces_dir / f".{copied.id}.x.tmp").write_bytes(b"partial")
    (store.traces_dir / f".{'e' * 24}.json").write_bytes(encode_trace(make_trace()))
    (store.traces_dir / "notes.txt").write_text("hello")
    assert store.count() == 2

    # Removed by hand.
    (store.traces_dir / f"{first.id}.json").unlink()
    assert ids_of(store.list()) == [copied.id]
    assert store.count() == 1
    with pytest.raises(TraceNotFoundError):
        store.get(first.id)

    # Another store instance (e.g. the proxy process) saves; this one sees it.
    writer = TraceStore(fsync=False)
    late = make_trace(epoch_s=BASE_EPOCH + 20, model="late")
    writer.save(late)
    writer.index.close()
    assert ids_of(store.list()) == [late.id, copied.id]


def test_rebuild_index(store: TraceStore, three: list[Trace]) -> None:
    assert store.count() == 3
    # Make the index lie: a row with no file, a file with no row.
    ghost = with_id(make_trace(epoch_s=BASE_EPOCH + 99), "cccc" + "0" * 20)
    store.index.put([summarize(ghost)])
    store.index.remove([three[0].id])
    assert set(ids_of(store.list())) == {ghost.id, three[1].id, three[2].id}  # index is trusted

    assert store.rebuild_index() == 3
    assert ids_of(store.list()) == [t.id for t in reversed(three)]
    with pytest.raises(TraceNotFoundError):
        store.get("cccc")


def test_rebuild_index_counts_only_readable_traces(store: TraceStore, three: list[Trace]) -> None:
    (store.traces_dir / ("dddd" + "0" * 20 + ".json")).write_bytes(b"\x00\xffnot json")
    assert store.rebuild_index() == 3
    assert store.count() == 3


def test_rebuild_index_of_empty_store(store: TraceStore) -> None:
    assert store.rebuild_index() == 0
    assert store.list() == []


# -- prune ---------------------------------------------------------------------------------------


def test_prune_by_max_traces(store: TraceStore) -> None:
    traces = [make_trace(epoch_s=BASE_EPOCH + i) for i in range(10)]
    for trace in traces:
        store.save(trace)
    assert store.prune(max_traces=4, retention_days=None) == 6
    kept = [t.id for t in reversed(traces[6:])]
    assert ids_of(store.list()) == kept
    assert json_files(store.traces_dir) == sorted(f"{i}.json" for i in kept)
    assert store.prune(max_traces=4, retention_days=None) == 0
    assert store.prune(max_traces=10, retention_days=None) == 0
    assert store.count() == 4


def test_prune_by_retention_days(store: TraceStore) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    ages_days = [40, 31, 30, 29, 1, 0]
    traces = [make_trace(epoch_s=(now - timedelta(days=d)).timestamp()) for d in ages_days]
    for trace in traces:
        store.save(trace)

    assert store.prune(max_traces=None, retention_days=30, now=now) == 2
    # exactly 30 days old is kept (strictly older goes)
    assert ids_of(store.list()) == [t.id for t in reversed(traces[2:])]
    for trace in traces[:2]:
        assert not (store.traces_dir / f"{trace.id}.json").exists()
    assert store.prune(max_traces=None, retention_days=1, now=now) == 2
    assert ids_of(store.list()) == [traces[5].id, traces[4].id]


def test_prune_naive_now_is_utc(store: TraceStore) -> None:
    now = datetime(2026, 3, 1, 12, 0)
    old = make_trace(epoch_s=datetime(2026, 2, 28, 11, 0, tzinfo=UTC).timestamp())
    new = make_trace(epoch_s=datetime(2026, 2, 28, 13, 0, tzinfo=UTC).timestamp())
    store.save(old)
    store.save(new)
    assert store.prune(max_traces=None, retention_days=1, now=now) == 1
    assert ids_of(store.list()) == [new.id]


def test_prune_default_now_is_current_time(store: TraceStore) -> None:
    recent = make_trace()  # now
    ancient = make_trace(epoch_s=BASE_EPOCH - 400 * 86400)
    store.save(recent)
    store.save(ancient)
    assert store.prune(max_traces=None, retention_days=365) == 1
    assert ids_of(store.list()) == [recent.id]


def test_prune_both_limits_counts_each_trace_once(store: TraceStore) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    traces = [make_trace(epoch_s=(now - timedelta(days=d)).timestamp()) for d in (40, 35, 10, 5, 1)]
    for trace in traces:
        store.save(trace)
    assert store.prune(max_traces=2, retention_days=30, now=now) == 3
    assert ids_of(store.list()) == [traces[4].id, traces[3].id]
    assert len(json_files(store.traces_dir)) == 2


def test_prune_nothing(store: TraceStore, three: list[Trace]) -> None:
    assert store.prune(max_traces=None, retention_days=None) == 0
    assert store.count() == 3


# -- corrupt files -------------------------------------------------------------------------------


CORRUPT_ID = "deadbeef" + "0" * 16

CORRUPTIONS = {
    "garbage": b"\x00\xff\xfe garbage \x80\x81{",
    "empty": b"",
    "truncated": encode_trace(make_trace(epoch_s=BASE_EPOCH))[:150],
    "array": b"[1, 2, 3]\n",
    "missing-fields": b'{"schema_version": 1, "id": "deadbeef"}\n',
    "wrong-type": b'{"schema_version": 1, "id": 5, "timestamp": "t", "provider": "p",'
    b' "model": "m", "endpoint": "/e"}\n',
}


@pytest.mark.parametrize("content", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupt_file_skipped_by_list_and_get_raises(
    store: TraceStore, three: list[Trace], content: bytes
) -> None:
    path = store.traces_dir / f"{CORRUPT_ID}.json"
    path.write_bytes(content)

    assert ids_of(store.list()) == [t.id for t in reversed(three)]
    assert store.count() == 3
    assert [t.id for t in store.iter_traces()] == [t.id for t in reversed(three)]
    with pytest.raises(TraceSchemaError) as info:
        store.get(CORRUPT_ID)
    assert str(path) in str(info.value)
    with pytest.raises(TraceSchemaError):
        read_trace_file(path)

    # Once the file is replaced by a good trace, it is listed.
    good = with_id(make_trace(epoch_s=BASE_EPOCH + 50), CORRUPT_ID)
    store.save(good)
    assert ids_of(store.list())[0] == CORRUPT_ID
    assert store.get(CORRUPT_ID) == good


def test_save_many_indexes_a_batch(store: TraceStore) -> None:
    traces = [make_trace(text=f"answer {i}", epoch_s=1_700_000_000 + i) for i in range(5)]
    paths = store.save_many(traces, fsync=False)
    assert [p.name for p in paths] == [f"{t.id}.json" for t in traces]
    assert [s.id for s in store.list(limit=None)] == [t.id for t in reversed(traces)]
    assert store.index.get_meta("traces_dir_mtime_ns") == str(store.traces_dir.stat().st_mtime_ns)


def test_save_many_indexes_what_it_wrote_before_a_failure(
    store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    traces = [make_trace(epoch_s=1_700_000_000 + i) for i in range(3)]
    real = write_atomic  # the function store_module.write_atomic is

    def failing(path: Path, data: bytes, *, fsync: bool = True) -> None:
        if path.stem == traces[2].id:
            raise OSError(28, "No space left on device")
        real(path, data, fsync=fsync)

    monkeypatch.setattr(store_module, "write_atomic", failing)
    with pytest.raises(OSError, match="No space"):
        store.save_many(traces)
    assert {s.id for s in store.list(limit=None)} == {traces[0].id, traces[1].id}


def test_a_crash_between_writing_and_indexing_is_seen_on_the_next_read(
    store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory's mtime may not move (coarse timestamps): the "saving" mark left by a
    save that never indexed its file makes the next reader rescan anyway."""
    first = make_trace(epoch_s=1_700_000_000)
    store.save(first)
    assert len(store.list()) == 1  # the index is in sync with the directory
    before = store.traces_dir.stat().st_mtime_ns
    assert store.index.get_meta("traces_dir_mtime_ns") == str(before)

    def crash(entries: object, **_: object) -> None:
        raise KeyboardInterrupt  # the process dies after the file, before the index

    monkeypatch.setattr(store.index, "put", crash)
    lost = make_trace(epoch_s=1_700_000_001)
    with pytest.raises(KeyboardInterrupt):
        store.save(lost)
    monkeypatch.undo()
    os.utime(store.traces_dir, ns=(before, before))  # same tick as before the crash
    reader = TraceStore(store.home)
    assert [s.id for s in reader.list(limit=None)] == [lost.id, first.id]

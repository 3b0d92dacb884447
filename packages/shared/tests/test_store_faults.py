"""The trace store under faults: a corrupt or replaced index, stray entries in ``traces/``,
temp files left by a killed writer, and a store that cannot be written."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

import traceforge_shared.store as store_module
from traceforge_shared.store import StoreProblem, TraceNotFoundError, TraceSchemaError, TraceStore
from traceforge_shared.store.files import encode_trace, remove_stale_temp_files, write_temp
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

BASE_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
def store(traceforge_home: Path) -> Iterator[TraceStore]:
    s = TraceStore(fsync=False)
    yield s
    s.index.close()


def _saved(store: TraceStore, count: int) -> list[Trace]:
    traces = [make_trace(epoch_s=BASE_EPOCH + i) for i in range(count)]
    store.save_many(traces)
    return traces


def _ids(store: TraceStore) -> set[str]:
    return {s.id for s in store.list(limit=None)}


def _checkpoint_and_close(store: TraceStore) -> Path:
    """Put every index page in ``index.sqlite`` itself and close: the file is the index."""
    store.index.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.index.close()
    return store.index.path


# -- a corrupt index -----------------------------------------------------------------------------

DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "garbage": lambda data: os.urandom(len(data)),
    "text": lambda data: b"this is not a database\n" * 50,
    "truncated-half": lambda data: data[: len(data) // 2],
    "truncated-header": lambda data: data[:60],
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_corrupt_index_is_moved_aside_and_rebuilt_at_open(
    store: TraceStore, damage: Callable[[bytes], bytes], caplog: pytest.LogCaptureFixture
) -> None:
    traces = _saved(store, 300)
    path = _checkpoint_and_close(store)
    path.write_bytes(damage(path.read_bytes()))

    reader = TraceStore(store.home)
    with caplog.at_level(logging.WARNING, logger="traceforge.store"):
        assert _ids(reader) == {t.id for t in traces}
    assert reader.get(traces[0].id) == traces[0]
    aside = [p.name for p in store.home.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].startswith("index.sqlite.corrupt-")
    assert any("corrupt" in r.getMessage() for r in caplog.records)
    reader.index.close()


def test_a_corrupt_index_does_not_lose_a_trace_saved_through_it(store: TraceStore) -> None:
    """The first use after the damage is a save: the trace lands and so do the older ones."""
    old = _saved(store, 50)
    path = _checkpoint_and_close(store)
    path.write_bytes(b"\x00" * 4096)
    new = make_trace(epoch_s=BASE_EPOCH + 100)
    writer = TraceStore(store.home)
    writer.save(new)
    assert _ids(TraceStore(store.home)) == {t.id for t in [*old, new]}
    writer.index.close()


def test_an_index_replaced_while_open_is_reopened_and_healed(store: TraceStore) -> None:
    old = _saved(store, 5)
    _checkpoint_and_close(store)
    store.index.connection()  # open again, like a running proxy
    broken = store.home / "broken"
    broken.write_bytes(b"garbage " * 1000)
    os.replace(broken, store.index.path)  # a new inode behind the open connection
    new = make_trace(epoch_s=BASE_EPOCH + 10)
    store.save(new)
    assert _ids(store) == {t.id for t in [*old, new]}
    assert _ids(TraceStore(store.home)) == {t.id for t in [*old, new]}


def test_an_index_deleted_while_open_is_recreated(store: TraceStore) -> None:
    old = _saved(store, 3)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{store.index.path}{suffix}")
    assert _ids(store) == {t.id for t in old}
    assert store.index.path.is_file()


def test_corruption_found_mid_use_is_healed_and_the_call_answered(store: TraceStore) -> None:
    """The store's connection is open (page cache warm) when the file is damaged in place:
    the next call hits SQLITE_CORRUPT/NOTADB on a live connection, heals and answers."""
    traces = _saved(store, 200)
    assert store.count() == 200
    other = sqlite3.connect(store.index.path, isolation_level=None)
    other.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('x', 'y')")
    other.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # and the store's cache is now stale
    other.close()
    path = store.index.path
    path.write_bytes(b"\xff" * path.stat().st_size)  # same inode, garbage pages
    assert store.count() == 200
    assert _ids(store) == {t.id for t in traces}
    assert [p.name for p in store.home.iterdir() if ".corrupt-" in p.name][:1]


# -- stray entries in traces/ --------------------------------------------------------------------

HEX_ID = "abcdef01" * 3


def _make_strays(store: TraceStore) -> dict[str, str]:
    """Create one of each kind of stray entry; returns name → expected reason fragment."""
    d = store.traces_dir
    (d / "x.json").mkdir()
    (d / f"{HEX_ID}.json").mkdir()  # a directory with a trace id's name
    (d / "notes.txt").write_text("my notes\n")
    (d / "readme.json").write_text("{}\n")
    (d / ("deadbeef" * 3 + ".json")).write_bytes(b"\x00\xffgarbage{")
    (d / ".DS_Store").write_bytes(b"\x00")  # hidden: never a problem
    return {
        "x.json": "directory",
        f"{HEX_ID}.json": "directory",
        "notes.txt": "not a trace file",
        "readme.json": "not a trace file name",
        "deadbeef" * 3 + ".json": "not valid JSON",
    }


def test_stray_entries_never_break_list_get_or_rebuild(
    store: TraceStore, caplog: pytest.LogCaptureFixture
) -> None:
    traces = _saved(store, 3)
    expected = _make_strays(store)
    with caplog.at_level(logging.WARNING, logger="traceforge.store"):
        assert _ids(store) == {t.id for t in traces}
        assert store.count() == 3
        assert [t.id for t in store.iter_traces()] == [t.id for t in reversed(traces)]
        assert store.rebuild_index() == 3
        assert store.get(traces[1].id[:8]) == traces[1]
        with pytest.raises(TraceNotFoundError):
            store.get(HEX_ID)  # a directory, not a trace
        with pytest.raises(TraceSchemaError):
            store.get("deadbeef" * 3)
        assert store.prune(max_traces=2, retention_days=None) == 1
        problems = store.problems()
    assert [p.path.name for p in problems] == sorted(expected)
    for problem in problems:
        assert isinstance(problem, StoreProblem)
        assert problem.path == store.traces_dir / problem.path.name
        assert expected[problem.path.name] in problem.reason
    # Logged once each, though the directory was rescanned several times.
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipping")]
    assert len(warnings) == len(expected)
    # Another process sees the same list without rescanning.
    assert TraceStore(store.home).problems() == problems


def test_problems_clear_when_the_strays_go(store: TraceStore) -> None:
    _saved(store, 1)
    (store.traces_dir / "x.json").mkdir()
    assert [p.path.name for p in store.problems()] == ["x.json"]
    (store.traces_dir / "x.json").rmdir()
    assert store.problems() == []


def test_a_trace_file_garbled_after_it_was_indexed_is_skipped_by_iter_traces(
    store: TraceStore,
) -> None:
    traces = _saved(store, 2)
    store.path_for(traces[0].id).write_bytes(b"\x00\x01")
    assert [t.id for t in store.iter_traces()] == [traces[1].id]


# -- temp files left by a kill -------------------------------------------------------------------


def _temp(directory: Path, age_s: float) -> Path:
    path = directory / f".{'ab' * 12}.{os.urandom(8).hex()}.tmp"
    path.write_bytes(encode_trace(make_trace())[:40])
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_stale_temp_files_are_removed_and_a_live_writers_kept(store: TraceStore) -> None:
    store.traces_dir.mkdir(parents=True)
    old = _temp(store.traces_dir, 3600)
    orphan = _temp(store.traces_dir, 5)  # recent, but no writer holds it
    fresh = _temp(store.traces_dir, 0)  # just created: may be a writer about to lock it
    live = _temp(store.traces_dir, 5)
    other = store.traces_dir / ".DS_Store"
    other.write_bytes(b"x")
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a concurrent writer (another process) holds it
        assert store.remove_stale_temp_files() == 2
        assert not old.exists() and not orphan.exists()
        assert fresh.exists() and live.exists() and other.exists()
    finally:
        os.close(fd)
    assert store.remove_stale_temp_files() == 1  # the writer is gone now
    assert not live.exists() and fresh.exists()


def test_a_writers_temp_file_is_locked_while_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long write: the cleaner, run meanwhile, keeps the temp file."""
    seen: list[list[Path]] = []
    real_write = os.write

    def slow_write(fd: int, data: bytes | memoryview) -> int:
        tmp = next(tmp_path.glob(".*.tmp"))
        old = time.time() - 30
        os.utime(tmp, (old, old))  # as if it had been written for 30 s
        seen.append(remove_stale_temp_files(tmp_path))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", slow_write)
    tmp = write_temp(tmp_path / "t.json", b"data", fsync=False)
    monkeypatch.undo()
    assert seen == [[]]
    assert tmp.read_bytes() == b"data"


def test_missing_traces_directory_has_no_temp_files(store: TraceStore) -> None:
    assert store.remove_stale_temp_files() == 0


# -- writability -----------------------------------------------------------------------------------


def test_check_writable(store: TraceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    assert store.check_writable() is None  # no home yet: nothing to say
    _saved(store, 1)
    mtime = store.traces_dir.stat().st_mtime_ns
    assert store.check_writable() is None
    assert [p.name for p in store.traces_dir.iterdir()] == [f"{_saved_id(store)}.json"]
    assert not [p for p in store.home.iterdir() if p.name.endswith(".tmp")]
    assert store.traces_dir.stat().st_mtime_ns == mtime  # the index need not rescan

    def read_only(path: Path, data: bytes, **kwargs: object) -> Path:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(store_module, "write_temp", read_only)
    problem = store.check_writable()
    assert problem is not None and "Read-only file system" in problem


def _saved_id(store: TraceStore) -> str:
    (summary,) = store.list()
    return summary.id


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only dirs")
def test_check_writable_on_a_real_read_only_directory(store: TraceStore) -> None:
    _saved(store, 1)
    store.traces_dir.chmod(0o500)
    try:
        assert "permission denied" in (store.check_writable() or "").lower()
    finally:
        store.traces_dir.chmod(0o700)


def test_concurrent_readers_heal_a_corrupt_index_once(store: TraceStore) -> None:
    traces = _saved(store, 20)
    path = _checkpoint_and_close(store)
    path.write_bytes(b"garbage" * 1000)
    shared = TraceStore(store.home)
    results: list[set[str]] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            results.append(_ids(shared))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [{t.id for t in traces}] * 4
    aside = [p for p in store.home.iterdir() if ".corrupt-" in p.name and "-wal" not in p.name]
    assert len(aside) == 1


def test_problem_list_is_plain_json_in_the_index(store: TraceStore) -> None:
    _saved(store, 1)
    (store.traces_dir / "x.json").mkdir()
    store.problems()
    raw = store.index.get_meta("stray_entries")
    assert raw is not None
    assert msgspec.json.decode(raw) == [["x.json", "a directory, not a trace file"]]

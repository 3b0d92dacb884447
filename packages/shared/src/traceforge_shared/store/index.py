"""The store's derived index: one SQLite row per trace file, so listing never parses files.

The index is a cache. The trace files are the truth: the index is rebuilt from them when it is
missing, when its layout (``PRAGMA user_version``) differs from :data:`INDEX_VERSION`, or
reconciled when the traces directory changed behind the store's back (files added or removed
by hand or by another process).

A corrupt index (garbage bytes, a truncated file: SQLite's ``SQLITE_CORRUPT`` or
``SQLITE_NOTADB``), found when it is opened or while it is used, is moved aside to
``index.sqlite.corrupt-<UTC timestamp>`` and a new, empty one is created in its place; the store
then fills it from the trace files (:attr:`TraceIndex.created`). An index file replaced behind
an open connection (a new inode) is reopened on the next use.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, ParamSpec, TypeVar

from traceforge_shared.trace import Trace, TraceSummary, response_text

log = logging.getLogger("traceforge.store")

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: SQLite result codes meaning the database file itself is damaged.
_CORRUPT_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


def is_corruption(exc: BaseException) -> bool:
    """Whether ``exc`` says the index file is damaged (not merely locked, full or read-only)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.DatabaseError)
        and code is not None
        and code & 0xFF in (_CORRUPT_CODES)
    )


def _healing(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run an index method; if the index file turns out corrupt, move it aside, open a new
    one and run the method once more (outermost call only: nested calls just raise)."""

    @functools.wraps(method)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        index = args[0]
        assert isinstance(index, TraceIndex)
        local = index._local
        depth = getattr(local, "depth", 0)
        local.depth = depth + 1
        try:
            return method(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if depth or not is_corruption(exc) or index._bulk:
                raise
            index.heal(exc)
            return method(*args, **kwargs)
        finally:
            local.depth = depth

    return run


#: Layout version of the index. Bump it when the table changes: old indexes are then dropped
#: and rebuilt from the trace files (the index holds nothing that is not in them).
#:
#: 2: ``search_text`` column (full-text filter ``TraceFilter.q``); secondary indexes for
#: filtered lists and analytics (:data:`_INDEXES`).
INDEX_VERSION = 2

#: Most characters of searchable text kept per trace (:func:`search_text`).
SEARCH_TEXT_MAX_CHARS = 8192

COLUMNS: tuple[str, ...] = (
    "id",
    "timestamp",
    "provider",
    "model",
    "endpoint",
    "status",
    "status_code",
    "streaming",
    "latency_ms",
    "first_chunk_latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS traces (
    id TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    status TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    streaming INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    first_chunk_latency_ms REAL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    cost_usd REAL,
    search_text TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = {INDEX_VERSION};
"""

#: The secondary indexes of the traces table. Each leads with a column the store filters on
#: and then the time, so a filtered list walks one of them newest first, and analytics
#: counts per model/provider/status and its percentiles walk them in order (no sort);
#: ``traces_stats`` covers the totals and the timeline, so they never read the rows (which
#: hold the search text). Dropped during bulk loads (:meth:`TraceIndex.bulk_load`).
_INDEXES: dict[str, str] = {
    "traces_by_time": "traces (timestamp DESC, id DESC)",
    "traces_by_model": "traces (model, timestamp)",
    "traces_by_provider": "traces (provider, timestamp)",
    "traces_by_status": "traces (status, timestamp)",
    "traces_by_latency": "traces (latency_ms, timestamp)",
    "traces_stats": (
        "traces (timestamp, status, latency_ms, prompt_tokens, completion_tokens,"
        " total_tokens, cost_usd)"
    ),
}

_INSERT = (
    f"INSERT OR REPLACE INTO traces ({', '.join(COLUMNS)}, search_text) "
    f"VALUES ({', '.join('?' for _ in COLUMNS)}, ?)"
)

#: What :meth:`TraceIndex.put` takes per trace: its summary and its :func:`search_text`.
IndexEntry = tuple[TraceSummary, str]


def search_text(trace: Trace) -> str:
    """Return the text ``TraceFilter.q`` searches in for ``trace``, lower-cased.

    That is the answer (:func:`~traceforge_shared.trace.response_text`) and the text of every
    request message (``request["messages"][*]["content"]``: strings, or the ``text`` of content
    parts), at most :data:`SEARCH_TEXT_MAX_CHARS` characters in all. When it must cut, it keeps
    the answer (at least half the room) and the newest messages, and drops the oldest (a long
    system prompt or history) first. Pieces are joined with newlines.
    """
    cap = SEARCH_TEXT_MAX_CHARS
    answer = response_text(trace)[:cap].lower()
    pieces: list[str] = []
    room = cap
    for text in reversed(_message_texts(trace.request)):
        if room <= 0:
            break
        pieces.append(text[:room].lower())
        room -= len(pieces[-1]) + 1
    request = "\n".join(pieces)
    if not request:
        return answer[:cap]
    answer = answer[: max(cap // 2, cap - len(request) - 1)]
    request = request[: cap - len(answer) - 1]
    return f"{answer}\n{request}" if answer else request


def _message_texts(request: Any) -> list[str]:
    messages = request.get("messages") if isinstance(request, dict) else None
    if not isinstance(messages, list):
        return []
    texts: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            if content:
                texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                part["text"]
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]
            )
    return texts


def like_substring(text: str) -> str:
    """Return a ``LIKE ... ESCAPE '\\'`` pattern matching values that contain ``text``
    (lower-cased; ``%``, ``_`` and ``\\`` taken literally)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _row(entry: TraceSummary | IndexEntry) -> tuple[Any, ...]:
    summary, text = (entry, "") if isinstance(entry, TraceSummary) else entry
    return (*(getattr(summary, name) for name in COLUMNS), text)


def _summary(row: Sequence[Any]) -> TraceSummary:
    values = dict(zip(COLUMNS, row, strict=True))
    values["streaming"] = bool(values["streaming"])
    return TraceSummary(**values)


class TraceIndex:
    """SQLite index of trace summaries at ``path``; safe to share between threads.

    Each thread gets its own connection; writes from several processes are serialised by
    SQLite (WAL mode, 10 s busy timeout).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._heal_lock = threading.Lock()
        self.created = False
        self._bulk = False

    def connection(self) -> sqlite3.Connection:
        """Return this thread's connection, creating the index (or resetting an index of
        another layout version) on first use, and reopening it when the file was replaced
        or deleted since.

        Raises:
            sqlite3.Error: the index cannot be opened (a corrupt one is healed first, see the
                module docstring; this is then e.g. a read-only or full disk).
        """
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            if self._same_file():
                return conn
            self.close()  # replaced or deleted behind this connection: open the new one
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            self.heal(exc)
            return self._open()

    def _same_file(self) -> bool:
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == getattr(self._local, "file_id", None)

    def _file_id(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local.file_id = self._file_id()
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._local.file_id = self._file_id()
        self._local.conn = conn
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        # WAL is a property of the database file: set it once. Switching the journal mode
        # takes an exclusive lock without waiting on the busy timeout, so many connections
        # opening a new index at once would fail with "database is locked": retry.
        for attempt in range(100):
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.01 * (1 + attempt % 10))
        conn.execute("PRAGMA synchronous=NORMAL")
        if conn.execute("PRAGMA user_version").fetchone()[0] != INDEX_VERSION:
            # Several threads or processes may open a new index at once: check again under
            # the write lock, so one creates it and none drops a table another just filled.
            with _transaction(conn):
                if conn.execute("PRAGMA user_version").fetchone()[0] != INDEX_VERSION:
                    conn.execute("DROP TABLE IF EXISTS traces")
                    conn.execute("DROP TABLE IF EXISTS meta")
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    self.created = True
                    self._create_indexes(conn)
        if not self.created and not self._bulk and self._missing_indexes(conn):
            self._create_indexes(conn)  # a bulk load was cut short (crash, kill)
        # A garbage or truncated file may pass the lines above (SQLite reads lazily): read
        # the schema so damage shows here, where it is healed, rather than mid-query.
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()

    def heal(self, exc: BaseException) -> Path | None:
        """Move the corrupt index file aside (``index.sqlite.corrupt-<timestamp>``, with its
        ``-wal``; the ``-shm`` is deleted) so the next use creates a new one; returns where
        it went (``None``: another thread or process already moved it).

        Raises:
            exc: the file cannot be moved (e.g. a read-only directory).
        """
        seen = getattr(self._local, "file_id", None)
        self.close()
        with self._heal_lock:
            now = self._file_id()
            if now is None or (seen is not None and now != seen):
                return None  # gone, or already replaced by a new index
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            try:
                os.replace(self.path, aside)
            except OSError as move_error:
                log.error(
                    "the index %s is corrupt and cannot be moved aside: %s", self.path, move_error
                )
                raise exc from move_error
            wal = self.path.with_name(self.path.name + "-wal")
            with contextlib.suppress(OSError):
                os.replace(wal, aside.with_name(aside.name + "-wal"))
            with contextlib.suppress(OSError):
                os.unlink(self.path.with_name(self.path.name + "-shm"))
        log.warning(
            "the trace index was corrupt (%s): moved it to %s; rebuilding it from the trace files",
            exc,
            aside.name,
        )
        return aside

    def _missing_indexes(self, conn: sqlite3.Connection) -> bool:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        return not set(_INDEXES) <= {row[0] for row in rows}

    def _create_indexes(self, conn: sqlite3.Connection) -> None:
        with _transaction(conn):
            for name, on in _INDEXES.items():
                conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Drop the secondary indexes while many rows are put, and build them again at the
        end (even on error): sorting once is much cheaper than updating every index per row
        (100,000 rows in random time order: 14 s with the indexes, under 4 s without).
        Meanwhile readers still get right answers, by scanning. Nested use is a no-op.
        """
        if self._bulk:
            yield
            return
        conn = self.connection()
        self._bulk = True
        try:
            with _transaction(conn):
                for name in _INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
            yield
        finally:
            self._bulk = False
            self._create_indexes(conn)

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            self._local.conn = None

    def put(self, entries: Iterable[IndexEntry | TraceSummary]) -> None:
        """Insert or replace rows: ``(summary, search_text)`` pairs (see :func:`search_text`);
        a bare summary is indexed with no searchable text."""
        self._put([_row(e) for e in entries])

    @_healing
    def _put(self, rows: list[tuple[Any, ...]]) -> None:
        conn = self.connection()
        with _transaction(conn):
            conn.executemany(_INSERT, rows)

    def remove(self, ids: Iterable[str]) -> None:
        """Remove rows by id (missing ids are ignored)."""
        self._remove([(i,) for i in ids])

    @_healing
    def _remove(self, rows: list[tuple[str]]) -> None:
        conn = self.connection()
        with _transaction(conn):
            conn.executemany("DELETE FROM traces WHERE id = ?", rows)

    @_healing
    def ids(self) -> set[str]:
        """Return every indexed id."""
        return {row[0] for row in self.connection().execute("SELECT id FROM traces")}

    @_healing
    def ids_with_prefix(self, prefix: str, limit: int = 10) -> list[str]:
        """Return up to ``limit`` indexed ids starting with ``prefix`` (lower-case hex)."""
        upper = prefix + "g"  # 'g' sorts after every hex digit
        rows = self.connection().execute(
            "SELECT id FROM traces WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, upper, limit),
        )
        return [row[0] for row in rows]

    @_healing
    def get_meta(self, key: str) -> str | None:
        """Return a bookkeeping value."""
        row = self.connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @_healing
    def set_meta(
        self, key: str, value: str, *, expected: str | None = None, only_if_expected: bool = False
    ) -> bool:
        """Set a bookkeeping value; with ``only_if_expected``, only if it currently equals
        ``expected`` (compare-and-set). Returns whether it was set."""
        conn = self.connection()
        with _transaction(conn):
            if only_if_expected and self.get_meta(key) != expected:
                return False
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return True

    @_healing
    def query(
        self,
        where: str,
        params: Sequence[Any],
        *,
        limit: int | None,
        offset: int = 0,
        order: str = "timestamp DESC, id DESC",
        scan: bool = False,
    ) -> list[TraceSummary]:
        """Return summaries matching an SQL ``where`` clause built by the store.

        ``scan``: read the table in storage order and sort the matches, rather than walk the
        time index (the planner's choice). Walking the index stops early when matches are
        many, but visits the rows in time order, which after an index rebuild is random order
        on disk: for a text search matching few of 100,000 traces, 200-300 ms against 20-40 ms
        for the scan (``bench/store_scale.py``).
        """
        sql = f"SELECT {', '.join(COLUMNS)} FROM traces" + (" NOT INDEXED" if scan else "")
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {order}"
        args = list(params)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        return [_summary(row) for row in self.connection().execute(sql, args)]

    @_healing
    def count(self, where: str = "", params: Sequence[Any] = (), *, scan: bool = False) -> int:
        """Return how many rows match (``scan``: as for :meth:`query`)."""
        sql = "SELECT COUNT(*) FROM traces" + (" NOT INDEXED" if scan else "")
        sql += f" WHERE {where}" if where else ""
        return int(self.connection().execute(sql, list(params)).fetchone()[0])

    # -- aggregates (traceforge_shared.analytics) ------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run the queries inside in one read transaction, so they all see the same rows
        (writers are not blocked: WAL). Nested use is a no-op."""
        conn = self.connection()
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):  # closed by a heal meanwhile
                conn.execute("COMMIT")

    @_healing
    def totals(
        self, where: str, params: Sequence[Any], *, recent_since: str, recent_until: str
    ) -> IndexTotals:
        """Return the totals of the rows matching ``where`` (see :class:`IndexTotals`);
        ``recent`` counts those with ``recent_since <= timestamp <= recent_until``."""
        sql = (
            "SELECT COUNT(*), COALESCE(SUM(status = 'success'), 0),"
            " COALESCE(SUM(timestamp >= ? AND timestamp <= ?), 0), AVG(latency_ms),"
            " COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),"
            " COALESCE(SUM(total_tokens), 0), SUM(cost_usd), MIN(timestamp), MAX(timestamp)"
            " FROM traces" + (f" WHERE {where}" if where else "")
        )
        row = self.connection().execute(sql, [recent_since, recent_until, *params]).fetchone()
        return IndexTotals(*row)

    @_healing
    def values_at_offsets(
        self, column: str, where: str, params: Sequence[Any], offsets: Sequence[int]
    ) -> list[Any]:
        """Return, for each 0-based offset, the value of ``column`` at that position of the
        matching rows sorted ascending by it (``None`` past the end)."""
        _check_column(column)
        sql = (
            f"SELECT {column} FROM traces"
            + (f" WHERE {where}" if where else "")
            + f" ORDER BY {column} LIMIT 1 OFFSET ?"
        )
        conn = self.connection()
        values: list[Any] = []
        for offset in offsets:
            row = conn.execute(sql, [*params, offset]).fetchone()
            values.append(None if row is None else row[0])
        return values

    @_healing
    def counts_by(self, column: str, where: str, params: Sequence[Any]) -> list[tuple[Any, int]]:
        """Return ``(value, count)`` of ``column`` over the matching rows, most frequent
        first (ties by value)."""
        _check_column(column)
        sql = (
            f"SELECT {column}, COUNT(*) AS n FROM traces"
            + (f" WHERE {where}" if where else "")
            + f" GROUP BY {column} ORDER BY n DESC, {column}"
        )
        return [(row[0], int(row[1])) for row in self.connection().execute(sql, list(params))]

    @_healing
    def counts_in_ranges(
        self, bounds: Sequence[str], where: str, params: Sequence[Any]
    ) -> list[tuple[int, int]]:
        """Return ``(count, errors)`` of the matching rows in each timestamp range
        ``[bounds[i], bounds[i + 1])``; ``errors`` counts rows whose status is not
        ``success``. One indexed range query per range (cheaper than grouping and sorting
        every row by a bucket key)."""
        sql = (
            "SELECT COUNT(*), COALESCE(SUM(status != 'success'), 0) FROM traces"
            " WHERE timestamp >= ? AND timestamp < ?" + (f" AND {where}" if where else "")
        )
        conn = self.connection()
        out: list[tuple[int, int]] = []
        for lo, hi in itertools.pairwise(bounds):
            count, errors = conn.execute(sql, [lo, hi, *params]).fetchone()
            out.append((int(count), int(errors)))
        return out


class IndexTotals(NamedTuple):
    """Totals over index rows (:meth:`TraceIndex.totals`).

    Attributes:
        rows: rows.
        successes: rows whose status is ``success``.
        recent: rows in the ``recent_*`` range asked for.
        latency_ms_avg: mean ``latency_ms``; ``None`` without rows.
        prompt_tokens, completion_tokens, total_tokens: sums (0 without rows).
        cost_usd: sum of the known costs; ``None`` when no row has one.
        first, last: earliest and latest timestamp; ``None`` without rows.
    """

    rows: int
    successes: int
    recent: int
    latency_ms_avg: float | None
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float | None
    first: str | None
    last: str | None


def _check_column(column: str) -> None:
    if column not in COLUMNS:
        raise ValueError(f"not an index column: {column!r}")


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit
    connection; nested use is a no-op."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.outer = False

    def __enter__(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self.outer = True

    def __exit__(self, exc_type: object, *_: object) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.conn.execute("COMMIT")
            return
        with contextlib.suppress(sqlite3.Error):  # e.g. already rolled back by SQLite
            self.conn.execute("ROLLBACK")

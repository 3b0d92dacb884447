"""The store's derived index: one SQLite row per trace file, so listing never parses files.

The index is a cache. The trace files are the truth: the index is rebuilt from them when it is
missing, when its layout (``PRAGMA user_version``) differs from :data:`INDEX_VERSION`, or
reconciled when the traces directory changed behind the store's back (files added or removed
by hand or by another process).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from traceforge_shared.trace import TraceSummary

#: Layout version of the index. Bump it when the table changes: old indexes are then dropped
#: and rebuilt from the trace files (the index holds nothing that is not in them).
INDEX_VERSION = 1

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
    cost_usd REAL
);
CREATE INDEX IF NOT EXISTS traces_by_time ON traces (timestamp DESC, id DESC);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = {INDEX_VERSION};
"""

_INSERT = (
    f"INSERT OR REPLACE INTO traces ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)


def _row(summary: TraceSummary) -> tuple[Any, ...]:
    return tuple(getattr(summary, name) for name in COLUMNS)


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
        self.created = False

    def connection(self) -> sqlite3.Connection:
        """Return this thread's connection, creating the index (or resetting an index of
        another layout version) on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
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
        self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def put(self, summaries: Iterable[TraceSummary]) -> None:
        """Insert or replace rows."""
        conn = self.connection()
        with _transaction(conn):
            conn.executemany(_INSERT, [_row(s) for s in summaries])

    def remove(self, ids: Iterable[str]) -> None:
        """Remove rows by id (missing ids are ignored)."""
        conn = self.connection()
        with _transaction(conn):
            conn.executemany("DELETE FROM traces WHERE id = ?", [(i,) for i in ids])

    def ids(self) -> set[str]:
        """Return every indexed id."""
        return {row[0] for row in self.connection().execute("SELECT id FROM traces")}

    def ids_with_prefix(self, prefix: str, limit: int = 10) -> list[str]:
        """Return up to ``limit`` indexed ids starting with ``prefix`` (lower-case hex)."""
        upper = prefix + "g"  # 'g' sorts after every hex digit
        rows = self.connection().execute(
            "SELECT id FROM traces WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, upper, limit),
        )
        return [row[0] for row in rows]

    def get_meta(self, key: str) -> str | None:
        """Return a bookkeeping value."""
        row = self.connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

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

    def query(
        self,
        where: str,
        params: Sequence[Any],
        *,
        limit: int | None,
        offset: int = 0,
        order: str = "timestamp DESC, id DESC",
    ) -> list[TraceSummary]:
        """Return summaries matching an SQL ``where`` clause built by the store."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM traces"
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {order}"
        args = list(params)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        return [_summary(row) for row in self.connection().execute(sql, args)]

    def count(self, where: str = "", params: Sequence[Any] = ()) -> int:
        """Return how many rows match."""
        sql = "SELECT COUNT(*) FROM traces" + (f" WHERE {where}" if where else "")
        return int(self.connection().execute(sql, list(params)).fetchone()[0])


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
        if self.outer:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")

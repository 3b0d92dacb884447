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

from traceforge_shared.store.search import SEARCH_COLUMNS, SearchFields, SearchQuery
from traceforge_shared.trace import TraceSummary

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
#: and rebuilt from the trace files (the index holds nothing that is not in them), which the
#: store reports through its progress callback (:class:`~traceforge_shared.store.TraceStore`).
#:
#: 2: ``search_text`` column (full-text filter ``TraceFilter.q``); secondary indexes for
#: filtered lists and analytics (:data:`_INDEXES`).
#: 3: full-text search: ``request_text``, ``response_text``, ``error_text`` columns (case kept,
#: :func:`~traceforge_shared.store.search.search_fields`) replace ``search_text``, and the FTS5
#: table ``traces_fts`` (trigram tokenizer) over them, the model and the endpoint is kept in
#: sync by triggers in the same transaction as every write.
#: 4: ``route``, ``session_id``, ``tags`` (comma-joined) and ``source`` columns (filters
#: ``route:``, ``session:``, ``tag:``, ``source:`` of :mod:`traceforge_shared.views.filters`).
#: 5: ``request_key`` column and its index ``traces_by_request_key``: the recorded call's
#: request key (:func:`~traceforge_shared.cassettes.from_trace.trace_request_key`), so
#: ``traceforge test run --replay`` finds a test's recording with one indexed query. Older
#: indexes are rebuilt from the trace files, which fills it.
INDEX_VERSION = 5

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
    "route",
    "session_id",
    "tags",
    "source",
)

#: Above this many matches, :meth:`TraceIndex.search` gives up bm25 ranking (it scores every
#: match: ~0.75 s for 100,000) and returns hits newest first.
RANKED_MATCHES_MAX = 2_000

#: Weights of the FTS columns in the ``bm25`` rank of :meth:`TraceIndex.search` (model,
#: endpoint, request, response, error): a term in the conversation counts most.
_BM25_WEIGHTS = (0.5, 0.2, 1.0, 1.0, 1.0)

_FTS_COLUMNS = ", ".join(SEARCH_COLUMNS)


def _fts_values(row: str) -> str:
    return ", ".join(f"{row}.{column}" for column in SEARCH_COLUMNS)


#: The index's tables, one statement each. The FTS5 table is an external-content table
#: (https://sqlite.org/fts5.html#external_content_tables): its text lives in ``traces`` only,
#: and the triggers of :data:`_TRIGGERS` update it in the same transaction as every insert,
#: update and delete of a row.
_SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS traces (
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
    route TEXT NOT NULL DEFAULT 'openai',
    session_id TEXT,
    tags TEXT NOT NULL DEFAULT '',
    source TEXT,
    request_key TEXT,
    request_text TEXT NOT NULL DEFAULT '',
    response_text TEXT NOT NULL DEFAULT '',
    error_text TEXT NOT NULL DEFAULT ''
)""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS traces_fts USING fts5(
    {_FTS_COLUMNS}, content='traces', content_rowid='rowid', tokenize='trigram'
)""",
    # The rank ORDER BY rank uses (https://sqlite.org/fts5.html#the_rank_configuration_option).
    "INSERT INTO traces_fts (traces_fts, rank) VALUES"
    f" ('rank', 'bm25({', '.join(str(w) for w in _BM25_WEIGHTS)})')",
    f"PRAGMA user_version = {INDEX_VERSION}",
)

#: The triggers that keep ``traces_fts`` in step with ``traces`` (SQLite's documented pattern
#: for external-content tables), by name. Dropped during bulk loads.
_TRIGGERS: dict[str, str] = {
    "traces_fts_insert": f"""CREATE TRIGGER IF NOT EXISTS traces_fts_insert AFTER INSERT ON traces
BEGIN
    INSERT INTO traces_fts (rowid, {_FTS_COLUMNS}) VALUES (new.rowid, {_fts_values("new")});
END""",
    "traces_fts_delete": f"""CREATE TRIGGER IF NOT EXISTS traces_fts_delete AFTER DELETE ON traces
BEGIN
    INSERT INTO traces_fts (traces_fts, rowid, {_FTS_COLUMNS})
    VALUES ('delete', old.rowid, {_fts_values("old")});
END""",
    "traces_fts_update": f"""CREATE TRIGGER IF NOT EXISTS traces_fts_update AFTER UPDATE ON traces
BEGIN
    INSERT INTO traces_fts (traces_fts, rowid, {_FTS_COLUMNS})
    VALUES ('delete', old.rowid, {_fts_values("old")});
    INSERT INTO traces_fts (rowid, {_FTS_COLUMNS}) VALUES (new.rowid, {_fts_values("new")});
END""",
}

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
    "traces_by_request_key": "traces (request_key, status, timestamp)",
    "traces_stats": (
        "traces (timestamp, status, latency_ms, prompt_tokens, completion_tokens,"
        " total_tokens, cost_usd)"
    ),
}

_TEXT_COLUMNS = ("request_text", "response_text", "error_text")
#: Columns written but not summarized: the searchable text, then the request key.
_WRITTEN_COLUMNS = (*_TEXT_COLUMNS, "request_key")

# An upsert, not INSERT OR REPLACE: REPLACE deletes the old row without firing the delete
# trigger (unless recursive_triggers is on), which would leave its text in the FTS table.
_INSERT = (
    f"INSERT INTO traces ({', '.join((*COLUMNS, *_WRITTEN_COLUMNS))}) "
    f"VALUES ({', '.join('?' for _ in (*COLUMNS, *_WRITTEN_COLUMNS))}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*COLUMNS[1:], *_WRITTEN_COLUMNS))
)

#: What :meth:`TraceIndex.put` takes per trace: its summary, its searchable text and
#: optionally its request key (``None``: not a recording, e.g. a replayed call).
IndexEntry = tuple[TraceSummary, SearchFields] | tuple[TraceSummary, SearchFields, str | None]


class SearchHit(NamedTuple):
    """One result of :meth:`TraceIndex.search`.

    Attributes:
        summary: the trace's index row.
        snippet: the best-matching piece of its text, the matches between the markers asked
            for, ``…`` where text was cut.
        score: its ``bm25`` score (lower is better; ``0.0`` when only short terms matched).
    """

    summary: TraceSummary
    snippet: str
    score: float


_NO_TEXT = SearchFields("", "", "")


def _row(entry: TraceSummary | IndexEntry) -> tuple[Any, ...]:
    summary, text = (entry, _NO_TEXT) if isinstance(entry, TraceSummary) else entry[:2]
    key = entry[2] if isinstance(entry, tuple) and len(entry) > 2 else None
    values = [getattr(summary, name) for name in COLUMNS]
    values[_TAGS] = ",".join(summary.tags)
    return (*values, *text, key)


_TAGS = COLUMNS.index("tags")


def _summary(row: Sequence[Any]) -> TraceSummary:
    values = dict(zip(COLUMNS, row, strict=True))
    values["streaming"] = bool(values["streaming"])
    values["tags"] = values["tags"].split(",") if values["tags"] else []
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
                    conn.execute("DROP TABLE IF EXISTS traces_fts")
                    conn.execute("DROP TABLE IF EXISTS traces")  # its triggers go with it
                    conn.execute("DROP TABLE IF EXISTS meta")
                    for statement in _SCHEMA:
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
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')")
        return not {*_INDEXES, *_TRIGGERS} <= {row[0] for row in rows}

    def _create_indexes(self, conn: sqlite3.Connection) -> None:
        """Create the secondary indexes and, if they are missing, the full-text triggers,
        after filling the FTS table from the rows in one pass (FTS5 ``rebuild``)."""
        with _transaction(conn):
            for name, on in _INDEXES.items():
                conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            if not set(_TRIGGERS) <= {row[0] for row in rows}:
                conn.execute("INSERT INTO traces_fts (traces_fts) VALUES ('rebuild')")
                for statement in _TRIGGERS.values():
                    conn.execute(statement)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Drop the secondary indexes and the full-text triggers while many rows are put,
        and build them again at the end (even on error): sorting once is much cheaper than
        updating every index per row (100,000 rows in random time order: 14 s with the
        indexes, under 4 s without), and one FTS5 ``rebuild`` than a trigger per row (10,000
        rows: 0.8 s against 7.6 s). Meanwhile readers still get right lists, by scanning, but
        a text search may miss the rows put so far. Nested use is a no-op.
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
                for name in _TRIGGERS:
                    conn.execute(f"DROP TRIGGER IF EXISTS {name}")
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

    def put(
        self,
        entries: Iterable[IndexEntry | TraceSummary],
        *,
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """Insert or replace rows: ``(summary, fields)`` pairs (see
        :func:`~traceforge_shared.store.search.search_fields`); a bare summary is indexed
        with no searchable text but its model and endpoint. The FTS table follows in the
        same transaction (triggers). ``also`` makes more writes in that transaction, given
        the connection (the spans of proxied calls, :mod:`~traceforge_shared.store.spans`)."""
        self._put([_row(e) for e in entries], also)

    @_healing
    def _put(
        self, rows: list[tuple[Any, ...]], also: Callable[[sqlite3.Connection], None] | None
    ) -> None:
        conn = self.connection()
        with _transaction(conn):
            if also is not None:
                also(conn)
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

    @_healing
    def search(
        self,
        query: SearchQuery,
        where: str = "",
        params: Sequence[Any] = (),
        *,
        limit: int,
        markers: tuple[str, str] = ("[", "]"),
        snippet_chars: int = 64,
    ) -> list[SearchHit]:
        """Return the rows matching every term of ``query`` (and ``where``), best first:
        ranked by ``bm25`` over the FTS columns (weights :data:`_BM25_WEIGHTS`), then newest
        first; a query of short terms only, or one with more than :data:`RANKED_MATCHES_MAX`
        matches, is ordered newest first (score 0.0).

        Args:
            query: the parsed query (:func:`~traceforge_shared.store.search.parse_query`);
                no terms: no hits.
            where, params: a further condition on ``traces`` (the store's filters).
            limit: at most this many hits.
            markers: put around each match in the snippet.
            snippet_chars: about how many characters of text each snippet holds (1-64: FTS5
                counts trigram tokens, one per character).
        """
        if not query.terms:
            return []
        match = query.match()
        short_where, short_params = SearchQuery(query.short).sql()
        clauses = [c for c in (where, short_where) if c]
        cols = ", ".join(f"traces.{c}" for c in COLUMNS)
        conn = self.connection()
        # bm25 scores every match before ORDER BY rank can take the top k: ~0.75 s for a
        # word in each of 100,000 traces. Past RANKED_MATCHES_MAX matches, hits come newest
        # first (the FTS rowid order, which is the save order) with a score of 0.0.
        many = match is not None and self._matches_at_least(conn, match, RANKED_MATCHES_MAX)
        if match is not None and not clauses:
            # Only the FTS table: its own top-k by rank, then the rows of the k hits.
            ranked = conn.execute(
                "SELECT rowid, 0.0 FROM traces_fts WHERE traces_fts MATCH ?"
                " ORDER BY rowid DESC LIMIT ?"
                if many
                else "SELECT rowid, rank FROM traces_fts WHERE traces_fts MATCH ?"
                " ORDER BY rank LIMIT ?",
                (match, limit),
            ).fetchall()
            score = {int(r[0]): float(r[1]) for r in ranked}
            marks = ", ".join("?" for _ in ranked)
            found = conn.execute(
                f"SELECT {cols}, traces.rowid FROM traces WHERE traces.rowid IN ({marks})",
                list(score),
            ).fetchall()
            rows = sorted(
                ((*row, score[row[-1]]) for row in found),
                key=lambda row: (row[-1], _Desc(row[1]), _Desc(row[0])),
            )
        else:
            args: list[Any] = []
            if match is None:
                sql = f"SELECT {cols}, traces.rowid, 0.0 FROM traces"
                order = "traces.timestamp DESC, traces.id DESC"
            else:
                score_sql = "0.0" if many else "rank"
                sql = (
                    f"SELECT {cols}, traces.rowid, hits.score FROM (SELECT rowid AS hit,"
                    f" {score_sql} AS score FROM traces_fts WHERE traces_fts MATCH ?) AS hits"
                    " JOIN traces ON traces.rowid = hits.hit"
                )
                args.append(match)
                order = "hits.score, traces.timestamp DESC, traces.id DESC"
            sql += " WHERE " + " AND ".join(clauses)
            sql += f" ORDER BY {order} LIMIT ?"
            args += [*params, *short_params, limit]
            rows = conn.execute(sql, args).fetchall()
        snippets = self._snippets(
            conn, [row[len(COLUMNS)] for row in rows], query, markers, snippet_chars
        )
        return [
            SearchHit(
                _summary(row[: len(COLUMNS)]),
                snippets.get(row[len(COLUMNS)], ""),
                float(row[-1]),
            )
            for row in rows
        ]

    @staticmethod
    def _matches_at_least(conn: sqlite3.Connection, match: str, count: int) -> bool:
        """Whether the FTS query ``match`` has at least ``count`` hits (stops counting there:
        under 1 ms at 100,000 traces)."""
        row = conn.execute(
            "SELECT COUNT(*) FROM (SELECT rowid FROM traces_fts WHERE traces_fts MATCH ? LIMIT ?)",
            (match, count),
        ).fetchone()
        return int(row[0]) >= count

    @staticmethod
    def _snippets(
        conn: sqlite3.Connection,
        rowids: list[int],
        query: SearchQuery,
        markers: tuple[str, str],
        chars: int,
    ) -> dict[int, str]:
        """FTS5 ``snippet()`` of each row (only rows the index matched); for a query of short
        terms only, the start of the text holding the first term."""
        if not rowids:
            return {}
        marks = ", ".join("?" for _ in rowids)
        match = query.match()
        if match is not None:
            rows = conn.execute(
                f"SELECT rowid, snippet(traces_fts, -1, ?, ?, '…', ?) FROM traces_fts"
                f" WHERE traces_fts MATCH ? AND rowid IN ({marks})",
                [*markers, max(1, min(64, chars)), match, *rowids],
            )
            return {int(r[0]): str(r[1]) for r in rows}
        term = query.terms[0].lower()
        out: dict[int, str] = {}
        columns = ", ".join(SEARCH_COLUMNS[2:])
        for rowid, *texts in conn.execute(
            f"SELECT rowid, {columns} FROM traces WHERE rowid IN ({marks})", rowids
        ):
            for text in texts:
                at = str(text).lower().find(term)
                if at >= 0:
                    lo = max(0, at - chars // 2)
                    piece = str(text)[lo : lo + chars]
                    cut = at - lo
                    piece = (
                        piece[:cut]
                        + markers[0]
                        + piece[cut : cut + len(term)]
                        + markers[1]
                        + piece[cut + len(term) :]
                    )
                    out[int(rowid)] = ("…" if lo else "") + piece.replace("\n", " ")
                    break
        return out

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


class _Desc:
    """Sorts its string in descending order (newest first among equal scores)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return self.value > other.value


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

"""The spans part of the store's SQLite index: a ``spans`` row per span, a ``runs`` row per run.

It lives in the same ``index.sqlite`` as the traces (:mod:`traceforge_shared.store.index`),
on the same per-thread connections, and is a cache like it: every row can be rebuilt from the
span files (``spans/*.jsonl``) and the trace files (the spans derived from proxied calls).

Layout (:data:`SPANS_LAYOUT`, kept in the index's ``meta`` table under ``spans_layout``):

- ``spans``: one row per ``(trace_id, span_id)``, with the columns runs are summed from and
  ``doc``, the span's JSON, so a run's tree is read without opening a file;
- ``runs``: one row per run, its sums kept up to date in the transaction that writes its
  spans, so listing runs and sessions reads no span;
- ``span_segments``: the span files indexed so far (for reconciling with the directory);
- ``runs_dirty``: runs whose spans changed behind the span code's back (a trace deleted: the
  trigger ``spans_follow_traces`` removes its derived span in the same transaction and marks
  the run here); :meth:`SpanIndex.settle` recomputes them before any read.

Upgrade: an index without these tables (written before runs existed) gets them created, and
nothing else is touched (the traces are not re-read: trace files of that time hold no span
context). If the traces table already has rows when the tables are created again (the layout
changed), :meth:`SpanIndex.ensure` returns ``True`` so the store re-derives the proxy spans.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import msgspec

from traceforge_shared.spans import RunSummary, SessionSummary, Span, iso_from_ns
from traceforge_shared.store.index import TraceIndex, _transaction

#: Layout version of the span tables. Bump when they change: they are dropped and refilled.
#: 2: ``runs.llm_calls`` counts a call once when it is both a proxied span and an ingested
#: client span pointing at the same trace (:func:`llm_call_key`).
SPANS_LAYOUT = "2"
_LAYOUT_KEY = "spans_layout"

_SPAN_COLUMNS: tuple[str, ...] = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_ns",
    "end_ns",
    "status",
    "session_id",
    "tags",
    "trace_ref",
    "source",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "segment",
    "doc",
)

_SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status TEXT NOT NULL,
    session_id TEXT,
    tags TEXT NOT NULL,
    trace_ref TEXT,
    source TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL,
    segment TEXT NOT NULL,
    doc BLOB NOT NULL,
    PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS spans_by_start ON spans (start_ns)",
    "CREATE INDEX IF NOT EXISTS spans_by_session ON spans (session_id, start_ns)",
    "CREATE INDEX IF NOT EXISTS spans_by_trace_ref ON spans (trace_ref)",
    """CREATE TABLE IF NOT EXISTS runs (
    trace_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    span_count INTEGER NOT NULL,
    llm_calls INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL,
    status TEXT NOT NULL,
    error_count INTEGER NOT NULL,
    session_id TEXT,
    tags TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS runs_by_start ON runs (start_ns DESC, trace_id DESC)",
    "CREATE INDEX IF NOT EXISTS runs_by_session ON runs (session_id, start_ns)",
    "CREATE TABLE IF NOT EXISTS span_segments (name TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS runs_dirty (trace_id TEXT PRIMARY KEY) WITHOUT ROWID",
    # A deleted trace takes its derived span along, in the same transaction.
    """CREATE TRIGGER IF NOT EXISTS spans_follow_traces AFTER DELETE ON traces
BEGIN
    INSERT OR IGNORE INTO runs_dirty (trace_id)
        SELECT trace_id FROM spans WHERE trace_ref = old.id AND source = 'proxy';
    DELETE FROM spans WHERE trace_ref = old.id AND source = 'proxy';
END""",
)

_DROP: tuple[str, ...] = (
    "DROP TRIGGER IF EXISTS spans_follow_traces",
    "DROP TABLE IF EXISTS spans",
    "DROP TABLE IF EXISTS runs",
    "DROP TABLE IF EXISTS span_segments",
    "DROP TABLE IF EXISTS runs_dirty",
)

# Last write wins, by segment name (time-ordered): a span re-read from an older file never
# replaces the newer copy.
_UPSERT = (
    f"INSERT INTO spans ({', '.join(_SPAN_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _SPAN_COLUMNS)}) "
    "ON CONFLICT (trace_id, span_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _SPAN_COLUMNS[2:])
    + " WHERE excluded.segment >= spans.segment"
)

# One run's sums, from its spans. The root is the earliest span without a parent in the run.
_RECOMPUTE = """
INSERT INTO runs (trace_id, name, kind, start_ns, end_ns, span_count, llm_calls, input_tokens,
    output_tokens, cost_usd, status, error_count, session_id, tags)
SELECT s.trace_id,
    COALESCE(root.name, ''), COALESCE(root.kind, 'custom'),
    MIN(s.start_ns), MAX(s.end_ns), COUNT(*),
    COUNT(DISTINCT CASE WHEN s.kind IN ('llm', 'embedding')
        THEN COALESCE(s.trace_ref, '#' || s.span_id) END),
    SUM(s.input_tokens), SUM(s.output_tokens), SUM(s.cost_usd),
    CASE WHEN SUM(s.status = 'error') > 0 THEN 'error'
         WHEN SUM(s.status = 'ok') > 0 THEN 'ok' ELSE 'unset' END,
    SUM(s.status = 'error'),
    (SELECT session_id FROM spans WHERE trace_id = ?1 AND session_id IS NOT NULL
        ORDER BY start_ns LIMIT 1),
    COALESCE((SELECT ',' || group_concat(json_quote(tag), ',') || ',' FROM (
        SELECT DISTINCT j.value AS tag FROM spans, json_each('[' || substr(spans.tags, 2,
            max(length(spans.tags) - 2, 0)) || ']') AS j
        WHERE spans.trace_id = ?1 AND spans.tags != '')), '')
FROM spans AS s
LEFT JOIN (
    SELECT name, kind FROM spans AS r WHERE r.trace_id = ?1 AND (r.parent_span_id IS NULL
        OR NOT EXISTS (SELECT 1 FROM spans AS p
                       WHERE p.trace_id = ?1 AND p.span_id = r.parent_span_id))
    ORDER BY r.start_ns, r.span_id LIMIT 1
) AS root ON 1
WHERE s.trace_id = ?1
GROUP BY s.trace_id
ON CONFLICT (trace_id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
    start_ns = excluded.start_ns, end_ns = excluded.end_ns, span_count = excluded.span_count,
    llm_calls = excluded.llm_calls, input_tokens = excluded.input_tokens,
    output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd,
    status = excluded.status, error_count = excluded.error_count,
    session_id = excluded.session_id, tags = excluded.tags
"""

_RUN_COLUMNS = (
    "trace_id, name, kind, start_ns, end_ns, span_count, llm_calls, input_tokens,"
    " output_tokens, cost_usd, status, error_count, session_id"
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Span)


def encode_tags(tags: Sequence[str]) -> str:
    """Tags as stored in the ``tags`` columns: a JSON string list without its brackets,
    between commas (``,"a","b",``), so ``LIKE '%,"a",%'`` finds one; ``""`` when none."""
    if not tags:
        return ""
    return "," + _encoder.encode(list(tags)).decode()[1:-1] + ","


def tag_pattern(tag: str) -> str:
    """The ``LIKE`` pattern (escape ``\\``) matching runs carrying ``tag``."""
    quoted = _encoder.encode(tag).decode()
    escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%,{escaped},%"


def span_row(span: Span, segment: str) -> tuple[Any, ...]:
    """The ``spans`` row of ``span``, read from the span file ``segment`` (``""`` for a span
    derived from a trace)."""
    usage = span.usage
    return (
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.name,
        span.kind,
        span.start_ns,
        span.end_ns,
        span.status,
        span.session_id,
        encode_tags(span.tags),
        span.trace_ref,
        span.source,
        usage.prompt_tokens if usage is not None else 0,
        usage.completion_tokens if usage is not None else 0,
        span.cost_usd,
        segment,
        _encoder.encode(span),
    )


def llm_call_key(span: Span) -> str:
    """What identifies the call an LLM or embedding span stands for, so ``runs.llm_calls``
    counts each call once: its trace (``trace_ref``) when it has one, as the proxied span and
    an ingested client span of the same call share it (docs/otel.md, "The same call through
    the proxy"), else the span itself (``#<span id>``; the SQL of :data:`_RECOMPUTE` uses the
    same key)."""
    return span.trace_ref if span.trace_ref is not None else "#" + span.span_id


def _new_run_row(spans: Sequence[Span]) -> tuple[Any, ...]:
    """The ``runs`` row of a run whose spans are all in ``spans`` (the run is new): what
    :data:`_RECOMPUTE` would make, without reading them back."""
    unique = {span.span_id: span for span in spans}
    ordered = sorted(unique.values(), key=lambda s: (s.start_ns, s.span_id))
    root = next(
        (s for s in ordered if s.parent_span_id is None or s.parent_span_id not in unique),
        None,
    )
    errors = sum(1 for s in ordered if s.status == "error")
    costs = [s.cost_usd for s in ordered if s.cost_usd is not None]
    tags = sorted({tag for s in ordered for tag in s.tags})
    return (
        ordered[0].trace_id,
        root.name if root is not None else "",
        root.kind if root is not None else "custom",
        ordered[0].start_ns,
        max(s.end_ns for s in ordered),
        len(ordered),
        len({llm_call_key(s) for s in ordered if s.kind in ("llm", "embedding")}),
        sum(s.usage.prompt_tokens for s in ordered if s.usage is not None),
        sum(s.usage.completion_tokens for s in ordered if s.usage is not None),
        sum(costs) if costs else None,
        "error" if errors else ("ok" if any(s.status == "ok" for s in ordered) else "unset"),
        errors,
        next((s.session_id for s in ordered if s.session_id is not None), None),
        encode_tags(tags),
    )


_INSERT_RUN = (
    "INSERT INTO runs (trace_id, name, kind, start_ns, end_ns, span_count, llm_calls,"
    " input_tokens, output_tokens, cost_usd, status, error_count, session_id, tags)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _run(row: Sequence[Any]) -> RunSummary:
    (trace_id, name, kind, start_ns, end_ns, count, llm, inp, out, cost, status, errors, sid) = row
    return RunSummary(
        trace_id=trace_id,
        name=name,
        kind=kind,
        start_time=iso_from_ns(start_ns),
        start_ns=start_ns,
        duration_ms=max(0, end_ns - start_ns) / 1e6,
        span_count=count,
        llm_calls=llm,
        input_tokens=inp,
        output_tokens=out,
        cost_usd=cost,
        status=status,
        error_count=errors,
        session_id=sid,
    )


class SpanIndex:
    """The span tables of the index at ``traces.path``, on ``traces``'s connections.

    Thread-safe as :class:`~traceforge_shared.store.index.TraceIndex` is (a connection per
    thread; SQLite serialises writers across processes).
    """

    def __init__(self, traces: TraceIndex) -> None:
        self.traces = traces
        self._local = threading.local()
        self._lock = threading.Lock()

    # -- layout ----------------------------------------------------------------------------

    def connection(self) -> tuple[sqlite3.Connection, bool]:
        """This thread's connection with the span tables present, and whether they were
        just (re)created in an index that already had traces (the caller must then derive
        the proxy spans again)."""
        conn = self.traces.connection()
        if getattr(self._local, "ready", None) is conn:
            return conn, False
        refill = self.ensure(conn)
        self._local.ready = conn
        return conn, refill

    def ensure(self, conn: sqlite3.Connection) -> bool:
        """Create the span tables when missing or of another layout (dropping the old ones).

        Returns:
            ``True`` when they were created while the traces table had rows.
        """
        if self._layout(conn) == SPANS_LAYOUT and self._has_tables(conn):
            return False
        with _transaction(conn):
            if self._layout(conn) == SPANS_LAYOUT and self._has_tables(conn):
                return False
            for statement in _DROP:
                conn.execute(statement)
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_LAYOUT_KEY, SPANS_LAYOUT),
            )
            had_traces = conn.execute("SELECT 1 FROM traces LIMIT 1").fetchone() is not None
        return had_traces

    @staticmethod
    def _layout(conn: sqlite3.Connection) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (_LAYOUT_KEY,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _has_tables(conn: sqlite3.Connection) -> bool:
        names = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE name IN "
                "('spans', 'runs', 'span_segments', 'runs_dirty', 'spans_follow_traces')"
            )
        }
        return len(names) == 5

    def _conn(self) -> sqlite3.Connection:
        return self.connection()[0]

    # -- writing ---------------------------------------------------------------------------

    def put(self, spans: Iterable[tuple[Span, str]], segments: Iterable[str] = ()) -> set[str]:
        """Index ``(span, segment)`` pairs and record the span files ``segments`` as indexed,
        updating the runs touched, in one transaction; returns the run ids touched."""
        pairs = list(spans)
        rows = [span_row(span, segment) for span, segment in pairs]
        conn = self._conn()
        with _transaction(conn):
            conn.executemany(
                "INSERT OR IGNORE INTO span_segments (name) VALUES (?)",
                [(name,) for name in segments],
            )
            self._update_runs(
                conn, [span for span, _ in pairs], lambda: conn.executemany(_UPSERT, rows)
            )
        return {span.trace_id for span, _ in pairs}

    def _update_runs(
        self, conn: sqlite3.Connection, spans: Sequence[Span], upsert: Callable[[], object]
    ) -> None:
        """Run ``upsert`` (writing ``spans``), then bring their runs' rows up to date: a run
        without a row before is new, its row made from ``spans`` alone (most runs: a proxied
        call is a run of one span); the others are recomputed from their spans."""
        by_run: dict[str, list[Span]] = {}
        for span in spans:
            by_run.setdefault(span.trace_id, []).append(span)
        new = {
            trace_id
            for trace_id in by_run
            if conn.execute("SELECT 1 FROM runs WHERE trace_id = ?", (trace_id,)).fetchone() is None
        }
        upsert()
        conn.executemany(_INSERT_RUN, [_new_run_row(by_run[trace_id]) for trace_id in new])
        self._recompute(conn, set(by_run) - new)

    def writer(self, spans: Sequence[Span]) -> Callable[[sqlite3.Connection], None]:
        """A function writing ``spans`` (derived from traces: no span file) and updating their
        runs on a connection already in a transaction: the trace index runs it in the
        transaction that writes the traces' rows (:meth:`TraceIndex.put` ``also``), so a trace
        and its span are indexed together or not at all."""
        rows = [span_row(span, "") for span in spans]

        def write(conn: sqlite3.Connection) -> None:
            if getattr(self._local, "ready", None) is not conn:
                self.ensure(conn)  # nested in the caller's transaction
                self._local.ready = conn
            self._update_runs(conn, spans, lambda: conn.executemany(_UPSERT, rows))

        return write

    def remove_runs(self, trace_ids: Iterable[str], *, files_only: bool = True) -> None:
        """Drop the spans of these runs read from span files (``files_only``: the spans
        derived from traces stay: they go with their traces) and their segment records."""
        ids = sorted(set(trace_ids))
        conn = self._conn()
        with _transaction(conn):
            for trace_id in ids:
                if files_only:
                    conn.execute(
                        "DELETE FROM spans WHERE trace_id = ? AND source != 'proxy'", (trace_id,)
                    )
                else:
                    conn.execute("DELETE FROM spans WHERE trace_id = ?", (trace_id,))
                conn.execute(
                    "DELETE FROM span_segments WHERE name >= ? AND name < ?",
                    (f"{trace_id}-", f"{trace_id}."),
                )
            self._recompute(conn, set(ids))

    def forget_segments(self, names: Iterable[str]) -> None:
        """Drop the records of span files that are gone (their spans are dropped by
        :meth:`remove_runs` and the run's remaining files read again)."""
        conn = self._conn()
        with _transaction(conn):
            conn.executemany(
                "DELETE FROM span_segments WHERE name = ?", [(name,) for name in names]
            )

    def clear(self) -> None:
        """Empty the span tables (a rebuild follows)."""
        conn = self._conn()
        with _transaction(conn):
            for table in ("spans", "runs", "span_segments", "runs_dirty"):
                conn.execute(f"DELETE FROM {table}")

    def settle(self) -> None:
        """Recompute the runs a deleted trace changed (cheap when none did)."""
        conn = self._conn()
        if conn.execute("SELECT 1 FROM runs_dirty LIMIT 1").fetchone() is None:
            return
        with _transaction(conn):
            dirty = {row[0] for row in conn.execute("SELECT trace_id FROM runs_dirty")}
            self._recompute(conn, dirty)
            conn.execute("DELETE FROM runs_dirty")

    @staticmethod
    def _recompute(conn: sqlite3.Connection, trace_ids: set[str]) -> None:
        for trace_id in sorted(trace_ids):
            conn.execute(_RECOMPUTE, (trace_id,))
            if (
                conn.execute(
                    "SELECT 1 FROM spans WHERE trace_id = ? LIMIT 1", (trace_id,)
                ).fetchone()
                is None
            ):
                conn.execute("DELETE FROM runs WHERE trace_id = ?", (trace_id,))

    # -- reading ---------------------------------------------------------------------------

    def segments(self) -> set[str]:
        """The names of the span files indexed."""
        return {row[0] for row in self._conn().execute("SELECT name FROM span_segments")}

    def runs(
        self, where: str, params: Sequence[Any], *, limit: int | None, offset: int = 0
    ) -> list[RunSummary]:
        """Run rows matching ``where`` (SQL over the ``runs`` columns), newest first."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        if where:
            sql += f" WHERE {where}"
        sql += " ORDER BY start_ns DESC, trace_id DESC LIMIT ? OFFSET ?"
        rows = self._conn().execute(sql, [*params, -1 if limit is None else limit, offset])
        return [_run(row) for row in rows]

    def session_runs(self, session_id: str) -> list[RunSummary]:
        """The runs of one session, oldest first."""
        rows = self._conn().execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE session_id = ? ORDER BY start_ns, trace_id",
            (session_id,),
        )
        return [_run(row) for row in rows]

    def count_runs(self, where: str, params: Sequence[Any]) -> int:
        """How many runs match ``where``."""
        sql = "SELECT COUNT(*) FROM runs" + (f" WHERE {where}" if where else "")
        return int(self._conn().execute(sql, list(params)).fetchone()[0])

    def run_ids_with_prefix(self, prefix: str, limit: int = 10) -> list[str]:
        """Run ids starting with ``prefix`` (lower-case hex), at most ``limit``."""
        rows = self._conn().execute(
            "SELECT trace_id FROM runs WHERE trace_id >= ? AND trace_id < ? "
            "ORDER BY trace_id LIMIT ?",
            (prefix, prefix + "g", limit),
        )
        return [row[0] for row in rows]

    def spans_of(self, trace_id: str) -> list[Span]:
        """Every span of a run, in start order."""
        rows = self._conn().execute(
            "SELECT doc FROM spans WHERE trace_id = ? ORDER BY start_ns, span_id", (trace_id,)
        )
        return [_decoder.decode(row[0]) for row in rows]

    def iter_spans(self, since_ns: int | None, until_ns: int | None) -> Iterator[Span]:
        """Every span starting in ``[since_ns, until_ns)``, in start order, 1000 at a time."""
        last: tuple[int, str, str] | None = None
        while True:
            clauses = []
            params: list[Any] = []
            if since_ns is not None:
                clauses.append("start_ns >= ?")
                params.append(since_ns)
            if until_ns is not None:
                clauses.append("start_ns < ?")
                params.append(until_ns)
            if last is not None:
                clauses.append("(start_ns, trace_id, span_id) > (?, ?, ?)")
                params += last
            where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
            rows = (
                self._conn()
                .execute(
                    f"SELECT start_ns, trace_id, span_id, doc FROM spans{where} "
                    "ORDER BY start_ns, trace_id, span_id LIMIT 1000",
                    params,
                )
                .fetchall()
            )
            for row in rows:
                yield _decoder.decode(row[3])
            if len(rows) < 1000:
                return
            last = (rows[-1][0], rows[-1][1], rows[-1][2])

    def sessions(
        self, where: str, params: Sequence[Any], *, limit: int | None, offset: int = 0
    ) -> list[SessionSummary]:
        """Sessions (runs grouped by ``session_id``), latest activity first."""
        sql = (
            "SELECT session_id, COUNT(*), SUM(llm_calls), SUM(input_tokens), "
            "SUM(output_tokens), SUM(cost_usd), SUM(error_count), MIN(start_ns), MAX(end_ns) "
            "FROM runs WHERE session_id IS NOT NULL"
            + (f" AND {where}" if where else "")
            + " GROUP BY session_id ORDER BY MAX(end_ns) DESC, session_id LIMIT ? OFFSET ?"
        )
        rows = self._conn().execute(sql, [*params, -1 if limit is None else limit, offset])
        return [
            SessionSummary(
                session_id=sid,
                runs=runs,
                calls=calls,
                input_tokens=inp,
                output_tokens=out,
                cost_usd=cost,
                errors=errors,
                first_time=iso_from_ns(first),
                last_time=iso_from_ns(last),
            )
            for sid, runs, calls, inp, out, cost, errors, first, last in rows
        ]

    def prunable_runs(self, cutoff_ns: int | None, keep: int | None) -> list[str]:
        """Run ids that ended before ``cutoff_ns``, plus those beyond the newest ``keep``."""
        conn = self._conn()
        doomed: list[str] = []
        if cutoff_ns is not None:
            doomed += [
                row[0]
                for row in conn.execute("SELECT trace_id FROM runs WHERE end_ns < ?", (cutoff_ns,))
            ]
        if keep is not None:
            doomed += [
                row[0]
                for row in conn.execute(
                    "SELECT trace_id FROM runs ORDER BY start_ns DESC, trace_id DESC "
                    "LIMIT -1 OFFSET ?",
                    (keep,),
                )
            ]
        return sorted(set(doomed))


__all__ = [
    "SPANS_LAYOUT",
    "SpanIndex",
    "encode_tags",
    "llm_call_key",
    "span_row",
    "tag_pattern",
]

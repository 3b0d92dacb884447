"""The file-based trace store: the only way TraceForge packages read or write ``.ai-tests/``.

Layout under the TraceForge home (``$TRACEFORGE_HOME`` or ``./.ai-tests``)::

    traces/<id>.json     one trace per file, compact JSON (see traceforge_shared.trace)
    spans/<run>-<n>.jsonl  spans of one run, one file per write (traceforge_shared.store.spans)
    index.sqlite         derived index of trace summaries, rebuilt from the files when needed
    config.yaml          optional configuration (traceforge_shared.config)

Faults it survives: a corrupt ``index.sqlite`` is moved aside and rebuilt
(:mod:`traceforge_shared.store.index`); stray entries in ``traces/`` (directories, other files,
unreadable trace files) are skipped, logged once and listed by :meth:`TraceStore.problems`;
temp files left by a killed writer are removed by :meth:`TraceStore.remove_stale_temp_files`.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import msgspec

from traceforge_shared.config import resolve_home
from traceforge_shared.ids import is_valid_id_prefix
from traceforge_shared.store.conditions import Condition, condition_sql
from traceforge_shared.store.errors import (
    AmbiguousRunIdError,
    AmbiguousTraceIdError,
    InvalidTraceIdError,
    RunNotFoundError,
    SessionNotFoundError,
    StoreError,
    TraceNotFoundError,
    TraceSchemaError,
)
from traceforge_shared.store.files import (
    encode_trace,
    read_trace_file,
    remove_stale_temp_files,
    write_atomic,
    write_temp,
)
from traceforge_shared.store.index import IndexEntry, SearchHit, TraceIndex
from traceforge_shared.store.search import (
    MAX_QUERY_CHARS,
    SearchQuery,
    SearchQueryError,
    parse_query,
    search_fields,
)
from traceforge_shared.trace import TRACE_STATUSES, Trace, TraceSummary, summarize

if TYPE_CHECKING:
    from traceforge_shared.store.spans import RunFilter, SpanStore


def __getattr__(name: str) -> object:
    """``RunFilter`` and ``SpanStore``, imported on first use (see :attr:`TraceStore.spans`)."""
    if name in ("RunFilter", "SpanStore"):
        from traceforge_shared.store import spans

        return getattr(spans, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAX_QUERY_CHARS",
    "AmbiguousRunIdError",
    "AmbiguousTraceIdError",
    "Condition",
    "InvalidTraceIdError",
    "ProgressCallback",
    "RunFilter",
    "RunNotFoundError",
    "SearchHit",
    "SearchQueryError",
    "SessionNotFoundError",
    "SpanStore",
    "StoreError",
    "StoreProblem",
    "TraceFilter",
    "TraceNotFoundError",
    "TraceSchemaError",
    "TraceStore",
]

log = logging.getLogger("traceforge.store")
# A library logger: silent unless the application configures logging (the CLI shows
# problems() itself; the proxy's log gets these warnings).
log.addHandler(logging.NullHandler())

_MTIME_KEY = "traces_dir_mtime_ns"
#: Index meta key holding the stray entries found by the last reconcile (JSON list of pairs).
_PROBLEMS_KEY = "stray_entries"
#: Rows put per index transaction when catching up with files (the write lock is held that
#: long: ~0.1 s for 2000 rows).
_BATCH_ROWS = 2000
#: From this many rows to add (and at least as many as there are), the index is bulk loaded.
_BULK_ROWS = 2000
#: Trace files read between two calls of the progress callback.
_PROGRESS_STEP = 250

#: Called while the index catches up with many trace files (a first listing of a copied
#: store, a rebuild, a new index layout): ``(done, total)`` files read, from ``(0, total)``
#: to ``(total, total)``. It runs in the thread doing the work and must not raise.
ProgressCallback = Callable[[int, int], None]


@dataclass(kw_only=True, eq=False)
class TraceFilter:
    """Filters for :meth:`TraceStore.list` (all optional, combined with AND).

    Attributes:
        model: exact model name.
        provider: exact provider name.
        status: one of :data:`~traceforge_shared.trace.TRACE_STATUSES`.
        streaming: only streamed (``True``) or only non-streamed (``False``) calls.
        since: only traces at or after this time (aware datetime, or naive UTC).
        until: only traces before this time.
        q: text search (:mod:`traceforge_shared.store.search`): every word (or
            ``"quoted phrase"``) must occur, in any case, inside the request's messages, the
            answer, the error message, the model or the endpoint (full-text index; ``%``,
            ``_``, ``*``, ``-`` and ``\\`` are literal). ``None`` or ``""``: no text filter.
        conditions: more conditions on index columns
            (:class:`~traceforge_shared.store.conditions.Condition`: substrings, id prefixes,
            latency/cost/token comparisons, status sets, tags, session, route, source).

    Raises:
        ValueError: an unknown status.
        SearchQueryError: ``q`` is longer than :data:`MAX_QUERY_CHARS` or has too many words.
    """

    model: str | None = None
    provider: str | None = None
    status: str | None = None
    streaming: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    conditions: tuple[Condition, ...] = ()

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in TRACE_STATUSES:
            raise ValueError(
                f"unknown status {self.status!r}; expected one of {', '.join(TRACE_STATUSES)}"
            )
        for condition in self.conditions:
            condition_sql(condition)  # an unknown column or operator: say so now
        if self.q:
            parse_query(self.q)  # too long: say so now, not in the middle of a listing

    def query(self) -> SearchQuery:
        """The parsed text search (no terms when ``q`` is empty)."""
        return parse_query(self.q) if self.q else SearchQuery(())

    def sql(self) -> tuple[str, list[object]]:
        """Return the SQL ``WHERE`` clause and parameters for the index."""
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (
            ("model", self.model),
            ("provider", self.provider),
            ("status", self.status),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.streaming is not None:
            clauses.append("streaming = ?")
            params.append(int(self.streaming))
        if self.since is not None:
            clauses.append("timestamp >= ?")
            params.append(_iso(self.since))
        if self.until is not None:
            clauses.append("timestamp < ?")
            params.append(_iso(self.until))
        for condition in self.conditions:
            clause, values = condition_sql(condition)
            clauses.append(clause)
            params += values
        text_where, text_params = self.query().sql()
        if text_where:
            clauses.append(text_where)
            params += text_params
        return " AND ".join(clauses), params

    def scans_rows(self) -> bool:
        """Whether the index should scan its rows rather than walk its time index (see
        :meth:`TraceIndex.query`): for a text search not bounded below by ``since``."""
        return bool(self.q) and self.since is None


class StoreProblem(NamedTuple):
    """An entry of ``traces/`` that is not a readable trace; skipped by every listing.

    Attributes:
        path: the file or directory.
        reason: why it is skipped, one line (e.g. ``"a directory, not a trace file"``).
    """

    path: Path
    reason: str


def _index_entry(trace: Trace) -> IndexEntry:
    """The index row of ``trace``: summary, searchable text, request key (see
    :func:`~traceforge_shared.cassettes.from_trace.trace_request_key`)."""
    # Imported here: the cassettes package imports store modules itself.
    from traceforge_shared.cassettes.from_trace import trace_request_key

    return (summarize(trace), search_fields(trace), trace_request_key(trace))


def _iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"  # 4-digit years, unlike strftime


class TraceStore:
    """One JSON file per trace under ``<home>/traces``, plus a derived SQLite index.

    Thread-safe; several processes (the proxy writing, the CLI reading) may use one home.

    Args:
        home: the TraceForge home; default ``$TRACEFORGE_HOME`` or ``./.ai-tests``.
        fsync: flush each trace file to disk before renaming it into place (crash-safe against
            power loss, slower); process crashes never leave a partial file either way.
        progress: told how far the index is while it reads many trace files
            (:data:`ProgressCallback`); the store itself never prints.
    """

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        *,
        fsync: bool = True,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.home = resolve_home(home)
        self.progress = progress
        self.traces_dir = self.home / "traces"
        self.fsync = fsync
        self.index = TraceIndex(self.home / "index.sqlite")
        self._lock = threading.Lock()
        self._warned: set[tuple[str, str]] = set()

    @functools.cached_property
    def spans(self) -> SpanStore:
        """Spans, runs and sessions (:class:`~traceforge_shared.store.spans.SpanStore`),
        made on first use: ``trace list`` never loads the span code (~10 ms at start)."""
        from traceforge_shared.store.spans import SpanStore

        return SpanStore(self)

    # -- writing ---------------------------------------------------------------------------

    def path_for(self, trace_id: str) -> Path:
        """Return the file path of a full trace id.

        Raises:
            InvalidTraceIdError: the id is not lower-case hex.
        """
        if not is_valid_id_prefix(trace_id):
            raise InvalidTraceIdError(f"not a trace id: {trace_id!r}")
        return self.traces_dir / f"{trace_id}.json"

    def save(self, trace: Trace) -> Path:
        """Write ``trace`` atomically and index it; returns its file path.

        Raises:
            InvalidTraceIdError: ``trace.id`` is not a valid id.
            OSError: the file could not be written (nothing is left half-written).
        """
        return self.save_many([trace])[0]

    def save_many(self, traces: Sequence[Trace], *, fsync: bool | None = None) -> list[Path]:
        """Write each trace atomically to its own file, then index them all in one transaction
        (what the proxy's writer does with the traces that finished while it was busy: one
        index commit per batch instead of one per trace).

        Args:
            traces: the traces, any number.
            fsync: flush each file to disk before renaming it into place (default: the
                store's ``fsync``).

        Returns:
            The file paths, in the order of ``traces``.

        Raises:
            InvalidTraceIdError: a trace id is not valid (nothing is written).
            OSError: a file could not be written; the traces written before it are indexed,
                nothing is left half-written.
        """
        paths = [self.path_for(trace.id) for trace in traces]
        flush = self.fsync if fsync is None else fsync
        before = self._dir_mtime()
        # If the index was in sync before these writes, mark it "saving" until they are
        # indexed: a crash in between leaves the mark, so the next refresh() rescans even when
        # the directory's mtime did not move (coarse timestamps: same tick as before).
        saving = f"saving {os.getpid()} {threading.get_ident()} {before}"
        marked = self.index.set_meta(
            _MTIME_KEY, saving, expected=str(before), only_if_expected=True
        )
        written: list[Trace] = []
        try:
            for trace, path in zip(traces, paths, strict=True):
                data = encode_trace(trace)
                try:
                    write_atomic(path, data, fsync=flush)
                except FileNotFoundError:  # first save, or the directory was removed
                    self.traces_dir.mkdir(parents=True, exist_ok=True)
                    write_atomic(path, data, fsync=flush)
                written.append(trace)
        finally:
            if written:
                # A proxied call is a span of its run: indexed in the same transaction.
                self.index.put(
                    [_index_entry(trace) for trace in written],
                    also=self.spans.derived_writer(written),
                )
            if marked:
                # In sync again: record the new mtime so the next read need not rescan.
                self.index.set_meta(
                    _MTIME_KEY, str(self._dir_mtime()), expected=saving, only_if_expected=True
                )
        return paths

    def delete(self, id_or_prefix: str) -> str:
        """Delete a trace by id or unique prefix; returns the full id.

        Raises:
            TraceNotFoundError, AmbiguousTraceIdError, InvalidTraceIdError.
        """
        trace_id = self.resolve_id(id_or_prefix)
        with contextlib.suppress(FileNotFoundError):
            self.path_for(trace_id).unlink()
        self.index.remove([trace_id])
        return trace_id

    def delete_many(self, ids: Iterable[str]) -> int:
        """Delete the traces with these full ids: their files, then their index rows (and
        full-text entries) in one transaction; returns how many files were deleted (an id
        whose file is already gone is only dropped from the index).

        Raises:
            InvalidTraceIdError: an id is not a valid id (nothing is deleted).
            OSError: a file could not be deleted; the traces deleted before it are removed
                from the index.
        """
        unique = sorted(set(ids))
        paths = [self.path_for(trace_id) for trace_id in unique]
        deleted: list[str] = []
        removed = 0
        try:
            for trace_id, path in zip(unique, paths, strict=True):
                try:
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
                deleted.append(trace_id)
        finally:
            if deleted:
                self.index.remove(deleted)
        return removed

    # -- reading ---------------------------------------------------------------------------

    def resolve_id(self, id_or_prefix: str) -> str:
        """Return the full id of the one trace whose id starts with ``id_or_prefix``.

        Raises:
            InvalidTraceIdError: not hex (so never a path outside the store).
            TraceNotFoundError: no trace matches.
            AmbiguousTraceIdError: several traces match.
        """
        prefix = id_or_prefix.strip().lower()
        if not is_valid_id_prefix(prefix):
            raise InvalidTraceIdError(
                f"not a trace id or id prefix: {id_or_prefix!r} (ids are hexadecimal)"
            )
        if self.path_for(prefix).is_file():
            return prefix
        self.refresh()
        matches = self.index.ids_with_prefix(prefix)
        if not matches:
            raise TraceNotFoundError(f"no trace with id or prefix {id_or_prefix!r}")
        if len(matches) > 1:
            raise AmbiguousTraceIdError(id_or_prefix, matches)
        return matches[0]

    def get(self, id_or_prefix: str) -> Trace:
        """Return the trace with this id or unique id prefix.

        Raises:
            TraceNotFoundError, AmbiguousTraceIdError, InvalidTraceIdError,
            TraceSchemaError: the file is from an unsupported schema version or corrupt.
        """
        trace_id = self.resolve_id(id_or_prefix)
        try:
            return read_trace_file(self.path_for(trace_id))
        except FileNotFoundError:
            self.index.remove([trace_id])
            raise TraceNotFoundError(f"trace {trace_id} was deleted") from None

    def list(
        self, filters: TraceFilter | None = None, *, limit: int | None = 50, offset: int = 0
    ) -> list[TraceSummary]:
        """Return trace summaries, newest first, from the index (no trace file is parsed
        unless the index must catch up with files it has not seen).

        Args:
            filters: what to keep; default everything.
            limit: at most this many (``None``: all).
            offset: skip this many first (for paging).
        """
        self.refresh()
        filters = filters or TraceFilter()
        where, params = filters.sql()
        return self.index.query(
            where, params, limit=limit, offset=offset, scan=filters.scans_rows()
        )

    def count(self, filters: TraceFilter | None = None) -> int:
        """Return how many traces match ``filters``."""
        self.refresh()
        filters = filters or TraceFilter()
        where, params = filters.sql()
        return self.index.count(where, params, scan=filters.scans_rows())

    def iter_summaries(
        self, filters: TraceFilter | None = None, *, page_size: int = 500
    ) -> Iterator[TraceSummary]:
        """Yield every summary matching ``filters``, newest first, reading the index
        ``page_size`` rows at a time (keyset paging on ``(timestamp, id)``: memory stays
        bounded and traces saved meanwhile do not shift the pages)."""
        self.refresh()
        filters = filters or TraceFilter()
        where, params = filters.sql()
        last: TraceSummary | None = None
        while True:
            if last is None:
                page_where, page_params = where, list(params)
            else:
                after = "(timestamp < ? OR (timestamp = ? AND id < ?))"
                page_where = f"{where} AND {after}" if where else after
                page_params = [*params, last.timestamp, last.timestamp, last.id]
            rows = self.index.query(
                page_where, page_params, limit=page_size, scan=filters.scans_rows()
            )
            yield from rows
            if len(rows) < page_size:
                return
            last = rows[-1]

    def search(
        self,
        text: str,
        filters: TraceFilter | None = None,
        *,
        limit: int = 20,
        markers: tuple[str, str] = ("[", "]"),
    ) -> builtins.list[SearchHit]:
        """Full-text search: the traces containing every word of ``text`` (syntax:
        :mod:`traceforge_shared.store.search`), best match first (``bm25``; newest first when more
        than :data:`~traceforge_shared.store.index.RANKED_MATCHES_MAX` traces match), each with a
        snippet of its text where the words match, between ``markers``.

        Args:
            text: the query; no words: no hits.
            filters: further filters (its ``q`` is ANDed with ``text``).
            limit: at most this many hits.
            markers: put around each match in the snippets.

        Raises:
            SearchQueryError: ``text`` is too long or has too many words.
        """
        query = parse_query(text)
        self.refresh()
        where, params = (filters or TraceFilter()).sql()
        return self.index.search(query, where, params, limit=limit, markers=markers)

    def iter_traces(self, filters: TraceFilter | None = None) -> Iterator[Trace]:
        """Yield whole traces matching ``filters``, newest first (parses each file; the
        summaries are read a page at a time, see :meth:`iter_summaries`)."""
        for summary in self.iter_summaries(filters):
            path = self.path_for(summary.id)
            try:
                yield read_trace_file(path)
            except FileNotFoundError:
                continue
            except (TraceSchemaError, OSError) as exc:  # changed since it was indexed
                log.warning("skipping %s: %s", path, exc)
                continue

    # -- health --------------------------------------------------------------------------

    def problems(self) -> builtins.list[StoreProblem]:
        """Return the entries of ``traces/`` that are skipped because they are not readable
        traces (directories, files without the ``.json`` suffix or a trace id name, files
        that are not valid traces), sorted by path, as of the last time the index caught up
        with the directory (this call catches it up first). Hidden files are never listed.
        """
        self.refresh()
        raw = self.index.get_meta(_PROBLEMS_KEY)
        if not raw:
            return []
        try:
            pairs = msgspec.json.decode(raw, type=builtins.list[tuple[str, str]])
        except msgspec.DecodeError:
            return []
        return [StoreProblem(self.traces_dir / name, reason) for name, reason in pairs]

    def check_writable(self) -> str | None:
        """Say whether new traces can be saved here: ``traces/`` must be writable by this
        user, and a small hidden file must be writable in the home (a real write, so a full
        disk or a read-only mount is seen even by root; ``traces/`` itself is not written,
        so its mtime, which the index watches, does not move).

        Returns:
            ``None`` if so (or if the home does not exist yet), else one line saying why
            not, e.g. ``"[Errno 28] No space left on device"``.
        """
        if self.traces_dir.is_dir() and not os.access(self.traces_dir, os.W_OK):
            return f"{self.traces_dir} is not writable (permission denied)"
        if not self.home.is_dir():
            return None
        try:
            probe = write_temp(self.home / "writable-check", b"ok\n", fsync=False)
            os.unlink(probe)
        except OSError as exc:
            return str(exc)
        return None

    def remove_stale_temp_files(self, *, max_age_s: float = 60.0) -> int:
        """Delete the temp files a killed writer left in ``traces/`` (see
        :func:`traceforge_shared.store.files.remove_stale_temp_files`: older than
        ``max_age_s`` seconds, or not locked by a live writer); returns how many.

        Raises:
            OSError: ``traces/`` cannot be listed or a file cannot be deleted.
        """
        removed = remove_stale_temp_files(self.traces_dir, max_age_s=max_age_s)
        if removed:
            log.info("removed %d temp files left by an interrupted save", len(removed))
        return len(removed)

    # -- index maintenance -----------------------------------------------------------------

    def _dir_mtime(self) -> int:
        try:
            return self.traces_dir.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def _scan(self) -> tuple[set[str], dict[str, str]]:
        """Return the ids of the trace files in ``traces/`` and the stray entries
        (name → reason); hidden entries (temp files, ``.DS_Store``) are ignored."""
        ids: set[str] = set()
        stray: dict[str, str] = {}
        try:
            entries = os.scandir(self.traces_dir)
        except FileNotFoundError:
            return ids, stray
        with entries:
            for e in entries:
                name = e.name
                if name.startswith("."):
                    continue
                try:
                    is_dir = e.is_dir()
                except OSError:
                    is_dir = False
                if is_dir:
                    stray[name] = "a directory, not a trace file"
                elif not name.endswith(".json"):
                    stray[name] = "not a trace file (traces are <id>.json)"
                elif not is_valid_id_prefix(name[:-5]):
                    stray[name] = "not a trace file name (traces are <hex id>.json)"
                else:
                    ids.add(name[:-5])
        return ids, stray

    def _file_ids(self) -> set[str]:
        return self._scan()[0]

    def _note_problems(self, stray: dict[str, str]) -> None:
        """Record the stray entries for :meth:`problems`; log each once per store."""
        for name, reason in sorted(stray.items()):
            if (name, reason) not in self._warned:
                self._warned.add((name, reason))
                log.warning("skipping %s: %s", self.traces_dir / name, reason)
        value = msgspec.json.encode(sorted(stray.items())).decode()
        if self.index.get_meta(_PROBLEMS_KEY) != value:
            self.index.set_meta(_PROBLEMS_KEY, value)

    def refresh(self) -> None:
        """Bring the index in line with the trace files if the traces directory changed
        since the index last saw it (cheap when nothing changed: one ``stat``)."""
        mtime = self._dir_mtime()
        if self.index.get_meta(_MTIME_KEY) == str(mtime) and not self.index.created:
            return
        with self._lock:
            self._reconcile(mtime)

    def rebuild_index(self) -> int:
        """Drop the index and rebuild it from the trace files; returns the number indexed.

        Unreadable files are skipped (``traceforge trace show`` reports them)."""
        with self._lock, self.index.bulk_load():
            conn = self.index.connection()
            conn.execute("DELETE FROM traces")
            self._reconcile(self._dir_mtime())
        return self.index.count()

    def _reconcile(self, mtime: int) -> int:
        self.index.created = False
        on_disk, stray = self._scan()
        indexed = self.index.ids()
        gone = indexed - on_disk
        if gone:
            self.index.remove(gone)
        missing = on_disk - indexed
        # Many new rows (a new index, a big copy): build the secondary indexes once at the end.
        bulk = len(missing) >= _BULK_ROWS and len(missing) >= len(indexed) - len(gone)
        progress = self.progress if missing else None
        total = len(missing)
        if progress is not None:
            progress(0, total)
        with self.index.bulk_load() if bulk else contextlib.nullcontext():
            entries: list[IndexEntry] = []
            in_runs: list[Trace] = []  # traces with a span context: their spans are indexed
            for done, trace_id in enumerate(missing, start=1):
                if progress is not None and done % _PROGRESS_STEP == 0 and done < total:
                    progress(done, total)
                path = self.path_for(trace_id)
                try:
                    trace = read_trace_file(path)
                except FileNotFoundError:
                    continue
                except TraceSchemaError as exc:
                    stray[path.name] = str(exc).removeprefix(f"{path}: ")
                    continue
                except OSError as exc:  # permissions, I/O error: skip it, never fail a list
                    stray[path.name] = f"unreadable: {exc.strerror or exc}"
                    continue
                entries.append(_index_entry(trace))
                if trace.span is not None:
                    in_runs.append(trace)
                if len(entries) >= _BATCH_ROWS:
                    self.index.put(entries, also=self.spans.derived_writer(in_runs))
                    entries, in_runs = [], []
            if entries:
                self.index.put(entries, also=self.spans.derived_writer(in_runs))
        if progress is not None:
            progress(total, total)
        self._note_problems(stray)
        self.index.set_meta(_MTIME_KEY, str(mtime))
        return len(on_disk)

    def prune(
        self, *, max_traces: int | None, retention_days: int | None, now: datetime | None = None
    ) -> int:
        """Delete traces beyond ``max_traces`` (oldest first) and older than
        ``retention_days``; returns how many were deleted. Runs follow the same rules
        (:meth:`SpanStore.prune`: ``max_traces`` runs kept, span files of runs that ended
        before the cutoff deleted; a proxied call's span goes with its trace)."""
        self.refresh()
        doomed: list[str] = []
        if retention_days is not None:
            cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
            doomed += [s.id for s in self.index.query("timestamp < ?", [_iso(cutoff)], limit=None)]
        if max_traces is not None:
            doomed += [s.id for s in self.index.query("", [], limit=-1, offset=max_traces)]
        deleted = self.delete_many(doomed)
        self.spans.prune(retention_days=retention_days, max_runs=max_traces, now=now)
        return deleted

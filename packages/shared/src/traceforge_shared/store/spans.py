"""Span files and the run and session queries over them.

Layout under the TraceForge home::

    spans/<trace_id>-<segment>.jsonl    the spans of one run written by one call of
                                        SpanStore.write: one JSON span per line

A span file is written whole, like a trace file (hidden temp file, renamed into place), so it
is whole or absent whatever happens to the process. One file per run per write keeps writing
cheap (an OTLP export request of 512 spans is one file per run it touches, not 512 files);
the segment name is time-ordered, so when the same span is written twice the newer copy wins,
when indexing as when rebuilding. Spans derived from proxied calls have no file: their trace
file is their truth (:func:`traceforge_shared.spans.span_from_trace`).

The index (:mod:`traceforge_shared.store.spans_index`) holds every span and a row per run, so
listing runs and sessions reads no file, and a run's tree is read from the index alone.

Retention follows the traces' rules (``storage.retention_days``, ``storage.max_traces`` as the
number of runs kept): a run past them loses its span files; the spans of proxied calls go with
their traces.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from traceforge_shared.spans import (
    SPAN_KINDS,
    SPAN_STATUSES,
    RunSummary,
    SessionSummary,
    Span,
    SpanProblem,
    check_span,
    span_from_trace,
)
from traceforge_shared.store.errors import (
    AmbiguousRunIdError,
    RunNotFoundError,
    SessionNotFoundError,
)
from traceforge_shared.store.files import write_atomic
from traceforge_shared.store.spans_index import SpanIndex, tag_pattern

if TYPE_CHECKING:
    # Imported when first used: the detectors' regexes cost ~25 ms at import, and
    # `trace list` (which opens the store) never redacts.
    from traceforge_shared.redact import Redaction, Redactor
    from traceforge_shared.store import TraceStore
    from traceforge_shared.trace import Trace

__all__ = [
    "AmbiguousRunIdError",
    "RunFilter",
    "RunNotFoundError",
    "SessionNotFoundError",
    "SpanProblem",
    "SpanStore",
]

log = logging.getLogger("traceforge.store")

_MTIME_KEY = "spans_dir_mtime_ns"
_SUFFIX = ".jsonl"
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Span)
_HEX = frozenset("0123456789abcdef")


def _ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    return max(-(2**63), min(ns, 2**63 - 1))  # SQLite integers: year 9999 is "the end"


@dataclass(kw_only=True, eq=False)
class RunFilter:
    """Filters for :meth:`SpanStore.list_runs` (all optional, combined with AND).

    Attributes:
        session_id: only runs of this session.
        status: ``error`` (a span errored), ``ok`` or ``unset`` (the run's status).
        since: only runs starting at or after this time (aware datetime, or naive UTC).
        until: only runs starting before this time.
        tag: only runs with a span carrying this tag.
        kind: only runs whose root span is of this kind
            (:data:`~traceforge_shared.spans.SPAN_KINDS`).
        q: only runs whose root span name contains this text (any case).

    Raises:
        ValueError: an unknown status or kind.
    """

    session_id: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    tag: str | None = None
    kind: str | None = None
    q: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in SPAN_STATUSES:
            raise ValueError(
                f"unknown run status {self.status!r}; expected one of {', '.join(SPAN_STATUSES)}"
            )
        if self.kind is not None and self.kind not in SPAN_KINDS:
            raise ValueError(
                f"unknown span kind {self.kind!r}; expected one of {', '.join(SPAN_KINDS)}"
            )

    def sql(self) -> tuple[str, list[object]]:
        """The SQL ``WHERE`` clause over the ``runs`` table, and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (
            ("session_id", self.session_id),
            ("status", self.status),
            ("kind", self.kind),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.since is not None:
            clauses.append("start_ns >= ?")
            params.append(_ns(self.since))
        if self.until is not None:
            clauses.append("start_ns < ?")
            params.append(_ns(self.until))
        if self.tag:
            clauses.append("tags LIKE ? ESCAPE '\\'")
            params.append(tag_pattern(self.tag))
        if self.q:
            escaped = self.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("lower(name) LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        return " AND ".join(clauses), params


def _redactor_for(home: Path) -> Redactor:
    from traceforge_shared.config import ConfigError, config_path, load_config
    from traceforge_shared.redact import Redactor

    try:
        return Redactor(load_config(config_path(home)).redaction)
    except (ConfigError, OSError, ValueError):  # a bad config: redact with every kind on
        return Redactor()


def redact_span(redactor: Redactor, span: Span) -> Redaction:
    """Redact ``span`` in place (name, status message, attributes, event attributes, tags)
    like a trace's text (:meth:`traceforge_shared.redact.Redactor.redact_value`); returns
    what was found where (never the values)."""
    from traceforge_shared.redact import Redaction

    report = Redaction()
    if not redactor.config.enabled:
        return report
    span.name = redactor.redact_value(span.name, "name", report)
    if span.status_message:
        span.status_message = redactor.redact_value(span.status_message, "status_message", report)
    if span.attributes:
        span.attributes = redactor.redact_value(span.attributes, "attributes", report)
    for index, event in enumerate(span.events):
        if event.attributes:
            event.attributes = redactor.redact_value(
                event.attributes, f"events[{index}].attributes", report
            )
    if span.tags:
        span.tags = redactor.redact_value(span.tags, "tags", report)
    return report


class SpanStore:
    """Span files under ``<home>/spans`` and the run/session queries, for one
    :class:`~traceforge_shared.store.TraceStore` (reach it as ``store.spans``).

    Thread-safe; several processes may use one home, as with traces.

    Args:
        traces: the trace store whose home and index it shares.
        redactor: redacts every span before it is written; default: one made from the
            home's ``config.yaml`` ``redaction`` section (every kind on if it cannot be read).
    """

    def __init__(self, traces: TraceStore, *, redactor: Redactor | None = None) -> None:
        self.traces = traces
        self.dir = traces.home / "spans"
        self.index = SpanIndex(traces.index)
        self._redactor = redactor
        self._lock = threading.Lock()

    @property
    def redactor(self) -> Redactor:
        """The redactor every written span goes through."""
        if self._redactor is None:
            self._redactor = _redactor_for(self.traces.home)
        return self._redactor

    # -- writing ---------------------------------------------------------------------------

    def write(self, spans: Sequence[Span], *, fsync: bool | None = None) -> int:
        """Check, redact and store spans: one span file per run, then one index transaction.

        Writing a span again (same ``trace_id`` and ``span_id``) replaces it. The spans are
        redacted in place (:func:`redact_span`).

        Args:
            spans: any number, of any runs.
            fsync: flush each file before renaming it into place (default: the trace
                store's ``fsync``).

        Returns:
            How many spans were written.

        Raises:
            SpanProblem: a span is not valid (:func:`~traceforge_shared.spans.check_span`);
                nothing is written.
            OSError: a file could not be written; the runs written before it are indexed.
        """
        for span in spans:
            check_span(span)
        if not spans:
            return 0
        flush = self.traces.fsync if fsync is None else fsync
        by_run: dict[str, list[Span]] = defaultdict(list)
        for span in spans:
            redact_span(self.redactor, span)
            by_run[span.trace_id].append(span)
        self._refresh()
        written: list[tuple[Span, str]] = []
        segments: list[str] = []
        try:
            for trace_id, run_spans in by_run.items():
                name = f"{trace_id}-{time.time_ns():019d}{os.urandom(4).hex()}{_SUFFIX}"
                data = b"".join(_encoder.encode(span) + b"\n" for span in run_spans)
                path = self.dir / name
                try:
                    write_atomic(path, data, fsync=flush)
                except FileNotFoundError:
                    self.dir.mkdir(parents=True, exist_ok=True)
                    write_atomic(path, data, fsync=flush)
                segments.append(name)
                written += [(span, name) for span in run_spans]
        finally:
            if written:
                self.index.put(written, segments)
                self._note_mtime()
        return len(written)

    def index_traces(self, traces: Iterable[Trace]) -> int:
        """Index the spans derived from proxied calls (traces with a span context) in a
        transaction of their own; returns how many. (The trace store indexes them with the
        traces' rows instead, see :meth:`derived_writer`.)"""
        derived = [span for span in map(span_from_trace, traces) if span is not None]
        if derived:
            self.index.put([(span, "") for span in derived])
        return len(derived)

    def derived_writer(
        self, traces: Iterable[Trace]
    ) -> Callable[[sqlite3.Connection], None] | None:
        """For :meth:`TraceIndex.put` ``also``: writes the spans derived from these traces
        (those with a span context) in the transaction indexing the traces; ``None`` when
        none has a context. Makes sure first that the span tables exist (outside that
        transaction: a new span table under an index with traces is filled here)."""
        derived = [span for span in map(span_from_trace, traces) if span is not None]
        if not derived:
            return None
        _, refill = self.index.connection()
        if refill:
            with self._lock:
                self._backfill_traces()
        return self.index.writer(derived)

    def delete_runs(self, trace_ids: Iterable[str]) -> int:
        """Delete the span files of these runs and their spans from the index (the spans of
        proxied calls stay until their traces are deleted); returns how many files."""
        ids = {t for t in trace_ids if _is_run_id(t)}
        if not ids:
            return 0
        removed = 0
        for name in self._segment_names():
            if name.split("-", 1)[0] in ids:
                with contextlib.suppress(FileNotFoundError):
                    (self.dir / name).unlink()
                    removed += 1
        self.index.remove_runs(ids)
        self._note_mtime()
        return removed

    def prune(
        self,
        *,
        retention_days: int | None,
        max_runs: int | None,
        now: datetime | None = None,
    ) -> int:
        """Delete the span files of runs that ended more than ``retention_days`` ago and of
        the runs beyond the newest ``max_runs``; returns how many runs were pruned."""
        self._ready()
        cutoff = None
        if retention_days is not None:
            cutoff = _ns((now or datetime.now(UTC)) - timedelta(days=retention_days))
        doomed = self.index.prunable_runs(cutoff, max_runs)
        self.delete_runs(doomed)
        return len(doomed)

    def rebuild(self) -> int:
        """Empty the span tables and fill them again from the span and trace files; returns
        the number of spans indexed."""
        with self._lock:
            self.index.connection()
            self.index.clear()
            self.traces.index.set_meta(_MTIME_KEY, "")
            self._backfill_traces()
            self._reconcile(self._dir_mtime())
        conn = self.index.connection()[0]
        return int(conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0])

    # -- reading ---------------------------------------------------------------------------

    def list_runs(
        self, filters: RunFilter | None = None, *, limit: int | None = 50, offset: int = 0
    ) -> list[RunSummary]:
        """Runs, newest start first, from the index.

        Args:
            filters: what to keep; default everything.
            limit: at most this many (``None``: all).
            offset: skip this many first (paging).
        """
        self._ready()
        where, params = (filters or RunFilter()).sql()
        return self.index.runs(where, params, limit=limit, offset=offset)

    def count_runs(self, filters: RunFilter | None = None) -> int:
        """How many runs match ``filters``."""
        self._ready()
        where, params = (filters or RunFilter()).sql()
        return self.index.count_runs(where, params)

    def resolve_run_id(self, id_or_prefix: str) -> str:
        """The full id of the one run whose id starts with ``id_or_prefix``.

        Raises:
            RunNotFoundError: not hex, or no run matches.
            AmbiguousRunIdError: several runs match.
        """
        prefix = id_or_prefix.strip().lower()
        if not prefix or len(prefix) > 32 or not set(prefix) <= _HEX:
            raise RunNotFoundError(
                f"not a run id or id prefix: {id_or_prefix!r} (run ids are 32 hex digits)"
            )
        self._ready()
        matches = self.index.run_ids_with_prefix(prefix)
        if not matches:
            raise RunNotFoundError(f"no run with id or prefix {id_or_prefix!r}")
        if prefix in matches:
            return prefix
        if len(matches) > 1:
            raise AmbiguousRunIdError(id_or_prefix, matches)
        return matches[0]

    def get_run(self, id_or_prefix: str) -> list[Span]:
        """The spans of one run, tree-ordered: depth first, roots and siblings by start
        (spans whose parent is not in the run count as roots). Build the tree to show with
        :func:`traceforge_shared.views.runs.build_tree`.

        Raises:
            RunNotFoundError, AmbiguousRunIdError: see :meth:`resolve_run_id`.
        """
        trace_id = self.resolve_run_id(id_or_prefix)
        return tree_order(self.index.spans_of(trace_id))

    def get_run_summary(self, id_or_prefix: str) -> RunSummary:
        """The summary row of one run.

        Raises:
            RunNotFoundError, AmbiguousRunIdError: see :meth:`resolve_run_id`.
        """
        trace_id = self.resolve_run_id(id_or_prefix)
        rows = self.index.runs("trace_id = ?", [trace_id], limit=1)
        if not rows:
            raise RunNotFoundError(f"run {trace_id} was deleted")
        return rows[0]

    def list_sessions(
        self, *, limit: int | None = 50, offset: int = 0, since: datetime | None = None
    ) -> list[SessionSummary]:
        """Sessions (runs grouped by session id), latest activity first.

        Args:
            limit: at most this many (``None``: all).
            offset: skip this many first.
            since: only sessions with a run starting at or after this time.
        """
        self._ready()
        where, params = ("", []) if since is None else ("start_ns >= ?", [_ns(since)])
        return self.index.sessions(where, params, limit=limit, offset=offset)

    def get_session(self, session_id: str) -> list[RunSummary]:
        """The runs of one session, oldest first.

        Raises:
            SessionNotFoundError: no run has this session id.
        """
        self._ready()
        runs = self.index.session_runs(session_id)
        if not runs:
            raise SessionNotFoundError(f"no session with id {session_id!r}")
        return runs

    def iter_spans(
        self, since_ns: int | None = None, until_ns: int | None = None
    ) -> Iterator[Span]:
        """Every span (files and proxied calls) starting in ``[since_ns, until_ns)`` (Unix
        epoch ns, either bound optional), in start order, read 1000 at a time."""
        self._ready()
        yield from self.index.iter_spans(since_ns, until_ns)

    # -- keeping the index in step ---------------------------------------------------------

    def _ready(self) -> None:
        """Bring traces and spans into the index, recompute runs changed by deletions."""
        self.traces.refresh()
        self._refresh()
        self.index.settle()

    def _refresh(self) -> None:
        _, refill = self.index.connection()
        if refill:
            with self._lock:
                self._backfill_traces()
        mtime = self._dir_mtime()
        if self.traces.index.get_meta(_MTIME_KEY) == str(mtime):
            return
        with self._lock:
            self._reconcile(mtime)

    def _backfill_traces(self) -> None:
        """Derive the spans of every trace file holding a span context (after the span
        tables were created again under an index that already had traces)."""
        from traceforge_shared.store.files import decode_trace

        batch: list[Span] = []
        for trace_id in self.traces.index.ids():
            path = self.traces.path_for(trace_id)
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if b'"span":{' not in data:
                continue
            try:
                span = span_from_trace(decode_trace(data, source=str(path)))
            except Exception:
                continue
            if span is not None:
                batch.append(span)
            if len(batch) >= 2000:
                self.index.put([(s, "") for s in batch])
                batch = []
        if batch:
            self.index.put([(s, "") for s in batch])

    def _dir_mtime(self) -> int:
        try:
            return self.dir.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def _note_mtime(self) -> None:
        self.traces.index.set_meta(_MTIME_KEY, str(self._dir_mtime()))

    def _segment_names(self) -> list[str]:
        try:
            entries = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        return sorted(name for name in entries if _is_segment(name))

    def _reconcile(self, mtime: int) -> None:
        on_disk = set(self._segment_names())
        indexed = self.index.segments()
        gone = indexed - on_disk
        missing = on_disk - indexed
        reread: set[str] = set()
        if gone:
            # A file removed by hand: drop its run's file spans, read the run's others again.
            runs = {name.split("-", 1)[0] for name in gone}
            self.index.remove_runs(runs)
            reread = {name for name in on_disk if name.split("-", 1)[0] in runs}
        batch: list[tuple[Span, str]] = []
        names: list[str] = []
        for name in sorted(missing | reread):
            spans = self._read_segment(name)
            if spans is None:
                continue
            batch += [(span, name) for span in spans]
            names.append(name)
            if len(batch) >= 2000:
                self.index.put(batch, names)
                batch, names = [], []
        if batch or names:
            self.index.put(batch, names)
        self.traces.index.set_meta(_MTIME_KEY, str(mtime))

    def _read_segment(self, name: str) -> list[Span] | None:
        path = self.dir / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            log.warning("skipping %s: %s", path, exc)
            return None
        spans: list[Span] = []
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                span = _decoder.decode(line)
                check_span(span)
            except (msgspec.DecodeError, msgspec.ValidationError, SpanProblem) as exc:
                log.warning("skipping %s line %d: %s", path, number, exc)
                continue
            spans.append(span)
        return spans


def _is_run_id(text: str) -> bool:
    return len(text) == 32 and set(text) <= _HEX


def _is_segment(name: str) -> bool:
    return (
        name.endswith(_SUFFIX)
        and not name.startswith(".")
        and len(name) > 33
        and name[32] == "-"
        and _is_run_id(name[:32])
    )


def tree_order(spans: Sequence[Span]) -> list[Span]:
    """``spans`` (one run) depth first: roots (no parent, or a parent not among them) by
    start, each followed by its children by start. Cycle-safe: a span is listed once."""
    ids = {span.span_id for span in spans}
    children: dict[str | None, list[Span]] = defaultdict(list)
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        if parent == span.span_id:
            parent = None
        children[parent].append(span)
    for group in children.values():
        group.sort(key=lambda s: (s.start_ns, s.span_id))
    out: list[Span] = []
    seen: set[str] = set()
    stack: list[Any] = list(reversed(children.get(None, [])))
    while stack:
        span = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        out.append(span)
        stack += reversed(children.get(span.span_id, []))
    if len(out) < len(spans):  # spans in a parent cycle: no root leads to them
        rest = sorted((s for s in spans if s.span_id not in seen), key=lambda s: s.start_ns)
        out += rest
    return out

"""Cursor paging over the store's list (newest first), built on ``TraceStore.list`` only.

A cursor is an opaque token (URL-safe base64 of the JSON ``[timestamp, id]`` of the last
trace of a page). The next page holds the traces that sort after it in the list order
(``timestamp`` descending, then ``id`` descending): those with the same timestamp and a
smaller id, then those strictly older. Traces saved while a client pages (newer ones) never
shift the pages, unlike offsets, so a walk visits each trace once.

Timestamps are compared as the store writes them (ISO 8601 UTC with microseconds).
"""

from __future__ import annotations

import base64
import binascii
import copy
from datetime import UTC, datetime, timedelta

import msgspec

from traceforge_shared.ids import is_valid_id_prefix
from traceforge_shared.store import TraceFilter, TraceStore
from traceforge_shared.trace import TraceSummary
from traceforge_web_api.common import QueryError


class Cursor(msgspec.Struct, array_like=True, frozen=True):
    """The position after one trace: its ``timestamp`` (as stored) and ``id``."""

    timestamp: str
    id: str


def encode_cursor(summary: TraceSummary) -> str:
    """Return the cursor of the position just after ``summary``."""
    raw = msgspec.json.encode(Cursor(summary.timestamp, summary.id))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(token: str) -> tuple[Cursor, datetime]:
    """Return the cursor of ``token`` and its timestamp as an aware UTC datetime.

    Raises:
        QueryError: not a cursor this API made.
    """
    invalid = QueryError("cursor is not valid; use the next_cursor of a previous page")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = msgspec.json.decode(raw, type=Cursor)
        moment = datetime.fromisoformat(cursor.timestamp)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise invalid from None
    if not is_valid_id_prefix(cursor.id):
        raise invalid
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return cursor, moment.astimezone(UTC)
    except OverflowError:
        raise invalid from None


def _bounded(filters: TraceFilter, since: datetime | None, until: datetime | None) -> TraceFilter:
    """``filters`` with its time window narrowed to ``[since, until)`` as well."""
    narrowed = copy.copy(filters)
    if since is not None and (filters.since is None or _utc(filters.since) < since):
        narrowed.since = since
    if until is not None and (filters.until is None or _utc(filters.until) > until):
        narrowed.until = until
    return narrowed


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def page(
    store: TraceStore,
    filters: TraceFilter,
    *,
    limit: int,
    offset: int = 0,
    after: str | None = None,
) -> tuple[list[TraceSummary], bool]:
    """Return up to ``limit`` summaries matching ``filters`` and whether more follow.

    The page starts ``offset`` traces into the list, or just after the cursor token ``after``.

    Raises:
        QueryError: ``after`` is not a valid cursor.
    """
    if after is None:
        rows = store.list(filters, limit=limit + 1, offset=offset)
        return rows[:limit], len(rows) > limit
    cursor, moment = decode_cursor(after)
    try:
        next_instant: datetime | None = moment + timedelta(microseconds=1)
    except OverflowError:
        next_instant = None
    # Same timestamp, smaller id (rare: two traces in one microsecond).
    ties = [
        s
        for s in store.list(_bounded(filters, moment, next_instant), limit=None)
        if s.timestamp == cursor.timestamp and s.id < cursor.id
    ][: limit + 1]
    rest: list[TraceSummary] = []
    if len(ties) <= limit:
        rest = store.list(_bounded(filters, None, moment), limit=limit + 1 - len(ties))
    rows = ties + rest
    return rows[:limit], len(rows) > limit

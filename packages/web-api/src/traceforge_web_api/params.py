"""Query parameters: typed readers that raise :class:`~traceforge_web_api.common.QueryError`
(``400``) with a message naming the parameter, and the trace list filters.

Empty values (``?model=``) mean "not given" everywhere.
"""

from __future__ import annotations

from datetime import datetime

from starlette.datastructures import QueryParams

from traceforge_shared.store import MAX_QUERY_CHARS, SearchQueryError, TraceFilter
from traceforge_shared.trace import TRACE_STATUSES
from traceforge_shared.views.filters import FilterError
from traceforge_shared.views.filters import parse_filter as parse_grammar
from traceforge_shared.views.times import TimeOutOfRangeError, TimeParseError, parse_datetime
from traceforge_web_api.common import QueryError

#: Largest ``offset`` accepted (SQLite integers are 64-bit; this is JavaScript's safe limit).
MAX_OFFSET = 2**53 - 1

#: Longest ``q`` accepted, in characters: the store's limit for a full-text search.
MAX_Q_CHARS = MAX_QUERY_CHARS

#: Names of the query parameters :func:`parse_filter` reads.
FILTER_PARAMS = ("model", "provider", "status", "streaming", "since", "until", "q", "filter")


def int_param(
    params: QueryParams, name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    """Return an integer parameter within ``[minimum, maximum]``, or ``default``."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be an integer {bounds}, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise QueryError(f"{name} must be an integer {bounds}, got {raw!r}")
    return value


def bool_param(params: QueryParams, name: str) -> bool | None:
    """Return ``true``/``false`` (any case) as a bool, or ``None``."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise QueryError(f"{name} must be 'true' or 'false', got {raw!r}")


def datetime_param(params: QueryParams, name: str) -> datetime | None:
    """Return an ISO 8601 date or time as an aware UTC datetime (no offset: UTC, as
    everywhere: :func:`traceforge_shared.views.times.parse_datetime`), or ``None``."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_datetime(raw)
    except TimeOutOfRangeError:
        raise QueryError(f"{name} is out of range: {raw!r}") from None
    except TimeParseError:
        raise QueryError(
            f"{name} must be an ISO 8601 date or time (e.g. 2026-11-23T08:55:54Z), got {raw!r}"
        ) from None


def text_param(params: QueryParams, name: str) -> str | None:
    """Return a text parameter, or ``None`` when absent or empty."""
    raw = params.get(name)
    return raw if raw else None


def choice_param(params: QueryParams, name: str, choices: tuple[str, ...], default: str) -> str:
    """Return a parameter that must be one of ``choices``, or ``default``."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise QueryError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def parse_filter(params: QueryParams) -> TraceFilter:
    """Build the :class:`TraceFilter` of a list request from its query parameters.

    Recognised: ``model``, ``provider`` (exact match), ``status`` (one of
    :data:`~traceforge_shared.trace.TRACE_STATUSES`), ``streaming`` (``true``/``false``),
    ``since`` (at or after) and ``until`` (before), ISO 8601 with a time without offset
    taken as UTC, and ``q`` (the store's full-text search, :mod:`traceforge_shared.store.search`:
    every word, or ``"quoted phrase"``, must occur in the messages, the answer, the error, the
    model or the endpoint, any case; at most :data:`MAX_Q_CHARS` characters and 64 words),
    and ``filter``: a filter in the shared grammar (:mod:`traceforge_shared.views.filters`,
    docs/filters.md: ``model:~gemini status:error latency:>500 since:2h words``), ANDed with
    the other parameters (which override the same key).

    Raises:
        QueryError: a parameter has a value that cannot be used (for ``filter``: the
            grammar's message, e.g. an unknown key with the closest known one).
    """
    grammar = _grammar_filter(text_param(params, "filter"))
    q = text_param(params, "q")
    if q is not None and len(q) > MAX_Q_CHARS:
        raise QueryError(f"q must be at most {MAX_Q_CHARS} characters, got {len(q)}")
    status = text_param(params, "status")
    if status is not None and status not in TRACE_STATUSES:
        raise QueryError(f"status must be one of {', '.join(TRACE_STATUSES)}, got {status!r}")
    try:
        streaming = bool_param(params, "streaming")
        conditions = grammar.conditions
        if status is not None:  # replaces the filter's status (one or a group)
            conditions = tuple(c for c in conditions if c.column != "status")
        return TraceFilter(
            model=text_param(params, "model") or grammar.model,
            provider=text_param(params, "provider") or grammar.provider,
            status=status or grammar.status,
            streaming=grammar.streaming if streaming is None else streaming,
            since=datetime_param(params, "since") or grammar.since,
            until=datetime_param(params, "until") or grammar.until,
            q=" ".join(t for t in (grammar.q, q) if t) or None,
            conditions=conditions,
        )
    except SearchQueryError as exc:  # too many words
        raise QueryError(f"q: {exc}") from None


def _grammar_filter(text: str | None) -> TraceFilter:
    """The store filter of a ``filter`` parameter (an empty one when absent)."""
    if text is None:
        return TraceFilter()
    try:
        return parse_grammar(text).to_filter()
    except (FilterError, SearchQueryError) as exc:
        raise QueryError(f"filter: {exc}") from None

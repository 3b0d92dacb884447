"""Query parameters: typed readers that raise :class:`~traceforge_web_api.common.QueryError`
(``400``) with a message naming the parameter, and the trace list filters.

Empty values (``?model=``) mean "not given" everywhere.
"""

from __future__ import annotations

from datetime import datetime

from starlette.datastructures import QueryParams

from traceforge_shared.store import TraceFilter
from traceforge_shared.trace import TRACE_STATUSES
from traceforge_shared.views.times import TimeOutOfRangeError, TimeParseError, parse_datetime
from traceforge_web_api.common import QueryError

#: Largest ``offset`` accepted (SQLite integers are 64-bit; this is JavaScript's safe limit).
MAX_OFFSET = 2**53 - 1

#: Longest ``q`` accepted, in characters (SQLite refuses LIKE patterns over 50,000 bytes).
MAX_Q_CHARS = 4096

#: Names of the query parameters :func:`parse_filter` reads.
FILTER_PARAMS = ("model", "provider", "status", "streaming", "since", "until", "q")


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
    taken as UTC, and ``q`` (case-insensitive text of the messages or the answer, at most
    :data:`MAX_Q_CHARS` characters).

    Raises:
        QueryError: a parameter has a value that cannot be used.
    """
    q = text_param(params, "q")
    if q is not None and len(q) > MAX_Q_CHARS:
        raise QueryError(f"q must be at most {MAX_Q_CHARS} characters, got {len(q)}")
    status = text_param(params, "status")
    if status is not None and status not in TRACE_STATUSES:
        raise QueryError(f"status must be one of {', '.join(TRACE_STATUSES)}, got {status!r}")
    return TraceFilter(
        model=text_param(params, "model"),
        provider=text_param(params, "provider"),
        status=status,
        streaming=bool_param(params, "streaming"),
        since=datetime_param(params, "since"),
        until=datetime_param(params, "until"),
        q=q,
    )

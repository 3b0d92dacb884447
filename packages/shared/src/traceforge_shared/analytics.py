"""Dashboard numbers over a trace store: counts, success rate, latency percentiles, tokens,
cost, top models and providers, errors, and a timeline.

Everything is computed with SQL over the store's index (:mod:`traceforge_shared.store.index`),
never by parsing trace files, in one read transaction so the numbers agree with each other.
Units are in the names: ``*_ms`` milliseconds, tokens are counts, ``cost_usd`` US dollars.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec

from traceforge_shared.store import TraceFilter, TraceStore
from traceforge_shared.store.index import TraceIndex

__all__ = [
    "MAX_BUCKETS",
    "Analytics",
    "Bucket",
    "LatencyStats",
    "NameCount",
    "TimelineBucket",
    "TokenStats",
    "compute_analytics",
]

#: Width of a timeline bucket.
Bucket = Literal["minute", "hour", "day"]

#: Most buckets a timeline has; a finer bucket is widened until the span fits.
MAX_BUCKETS = 1000

_UNITS: tuple[Bucket, ...] = ("minute", "hour", "day")
_UNIT_SECONDS: dict[str, int] = {"minute": 60, "hour": 3600, "day": 86400}
_PERCENTILES = (50, 95, 99)
_WEEK = timedelta(days=7)
_MICROSECOND = timedelta(microseconds=1)


class LatencyStats(msgspec.Struct, kw_only=True):
    """Latency (``TraceMetadata.latency_ms``) over the traces, in ms; all ``None`` when there
    are no traces.

    Attributes:
        avg: arithmetic mean.
        p50, p95, p99: nearest-rank percentiles: the value at rank ``ceil(p/100 * n)`` of the
            ``n`` latencies sorted ascending (always a latency that occurred).
    """

    avg: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class TokenStats(msgspec.Struct, kw_only=True):
    """Token usage over the traces (traces without reported usage count 0).

    Attributes:
        total: sum of ``total_tokens``.
        prompt: sum of ``prompt_tokens``.
        completion: sum of ``completion_tokens``.
        avg_per_trace: ``total`` / number of traces; ``None`` when there are no traces.
    """

    total: int = 0
    prompt: int = 0
    completion: int = 0
    avg_per_trace: float | None = None


class NameCount(msgspec.Struct, kw_only=True):
    """A model or provider name and how many traces used it."""

    name: str
    count: int


class TimelineBucket(msgspec.Struct, kw_only=True):
    """One bucket of the timeline.

    Attributes:
        start: start of the bucket, ISO 8601 UTC (``2026-01-01T13:00:00Z``); the bucket runs
            ``Analytics.bucket_seconds`` from there.
        count: traces in the bucket.
        errors: those whose status is not ``success``.
    """

    start: str
    count: int
    errors: int


class Analytics(msgspec.Struct, kw_only=True):
    """Aggregates over the traces with ``since <= timestamp < until`` (both optional).

    JSON shape (``msgspec.json.encode``)::

        {"total": 120, "last_7_days": 80, "success_rate": 0.95,
         "latency_ms": {"avg": 812.5, "p50": 640.0, "p95": 2210.0, "p99": 4100.0},
         "tokens": {"total": 51234, "prompt": 40100, "completion": 11134,
                    "avg_per_trace": 426.95},
         "cost_usd_total": 0.0421, "cost_unpriced": 3,
         "models": [{"name": "gpt-4o-mini", "count": 100}, ...],
         "providers": [{"name": "openai", "count": 110}, ...],
         "errors_by_status": {"upstream_error": 4, "error": 2},
         "timeline": [{"start": "2026-01-01T13:00:00Z", "count": 7, "errors": 1}, ...],
         "bucket": "hour", "bucket_seconds": 3600,
         "since": "2026-01-01T00:00:00.000000Z", "until": null}

    Attributes:
        total: traces in the range.
        last_7_days: of those, the ones from the 7 days up to ``now``.
        success_rate: share (0-1) of traces whose status is ``success``; ``None`` if total 0.
        latency_ms: latency mean and percentiles, ms (:class:`LatencyStats`).
        tokens: token sums (:class:`TokenStats`).
        cost_usd_total: sum of the known costs, USD; ``None`` when no trace has a cost.
            A lower bound when ``cost_unpriced`` > 0 (shown as ``≥ $x (n unpriced)``:
            :func:`~traceforge_shared.views.units.cost_sum_text`).
        cost_unpriced: traces with token usage but no known cost (a model or provider
            genai-prices has no price for), left out of ``cost_usd_total``.
        models: traces per requested model, most used first (ties by name).
        providers: traces per provider, same order.
        errors_by_status: traces per non-``success`` status (``error``, ``upstream_error``,
            ``client_disconnected``), only statuses that occur, most frequent first.
        timeline: traces and errors per bucket from the bucket holding ``since`` (or the
            first trace) to the one holding ``until`` (exclusive; or the last trace), empty
            buckets included; ``[]`` when the range has no start (no ``since`` and no traces).
        bucket: the unit of the timeline buckets (``minute``, ``hour``, ``day``), after
            widening; ``None`` when the timeline is empty.
        bucket_seconds: the width of a bucket in seconds: the unit's, or a multiple of a day
            when even daily buckets would be more than :data:`MAX_BUCKETS`.
        since, until: the range asked for, ISO 8601 UTC, or ``None``.
    """

    total: int
    last_7_days: int
    success_rate: float | None
    latency_ms: LatencyStats
    tokens: TokenStats
    cost_usd_total: float | None
    cost_unpriced: int = 0
    models: list[NameCount]
    providers: list[NameCount]
    errors_by_status: dict[str, int]
    timeline: list[TimelineBucket]
    bucket: str | None
    bucket_seconds: int | None
    since: str | None
    until: str | None


def compute_analytics(
    store: TraceStore,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: Literal["minute", "hour", "day"] | None = None,
    now: datetime | None = None,
) -> Analytics:
    """Return the :class:`Analytics` of the traces with ``since <= timestamp < until``.

    Reads only the store's index (after :meth:`TraceStore.refresh`, which parses just the
    files the index has not seen yet), with a handful of SQL queries.

    Args:
        store: the trace store.
        since: start of the range, inclusive (aware datetime, or naive UTC); default: none.
        until: end of the range, exclusive; default: none.
        bucket: timeline bucket unit; default ``hour`` when the timeline spans at most 3 days,
            else ``day``. Widened (minute → hour → day → several days) until the timeline has
            at most :data:`MAX_BUCKETS` buckets.
        now: the present, for ``last_7_days``; default the current time (UTC).

    ``since`` after ``until`` is an empty range, not an error.

    Raises:
        ValueError: ``bucket`` is not ``minute``, ``hour`` or ``day``.
    """
    if bucket is not None and bucket not in _UNIT_SECONDS:
        raise ValueError(f"unknown bucket {bucket!r}; expected minute, hour or day")
    since = _utc(since)
    until = _utc(until)
    now = _utc(now) or datetime.now(UTC)
    where, params = TraceFilter(since=since, until=until).sql()
    store.refresh()
    index = store.index
    with index.snapshot():
        totals = index.totals(
            where, params, recent_since=_iso(_shift(now, -_WEEK)), recent_until=_iso(now)
        )
        n = totals.rows
        unpriced_where = "cost_usd IS NULL AND total_tokens > 0"
        unpriced = index.count(
            f"({where}) AND {unpriced_where}" if where else unpriced_where, params
        )
        latency = LatencyStats()
        if n:
            # Nearest rank: the ceil(p/100 * n)-th smallest, as a 0-based offset.
            offsets = [max(1, -(-p * n // 100)) - 1 for p in _PERCENTILES]
            p50, p95, p99 = index.values_at_offsets("latency_ms", where, params, offsets)
            latency = LatencyStats(avg=totals.latency_ms_avg, p50=p50, p95=p95, p99=p99)
        models = [NameCount(name=k, count=c) for k, c in index.counts_by("model", where, params)]
        providers = [
            NameCount(name=k, count=c) for k, c in index.counts_by("provider", where, params)
        ]
        errors = {str(k): c for k, c in index.counts_by("status", where, params) if k != "success"}
        start = since or _parse(totals.first)
        last: datetime | None = None
        if until is not None:
            last = _shift(until, -_MICROSECOND)
        else:
            last = _parse(totals.last) or (now if since is not None else None)
        unit, width, timeline = _timeline(index, where, params, start, last, bucket)
    return Analytics(
        total=n,
        last_7_days=totals.recent,
        success_rate=totals.successes / n if n else None,
        latency_ms=latency,
        tokens=TokenStats(
            total=totals.total_tokens,
            prompt=totals.prompt_tokens,
            completion=totals.completion_tokens,
            avg_per_trace=totals.total_tokens / n if n else None,
        ),
        cost_usd_total=totals.cost_usd,
        cost_unpriced=unpriced,
        models=models,
        providers=providers,
        errors_by_status=errors,
        timeline=timeline,
        bucket=unit,
        bucket_seconds=width,
        since=None if since is None else _iso(since),
        until=None if until is None else _iso(until),
    )


def _timeline(
    index: TraceIndex,
    where: str,
    params: list[object],
    start: datetime | None,
    last: datetime | None,
    bucket: str | None,
) -> tuple[str | None, int | None, list[TimelineBucket]]:
    """Buckets from the one holding ``start`` to the one holding ``last`` (both inclusive)."""
    if start is None or last is None or last < start:
        return None, None, []
    unit = bucket or ("hour" if last - start <= timedelta(days=3) else "day")
    while True:
        first = _floor(start, unit)
        units = (_floor(last, unit) - first) // timedelta(seconds=_UNIT_SECONDS[unit]) + 1
        if units <= MAX_BUCKETS or unit == "day":
            break
        unit = _UNITS[_UNITS.index(unit) + 1]
    step = -(-units // MAX_BUCKETS)  # several days per bucket past MAX_BUCKETS days
    width = timedelta(seconds=_UNIT_SECONDS[unit] * step)
    count = -(-units // step)
    starts: list[datetime] = []  # of each bucket, then the end of the last
    for i in range(count + 1):
        try:
            starts.append(first + i * width)
        except OverflowError:  # the last bucket ends past the year 9999
            break
    bounds = [_iso(moment) for moment in starts]
    if len(bounds) == count:
        bounds.append("~")  # sorts after every timestamp
    counts = index.counts_in_ranges(bounds, where, params)
    timeline = [
        TimelineBucket(start=_iso(moment)[:19] + "Z", count=count, errors=errors)
        for moment, (count, errors) in zip(starts, counts, strict=False)
    ]
    return unit, int(width.total_seconds()), timeline


def _floor(moment: datetime, unit: str) -> datetime:
    if unit == "minute":
        return moment.replace(second=0, microsecond=0)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _shift(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held at the ends of the calendar (years 1 and 9999)."""
    try:
        return moment + delta
    except OverflowError:
        return (datetime.max if delta > timedelta(0) else datetime.min).replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    """``2026-01-01T00:00:00.000000Z``, the trace timestamp format (4-digit years always)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _parse(timestamp: str | None) -> datetime | None:
    """Parse an index timestamp (``2026-01-01T00:00:00.000000Z``); ``None`` if unreadable."""
    if not timestamp:
        return None
    try:
        return _utc(datetime.fromisoformat(timestamp.replace("Z", "+00:00")))
    except ValueError:
        return None

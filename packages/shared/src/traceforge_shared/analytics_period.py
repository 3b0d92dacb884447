"""Analytics of one time range (the dashboard's 1h / 24h / 7d / 30d / all) and of the range
before it: a timeline whose buckets fit the range and the data, per-model numbers (calls,
error rate, latency percentiles, time to first token, tokens, cost), cost per day, providers,
and the totals of both ranges for "change against the previous period".

Computed with SQL over the store's index (never the trace files), in one read transaction.
Units are in the names: ``*_ms`` milliseconds, ``*_usd`` US dollars, tokens are counts;
percentiles are nearest-rank (the value at rank ``ceil(p/100 * n)``, always one that
occurred), as in :mod:`traceforge_shared.analytics`. Errors are every status but
``success`` (:data:`traceforge_shared.views.filters.FAILURE_STATUSES`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from traceforge_shared.analytics import NameCount, TimelineBucket
from traceforge_shared.store import TraceFilter, TraceStore

__all__ = [
    "BUCKET_WIDTHS_S",
    "MAX_TIMELINE_BUCKETS",
    "RANGES",
    "DayCost",
    "ModelStats",
    "PeriodAnalytics",
    "PeriodTotals",
    "compute_period",
    "pick_bucket_seconds",
]

#: The ranges offered, by name: how far back from "now" (``None``: every trace).
RANGES: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}

#: Bucket widths a timeline may use, seconds: 1, 5, 15 minutes, 1 and 6 hours, 1 and 7 days.
BUCKET_WIDTHS_S: tuple[int, ...] = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)

#: Most buckets of a timeline (the narrowest width that fits is used).
MAX_TIMELINE_BUCKETS = 60

#: When the calls of a range span less than this share of it, the timeline zooms to them
#: (a day's traffic that fell in one hour is drawn in minutes, not as one hourly block).
ZOOM_SHARE = 1 / 8


class ModelStats(msgspec.Struct, kw_only=True):
    """One requested model's numbers over the range.

    Attributes:
        model: the model asked for (``""`` when the request named none).
        calls: traces.
        errors: of those, the ones whose status is not ``success``.
        error_rate: ``errors / calls`` (0-1).
        latency_p50_ms, latency_p95_ms: nearest-rank latency percentiles, ms.
        ttft_p50_ms: median time to first token (first chunk) of its streamed calls, ms;
            ``None`` when none streamed.
        total_tokens: sum of total tokens.
        cost_usd: sum of the known costs, USD; ``None`` when no call has one.
        cost_unpriced: calls with tokens but no known cost (``cost_usd`` is a lower bound).
    """

    model: str
    calls: int
    errors: int
    error_rate: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None
    total_tokens: int
    cost_usd: float | None
    cost_unpriced: int


class DayCost(msgspec.Struct, kw_only=True):
    """Cost of one UTC day of the range.

    Attributes:
        day: ``2026-11-23``.
        calls: traces that day.
        cost_usd: sum of the known costs, USD; ``None`` when none has one.
        cost_unpriced: calls with tokens but no known cost.
    """

    day: str
    calls: int
    cost_usd: float | None
    cost_unpriced: int


class PeriodTotals(msgspec.Struct, kw_only=True):
    """Totals of one range (the range shown, or the one before it).

    Attributes:
        calls: traces.
        errors: of those, not ``success``.
        error_rate: ``errors / calls``; ``None`` without calls.
        latency_p95_ms: nearest-rank p95 latency, ms; ``None`` without calls.
        total_tokens: sum of total tokens.
        cost_usd: sum of the known costs, USD; ``None`` when none has one.
        cost_unpriced: calls with tokens but no known cost.
    """

    calls: int
    errors: int
    error_rate: float | None
    latency_p95_ms: float | None
    total_tokens: int
    cost_usd: float | None
    cost_unpriced: int


class PeriodAnalytics(msgspec.Struct, kw_only=True):
    """The numbers of one range (see the module docstring).

    Attributes:
        range: the range's name (a key of :data:`RANGES`).
        since: start of the range, ISO 8601 UTC; ``None`` for ``all``.
        until: its end (the "now" used), ISO 8601 UTC.
        totals: this range's totals; ``previous``: the same-length range just before it
            (``None`` for ``all``).
        timeline: calls and errors per bucket, empty buckets included, from the bucket
            holding the window's start to the one holding its end; ``[]`` without calls.
        bucket_seconds: width of a bucket (one of :data:`BUCKET_WIDTHS_S`); ``None``
            without calls.
        zoomed: the timeline covers only the span of the calls (less than
            :data:`ZOOM_SHARE` of the range), not the whole range.
        models: per model, most calls first (ties by name).
        providers: calls per provider, most first.
        cost_per_day: per UTC day that has calls, oldest first.
    """

    range: str
    since: str | None
    until: str
    totals: PeriodTotals
    previous: PeriodTotals | None
    timeline: list[TimelineBucket]
    bucket_seconds: int | None
    zoomed: bool
    models: list[ModelStats]
    providers: list[NameCount]
    cost_per_day: list[DayCost]


def pick_bucket_seconds(span: timedelta) -> int:
    """The narrowest width of :data:`BUCKET_WIDTHS_S` giving at most
    :data:`MAX_TIMELINE_BUCKETS` buckets over ``span`` (the widest when none does)."""
    seconds = max(span.total_seconds(), 1.0)
    for width in BUCKET_WIDTHS_S:
        if math.ceil(seconds / width) <= MAX_TIMELINE_BUCKETS:
            return width
    return BUCKET_WIDTHS_S[-1]


def compute_period(
    store: TraceStore,
    range_name: str,
    *,
    now: datetime | None = None,
    base: TraceFilter | None = None,
) -> PeriodAnalytics:
    """Return the :class:`PeriodAnalytics` of the range ``range_name`` ending at ``now``.

    Args:
        store: the trace store (its index is refreshed first).
        range_name: a key of :data:`RANGES`.
        now: the end of the range; default the current time (UTC).
        base: more conditions every number obeys (e.g. leaving out test traffic); its
            ``since``/``until`` are replaced by the range's.

    Raises:
        ValueError: an unknown range name.
    """
    if range_name not in RANGES:
        raise ValueError(f"unknown range {range_name!r}; expected one of {', '.join(RANGES)}")
    end = _utc(now or datetime.now(UTC))
    length = RANGES[range_name]
    start = None if length is None else end - length
    base = base or TraceFilter()
    where, params = replace(base, since=start, until=end).sql()
    store.refresh()
    index = store.index
    with index.snapshot():
        conn = index.connection()
        totals = _totals(conn, where, params)
        previous = None
        if start is not None and length is not None:
            before, before_params = replace(base, since=start - length, until=start).sql()
            previous = _totals(conn, before, before_params)
        first, last = conn.execute(
            f"SELECT MIN(timestamp), MAX(timestamp) FROM traces{_where(where)}", params
        ).fetchone()
        timeline, width, zoomed = _timeline(index, where, params, start, end, first, last)
        models = _models(conn, where, params)
        providers = [
            NameCount(name=str(k), count=c) for k, c in index.counts_by("provider", where, params)
        ]
        days = [
            DayCost(day=row[0], calls=int(row[1]), cost_usd=row[2], cost_unpriced=int(row[3]))
            for row in conn.execute(
                "SELECT substr(timestamp, 1, 10) AS day, COUNT(*), SUM(cost_usd),"
                f" COALESCE(SUM({_UNPRICED}), 0) FROM traces{_where(where)}"
                " GROUP BY day ORDER BY day",
                params,
            )
        ]
    return PeriodAnalytics(
        range=range_name,
        since=None if start is None else _iso(start),
        until=_iso(end),
        totals=totals,
        previous=previous,
        timeline=timeline,
        bucket_seconds=width,
        zoomed=zoomed,
        models=models,
        providers=providers,
        cost_per_day=days,
    )


_UNPRICED = "cost_usd IS NULL AND total_tokens > 0"


def _where(where: str) -> str:
    return f" WHERE {where}" if where else ""


def _rank(p: int) -> str:
    """The 1-based nearest rank of percentile ``p`` among ``n`` rows, in SQL."""
    return f"MAX(1, ({p} * n + 99) / 100)"


def _totals(conn: Any, where: str, params: list[object]) -> PeriodTotals:
    calls, errors, tokens, cost, unpriced = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(status != 'success'), 0),"
        f" COALESCE(SUM(total_tokens), 0), SUM(cost_usd), COALESCE(SUM({_UNPRICED}), 0)"
        f" FROM traces{_where(where)}",
        params,
    ).fetchone()
    p95 = None
    if calls:
        offset = max(1, -(-95 * calls // 100)) - 1
        row = conn.execute(
            f"SELECT latency_ms FROM traces{_where(where)} ORDER BY latency_ms LIMIT 1 OFFSET ?",
            [*params, offset],
        ).fetchone()
        p95 = None if row is None else row[0]
    return PeriodTotals(
        calls=int(calls),
        errors=int(errors),
        error_rate=errors / calls if calls else None,
        latency_p95_ms=p95,
        total_tokens=int(tokens),
        cost_usd=cost,
        cost_unpriced=int(unpriced),
    )


def _models(conn: Any, where: str, params: list[object]) -> list[ModelStats]:
    rows = conn.execute(
        "WITH r AS (SELECT model, status, latency_ms, total_tokens, cost_usd,"
        " ROW_NUMBER() OVER (PARTITION BY model ORDER BY latency_ms) AS rn,"
        f" COUNT(*) OVER (PARTITION BY model) AS n FROM traces{_where(where)})"
        " SELECT model, COUNT(*) AS calls, COALESCE(SUM(status != 'success'), 0),"
        f" MAX(CASE WHEN rn = {_rank(50)} THEN latency_ms END),"
        f" MAX(CASE WHEN rn = {_rank(95)} THEN latency_ms END),"
        f" COALESCE(SUM(total_tokens), 0), SUM(cost_usd), COALESCE(SUM({_UNPRICED}), 0)"
        " FROM r GROUP BY model ORDER BY calls DESC, model",
        params,
    ).fetchall()
    streamed = "first_chunk_latency_ms IS NOT NULL"
    ttft = dict(
        conn.execute(
            "WITH r AS (SELECT model, first_chunk_latency_ms AS v,"
            " ROW_NUMBER() OVER (PARTITION BY model ORDER BY first_chunk_latency_ms) AS rn,"
            " COUNT(*) OVER (PARTITION BY model) AS n FROM traces"
            f" WHERE {f'({where}) AND ' if where else ''}{streamed})"
            f" SELECT model, MAX(CASE WHEN rn = {_rank(50)} THEN v END) FROM r GROUP BY model",
            params,
        ).fetchall()
    )
    return [
        ModelStats(
            model=str(model),
            calls=int(calls),
            errors=int(errors),
            error_rate=errors / calls,
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            ttft_p50_ms=ttft.get(model),
            total_tokens=int(tokens),
            cost_usd=cost,
            cost_unpriced=int(unpriced),
        )
        for model, calls, errors, p50, p95, tokens, cost, unpriced in rows
    ]


def _timeline(
    index: Any,
    where: str,
    params: list[object],
    start: datetime | None,
    end: datetime,
    first: str | None,
    last: str | None,
) -> tuple[list[TimelineBucket], int | None, bool]:
    """Buckets over the range (or over its calls when they fill little of it)."""
    if first is None or last is None:
        return [], None, False
    lo, hi = _parse(first), _parse(last)
    zoomed = start is not None and (hi - lo) < (end - start) * ZOOM_SHARE
    if start is None or zoomed:
        window_start, window_end = lo, hi  # the last call included
    else:
        window_start, window_end = start, end - timedelta(microseconds=1)
    width = pick_bucket_seconds(window_end - window_start)
    step = timedelta(seconds=width)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    bucket_start = epoch + step * ((window_start - epoch) // step)
    starts = [bucket_start]
    while starts[-1] + step <= window_end:
        starts.append(starts[-1] + step)
    bounds = [_iso(moment) for moment in (*starts, starts[-1] + step)]
    counts = index.counts_in_ranges(bounds, where, params)
    timeline = [
        TimelineBucket(start=_iso(moment)[:19] + "Z", count=count, errors=errors)
        for moment, (count, errors) in zip(starts, counts, strict=True)
    ]
    return timeline, width, zoomed


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    """``2026-01-01T00:00:00.000000Z``, the trace timestamp format."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _parse(timestamp: str) -> datetime:
    return _utc(datetime.fromisoformat(timestamp.replace("Z", "+00:00")))

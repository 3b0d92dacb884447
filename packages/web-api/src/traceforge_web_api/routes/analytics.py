"""``GET /api/analytics?since=&until=&bucket=``: dashboard numbers over the stored traces.

Answers ``200`` the :class:`~traceforge_shared.analytics.Analytics` of the traces with
``since <= timestamp < until``: totals, success rate, latency mean and percentiles, tokens,
cost, top models and providers, errors by status and a timeline.

Query parameters (all optional): ``since``, ``until`` (ISO 8601; no offset means UTC) and
``bucket`` (``minute``, ``hour`` or ``day``: the timeline's bucket, widened when the range
would need more than 1000). ``400`` for a bad parameter or ``since`` after ``until``.

``GET /api/analytics/period?range=24h&filter=``: the TUI dashboard's numbers
(:class:`~traceforge_shared.analytics_period.PeriodAnalytics`): the range ``1h``, ``24h``,
``7d``, ``30d`` or ``all`` up to now, with adaptive timeline buckets, per-model calls, error
rate, p50/p95 latency, time to first token, tokens and cost, cost per day and the previous
range's totals; ``filter`` narrows every number (the shared grammar, docs/filters.md, e.g.
``source:test`` or ``provider:openai``; its time bounds are replaced by the range's).
"""

from __future__ import annotations

from typing import Literal, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from traceforge_shared.analytics import compute_analytics
from traceforge_shared.analytics_period import RANGES, compute_period
from traceforge_web_api.common import QueryError, get_store, json_response
from traceforge_web_api.params import choice_param, datetime_param, parse_filter

BUCKETS = ("minute", "hour", "day")


def analytics(request: Request) -> Response:
    """``GET /api/analytics`` -> ``200`` Analytics; ``400`` bad parameter."""
    params = request.query_params
    since = datetime_param(params, "since")
    until = datetime_param(params, "until")
    if since is not None and until is not None and since > until:
        raise QueryError("since must not be after until")
    bucket = choice_param(params, "bucket", BUCKETS, "") or None
    try:
        result = compute_analytics(
            get_store(request),
            since=since,
            until=until,
            bucket=cast(Literal["minute", "hour", "day"] | None, bucket),
        )
    except OverflowError:  # a timeline reaching past year 9999
        raise QueryError("since and until must lie between the years 1 and 9999") from None
    return json_response(result)


def analytics_period(request: Request) -> Response:
    """``GET /api/analytics/period`` -> ``200`` PeriodAnalytics; ``400`` bad parameter."""
    params = request.query_params
    name = choice_param(params, "range", tuple(RANGES), "24h")
    base = parse_filter(params)
    return json_response(compute_period(get_store(request), name, base=base))


routes: list[BaseRoute] = [
    Route("/api/analytics", analytics, methods=["GET"], name="analytics"),
    Route("/api/analytics/period", analytics_period, methods=["GET"], name="analytics_period"),
]

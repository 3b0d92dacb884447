"""Tests of store analytics (traceforge_shared.analytics.compute_analytics)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest

import traceforge_shared.store as store_module
from traceforge_shared.analytics import (
    MAX_BUCKETS,
    Analytics,
    LatencyStats,
    NameCount,
    TimelineBucket,
    TokenStats,
    compute_analytics,
)
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_shared.views.units import cost_sum_text

BASE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(traceforge_home: Path) -> Iterator[TraceStore]:
    s = TraceStore(fsync=False)
    yield s
    s.index.close()


def trace_at(moment: datetime, *, cost_usd: float | None = None, **kwargs: Any) -> Trace:
    trace = make_trace(epoch_s=moment.timestamp(), **kwargs)
    if cost_usd is None:
        return trace
    metadata = msgspec.structs.replace(trace.metadata, cost_usd=cost_usd)
    return msgspec.structs.replace(trace, metadata=metadata)


def save(store: TraceStore, *traces: Trace) -> None:
    for trace in traces:
        store.save(trace)


def buckets(result: Analytics) -> list[tuple[str, int, int]]:
    return [(b.start, b.count, b.errors) for b in result.timeline]


# -- empty -------------------------------------------------------------------------------------


def test_empty_store(store: TraceStore) -> None:
    result = compute_analytics(store, now=BASE)
    assert result == Analytics(
        total=0,
        last_7_days=0,
        success_rate=None,
        latency_ms=LatencyStats(),
        tokens=TokenStats(total=0, prompt=0, completion=0, avg_per_trace=None),
        cost_usd_total=None,
        models=[],
        providers=[],
        errors_by_status={},
        timeline=[],
        bucket=None,
        bucket_seconds=None,
        since=None,
        until=None,
    )


def test_empty_range_still_has_its_buckets(store: TraceStore) -> None:
    save(store, trace_at(BASE + timedelta(days=10)))
    result = compute_analytics(store, since=BASE, until=BASE + timedelta(hours=3), now=BASE)
    assert result.total == 0
    assert result.latency_ms == LatencyStats()
    assert buckets(result) == [
        ("2026-01-01T00:00:00Z", 0, 0),
        ("2026-01-01T01:00:00Z", 0, 0),
        ("2026-01-01T02:00:00Z", 0, 0),
    ]


def test_since_without_traces_runs_to_now(store: TraceStore) -> None:
    result = compute_analytics(store, since=BASE, now=BASE + timedelta(minutes=150))
    assert [b.start for b in result.timeline] == [
        "2026-01-01T00:00:00Z",
        "2026-01-01T01:00:00Z",
        "2026-01-01T02:00:00Z",
    ]
    assert compute_analytics(store, since=BASE, now=BASE - timedelta(hours=1)).timeline == []
    assert compute_analytics(store, until=BASE, now=BASE).timeline == []


# -- latency -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latencies", "expected"),
    [
        # Nearest rank: the ceil(p/100 * n)-th smallest.
        ([10.0 * i for i in range(1, 11)], LatencyStats(avg=55.0, p50=50.0, p95=100.0, p99=100.0)),
        ([float(i) for i in range(1, 101)], LatencyStats(avg=50.5, p50=50.0, p95=95.0, p99=99.0)),
        ([float(i) for i in range(1, 21)], LatencyStats(avg=10.5, p50=10.0, p95=19.0, p99=20.0)),
        ([7.5], LatencyStats(avg=7.5, p50=7.5, p95=7.5, p99=7.5)),
        ([1.0, 1000.0], LatencyStats(avg=500.5, p50=1.0, p95=1000.0, p99=1000.0)),
        ([5.0, 5.0, 5.0, 9.0], LatencyStats(avg=6.0, p50=5.0, p95=9.0, p99=9.0)),
    ],
)
def test_latency_percentiles(
    store: TraceStore, latencies: list[float], expected: LatencyStats
) -> None:
    shuffled = latencies[:]
    random.Random(7).shuffle(shuffled)  # saved in no particular order
    save(store, *(trace_at(BASE, latency_ms=ms) for ms in shuffled))
    assert compute_analytics(store, now=BASE).latency_ms == expected


def test_latency_percentiles_respect_the_range(store: TraceStore) -> None:
    save(store, *(trace_at(BASE + timedelta(minutes=i), latency_ms=i + 1.0) for i in range(100)))
    result = compute_analytics(store, since=BASE + timedelta(minutes=90))
    assert result.total == 10
    assert result.latency_ms == LatencyStats(avg=95.5, p50=95.0, p95=100.0, p99=100.0)


# -- statuses, models, providers, tokens, cost -------------------------------------------------


@pytest.fixture
def mixed(store: TraceStore) -> list[Trace]:
    """10 traces: 6 successes, 2 errors, 1 upstream error, 1 client disconnect."""
    specs: list[dict[str, Any]] = [
        {"model": "gpt-4o", "provider": "openai", "cost_usd": 0.25},
        {"model": "gpt-4o", "provider": "openai", "cost_usd": 0.5},
        {"model": "gpt-4o", "provider": "openai", "status": "error", "status_code": 429},
        {"model": "gpt-4o-mini", "provider": "openai"},
        {"model": "gpt-4o-mini", "provider": "openai", "status": "error", "status_code": 500},
        {"model": "claude", "provider": "anthropic", "cost_usd": 1.0},
        {"model": "claude", "provider": "anthropic", "status": "upstream_error"},
        {"model": "llama", "provider": "ollama"},
        {"model": "llama", "provider": "ollama", "status": "client_disconnected"},
        {"model": "gemini", "provider": "gemini"},
    ]
    traces = [
        trace_at(BASE + timedelta(minutes=i), prompt_tokens=10 * (i + 1), completion_tokens=i, **s)
        for i, s in enumerate(specs)
    ]
    save(store, *traces)
    return traces


def test_counts_rates_tokens_and_cost(store: TraceStore, mixed: list[Trace]) -> None:
    result = compute_analytics(store, now=BASE)
    assert result.total == 10
    assert result.success_rate == pytest.approx(0.6)
    assert result.errors_by_status == {"error": 2, "client_disconnected": 1, "upstream_error": 1}
    assert list(result.errors_by_status) == ["error", "client_disconnected", "upstream_error"]
    assert result.models == [
        NameCount(name="gpt-4o", count=3),
        NameCount(name="claude", count=2),
        NameCount(name="gpt-4o-mini", count=2),
        NameCount(name="llama", count=2),
        NameCount(name="gemini", count=1),
    ]
    assert result.providers == [
        NameCount(name="openai", count=5),
        NameCount(name="anthropic", count=2),
        NameCount(name="ollama", count=2),
        NameCount(name="gemini", count=1),
    ]
    prompt = sum(10 * (i + 1) for i in range(10))  # 550
    completion = sum(range(10))  # 45
    assert result.tokens == TokenStats(
        total=prompt + completion,
        prompt=prompt,
        completion=completion,
        avg_per_trace=(prompt + completion) / 10,
    )
    assert result.cost_usd_total == pytest.approx(1.75)


def test_no_cost_is_none_and_all_success_has_no_errors(store: TraceStore) -> None:
    save(store, trace_at(BASE), trace_at(BASE))
    result = compute_analytics(store, now=BASE)
    assert result.cost_usd_total is None
    assert result.success_rate == 1.0
    assert result.errors_by_status == {}


def test_zero_cost_is_a_known_cost(store: TraceStore) -> None:
    save(store, trace_at(BASE, cost_usd=0.0), trace_at(BASE))
    assert compute_analytics(store, now=BASE).cost_usd_total == 0.0


def test_last_7_days_is_relative_to_now(store: TraceStore) -> None:
    now = BASE + timedelta(days=30)
    save(
        store,
        trace_at(now - timedelta(days=1)),
        trace_at(now - timedelta(days=6, hours=23)),
        trace_at(now - timedelta(days=7)),  # exactly 7 days ago: in
        trace_at(now - timedelta(days=7, seconds=1)),
        trace_at(now - timedelta(days=20)),
        trace_at(now + timedelta(hours=1)),  # after now: not in the last 7 days
    )
    result = compute_analytics(store, now=now)
    assert result.total == 6
    assert result.last_7_days == 3
    # Within a range, only the range's traces count.
    ranged = compute_analytics(store, now=now, until=now - timedelta(days=2))
    assert (ranged.total, ranged.last_7_days) == (4, 2)


def test_default_now_is_the_current_time(store: TraceStore) -> None:
    save(store, make_trace(), trace_at(datetime.now(UTC) - timedelta(days=8)))
    assert compute_analytics(store).last_7_days == 1


# -- range -------------------------------------------------------------------------------------


def test_since_until_filter_and_are_echoed(store: TraceStore, mixed: list[Trace]) -> None:
    since, until = BASE + timedelta(minutes=2), BASE + timedelta(minutes=5)
    result = compute_analytics(store, since=since, until=until, now=BASE)
    assert result.total == 3  # minutes 2, 3, 4; until is exclusive
    assert result.models == [
        NameCount(name="gpt-4o-mini", count=2),
        NameCount(name="gpt-4o", count=1),
    ]
    assert result.errors_by_status == {"error": 2}
    assert result.since == "2026-01-01T00:02:00.000000Z"
    assert result.until == "2026-01-01T00:05:00.000000Z"
    assert buckets(result) == [("2026-01-01T00:00:00Z", 3, 2)]


def test_naive_and_offset_datetimes_are_utc(store: TraceStore, mixed: list[Trace]) -> None:
    plus_two = timezone(timedelta(hours=2))
    aware = compute_analytics(store, since=(BASE + timedelta(minutes=8)).astimezone(plus_two))
    naive = compute_analytics(store, since=datetime(2026, 1, 1, 0, 8))
    assert aware.total == naive.total == 2
    assert aware.since == naive.since == "2026-01-01T00:08:00.000000Z"


def test_unknown_bucket_raises(store: TraceStore) -> None:
    with pytest.raises(ValueError, match="unknown bucket 'week'"):
        compute_analytics(store, bucket="week")  # type: ignore[arg-type]


# -- timeline ----------------------------------------------------------------------------------


def test_hourly_timeline_with_gaps(store: TraceStore) -> None:
    save(
        store,
        trace_at(BASE + timedelta(minutes=10)),
        trace_at(BASE + timedelta(minutes=20), status="error", status_code=500),
        trace_at(BASE + timedelta(hours=3, minutes=5), status="upstream_error"),
        trace_at(BASE + timedelta(hours=3, minutes=59, seconds=59)),
        trace_at(BASE + timedelta(hours=5)),
    )
    result = compute_analytics(store, now=BASE)
    assert result.bucket == "hour"
    assert result.bucket_seconds == 3600
    assert buckets(result) == [
        ("2026-01-01T00:00:00Z", 2, 1),
        ("2026-01-01T01:00:00Z", 0, 0),
        ("2026-01-01T02:00:00Z", 0, 0),
        ("2026-01-01T03:00:00Z", 2, 1),
        ("2026-01-01T04:00:00Z", 0, 0),
        ("2026-01-01T05:00:00Z", 1, 0),
    ]


def test_default_bucket_is_day_past_three_days(store: TraceStore) -> None:
    save(store, trace_at(BASE + timedelta(hours=12)), trace_at(BASE + timedelta(days=3, hours=13)))
    result = compute_analytics(store, now=BASE)
    assert result.bucket == "day"
    assert buckets(result) == [
        ("2026-01-01T00:00:00Z", 1, 0),
        ("2026-01-02T00:00:00Z", 0, 0),
        ("2026-01-03T00:00:00Z", 0, 0),
        ("2026-01-04T00:00:00Z", 1, 0),
    ]
    exactly_three_days = compute_analytics(store, since=BASE + timedelta(hours=13), now=BASE)
    assert exactly_three_days.bucket == "hour"
    assert len(exactly_three_days.timeline) == 73


def test_minute_buckets(store: TraceStore) -> None:
    save(store, *(trace_at(BASE + timedelta(seconds=s)) for s in (10, 50, 200)))
    result = compute_analytics(store, bucket="minute", now=BASE)
    assert result.bucket_seconds == 60
    assert buckets(result) == [
        ("2026-01-01T00:00:00Z", 2, 0),
        ("2026-01-01T00:01:00Z", 0, 0),
        ("2026-01-01T00:02:00Z", 0, 0),
        ("2026-01-01T00:03:00Z", 1, 0),
    ]


def test_until_on_a_bucket_boundary_adds_no_bucket(store: TraceStore) -> None:
    save(store, trace_at(BASE + timedelta(minutes=30)))
    result = compute_analytics(store, since=BASE, until=BASE + timedelta(hours=2), now=BASE)
    assert buckets(result) == [("2026-01-01T00:00:00Z", 1, 0), ("2026-01-01T01:00:00Z", 0, 0)]
    later = BASE + timedelta(minutes=45)
    result = compute_analytics(store, since=later, bucket="hour", now=later)
    assert buckets(result) == [("2026-01-01T00:00:00Z", 0, 0)]  # the bucket holding since


def test_too_many_minutes_widen_to_hours_then_days(store: TraceStore) -> None:
    save(store, trace_at(BASE), trace_at(BASE + timedelta(minutes=MAX_BUCKETS)))
    result = compute_analytics(store, bucket="minute", now=BASE)
    assert (result.bucket, result.bucket_seconds, len(result.timeline)) == ("hour", 3600, 17)
    assert sum(b.count for b in result.timeline) == 2

    save(store, trace_at(BASE + timedelta(hours=MAX_BUCKETS)))
    result = compute_analytics(store, bucket="minute", now=BASE)
    assert (result.bucket, result.bucket_seconds, len(result.timeline)) == ("day", 86400, 42)


def test_exactly_max_buckets_is_not_widened(store: TraceStore) -> None:
    save(store, trace_at(BASE), trace_at(BASE + timedelta(minutes=MAX_BUCKETS - 1)))
    result = compute_analytics(store, bucket="minute", now=BASE)
    assert (result.bucket, len(result.timeline)) == ("minute", MAX_BUCKETS)


def test_years_of_days_become_multi_day_buckets(store: TraceStore) -> None:
    last = BASE + timedelta(days=2999, hours=5)
    save(store, trace_at(BASE), trace_at(BASE + timedelta(days=4)), trace_at(last))
    result = compute_analytics(store, now=BASE)
    assert result.bucket == "day"
    assert result.bucket_seconds == 3 * 86400
    assert len(result.timeline) == MAX_BUCKETS
    assert buckets(result)[:3] == [
        ("2026-01-01T00:00:00Z", 1, 0),
        ("2026-01-04T00:00:00Z", 1, 0),  # Jan 4-6 holds the trace of Jan 5
        ("2026-01-07T00:00:00Z", 0, 0),
    ]
    assert result.timeline[-1] == TimelineBucket(start="2034-03-17T00:00:00Z", count=1, errors=0)
    assert sum(b.count for b in result.timeline) == 3


# -- index only --------------------------------------------------------------------------------


def test_reads_only_the_index(
    store: TraceStore, mixed: list[Trace], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parse(path: Path) -> Trace:
        raise AssertionError(f"parsed {path}")

    monkeypatch.setattr(store_module, "read_trace_file", no_parse)
    assert compute_analytics(store, now=BASE).total == 10


def test_sees_traces_saved_by_another_store(store: TraceStore, mixed: list[Trace]) -> None:
    assert compute_analytics(store, now=BASE).total == 10
    other = TraceStore(fsync=False)
    other.save(trace_at(BASE + timedelta(hours=1), model="late"))
    other.index.close()
    result = compute_analytics(store, now=BASE)
    assert result.total == 11
    assert NameCount(name="late", count=1) in result.models


def test_json_shape(store: TraceStore, mixed: list[Trace]) -> None:
    doc = msgspec.json.decode(msgspec.json.encode(compute_analytics(store, now=BASE)))
    assert list(doc) == [
        "total",
        "last_7_days",
        "success_rate",
        "latency_ms",
        "tokens",
        "cost_usd_total",
        "cost_unpriced",
        "models",
        "providers",
        "errors_by_status",
        "timeline",
        "bucket",
        "bucket_seconds",
        "since",
        "until",
    ]
    assert list(doc["latency_ms"]) == ["avg", "p50", "p95", "p99"]
    assert list(doc["tokens"]) == ["total", "prompt", "completion", "avg_per_trace"]
    assert doc["models"][0] == {"name": "gpt-4o", "count": 3}
    assert doc["timeline"] == [{"start": "2026-01-01T00:00:00Z", "count": 10, "errors": 4}]


def test_ranges_at_the_ends_of_the_calendar(store: TraceStore) -> None:
    end = datetime(9999, 12, 31, 23, 59, 30, tzinfo=UTC)
    save(store, trace_at(end), trace_at(BASE))
    result = compute_analytics(store, since=end - timedelta(hours=1), bucket="minute", now=BASE)
    assert result.total == 1
    assert len(result.timeline) == 61
    assert result.timeline[-1] == TimelineBucket(start="9999-12-31T23:59:00Z", count=1, errors=0)
    everything = compute_analytics(store, since=datetime.min, until=datetime.max, now=datetime.max)
    assert (everything.since, everything.until) == (
        "0001-01-01T00:00:00.000000Z",
        "9999-12-31T23:59:59.999999Z",
    )
    assert len(everything.timeline) == MAX_BUCKETS
    assert sum(b.count for b in everything.timeline) == everything.total == 2
    assert everything.last_7_days == 1
    assert compute_analytics(store, until=datetime.min, now=datetime.min).total == 0


def test_unpriced_calls_are_counted_not_summed_as_zero(store: TraceStore) -> None:
    save(
        store,
        trace_at(BASE, cost_usd=0.25, model="gpt-4o", prompt_tokens=10, completion_tokens=5),
        trace_at(BASE, model="made-up-model", prompt_tokens=10, completion_tokens=5),
        trace_at(BASE, model="made-up-model", prompt_tokens=7, completion_tokens=1),
    )
    result = compute_analytics(store, now=BASE)
    assert (result.cost_usd_total, result.cost_unpriced) == (0.25, 2)
    assert cost_sum_text(result.cost_usd_total, result.cost_unpriced) == "≥ $0.250000 (2 unpriced)"

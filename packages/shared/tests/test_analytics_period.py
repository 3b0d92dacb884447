"""Analytics of one range and the one before it (traceforge_shared.analytics_period) over a
real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_shared.analytics_period import (
    MAX_TIMELINE_BUCKETS,
    compute_period,
    pick_bucket_seconds,
)
from traceforge_shared.store import Condition, TraceFilter, TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _at(minutes_ago: float, **spec: Any) -> Trace:
    return make_trace(epoch_s=(NOW - timedelta(minutes=minutes_ago)).timestamp(), **spec)


def _priced(trace: Trace, cost: float, ttft: float | None = None) -> Trace:
    metadata = msgspec.structs.replace(trace.metadata, cost_usd=cost, first_chunk_latency_ms=ttft)
    return msgspec.structs.replace(trace, metadata=metadata)


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "home", fsync=False)


def test_per_model_numbers(store: TraceStore) -> None:
    latencies = [100.0, 200.0, 300.0, 400.0, 1000.0]
    for i, latency in enumerate(latencies):
        trace = _at(5 + i, model="gpt-4o", latency_ms=latency)
        store.save(_priced(trace, 0.01, ttft=50.0 * (i + 1)))
    store.save(_at(3, model="gpt-4o", latency_ms=150.0, status="upstream_error"))
    store.save(_at(4, model="gemini-2.0-flash", provider="gemini", latency_ms=80.0))
    period = compute_period(store, "1h", now=NOW)
    gpt, gemini = period.models
    assert (gpt.model, gpt.calls, gpt.errors) == ("gpt-4o", 6, 1)
    assert gpt.error_rate == pytest.approx(1 / 6)
    # 100 150 200 300 400 1000: rank ceil(0.5*6)=3 → 200, rank ceil(0.95*6)=6 → 1000.
    assert (gpt.latency_p50_ms, gpt.latency_p95_ms) == (200.0, 1000.0)
    assert gpt.ttft_p50_ms == 150.0  # 50 100 150 200 250: rank 3
    assert gpt.total_tokens == 6 * 15
    assert gpt.cost_usd == pytest.approx(0.05)
    assert gpt.cost_unpriced == 1  # the failed call had tokens and no price
    assert (gemini.calls, gemini.ttft_p50_ms, gemini.cost_usd) == (1, None, None)
    assert [(p.name, p.count) for p in period.providers] == [("openai", 6), ("gemini", 1)]


def test_one_hour_range_has_minute_buckets_with_counts(store: TraceStore) -> None:
    for minutes_ago in (2.5, 2.2, 30, 30.1, 30.2, 59, 600, 1400):
        store.save(_at(minutes_ago))
    period = compute_period(store, "1h", now=NOW)
    assert period.bucket_seconds == 60
    assert not period.zoomed
    assert len(period.timeline) == MAX_TIMELINE_BUCKETS  # 11:00 to 11:59
    assert period.timeline[0].start == "2026-11-23T11:00:00Z"
    counts = {b.start: b.count for b in period.timeline if b.count}
    assert counts == {
        "2026-11-23T11:01:00Z": 1,
        "2026-11-23T11:29:00Z": 2,  # 30.1 and 30.2 minutes ago
        "2026-11-23T11:30:00Z": 1,
        "2026-11-23T11:57:00Z": 2,
    }
    assert period.totals.calls == 6
    day = compute_period(store, "24h", now=NOW)
    assert day.bucket_seconds == 3600
    assert day.totals.calls == 8


def test_a_days_traffic_in_one_hour_zooms_to_minutes(store: TraceStore) -> None:
    for minutes_ago in range(600, 640, 3):  # 14 calls within 40 minutes, ten hours ago
        store.save(_at(minutes_ago))
    period = compute_period(store, "24h", now=NOW)
    assert period.zoomed
    assert period.bucket_seconds == 60
    assert sum(b.count for b in period.timeline) == 14
    assert max(b.count for b in period.timeline) == 1


def test_previous_period_and_cost_per_day(store: TraceStore) -> None:
    store.save(_priced(_at(60 * 2), 0.02))
    store.save(_priced(_at(60 * 13), 0.03))  # 2026-11-22T23:00
    store.save(_at(60 * 30, status="error", latency_ms=900.0))  # yesterday's range
    store.save(_priced(_at(60 * 31), 0.5))
    period = compute_period(store, "24h", now=NOW)
    assert period.totals.calls == 2
    assert period.totals.cost_usd == pytest.approx(0.05)
    assert period.totals.error_rate == 0
    assert period.previous is not None
    assert (period.previous.calls, period.previous.errors) == (2, 1)
    assert period.previous.error_rate == 0.5
    assert period.previous.latency_p95_ms == 900.0
    assert [(d.day, d.calls) for d in period.cost_per_day] == [
        ("2026-11-22", 1),
        ("2026-11-23", 1),
    ]
    assert compute_period(store, "all", now=NOW).previous is None


def test_base_filter_leaves_out_test_traffic(store: TraceStore) -> None:
    store.save(_at(5))
    store.save(msgspec.structs.replace(_at(6), meta={"source": "test"}))
    hidden = TraceFilter(conditions=(Condition("source", "is_not", "test"),))
    assert compute_period(store, "1h", now=NOW).totals.calls == 2
    assert compute_period(store, "1h", now=NOW, base=hidden).totals.calls == 1


def test_empty_range_and_bad_name(store: TraceStore) -> None:
    period = compute_period(store, "7d", now=NOW)
    assert (period.totals.calls, period.timeline, period.bucket_seconds) == (0, [], None)
    assert period.totals.error_rate is None
    with pytest.raises(ValueError, match="unknown range '2w'"):
        compute_period(store, "2w", now=NOW)


@pytest.mark.parametrize(
    ("span", "width"),
    [
        (timedelta(minutes=40), 60),
        (timedelta(hours=1), 60),
        (timedelta(hours=3), 300),
        (timedelta(hours=24), 3600),
        (timedelta(days=7), 6 * 3600),
        (timedelta(days=30), 86400),
        (timedelta(days=365), 7 * 86400),
        (timedelta(0), 60),
    ],
)
def test_bucket_widths(span: timedelta, width: int) -> None:
    assert pick_bucket_seconds(span) == width

"""GET /api/analytics: dashboard numbers over the store."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from starlette.testclient import TestClient

from traceforge_shared.analytics import compute_analytics
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace


def test_analytics_numbers(client: TestClient, all_traces: list[Trace]) -> None:
    response = client.get("/api/analytics")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 9
    assert body["success_rate"] == pytest.approx(7 / 9)
    assert body["errors_by_status"] == {"error": 1, "upstream_error": 1}
    # Latencies: 123 ms x5 (make_trace), 700, 900 (anthropic), 2400, 3100 (gemini).
    assert body["latency_ms"] == {
        "avg": pytest.approx((5 * 123 + 700 + 900 + 2400 + 3100) / 9),
        "p50": 123.0,
        "p95": 3100.0,
        "p99": 3100.0,
    }
    # Tokens: 10+5 x5; anthropic 12+30=42, 12+29=41; gemini totals count thoughts: 217, 281.
    assert body["tokens"] == {
        "total": 75 + 42 + 41 + 217 + 281,
        "prompt": 50 + 12 + 12 + 9 + 9,
        "completion": 25 + 30 + 29 + 23 + 28,
        "avg_per_trace": pytest.approx((75 + 42 + 41 + 217 + 281) / 9),
    }
    assert body["cost_usd_total"] == pytest.approx(0.0005 + 0.0004 + 0.0005)
    assert body["models"] == [
        {"name": "claude-sonnet-4-5", "count": 2},
        {"name": "gemini-3-pro-preview", "count": 2},
        {"name": "gpt-4o", "count": 2},
        {"name": "gpt-4o-mini", "count": 2},
        {"name": "llama3", "count": 1},
    ]
    assert body["providers"] == [
        {"name": "openai", "count": 4},
        {"name": "anthropic", "count": 2},
        {"name": "gemini", "count": 2},
        {"name": "ollama", "count": 1},
    ]
    assert body["bucket"] == "hour"
    assert body["timeline"] == [{"start": "2026-11-23T08:00:00Z", "count": 9, "errors": 2}]
    assert 0 <= body["last_7_days"] <= 9


def test_analytics_range_and_minute_buckets(client: TestClient, all_traces: list[Trace]) -> None:
    params = {"since": "2026-11-23T08:01:00Z", "until": "2026-11-23T09:10:00+01:00"}
    body = client.get("/api/analytics", params={**params, "bucket": "minute"}).json()
    assert body["total"] == 9 - 1  # 08:01 .. 08:08; until is 08:10 UTC
    assert (body["since"], body["until"]) == (
        "2026-11-23T08:01:00.000000Z",
        "2026-11-23T08:10:00.000000Z",
    )
    assert body["bucket"] == "minute"
    assert body["bucket_seconds"] == 60
    counts = [(b["start"][11:16], b["count"], b["errors"]) for b in body["timeline"]]
    assert counts == [
        ("08:01", 1, 0),
        ("08:02", 1, 1),
        ("08:03", 1, 0),
        ("08:04", 1, 1),
        ("08:05", 1, 0),
        ("08:06", 1, 0),
        ("08:07", 1, 0),
        ("08:08", 1, 0),
        ("08:09", 0, 0),
    ]


def test_analytics_matches_the_shared_function(
    client: TestClient, store: TraceStore, all_traces: list[Trace]
) -> None:
    body = client.get("/api/analytics", params={"since": "2026-11-23", "bucket": "day"}).json()
    expected = msgspec.to_builtins(
        compute_analytics(store, since=datetime(2026, 11, 23, tzinfo=UTC), bucket="day")
    )
    body.pop("last_7_days")
    expected.pop("last_7_days")
    assert body == expected


def test_analytics_of_an_empty_store(client: TestClient) -> None:
    body = client.get("/api/analytics").json()
    assert body["total"] == 0
    assert body["success_rate"] is None
    assert body["timeline"] == []


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"bucket": "week"}, "bucket"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-02-30"}, "until"),
        ({"since": "2026-11-24", "until": "2026-11-23"}, "since must not be after until"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "out of range"),
    ],
)
def test_analytics_bad_params_are_400(
    client: TestClient, all_traces: list[Trace], params: dict[str, str], needle: str
) -> None:
    response = client.get("/api/analytics", params=params)
    assert response.status_code == 400
    assert needle in response.json()["error"]


@pytest.mark.parametrize(
    "params",
    [
        {"since": "0001-01-01", "until": "9999-12-31T23:59:59"},
        {"since": "0001-01-01", "bucket": "minute"},
        {"until": "9999-12-31T23:59:59.999999", "bucket": "minute"},
        {"since": "9999-12-31T23:59:59"},
    ],
)
def test_analytics_extreme_ranges_never_fail(
    client: TestClient, all_traces: list[Trace], params: dict[str, str]
) -> None:
    response = client.get("/api/analytics", params=params)
    assert response.status_code in (200, 400)
    assert response.json()

"""The filter grammar (traceforge_shared.views.filters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from traceforge_shared.views.filters import FilterError, FilterQuery, parse_filter

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_fields_and_words() -> None:
    query = parse_filter(
        "model:gpt-4o provider:anthropic status:ERROR type:stream since:2h rate limit"
    )
    assert query == FilterQuery(
        model="gpt-4o",
        provider="anthropic",
        status="error",
        streaming=True,
        since="2h",
        words=("rate", "limit"),
    )
    assert query.text == "rate limit"
    filters = query.to_filter(NOW)
    assert (filters.model, filters.provider, filters.streaming, filters.q) == (
        "gpt-4o",
        "anthropic",
        True,
        "rate limit",
    )
    failures = {"error", "upstream_error", "client_disconnected", "incomplete"}
    assert failures <= set(query.statuses)  # every failure status, never success
    assert "success" not in query.statuses
    assert filters.since == NOW - timedelta(hours=2)
    assert filters.until is None
    assert str(query) == (
        "model:gpt-4o provider:anthropic status:error type:stream since:2h rate limit"
    )
    assert parse_filter(str(query)) == query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", FilterQuery()),
        ("   ", FilterQuery()),
        ("type:normal", FilterQuery(streaming=False)),
        ("streaming:yes", FilterQuery(streaming=True)),
        ("Stream:TRUE", FilterQuery(streaming=True)),
        ('model:"my model" hello', FilterQuery(model="my model", words=("hello",))),
        ("'url:http://x' hello", FilterQuery(words=("url:http://x", "hello"))),
        ('"rate limit"', FilterQuery(words=("rate limit",))),
        ("12:30", FilterQuery(words=("12:30",))),
        ('say "hi there', FilterQuery(words=("say", '"hi', "there"))),  # unbalanced quote
        ("until:2026-11-23", FilterQuery(until="2026-11-23")),
    ],
)
def test_edge_cases(text: str, expected: FilterQuery) -> None:
    query = parse_filter(text)
    assert query == expected
    assert parse_filter(str(query)) == query


def test_empty_query_and_quoting() -> None:
    assert FilterQuery().is_empty
    assert FilterQuery().text is None
    assert not FilterQuery(words=("x",)).is_empty
    assert str(FilterQuery(model="my model")) == "model:'my model'"
    assert str(FilterQuery(model="it's")) == 'model:"it\'s"'


def test_dates_are_utc() -> None:
    filters = parse_filter("since:2026-11-20 until:2026-11-21T08:00").to_filter(NOW)
    assert filters.since == datetime(2026, 11, 20, tzinfo=UTC)
    assert filters.until == datetime(2026, 11, 21, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status:broken", "unknown status 'broken'"),
        ("type:sometimes", "unknown type 'sometimes'"),
        ("url:http://x", "unknown filter key 'url': use model, provider, id, status"),
        ("model: x", "model: needs a value, e.g. model:~gemini"),
        ("since:yesterday", "since: 'yesterday' is neither an age"),
        ("until:soon", "until: 'soon' is neither an age"),
    ],
)
def test_invalid_filters(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_filter(text)


def test_a_hand_built_bad_bound() -> None:
    with pytest.raises(FilterError, match="since: 'soon'"):
        FilterQuery(since="soon").to_filter()

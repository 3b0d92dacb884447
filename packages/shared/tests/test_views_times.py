"""Time parsing shared by the UIs (traceforge_shared.views.times): always aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from traceforge_shared.views.times import (
    TimeOutOfRangeError,
    TimeParseError,
    local_time,
    parse_age,
    parse_datetime,
    parse_since,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("30s", timedelta(seconds=30)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        (" 7 d ", timedelta(days=7)),
        ("1W", timedelta(weeks=1)),
        ("0h", timedelta(0)),
    ],
)
def test_parse_age(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "2", "h", "2y", "-2h", "1.5h", "2h ago"])
def test_bad_ages(text: str) -> None:
    with pytest.raises(TimeParseError, match="not an age like 30m"):
        parse_age(text)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-23", datetime(2026, 11, 23, tzinfo=UTC)),
        ("2026-11-23T08:00", datetime(2026, 11, 23, 8, tzinfo=UTC)),  # naive: UTC
        ("2026-11-23T08:00:00Z", datetime(2026, 11, 23, 8, tzinfo=UTC)),
        ("2026-11-23T09:00+01:00", datetime(2026, 11, 23, 8, tzinfo=UTC)),
    ],
)
def test_parse_datetime_is_aware_utc(text: str, moment: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == moment
    assert parsed.tzinfo is UTC


def test_parse_datetime_errors() -> None:
    with pytest.raises(TimeParseError, match="not an ISO 8601 date"):
        parse_datetime("yesterday")
    with pytest.raises(TimeOutOfRangeError, match="out of range"):
        parse_datetime("0001-01-01T00:00:00+01:00")


def test_parse_since() -> None:
    assert parse_since("2h", NOW) == datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert parse_since("1d", NOW.replace(tzinfo=None)) == datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert parse_since("2026-11-20T08:00") == datetime(2026, 11, 20, 8, tzinfo=UTC)
    recent = parse_since("1m")
    assert timedelta(0) < datetime.now(UTC) - recent < timedelta(minutes=2)
    with pytest.raises(TimeParseError, match="neither an age like 30m, 2h, 7d nor an ISO date"):
        parse_since("yesterday", NOW)


def test_local_time() -> None:
    moment = datetime(2026, 11, 23, 8, 1, tzinfo=UTC)
    expected = moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert local_time("2026-11-23T08:01:00Z") == expected
    assert local_time("2026-11-23T08:01:00.123456Z") == expected
    assert local_time("2026-11-23T08:01:00") == expected  # naive: UTC, as traces are written
    shifted = datetime(2026, 11, 23, 9, 1, tzinfo=timezone(timedelta(hours=1)))
    assert local_time(shifted.isoformat()) == expected
    assert local_time("not a time") == "not a time"

"""``utc_timestamp``: "now" (the text of the current second reused) agrees with datetime."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from traceforge_shared.ids import utc_timestamp


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def test_now_is_iso_utc_between_two_clock_reads_across_second_changes() -> None:
    seen_seconds: set[str] = set()
    deadline = time.time() + 2.2  # crosses at least two second boundaries
    while time.time() < deadline:
        before = datetime.now(UTC)
        text = utc_timestamp()
        after = datetime.now(UTC)
        assert len(text) == 27 and text.endswith("Z")
        assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= _parse(text)
        assert _parse(text) <= after
        seen_seconds.add(text[:19])
        time.sleep(0.01)
    assert len(seen_seconds) >= 2


def test_a_given_epoch_is_formatted_as_datetime_does() -> None:
    assert utc_timestamp(0.0) == "1970-01-01T00:00:00.000000Z"
    assert utc_timestamp(1_795_000_000.123456) == "2026-11-18T11:06:40.123456Z"

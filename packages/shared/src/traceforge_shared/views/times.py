"""Time parsing and display shared by the CLI, the TUI and the web API.

Every parser returns an *aware UTC* :class:`~datetime.datetime`. A naive ISO 8601 datetime
(``2026-11-23T08:00``, no offset) means UTC everywhere, like the trace timestamps the store
keeps; a bare date (``2026-11-23``) is midnight UTC. Only the display helper
:func:`local_time` converts to the machine's local zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

#: Units of an age, by their one-letter suffix.
AGE_UNITS: dict[str, timedelta] = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}

_AGE = re.compile(r"^(\d+)\s*([smhdw])$")


class TimeParseError(ValueError):
    """A text that is not the age or the date it should be (the message says which forms
    are accepted)."""


class TimeOutOfRangeError(TimeParseError):
    """An ISO datetime that parses but falls outside what a datetime holds once in UTC."""


def parse_age(text: str) -> timedelta:
    """Parse an age such as ``30m``, ``2h``, ``7d`` or ``1w`` (units: s, m, h, d, w).

    Raises:
        TimeParseError: ``text`` is not a whole number followed by one of the units.
    """
    match = _AGE.match(text.strip().lower())
    if match is None:
        raise TimeParseError(f"{text!r} is not an age like 30m, 2h, 7d or 1w")
    return int(match.group(1)) * AGE_UNITS[match.group(2)]


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date or datetime (``2026-11-23``, ``2026-11-23T08:00``,
    ``2026-11-23T08:00:00Z``, ``...+01:00``) as an aware UTC datetime; no offset means UTC.

    Raises:
        TimeParseError: not ISO 8601.
        TimeOutOfRangeError: out of range once moved to UTC (``0001-01-01T00:00+01:00``).
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimeParseError(
            f"{text!r} is not an ISO 8601 date or time like 2026-11-23 or 2026-11-23T08:00Z"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise TimeOutOfRangeError(f"{text!r} is out of range") from None


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """Parse a lower time bound: an age before ``now`` (``2h``: two hours ago) or an ISO date
    or datetime (see :func:`parse_datetime`). Returns an aware UTC datetime.

    Args:
        text: the age or the date.
        now: the present (default: the current UTC time); a naive one is taken as UTC.

    Raises:
        TimeParseError: neither form.
    """
    try:
        age = parse_age(text)
    except TimeParseError:
        pass
    else:
        present = now or datetime.now(UTC)
        return (present if present.tzinfo else present.replace(tzinfo=UTC)) - age
    try:
        return parse_datetime(text)
    except TimeParseError:
        raise TimeParseError(
            f"{text!r} is neither an age like 30m, 2h, 7d nor an ISO date like 2026-11-23"
        ) from None


def local_time(timestamp: str) -> str:
    """Render an ISO 8601 timestamp (a trace's, UTC when it has no offset) in the local zone
    as ``YYYY-MM-DD HH:MM:SS``; a text that does not parse is returned as is."""
    try:
        moment = parse_datetime(timestamp)
    except TimeParseError:
        return timestamp
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")

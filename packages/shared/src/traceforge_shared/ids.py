"""Trace ids: unique, time-sortable, safe as file names."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime

_ID_RE = re.compile(r"^[0-9a-f]{1,32}$")


def new_trace_id() -> str:
    """Return a new random 24-hex-digit (96-bit) trace id.

    Random rather than time-prefixed, so that a short prefix (the 8 digits ``trace list``
    shows) tells traces apart the way a short git hash does; order comes from the timestamp.
    """
    return os.urandom(12).hex()


def is_valid_id_prefix(text: str) -> bool:
    """Whether ``text`` can be a trace id or id prefix (lower-case hex, 1-32 chars).

    Used to refuse anything that could escape the store directory (``../``, ``/``).
    """
    return bool(_ID_RE.fullmatch(text))


#: The last whole second :func:`utc_timestamp` formatted for "now", and its text.
_last_second: tuple[int, str] = (-1, "")


def utc_timestamp(epoch_s: float | None = None) -> str:
    """Return ``epoch_s`` (default: now) as ISO 8601 UTC with microseconds and a ``Z``
    (``2026-11-23T08:55:54.123456Z``). "Now" reuses the text of the current second (the
    proxy stamps every call: ``datetime.strftime`` was ~2% of a call's CPU)."""
    global _last_second
    if epoch_s is not None:
        dt = datetime.fromtimestamp(epoch_s, tz=UTC)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    second, ns = divmod(time.time_ns(), 1_000_000_000)
    last = _last_second
    if last[0] != second:
        last = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        _last_second = last  # one tuple, swapped whole: safe across threads
    return f"{last[1]}.{ns // 1000:06d}Z"

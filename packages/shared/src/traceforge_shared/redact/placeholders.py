"""Markers, plain (``[EMAIL_REDACTED]``) or deterministic (``[EMAIL_REDACTED:3f2a]``).

A deterministic marker carries a short keyed hash (HMAC-SHA256, first 4 hex digits) of the
value it replaces, so two traces holding the same email get the same marker and diffs and
replays still line up, while the value cannot be guessed without the key (a random secret
kept per store).
"""

from __future__ import annotations

import hashlib
import hmac
import re

#: Marker for values of sensitive keys and credential headers.
REDACTED = "[REDACTED]"

#: Any marker this package writes, with or without a hash.
MARKER = re.compile(r"(?:Bearer )?\[[A-Z0-9_]*REDACTED(?::[0-9a-f]{4,16})?\]")

#: Hex digits of the keyed hash in a deterministic marker.
HASH_DIGITS = 4


def is_marker(text: str) -> bool:
    """Whether ``text`` is exactly one marker (so it is never redacted again)."""
    return MARKER.fullmatch(text) is not None


def keyed(marker: str, value: str, key: bytes) -> str:
    """``marker`` with the keyed hash of ``value``: ``[EMAIL_REDACTED]`` ->
    ``[EMAIL_REDACTED:3f2a]``; ``Bearer [REDACTED]`` -> ``Bearer [REDACTED:3f2a]``. A marker
    that does not end in ``]`` (a custom one) gets ``:3f2a`` appended."""
    digest = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    tag = digest[:HASH_DIGITS]
    if marker.endswith("]"):
        return f"{marker[:-1]}:{tag}]"
    return f"{marker}:{tag}"

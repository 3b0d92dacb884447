"""Grouping headers: which run, session, tags and metadata a call belongs to.

Read from the client's request (docs/runs.md):

- ``X-TraceForge-Session-Id``: the session (conversation or user) of the call;
- ``X-TraceForge-Tags``: labels, comma separated;
- ``X-TraceForge-Meta-<key>``: one metadata value per header (key lower-cased);
- ``traceparent`` / ``tracestate`` (W3C Trace Context, https://www.w3.org/TR/trace-context/):
  the run (trace id) and the app's span around the call (parent id).

The ``X-TraceForge-*`` headers are never sent upstream (:mod:`traceforge_proxy.headers`);
``traceparent`` and ``tracestate`` are forwarded untouched. Every call is a span of its run:
the proxy makes a span id for it whose parent is the ``traceparent`` parent id; a call without
a valid ``traceparent`` starts a run of its own (a new trace id, no parent).

Values longer than the limits below are cut, with a warning on the trace; pure functions, no
I/O. Redaction of the values happens with the rest of the trace (``before_save``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from traceforge_shared.trace import SpanContext

SESSION_HEADER = "x-traceforge-session-id"
TAGS_HEADER = "x-traceforge-tags"
META_PREFIX = "x-traceforge-meta-"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

#: Most characters kept of a session id.
MAX_SESSION_CHARS = 256
#: Most tags kept, and most characters per tag.
MAX_TAGS = 32
MAX_TAG_CHARS = 64
#: Most metadata keys kept, most characters per key and per value.
MAX_META_KEYS = 32
MAX_META_KEY_CHARS = 64
MAX_META_VALUE_CHARS = 1024
#: Most characters of ``tracestate`` recorded (the spec allows 32 members of 256 chars).
MAX_TRACESTATE_CHARS = 8192

# version "-" trace-id "-" parent-id "-" trace-flags (https://www.w3.org/TR/trace-context/#traceparent-header-field-values).
# Version ff is invalid; a future version may append fields after the flags ("-...").
_TRACEPARENT = re.compile(
    r"^(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<parent_id>[0-9a-f]{16})"
    r"-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?$"
)


@dataclass
class Grouping:
    """What the grouping headers of one request say.

    Attributes:
        session_id: the session id, trimmed and cut to :data:`MAX_SESSION_CHARS`; ``None``
            when the header is absent or blank.
        tags: the tags, trimmed, empty ones and repeats dropped, in order.
        meta: metadata key (lower case) → value.
        span: the call's span context (always set: a new run when no valid traceparent).
        warnings: what was cut or ignored, for the trace's ``metadata.warnings``.
    """

    span: SpanContext
    session_id: str | None = None
    tags: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def new_span_id() -> str:
    """A random 16-hex-digit span id (never all zeros)."""
    while True:
        value = os.urandom(8).hex()
        if value != "0" * 16:
            return value


def new_run_id() -> str:
    """A random 32-hex-digit W3C trace id (never all zeros)."""
    while True:
        value = os.urandom(16).hex()
        if value != "0" * 32:
            return value


def parse_traceparent(value: str) -> tuple[str, str] | None:
    """``(trace_id, parent_id)`` of a ``traceparent`` value, or ``None`` when it is not valid
    per the W3C rules: lower-case hex fields, version not ``ff`` (version ``00`` has exactly
    four fields), trace id and parent id not all zeros."""
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id = match["version"], match["trace_id"], match["parent_id"]
    if version == "ff" or (version == "00" and match["rest"] is not None):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id, parent_id


def _cut(value: str, limit: int, what: str, warnings: list[str]) -> str:
    if len(value) <= limit:
        return value
    warnings.append(f"{what} longer than {limit} characters: cut to {limit}")
    return value[:limit]


def read_grouping(headers: Iterable[tuple[str, str]]) -> Grouping:
    """Read the grouping headers of a request (names in any case; a repeated header: the
    first, except ``X-TraceForge-Tags``, whose values are joined)."""
    warnings: list[str] = []
    session: str | None = None
    tags: list[str] = []
    meta: dict[str, str] = {}
    traceparent: str | None = None
    tracestate: str | None = None
    for name, value in headers:
        lower = name.lower()
        if lower == SESSION_HEADER:
            if session is None and value.strip():
                session = _cut(
                    value.strip(), MAX_SESSION_CHARS, "X-TraceForge-Session-Id", warnings
                )
        elif lower == TAGS_HEADER:
            for raw in value.split(","):
                tag = raw.strip()
                if not tag or tag in tags:
                    continue
                if len(tags) == MAX_TAGS:
                    warnings.append(
                        f"X-TraceForge-Tags: more than {MAX_TAGS} tags, the rest dropped"
                    )
                    break
                tags.append(_cut(tag, MAX_TAG_CHARS, f"tag {tag[:20]!r}", warnings))
        elif lower.startswith(META_PREFIX):
            key = lower[len(META_PREFIX) :]
            if not key or key in meta:
                continue
            if len(meta) == MAX_META_KEYS:
                warnings.append(
                    f"X-TraceForge-Meta-*: more than {MAX_META_KEYS} keys, {name} dropped"
                )
                continue
            key = _cut(key, MAX_META_KEY_CHARS, f"meta key {key[:20]!r}", warnings)
            meta[key] = _cut(
                value.strip(), MAX_META_VALUE_CHARS, f"meta value of {key!r}", warnings
            )
        elif lower == TRACEPARENT and traceparent is None:
            traceparent = value
        elif lower == TRACESTATE and tracestate is None:
            tracestate = value
    parsed = parse_traceparent(traceparent) if traceparent is not None else None
    if traceparent is not None and parsed is None:
        warnings.append(
            "traceparent is not a valid W3C traceparent: the call starts a run of its own "
            "(the header was still forwarded)"
        )
    if parsed is None:
        context = SpanContext(trace_id=new_run_id(), span_id=new_span_id())
    else:
        context = SpanContext(
            trace_id=parsed[0],
            span_id=new_span_id(),
            parent_span_id=parsed[1],
            tracestate=(
                _cut(tracestate, MAX_TRACESTATE_CHARS, "tracestate", warnings)
                if tracestate
                else None
            ),
        )
    return Grouping(span=context, session_id=session, tags=tags, meta=meta, warnings=warnings)

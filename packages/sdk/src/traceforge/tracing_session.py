"""``with traceforge.session("user-42"):``: the session (conversation or user) of the spans
and LLM calls made inside.

The session lives in a context variable (so it follows ``asyncio`` tasks and threads started
with ``contextvars.copy_context()``) and in OpenTelemetry baggage as ``session.id``
(https://opentelemetry.io/docs/concepts/signals/baggage/), so OpenTelemetry propagators carry
it to other services. Spans started inside get the ``session.id`` attribute; calls made with
an instrumented client send ``X-TraceForge-Session-Id`` (plus ``X-TraceForge-Tags`` and
``X-TraceForge-Meta-<key>``), which the proxy records on the call's trace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from opentelemetry import baggage
from opentelemetry import context as otel_context

from traceforge.tracing_names import SESSION_ID

__all__ = ["Session", "current_session", "session"]

#: Most characters of a session id (the proxy cuts longer ones).
MAX_SESSION_CHARS = 256
#: Metadata keys: what an HTTP header name may hold after ``X-TraceForge-Meta-``.
_META_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Session:
    """The session in effect.

    Attributes:
        id: the session id (1 to 256 characters, no control characters).
        tags: labels of the session's calls (no commas), in order.
        metadata: key (letters, digits, ``-``, ``_``) → value, sent as
            ``X-TraceForge-Meta-<key>`` headers.
    """

    id: str
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)


_current: ContextVar[Session | None] = ContextVar("traceforge_session", default=None)


def _check_text(value: str, what: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(f"{what} must not contain control characters (newlines, tabs): {value!r}")
    return value.strip()


def _make(session_id: str, tags: Iterable[str], metadata: Mapping[str, str] | None) -> Session:
    if not isinstance(session_id, str) or not session_id.strip():
        raise ValueError(f"the session id must be a non-empty string, got {session_id!r}")
    text = _check_text(session_id, "the session id")
    if len(text) > MAX_SESSION_CHARS:
        raise ValueError(f"the session id is longer than {MAX_SESSION_CHARS} characters")
    kept: list[str] = []
    for tag in [tags] if isinstance(tags, str) else tags:
        clean = _check_text(str(tag), "a tag")
        if "," in clean:
            raise ValueError(
                f"a tag must not contain a comma (tags are sent comma separated): {tag!r}"
            )
        if clean and clean not in kept:
            kept.append(clean)
    meta: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if not _META_KEY.fullmatch(key):
            raise ValueError(
                f"metadata key {key!r}: use 1 to 64 letters, digits, '-' or '_' "
                "(it becomes the header X-TraceForge-Meta-<key>)"
            )
        meta[key.lower()] = _check_text(str(value), f"metadata value of {key!r}")
    return Session(id=text, tags=tuple(kept), metadata=meta)


@contextmanager
def session(
    session_id: str,
    *,
    tags: Iterable[str] = (),
    metadata: Mapping[str, str] | None = None,
) -> Iterator[Session]:
    """Make ``session_id`` the session of everything traced inside the block.

    A session inside another replaces it for its block (tags and metadata included).

    Args:
        session_id: the conversation or user id, e.g. ``"user-42"``.
        tags: labels for the session's calls (``X-TraceForge-Tags``).
        metadata: values for ``X-TraceForge-Meta-<key>``.

    Yields:
        The :class:`Session`.

    Raises:
        ValueError: an empty or over-long id, a tag with a comma, a metadata key that is not
            a header name, or control characters anywhere.
    """
    value = _make(session_id, tags, metadata)
    token = _current.set(value)
    context_token = otel_context.attach(baggage.set_baggage(SESSION_ID, value.id))
    try:
        yield value
    finally:
        otel_context.detach(context_token)
        _current.reset(token)


def current_session() -> Session | None:
    """The session in effect: the innermost ``traceforge.session`` block, else a
    ``session.id`` in the OpenTelemetry baggage (e.g. propagated from another service);
    ``None`` when there is none."""
    value = _current.get()
    if value is not None:
        return value
    from_baggage = baggage.get_baggage(SESSION_ID)
    if isinstance(from_baggage, str) and from_baggage.strip() and not _CONTROL.search(from_baggage):
        return Session(id=from_baggage.strip()[:MAX_SESSION_CHARS])
    return None

"""The filter grammar every UI reads: ``provider:x model:y status:error since:2h
streaming:yes free text``.

A filter is a list of terms, combined with AND:

- ``key:value`` terms select on a column: ``model``, ``provider`` (exact names), ``status``
  (one of :data:`~traceforge_shared.trace.TRACE_STATUSES`, any case), ``type`` (aliases
  ``stream``, ``streaming``; values :data:`STREAMING_VALUES`), ``since`` and ``until`` (an age
  such as ``2h`` or an ISO date, see :mod:`traceforge_shared.views.times`: UTC when no offset
  is given). Values with spaces are quoted: ``model:"my model"``.
- every other word is text: the words, joined by single spaces, are the phrase the request's
  messages or the answer must contain (any case). A quoted word is always text, so
  ``"url:http://x"`` searches for that phrase.

A ``key:`` the grammar does not know is an error naming the known keys (not text), as are a
key without a value and a value the key does not accept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from traceforge_shared.store import TraceFilter
from traceforge_shared.trace import TRACE_STATUSES
from traceforge_shared.views.times import TimeParseError, parse_since

#: Values of ``type:`` and what they select (``True``: streamed calls).
STREAMING_VALUES: dict[str, bool] = {
    "stream": True,
    "streaming": True,
    "streamed": True,
    "yes": True,
    "true": True,
    "normal": False,
    "no": False,
    "false": False,
}

#: The keys the grammar knows, with their aliases, and the field each one sets.
KEYS: dict[str, str] = {
    "model": "model",
    "provider": "provider",
    "status": "status",
    "type": "type",
    "stream": "type",
    "streaming": "type",
    "since": "since",
    "until": "until",
}

_TOKEN = re.compile(
    r"""(?P<key>[A-Za-z_]+):(?P<value>"[^"]*"|'[^']*'|\S*)"""
    r"""|(?P<quoted>"[^"]*"|'[^']*')"""
    r"""|(?P<word>\S+)"""
)


class FilterError(ValueError):
    """A filter that cannot be applied: an unknown key, a key without a value, or a value the
    key does not accept (the message names what would be)."""


@dataclass(frozen=True)
class FilterQuery:
    """A parsed filter (every part optional, combined with AND).

    Attributes:
        model, provider: exact names.
        status: one of :data:`~traceforge_shared.trace.TRACE_STATUSES`.
        streaming: only streamed (``True``) or only non-streamed (``False``) calls.
        since, until: time bounds as typed (an age or an ISO date; validated), resolved
            against the present by :meth:`to_filter` so a live list's window moves on.
        words: the words of the text filter (see :attr:`text`).
    """

    model: str | None = None
    provider: str | None = None
    status: str | None = None
    streaming: bool | None = None
    since: str | None = None
    until: str | None = None
    words: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Whether the filter keeps every trace."""
        return self == FilterQuery()

    @property
    def text(self) -> str | None:
        """The words as the text filter ``q`` (``None`` when there are none)."""
        return " ".join(self.words) or None

    def to_filter(self, now: datetime | None = None) -> TraceFilter:
        """The store filter of this query; ages count back from ``now`` (default: the current
        time), dates are aware UTC datetimes.

        Raises:
            FilterError: a time bound does not parse (only for queries built by hand).
        """
        return TraceFilter(
            model=self.model,
            provider=self.provider,
            status=self.status,
            streaming=self.streaming,
            since=_moment("since", self.since, now),
            until=_moment("until", self.until, now),
            q=self.text,
        )

    def __str__(self) -> str:
        """The query in its canonical text form (parses back to an equal query)."""
        terms = [
            f"{key}:{_quote(value)}"
            for key, value in (
                ("model", self.model),
                ("provider", self.provider),
                ("status", self.status),
            )
            if value is not None
        ]
        if self.streaming is not None:
            terms.append("type:stream" if self.streaming else "type:normal")
        for key, bound in (("since", self.since), ("until", self.until)):
            if bound is not None:
                terms.append(f"{key}:{_quote(bound)}")
        terms += [_quote(word) for word in self.words]
        return " ".join(terms)


def _quote(value: str) -> str:
    """``value`` as it is, or quoted when it has a space, a quote or a colon."""
    if value and not re.search(r"[\s\"':]", value):
        return value
    return f'"{value}"' if "'" in value else f"'{value}'"


def _moment(key: str, value: str | None, now: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_since(value, now)
    except TimeParseError as exc:
        raise FilterError(f"{key}: {exc}") from None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_filter(text: str) -> FilterQuery:
    """Parse a filter in the grammar of this module into a :class:`FilterQuery` (call
    :meth:`FilterQuery.to_filter` for the store's :class:`TraceFilter`).

    Raises:
        FilterError: an unknown key, a key without a value, an unknown status or type, or a
            time bound that is neither an age nor an ISO date.
    """
    fields: dict[str, str] = {}
    words: list[str] = []
    for match in _TOKEN.finditer(text):
        key = match.group("key")
        if key is None:
            word = _unquote(match.group("quoted") or match.group("word"))
            if word:
                words.append(word)
            continue
        field = KEYS.get(key.lower())
        if field is None:
            raise FilterError(
                f"unknown filter key {key!r}: use {', '.join(sorted(KEYS))}"
                " (quote a word with a colon to search for it)"
            )
        value = _unquote(match.group("value"))
        if not value:
            raise FilterError(f"{key}: needs a value, e.g. {key}:{_EXAMPLES[field]}")
        fields[field] = value
    status = fields.get("status")
    if status is not None:
        status = status.lower()
        if status not in TRACE_STATUSES:
            raise FilterError(f"unknown status {status!r}: use one of {', '.join(TRACE_STATUSES)}")
    streaming: bool | None = None
    if "type" in fields:
        try:
            streaming = STREAMING_VALUES[fields["type"].lower()]
        except KeyError:
            raise FilterError(f"unknown type {fields['type']!r}: use stream or normal") from None
    for key in ("since", "until"):
        _moment(key, fields.get(key), None)  # validate now, resolve in to_filter
    return FilterQuery(
        model=fields.get("model"),
        provider=fields.get("provider"),
        status=status,
        streaming=streaming,
        since=fields.get("since"),
        until=fields.get("until"),
        words=tuple(words),
    )


_EXAMPLES = {
    "model": "gpt-4o",
    "provider": "openai",
    "status": "error",
    "type": "stream",
    "since": "2h",
    "until": "2026-11-23",
}

"""The trace list's filter language.

``model:gpt-4o provider:anthropic status:error type:stream some words`` becomes a
:class:`Query`, and that a :class:`~traceforge_shared.store.TraceFilter` applied by the store's
index: the ``field:value`` terms select on those columns, the other words, joined by spaces,
are the text filter ``q`` (a phrase the request's messages or the answer contain, any case).
Values with spaces can be quoted (``model:"my model"``); an unknown ``field:`` is a word.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from traceforge_shared.store import TraceFilter
from traceforge_shared.trace import TRACE_STATUSES

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

#: Field names the language knows, with their aliases.
FIELD_ALIASES: dict[str, str] = {
    "model": "model",
    "provider": "provider",
    "status": "status",
    "type": "type",
    "stream": "type",
    "streaming": "type",
}


class QueryError(ValueError):
    """A filter that cannot be applied (an unknown status or type value)."""


@dataclass(frozen=True)
class Query:
    """A parsed filter (all parts optional, combined with AND).

    Attributes:
        model: exact model name.
        provider: exact provider name.
        status: one of :data:`~traceforge_shared.trace.TRACE_STATUSES`.
        streaming: only streamed (``True``) or only non-streamed (``False``) calls.
        words: the words of the text filter (see :attr:`text`).
    """

    model: str | None = None
    provider: str | None = None
    status: str | None = None
    streaming: bool | None = None
    words: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Whether the query keeps every trace."""
        return self == Query()

    @property
    def text(self) -> str | None:
        """The words as the text filter ``q`` (``None`` when there are none)."""
        return " ".join(self.words) or None

    def to_filter(self) -> TraceFilter:
        """The index filter of this query."""
        return TraceFilter(
            model=self.model,
            provider=self.provider,
            status=self.status,
            streaming=self.streaming,
            q=self.text,
        )

    def __str__(self) -> str:
        """The query in its canonical text form (parses back to an equal query)."""
        terms: list[str] = []
        for name, value in (
            ("model", self.model),
            ("provider", self.provider),
            ("status", self.status),
        ):
            if value is not None:
                terms.append(f"{name}:{shlex.quote(value)}")
        if self.streaming is not None:
            terms.append("type:stream" if self.streaming else "type:normal")
        terms.extend(shlex.quote(word) for word in self.words)
        return " ".join(terms)


def parse_query(text: str) -> Query:
    """Parse the filter bar's text into a :class:`Query`.

    Raises:
        QueryError: ``status:`` is not a known status or ``type:`` is not stream/normal.
    """
    try:
        tokens = shlex.split(text)
    except ValueError:  # an unbalanced quote: take the text word by word
        tokens = text.split()
    fields: dict[str, str] = {}
    words: list[str] = []
    for token in tokens:
        name, colon, value = token.partition(":")
        field = FIELD_ALIASES.get(name.lower())
        if colon and field is not None and value:
            fields[field] = value
        elif token:
            words.append(token)
    status = fields.get("status")
    if status is not None:
        status = status.lower()
        if status not in TRACE_STATUSES:
            raise QueryError(f"unknown status {status!r}: use one of {', '.join(TRACE_STATUSES)}")
    streaming: bool | None = None
    if "type" in fields:
        try:
            streaming = STREAMING_VALUES[fields["type"].lower()]
        except KeyError:
            raise QueryError(f"unknown type {fields['type']!r}: use stream or normal") from None
    return Query(
        model=fields.get("model"),
        provider=fields.get("provider"),
        status=status,
        streaming=streaming,
        words=tuple(words),
    )

"""The filter grammar every UI reads (CLI ``--filter``, the TUI's filter bar, the web API's
``filter`` parameter): ``model:~gemini status:error latency:>500 since:2h free text``.

A filter is a list of terms, combined with AND. The keys (any case; the full list with
examples is :data:`KEY_HELP`, documented in docs/filters.md):

- ``model:``, ``provider:``: the exact name; ``~text`` for names containing ``text``; a
  ``*`` anywhere makes a pattern (``model:gpt-4*``). Case is ignored by ``~`` and ``*``.
- ``id:``: traces whose id starts with these hex digits.
- ``status:``: a status of :data:`~traceforge_shared.trace.TRACE_STATUSES` or a group of
  :data:`STATUS_GROUPS` (``status:error`` is every failure: HTTP errors, unreachable
  upstreams, hang-ups, incomplete answers); several with commas (``status:error,success``).
- ``type:`` (aliases ``stream``, ``streaming``): :data:`STREAMING_VALUES`.
- ``since:``, ``until:``: an age (``30m``, ``2h``, ``7d``) or an ISO date/time (UTC when no
  offset), see :mod:`traceforge_shared.views.times`.
- ``latency:`` (ms; ``s`` suffix for seconds), ``ttft:`` (time to first token, ms),
  ``cost:`` (USD, ``$`` allowed), ``tokens:`` (total tokens, ``k`` suffix): a comparison
  ``>500``, ``<2s``, ``>=0.01``, ``<=100``, ``=0``; a bare number means "at least". The
  same key may be given twice for a range (``latency:>100 latency:<500``).
- ``session:``, ``tag:``, ``route:``, ``source:``: the trace's ``session_id`` (the
  ``X-TraceForge-Session-Id`` header), one of its ``tags`` (``X-TraceForge-Tags``), its
  route (:data:`~traceforge_shared.trace.ROUTES`) and its ``meta["source"]``
  (``X-TraceForge-Meta-Source``; ``traceforge test run`` sends ``test``).
- ``text:``: text search, the same as a bare word (for words that look like keys).
- every other word is text, searched with the store's full-text index
  (:mod:`traceforge_shared.store.search`): each word must occur (any case, inside a word too)
  in the messages, the answer, the error message, the model or the endpoint; a quoted group of
  words must occur as that phrase. A quoted word is always text, so ``"url:http://x"``
  searches for that phrase.

A ``key:`` the grammar does not know is an error naming the closest known key, as are a key
without a value and a value the key does not accept (:class:`FilterError`): never silently
text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, cast

from traceforge_shared.store import TraceFilter
from traceforge_shared.store.conditions import Condition
from traceforge_shared.trace import ROUTES, TRACE_STATUSES
from traceforge_shared.views.times import TimeParseError, parse_since

__all__ = [
    "FAILURE_STATUSES",
    "KEYS",
    "KEY_HELP",
    "STATUS_GROUPS",
    "STREAMING_VALUES",
    "Comparison",
    "FilterError",
    "FilterQuery",
    "parse_filter",
]

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

#: Every status that is not ``success``: the call failed or its answer is not whole.
FAILURE_STATUSES: tuple[str, ...] = tuple(s for s in TRACE_STATUSES if s != "success")

#: ``status:`` values naming several statuses. ``error`` (and ``failed``) is every failure,
#: as the dashboard counts errors; ``http_error`` is only the upstream's HTTP 4xx/5xx answers
#: (the ``error`` status itself).
STATUS_GROUPS: dict[str, tuple[str, ...]] = {
    "error": FAILURE_STATUSES,
    "errors": FAILURE_STATUSES,
    "failed": FAILURE_STATUSES,
    "failure": FAILURE_STATUSES,
    "ok": ("success",),
    "http_error": ("error",),
}

#: The keys the grammar knows, with their aliases, and the field each one sets.
KEYS: dict[str, str] = {
    "model": "model",
    "provider": "provider",
    "id": "id",
    "status": "status",
    "type": "type",
    "stream": "type",
    "streaming": "type",
    "since": "since",
    "until": "until",
    "latency": "latency",
    "ttft": "ttft",
    "cost": "cost",
    "tokens": "tokens",
    "session": "session",
    "tag": "tag",
    "tags": "tag",
    "route": "route",
    "source": "source",
    "text": "text",
}

#: One example and one line of help per field (for ``?`` help, error messages and docs).
KEY_HELP: dict[str, tuple[str, str]] = {
    "model": ("model:~gemini", "exact name, ~ for contains, * for any characters"),
    "provider": ("provider:anthropic", "exact name, ~ for contains"),
    "id": ("id:0193ab", "id starts with"),
    "status": ("status:error", "a status or error/ok/http_error; commas for several"),
    "type": ("type:stream", "stream or normal"),
    "since": ("since:2h", "age (30m, 2h, 7d) or date (2026-12-01, UTC)"),
    "until": ("until:2026-12-01", "before an age or date"),
    "latency": ("latency:>500", "ms (or 2s); >, <, >=, <=, ="),
    "ttft": ("ttft:>300", "time to first token, ms"),
    "cost": ("cost:>0.01", "USD"),
    "tokens": ("tokens:>1k", "total tokens"),
    "session": ("session:chat-42", "X-TraceForge-Session-Id"),
    "tag": ("tag:nightly", "one of X-TraceForge-Tags"),
    "route": ("route:converted", "openai, converted or passthrough"),
    "source": ("source:test", "X-TraceForge-Meta-Source (test: traceforge test run)"),
    "text": ("text:timeout", "full-text search (as a bare word)"),
}

_NUMERIC = ("latency", "ttft", "cost", "tokens")
_UNITS = {"latency": "ms", "ttft": "ms", "cost": "USD", "tokens": "tokens"}
_NUMERIC_COLUMNS = {
    "latency": "latency_ms",
    "ttft": "first_chunk_latency_ms",
    "cost": "cost_usd",
    "tokens": "total_tokens",
}

_TOKEN = re.compile(
    r"""(?P<key>[A-Za-z_]+):(?P<value>"[^"]*"|'[^']*'|\S*)"""
    r"""|(?P<quoted>"[^"]*"|'[^']*')"""
    r"""|(?P<word>\S+)"""
)
_COMPARISON = re.compile(
    r"^(?P<op>>=|<=|>|<|=)?\s*\$?(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|k)?$", re.I
)
_HEX = re.compile(r"^[0-9a-f]+$")

CompareOp = Literal["=", "<", "<=", ">", ">="]


class FilterError(ValueError):
    """A filter that cannot be applied: an unknown key, a key without a value, or a value the
    key does not accept (the message names what would be)."""


@dataclass(frozen=True)
class Comparison:
    """One numeric bound, e.g. ``latency:>500``.

    Attributes:
        op: ``=``, ``<``, ``<=``, ``>`` or ``>=``.
        value: in the key's unit (ms for latency and ttft, USD for cost, tokens).
    """

    op: CompareOp
    value: float

    def __str__(self) -> str:
        return f"{self.op}{self.value:g}"


@dataclass(frozen=True)
class FilterQuery:
    """A parsed filter (every part optional, combined with AND).

    Attributes:
        model, provider: the name as typed: exact, ``~contains`` or a ``*`` pattern.
        status: as typed, lower case: statuses and groups separated by commas.
        streaming: only streamed (``True``) or only non-streamed (``False``) calls.
        since, until: time bounds as typed (an age or an ISO date; validated), resolved
            against the present by :meth:`to_filter` so a live list's window moves on.
        id: an id prefix (lower-case hex).
        latency, ttft, cost, tokens: numeric bounds (ms, ms, USD, tokens), all must hold.
        session, route, source: exact values; tags: tags the trace must all have.
        words: the words of the text filter (see :attr:`text`).
    """

    model: str | None = None
    provider: str | None = None
    status: str | None = None
    streaming: bool | None = None
    since: str | None = None
    until: str | None = None
    id: str | None = None
    latency: tuple[Comparison, ...] = ()
    ttft: tuple[Comparison, ...] = ()
    cost: tuple[Comparison, ...] = ()
    tokens: tuple[Comparison, ...] = ()
    session: str | None = None
    tags: tuple[str, ...] = ()
    route: str | None = None
    source: str | None = None
    words: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Whether the filter keeps every trace."""
        return self == FilterQuery()

    @property
    def text(self) -> str | None:
        """The words as the text filter ``q``, a word with a space double-quoted as a phrase
        (``None`` when there are none)."""
        return " ".join(f'"{w}"' if " " in w and '"' not in w else w for w in self.words) or None

    @property
    def statuses(self) -> tuple[str, ...]:
        """The statuses ``status`` selects (groups expanded, in :data:`TRACE_STATUSES`
        order); ``()`` when there is no ``status`` term."""
        if self.status is None:
            return ()
        chosen = {s for part in self.status.split(",") for s in _status_values(part)}
        return tuple(s for s in TRACE_STATUSES if s in chosen)

    def to_filter(self, now: datetime | None = None) -> TraceFilter:
        """The store filter of this query; ages count back from ``now`` (default: the current
        time), dates are aware UTC datetimes.

        Raises:
            FilterError: a time bound or status does not parse (only for queries built by
                hand).
        """
        conditions: list[Condition] = []
        model = self._name("model", self.model, conditions)
        provider = self._name("provider", self.provider, conditions)
        statuses = self.statuses
        status = statuses[0] if len(statuses) == 1 else None
        if len(statuses) > 1:
            conditions.append(Condition("status", "in", statuses))
        if self.id is not None:
            conditions.append(Condition("id", "prefix", self.id))
        for key in _NUMERIC:
            for bound in getattr(self, key):
                conditions.append(Condition(_NUMERIC_COLUMNS[key], bound.op, bound.value))
        for column, value in (
            ("session_id", self.session),
            ("route", self.route),
            ("source", self.source),
        ):
            if value is not None:
                conditions.append(Condition(column, "=", value))
        conditions += [Condition("tags", "has", tag) for tag in self.tags]
        return TraceFilter(
            model=model,
            provider=provider,
            status=status,
            streaming=self.streaming,
            since=_moment("since", self.since, now),
            until=_moment("until", self.until, now),
            q=self.text,
            conditions=tuple(conditions),
        )

    @staticmethod
    def _name(column: str, value: str | None, conditions: list[Condition]) -> str | None:
        """An exact name for the store's field, or ``None`` after adding its condition."""
        if value is None:
            return None
        if value.startswith("~"):
            conditions.append(Condition(column, "contains", value[1:]))
            return None
        if "*" in value:
            conditions.append(Condition(column, "glob", value))
            return None
        return value

    def __str__(self) -> str:
        """The query in its canonical text form (parses back to an equal query)."""
        terms = [
            f"{key}:{_quote(value)}"
            for key, value in (
                ("model", self.model),
                ("provider", self.provider),
                ("id", self.id),
                ("status", self.status),
            )
            if value is not None
        ]
        if self.streaming is not None:
            terms.append("type:stream" if self.streaming else "type:normal")
        for key, bound in (("since", self.since), ("until", self.until)):
            if bound is not None:
                terms.append(f"{key}:{_quote(bound)}")
        for key in _NUMERIC:
            terms += [f"{key}:{bound}" for bound in getattr(self, key)]
        for key, value in (
            ("session", self.session),
            ("route", self.route),
            ("source", self.source),
        ):
            if value is not None:
                terms.append(f"{key}:{_quote(value)}")
        terms += [f"tag:{_quote(tag)}" for tag in self.tags]
        terms += [_quote(word) for word in self.words]
        return " ".join(terms)


def _status_values(value: str) -> tuple[str, ...]:
    value = value.strip().lower()
    if value in STATUS_GROUPS:
        return STATUS_GROUPS[value]
    if value in TRACE_STATUSES:
        return (value,)
    known = [*TRACE_STATUSES, *STATUS_GROUPS]
    raise FilterError(
        f"unknown status {value!r}{_did_you_mean(value, known)}: use one of {', '.join(known)}"
    )


def _did_you_mean(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word.lower(), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


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


def _comparison(key: str, value: str) -> Comparison:
    """Parse ``>500``, ``<2s``, ``$0.01``, ``>=1k`` for ``key`` (see the module docstring)."""
    match = _COMPARISON.match(value.strip())
    unit = (match.group("unit") or "").lower() if match else ""
    allowed = {"latency": ("ms", "s"), "ttft": ("ms", "s"), "tokens": ("k",), "cost": ()}[key]
    if match is None or (unit and unit not in allowed):
        example = KEY_HELP[key][0]
        raise FilterError(
            f"{key}: {value!r} is not a comparison: use e.g. {example}"
            f" ({_UNITS[key]}; >, <, >=, <=, =)"
        )
    number = float(match.group("number"))
    if unit in ("s", "k"):  # seconds to ms, thousands of tokens
        number *= 1000
    op = cast(CompareOp, match.group("op") or ">=")
    return Comparison(op, number)


def parse_filter(text: str) -> FilterQuery:
    """Parse a filter in the grammar of this module into a :class:`FilterQuery` (call
    :meth:`FilterQuery.to_filter` for the store's :class:`TraceFilter`).

    Raises:
        FilterError: an unknown key (with the closest known one), a key without a value, an
            unknown status, type or route, an id that is not hex, a comparison that does not
            parse, or a time bound that is neither an age nor an ISO date.
    """
    query = FilterQuery()
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
                f"unknown filter key {key!r}{_did_you_mean(key, list(KEYS))}: use"
                f" {', '.join(KEY_HELP)} (quote a word with a colon to search for it)"
            )
        value = _unquote(match.group("value"))
        if not value:
            raise FilterError(f"{key}: needs a value, e.g. {KEY_HELP[field][0]}")
        if field == "text":
            words.append(value)
            continue
        query = _apply(query, field, value)
    return replace(query, words=tuple(words))


def _set(query: FilterQuery, field: str, value: object) -> FilterQuery:
    changes: dict[str, Any] = {field: value}
    return replace(query, **changes)


def _apply(query: FilterQuery, field: str, value: str) -> FilterQuery:
    """``query`` with the term ``field:value`` added (validated)."""
    if field in _NUMERIC:
        bounds: tuple[Comparison, ...] = getattr(query, field)
        return _set(query, field, (*bounds, _comparison(field, value)))
    if field == "status":
        status = value.lower()
        for part in status.split(","):
            _status_values(part)
        return replace(query, status=status)
    if field == "type":
        try:
            return replace(query, streaming=STREAMING_VALUES[value.lower()])
        except KeyError:
            raise FilterError(f"unknown type {value!r}: use stream or normal") from None
    if field in ("since", "until"):
        _moment(field, value, None)  # validate now, resolve in to_filter
        return _set(query, field, value)
    if field == "id":
        prefix = value.lower()
        if not _HEX.match(prefix):
            raise FilterError(f"id: {value!r} is not an id prefix (hex digits, e.g. 0193ab)")
        return replace(query, id=prefix)
    if field == "route":
        route = value.lower()
        if route not in ROUTES:
            raise FilterError(
                f"unknown route {value!r}{_did_you_mean(route, list(ROUTES))}:"
                f" use one of {', '.join(ROUTES)}"
            )
        return replace(query, route=route)
    if field == "tag":
        return replace(query, tags=(*query.tags, value))
    if field in ("model", "provider") and value.startswith("~") and len(value) == 1:
        raise FilterError(f"{field}: ~ needs text after it, e.g. {KEY_HELP[field][0]}")
    return _set(query, field, value)

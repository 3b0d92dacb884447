"""Which calls in flight the trace list shows: the ones that could match its filter, judged on
what the proxy's ``started``, ``chunk`` and ``finished`` events say of them
(:class:`~traceforge_tui.live.LiveCall`).

The filter is the list's own (:class:`~traceforge_shared.views.filters.FilterQuery`, made a
store filter by :meth:`~traceforge_shared.views.filters.FilterQuery.to_filter`, the hide-test-
traffic toggle added by :func:`~traceforge_tui.preferences.without_test_traffic`), and it is
applied with the store's own SQL (:meth:`~traceforge_shared.store.TraceFilter.sql` over
:mod:`~traceforge_shared.store.conditions`) on an in-memory table of the calls' known index
columns, so ``model:~gemini``, ``model:gpt-4*``, ``id:`` or ``since:2h`` select a call in
flight exactly as they select its trace once saved. What a call in flight does not have yet is
``NULL`` there, and a condition on it does not hold:

- known from the ``started`` event: ``id:``, ``model:``, ``provider:``, ``since:``/``until:``
  (the call's start time); ``session:``, ``tag:``, ``route:`` and ``source:`` (and the toggle)
  when the proxy announces them (``session_id``, ``tags``, ``route``, ``source``; a call
  whose source is not announced is not test traffic, as a trace without a source is not);
- ``type:``: a call is streamed once its first chunk arrives and not streamed when it ended
  without one; before either it could be both, and shows under ``type:stream`` and
  ``type:normal``;
- ``status:`` (any value, ``status:success`` too), ``latency:``, ``ttft:``, ``cost:`` and
  ``tokens:``: only the saved trace has them, so these terms hide calls in flight (the
  trace's row shows when it is saved, if it matches);
- text (bare words, ``text:``): each word or phrase must occur, any case, in the model, the
  endpoint or the redacted tail of the streamed answer (the messages are not published): the
  saved trace's text search matches whatever these match.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import replace
from datetime import datetime

from traceforge_shared.store import TraceFilter
from traceforge_shared.store.search import parse_query
from traceforge_shared.views.filters import FilterQuery
from traceforge_tui.live import LiveCall
from traceforge_tui.preferences import without_test_traffic

__all__ = ["LIVE_COLUMNS", "live_calls_matching"]

#: The index columns a call in flight fills (``NULL`` when it does not know them yet), with
#: their SQLite types; every other column a condition may read is ``NULL``.
LIVE_COLUMNS: dict[str, str] = {
    "id": "TEXT",
    "model": "TEXT",
    "provider": "TEXT",
    "endpoint": "TEXT",
    "timestamp": "TEXT",
    "streaming": "INTEGER",
    "session_id": "TEXT",
    "tags": "TEXT",
    "route": "TEXT",
    "source": "TEXT",
    "status": "TEXT",
    "latency_ms": "REAL",
    "first_chunk_latency_ms": "REAL",
    "cost_usd": "REAL",
    "total_tokens": "INTEGER",
    "prompt_tokens": "INTEGER",
    "completion_tokens": "INTEGER",
}

#: The columns an event tells, in :func:`_row`'s order.
_KNOWN = (
    "id",
    "model",
    "provider",
    "endpoint",
    "timestamp",
    "session_id",
    "tags",
    "route",
    "source",
)


def live_calls_matching(
    calls: Iterable[LiveCall],
    query: FilterQuery,
    *,
    hide_test_traffic: bool = False,
    now: datetime | None = None,
) -> list[LiveCall]:
    """The calls of ``calls`` (in their order) that could match ``query``, leaving out test
    traffic when ``hide_test_traffic`` (see the module docstring for what is judged how);
    ``since:``/``until:`` ages count back from ``now`` (default: the current time).

    A query the store would refuse (a text search too long, a time bound built by hand that
    does not parse) matches no call: the list says why it cannot read.
    """
    calls = list(calls)
    if not calls or (query.is_empty and not hide_test_traffic):
        return calls
    try:
        filters = without_test_traffic(query.to_filter(now), hide_test_traffic)
        terms = parse_query(filters.q).terms if filters.q else ()
    except ValueError:  # FilterError, SearchQueryError, an unknown status
        return []
    candidates = [call for call in calls if _could_stream(call, filters) and _has_text(call, terms)]
    if not candidates:
        return []
    where, params = replace(filters, streaming=None, q=None).sql()
    if not where:
        return candidates
    with closing(sqlite3.connect(":memory:")) as db:
        columns = ", ".join(f"{name} {kind}" for name, kind in LIVE_COLUMNS.items())
        db.execute(f"CREATE TABLE traces ({columns})")
        db.executemany(
            f"INSERT INTO traces ({', '.join(_KNOWN)}) VALUES ({', '.join('?' for _ in _KNOWN)})",
            [_row(call) for call in candidates],
        )
        matching = {row[0] for row in db.execute(f"SELECT id FROM traces WHERE {where}", params)}
    return [call for call in candidates if call.id in matching]


def _row(call: LiveCall) -> tuple[object, ...]:
    """The call's known index columns, in :data:`_KNOWN` order."""
    return (
        call.id,
        call.model or None,
        call.provider or None,
        call.endpoint or None,
        call.timestamp or None,
        call.session_id,
        ",".join(call.tags) if call.tags else None,
        call.route,
        call.source,
    )


def _could_stream(call: LiveCall, filters: TraceFilter) -> bool:
    """Whether ``type:`` could hold: streamed after a chunk, not streamed when it ended
    without one, either before."""
    if filters.streaming is None:
        return True
    if call.chunks:
        return filters.streaming
    return not filters.streaming if call.finished else True


def _has_text(call: LiveCall, terms: tuple[str, ...]) -> bool:
    """Whether every term occurs (any case) in the model, the endpoint or the tail."""
    if not terms:
        return True
    haystack = "\n".join((call.model, call.endpoint, call.tail)).casefold()
    return all(term.casefold() in haystack for term in terms)

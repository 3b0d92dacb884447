"""``/api/runs`` and ``/api/sessions``: agent runs (trees of spans under one W3C trace id) and
sessions (the runs of one conversation or user), read through
:class:`~traceforge_shared.store.spans.SpanStore` only.

Routes:

- ``GET /api/runs`` -> ``200 {"runs": [RunSummary, ...], "total", "limit", "offset",
  "next_cursor"}``, newest start first, paged like ``/api/traces`` (``limit``, and ``offset``
  or ``cursor``); filters ``session``, ``status`` (``ok``/``error``/``unset``), ``kind``
  (the root span's), ``tag``, ``q`` (text of the root span's name), ``since``/``until`` (run
  start, ISO 8601, no offset: UTC).
- ``GET /api/runs/{id}`` -> ``200`` the run's tree (:func:`run_tree_json`): ``trace_id``,
  ``start_ns``, ``end_ns``, ``duration_ms``, ``span_count``, ``errors``, ``summary`` and
  ``spans``, the roots, each span's fields plus ``offset_ms``, ``duration_ms``, ``depth``,
  ``orphan`` and its nested ``children``. ``{id}``: a run id or a unique prefix of one.
- ``GET /api/sessions`` -> ``200 {"sessions": [SessionSummary, ...], "total", "limit",
  "offset", "next_offset"}``, latest activity first; ``since`` keeps sessions with a run
  starting then or later.
- ``GET /api/sessions/{id}`` -> ``200 {"session": SessionSummary, "runs": [RunSummary, ...]}``
  (runs oldest first). ``{id}`` is the session id as sent (URL-encoded; it may hold ``/``).

Errors: ``400`` a bad parameter or a run id that is not hexadecimal, ``404`` no such run or
session, ``409`` an ambiguous run id prefix (``matches`` lists some).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from traceforge_shared.spans import SPAN_KINDS, SPAN_STATUSES, RunSummary, SessionSummary
from traceforge_shared.store import (
    AmbiguousRunIdError,
    RunFilter,
    RunNotFoundError,
    SessionNotFoundError,
    SpanStore,
)
from traceforge_shared.views.run_view import session_totals, tree_json
from traceforge_shared.views.runs import build_tree
from traceforge_web_api.common import ApiError, QueryError, get_store, json_response, route
from traceforge_web_api.params import MAX_OFFSET, choice_param, datetime_param, int_param

#: Page size when ``limit`` is not given, and the largest page a client may ask for.
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000

#: Longest ``q``, ``tag`` and session id accepted, in characters.
MAX_TEXT_CHARS = 256

_HEX = frozenset("0123456789abcdefABCDEF")


class RunPage(msgspec.Struct, kw_only=True):
    """One page of ``GET /api/runs``.

    Attributes:
        runs: the runs of this page, newest start first.
        total: how many runs match the filters in all.
        limit: the page size asked for.
        offset: how many matching runs were skipped (``0`` with a cursor).
        next_cursor: pass it as ``cursor`` for the next page; ``null`` when none follows.
    """

    runs: list[RunSummary]
    total: int
    limit: int
    offset: int
    next_cursor: str | None


class SessionPage(msgspec.Struct, kw_only=True):
    """One page of ``GET /api/sessions``.

    Attributes:
        sessions: the sessions of this page, latest activity first.
        total: how many sessions match in all.
        limit: the page size asked for.
        offset: how many were skipped.
        next_offset: the ``offset`` of the next page; ``null`` when none follows.
    """

    sessions: list[SessionSummary]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class SessionDetail(msgspec.Struct, kw_only=True):
    """``GET /api/sessions/{id}``: the session's totals and its runs, oldest first."""

    session: SessionSummary
    runs: list[RunSummary]


class RunCursor(msgspec.Struct, array_like=True, frozen=True):
    """The position after one run in the list order: its ``start_ns`` and ``trace_id``."""

    start_ns: int
    trace_id: str


def encode_run_cursor(run: RunSummary) -> str:
    """The opaque cursor (URL-safe base64 of ``[start_ns, trace_id]``) of the position just
    after ``run``."""
    raw = msgspec.json.encode(RunCursor(run.start_ns, run.trace_id))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_run_cursor(token: str) -> RunCursor:
    """The cursor of ``token``.

    Raises:
        QueryError: not a cursor this API made.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = msgspec.json.decode(raw, type=RunCursor)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise QueryError("cursor is not valid; use the next_cursor of a previous page") from None
    if len(cursor.trace_id) != 32 or not set(cursor.trace_id) <= _HEX:
        raise QueryError("cursor is not valid; use the next_cursor of a previous page")
    return cursor


@dataclass(kw_only=True, eq=False)
class RunsAfter(RunFilter):
    """A :class:`RunFilter` that also keeps only the runs after ``after`` in the list order
    (start descending, then run id descending): runs saved while a client pages never shift
    its pages."""

    after: RunCursor | None = None

    def sql(self) -> tuple[str, list[object]]:
        """The filter's ``WHERE`` clause, plus the cursor's."""
        where, params = super().sql()
        if self.after is None:
            return where, params
        clause = "(start_ns < ? OR (start_ns = ? AND trace_id < ?))"
        params += [self.after.start_ns, self.after.start_ns, self.after.trace_id]
        return (f"{where} AND {clause}" if where else clause), params


def _text(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    if len(raw) > MAX_TEXT_CHARS:
        raise QueryError(f"{name} must be at most {MAX_TEXT_CHARS} characters, got {len(raw)}")
    return raw


def run_filter(request: Request) -> RunsAfter:
    """The filters of ``GET /api/runs`` (module docstring); without the cursor.

    Raises:
        QueryError: a parameter has a value that cannot be used.
    """
    params = request.query_params
    status = choice_param(params, "status", SPAN_STATUSES, "")
    kind = choice_param(params, "kind", SPAN_KINDS, "")
    return RunsAfter(
        session_id=_text(request, "session"),
        status=status or None,
        kind=kind or None,
        tag=_text(request, "tag"),
        q=_text(request, "q"),
        since=datetime_param(params, "since"),
        until=datetime_param(params, "until"),
    )


def _spans(request: Request) -> SpanStore:
    return get_store(request).spans


def list_runs(request: Request) -> Response:
    """``GET /api/runs``: one page of runs, newest start first.

    Returns:
        ``200`` :class:`RunPage`; ``400`` a bad parameter or cursor.
    """
    params = request.query_params
    limit = int_param(params, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = int_param(params, "offset", 0, minimum=0, maximum=MAX_OFFSET)
    cursor = params.get("cursor") or None
    if cursor is not None and offset:
        raise QueryError("pass either offset or cursor, not both")
    filters = run_filter(request)
    spans = _spans(request)
    total = spans.count_runs(filters)
    if cursor is not None:
        filters.after = decode_run_cursor(cursor)
    rows = spans.list_runs(filters, limit=limit + 1, offset=offset)
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response(
        RunPage(
            runs=rows,
            total=total,
            limit=limit,
            offset=offset,
            next_cursor=encode_run_cursor(rows[-1]) if more and rows else None,
        )
    )


def run_tree_json(spans: SpanStore, run_id: str) -> dict[str, Any]:
    """The tree of run ``run_id`` (an id or unique prefix) as JSON-ready builtins
    (:func:`traceforge_shared.views.run_view.tree_json`).

    Raises:
        ApiError: ``400`` not hexadecimal; ``404`` no such run; ``409`` ambiguous prefix.
    """
    if not run_id or len(run_id) > 32 or not set(run_id) <= _HEX:
        raise ApiError(400, f"not a run id or id prefix: {run_id!r} (run ids are 32 hex digits)")
    try:
        found = spans.get_run(run_id)
        summary = spans.get_run_summary(found[0].trace_id) if found else None
    except AmbiguousRunIdError as exc:
        raise ApiError(409, str(exc), matches=exc.matches) from None
    except RunNotFoundError as exc:
        raise ApiError(404, str(exc)) from None
    return tree_json(build_tree(found), summary)


def get_run(request: Request) -> Response:
    """``GET /api/runs/{id}``: the run's tree.

    Returns:
        ``200`` the tree; ``400`` id not hexadecimal; ``404`` no such run; ``409``
        ambiguous prefix.
    """
    return json_response(run_tree_json(_spans(request), request.path_params["run_id"]))


def list_sessions(request: Request) -> Response:
    """``GET /api/sessions``: one page of sessions, latest activity first (``limit``,
    ``offset``, ``since``).

    Returns:
        ``200`` :class:`SessionPage`; ``400`` a bad parameter.
    """
    params = request.query_params
    limit = int_param(params, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = int_param(params, "offset", 0, minimum=0, maximum=MAX_OFFSET)
    since = datetime_param(params, "since")
    spans = _spans(request)
    rows = spans.list_sessions(limit=limit + 1, offset=offset, since=since)
    total = len(spans.list_sessions(limit=None, since=since))
    more = len(rows) > limit
    return json_response(
        SessionPage(
            sessions=rows[:limit],
            total=total,
            limit=limit,
            offset=offset,
            next_offset=offset + limit if more else None,
        )
    )


def get_session(request: Request) -> Response:
    """``GET /api/sessions/{id}``: the session's totals and runs.

    Returns:
        ``200`` :class:`SessionDetail`; ``404`` no run has this session id.
    """
    session_id = request.path_params["session_id"]
    try:
        runs = _spans(request).get_session(session_id)
    except SessionNotFoundError as exc:
        raise ApiError(404, str(exc)) from None
    return json_response(SessionDetail(session=session_totals(session_id, runs), runs=runs))


routes: list[BaseRoute] = [
    route("/api/runs", {"GET": list_runs}, name="runs"),
    route("/api/runs/{run_id}", {"GET": get_run}, name="run"),
    route("/api/sessions", {"GET": list_sessions}, name="sessions"),
    route("/api/sessions/{session_id:path}", {"GET": get_session}, name="session"),
]

"""``/api/traces``: list, fetch and delete recorded traces (through :class:`TraceStore` only).

Routes:

- ``GET /api/traces`` -> ``200 {"traces": [summary, ...], "total", "limit", "offset",
  "next_cursor"}``. Summaries are :class:`~traceforge_shared.trace.TraceSummary` objects as
  JSON, newest first; ``total`` counts every trace matching the filters (not just this page);
  ``next_cursor`` is the token of the next page (``null`` on the last one).
- ``GET /api/traces/{id}`` -> ``200`` the whole :class:`~traceforge_shared.trace.Trace` as JSON.
- ``DELETE /api/traces/{id}`` -> ``204`` (empty body).

``{id}`` is a full trace id or a unique prefix of one. Errors are ``{"error": message}`` with:
``400`` bad query parameter or id that is not hexadecimal (so never a path outside the store),
``404`` no such trace, ``409`` ambiguous prefix (the body also has ``matches``), ``422`` the
trace file is corrupt or of an unsupported schema version.
"""

from __future__ import annotations

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from traceforge_shared.store import StoreError
from traceforge_shared.trace import TraceSummary
from traceforge_web_api.common import (
    QueryError,
    get_store,
    json_response,
    route,
    store_error,
)
from traceforge_web_api.paging import encode_cursor, page
from traceforge_web_api.params import MAX_OFFSET, int_param, parse_filter, text_param

#: Page size when ``limit`` is not given, and the largest page a client may ask for.
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class TracePage(msgspec.Struct, kw_only=True):
    """One page of ``GET /api/traces``.

    Attributes:
        traces: the summaries of this page, newest first.
        total: how many traces match the filters in all.
        limit: the page size asked for.
        offset: how many matching traces were skipped (``0`` with a cursor).
        next_cursor: pass it as ``cursor`` for the next page; ``null`` when none follows.
    """

    traces: list[TraceSummary]
    total: int
    limit: int
    offset: int
    next_cursor: str | None


def list_traces(request: Request) -> Response:
    """``GET /api/traces``: one page of trace summaries, newest first.

    Query parameters: ``limit`` (1-1000, default 50); either ``offset`` (>= 0, default 0) or
    ``cursor`` (the ``next_cursor`` of the previous page; stable while new traces arrive);
    and the filters of :func:`~traceforge_web_api.params.parse_filter` (``model``,
    ``provider``, ``status``, ``streaming``, ``since``, ``until``, ``q``). A cursor is only
    meaningful with the filters of the walk it came from.

    Returns:
        ``200`` :class:`TracePage`; ``400 {"error": ...}`` for a bad parameter.
    """
    params = request.query_params
    limit = int_param(params, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = int_param(params, "offset", 0, minimum=0, maximum=MAX_OFFSET)
    cursor = text_param(params, "cursor")
    if cursor is not None and offset:
        raise QueryError("pass either offset or cursor, not both")
    filters = parse_filter(params)
    store = get_store(request)
    rows, more = page(store, filters, limit=limit, offset=offset, after=cursor)
    return json_response(
        TracePage(
            traces=rows,
            total=store.count(filters),
            limit=limit,
            offset=offset,
            next_cursor=encode_cursor(rows[-1]) if more and rows else None,
        )
    )


def get_trace(request: Request) -> Response:
    """``GET /api/traces/{id}``: the whole trace (request, response, chunks, metadata).

    Returns:
        ``200`` the trace as JSON; ``400`` id not hexadecimal; ``404`` no such trace;
        ``409`` ambiguous prefix; ``422`` corrupt or unsupported trace file.
    """
    try:
        trace = get_store(request).get(request.path_params["trace_id"])
    except StoreError as exc:
        raise store_error(exc) from None
    return json_response(trace)


def delete_trace(request: Request) -> Response:
    """``DELETE /api/traces/{id}``: delete one trace (a corrupt file can be deleted too).

    Returns:
        ``204`` deleted; ``400`` id not hexadecimal; ``404`` no such trace;
        ``409`` ambiguous prefix.
    """
    trace_id = request.path_params["trace_id"]
    if trace_id == "diff":  # /api/traces/diff is its own (GET-only) resource
        raise HTTPException(405, headers={"Allow": "GET, HEAD"})
    try:
        get_store(request).delete(trace_id)
    except StoreError as exc:
        raise store_error(exc) from None
    return Response(status_code=204)


routes: list[BaseRoute] = [
    route("/api/traces", {"GET": list_traces}, name="traces"),
    route("/api/traces/{trace_id}", {"GET": get_trace, "DELETE": delete_trace}, name="trace"),
]

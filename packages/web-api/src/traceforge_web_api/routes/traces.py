"""``/api/traces``: list, fetch and delete recorded traces (through :class:`TraceStore` only).

Routes:

- ``GET /api/traces`` -> ``200 {"traces": [summary, ...], "total", "limit", "offset"}``.
  Summaries are :class:`~traceforge_shared.trace.TraceSummary` objects as JSON, newest first;
  ``total`` counts every trace matching the filters (not just this page).
- ``GET /api/traces/{id}`` -> ``200`` the whole :class:`~traceforge_shared.trace.Trace` as JSON.
- ``DELETE /api/traces/{id}`` -> ``204`` (empty body).

``{id}`` is a full trace id or a unique prefix of one. Errors are ``{"error": message}`` with:
``400`` bad query parameter or id that is not hexadecimal (so never a path outside the store),
``404`` no such trace, ``409`` ambiguous prefix (the body also has ``matches``), ``422`` the
trace file is corrupt or of an unsupported schema version.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from traceforge_shared.store import (
    AmbiguousTraceIdError,
    InvalidTraceIdError,
    StoreError,
    TraceFilter,
    TraceNotFoundError,
    TraceSchemaError,
)
from traceforge_shared.trace import TRACE_STATUSES
from traceforge_web_api.common import error_response, get_store, json_response

#: Page size when ``limit`` is not given, and the largest page a client may ask for.
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class QueryError(ValueError):
    """A query parameter with a value the API cannot use; the message says which and why."""


def _int_param(
    params: QueryParams, name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be an integer {bounds}, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise QueryError(f"{name} must be an integer {bounds}, got {raw!r}")
    return value


def _bool_param(params: QueryParams, name: str) -> bool | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise QueryError(f"{name} must be 'true' or 'false', got {raw!r}")


def _datetime_param(params: QueryParams, name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise QueryError(
            f"{name} must be an ISO 8601 date or time (e.g. 2026-11-23T08:55:54Z), got {raw!r}"
        ) from None


def _text_param(params: QueryParams, name: str) -> str | None:
    raw = params.get(name)
    return raw if raw else None


def parse_filter(params: QueryParams) -> TraceFilter:
    """Build the :class:`TraceFilter` of a list request from its query parameters.

    Recognised: ``model``, ``provider`` (exact match), ``status`` (one of
    :data:`~traceforge_shared.trace.TRACE_STATUSES`), ``streaming`` (``true``/``false``),
    ``since`` (ISO 8601; a time without offset is UTC). Empty values mean "no filter".

    Raises:
        QueryError: a parameter has a value that cannot be used.
    """
    status = _text_param(params, "status")
    if status is not None and status not in TRACE_STATUSES:
        raise QueryError(f"status must be one of {', '.join(TRACE_STATUSES)}, got {status!r}")
    return TraceFilter(
        model=_text_param(params, "model"),
        provider=_text_param(params, "provider"),
        status=status,
        streaming=_bool_param(params, "streaming"),
        since=_datetime_param(params, "since"),
    )


def list_traces(request: Request) -> Response:
    """``GET /api/traces``: one page of trace summaries, newest first.

    Query parameters: ``limit`` (1-1000, default 50), ``offset`` (>= 0, default 0) and the
    filters of :func:`parse_filter`.

    Returns:
        ``200 {"traces": [summary, ...], "total": <matching traces>, "limit", "offset"}``;
        ``400 {"error": ...}`` for a bad parameter.
    """
    params = request.query_params
    try:
        limit = _int_param(params, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
        offset = _int_param(params, "offset", 0, minimum=0)
        filters = parse_filter(params)
    except QueryError as exc:
        return error_response(400, str(exc))
    store = get_store(request)
    summaries = store.list(filters, limit=limit, offset=offset)
    return json_response(
        {
            "traces": [msgspec.to_builtins(summary) for summary in summaries],
            "total": store.count(filters),
            "limit": limit,
            "offset": offset,
        }
    )


def _store_error_response(exc: StoreError) -> Response:
    if isinstance(exc, InvalidTraceIdError):
        return error_response(400, str(exc))
    if isinstance(exc, AmbiguousTraceIdError):
        return error_response(409, str(exc), matches=exc.matches)
    if isinstance(exc, TraceNotFoundError):
        return error_response(404, str(exc))
    if isinstance(exc, TraceSchemaError):
        return error_response(422, f"trace file cannot be read: {exc}")
    return error_response(422, str(exc))  # pragma: no cover - no other StoreError exists


def get_trace(request: Request) -> Response:
    """``GET /api/traces/{id}``: the whole trace (request, response, chunks, metadata).

    Returns:
        ``200`` the trace as JSON; ``400`` id not hexadecimal; ``404`` no such trace;
        ``409`` ambiguous prefix; ``422`` corrupt or unsupported trace file.
    """
    try:
        trace = get_store(request).get(request.path_params["trace_id"])
    except StoreError as exc:
        return _store_error_response(exc)
    return json_response(trace)


def delete_trace(request: Request) -> Response:
    """``DELETE /api/traces/{id}``: delete one trace (a corrupt file can be deleted too).

    Returns:
        ``204`` deleted; ``400`` id not hexadecimal; ``404`` no such trace;
        ``409`` ambiguous prefix.
    """
    try:
        get_store(request).delete(request.path_params["trace_id"])
    except StoreError as exc:
        return _store_error_response(exc)
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/api/traces", list_traces, methods=["GET"], name="list_traces"),
    Route("/api/traces/{trace_id}", get_trace, methods=["GET"], name="get_trace"),
    Route("/api/traces/{trace_id}", delete_trace, methods=["DELETE"], name="delete_trace"),
]

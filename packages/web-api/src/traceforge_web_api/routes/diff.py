"""``GET /api/traces/diff?id1=&id2=``: what differs between two traces.

Answers ``200`` the :class:`~traceforge_shared.diff.TraceDiff` of trace ``id1`` (before) and
trace ``id2`` (after): headline numbers of both sides, ``added``/``removed``/``changed``
values at field paths (``request.messages[0].content``), the answers' ``similarity`` (0-1)
and both answer texts. Ids may be unique prefixes.

Errors: ``400`` a missing or non-hexadecimal id, ``404`` no such trace, ``409`` ambiguous
prefix (with ``matches``), ``422`` unreadable trace file. The route is declared before
``/api/traces/{id}``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from traceforge_shared.diff import diff_traces
from traceforge_shared.store import StoreError
from traceforge_web_api.common import QueryError, get_store, json_response, store_error
from traceforge_web_api.params import text_param


def diff(request: Request) -> Response:
    """``GET /api/traces/diff?id1=<id>&id2=<id>`` -> ``200`` TraceDiff."""
    params = request.query_params
    ids = [text_param(params, name) for name in ("id1", "id2")]
    missing = [name for name, value in zip(("id1", "id2"), ids, strict=True) if value is None]
    if missing:
        raise QueryError(f"{' and '.join(missing)} required: the ids of the traces to compare")
    store = get_store(request)
    try:
        a, b = (store.get(trace_id) for trace_id in ids if trace_id is not None)
    except StoreError as exc:
        raise store_error(exc) from None
    return json_response(diff_traces(a, b))


routes: list[BaseRoute] = [
    Route("/api/traces/diff", diff, methods=["GET"], name="diff_traces"),
]

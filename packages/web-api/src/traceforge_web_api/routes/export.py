"""``GET /api/export``: every trace matching the list filters, streamed as a download.

``format`` (default ``jsonl``):

- ``json``: one JSON array of whole traces (``application/json``);
- ``jsonl``: one whole trace per line (``application/x-ndjson``);
- ``csv``: one row per trace with the :class:`~traceforge_shared.trace.TraceSummary`
  columns, a header row first (``text/csv``; booleans ``true``/``false``, missing values
  empty).

Filters: as ``GET /api/traces`` (``model``, ``provider``, ``status``, ``streaming``,
``since``, ``until``, ``q``). Newest first. The answer is streamed while the store is read a
page at a time, so an export of any size never sits in memory. A trace deleted during the
export, or whose file cannot be read, is left out. ``400`` for a bad parameter.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from traceforge_shared.store.export import EXPORT_FORMATS, Export
from traceforge_shared.trace import TraceSummary
from traceforge_web_api.common import get_store
from traceforge_web_api.params import choice_param, parse_filter

MEDIA_TYPES = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv"}

#: CSV columns, in order: every summary field.
CSV_COLUMNS: tuple[str, ...] = TraceSummary.__struct_fields__


def export_traces(request: Request) -> Response:
    """``GET /api/export?format=json|jsonl|csv&<filters>``: the traces as a file download
    (written by :class:`traceforge_shared.store.export.Export`).

    Returns:
        ``200`` streamed, with ``Content-Disposition: attachment; filename=traces.<format>``;
        ``400 {"error": ...}`` for a bad parameter.
    """
    params = request.query_params
    kind = choice_param(params, "format", EXPORT_FORMATS, "jsonl")
    filters = parse_filter(params)
    export = Export(get_store(request), kind, filters, columns=CSV_COLUMNS)
    return StreamingResponse(
        iter(export),
        media_type=MEDIA_TYPES[kind],  # Starlette adds "; charset=utf-8" to text/csv
        headers={"Content-Disposition": f'attachment; filename="traces.{kind}"'},
    )


routes: list[BaseRoute] = [
    Route("/api/export", export_traces, methods=["GET"], name="export_traces"),
]

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

import csv
import io
from collections.abc import Iterator

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from traceforge_shared.store import TraceFilter, TraceStore
from traceforge_shared.trace import TraceSummary
from traceforge_web_api.common import get_store
from traceforge_web_api.paging import iter_summaries, iter_traces
from traceforge_web_api.params import choice_param, parse_filter

FORMATS = ("json", "jsonl", "csv")
MEDIA_TYPES = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv"}

#: CSV columns, in order: the summary fields.
CSV_COLUMNS: tuple[str, ...] = TraceSummary.__struct_fields__

_encoder = msgspec.json.Encoder()


def _json_array(store: TraceStore, filters: TraceFilter) -> Iterator[bytes]:
    yield b"["
    separator = b"\n"
    for trace in iter_traces(store, filters):
        yield separator + _encoder.encode(trace)
        separator = b",\n"
    yield b"\n]\n"


def _json_lines(store: TraceStore, filters: TraceFilter) -> Iterator[bytes]:
    for trace in iter_traces(store, filters):
        yield _encoder.encode(trace) + b"\n"


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv_rows(store: TraceStore, filters: TraceFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for index, summary in enumerate(iter_summaries(store, filters), start=1):
        writer.writerow([_cell(getattr(summary, column)) for column in CSV_COLUMNS])
        if index % 100 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_traces(request: Request) -> Response:
    """``GET /api/export?format=json|jsonl|csv&<filters>``: the traces as a file download.

    Returns:
        ``200`` streamed, with ``Content-Disposition: attachment; filename=traces.<format>``;
        ``400 {"error": ...}`` for a bad parameter.
    """
    params = request.query_params
    kind = choice_param(params, "format", FORMATS, "jsonl")
    filters = parse_filter(params)
    store = get_store(request)
    body: Iterator[bytes] | Iterator[str]
    if kind == "json":
        body = _json_array(store, filters)
    elif kind == "jsonl":
        body = _json_lines(store, filters)
    else:
        body = _csv_rows(store, filters)
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[kind],  # Starlette adds "; charset=utf-8" to text/csv
        headers={"Content-Disposition": f'attachment; filename="traces.{kind}"'},
    )


routes: list[BaseRoute] = [
    Route("/api/export", export_traces, methods=["GET"], name="export_traces"),
]

"""Exporting traces: whole traces as a JSON array or JSON Lines, or one CSV row of summary
columns per trace, streamed (one page of the index and one trace at a time in memory).

Used by ``traceforge trace export``. Formats:

- ``json``: ``[`` + one whole trace per line, comma-separated + ``]`` (valid JSON);
- ``jsonl``: one whole trace per line (https://jsonlines.org/);
- ``csv``: a header row of :data:`CSV_COLUMNS`, then one row per trace (RFC 4180, ``\\r\\n``
  line ends; missing values empty, booleans ``true``/``false``).

Traces come newest first; one deleted meanwhile, or whose file cannot be read, is left out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import msgspec

from traceforge_shared.store import TraceFilter, TraceStore

__all__ = ["CSV_COLUMNS", "EXPORT_FORMATS", "Export"]

#: The formats :func:`export_chunks` writes.
EXPORT_FORMATS = ("json", "jsonl", "csv")

#: CSV columns, in order (:class:`~traceforge_shared.trace.TraceSummary` field names:
#: ``first_chunk_latency_ms`` is the time to first token in ms, ``cost_usd`` in USD).
CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "timestamp",
    "provider",
    "model",
    "status",
    "status_code",
    "latency_ms",
    "first_chunk_latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
    "endpoint",
)

_encoder = msgspec.json.Encoder()
#: CSV rows written per chunk.
_CSV_ROWS = 200


class Export:
    """The export of the traces matching ``filters`` in format ``fmt``: iterate over it for
    the pieces to write one after the other (UTF-8 bytes); :attr:`count` then says how many
    traces were written.

    Args:
        store: the store to read.
        fmt: one of :data:`EXPORT_FORMATS`.
        filters: which traces (default: all).
        columns: the CSV columns, :class:`~traceforge_shared.trace.TraceSummary` field names
            (default :data:`CSV_COLUMNS`; the REST API exports every summary field).

    Raises:
        ValueError: ``fmt`` is not one of :data:`EXPORT_FORMATS`.
    """

    def __init__(
        self,
        store: TraceStore,
        fmt: str,
        filters: TraceFilter | None = None,
        *,
        columns: tuple[str, ...] = CSV_COLUMNS,
    ) -> None:
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {fmt!r}; use {', '.join(EXPORT_FORMATS)}")
        self.store = store
        self.fmt = fmt
        self.filters = filters
        self.columns = columns
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        """The pieces of the export, in order."""
        if self.fmt == "csv":
            return self._csv_rows()
        if self.fmt == "json":
            return self._json_array()
        return self._json_lines()

    def _traces(self) -> Iterator[bytes]:
        for trace in self.store.iter_traces(self.filters):
            self.count += 1
            yield _encoder.encode(trace)

    def _json_array(self) -> Iterator[bytes]:
        yield b"["
        separator = b"\n"
        for data in self._traces():
            yield separator + data
            separator = b",\n"
        yield b"\n]\n"

    def _json_lines(self) -> Iterator[bytes]:
        for data in self._traces():
            yield data + b"\n"

    def _csv_rows(self) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.columns)
        for summary in self.store.iter_summaries(self.filters):
            writer.writerow([_cell(getattr(summary, column)) for column in self.columns])
            self.count += 1
            if self.count % _CSV_ROWS == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value

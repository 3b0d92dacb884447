"""What the CLI, the TUI and the web API show of traces, as plain data each UI styles itself.

One module per concept: :mod:`.status` (status labels and levels), :mod:`.metadata`
(metadata rows of a trace), :mod:`.stream` (stream statistics, the slow-chunk rule),
:mod:`.filters` (the filter grammar), :mod:`.times` (ages and ISO dates, always UTC),
:mod:`.units` (ms, USD and token texts). Nothing here imports rich or textual.
"""

from __future__ import annotations

from traceforge_shared.views.filters import FilterError, FilterQuery, parse_filter
from traceforge_shared.views.metadata import MetadataRow, metadata_rows
from traceforge_shared.views.status import Level, StatusView, status_label, status_view
from traceforge_shared.views.stream import StreamStats, is_slow_gap, stream_stats
from traceforge_shared.views.times import (
    TimeParseError,
    local_time,
    parse_age,
    parse_datetime,
    parse_since,
)

__all__ = [
    "FilterError",
    "FilterQuery",
    "Level",
    "MetadataRow",
    "StatusView",
    "StreamStats",
    "TimeParseError",
    "is_slow_gap",
    "local_time",
    "metadata_rows",
    "parse_age",
    "parse_datetime",
    "parse_filter",
    "parse_since",
    "status_label",
    "status_view",
    "stream_stats",
]

"""What the CLI, the TUI and the web API show of traces, as plain data each UI styles itself.

One module per concept: :mod:`.status` (status labels and levels), :mod:`.metadata`
(metadata rows of a trace), :mod:`.reasoning` (the answer's reasoning), :mod:`.stream`
(stream statistics, the slow-chunk rule), :mod:`.filters` (the filter grammar),
:mod:`.times` (ages and ISO dates, always UTC), :mod:`.units` (ms, USD and token texts),
:mod:`.columns` (which table columns fit a terminal's width).
Nothing here imports rich or textual.

The names below are imported on first use, so importing one view module (``trace list``
needs only a few) does not load the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from traceforge_shared.views.filters import FilterError, FilterQuery, parse_filter
    from traceforge_shared.views.metadata import MetadataRow, metadata_rows
    from traceforge_shared.views.reasoning import reasoning_text
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
    "reasoning_text",
    "status_label",
    "status_view",
    "stream_stats",
]

#: Where each exported name lives.
_MODULES: dict[str, str] = {
    "FilterError": "filters",
    "FilterQuery": "filters",
    "Level": "status",
    "MetadataRow": "metadata",
    "StatusView": "status",
    "StreamStats": "stream",
    "TimeParseError": "times",
    "is_slow_gap": "stream",
    "local_time": "times",
    "metadata_rows": "metadata",
    "parse_age": "times",
    "parse_datetime": "times",
    "parse_filter": "filters",
    "parse_since": "times",
    "reasoning_text": "reasoning",
    "status_label": "status",
    "status_view": "status",
    "stream_stats": "stream",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value

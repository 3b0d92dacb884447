"""The TUI's custom messages, as small dataclasses.

Worker threads read the store and post these to their screen (``post_message`` is
thread-safe); widgets post the others to tell their screen what the user did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from traceforge_shared.trace import Trace, TraceSummary
from traceforge_shared.views.filters import FilterQuery

# -- the trace list ------------------------------------------------------------------------


@dataclass
class PageLoaded(Message):
    """A page of the trace list was read from the index.

    Attributes:
        generation: the list's filter generation the page was read for (stale pages are
            dropped).
        offset: index offset of the page's first row.
        limit: how many rows were asked for (fewer means the end was reached).
        summaries: the rows, newest first.
        total: how many traces match the filter.
    """

    generation: int
    offset: int
    limit: int
    summaries: list[TraceSummary]
    total: int


@dataclass
class TracesPolled(Message):
    """The newest page of the index, read by the live poll.

    Attributes:
        generation: the list's filter generation it was read for.
        limit: how many rows were asked for.
        summaries: the newest rows, newest first.
        total: how many traces match the filter.
    """

    generation: int
    limit: int
    summaries: list[TraceSummary]
    total: int


@dataclass
class StoreReadFailed(Message):
    """Reading the index failed (the reason is shown instead of the list)."""

    generation: int
    reason: str


@dataclass
class LoadMore(Message):
    """The trace table's cursor or scroll reached its last row: load the next page."""


@dataclass
class MarksChanged(Message):
    """The marked traces changed (at most two, in the order they were marked)."""

    marked: tuple[str, ...]


@dataclass
class FilterSubmitted(Message):
    """The filter bar's query was submitted (Enter)."""

    query: FilterQuery


# -- one trace -----------------------------------------------------------------------------


@dataclass
class TraceLoaded(Message):
    """The detail screen's trace was read."""

    trace: Trace


@dataclass
class TraceLoadFailed(Message):
    """The detail screen's trace could not be read (deleted, corrupt)."""

    trace_id: str
    reason: str


@dataclass
class TestSaved(Message):
    """A test file was written from the trace."""

    __test__ = False  # not a pytest test class

    path: Path


@dataclass
class TraceDeleted(Message):
    """The trace was deleted from the store."""

    trace_id: str


@dataclass
class ActionFailed(Message):
    """A store action (save as test, delete) failed; ``reason`` says why."""

    reason: str

"""Stream statistics and the slow-chunk rule, shared by every UI.

The slow-chunk rule (one rule everywhere): the gap before a chunk is *slow* when it is longer
than both :data:`SLOW_GAP_FACTOR` times the stream's median gap and :data:`SLOW_GAP_FLOOR_MS`.
The first chunk's delay is the time to first token, not a gap, and is never slow.

Why this rule: the TUI marked every gap at or above the 95th percentile (so about one gap in
twenty of any stream that is not perfectly even, however small the difference) and the CLI did
the same but only from 20 gaps on (so short streams never had a slow gap). Measured against
the median, a gap is slow because it stands out from the stream's own pace, whatever the
stream's length; the floor keeps the jitter of very fast streams (2 ms against 7 ms) quiet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from traceforge_shared.trace import StreamChunk

#: A gap is slow from this many times the median gap on ...
SLOW_GAP_FACTOR = 3.0
#: ... and only when it is also longer than this (ms).
SLOW_GAP_FLOOR_MS = 100.0


@dataclass(frozen=True)
class StreamStats:
    """Timing of the chunks kept in a trace (all durations in ms).

    Attributes:
        chunks: how many chunks.
        first_chunk_ms: the first chunk's delay after the request went upstream (time to first
            token); ``None`` without chunks.
        duration_ms: from the first chunk to the last (0 for one chunk); ``None`` without chunks.
        median_gap_ms, mean_gap_ms, max_gap_ms: of the gaps between consecutive chunks;
            ``None`` with fewer than two chunks.
        slow: positions in the chunk list whose gap before them is slow (:func:`is_slow_gap`).
    """

    chunks: int
    first_chunk_ms: float | None
    duration_ms: float | None
    median_gap_ms: float | None
    mean_gap_ms: float | None
    max_gap_ms: float | None
    slow: frozenset[int]


def is_slow_gap(gap_ms: float, median_gap_ms: float) -> bool:
    """Whether a gap of ``gap_ms`` is slow in a stream whose median gap is ``median_gap_ms``:
    longer than ``SLOW_GAP_FACTOR * median_gap_ms`` and than :data:`SLOW_GAP_FLOOR_MS`."""
    return gap_ms > max(SLOW_GAP_FACTOR * median_gap_ms, SLOW_GAP_FLOOR_MS)


def stream_stats(chunks: Sequence[StreamChunk]) -> StreamStats:
    """Return the :class:`StreamStats` of ``chunks`` (in arrival order)."""
    if not chunks:
        return StreamStats(0, None, None, None, None, None, frozenset())
    gaps = [chunk.delta_ms for chunk in chunks[1:]]
    first = chunks[0]
    duration = chunks[-1].offset_ms - first.offset_ms
    if not gaps:
        return StreamStats(1, first.delta_ms, duration, None, None, None, frozenset())
    median = _median(gaps)
    slow = frozenset(
        position for position, gap in enumerate(gaps, start=1) if is_slow_gap(gap, median)
    )
    return StreamStats(
        chunks=len(chunks),
        first_chunk_ms=first.delta_ms,
        duration_ms=duration,
        median_gap_ms=median,
        mean_gap_ms=sum(gaps) / len(gaps),
        max_gap_ms=max(gaps),
        slow=slow,
    )


def due_times(chunks: Sequence[StreamChunk]) -> list[float]:
    """When each chunk is due in a replay, in recorded ms from the start: the running sum of
    the chunks' ``delta_ms`` (negative deltas count as 0)."""
    due: list[float] = []
    elapsed = 0.0
    for chunk in chunks:
        elapsed += max(0.0, chunk.delta_ms)
        due.append(elapsed)
    return due


def _median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence (as :func:`statistics.median`, without importing
    :mod:`statistics`, which costs ~10 ms of CLI start-up)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2

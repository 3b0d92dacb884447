"""Stream timing: which gaps between chunks were slow, and when each chunk is due in a replay."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from traceforge_shared.trace import StreamChunk


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in 0..1); 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class GapStats:
    """The gaps between consecutive chunks of a stream.

    Attributes:
        p95_ms: the 95th percentile gap (the first chunk's delay, the time to first token, is
            not a gap and is left out).
        slow: positions in the chunk list whose gap before them is slow: at least the p95 and
            above the median (so a perfectly even stream has none).
    """

    p95_ms: float
    slow: frozenset[int]


def gap_stats(chunks: Sequence[StreamChunk]) -> GapStats:
    """Return the :class:`GapStats` of ``chunks`` (in arrival order)."""
    gaps = [chunk.delta_ms for chunk in chunks[1:]]
    if len(gaps) < 2:
        return GapStats(p95_ms=gaps[0] if gaps else 0.0, slow=frozenset())
    p95 = percentile(gaps, 0.95)
    median = statistics.median(gaps)
    slow = frozenset(
        position
        for position, chunk in enumerate(chunks)
        if position > 0 and chunk.delta_ms >= p95 and chunk.delta_ms > median
    )
    return GapStats(p95_ms=p95, slow=slow)


def due_times(chunks: Sequence[StreamChunk]) -> list[float]:
    """When each chunk is due in a replay, in recorded ms from the start: the running sum of
    the chunks' ``delta_ms`` (negative deltas count as 0)."""
    due: list[float] = []
    elapsed = 0.0
    for chunk in chunks:
        elapsed += max(0.0, chunk.delta_ms)
        due.append(elapsed)
    return due

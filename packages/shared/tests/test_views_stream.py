"""Stream statistics and the slow-chunk rule (traceforge_shared.views.stream)."""

from __future__ import annotations

import pytest

from traceforge_shared.trace import StreamChunk
from traceforge_shared.views.stream import (
    SLOW_GAP_FLOOR_MS,
    StreamStats,
    due_times,
    is_slow_gap,
    stream_stats,
)


def chunks_with(deltas: list[float]) -> list[StreamChunk]:
    offset, chunks = 0.0, []
    for i, delta in enumerate(deltas):
        offset += delta
        chunks.append(StreamChunk(index=i, delta_ms=delta, offset_ms=offset))
    return chunks


def test_stats_of_a_bumpy_stream() -> None:
    stats = stream_stats(chunks_with([300.0, *[10.0] * 20, 500.0, 10.0, 400.0]))
    assert stats == StreamStats(
        chunks=24,
        first_chunk_ms=300.0,
        duration_ms=1110.0,
        median_gap_ms=10.0,
        mean_gap_ms=1110.0 / 23,
        max_gap_ms=500.0,
        slow=frozenset({21, 23}),
    )


def test_an_even_or_noisy_stream_has_no_slow_gap() -> None:
    assert stream_stats(chunks_with([300.0, *[10.0] * 20])).slow == frozenset()
    # the 95th percentile rule marked the 14 ms gaps here; they are the stream's own pace
    noisy = stream_stats(chunks_with([300.0, *[10.0, 12.0, 14.0] * 10]))
    assert noisy.slow == frozenset()
    assert noisy.max_gap_ms == 14.0


def test_short_streams_and_the_floor() -> None:
    assert stream_stats(chunks_with([5.0, 50.0, 50.0, 400.0])).slow == frozenset({3})
    assert stream_stats(chunks_with([5.0, 2.0, 2.0, 2.0, 30.0])).slow == frozenset()  # floor
    assert not is_slow_gap(SLOW_GAP_FLOOR_MS, 1.0)
    assert is_slow_gap(SLOW_GAP_FLOOR_MS + 1, 1.0)
    assert not is_slow_gap(299.0, 100.0)
    assert is_slow_gap(301.0, 100.0)


@pytest.mark.parametrize(
    ("deltas", "expected"),
    [
        ([], StreamStats(0, None, None, None, None, None, frozenset())),
        ([120.0], StreamStats(1, 120.0, 0.0, None, None, None, frozenset())),
    ],
)
def test_stats_without_gaps(deltas: list[float], expected: StreamStats) -> None:
    assert stream_stats(chunks_with(deltas)) == expected


def test_due_times() -> None:
    assert due_times(chunks_with([100.0, 10.0, -5.0, 20.0])) == [100.0, 110.0, 110.0, 130.0]
    assert due_times([]) == []

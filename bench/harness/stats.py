"""Percentiles and the median of round medians, the two summaries every report uses."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """``{"p50": .., "p99": .., "n": ..}`` of ``values`` (ms, or whatever unit they carry)."""
    return {"p50": percentile(values, 50), "p99": percentile(values, 99), "n": len(values)}


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    """Median of per-round values with their min and max: ``{"median", "min", "max"}``."""
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(present), "min": min(present), "max": max(present)}

"""Trace store at scale: listing, search, analytics and diff through the index, against the
baseline of parsing every trace file, in the same process.

    python bench/store_scale.py [--sizes 1000,10000,100000] [--cache-dir DIR] [--rebuild]

For each size a synthetic store is made through the store API (``make_trace`` with fsync off;
streamed and not, three models and providers, some errors, latencies spread log-normally,
timestamps 26 s apart, so 100,000 traces span 30 days). Building 100,000 traces takes a minute
or two, so stores are kept under ``--cache-dir`` (default: the system temp dir) and reused.
Then timed (median of 5 unless said): ``list`` first page, a filtered list, a ``q`` text search
that matches every trace (stops at the first page) and one that matches a single trace (scans
every row), ``get`` by prefix, ``count``, analytics over everything and over the last 7 days,
a diff of two 300-chunk streamed traces, an index rebuild from the files, and the baseline
(read and parse every file, sort, take the first page) that the index exists to avoid.
Targets at 100,000 traces: list < 300 ms, analytics < 500 ms, diff < 100 ms.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from traceforge_shared.analytics import compute_analytics
from traceforge_shared.diff import diff_traces
from traceforge_shared.store import TraceFilter, TraceStore
from traceforge_shared.store.files import read_trace_file
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

#: Bump when the synthetic data changes, so cached stores are rebuilt.
DATA_VERSION = 2
NEEDLE = "zebra-needle"
SPACING_S = 26.0
TARGETS_MS = {
    "list first page (50)": 300.0,
    "analytics (all)": 500.0,
    "diff 300-chunk traces": 100.0,
}


def timed(func: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``func`` in ms."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def build(home: Path, size: int) -> tuple[float, float]:
    """Fill a store of ``size`` traces; returns (ms per save, newest trace epoch)."""
    store = TraceStore(home, fsync=False)
    rng = random.Random(size)
    newest = time.time()
    start = time.perf_counter()
    for i in range(size):
        status, code = "success", 200
        if i % 20 == 7:
            status, code = "error", 500
        elif i % 50 == 11:
            status, code = "upstream_error", 502
        store.save(
            make_trace(
                model=("gpt-4o", "gpt-4o-mini", "claude-sonnet-4")[i % 3],
                provider=("openai", "openai", "anthropic")[i % 3],
                streaming=i % 2 == 0,
                status=status,
                status_code=code,
                epoch_s=newest - i * SPACING_S,
                latency_ms=round(rng.lognormvariate(6.5, 0.6), 1),
                prompt_tokens=rng.randint(10, 2000),
                completion_tokens=rng.randint(1, 800),
                text=f"streamed answer {i} with a few more words in it"
                + (f" and a {NEEDLE}" if i == size // 2 else ""),
            )
        )
    store.index.close()
    (home / "bench-complete").write_text(f"{newest}\n")
    return (time.perf_counter() - start) * 1000 / size, newest


def streamed_pair() -> tuple[Trace, Trace]:
    words = [f"word{i}" for i in range(300)]
    a = make_trace(streaming=True, text=" ".join(words), completion_tokens=300)
    words[10:14] = ["changed", "words", "in", "here"]
    b = make_trace(streaming=True, text=" ".join(words), completion_tokens=301, model="gpt-4o")
    assert len(a.chunks) == len(b.chunks) == 300
    return a, b


def run(size: int, cache_dir: Path, rebuild: bool) -> None:
    home = cache_dir / f"store-{size}-v{DATA_VERSION}"
    if rebuild or not (home / "bench-complete").exists():
        if home.exists():
            shutil.rmtree(home)
        fill, newest = build(home, size)
        built = f"built: {fill:.2f} ms/save, fsync off"
    else:
        newest = float((home / "bench-complete").read_text())
        built = "cached"
    store = TraceStore(home, fsync=False)
    start = time.perf_counter()
    store.count()  # open the index; rebuilt here if its layout version changed
    opened = (time.perf_counter() - start) * 1000
    ids = [s.id for s in store.list(limit=None)]
    assert len(ids) == size, (len(ids), size)
    repeat = 3 if size <= 10_000 else 1

    def baseline() -> object:
        traces = [read_trace_file(p) for p in store.traces_dir.glob("*.json")]
        traces.sort(key=lambda t: t.timestamp, reverse=True)
        return traces[:50]

    a, b = streamed_pair()
    week_ago = datetime.fromtimestamp(newest, UTC) - timedelta(days=7)
    base = timed(baseline, repeat=repeat)
    rows = {
        "list first page (50)": timed(lambda: store.list(limit=50)),
        "list page 100 (offset 4950)": timed(lambda: store.list(limit=50, offset=4950)),
        "list filtered": timed(
            lambda: store.list(TraceFilter(model="gpt-4o-mini", streaming=True), limit=50)
        ),
        "q search, matches all": timed(lambda: store.list(TraceFilter(q="FEW more"), limit=50)),
        "q search, matches one": timed(lambda: store.list(TraceFilter(q=NEEDLE), limit=50)),
        "q + filter, count": timed(lambda: store.count(TraceFilter(q="answer 1", status="error"))),
        "get by 8-digit prefix": timed(lambda: store.get(ids[size // 2][:8])),
        "count": timed(store.count),
        "analytics (all)": timed(lambda: compute_analytics(store)),
        "analytics (last 7 days)": timed(lambda: compute_analytics(store, since=week_ago)),
        "diff 300-chunk traces": timed(lambda: diff_traces(a, b)),
        "rebuild index": timed(store.rebuild_index, repeat=1),
    }
    store.index.close()
    print(f"\n{size} traces ({built}; index opened in {opened:.1f} ms)")
    print(f"  {'baseline: parse all files':<30}{base:10.2f} ms")
    for name, ms in rows.items():
        target = TARGETS_MS.get(name) if size >= 100_000 else None
        note = (
            ""
            if target is None
            else f"   target < {target:.0f} ms: " + ("ok" if ms < target else "MISSED")
        )
        print(f"  {name:<30}{ms:10.2f} ms   {ms / base:8.4f}x baseline{note}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000",
        help="comma-separated store sizes (default 1000,10000; 100000 takes minutes once)",
    )
    parser.add_argument("--traces", type=int, nargs="+", help="sizes, space-separated (old)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "traceforge-bench",
        help="where built stores are kept between runs",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached stores")
    args = parser.parse_args()
    sizes = args.traces or [int(s) for s in args.sizes.split(",") if s.strip()]
    for size in sizes:
        run(size, args.cache_dir, args.rebuild)

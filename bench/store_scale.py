"""Trace store at scale: listing, search, analytics and diff through the index, against the
baseline of parsing every trace file, in the same process.

    python bench/store_scale.py [--sizes 1000,10000,100000] [--cache-dir DIR] [--rebuild]

For each size a synthetic store is made through the store API (``make_trace`` with fsync off;
streamed and not, three models and providers, some errors, latencies spread log-normally,
timestamps 26 s apart, so 100,000 traces span 30 days). Building 100,000 traces takes a minute
or two, so stores are kept under ``--cache-dir`` (default: the system temp dir) and reused.
Then timed (median of 5 unless said): ``list`` first page, a filtered list, a ``q`` text filter
that matches every trace (stops at the first page) and one that matches a single trace, the
ranked full-text search (``TraceStore.search``: FTS5, bm25, snippets) for a word in one trace,
a phrase and a word in every trace, ``get`` by prefix, ``count``, analytics over everything
and over the last 7 days, a diff of two 300-chunk streamed traces, an index rebuild from the
files, and the baseline
(read and parse every file, sort, take the first page) that the index exists to avoid.
Targets at 100,000 traces: list < 300 ms, analytics < 500 ms, diff < 100 ms, search for a
word in one trace < 100 ms. The index size (with its full-text table) is printed too.
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
    "search, matches one (ranked)": 100.0,
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
        "search, matches one (ranked)": timed(lambda: store.search(NEEDLE, limit=20)),
        "search, phrase (ranked)": timed(lambda: store.search(f'"answer {size // 3} with"')),
        "search, matches all (ranked)": timed(lambda: store.search("streamed", limit=20)),
        "get by 8-digit prefix": timed(lambda: store.get(ids[size // 2][:8])),
        "count": timed(store.count),
        "analytics (all)": timed(lambda: compute_analytics(store)),
        "analytics (last 7 days)": timed(lambda: compute_analytics(store, since=week_ago)),
        "diff 300-chunk traces": timed(lambda: diff_traces(a, b)),
        "rebuild index": timed(store.rebuild_index, repeat=1),
    }
    store.index.close()
    index_mb = sum(p.stat().st_size for p in home.glob("index.sqlite*")) / 2**20
    print(f"\n{size} traces ({built}; index opened in {opened:.1f} ms, {index_mb:.1f} MiB)")
    print(f"  {'baseline: parse all files':<30}{base:10.2f} ms")
    for name, ms in rows.items():
        target = TARGETS_MS.get(name) if size >= 100_000 else None
        note = (
            ""
            if target is None
            else f"   target < {target:.0f} ms: " + ("ok" if ms < target else "MISSED")
        )
        print(f"  {name:<30}{ms:10.2f} ms   {ms / base:8.4f}x baseline{note}")


#: Targets of the span store at 100,000 spans (issue #15).
SPAN_TARGETS_MS = {
    "list runs first page (50)": 50.0,
    "list sessions first page (50)": 50.0,
    "get run, 1,000 spans + tree": 100.0,
}


def build_spans(home: Path, size: int) -> float:
    """Fill a store with ``size`` spans through ``SpanStore.write`` in batches of 512 (an
    OTLP exporter's default batch): runs of 10 spans (an agent, 4 LLM calls, 5 tools), 10
    runs per session, plus one run of 1,000 spans; returns µs per span written."""
    from traceforge_shared.testing import make_span

    store = TraceStore(home, fsync=False)
    epoch = time.time() - 30 * 86_400
    spans = []
    runs = (size - 1000) // 10
    for r in range(runs):
        run_id = f"{r + 1:032x}"
        start = epoch + r * 26.0
        spans.append(
            make_span(
                run_id,
                f"{1:016x}",
                name=f"invoke_agent task {r}",
                kind="agent",
                duration_ms=900,
                session_id=f"session-{r // 10}",
                epoch_s=start,
            )
        )
        for i in range(2, 11):
            llm = i % 2 == 0
            spans.append(
                make_span(
                    run_id,
                    f"{i:016x}",
                    parent=f"{1:016x}",
                    name="chat" if llm else "tool",
                    kind="llm" if llm else "tool",
                    start_ms=i * 80,
                    duration_ms=70,
                    input_tokens=100 if llm else None,
                    output_tokens=20,
                    status="error" if r % 25 == 3 and i == 3 else "ok",
                    epoch_s=start,
                )
            )
    big = "f" * 32
    spans.append(
        make_span(
            big,
            f"{1:016x}",
            name="big run",
            kind="agent",
            duration_ms=5000,
            epoch_s=epoch + runs * 26.0,
        )
    )
    for i in range(2, 1001):
        parent = f"{max(1, i // 4):016x}"  # a bushy tree, a few levels deep
        spans.append(
            make_span(
                big,
                f"{i:016x}",
                parent=parent,
                kind="tool",
                start_ms=i * 4,
                duration_ms=3,
                epoch_s=epoch + runs * 26.0,
            )
        )
    start = time.perf_counter()
    for offset in range(0, len(spans), 512):
        store.spans.write(spans[offset : offset + 512])
    elapsed = time.perf_counter() - start
    store.index.close()
    return elapsed / len(spans) * 1e6


def run_spans(size: int, cache_dir: Path, rebuild: bool) -> None:
    """Time the span store's queries on ``size`` spans (built once, cached)."""
    from traceforge_shared.store import RunFilter
    from traceforge_shared.views.runs import build_tree

    home = cache_dir / f"spans-{size}-v{DATA_VERSION}"
    if rebuild or not (home / "bench-complete").exists():
        if home.exists():
            shutil.rmtree(home)
        per_span = build_spans(home, size)
        (home / "bench-complete").write_text("1")
        built = f"built: {per_span:.1f} µs/span written, batches of 512, fsync off"
    else:
        built = "cached"
    store = TraceStore(home, fsync=False)
    store.spans.count_runs()
    files = len(list((home / "spans").iterdir()))
    rows = {
        "list runs first page (50)": timed(lambda: store.spans.list_runs(limit=50)),
        "list runs page 100": timed(lambda: store.spans.list_runs(limit=50, offset=4950)),
        "list runs of a session": timed(
            lambda: store.spans.list_runs(RunFilter(session_id="session-500"))
        ),
        "list runs with errors": timed(lambda: store.spans.list_runs(RunFilter(status="error"))),
        "list sessions first page (50)": timed(lambda: store.spans.list_sessions(limit=50)),
        "get run, 10 spans + tree": timed(
            lambda: build_tree(store.spans.get_run(f"{size // 20:032x}"))
        ),
        "get run, 1,000 spans + tree": timed(lambda: build_tree(store.spans.get_run("f" * 32))),
        "count runs": timed(store.spans.count_runs),
        "rebuild spans from files": timed(store.spans.rebuild, repeat=1),
    }
    store.index.close()
    print(f"\n{size} spans, {store.spans.count_runs()} runs in {files} files ({built})")
    for name, ms in rows.items():
        target = SPAN_TARGETS_MS.get(name) if size >= 100_000 else None
        note = (
            ""
            if target is None
            else f"   target < {target:.0f} ms: " + ("ok" if ms < target else "MISSED")
        )
        print(f"  {name:<32}{ms:10.2f} ms{note}")


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
    parser.add_argument(
        "--spans",
        default="",
        help="comma-separated span store sizes to time runs and sessions at (e.g. 100000)",
    )
    args = parser.parse_args()
    for size in [int(s) for s in args.spans.split(",") if s.strip()]:
        run_spans(size, args.cache_dir, args.rebuild)
    sizes = args.traces or [int(s) for s in args.sizes.split(",") if s.strip()]
    for size in sizes:
        run(size, args.cache_dir, args.rebuild)

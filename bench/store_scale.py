"""Trace store at scale: listing through the index against the baseline of parsing every
trace file, in the same process.

    python bench/store_scale.py [--traces 1000 10000]

For each size a synthetic store is made through the store API (``make_trace``, streamed and
not, several models), then timed: ``list`` first page, a filtered list, ``get`` by prefix,
``count``, an index rebuild from the files, and the baseline (read and parse every file, sort,
take the first page) that the index exists to avoid.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

from traceforge_shared.store import TraceFilter, TraceStore
from traceforge_shared.store.files import read_trace_file
from traceforge_shared.testing import make_trace


def timed(func: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``func`` in ms."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def run(size: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        store = TraceStore(home, fsync=False)
        now = time.time()
        start = time.perf_counter()
        ids = []
        for i in range(size):
            trace = make_trace(
                model=("gpt-4o", "gpt-4o-mini", "gpt-4.1-nano")[i % 3],
                streaming=i % 2 == 0,
                epoch_s=now - i,
                text="streamed answer with a few more words in it",
            )
            store.save(trace)
            ids.append(trace.id)
        fill = (time.perf_counter() - start) * 1000 / size

        def baseline() -> object:
            traces = [read_trace_file(p) for p in store.traces_dir.glob("*.json")]
            traces.sort(key=lambda t: t.timestamp, reverse=True)
            return traces[:50]

        base = timed(baseline, repeat=3)
        rows = {
            "list first page (50)": timed(lambda: store.list(limit=50)),
            "list filtered": timed(
                lambda: store.list(TraceFilter(model="gpt-4o-mini", streaming=True), limit=50)
            ),
            "get by 8-digit prefix": timed(lambda: store.get(ids[size // 2][:8])),
            "count": timed(store.count),
            "rebuild index": timed(store.rebuild_index, repeat=1),
        }
        print(f"\n{size} traces (save: {fill:.2f} ms/trace, fsync off)")
        print(f"  {'baseline: parse all files':<28}{base:10.2f} ms")
        for name, ms in rows.items():
            print(f"  {name:<28}{ms:10.2f} ms   {ms / base:8.4f}x baseline")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, nargs="+", default=[1000, 10000])
    for size in parser.parse_args().traces:
        run(size)

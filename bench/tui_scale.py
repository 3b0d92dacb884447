"""The TUI at scale, headless (Textual's ``run_test``): the list's first page on a big store,
and opening a trace's detail, against baselines measured in the same run.

    python bench/tui_scale.py [--sizes 150,100000] [--cache-dir DIR] [--rounds 10]

Stores are :mod:`store_scale`'s (the same synthetic traces, cached under ``--cache-dir``, the
system temp dir by default; building 100,000 traces takes a minute or two). For each size:

- **first page shown**: from ``make_app(...).run_test()`` entering to the list table holding
  its first page (the app's start, the index read in a worker thread, the rows added), median
  of ``--rounds``; baseline: the same on the 150-trace store (the ratio says whether the list
  reads the store page by page: 1.0x means the size does not matter); ``store.list`` of one
  page is printed too.
- **open a detail** (150-trace store): from pushing ``TraceDetailScreen`` to its tabs being
  shown and the app idle (the trace read in a worker, the metadata, the conversation's
  Markdown, the tab strip; the other tabs' content is mounted when first shown), median of
  ``--rounds``, with the median CPU time of the process over the same span; baseline:
  ``store.get`` of the same trace, and the ratio to the first page of the 150-trace store
  measured in the same run (other jobs on the machine inflate both alike).

Targets (docs/performance.md): first page under 500 ms at 100,000 traces, a detail under
200 ms on a 150-trace store. Times are wall clock on this machine; nothing asserts on them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from store_scale import DATA_VERSION, build

from traceforge_shared.store import TraceStore
from traceforge_tui import make_app
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.widgets.trace_table import TraceTable

SIZE = (160, 45)
TARGETS_MS = {"first page": 500.0, "detail": 200.0}


def store_of(size: int, cache_dir: Path) -> TraceStore:
    """The cached synthetic store of ``size`` traces (built when missing)."""
    home = cache_dir / f"store-{size}-v{DATA_VERSION}"
    if not (home / "bench-complete").exists():
        print(f"building a {size}-trace store in {home}…", flush=True)
        build(home, size)
    return TraceStore(home, fsync=False)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 (polling widget state: no event to wait on)
        await asyncio.sleep(0.001)


async def first_page_ms(store: TraceStore) -> float:
    """Wall ms from the app starting to the list showing its first page."""
    app = make_app(store, poll_interval=3600)
    start = time.perf_counter()
    async with app.run_test(size=SIZE):
        table = app.screen.query_one("#traces", TraceTable)
        await _until(lambda: table.row_count > 0)
        elapsed = (time.perf_counter() - start) * 1000
    store.index.close()
    return elapsed


async def detail_ms(store: TraceStore, trace_id: str, rounds: int) -> list[tuple[float, float]]:
    """Wall ms and CPU ms (this process, all threads) from pushing the detail of ``trace_id``
    to its tabs being shown, ``rounds`` times in one app. The CPU time says what the open
    costs when other jobs on the machine inflate the wall time."""
    app = make_app(store, poll_interval=3600)
    samples: list[tuple[float, float]] = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.screen.query_one("#traces", TraceTable).row_count > 0)
        for _ in range(rounds):
            screen = TraceDetailScreen(store, trace_id)
            cpu = time.process_time()
            start = time.perf_counter()
            await app.push_screen(screen)

            def tabs_shown(opened: TraceDetailScreen = screen) -> bool:
                return bool(opened.query("#detail-tabs"))

            await _until(tabs_shown)
            await pilot.pause()  # the tabs laid out and drawn
            wall_ms = (time.perf_counter() - start) * 1000
            samples.append((wall_ms, (time.process_time() - cpu) * 1000))
            await app.pop_screen()
            await pilot.pause()
    store.index.close()
    return samples


def median_ms(samples: list[float]) -> float:
    """The median of ``samples``."""
    return statistics.median(samples)


def timed_ms(func: object, rounds: int) -> float:
    """Median wall ms of ``func()``."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="150,100000")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    sizes = sorted({150, *(int(s) for s in args.sizes.split(","))})

    small = store_of(150, args.cache_dir)
    newest = small.list(limit=1)[0].id
    get_ms = timed_ms(lambda: small.get(newest), args.rounds)
    opened = asyncio.run(detail_ms(small, newest, args.rounds))
    detail = median_ms([wall for wall, _cpu in opened])
    detail_cpu = median_ms([cpu for _wall, cpu in opened])
    print("tui_scale.py (headless, 160x45)")

    baseline = None
    for size in sizes:
        store = store_of(size, args.cache_dir)
        page_ms = timed_ms(lambda s=store: s.list(limit=200), args.rounds)
        shown = median_ms([asyncio.run(first_page_ms(store)) for _ in range(args.rounds)])
        baseline = baseline or shown
        print(
            f"  first page shown, {size:>7,} traces: {shown:7.1f} ms "
            f"({shown / baseline:.2f}x the 150-trace store; store.list of 200 {page_ms:.2f} ms)"
        )
    print(
        f"  open a detail, 150 traces: {detail:.1f} ms ({detail / (baseline or detail):.2f}x "
        f"the first page of the 150-trace store; CPU {detail_cpu:.1f} ms; "
        f"store.get {get_ms:.2f} ms; target < {TARGETS_MS['detail']:.0f} ms)"
    )
    print(f"  target: first page < {TARGETS_MS['first page']:.0f} ms at 100,000 traces")


if __name__ == "__main__":
    main()

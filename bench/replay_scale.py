"""``traceforge test run --replay`` over 1,000 tests against a 100,000-trace store, as a user
runs it.

    python bench/replay_scale.py [--tests 1000] [--traces 100000] [--rounds 3] [--quick]
                                 [--cache DIR]

A home with ``--traces`` streamed traces (saved through the store API, each a different
request, timestamps in the last day so the proxy's retention keeps them, ``storage.max_traces``
raised so it keeps them all) and one test file for each of the newest ``--tests`` of them
(``test_from_trace``, the same text ``traceforge test create-from-trace`` writes). Every test
is replayed through the in-process proxy: its recording found by request key (one indexed
query), re-served, relayed and traced again. The whole command runs in a subprocess,
interleaved in rounds with the baseline: the same command over one test (process start,
imports, proxy start, loading the store). Reported: the median wall time of each, their
ratio, and the time per extra test. Every run must pass every test (exit 0), or the benchmark
fails. ``--quick``: 10 tests, 1,000 traces, 1 round (seconds). ``--cache DIR``: build the home
once into ``DIR/<tests>-<traces>`` and reuse it in later runs (building 100,000 traces takes
minutes); the replayed traces a run saves are removed after each run, so every run starts from
the same store.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.report import RESULTS_DIR, facts_markdown, machine_facts, write

from traceforge_shared.evals.authoring import test_from_trace
from traceforge_shared.evals.files import test_file_stem
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import StreamChunk, Trace

TEXT = "The capital of France is Paris, a city of about two million people on the Seine."


#: Traces saved per ``save_many`` while building (one index transaction each).
BATCH = 2000


def _with_stream_end(trace: Trace) -> Trace:
    """``trace``'s stream ended as OpenAI ends one: a chunk with the finish reason, then
    ``[DONE]`` (https://platform.openai.com/docs/api-reference/chat-streaming), so the
    replayed stream rebuilds the recorded answer whole."""
    last = trace.chunks[-1].offset_ms if trace.chunks else 0.0
    finish = {"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {}, "finish_reason": "stop"}]}  # fmt: skip
    n = len(trace.chunks)
    trace.chunks += [
        StreamChunk(index=n, delta_ms=1.0, offset_ms=last + 1.0, data=finish),
        StreamChunk(index=n + 1, delta_ms=1.0, offset_ms=last + 2.0, raw="[DONE]"),
    ]
    return trace


def build(home: Path, tests: int, traces: int) -> float:
    """``traces`` traces in the store (each its own request), a test file for each of the
    newest ``tests`` under ``home/tests``; returns the build time in seconds."""
    started = time.perf_counter()
    (home / "config.yaml").write_text(
        f"storage:\n  max_traces: {traces * 10}\n  retention_days: 3650\n"
    )
    store = TraceStore(home, fsync=False)
    tests_dir = home / "tests"
    tests_dir.mkdir(parents=True, exist_ok=True)
    newest = time.time() - 60
    for first in range(0, traces, BATCH):
        batch = []
        for i in range(first, min(traces, first + BATCH)):
            trace = make_trace(text=f"{TEXT} Answer {i}.", streaming=True, epoch_s=newest - i)
            trace.request["messages"] = [{"role": "user", "content": f"Question {i}?"}]
            batch.append(_with_stream_end(trace))
        store.save_many(batch, fsync=False)
        for i, trace in enumerate(batch, start=first):
            if i < tests:
                name = f"capital of France {i}"
                text = test_from_trace(trace, name=name)
                (tests_dir / f"{test_file_stem(name)}.yaml").write_text(text)
    store.index.close()
    return time.perf_counter() - started


def _home(cache: Path | None, tmp: Path, tests: int, traces: int) -> tuple[Path, float]:
    """The home to run in and the seconds spent building it: ``tmp``, built now, or (with
    ``cache``) ``cache/<tests>-<traces>``, built the first time only (0 s after that)."""
    if cache is None:
        return tmp, build(tmp, tests, traces)
    home = cache / f"{tests}-{traces}"
    done = home / "built"
    if done.is_file():
        return home, float(done.read_text())
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    build_s = build(home, tests, traces)
    done.write_text(f"{build_s:.1f}")
    return home, build_s


def _trace_ids(home: Path) -> set[str]:
    """The ids of the trace files in ``home``."""
    return {p.name[:-5] for p in os.scandir(home / "traces") if p.name.endswith(".json")}


def _forget_replayed(home: Path, recorded: set[str]) -> None:
    """Delete the traces a run saved (its replayed calls), so every run starts from the same
    store."""
    store = TraceStore(home, fsync=False)
    store.delete_many(_trace_ids(home) - recorded)
    store.refresh()
    store.index.close()


def run(home: Path, paths: list[Path]) -> float:
    """Wall seconds of one ``traceforge test run --replay --json``.

    Raises:
        RuntimeError: a test did not pass.
    """
    exe = Path(sys.executable).parent / "traceforge"
    command = [str(exe), "test", "run", "--replay", "--json", "--home", str(home), "-j", "8"]
    started = time.perf_counter()
    done = subprocess.run([*command, *map(str, paths)], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {done.stdout[-500:]} {done.stderr[-500:]}")
    # `test run --json` prints one JSON line per result, then a summary line.
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    summary = next((line for line in lines if line.get("type") == "summary"), None)
    if summary is None:
        raise RuntimeError(f"no summary line in: {done.stdout[-500:]}")
    if summary.get("failed", 0) or summary.get("errors", 0):
        raise RuntimeError(f"not every test passed: {summary}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10 tests, 1,000 traces, 1 round")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--cache", type=Path, help="build the home once under this directory and reuse it"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.tests, args.traces, args.rounds = 10, 1000, 1
    args.traces = max(args.traces, args.tests)
    facts = machine_facts()
    with tempfile.TemporaryDirectory(prefix="traceforge-replay-") as tmp:
        home, build_s = _home(args.cache, Path(tmp), args.tests, args.traces)
        recorded = _trace_ids(home)
        files = sorted((home / "tests").glob("*.yaml"))
        one, many = [], []
        for _ in range(args.rounds):
            one.append(run(home, files[:1]))
            _forget_replayed(home, recorded)
            many.append(run(home, files))
            _forget_replayed(home, recorded)
    t1, tn = statistics.median(one), statistics.median(many)
    per_test_ms = 1000 * (tn - t1) / max(1, args.tests - 1)
    data = {"facts": facts, "tests": args.tests, "traces": args.traces,
            "rounds": args.rounds, "build_s": build_s, "one_s": one, "all_s": many,
            "per_test_ms": per_test_ms}  # fmt: skip
    markdown = (
        "# `traceforge test run --replay`\n\n"
        f"Machine: {facts_markdown(facts)}.\n\n"
        f"Store: {args.traces:,} traces (built in {build_s:.0f} s). Every test replayed "
        "through the in-process proxy.\n\n"
        f"| run | median wall time (s) | ratio to 1 test |\n| --- | --- | --- |\n"
        f"| 1 test (baseline: start, imports, proxy, store) | {t1:.2f} | 1.00 |\n"
        f"| {args.tests} tests | {tn:.2f} | {tn / t1:.2f} |\n\n"
        f"Each extra test: {per_test_ms:.1f} ms ({args.rounds} rounds, every test passed).\n\n"
        f"Every round (s): 1 test {', '.join(f'{s:.2f}' for s in one)}; {args.tests} tests "
        f"{', '.join(f'{s:.2f}' for s in many)}. Load average at the end: "
        f"{os.getloadavg()[0]:.2f} (the machine is shared: compare ratios, not seconds).\n"
    )
    name = "replay-quick" if args.quick else f"replay-{time.strftime('%Y-%m-%d')}"
    print(write(name, data, markdown, args.out).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

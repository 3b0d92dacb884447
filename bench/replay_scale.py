"""``traceforge test run --replay`` over 100 tests made from traces, as a user runs it.

    python bench/replay_scale.py [--tests 100] [--rounds 5] [--quick]

A home with ``--tests`` streamed traces (saved through the store API) and one test file per
trace (``test_from_trace``, the same text ``traceforge test create-from-trace`` writes). The
whole command runs in a subprocess, interleaved in rounds with the baseline: the same command
over one test (process start, imports, loading the store). Reported: the median wall time of
each, their ratio, and the time per extra test. Every run must pass every test (exit 0), or
the benchmark fails.
"""

from __future__ import annotations

import argparse
import json
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

TEXT = "The capital of France is Paris, a city of about two million people on the Seine."


def build(home: Path, tests: int) -> None:
    """``tests`` traces in the store, a test file each under ``home/tests``."""
    store = TraceStore(home)
    tests_dir = home / "tests"
    tests_dir.mkdir(parents=True, exist_ok=True)
    traces = [
        make_trace(text=f"{TEXT} Answer {i}.", streaming=True, epoch_s=1.7e9 + i)
        for i in range(tests)
    ]
    store.save_many(traces, fsync=False)
    for i, trace in enumerate(traces):
        name = f"capital of France {i}"
        (tests_dir / f"{test_file_stem(name)}.yaml").write_text(test_from_trace(trace, name=name))


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
    parser.add_argument("--tests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10 tests, 1 round")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.quick:
        args.tests, args.rounds = 10, 1
    facts = machine_facts()
    with tempfile.TemporaryDirectory(prefix="traceforge-replay-") as tmp:
        home = Path(tmp)
        build(home, args.tests)
        files = sorted((home / "tests").glob("*.yaml"))
        one, many = [], []
        for _ in range(args.rounds):
            one.append(run(home, files[:1]))
            many.append(run(home, files))
    t1, tn = statistics.median(one), statistics.median(many)
    per_test_ms = 1000 * (tn - t1) / max(1, args.tests - 1)
    data = {"facts": facts, "tests": args.tests, "rounds": args.rounds, "one_s": one,
            "all_s": many, "per_test_ms": per_test_ms}  # fmt: skip
    markdown = (
        "# `traceforge test run --replay`\n\n"
        f"Machine: {facts_markdown(facts)}.\n\n"
        f"| run | median wall time (s) | ratio to 1 test |\n| --- | --- | --- |\n"
        f"| 1 test (baseline: start, imports, store) | {t1:.2f} | 1.00 |\n"
        f"| {args.tests} tests | {tn:.2f} | {tn / t1:.2f} |\n\n"
        f"Each extra test: {per_test_ms:.1f} ms ({args.rounds} rounds, every test passed).\n"
    )
    name = "replay-quick" if args.quick else f"replay-{time.strftime('%Y-%m-%d')}"
    print(write(name, data, markdown, args.out).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

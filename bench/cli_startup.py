"""How long the light ``traceforge`` commands take to start, against ``import click, rich``.

    python bench/cli_startup.py [--runs 10] [--quick]

Each command runs in a new process, interleaved in rounds with the baseline (``python -c
"import click, rich"``: the two libraries every command needs, so the floor of any click + rich
CLI) and a reference (``import click, rich.console, rich.table``: the floor of a command that
prints a table): ``traceforge --help``, ``traceforge --version`` and ``traceforge trace list``
(stdout is a pipe here, so tab-separated rows, no rich) and ``trace list --format table`` (the
table a terminal gets) on a temporary ``TRACEFORGE_HOME`` holding a few traces saved through
the store API. Reported: the
median wall time of each and its ratio to the baseline; the target is a ratio of at most 2.
Every command must exit 0 (and ``trace list`` print the saved traces), or the benchmark fails.

Bytecode is cached as after ``pip install`` (which compiles it): the runs write and read
``.pyc`` files under a temporary ``PYTHONPYCACHEPREFIX`` (``PYTHONDONTWRITEBYTECODE`` is
dropped), after one warm-up round that is not counted. Without that, a checkout that never
wrote bytecode compiles every module on every run, and compiling dominates the numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.report import RESULTS_DIR, facts_markdown, machine_facts, write

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

#: Target: each command's median within this many times the baseline's.
TARGET_RATIO = 2.0

BASELINE = "import click, rich"

#: Not a target: what any click CLI that prints a rich table imports (``trace list`` does).
TABLE_FLOOR = "import click, rich.console, rich.table"


def commands() -> dict[str, list[str]]:
    """The label and argv of the baseline and of each measured command (baseline first)."""
    exe = str(Path(sys.executable).parent / "traceforge")
    return {
        f'python -c "{BASELINE}"': [sys.executable, "-c", BASELINE],
        f'python -c "{TABLE_FLOOR}"': [sys.executable, "-c", TABLE_FLOOR],
        "traceforge --help": [exe, "--help"],
        "traceforge --version": [exe, "--version"],
        "traceforge trace list": [exe, "trace", "list"],
        "traceforge trace list --format table": [exe, "trace", "list", "--format", "table"],
    }


def build(home: Path, traces: int = 5) -> list[str]:
    """Save ``traces`` traces under ``home``; returns their ids."""
    store = TraceStore(home, fsync=False)
    saved = [make_trace(text=f"answer {i}", epoch_s=1.7e9 + i) for i in range(traces)]
    for trace in saved:
        store.save(trace)
    return [trace.id for trace in saved]


def run(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds and stdout of one run of ``argv``.

    Raises:
        RuntimeError: the command exited with a non-zero status.
    """
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exit {done.returncode}: {done.stderr[-500:]}")
    return elapsed, done.stdout


def measure(runs: int, home: Path, ids: list[str], pycache: Path) -> dict[str, list[float]]:
    """One warm-up round (bytecode written under ``pycache``), then ``runs`` rounds, each
    running every command once in turn: wall seconds per command.

    Raises:
        RuntimeError: a command failed, or ``trace list`` did not list the saved traces.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(TRACEFORGE_HOME=str(home), COLUMNS="120", PYTHONPYCACHEPREFIX=str(pycache))
    times: dict[str, list[float]] = {label: [] for label in commands()}
    for round_ in range(runs + 1):
        for label, argv in commands().items():
            elapsed, out = run(argv, env)
            if "trace list" in label and not all(i[:8] in out for i in ids):
                raise RuntimeError(f"trace list did not list the saved traces:\n{out}")
            if round_:
                times[label].append(elapsed)
    return times


def table(medians: dict[str, float]) -> str:
    """A markdown table: median wall time (ms) and ratio to the baseline (the first row)."""
    base = next(iter(medians.values()))
    rows = ["| command | median wall time (ms) | ratio to baseline |", "| --- | --- | --- |"]
    for label, median in medians.items():
        ratio = median / base
        if not label.startswith("traceforge"):
            verdict = ""  # the baseline and the reference have no target
        else:
            verdict = " ok" if ratio <= TARGET_RATIO else " over target"
        rows.append(f"| `{label}` | {1000 * median:.0f} | {ratio:.2f}{verdict} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the markdown report and write it under ``--out``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="rounds (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 3
    facts = machine_facts()
    with tempfile.TemporaryDirectory(prefix="traceforge-startup-") as tmp:
        home = Path(tmp) / "home"
        ids = build(home)
        times = measure(args.runs, home, ids, Path(tmp) / "pycache")
    medians = {label: statistics.median(values) for label, values in times.items()}
    base = next(iter(medians.values()))
    data = {
        "facts": facts,
        "runs": args.runs,
        "target_ratio": TARGET_RATIO,
        "seconds": times,
        "median_s": medians,
        "ratio": {label: median / base for label, median in medians.items()},
    }
    markdown = (
        "# `traceforge` startup\n\n"
        f"Machine: {facts_markdown(facts)}.\n\n"
        f"{table(medians)}\n\n"
        f"Median of {args.runs} runs each, interleaved, bytecode cached (after a warm-up round); "
        f"target ratio <= {TARGET_RATIO:g}.\n"
    )
    name = "startup-quick" if args.quick else f"startup-{time.strftime('%Y-%m-%d')}"
    print(write(name, data, markdown, args.out).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

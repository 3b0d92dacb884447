"""Reading 1,000 test files: libyaml (``yaml_fast``) against ruamel's round-trip loader.

    python bench/yaml_read.py [--files 1000] [--rounds 5] [--dir DIR] [--quick]

The files are the ones ``bench/replay_scale.py`` replays: ``test_from_trace`` of streamed
traces (the text ``traceforge test create-from-trace`` writes, ~30 lines with comments), or
every ``*.yaml`` under ``--dir``. Each round, interleaved, reads them all with each reader:

- ``parse``: the text to the document and ``to_plain`` of it (what a test load parses);
- ``load``: the whole ``load_test_file`` (read the file, parse, aliases, fixtures, msgspec),
  once with ruamel's parse (the loader before ``yaml_fast``), once as shipped.

Reported (not asserted): the median milliseconds per file of each and the ratio fast/ruamel.
Every file must give the same plain value and test with both readers, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.report import RESULTS_DIR, facts_markdown, machine_facts, write

from traceforge_shared.evals.authoring import test_from_trace
from traceforge_shared.evals.loader import _load, load_test_file
from traceforge_shared.testing import make_trace
from traceforge_shared.yaml_fast import parse_yaml_fast
from traceforge_shared.yamlfile import parse_yaml, read_yaml, to_plain

TEXT = "The capital of France is Paris, a city of about two million people on the Seine."


def build(folder: Path, files: int) -> list[Path]:
    """``files`` test files as ``replay_scale.py`` writes them, in ``folder``."""
    paths = []
    for i in range(files):
        trace = make_trace(text=f"{TEXT} Answer {i}.", streaming=True, epoch_s=1.7e9 - i)
        trace.request["messages"] = [{"role": "user", "content": f"Question {i}?"}]
        path = folder / f"capital-of-france-{i}.yaml"
        path.write_text(test_from_trace(trace, name=f"capital of France {i}"), encoding="utf-8")
        paths.append(path)
    return paths


def per_file_ms(run: Callable[[], Any], files: int) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000 / files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, help="read the *.yaml files here instead")
    parser.add_argument("--quick", action="store_true", help="100 files, 1 round")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    if args.quick:
        args.files, args.rounds = 100, 1
    facts = machine_facts()
    with tempfile.TemporaryDirectory() as tmp:
        paths = sorted(args.dir.rglob("*.yaml")) if args.dir else build(Path(tmp), args.files)
        texts = [path.read_text(encoding="utf-8") for path in paths]
        for path, text in zip(paths, texts, strict=True):  # the same values, the same test
            if to_plain(parse_yaml_fast(text)) != to_plain(parse_yaml(text)):
                raise SystemExit(f"{path}: the readers disagree")
            if load_test_file(path) != _load(path, read_yaml, path):
                raise SystemExit(f"{path}: the loads disagree")
        runs: dict[str, Callable[[], Any]] = {
            "parse, ruamel": lambda: [to_plain(parse_yaml(text)) for text in texts],
            "parse, libyaml": lambda: [to_plain(parse_yaml_fast(text)) for text in texts],
            "load_test_file, ruamel": lambda: [_load(p, read_yaml, p) for p in paths],
            "load_test_file, libyaml": lambda: [load_test_file(p) for p in paths],
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, run in runs.items():
                times[name].append(per_file_ms(run, len(paths)))
    median = {name: statistics.median(values) for name, values in times.items()}
    ratios = {
        step: median[f"{step}, libyaml"] / median[f"{step}, ruamel"]
        for step in ("parse", "load_test_file")
    }
    rows = "\n".join(
        f"| {name} | {median[name]:.3f} | {median[name] * len(paths) / 1000:.2f} |" for name in runs
    )
    markdown = (
        f"# Reading test files: libyaml vs ruamel\n\n{facts_markdown(facts)}\n\n"
        f"{len(paths)} test files, {args.rounds} interleaved rounds, medians.\n\n"
        f"| reader | ms per file | s for all |\n| --- | --- | --- |\n{rows}\n\n"
        f"Ratio libyaml/ruamel: parse {ratios['parse']:.3f} "
        f"({1 / ratios['parse']:.1f}x faster), load_test_file {ratios['load_test_file']:.3f} "
        f"({1 / ratios['load_test_file']:.1f}x faster).\n"
    )
    data = {"facts": facts, "files": len(paths), "rounds": args.rounds, "ms_per_file": times}
    data["median_ms_per_file"] = median
    data["ratio_fast_to_ruamel"] = ratios
    name = "yaml-read-quick" if args.quick else f"yaml-read-{time.strftime('%Y-%m-%d')}"
    print(write(name, data, markdown, args.out).read_text())


if __name__ == "__main__":
    main()

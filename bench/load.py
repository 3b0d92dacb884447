"""Proxy overhead under load, side by side: the fake upstream directly (the baseline),
TraceForge, LiteLLM's proxy and mitmproxy (buffered, as it ships, and streaming).

    python bench/load.py                  # the full run (~40 min on 2 cores)
    python bench/load.py --quick          # seconds: checks the harness works, nothing lost
    python bench/load.py --systems direct,traceforge --profiles sse-200 --concurrency 1,10
    python bench/load.py --quick --export  # also TraceForge exporting OTLP to a local sink
    python bench/load.py --systems direct,traceforge,traceforge-thread  # writer process vs thread
    python bench/load.py --systems direct,traceforge,floor-tcp,floor-http,floor-aiohttp
        # with the floor proxies (harness/floor.py): what any Python proxy adds here

Method: the proxy under test runs pinned to core 0 (``taskset``), the fake upstream and the
load generator (separate processes) to core 1. For every profile and concurrency the systems
are interleaved in rounds (default 7; the order rotates each round) and every figure is the
median of round values with its min-max spread. "Added" figures are a system's round value
minus the direct baseline's in the same round. Every request is checked: HTTP 200, each chunk
once and in order, ``[DONE]``; any error or lost chunk is reported (and fails ``--quick``).
Peers come from ``python bench/harness/peers.py install all``; a peer that is not installed is
named in the report as missing, not dropped silently.

Results: ``bench/results/load-<date>.{json,md}`` (``--out`` to change the directory).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from harness import peers
from harness.loadgen import Job
from harness.processes import LoadGenerator, Upstream
from harness.profiles import DEFAULT_PROFILES, PROFILES
from harness.report import RESULTS_DIR, facts_markdown, machine_facts, write
from harness.stats import spread
from harness.systems import SYSTEMS, RssSampler, Running, start

from traceforge_shared.store import TraceStore

PROXY_CPU, HELPER_CPU = 0, 1
#: ``proxy.chunk_cap`` (chunks stored per trace) in the benchmark's config (the default).
CHUNK_CAP = 10_000
FRONTIER_CONCURRENCY = (1, 2, 4, 8, 16, 32, 64, 128)
FRONTIER_P99_MS = (5, 10, 50)
MEMORY_PROFILES = ("sse-1k", "sse-10k", "sse-20k")
#: TraceForge's config in the benchmark: the defaults (recording, redaction, pricing on) with
#: no pruning, so that every request's trace can be counted afterwards.
BENCH_CONFIG = "storage:\n  max_traces: null\n  retention_days: null\n"
#: System ``traceforge-thread``: the same with the trace writer in a thread of the proxy
#: (``storage.writer: thread``) instead of its own process (the default of ``traceforge
#: start``), to compare the two in one run.
THREAD_CONFIG = BENCH_CONFIG + "  writer: thread\n"
#: ``--export``: the same, plus ``export.otlp`` to a local OTLP/HTTP sink (``{endpoint}``),
#: content captured (the most work per trace); run as system ``traceforge-export``.
EXPORT_CONFIG = (
    BENCH_CONFIG + "export:\n  otlp:\n    endpoint: {endpoint}\n    capture_content: true\n"
)


def export_ratios(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per profile and concurrency: TraceForge's added total time (p50, ms, over the direct
    baseline of the same round) with OTLP export on, off, and their ratio (target <= 1.10)."""
    by_key = {(c["profile"], c["concurrency"], c["system"]): c for c in cells}
    out = []
    for (profile, conc, system), on in by_key.items():
        off = by_key.get((profile, conc, "traceforge"))
        if system != "traceforge-export" or off is None:
            continue
        on_ms, off_ms = on["added_total_ms_p50"]["median"], off["added_total_ms_p50"]["median"]
        ratio = on_ms / off_ms if on_ms is not None and off_ms and off_ms > 0 else None
        out.append(
            {
                "profile": profile,
                "concurrency": conc,
                "added_on_ms": on_ms,
                "added_off_ms": off_ms,
                "ratio": ratio,
            }
        )
    return out


def start_sink() -> tuple[str, Any]:
    """A local OTLP/HTTP sink (:class:`traceforge_proxy.otlp_sink.OtlpSink`) on its own event
    loop thread, pinned to the helpers' core (it stands for a collector on another machine:
    decoding 400 KB spans must not land on the proxy's core); returns its URL and a function
    stopping it."""
    import asyncio
    import os
    import threading

    from traceforge_proxy.otlp_sink import OtlpSink

    loop = asyncio.new_event_loop()

    def serve() -> None:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > HELPER_CPU:
            os.sched_setaffinity(0, {HELPER_CPU})  # this thread only (Linux)
        loop.run_forever()

    threading.Thread(target=serve, name="otlp-sink", daemon=True).start()
    sink = OtlpSink()
    url = asyncio.run_coroutine_threadsafe(sink.__aenter__(), loop).result(10)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(sink.__aexit__(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)

    return url, stop


def cell_requests(profile: str, concurrency: int, requests: int, budget_s: float) -> int:
    """Requests per round for one cell: ``requests``, fewer for slow profiles so one round of
    one system takes about ``budget_s`` (never fewer than ``concurrency``)."""
    expected = PROFILES[profile].expected_s
    if expected == 0:
        return requests
    waves = max(1, math.ceil(budget_s / expected))
    return max(concurrency, min(requests, waves * concurrency))


def _added(value: dict[str, Any], base: dict[str, Any], metric: str, q: str) -> float | None:
    a, b = value[metric][q], base[metric][q]
    return None if a is None or b is None else a - b


def drive(system: Running, loadgen: LoadGenerator, job: Job) -> dict[str, Any]:
    """Run ``job`` against ``system``, counting the requests it sent (warm-up included)."""
    result = loadgen.run(job)
    system.sent += result["sent"]
    return result


def run_matrix(
    systems: dict[str, Running],
    loadgen: LoadGenerator,
    profiles: list[str],
    concurrency: list[int],
    rounds: int,
    requests: int,
    budget_s: float,
    max_s: float | None,
) -> list[dict[str, Any]]:
    """Every profile x concurrency x round x system; returns one entry per cell and system.
    A system sends no new request of a round after ``max_s`` seconds (slow peers)."""
    cells: list[dict[str, Any]] = []
    names = list(systems)
    for profile in profiles:
        for conc in concurrency:
            n = cell_requests(profile, conc, requests, budget_s)
            per_round: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
            for r in range(rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    system = systems[name]
                    cpu0 = system.cpu_s()
                    job = Job(
                        url=system.url,
                        profile=profile,
                        concurrency=conc,
                        requests=n,
                        warmup=min(conc, 20),
                        max_s=max_s,
                    )
                    result = drive(system, loadgen, job)
                    result["cpu_s"] = system.cpu_s() - cpu0
                    result["cpu_requests"] = n + job.warmup
                    per_round[name].append(result)
                print(f"  {profile} c={conc} round {r + 1}/{rounds} done", file=sys.stderr)
            for name in names:
                cells.append(_cell(profile, conc, n, name, per_round[name], per_round["direct"]))
    return cells


def _cell(
    profile: str,
    conc: int,
    n: int,
    name: str,
    rounds: list[dict[str, Any]],
    direct: list[dict[str, Any]],
) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "profile": profile,
        "concurrency": conc,
        "requests_per_round": n,
        "system": name,
        "rounds": len(rounds),
        "errors": sum(sum(r["errors"].values()) for r in rounds),
        "error_kinds": sorted({k for r in rounds for k in r["errors"]}),
        "lost_chunks": sum(r["lost_chunks"] for r in rounds),
        "requests_done": spread([r["requests"] for r in rounds]),
        "chunks": sum(r["chunks"] for r in rounds),
    }
    for metric in ("ttfb_ms", "ttft_ms", "total_ms", "chunk_delay_ms"):
        for q in ("p50", "p99"):
            cell[f"{metric}_{q}"] = spread([r[metric][q] for r in rounds])
            cell[f"added_{metric}_{q}"] = spread(
                [_added(r, b, metric, q) for r, b in zip(rounds, direct, strict=True)]
            )
    cell["total_ratio_p50"] = spread(
        [
            r["total_ms"]["p50"] / b["total_ms"]["p50"] if b["total_ms"]["p50"] else None
            for r, b in zip(rounds, direct, strict=True)
        ]
    )
    cell["rps"] = spread([r["rps"] for r in rounds])
    cpu = [1000 * r["cpu_s"] / r["cpu_requests"] for r in rounds]
    cell["cpu_s_per_1k"] = spread(cpu) if name != "direct" else spread([])
    return cell


def run_frontier(
    systems: dict[str, Running],
    loadgen: LoadGenerator,
    rounds: int,
    profile: str,
    metric: str,
    max_s: float | None,
) -> list[dict[str, Any]]:
    """Closed-loop sweep over :data:`FRONTIER_CONCURRENCY`; for each system, the highest
    requests/s with zero errors whose ``metric`` p99 (median of rounds) stays within each of
    :data:`FRONTIER_P99_MS`."""
    out: list[dict[str, Any]] = []
    points: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
    for conc in FRONTIER_CONCURRENCY:
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
        for r in range(rounds):
            names = list(systems)
            for name in names[r % len(names) :] + names[: r % len(names)]:
                job = Job(
                    url=systems[name].url,
                    profile=profile,
                    concurrency=conc,
                    requests=max(200, 8 * conc),
                    warmup=conc,
                    max_s=max_s,
                )
                results[name].append(drive(systems[name], loadgen, job))
        for name, rs in results.items():
            points[name].append(
                {
                    "concurrency": conc,
                    "rps": spread([r["rps"] for r in rs])["median"],
                    "p99_ms": spread([r[metric]["p99"] for r in rs])["median"],
                    "errors": sum(sum(r["errors"].values()) + r["lost_chunks"] for r in rs),
                }
            )
        print(f"  frontier {profile} c={conc} done", file=sys.stderr)
    for name, pts in points.items():
        best = {}
        for limit in FRONTIER_P99_MS:
            ok = [p["rps"] for p in pts if not p["errors"] and p["p99_ms"] <= limit]
            best[str(limit)] = max(ok) if ok else None
        out.append(
            {"system": name, "profile": profile, "metric": metric, "points": pts, "best_rps": best}
        )
    return out


def run_memory(
    systems: dict[str, Running], loadgen: LoadGenerator, concurrency: int, profiles: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Peak RSS of each proxy while ``concurrency`` long streams run at once (sampled every
    50 ms), per stream length, after one warm-up wave."""
    out = []
    for name, system in systems.items():
        if system.process is None:
            continue
        for profile in profiles:
            drive(
                system,
                loadgen,
                Job(
                    url=system.url, profile="sse-200", concurrency=concurrency, requests=concurrency
                ),
            )
            before = system.rss_mb()
            with RssSampler(system, every_s=0.05) as rss:
                result = drive(
                    system,
                    loadgen,
                    Job(
                        url=system.url,
                        profile=profile,
                        concurrency=concurrency,
                        requests=concurrency,
                        timeout_s=600,
                    ),
                )
            peak = max(before, rss.peak_mb)
            stored = concurrency * min(PROFILES[profile].chunks, CHUNK_CAP)
            time.sleep(1.0)
            out.append(
                {
                    "system": name,
                    "profile": profile,
                    "streams": concurrency,
                    "rss_before_mb": before,
                    "rss_peak_mb": peak,
                    "rss_after_mb": system.rss_mb(),
                    # Growth while the streams were open, per chunk stored (KiB).
                    "kib_per_stored_chunk": (peak - before) * 1024 / stored,
                    "errors": sum(result["errors"].values()),
                    "lost_chunks": result["lost_chunks"],
                }
            )
            print(
                f"  memory {name} {profile}: peak {peak:.0f} MiB, "
                f"{(peak - before) * 1024 / stored:.2f} KiB per stored chunk",
                file=sys.stderr,
            )
    return out


def catch_up(system: Running, timeout_s: float = 120.0) -> float:
    """Seconds until the system's store lists a trace per request sent (its writer has
    caught up with the load), polled every 0.25 s; ``timeout_s`` if it never does."""
    assert system.home is not None
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if (system.home / "index.sqlite").exists() and count_traces(system.home) >= system.sent:
            break
        time.sleep(0.25)
    return time.monotonic() - began


def count_traces(home: Path) -> int:
    """Traces the TraceForge store lists (read through the store API)."""
    return len(TraceStore(home).list(limit=None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--systems",
        default=None,
        help=f"comma-separated, of: {', '.join(SYSTEMS)} (default: all but the floor-* "
        "ones; with --quick all, so the floor proxies are checked too)",
    )
    parser.add_argument("--profiles", default=",".join(DEFAULT_PROFILES))
    parser.add_argument("--concurrency", default="1,10,50,100")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200, help="per round and system")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=8.0,
        help="rough seconds per round and system for slow profiles",
    )
    parser.add_argument(
        "--max-round-s",
        type=float,
        default=6.0,
        help="seconds after which a system sends no new request in a round (0: no limit)",
    )
    parser.add_argument("--frontier-rounds", type=int, default=3, help="0: skip the frontier")
    parser.add_argument("--memory-streams", type=int, default=100, help="0: skip memory")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes; exit 1 on any error or lost chunk or trace",
    )
    parser.add_argument(
        "--export",
        action="store_true",
        help="also run traceforge-export: TraceForge with export.otlp to a local sink",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--name", default=None, help="result file name (default load-<date>)")
    args = parser.parse_args(argv)
    if args.quick:
        args.profiles, args.concurrency = "json-1kb,sse-200,sse-64x20ms,body-40kb", "1,4"
        args.rounds, args.requests, args.budget_s = 1, 12, 0.1
        args.frontier_rounds, args.memory_streams = 0, 0
    if args.systems is None:
        args.systems = ",".join(s for s in SYSTEMS if args.quick or not s.startswith("floor-"))
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in (*SYSTEMS, "traceforge-thread")]
    if unknown:
        parser.error(
            f"unknown system {', '.join(unknown)}; known: {', '.join(SYSTEMS)}, traceforge-thread"
        )
    if "direct" not in wanted:
        wanted.insert(0, "direct")
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    concurrency = [int(c) for c in args.concurrency.split(",")]
    facts = machine_facts()
    missing: dict[str, str] = {}
    upstream = Upstream(HELPER_CPU)
    loadgen = LoadGenerator(HELPER_CPU)
    systems: dict[str, Running] = {}
    tmp = tempfile.TemporaryDirectory(prefix="traceforge-load-")
    stop_sink = None
    caught_up: dict[str, float] = {}
    try:
        for name in wanted:
            if name == "traceforge-thread":
                systems[name] = start(
                    "traceforge",
                    upstream.base,
                    Path(tmp.name) / "thread",
                    cpu=PROXY_CPU,
                    config_yaml=THREAD_CONFIG,
                )
                continue
            try:
                systems[name] = start(
                    name, upstream.base, Path(tmp.name), cpu=PROXY_CPU, config_yaml=BENCH_CONFIG
                )
            except peers.PeerUnavailable as exc:
                missing[name] = str(exc)
                print(f"skipping {name}: {exc}", file=sys.stderr)
        if args.export and "traceforge" in systems:
            sink_url, stop_sink = start_sink()
            systems["traceforge-export"] = start(
                "traceforge",
                upstream.base,
                Path(tmp.name) / "export",
                cpu=PROXY_CPU,
                config_yaml=EXPORT_CONFIG.format(endpoint=sink_url),
            )
        print(f"systems: {', '.join(systems)}; upstream {upstream.base}", file=sys.stderr)
        max_s = args.max_round_s or None
        cells = run_matrix(
            systems,
            loadgen,
            profiles,
            concurrency,
            args.rounds,
            args.requests,
            args.budget_s,
            max_s,
        )
        frontier = []
        for profile, metric in (("json-1kb", "total_ms"), ("sse-200", "ttft_ms")):
            if args.frontier_rounds:
                frontier += run_frontier(
                    systems, loadgen, args.frontier_rounds, profile, metric, max_s and max_s / 2
                )
        memory = (
            run_memory(
                {k: v for k, v in systems.items() if k == "traceforge"},
                loadgen,
                args.memory_streams,
                MEMORY_PROFILES,
            )
            if args.memory_streams
            else []
        )
    finally:
        loadgen.stop()
        for name, system in systems.items():
            if system.home is not None:
                caught_up[name] = catch_up(system)
        for name, system in systems.items():
            began = time.monotonic()
            system.stop()
            code = None if system.process is None else system.process.returncode
            print(
                f"stopped {name} in {time.monotonic() - began:.1f} s (exit {code})", file=sys.stderr
            )
        upstream.stop()
        if stop_sink is not None:
            stop_sink()
    tf = systems.get("traceforge")
    sent = tf.sent if tf is not None else None
    saved = count_traces(tf.home) if tf is not None and tf.home is not None else None
    counts = {
        name: (system.sent, count_traces(system.home))
        for name, system in systems.items()
        if system.home is not None
    }
    for name, (requests_sent, traces_saved) in counts.items():
        if traces_saved != requests_sent:  # what the proxy said about it
            print(f"{name} output:\n{systems[name].log_tail(40)}", file=sys.stderr)
    tmp.cleanup()
    data = {
        "facts": facts,
        "args": {k: str(v) for k, v in vars(args).items()},
        "missing_systems": missing,
        "cells": cells,
        "frontier": frontier,
        "memory": memory,
        "traceforge_traces": {"requests": sent, "saved": saved},
        "traces_by_system": {
            k: {"requests": a, "saved": b, "catch_up_s": caught_up.get(k)}
            for k, (a, b) in counts.items()
        },
        "export_ratios": export_ratios(cells),
    }
    from harness.load_report import markdown

    name = args.name or ("load-quick" if args.quick else f"load-{time.strftime('%Y-%m-%d')}")
    path = write(name, data, markdown(data, facts_markdown(facts)), args.out)
    print(path.read_text())
    export_rows = cast("list[dict[str, Any]]", data["export_ratios"])
    for row in export_rows:
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(
            f"export on/off, {row['profile']} c={row['concurrency']}: added total p50 "
            f"{row['added_on_ms']} ms / {row['added_off_ms']} ms = {ratio} (target <= 1.10)"
        )
    problems = [
        f"{c['system']} {c['profile']} c={c['concurrency']}: {c['errors']} errors "
        f"{c['error_kinds']}, {c['lost_chunks']} lost chunks"
        for c in cells
        if c["errors"] or c["lost_chunks"]
    ]
    for system_name, (requests_sent, traces_saved) in counts.items():
        print(
            f"{system_name}: {traces_saved} traces saved for {requests_sent} requests "
            f"(the writer caught up {caught_up.get(system_name, 0):.1f} s after the load)"
        )
        if traces_saved != requests_sent:
            problems.append(
                f"{system_name} saved {traces_saved} traces for {requests_sent} requests"
            )
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems and args.quick else 0


if __name__ == "__main__":
    sys.exit(main())

"""Soak and faults: TraceForge under a long mixed load, then killed with SIGKILL mid-load.

    python bench/soak.py                      # 10 minutes, 50 concurrent streams, 10% faults
    python bench/soak.py --quick              # seconds; exit 1 on any finding
    python bench/soak.py --duration-s 60 --streams 20 --fault-percent 0

Phase 1 (soak): ``--streams`` concurrent requests for ``--duration-s`` seconds, most of them
64-chunk streams 20 ms apart, the rest (``--fault-percent``) injected upstream faults drawn at
random: connection reset mid-stream, HTTP 500, HTTP 429, a stall past the proxy's read timeout
(set to 2 s here), malformed SSE lines. The proxy's resident memory is sampled every second.
Then the proxy is stopped and its store is checked through the store API: one trace per
request, each with the status and error type its fault calls for, every chunk of every
complete stream stored; and memory growth from the first minute (after warm-up) to the last.

Phase 2 (SIGKILL): load again, the proxy is killed with SIGKILL mid-load and restarted on the
same home: the store must list without error, every listed trace must read back, no partial
trace file may be left, and a new request must be saved.

Results: ``bench/results/soak-<date>.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
from harness.loadgen import Job
from harness.processes import LoadGenerator, Upstream
from harness.profiles import FAULT_CHUNKS, FAULTS, PROFILES, fault_for
from harness.report import RESULTS_DIR, facts_markdown, machine_facts, write
from harness.systems import RssSampler, start

from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

PROFILE = "sse-64x20ms"
CONFIG = "proxy:\n  read_timeout_s: 2\nstorage:\n  max_traces: null\n  retention_days: null\n"


def _mix(fault_percent: float) -> dict[str, int]:
    mix = {PROFILES[PROFILE].model: round(1000 - 10 * fault_percent)}
    for kind in FAULTS:
        mix[f"gpt-fault-{kind}"] = round(10 * fault_percent / len(FAULTS))
    return {model: weight for model, weight in mix.items() if weight > 0}


def _expected_chunks(trace: Trace) -> int | None:
    """SSE events a complete stream of this trace's model has (None: incomplete by design)."""
    fault = fault_for(trace.model)
    if fault not in (None, "malformed"):
        return None
    content = FAULT_CHUNKS if fault else PROFILES[PROFILE].chunks
    # role chunk + content chunks + finish chunk + usage chunk (the proxy asks for usage),
    # + a malformed stream's non-JSON data line (its stray line is no SSE event; [DONE] is
    # recorded as the end of the stream, not as a chunk)
    return 1 + content + 1 + 1 + (1 if fault else 0)


def check_store(home: Path, sent: dict[str, int]) -> dict[str, Any]:
    """Every trace in the store against what was sent: counts per model, wrong statuses and
    chunk counts (at most 10 examples each)."""
    store = TraceStore(home)
    summaries = store.list(limit=None)
    saved = Counter(s.model for s in summaries)
    wrong_status: list[str] = []
    missing_chunks: list[str] = []
    for summary in summaries:
        trace = store.get(summary.id)
        meta = trace.metadata
        fault = fault_for(trace.model)
        want_status, want_error = FAULTS[fault] if fault else ("success", None)
        got_error = meta.error.type if meta.error is not None else None
        if (meta.status, got_error) != (want_status, want_error):
            wrong_status.append(f"{trace.id} {trace.model}: {meta.status}/{got_error}")
        expected = _expected_chunks(trace)
        if expected is not None and (meta.chunks_received, len(trace.chunks)) != (
            expected,
            expected,
        ):
            missing_chunks.append(
                f"{trace.id} {trace.model}: {meta.chunks_received} received, "
                f"{len(trace.chunks)} stored, {expected} sent"
            )
    return {
        "sent": sum(sent.values()),
        "saved": len(summaries),
        "per_model": {m: {"sent": n, "saved": saved.get(m, 0)} for m, n in sorted(sent.items())},
        "wrong_status": len(wrong_status),
        "wrong_status_examples": wrong_status[:10],
        "missing_chunks": len(missing_chunks),
        "missing_chunks_examples": missing_chunks[:10],
    }


def soak(args: argparse.Namespace, upstream: Upstream, workdir: Path) -> dict[str, Any]:
    """Phase 1."""
    loadgen = LoadGenerator(1)
    proxy = start("traceforge", upstream.base, workdir, cpu=0, config_yaml=CONFIG)
    try:
        with RssSampler(proxy, every_s=1.0) as rss:
            result = loadgen.run(
                Job(
                    url=proxy.url,
                    profile=PROFILE,
                    concurrency=args.streams,
                    requests=0,
                    mix=_mix(args.fault_percent),
                    duration_s=args.duration_s,
                    seed=args.seed,
                    timeout_s=60,
                )
            )
    finally:
        loadgen.stop()
        proxy.stop()
    assert proxy.home is not None
    sent = {model: entry["sent"] for model, entry in result["by_model"].items()}
    store = check_store(proxy.home, sent)
    client_lost = sum(
        e["lost_chunks"] for m, e in result["by_model"].items() if fault_for(m) is None
    )
    client_errors = {
        m: e["errors"]
        for m, e in result["by_model"].items()
        if fault_for(m) is None and e["errors"]
    }
    return {
        "requests": result["requests"],
        "rps": result["rps"],
        "by_model": result["by_model"],
        "client_lost_chunks": client_lost,
        "client_errors_on_good_streams": client_errors,
        "store": store,
        "rss": _rss_growth(rss.samples),
    }


def _rss_growth(samples: list[tuple[float, float]]) -> dict[str, Any]:
    """Median RSS over the first minute after warm-up (or the 10-20% window of short runs)
    versus the last minute (or last 10%); a window spans at least two sampling periods (a
    10 s run sampled every second could leave the 1 s window empty)."""
    if len(samples) < 10:
        return {"samples": len(samples), "growth_percent": None}
    end = samples[-1][0]
    window = 60.0 if end >= 300 else max(end / 10, 2 * end / len(samples))
    early = [mb for t, mb in samples if window <= t < 2 * window]
    late = [mb for t, mb in samples if t >= end - window]
    if not early or not late:
        return {"samples": len(samples), "growth_percent": None}
    first, last = statistics.median(early), statistics.median(late)
    return {
        "samples": len(samples),
        "early_mb": first,
        "late_mb": last,
        "peak_mb": max(mb for _, mb in samples),
        "growth_percent": 100 * (last - first) / first,
    }


def kill_and_restart(args: argparse.Namespace, upstream: Upstream, workdir: Path) -> dict[str, Any]:
    """Phase 2."""
    loadgen = LoadGenerator(1)
    proxy = start("traceforge", upstream.base, workdir, cpu=0, config_yaml=CONFIG)
    assert proxy.process is not None and proxy.home is not None
    home = proxy.home
    # The writer process (storage.writer: process) outlives a SIGKILL of the proxy: it saves
    # what it had received and exits. Wait for it before counting.
    writers = psutil.Process(proxy.process.pid).children(recursive=True)
    kill_after = max(1.0, args.kill_after_s)
    killer = threading.Timer(kill_after, os.kill, (proxy.process.pid, signal.SIGKILL))
    killer.start()
    result = loadgen.run(
        Job(
            url=proxy.url,
            profile="sse-200",
            concurrency=args.streams,
            requests=0,
            duration_s=kill_after + 1.0,
            timeout_s=10,
        )
    )
    killer.join()
    proxy.process.wait()
    psutil.wait_procs(writers, timeout=60)
    leftovers = sorted(p.name for p in (home / "traces").iterdir() if not p.name.endswith(".json"))
    store = TraceStore(home)
    problems: list[str] = []
    try:
        listed = store.list(limit=None)
    except Exception as exc:  # the finding itself
        problems.append(f"list failed: {exc!r}")
        listed = []
    for summary in listed:
        try:
            store.get(summary.id)
        except Exception as exc:
            problems.append(f"{summary.id}: {exc!r}")
    restarted = start("traceforge", upstream.base, workdir, cpu=0, config_yaml=None)
    after = loadgen.run(Job(url=restarted.url, profile="json-1kb", concurrency=1, requests=1))
    restarted.stop()
    loadgen.stop()
    saved_after = len(TraceStore(home).list(limit=None))
    if after["ok"] != 1:
        problems.append(f"request after restart failed: {after['errors']}")
    if saved_after != len(listed) + 1:
        problems.append(f"after restart {saved_after} traces, expected {len(listed) + 1}")
    partial = [name for name in leftovers if name.endswith(".json")]
    return {
        "sent_before_kill": result["sent"],
        "completed_before_kill": result["ok"],
        "saved_before_kill": len(listed),
        "temp_files_left": leftovers,
        "partial_trace_files": partial,
        "problems": problems,
    }


def markdown(data: dict[str, Any], facts: str) -> str:
    """The report."""
    s, k, args = data["soak"], data["kill"], data["args"]
    st, rss = s["store"], s["rss"]
    clients_ok = not s["client_lost_chunks"] and not s["client_errors_on_good_streams"]
    growth = rss.get("growth_percent")
    lines = [
        "# Soak and faults",
        "",
        f"Machine: {facts}.",
        "",
        f"Phase 1: {args['streams']} concurrent requests for {args['duration_s']} s, "
        f"{args['fault_percent']}% injected faults: {s['requests']} requests "
        f"({s['rps']:.1f}/s).",
        "",
        "| check | result | ok |",
        "| --- | --- | --- |",
        f"| traces saved == requests made | {st['saved']} / {st['sent']} "
        f"| {'yes' if st['saved'] == st['sent'] else 'NO'} |",
        f"| every trace has its fault's status and error type | {st['wrong_status']} wrong "
        f"| {'yes' if not st['wrong_status'] else 'NO'} |",
        f"| every complete stream stored whole | {st['missing_chunks']} short "
        f"| {'yes' if not st['missing_chunks'] else 'NO'} |",
        f"| clients got every chunk of good streams | {s['client_lost_chunks']} lost, "
        f"errors {s['client_errors_on_good_streams'] or 'none'} "
        f"| {'yes' if clients_ok else 'NO'} |",
        "| RSS growth < 10% | "
        + (
            f"{rss['early_mb']:.0f} -> {rss['late_mb']:.0f} MiB ({growth:+.1f}%), peak "
            f"{rss['peak_mb']:.0f} MiB"
            if growth is not None
            else "too short to tell"
        )
        + f" | {'-' if growth is None else 'yes' if growth < 10 else 'NO'} |",
        "",
        "| model | sent | saved | client errors |",
        "| --- | --- | --- | --- |",
    ]
    for model, entry in st["per_model"].items():
        errors = s["by_model"][model]["errors"]
        lines.append(f"| {model} | {entry['sent']} | {entry['saved']} | {errors or '-'} |")
    lines += [
        "",
        f"Phase 2 (SIGKILL mid-load): {k['completed_before_kill']} requests completed before "
        f"the kill ({k['sent_before_kill']} sent in all, refused ones included), "
        f"{k['saved_before_kill']} traces listed after it (the rest were in flight or "
        f"queued in memory); temp files left: {len(k['temp_files_left'])}; partial trace files: "
        f"{len(k['partial_trace_files'])}; problems: {k['problems'] or 'none'}.",
    ]
    for label, examples in (
        ("wrong status", st["wrong_status_examples"]),
        ("short streams", st["missing_chunks_examples"]),
    ):
        if examples:
            lines += ["", f"Examples of {label}:", *[f"- {e}" for e in examples]]
    return "\n".join(lines) + "\n"


def findings(data: dict[str, Any]) -> list[str]:
    """What failed, in words (empty when everything held)."""
    s, k = data["soak"], data["kill"]
    st = s["store"]
    out = []
    if st["saved"] != st["sent"]:
        out.append(f"{st['saved']} traces saved for {st['sent']} requests")
    if st["wrong_status"]:
        out.append(f"{st['wrong_status']} traces with the wrong status")
    if st["missing_chunks"]:
        out.append(f"{st['missing_chunks']} traces missing chunks")
    if s["client_lost_chunks"] or s["client_errors_on_good_streams"]:
        out.append("clients lost chunks or got errors on good streams")
    growth = s["rss"].get("growth_percent")
    if growth is not None and growth >= 10 and not data["args"]["quick"]:
        out.append(f"RSS grew {growth:.1f}%")
    if k["problems"] or k["partial_trace_files"]:
        out.append(f"after SIGKILL: {k['problems']} {k['partial_trace_files']}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration-s", type=float, default=600.0)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--fault-percent", type=float, default=10.0)
    parser.add_argument("--kill-after-s", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="10 s, 10 streams")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--name", default=None, help="result file name (default soak-<date>)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration_s, args.streams, args.kill_after_s = 10.0, 10, 2.0
    facts = machine_facts()
    upstream = Upstream(1)
    try:
        with tempfile.TemporaryDirectory(prefix="traceforge-soak-") as tmp:
            data: dict[str, Any] = {"facts": facts, "args": vars(args) | {"out": str(args.out)}}
            print(f"soak: {args.duration_s:.0f} s, {args.streams} streams", file=sys.stderr)
            data["soak"] = soak(args, upstream, Path(tmp) / "soak")
            print("kill: SIGKILL mid-load, restart", file=sys.stderr)
            data["kill"] = kill_and_restart(args, upstream, Path(tmp) / "kill")
    finally:
        upstream.stop()
    data["findings"] = findings(data)
    name = args.name or ("soak-quick" if args.quick else f"soak-{time.strftime('%Y-%m-%d')}")
    path = write(name, data, markdown(data, facts_markdown(facts)), args.out)
    print(path.read_text())
    for finding in data["findings"]:
        print(f"FINDING: {finding}", file=sys.stderr)
    return 1 if data["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())

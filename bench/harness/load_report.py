"""The markdown report of ``bench/load.py``: one table per profile, the throughput frontier,
memory under long streams, and the targets of the benchmarks issue checked against the run."""

from __future__ import annotations

from typing import Any

from harness.profiles import PROFILES
from harness.report import fmt


def _s(spread: dict[str, float | None], digits: int = 2, signed: bool = False) -> str:
    med = spread["median"]
    if med is None:
        return "-"
    low, high = spread["min"], spread["max"]
    if low == high:
        return fmt(med, digits, signed)
    return f"{fmt(med, digits, signed)} ({fmt(low, digits, signed)}..{fmt(high, digits, signed)})"


def _done(cell: dict[str, Any]) -> str:
    """Requests per round: planned, or the range done when the round time limit cut some."""
    done = cell.get("requests_done") or {}
    low, high = done.get("min"), done.get("max")
    if low is None or (low == high == cell["requests_per_round"]):
        return str(cell["requests_per_round"])
    return f"{low:.0f}" if low == high else f"{low:.0f}..{high:.0f}"


def _find(data: dict[str, Any], system: str, profile: str, conc: int) -> dict[str, Any] | None:
    for cell in data["cells"]:
        if (cell["system"], cell["profile"], cell["concurrency"]) == (system, profile, conc):
            return dict(cell)
    return None


def targets(data: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each target of the issue the run has data for."""
    out: list[tuple[str, str, bool | None]] = []

    def check(label: str, value: float | None, limit: float, unit: str = "ms") -> None:
        shown = "not measured" if value is None else f"{value:.3f} {unit}"
        out.append((label, shown, None if value is None else value <= limit))

    for profile in ("json-1kb", "sse-500"):
        cell = _find(data, "traceforge", profile, 1)
        if cell:
            check(
                f"added TTFB p50 <= 0.5 ms (c=1, {profile})",
                cell["added_ttfb_ms_p50"]["median"],
                0.5,
            )
            check(
                f"added TTFB p99 <= 1 ms (c=1, {profile})", cell["added_ttfb_ms_p99"]["median"], 1.0
            )
    cell = _find(data, "traceforge", "sse-64x20ms", 1)
    if cell:
        check(
            "added time to first token <= 1 ms (c=1, sse-64x20ms)",
            cell["added_ttft_ms_p50"]["median"],
            1.0,
        )
        check(
            "added inter-chunk delay p99 <= 0.5 ms (c=1, sse-64x20ms)",
            cell["added_chunk_delay_ms_p99"]["median"],
            0.5,
        )
    for f in data["frontier"]:
        if f["system"] == "traceforge" and f["profile"] == "json-1kb":
            rps = f["best_rps"]["10"]
            out.append(
                (
                    "requests/s on one core at p99 <= 10 ms >= 3000",
                    "none" if rps is None else f"{rps:.0f} req/s",
                    None if rps is None else rps >= 3000,
                )
            )
    for profile, metric in (("json-1kb", "ttfb_ms"), ("sse-64x20ms", "ttft_ms")):
        ours = _find(data, "traceforge", profile, 1)
        theirs = _find(data, "mitmproxy-stream", profile, 1)
        if ours and theirs:
            a = ours[f"added_{metric}_p50"]["median"]
            b = theirs[f"added_{metric}_p50"]["median"]
            if a is not None and b is not None:
                what = "TTFB" if metric == "ttfb_ms" else "time to first token"
                out.append(
                    (
                        f"added {what} at most half of streaming mitmproxy's (c=1, {profile})",
                        f"{a:.3f} vs {b:.3f} ms",
                        a <= b / 2,
                    )
                )
    return out


def markdown(data: dict[str, Any], facts: str) -> str:
    """The whole report as markdown."""
    lines = ["# Proxy overhead under load", "", f"Machine: {facts}.", ""]
    if data["missing_systems"]:
        for name, why in data["missing_systems"].items():
            lines.append(f"- **{name} not measured**: {why}")
        lines.append("")
    tt = data["traceforge_traces"]
    if tt["requests"] is not None:
        lines += [f"TraceForge traces saved: {tt['saved']} for {tt['requests']} requests.", ""]
    lines += ["## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    for label, value, met in targets(data):
        lines.append(f"| {label} | {value} | {'-' if met is None else 'yes' if met else 'NO'} |")
    lines += [
        "",
        "## Latency by profile",
        "",
        "Times in ms: median of the round values (min..max over rounds). *Added* = the "
        "system's value minus the direct baseline's in the same round; *ratio* = total time "
        "p50 over direct's. CPU: the proxy's user+system seconds per 1,000 requests.",
    ]
    profiles = list(dict.fromkeys(c["profile"] for c in data["cells"]))
    for profile in profiles:
        cells = [c for c in data["cells"] if c["profile"] == profile]
        p = PROFILES[profile]
        lines += [
            "",
            f"### {profile}: {p.description}",
            "",
            "| c | system | req/round | TTFB p50 | +TTFB p50 | +TTFB p99 | +TTFT p50 "
            "| +chunk delay p50 | +chunk delay p99 | total ratio | req/s | CPU s/1k "
            "| errors, lost |",
            "| " + " | ".join(["---"] * 13) + " |",
        ]
        for c in cells:
            lines.append(
                f"| {c['concurrency']} | {c['system']} | {_done(c)}x{c['rounds']} "
                f"| {_s(c['ttfb_ms_p50'])} | {_s(c['added_ttfb_ms_p50'], signed=True)} "
                f"| {_s(c['added_ttfb_ms_p99'], signed=True)} "
                f"| {_s(c['added_ttft_ms_p50'], signed=True)} "
                f"| {_s(c['added_chunk_delay_ms_p50'], signed=True)} "
                f"| {_s(c['added_chunk_delay_ms_p99'], signed=True)} "
                f"| {_s(c['total_ratio_p50'])} | {_s(c['rps'], 0)} | {_s(c['cpu_s_per_1k'])} "
                f"| {c['errors']}, {c['lost_chunks']} |"
            )
    if data["frontier"]:
        lines += [
            "",
            "## Throughput frontier",
            "",
            "Closed-loop sweep over concurrency 1..128; the highest rate with zero errors whose "
            "p99 (total time for json-1kb requests, time to first token for sse-200 streams) "
            "stays within the limit. The load generator and the upstream share one core, so "
            "the direct row is the most this machine can drive.",
            "",
            "| system | profile | p99 <= 5 ms | p99 <= 10 ms | p99 <= 50 ms "
            "| at c=128: rate, p99 |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for f in data["frontier"]:
            best = f["best_rps"]
            last = f["points"][-1]
            lines.append(
                f"| {f['system']} | {f['profile']} | {fmt(best['5'], 0)} | {fmt(best['10'], 0)} "
                f"| {fmt(best['50'], 0)} | {fmt(last['rps'], 0)}/s, {fmt(last['p99_ms'], 1)} ms |"
            )
    if data["memory"]:
        lines += [
            "",
            "## Memory under long streams",
            "",
            "Resident memory of the proxy process, sampled every 50 ms while the streams run "
            "at once (TraceForge stores up to `proxy.chunk_cap` = 10,000 chunks per trace).",
            "",
            "| system | streams | chunks each | RSS before (MiB) | peak | after | errors, lost |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for m in data["memory"]:
            lines.append(
                f"| {m['system']} | {m['streams']} | {PROFILES[m['profile']].chunks:,} "
                f"| {m['rss_before_mb']:.0f} | {m['rss_peak_mb']:.0f} | {m['rss_after_mb']:.0f} "
                f"| {m['errors']}, {m['lost_chunks']} |"
            )
    return "\n".join(lines) + "\n"

"""The dashboard: metric cards and terminal charts over the whole trace store.

Keys: ``r`` recomputes, ``Esc`` goes back. The numbers are
:func:`traceforge_shared.analytics.compute_analytics`, computed in a worker; the charts are
drawn with textual-plotext.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual_plotext import PlotextPlot

from traceforge_shared.analytics import Analytics, NameCount, TimelineBucket, compute_analytics
from traceforge_shared.store import StoreError, TraceStore
from traceforge_shared.views.units import ms_number
from traceforge_tui import formatting as fmt

#: The metric cards: ``(id suffix, label)``, in order.
CARDS: tuple[tuple[str, str], ...] = (
    ("traces", "Traces"),
    ("last-7-days", "Last 7 days"),
    ("success-rate", "Success rate"),
    ("avg-latency", "Avg latency"),
    ("p95-latency", "p95 latency"),
    ("tokens", "Tokens"),
    ("cost", "Cost"),
)

#: Models shown in the top models chart.
TOP_MODELS = 8
#: Timelines with more buckets than this are drawn as lines rather than bars.
MAX_BARS = 60
#: Labelled ticks under the timeline.
TIMELINE_TICKS = 6

EMPTY_MESSAGE = (
    "No traces yet. Send requests through the TraceForge proxy (traceforge start), "
    "then press r to refresh."
)


def metric_values(analytics: Analytics) -> dict[str, str]:
    """The text of each card (keys: the ids of :data:`CARDS`); ``-`` when unknown."""
    latency = analytics.latency_ms
    rate = analytics.success_rate
    cost = analytics.cost_usd_total
    return {
        "traces": f"{analytics.total:,}",
        "last-7-days": f"{analytics.last_7_days:,}",
        "success-rate": "-" if rate is None else f"{rate:.1%}",
        "avg-latency": f"{ms_number(latency.avg)} ms" if latency.avg is not None else "-",
        "p95-latency": f"{ms_number(latency.p95)} ms" if latency.p95 is not None else "-",
        "tokens": f"{analytics.tokens.total:,}",
        "cost": "-" if cost is None else f"${cost:.4f}",
    }


def metric_notes(analytics: Analytics) -> dict[str, str]:
    """A second, smaller line for some cards (p50/p99, token split, average per trace)."""
    latency = analytics.latency_ms
    tokens = analytics.tokens
    notes: dict[str, str] = {}
    if latency.p50 is not None:
        notes["avg-latency"] = f"p50 {ms_number(latency.p50)} ms"
    if latency.p99 is not None:
        notes["p95-latency"] = f"p99 {ms_number(latency.p99)} ms"
    if tokens.avg_per_trace is not None:
        notes["tokens"] = f"{tokens.avg_per_trace:,.0f} per trace"
    if analytics.total:
        notes["success-rate"] = f"{sum(analytics.errors_by_status.values()):,} failed"
    return notes


def card_text(label: str, value: str, note: str = "", value_style: str = "bold") -> Text:
    """A card's content: label, value, and an optional note, one per line."""
    text = Text(label, style="dim")
    text.append("\n")
    text.append(value, style=value_style)
    text.append("\n")
    text.append(note, style="dim")
    return text


def rate_style(rate: float | None) -> str:
    """Green from 95% success, yellow from 80%, else red."""
    if rate is None:
        return "bold"
    return "bold green" if rate >= 0.95 else "bold yellow" if rate >= 0.8 else "bold red"


def bucket_label(start: str, bucket: str | None) -> str:
    """A timeline tick: ``11-23 08:00`` (minute and hour buckets) or ``11-23`` (days); the
    bucket starts are UTC."""
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return start
    return moment.strftime("%m-%d" if bucket not in ("minute", "hour") else "%m-%d %H:%M")


def count_ticks(top: int, most: int = 6) -> list[int]:
    """Whole-number ticks from 0 to at least ``top``, at most about ``most`` of them."""
    step = max(1, -(-top // (most - 1)))
    return list(range(0, max(top, 1) + step, step))


def errors_text(errors: dict[str, int]) -> Text:
    """``Errors: upstream_error 4 · error 2`` (statuses coloured), or nothing."""
    text = Text()
    if not errors:
        return text
    text.append("Errors by status: ", style="bold")
    for i, (status, count) in enumerate(errors.items()):
        if i:
            text.append(" · ")
        text.append(fmt.status(status, 0))
        text.append(f" {count:,}")
    return text


class DashboardScreen(Screen[None]):
    """Metric cards, a requests-over-time chart, and the provider and model distributions
    of ``store``.

    Args:
        store: the trace store (read through its index).
        now: the present for "last 7 days" (tests pass a fixed time); default: the clock.

    Attributes:
        analytics: the numbers shown, once computed.
    """

    DEFAULT_CSS = """
    DashboardScreen #dashboard-cards {
        height: auto;
        padding: 0 1;
    }
    DashboardScreen .dashboard-card {
        width: 1fr;
        height: 5;
        border: round $secondary;
        padding: 0 1;
    }
    DashboardScreen #dashboard-status {
        height: auto;
        padding: 0 1;
    }
    DashboardScreen #dashboard-timeline {
        height: 1fr;
        min-height: 8;
    }
    DashboardScreen #dashboard-distributions {
        height: 1fr;
        min-height: 8;
    }
    DashboardScreen #dashboard-providers {
        width: 2fr;
    }
    DashboardScreen #dashboard-models {
        width: 3fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, store: TraceStore, *, now: datetime | None = None) -> None:
        super().__init__()
        self.store = store
        self.now = now
        self.analytics: Analytics | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="dashboard-cards"):
            for key, label in CARDS:
                yield Static(card_text(label, "…"), id=f"card-{key}", classes="dashboard-card")
        yield Static(Text("Computing…", style="dim"), id="dashboard-status")
        yield PlotextPlot(id="dashboard-timeline")
        with Horizontal(id="dashboard-distributions"):
            yield PlotextPlot(id="dashboard-providers")
            yield PlotextPlot(id="dashboard-models")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "dashboard"
        self._show_charts(False)
        self.action_refresh()

    def action_refresh(self) -> None:
        """Recompute the numbers (in a worker)."""
        self.run_worker(self._load(), group="dashboard", exclusive=True)

    async def _load(self) -> None:
        status = self.query_one("#dashboard-status", Static)
        try:
            analytics = await asyncio.to_thread(compute_analytics, self.store, now=self.now)
        except (StoreError, OSError, sqlite3.Error) as exc:
            status.update(Text(f"Cannot read traces from {self.store.home}: {exc}", style="red"))
            status.display = True
            return
        self.analytics = analytics
        self.show(analytics)

    def _show_charts(self, visible: bool) -> None:
        self.query_one("#dashboard-timeline").display = visible
        self.query_one("#dashboard-distributions").display = visible

    def show(self, analytics: Analytics) -> None:
        """Fill the cards and draw the charts from ``analytics``."""
        values = metric_values(analytics)
        notes = metric_notes(analytics)
        for key, label in CARDS:
            style = rate_style(analytics.success_rate) if key == "success-rate" else "bold"
            self.query_one(f"#card-{key}", Static).update(
                card_text(label, values[key], notes.get(key, ""), style)
            )
        status = self.query_one("#dashboard-status", Static)
        if not analytics.total:
            status.update(Text(EMPTY_MESSAGE, style="dim"))
            status.display = True
            self._show_charts(False)
            return
        errors = errors_text(analytics.errors_by_status)
        status.update(errors)
        status.display = bool(errors)
        self._show_charts(True)
        self._draw_timeline(analytics.timeline, analytics.bucket)
        self._draw_counts("#dashboard-providers", "Providers", analytics.providers)
        self._draw_counts(
            "#dashboard-models", f"Top models (of {len(analytics.models)})", analytics.models
        )

    def _draw_timeline(self, timeline: list[TimelineBucket], bucket: str | None) -> None:
        chart = self.query_one("#dashboard-timeline", PlotextPlot)
        plt = chart.plt
        plt.clear_figure()
        unit = f"per {bucket}" if bucket else ""
        plt.title(f"Requests over time {unit} (UTC)".replace("  ", " "))
        xs = list(range(len(timeline)))
        counts = [b.count for b in timeline]
        errors = [b.errors for b in timeline]
        if len(timeline) <= MAX_BARS:
            plt.bar(xs, counts, label="requests", color="blue")
            plt.bar(xs, errors, label="errors", color="red")
        else:
            plt.plot(xs, counts, label="requests", color="blue")
            plt.plot(xs, errors, label="errors", color="red")
        step = max(1, -(-len(timeline) // TIMELINE_TICKS))
        ticks = xs[::step]
        plt.xticks(
            [float(x) for x in ticks], [bucket_label(timeline[x].start, bucket) for x in ticks]
        )
        ticks = count_ticks(max(counts, default=0))
        plt.ylim(0, ticks[-1])
        plt.yticks([float(y) for y in ticks], [f"{y:,}" for y in ticks])
        chart.refresh()

    def _draw_counts(self, selector: str, title: str, counts: list[NameCount]) -> None:
        chart = self.query_one(selector, PlotextPlot)
        plt = chart.plt
        plt.clear_figure()
        plt.title(title)
        shown = counts[:TOP_MODELS]
        # Horizontal bars list bottom-up: reverse so the most used is on top.
        plt.bar(
            [c.name for c in reversed(shown)],
            [c.count for c in reversed(shown)],
            orientation="horizontal",
            color="cyan",
            width=0.6,
        )
        ticks = count_ticks(max((c.count for c in shown), default=0))
        plt.xlim(0, ticks[-1])
        plt.xticks([float(x) for x in ticks], [f"{x:,}" for x in ticks])
        chart.refresh()

"""The dashboard: calls, errors, latency and cost over a time range, against the range before.

Keys: ``1``-``5`` (or ``[`` / ``]``) pick the range (1h, 24h, 7d, 30d, all), ``r``
recomputes, ``Esc`` goes back; the app's ``H`` hides or shows test traffic here too. The
numbers are :func:`traceforge_shared.analytics_period.compute_period`, computed in a worker:
a timeline whose buckets fit the range and the data (a day's calls that fell in one hour are
drawn per minute), with the count above each bar; calls per provider (every provider, one
line each); cost per day; the tests of the home; and a per-model table (calls, error rate,
p50/p95 latency, time to first token, tokens, cost). When config.yaml has ``budgets:``, a
"Budgets" panel shows each one's spend this period
(:func:`traceforge_shared.budgets.spend_from_store`). Charts are text
(:mod:`traceforge_tui.widgets.charts`), readable at 80x24 (the body scrolls).
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from traceforge_shared.analytics_period import (
    RANGES,
    ModelStats,
    PeriodAnalytics,
    PeriodTotals,
    compute_period,
)
from traceforge_shared.budgets import BudgetState, spend_from_store
from traceforge_shared.config import ConfigError, config_path, load_config
from traceforge_shared.evals.files import find_test_files
from traceforge_shared.store import StoreError, TraceFilter, TraceStore
from traceforge_shared.views.units import ms_number
from traceforge_tui import formatting as fmt
from traceforge_tui.preferences import without_test_traffic
from traceforge_tui.widgets.charts import TimelineChart, hbar_text
from traceforge_tui.widgets.key_footer import KeyFooter
from traceforge_tui.workers import deferred

#: The metric cards: ``(id suffix, label)``, in order.
CARDS: tuple[tuple[str, str], ...] = (
    ("calls", "Calls"),
    ("error-rate", "Error rate"),
    ("p95-latency", "p95 latency"),
    ("cost", "Cost"),
    ("tokens", "Tokens"),
)

#: The range shown first: the first of these with calls (``all`` when none has).
FIRST_RANGES = ("24h", "7d", "30d", "all")
#: Rows of the timeline on screens of at least :data:`TALL_SCREEN_ROWS` rows (else 8).
TALL_CHART_ROWS = 12
TALL_SCREEN_ROWS = 36
#: Days of cost listed (the newest).
COST_DAYS = 7

EMPTY_MESSAGE = (
    "No traces yet. Send requests through the TraceForge proxy (traceforge start), "
    "then press r to refresh."
)

#: The per-model table's columns: ``(key, label)``.
MODEL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "Model"),
    ("calls", "Calls"),
    ("errors", "Err %"),
    ("p50", "p50 ms"),
    ("p95", "p95 ms"),
    ("ttft", "TTFT ms"),
    ("tokens", "Tokens"),
    ("cost", "Cost"),
)


def short_cost(total: float | None, unpriced: int) -> str:
    """A cost in little room: ``$0.0421`` (``$12.30`` from a dollar), ``≥$0.0421`` when some
    calls had no price, ``?`` when none had one, ``-`` when there was nothing to price."""
    if total is None:
        return "?" if unpriced else "-"
    amount = f"${total:,.2f}" if total >= 1 else f"${total:.4f}"
    return f"≥{amount}" if unpriced else amount


def _ms(value: float | None) -> str:
    return "-" if value is None else ms_number(value)


def _change(now: float | None, before: float | None, *, higher_is_worse: bool) -> Text:
    """``▲ 25%`` / ``▼ 10%`` against the previous range (red when worse), ``new`` when it
    was 0, ``=`` when the same, ``-`` when unknown (short: a card is 12 cells at 80x24)."""
    if now is None or before is None:
        return Text("-", style="dim")
    if before == 0:
        return Text("new" if now else "=", style="dim")
    ratio = (now - before) / before
    if abs(ratio) < 0.005:
        return Text("=", style="dim")
    worse = (ratio > 0) == higher_is_worse
    arrow = "▲" if ratio > 0 else "▼"
    return Text(f"{arrow} {abs(ratio):.0%}", style="red" if worse else "green")


def _calls_change(now: int, before: int) -> Text:
    """The change of the call count (neither good nor bad: dim)."""
    text = _change(now, before, higher_is_worse=False)
    text.stylize("dim")
    return text


def _points(now: float | None, before: float | None) -> Text:
    """The change of a rate in percentage points (``▲ 2.5 pts``; up is worse)."""
    if now is None or before is None:
        return Text("-", style="dim")
    diff = (now - before) * 100
    if abs(diff) < 0.05:
        return Text("=", style="dim")
    arrow = "▲" if diff > 0 else "▼"
    return Text(f"{arrow} {abs(diff):.1f} pts", style="red" if diff > 0 else "green")


def card_values(totals: PeriodTotals) -> dict[str, str]:
    """The value of each card (keys: the ids of :data:`CARDS`); ``-`` when unknown; the cost
    is a lower bound (``≥``) when some calls had no price (:func:`short_cost`)."""
    rate = totals.error_rate
    return {
        "calls": f"{totals.calls:,}",
        "error-rate": "-" if rate is None else f"{rate:.1%}",
        "p95-latency": "-" if totals.latency_p95_ms is None else f"{_ms(totals.latency_p95_ms)} ms",
        "cost": short_cost(totals.cost_usd, totals.cost_unpriced),
        "tokens": f"{totals.total_tokens:,}",
    }


def card_changes(period: PeriodAnalytics) -> dict[str, Text]:
    """The change of each card against the previous range (empty for ``all``)."""
    now, before = period.totals, period.previous
    if before is None:
        return {}
    return {
        "calls": _calls_change(now.calls, before.calls),
        "error-rate": _points(now.error_rate, before.error_rate),
        "p95-latency": _change(now.latency_p95_ms, before.latency_p95_ms, higher_is_worse=True),
        "cost": _change(now.cost_usd, before.cost_usd, higher_is_worse=True),
        "tokens": _change(now.total_tokens, before.total_tokens, higher_is_worse=True),
    }


def card_text(label: str, value: str, note: Text | str = "", value_style: str = "bold") -> Text:
    """A card's content: label, value, and an optional note, one per line."""
    text = Text(label, style="dim")
    text.append("\n")
    text.append(value, style=value_style)
    text.append("\n")
    text.append(note if isinstance(note, Text) else Text(note, style="dim"))
    return text


def rate_style(rate: float | None) -> str:
    """Green up to 5% errors, yellow up to 20%, else red."""
    if rate is None:
        return "bold"
    return "bold green" if rate <= 0.05 else "bold yellow" if rate <= 0.2 else "bold red"


def bucket_label(start: str, width_s: int | None) -> str:
    """A timeline label (the bucket starts are UTC): ``08:05`` for buckets under 6 hours,
    ``23 06h`` (day of month, hour) for 6-hour buckets, ``11-23`` for days and weeks."""
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return start
    width_s = width_s or 3600
    if width_s < 6 * 3600:
        return moment.strftime("%H:%M")
    if width_s < 86400:
        return moment.strftime("%d %Hh")
    return moment.strftime("%m-%d")


def bucket_name(width_s: int | None) -> str:
    """``1 min``, ``5 min``, ``1 h``, ``6 h``, ``1 day``, ``7 days``."""
    if not width_s:
        return "-"
    if width_s < 3600:
        return f"{width_s // 60} min"
    if width_s < 86400:
        return f"{width_s // 3600} h"
    days = width_s // 86400
    return "1 day" if days == 1 else f"{days} days"


def range_text(current: str, period: PeriodAnalytics | None, hide_test: bool) -> Text:
    """The range picker line: every range, the current one highlighted, and what the
    timeline shows."""
    text = Text("Range ", style="bold")
    for i, name in enumerate(RANGES, 1):
        style = "reverse bold" if name == current else "dim"
        text.append(f" {i}:{name} ", style=style)
    if period is not None and period.bucket_seconds:
        text.append(f"  per {bucket_name(period.bucket_seconds)}", style="dim")
        if period.zoomed:
            text.append(" (zoomed to the calls)", style="dim")
    if period is not None and period.previous is not None:
        text.append(f"  ▲▼ vs previous {period.range}", style="dim")
    if hide_test:
        text.append("  test traffic hidden", style="yellow")
    return text


def providers_text(period: PeriodAnalytics, width: int) -> Text:
    """Calls per provider, every provider on its own line (the share after the count)."""
    total = period.totals.calls or 1
    rows = [
        (p.name, float(p.count), f"{p.count:,} {p.count / total:.0%}") for p in period.providers
    ]
    text = Text("Providers\n", style="bold")
    text.append(hbar_text(rows, width, name_width=10) if rows else Text("-", style="dim"))
    return text


def costs_text(period: PeriodAnalytics, width: int) -> Text:
    """Cost per UTC day, the newest :data:`COST_DAYS` days."""
    days = period.cost_per_day[-COST_DAYS:]
    rows = [(d.day[5:], d.cost_usd or 0.0, short_cost(d.cost_usd, d.cost_unpriced)) for d in days]
    text = Text("Cost per day (UTC)\n", style="bold")
    text.append(hbar_text(rows, width, name_width=5) if rows else Text("-", style="dim"))
    return text


def tests_text(files: int, test_calls: int, test_errors: int, range_name: str) -> Text:
    """The tests panel: test files in the home, and the calls ``traceforge test run`` made in
    the range (results of runs are not stored: their calls are)."""
    text = Text("Tests\n", style="bold")
    text.append(f"{files:,} test file{'s' if files != 1 else ''}\n")
    if test_calls:
        failed = f", {test_errors:,} failed" if test_errors else ", none failed"
        text.append(f"{test_calls:,} test calls ({range_name}){failed}", style="dim")
    else:
        text.append(f"no test calls ({range_name})", style="dim")
    return text


def model_row(stats: ModelStats) -> tuple[str | Text, ...]:
    """The cells of one model's row (see :data:`MODEL_COLUMNS`)."""
    rate = Text(f"{stats.error_rate:.1%}", style="red" if stats.errors else "")
    return (
        stats.model or "(none)",
        f"{stats.calls:,}",
        rate,
        _ms(stats.latency_p50_ms),
        _ms(stats.latency_p95_ms),
        _ms(stats.ttft_p50_ms),
        f"{stats.total_tokens:,}",
        short_cost(stats.cost_usd, stats.cost_unpriced),
    )


#: Budgets listed in the panel; the others are counted on its last line.
MAX_BUDGET_LINES = 3


def budgets_text(states: list[BudgetState]) -> Text:
    """The "Budgets" panel: one line per budget (name, spent of limit, %, period, action),
    red when spent, yellow from 80%; short enough for an 80-column terminal."""
    text = Text("Budgets", style="bold")
    for state in states[:MAX_BUDGET_LINES]:
        if state.unit == "usd":
            amount = f"${state.used:.4f} of ${state.limit:g}"
        else:
            amount = f"{int(state.used):,} of {int(state.limit):,} tok"
        style = "red" if state.exceeded else "yellow" if state.fraction >= 0.8 else ""
        text.append(f"\n  {state.budget.name[:20]:<20} ")
        text.append(f"{state.fraction:>5.0%}", style=style or "bold")
        text.append(f"  {amount}  per {state.budget.period}, {state.budget.action}", style="dim")
    if len(states) > MAX_BUDGET_LINES:
        more = len(states) - MAX_BUDGET_LINES
        text.append(f"\n  …and {more} more: traceforge budget status", style="dim")
    return text


def load_budgets(store: TraceStore, now: datetime | None = None) -> list[BudgetState]:
    """The budgets of the config in ``store``'s home with this period's spend (none when
    the config has none or cannot be read: the config screen reports that)."""
    try:
        config = load_config(config_path(store.home))
    except ConfigError:
        return []
    if not config.budgets:
        return []
    return spend_from_store(store, config.budgets, now or datetime.now(UTC))


def errors_text(by_status: dict[str, int]) -> Text:
    """``Errors: upstream_error 4 · error 2`` (statuses coloured), or nothing."""
    text = Text()
    if not by_status:
        return text
    text.append("Errors by status: ", style="bold")
    for i, (status, count) in enumerate(by_status.items()):
        if i:
            text.append(" · ")
        text.append(fmt.status(status, 0))
        text.append(f" {count:,}")
    return text


class DashboardScreen(Screen[None]):
    """The range picker, metric cards, timeline, providers, cost per day, tests and the
    per-model table of ``store`` (see the module docstring).

    Args:
        store: the trace store (read through its index).
        now: the end of every range (tests pass a fixed time); default: the clock.

    Attributes:
        range: the range shown (a key of :data:`~traceforge_shared.analytics_period.RANGES`);
            ``None`` until the first is picked (:data:`FIRST_RANGES`).
        period: the numbers shown, once computed.
    """

    DEFAULT_CSS = """
    DashboardScreen #dashboard-range {
        height: 1;
        padding: 0 1;
    }
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
    DashboardScreen #dashboard-budgets {
        height: auto;
        padding: 0 1;
    }
    DashboardScreen #dashboard-body {
        height: 1fr;
    }
    DashboardScreen #dashboard-timeline {
        height: 8;
        padding: 0 1;
    }
    DashboardScreen #dashboard-breakdowns {
        height: auto;
        padding: 0 1;
    }
    DashboardScreen #dashboard-breakdowns > Static {
        width: 1fr;
        height: auto;
        padding: 0 1 0 0;
    }
    DashboardScreen #dashboard-models {
        height: auto;
        margin: 1 1 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "range('1h')", "1h", show=False),
        Binding("2", "range('24h')", "24h", show=False),
        Binding("3", "range('7d')", "7d", show=False),
        Binding("4", "range('30d')", "30d", show=False),
        Binding("5", "range('all')", "All", show=False),
        Binding("left_square_bracket", "step_range(-1)", "Shorter range"),
        Binding("right_square_bracket", "step_range(1)", "Longer range"),
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, store: TraceStore, *, now: datetime | None = None) -> None:
        super().__init__()
        self.store = store
        self.now = now
        self.range: str | None = None
        self.period: PeriodAnalytics | None = None
        self.hide_test_traffic = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(range_text("24h", None, False), id="dashboard-range")
        with Horizontal(id="dashboard-cards"):
            for key, label in CARDS:
                yield Static(card_text(label, "…"), id=f"card-{key}", classes="dashboard-card")
        yield Static(Text("Computing…", style="dim"), id="dashboard-status")
        yield Static(Text(), id="dashboard-budgets")
        with VerticalScroll(id="dashboard-body"):
            yield TimelineChart(id="dashboard-timeline")
            with Horizontal(id="dashboard-breakdowns"):
                yield Static(id="dashboard-providers")
                yield Static(id="dashboard-costs")
                yield Static(id="dashboard-tests")
            table: DataTable[str | Text] = DataTable(
                id="dashboard-models", cursor_type="row", zebra_stripes=True
            )
            for key, label in MODEL_COLUMNS:
                table.add_column(label, key=key)
            yield table
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "dashboard"
        self.hide_test_traffic = bool(getattr(self.app, "hide_test_traffic", False))
        self.query_one("#dashboard-budgets").display = False
        self.query_one("#dashboard-body").display = False
        self.action_refresh()

    def on_resize(self) -> None:
        """A taller timeline when the terminal has the rows (8 rows keep every provider
        on an 80x24 screen)."""
        chart = self.query_one("#dashboard-timeline", TimelineChart)
        chart.styles.height = TALL_CHART_ROWS if self.size.height >= TALL_SCREEN_ROWS else 8

    def test_traffic_changed(self) -> None:
        """The app's test-traffic toggle changed: recompute."""
        self.hide_test_traffic = bool(getattr(self.app, "hide_test_traffic", False))
        self.action_refresh()

    def action_range(self, name: str) -> None:
        """Show the range ``name``."""
        if name in RANGES:
            self.range = name
            self.action_refresh()

    def action_step_range(self, step: int) -> None:
        """Show the next shorter (``-1``) or longer (``1``) range."""
        names = list(RANGES)
        current = names.index(self.range) if self.range in names else 1
        self.action_range(names[max(0, min(len(names) - 1, current + step))])

    def action_refresh(self) -> None:
        """Recompute the numbers (in a worker)."""
        self.run_worker(deferred(self._load), group="dashboard", exclusive=True)

    def _base(self) -> TraceFilter:
        return without_test_traffic(TraceFilter(), self.hide_test_traffic)

    def _compute(self, now: datetime) -> tuple[PeriodAnalytics, dict[str, int], int, int, int]:
        """The range's numbers, its errors by status, the test files and test calls (in a
        worker thread)."""
        base = self._base()
        names = FIRST_RANGES if self.range is None else (self.range,)
        for name in names:
            period = compute_period(self.store, name, now=now, base=base)
            if period.totals.calls:
                break
        self.range = period.range
        since = None if period.since is None else datetime.fromisoformat(period.since[:-1])
        until = datetime.fromisoformat(period.until[:-1])
        where = TraceFilter(since=since, until=until, conditions=base.conditions)
        by_status = {
            str(status): count
            for status, count in self.store.index.counts_by("status", *where.sql())
            if status != "success"
        }
        tests = TraceFilter(since=since, until=until)
        test_where = f"({tests.sql()[0] or '1'}) AND source = 'test'"
        test_calls = self.store.index.count(test_where, tests.sql()[1])
        test_errors = self.store.index.count(
            f"{test_where} AND status != 'success'", tests.sql()[1]
        )
        try:
            files = len(find_test_files(self.store.home))
        except OSError:
            files = 0
        return period, by_status, files, test_calls, test_errors

    async def _load(self) -> None:
        status = self.query_one("#dashboard-status", Static)
        now = self.now or datetime.now(UTC)
        try:
            period, by_status, files, test_calls, test_errors = await asyncio.to_thread(
                self._compute, now
            )
            budgets = await asyncio.to_thread(load_budgets, self.store, self.now)
        except (StoreError, OSError, sqlite3.Error) as exc:
            status.update(Text(f"Cannot read traces from {self.store.home}: {exc}", style="red"))
            status.display = True
            return
        finally:
            self.store.index.close()  # the worker thread's connection
        self.period = period
        panel = self.query_one("#dashboard-budgets", Static)
        panel.update(budgets_text(budgets) if budgets else Text())
        panel.display = bool(budgets)
        self.show(period, by_status)
        self.query_one("#dashboard-tests", Static).update(
            tests_text(files, test_calls, test_errors, period.range)
        )

    def show(self, period: PeriodAnalytics, by_status: dict[str, int] | None = None) -> None:
        """Fill the range line, the cards, the charts and the table from ``period``."""
        self.query_one("#dashboard-range", Static).update(
            range_text(period.range, period, self.hide_test_traffic)
        )
        values = card_values(period.totals)
        changes = card_changes(period)
        for key, label in CARDS:
            style = rate_style(period.totals.error_rate) if key == "error-rate" else "bold"
            self.query_one(f"#card-{key}", Static).update(
                card_text(label, values[key], changes.get(key, ""), style)
            )
        status = self.query_one("#dashboard-status", Static)
        body = self.query_one("#dashboard-body")
        if not period.totals.calls:
            message = (
                EMPTY_MESSAGE
                if period.range == "all"
                else (f"No calls in the last {period.range}: 5 shows all, [ or ] another range.")
            )
            status.update(Text(message, style="dim"))
            status.display = True
            body.display = False
            return
        errors = errors_text(by_status or {})
        status.update(errors)
        status.display = bool(errors)
        body.display = True
        width = max(20, (self.size.width - 4) // 3 - 1)
        self.query_one("#dashboard-timeline", TimelineChart).show(
            period.timeline, lambda start: bucket_label(start, period.bucket_seconds)
        )
        self.query_one("#dashboard-providers", Static).update(providers_text(period, width))
        self.query_one("#dashboard-costs", Static).update(costs_text(period, width))
        table = self.query_one("#dashboard-models", DataTable)
        table.clear()
        for stats in period.models:
            table.add_row(*model_row(stats), key=stats.model)

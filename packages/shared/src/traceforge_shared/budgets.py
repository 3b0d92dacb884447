"""Budgets: how much of each ``budgets:`` entry (:class:`~traceforge_shared.config.BudgetConfig`)
the current period has used, read from the trace store's index.

A budget's *scope* is the calls it counts: those of a provider, of models matching a glob, of
a tag or of a session (the ``X-TraceForge-Tags`` / ``X-TraceForge-Session-Id`` request
headers), all that are given. Its *period* is the current UTC day or month. Spend is the sum
of ``cost_usd`` (USD budgets) or ``total_tokens`` (token budgets) of the period's traces in
scope, by trace timestamp (the request's arrival). A call of a model without a known price
has no cost: it is counted in :attr:`Spend.unpriced_calls`, never as USD 0 or as an estimate;
token budgets count it as usual.

Traces do not record tags and sessions yet, so :func:`spend_from_store` counts nothing for
budgets scoped by ``tag`` or ``session``: the proxy counts those calls in memory from its
start (see ``traceforge_proxy.budgets``).

The proxy answers each call in a budget's scope with an ``X-TraceForge-Budget`` header
(:func:`header_value`): one entry per budget, comma-separated, each
``name=<name>; remaining_usd=<USD> (or remaining_tokens=<n>); used=<fraction>;
period_end=<ISO 8601 UTC>``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from traceforge_shared.config import BudgetConfig
from traceforge_shared.store import TraceStore

#: Response header with what is left of each budget a call counts against.
BUDGET_HEADER = "X-TraceForge-Budget"
#: Request header: comma-separated tags of the call.
TAGS_HEADER = "X-TraceForge-Tags"
#: Request header: the session the call belongs to.
SESSION_HEADER = "X-TraceForge-Session-Id"
#: ``error.type`` / ``error.code`` of the proxy's 429 for a call over a ``block`` budget.
BUDGET_EXCEEDED = "budget_exceeded"


def timestamp(moment: datetime) -> str:
    """``moment`` as the store's timestamps are written: ISO 8601 UTC with microseconds and
    a ``Z`` (``2026-12-04T00:00:00.000000Z``), so the two compare as strings."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The UTC ``day`` or ``month`` holding ``now``: ``(start, end)``, end excluded.

    Raises:
        ValueError: ``period`` is neither ``day`` nor ``month``.
    """
    now = now.astimezone(UTC)
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        end = datetime.fromordinal(start.toordinal() + 1).replace(tzinfo=UTC)
        return start, end
    if period == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return start, start.replace(year=year, month=month)
    raise ValueError(f"unknown budget period {period!r} (day or month)")


def parse_tags(value: str | None) -> frozenset[str]:
    """The tags of an ``X-TraceForge-Tags`` header value (comma-separated, spaces trimmed)."""
    if not value:
        return frozenset()
    return frozenset(t.strip() for t in value.split(",") if t.strip())


def in_scope(
    budget: BudgetConfig,
    provider: str,
    model: str,
    tags: frozenset[str] = frozenset(),
    session: str | None = None,
) -> bool:
    """Whether a call (provider, model, tags, session) counts against ``budget``: every scope
    key the budget sets must match (``model`` as a case-sensitive ``fnmatch`` glob)."""
    return (
        (budget.provider is None or budget.provider == provider)
        and (budget.model is None or fnmatch.fnmatchcase(model, budget.model))
        and (budget.tag is None or budget.tag in tags)
        and (budget.session is None or budget.session == session)
    )


def recorded_in_store(budget: BudgetConfig) -> bool:
    """Whether the store can tell this budget's spend (not scoped by tag or session)."""
    return budget.tag is None and budget.session is None


@dataclass
class Spend:
    """What a budget's period has used so far.

    Attributes:
        cost_usd: summed cost in USD of the priced calls.
        tokens: summed total tokens (input + output).
        calls: calls counted.
        unpriced_calls: calls with tokens but no known price (not in ``cost_usd``).
    """

    cost_usd: float = 0.0
    tokens: int = 0
    calls: int = 0
    unpriced_calls: int = 0

    def add(self, cost_usd: float | None, tokens: int) -> None:
        """Count one call (``cost_usd`` ``None``: no known price)."""
        self.calls += 1
        self.tokens += tokens
        if cost_usd is not None:
            self.cost_usd += cost_usd
        elif tokens:
            self.unpriced_calls += 1


@dataclass
class BudgetState:
    """One budget in its current period.

    Attributes:
        budget: the config entry.
        start, end: the period (UTC, ``end`` excluded).
        spend: what the period used.
        alerted: the ``alert_at`` fractions already announced this period.
    """

    budget: BudgetConfig
    start: datetime
    end: datetime
    spend: Spend = field(default_factory=Spend)
    alerted: set[float] = field(default_factory=set)

    @property
    def unit(self) -> str:
        """``usd`` or ``tokens``."""
        return "usd" if self.budget.limit_usd is not None else "tokens"

    @property
    def limit(self) -> float:
        """The limit, in USD or tokens."""
        if self.budget.limit_usd is not None:
            return self.budget.limit_usd
        return float(self.budget.limit_tokens or 0)

    @property
    def used(self) -> float:
        """Spent so far, in the limit's unit (USD or tokens)."""
        return self.spend.cost_usd if self.unit == "usd" else float(self.spend.tokens)

    @property
    def fraction(self) -> float:
        """``used / limit`` (1.0 and above: the limit is reached)."""
        return self.used / self.limit

    @property
    def remaining(self) -> float:
        """What is left, never below 0."""
        return max(self.limit - self.used, 0.0)

    @property
    def exceeded(self) -> bool:
        """The limit is reached: a ``block`` budget refuses further calls."""
        return self.used >= self.limit

    def roll(self, now: datetime) -> bool:
        """Start a new period (spend and alerts reset) if ``now`` is past this one; returns
        whether it did."""
        if now < self.end:
            return False
        self.start, self.end = period_bounds(self.budget.period, now)
        self.spend = Spend()
        self.alerted = set()
        return True

    def new_alerts(self) -> list[float]:
        """The ``alert_at`` fractions reached and not yet announced this period (marked
        announced), lowest first."""
        due = sorted(
            a for a in self.budget.alert_at if self.fraction >= a and a not in self.alerted
        )
        self.alerted.update(due)
        return due

    def header_entry(self) -> str:
        """This budget's entry of the ``X-TraceForge-Budget`` header (module docstring)."""
        left = (
            f"remaining_usd={self.remaining:.6f}"
            if self.unit == "usd"
            else f"remaining_tokens={int(self.remaining)}"
        )
        return (
            f"name={self.budget.name}; {left}; used={self.fraction:.4f}; "
            f"period_end={self.end.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``traceforge budget status --json``): name, unit, limit,
        spent, remaining, percent, period, period_start/end (ISO 8601 UTC), action, scope,
        calls, unpriced_calls and ``recorded`` (whether the store can tell its spend)."""
        scope = {
            k: getattr(self.budget, k)
            for k in ("provider", "model", "tag", "session")
            if getattr(self.budget, k) is not None
        }
        return {
            "name": self.budget.name,
            "unit": self.unit,
            "limit": self.limit,
            "spent": round(self.used, 6),
            "remaining": round(self.remaining, 6),
            "percent": round(self.fraction * 100, 1),
            "period": self.budget.period,
            "period_start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "period_end": self.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "action": self.budget.action,
            "scope": scope,
            "calls": self.spend.calls,
            "unpriced_calls": self.spend.unpriced_calls,
            "recorded": recorded_in_store(self.budget),
        }


def header_value(states: Iterable[BudgetState]) -> str:
    """The ``X-TraceForge-Budget`` header for the budgets a call counts against."""
    return ", ".join(state.header_entry() for state in states)


_SPEND_SQL = (
    "SELECT provider, model, SUM(cost_usd), COALESCE(SUM(total_tokens), 0), COUNT(*),"
    " COALESCE(SUM(cost_usd IS NULL AND total_tokens > 0), 0)"
    " FROM traces WHERE timestamp >= ? AND timestamp < ? GROUP BY provider, model"
)


def spend_from_store(
    store: TraceStore, budgets: Sequence[BudgetConfig], now: datetime
) -> list[BudgetState]:
    """Each budget in the period holding ``now``, its spend read from the store's index:
    one grouped query (by provider and model, over the timestamp index) per distinct period.
    Budgets scoped by tag or session get no spend (:func:`recorded_in_store`).

    Raises:
        sqlite3.Error: the index cannot be read (after the store's own recovery).
    """
    store.refresh()
    states = [BudgetState(b, *period_bounds(b.period, now)) for b in budgets]
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    conn = store.index.connection()
    for state in states:
        key = (timestamp(state.start), timestamp(state.end))
        if key not in groups:
            groups[key] = list(conn.execute(_SPEND_SQL, key))
        if not recorded_in_store(state.budget):
            continue
        for provider, model, cost, tokens, calls, unpriced in groups[key]:
            if in_scope(state.budget, provider, model):
                spend = state.spend
                spend.cost_usd += float(cost or 0.0)
                spend.tokens += int(tokens)
                spend.calls += int(calls)
                spend.unpriced_calls += int(unpriced)
    return states

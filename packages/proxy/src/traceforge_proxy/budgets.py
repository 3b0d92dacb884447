"""Budgets enforced by the proxy: an addon (:mod:`traceforge_proxy.hooks`) over the
``budgets:`` of the config (:class:`~traceforge_shared.config.BudgetConfig`; the shared
arithmetic is :mod:`traceforge_shared.budgets`).

- At start the addon reads each budget's spend in the current period from the store (one
  grouped index query); afterwards it keeps running totals in memory, updated by its
  ``saved`` hook (the writer's thread) with each stored trace's cost and tokens, so the
  request path never queries SQLite. At a period's end (UTC midnight, or the 1st of the month)
  the totals start again from 0.
- ``admit`` (event loop, before the call goes upstream): a call in a budget's scope gets an
  ``X-TraceForge-Budget`` response header with what is left
  (:func:`traceforge_shared.budgets.header_value`); a call in the scope of a ``block`` budget
  already spent is answered by the proxy itself: HTTP 429 with an OpenAI-shaped error
  (``{"error": {"type": "budget_exceeded", "code": "budget_exceeded", "message": ...}}``,
  as in https://platform.openai.com/docs/guides/error-codes), recorded as a trace with status
  ``error`` and error type ``budget_exceeded``; the upstream is never called.
- Alerts: when a budget's spend reaches each of its ``alert_at`` fractions (80 % and 100 % by
  default), :attr:`BudgetGuard.on_alert` is called once per fraction per period (``traceforge
  start`` prints the line; the default logs a warning).

Calls of models without a known price have no cost: they never count toward a USD budget
(:attr:`~traceforge_shared.budgets.Spend.unpriced_calls` counts them) but do toward a token
budget.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from traceforge_proxy.errors import error_body
from traceforge_proxy.exchange import Exchange
from traceforge_proxy.hooks import Admission
from traceforge_proxy.plan import ClientRequest, Failure, ForwardingPlan, ProxyAnswer
from traceforge_shared.budgets import (
    BUDGET_EXCEEDED,
    BUDGET_HEADER,
    SESSION_HEADER,
    TAGS_HEADER,
    BudgetState,
    header_value,
    in_scope,
    parse_tags,
    spend_from_store,
)
from traceforge_shared.config import BudgetConfig
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

log = logging.getLogger("traceforge.proxy")

#: Returns the current time (UTC, timezone-aware); tests pass their own.
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def alert_message(state: BudgetState, fraction: float) -> str:
    """The alert for ``state`` reaching ``fraction`` of its limit, one line, e.g.
    ``budget daily: 80% used (USD 4.012345 of 5 per day; resets 2026-12-05T00:00:00Z)``."""
    if state.unit == "usd":
        amount = f"USD {state.used:.6f} of {state.limit:g}"
    else:
        amount = f"{int(state.used)} of {int(state.limit)} tokens"
    what = f"{fraction:.0%} used"
    if fraction >= 1.0:
        what = "limit reached"
    line = (
        f"budget {state.budget.name}: {what} ({amount} per {state.budget.period}; resets "
        f"{state.end.strftime('%Y-%m-%dT%H:%M:%SZ')})"
    )
    if fraction >= 1.0:
        line += (
            "; further calls get 429 budget_exceeded"
            if state.budget.action == "block"
            else "; calls still go through (action: warn)"
        )
    return line


class BudgetGuard:
    """The budgets addon (module docstring): ``admit`` and ``saved`` hooks.

    Args:
        budgets: the config's ``budgets:`` entries.
        store: read once, at construction, for each budget's spend so far this period.
        clock: the current time (UTC); default the system clock.
        on_alert: called with the alert line (any thread: the writer's); default: a warning
            on the ``traceforge.proxy`` logger.

    Raises:
        sqlite3.Error: the store's index cannot be read.
    """

    #: ``saved`` reads only the trace's head (metadata, grouping, span): a writer process
    #: sends no bodies back.
    saved_head_only = True

    def __init__(
        self,
        budgets: Sequence[BudgetConfig],
        store: TraceStore,
        *,
        clock: Clock = _utc_now,
        on_alert: Callable[[str], None] | None = None,
    ) -> None:
        self.clock = clock
        self.on_alert: Callable[[str], None] = on_alert or log.warning
        self._lock = threading.Lock()
        self.states = spend_from_store(store, budgets, clock())
        for state in self.states:  # what was spent before the proxy started is no news
            state.alerted.update(a for a in state.budget.alert_at if state.fraction >= a)
        #: trace id → the budgets its call was admitted under (read by ``saved``).
        self._pending: dict[str, list[BudgetState]] = {}

    def _matching(
        self, provider: str, model: str, tags: frozenset[str], session: str | None
    ) -> list[BudgetState]:
        now = self.clock()
        matched = []
        for state in self.states:
            if in_scope(state.budget, provider, model, tags, session):
                state.roll(now)
                matched.append(state)
        return matched

    def admit(
        self, flow: Exchange, client: ClientRequest, plan: ForwardingPlan
    ) -> Admission | None:
        """The ``admit`` hook: the budget header, or the 429 of a spent ``block`` budget."""
        model = plan.target.model or flow.model
        tags = parse_tags(client.header(TAGS_HEADER))
        session = client.header(SESSION_HEADER)
        with self._lock:
            matched = self._matching(plan.target.provider, model, tags, session)
            if not matched:
                return None
            self._pending[flow.trace_id] = matched
            headers = ((BUDGET_HEADER, header_value(matched)),)
            spent = next((s for s in matched if s.budget.action == "block" and s.exceeded), None)
        if spent is None:
            return Admission(headers)
        limit = f"USD {spent.limit:g}" if spent.unit == "usd" else f"{int(spent.limit)} tokens"
        message = (
            f"TraceForge budget {spent.budget.name!r} is spent ({limit} per "
            f"{spent.budget.period}); it resets at {spent.end.strftime('%Y-%m-%dT%H:%M:%SZ')}. "
            "The call was not sent upstream."
        )
        answer = ProxyAnswer(
            429,
            error_body(message, BUDGET_EXCEEDED, type_=BUDGET_EXCEEDED),
            failure=Failure("error", BUDGET_EXCEEDED, message),
            target=plan.target,
        )
        return Admission(headers, answer)

    def saved(self, trace: Trace) -> None:
        """The ``saved`` hook: add the trace's cost and tokens to the budgets its call was
        admitted under (a trace from before a period's start is not counted in the new
        one), then announce the highest ``alert_at`` fraction newly reached."""
        usage = trace.metadata.usage
        tokens = usage.total_tokens if usage is not None else 0
        error = trace.metadata.error
        refused = error is not None and error.type == BUDGET_EXCEEDED
        alerts: list[str] = []
        with self._lock:
            matched = self._pending.pop(trace.id, None)
            if matched is None:
                return  # not admitted through this proxy's forwarding path
            moment = datetime.strptime(trace.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            now = self.clock()
            for state in matched:
                state.roll(now)
                if moment < state.start or refused:
                    continue  # began in the previous period, or refused by a budget
                state.spend.add(trace.metadata.cost_usd, tokens)
                due = state.new_alerts()
                if due:  # thresholds passed at once: the highest is the news
                    alerts.append(alert_message(state, due[-1]))
        for line in alerts:
            self.on_alert(line)

    def status(self) -> list[BudgetState]:
        """The budgets in their current period (rolled over if it ended)."""
        now = self.clock()
        with self._lock:
            for state in self.states:
                state.roll(now)
            return list(self.states)

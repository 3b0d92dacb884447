"""``traceforge budget``: spending limits (``budgets:`` in config.yaml) and how much is left."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
import msgspec

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_cli.output import Cell, Column, format_option, print_rows, resolve_format
from traceforge_shared.budgets import BudgetState, spend_from_store

_COLUMNS = (
    Column("Budget", "name", priority=0, min_width=8),
    Column("Spent", "spent", priority=0, justify="right"),
    Column("Limit", "limit", priority=0, justify="right"),
    Column("%", "percent", priority=0, justify="right"),
    Column("Remaining", "remaining", priority=1, justify="right"),
    Column("Period", "period", priority=2),
    Column("Resets", "period_end", priority=3, min_width=10),
    Column("Action", "action", priority=1),
    Column("Scope", "scope", priority=4, min_width=6),
)


def _amount(state: BudgetState, value: float) -> str:
    return f"${value:.4f}" if state.unit == "usd" else f"{int(value):,} tok"


def _row(state: BudgetState) -> list[str | Cell]:
    info = state.as_dict()
    percent = f"{info['percent']:.1f}" if info["recorded"] else "n/a"
    style = "red" if state.exceeded else "yellow" if state.fraction >= 0.8 else ""
    scope = ", ".join(f"{k}={v}" for k, v in info["scope"].items()) or "all calls"
    if not info["recorded"]:
        scope += " (counted by the running proxy only)"
    return [
        state.budget.name,
        _amount(state, state.used),
        _amount(state, state.limit),
        Cell(percent, style),
        _amount(state, state.remaining),
        state.budget.period,
        info["period_end"],
        state.budget.action,
        scope,
    ]


@click.group()
def budget() -> None:
    """Spending limits per day or month (budgets: in config.yaml) and what is left."""


@budget.command("status")
@home_option
@format_option(json_help="Print the budgets as a JSON array; same as --format json.")
def status(output_format: str | None, as_json: bool) -> None:
    """Each budget in its current period (UTC): spent, limit, %, remaining, period, action.

    Spend is read from the recorded traces. Calls of models without a known price count as
    unknown (not in a USD budget; listed as unpriced_calls in --json). Budgets scoped by tag
    or session are counted by the running proxy only (traces do not record tags yet).
    """
    fmt = resolve_format(output_format, as_json)
    config = context.config()
    if not config.budgets:
        if fmt == "json":
            sys.stdout.write("[]\n")
            return
        click.echo("no budgets configured (add a budgets: list to config.yaml)", err=True)
        return
    states = spend_from_store(context.store(), config.budgets, datetime.now(UTC))
    if fmt == "json":
        sys.stdout.write(msgspec.json.encode([s.as_dict() for s in states]).decode() + "\n")
        return
    print_rows(fmt, _COLUMNS, [_row(s) for s in states])

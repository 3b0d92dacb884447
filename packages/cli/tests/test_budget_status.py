"""``traceforge budget status``: each budget's spend this period, read from the store."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from traceforge_cli.main import cli
from traceforge_shared.budgets import period_bounds
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

CONFIG = """\
budgets:
  - name: daily-usd
    limit_usd: 0.05
    action: block
  - name: claude-month
    limit_tokens: 1000
    period: month
    provider: anthropic
  - name: nightly
    limit_tokens: 500
    tag: nightly
"""


def _store(home: Path, store: TraceStore) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(CONFIG)
    now = time.time()
    today_start = period_bounds("day", datetime.now(UTC))[0].timestamp()
    earlier_this_month = period_bounds("month", datetime.now(UTC))[0].timestamp() + 1
    priced = make_trace(prompt_tokens=100, completion_tokens=20, epoch_s=now)
    priced.metadata.cost_usd = 0.04
    unpriced = make_trace(model="my-finetune", epoch_s=now)  # no cost: counted as unknown
    claude = make_trace(provider="anthropic", model="claude-sonnet-4-5", prompt_tokens=800)
    claude.metadata.cost_usd = 0.002
    old_claude = make_trace(
        provider="anthropic", model="claude-sonnet-4-5", epoch_s=earlier_this_month
    )
    old_claude.metadata.cost_usd = 0.001
    before_today = make_trace(epoch_s=today_start - 10)
    before_today.metadata.cost_usd = 1.0
    store.save_many([priced, unpriced, claude, old_claude, before_today])


def test_status_json(home: Path, store: TraceStore) -> None:
    _store(home, store)
    result = CliRunner().invoke(cli, ["budget", "status", "--json"])
    assert result.exit_code == 0, result.output
    by_name = {b["name"]: b for b in json.loads(result.output)}
    daily = by_name["daily-usd"]
    # today's priced calls (the unpriced one counts as unknown; yesterday's not at all)
    assert daily["spent"] == round(0.04 + 0.002, 6)
    assert daily["unpriced_calls"] == 1
    assert (daily["limit"], daily["unit"], daily["action"], daily["period"]) == (
        0.05,
        "usd",
        "block",
        "day",
    )
    assert daily["percent"] == round(0.042 / 0.05 * 100, 1)
    assert daily["remaining"] == round(0.05 - 0.042, 6)
    claude = by_name["claude-month"]
    assert (claude["spent"], claude["calls"], claude["scope"]) == (
        805 + 15,
        2,
        {"provider": "anthropic"},
    )
    assert claude["period_end"].endswith("T00:00:00Z")
    nightly = by_name["nightly"]
    assert (nightly["recorded"], nightly["spent"]) == (False, 0)


def test_status_table(home: Path, store: TraceStore) -> None:
    _store(home, store)
    result = CliRunner().invoke(cli, ["budget", "status", "--format", "tsv"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split("\t") == [
        "name",
        "spent",
        "limit",
        "percent",
        "remaining",
        "period",
        "period_end",
        "action",
        "scope",
    ]
    daily = dict(zip(header.split("\t"), rows[0].split("\t"), strict=True))
    assert (daily["name"], daily["spent"], daily["limit"], daily["percent"]) == (
        "daily-usd",
        "$0.0420",
        "$0.0500",
        "84.0",
    )
    assert daily["action"] == "block" and daily["scope"] == "all calls"
    nightly = rows[2].split("\t")
    assert nightly[3] == "n/a" and "running proxy only" in nightly[-1]


def test_no_budgets(home: Path) -> None:
    result = CliRunner().invoke(cli, ["budget", "status", "--json"])
    assert (result.exit_code, result.output) == (0, "[]\n")
    result = CliRunner().invoke(cli, ["budget", "status"])
    assert result.exit_code == 0 and "no budgets configured" in result.output


def test_bad_budget_config_is_one_clear_line(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text("budgets:\n  - name: x\n    period: week\n")
    result = CliRunner().invoke(cli, ["budget", "status"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "config.yaml:3: budgets[0].period: Invalid enum value 'week'" in result.output
    assert "config.yaml:2: budgets[0]: budget 'x': set exactly one of limit_usd" in result.output

"""``trace list --filter``: the shared filter grammar on the CLI (docs/filters.md)."""

from __future__ import annotations

import msgspec
from click.testing import CliRunner

from traceforge_cli.main import cli
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

BASE_EPOCH = 1795420800.0  # 2026-11-23T08:00:00Z


def _listed(*args: str) -> list[str]:
    result = CliRunner().invoke(cli, ["trace", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    return [row["id"] for row in msgspec.json.decode(result.stdout)]


def test_filter_option_uses_the_grammar(store: TraceStore) -> None:
    flash = make_trace(
        model="gemini-2.0-flash", provider="gemini", latency_ms=900.0, epoch_s=BASE_EPOCH
    )
    down = make_trace(
        model="gpt-4o", status="upstream_error", status_code=502, epoch_s=BASE_EPOCH + 1
    )
    fast = make_trace(model="gpt-4o", latency_ms=50.0, epoch_s=BASE_EPOCH + 2)
    store.save_many([flash, down, fast])
    assert _listed("--filter", "model:~gemini") == [flash.id]
    assert _listed("--filter", "status:error") == [down.id]
    assert _listed("--filter", "latency:>500") == [flash.id]
    assert _listed("--filter", "model:gpt-4o", "--status", "success") == [fast.id]


def test_a_bad_filter_is_a_usage_error(store: TraceStore) -> None:
    result = CliRunner().invoke(cli, ["trace", "list", "--filter", "modle:gpt-4o"])
    assert result.exit_code == 2
    assert "unknown filter key 'modle' (did you mean 'model'?)" in result.output
    assert "Traceback" not in result.output

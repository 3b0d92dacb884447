"""``traceforge export otlp``: a backfill of recorded calls and stored spans, to an OTLP/JSON
lines file (decoded with ``opentelemetry-proto``) and, through the real OTLP/HTTP exporter,
to a second TraceForge's ``POST /v1/traces``: the round trip gives the same runs (trace ids,
tree, usage)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from traceforge_cli.main import cli
from traceforge_shared.otel.export_json import parse_otlp_json_line
from traceforge_shared.store import TraceStore
from traceforge_shared.testing_runs import RUN_EPOCH, save_agent_run
from traceforge_web_api.embedded import bind, embedded_server

SINCE = "2020-01-01"


def _export(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), "export", "otlp", *args])
    return result.exit_code, result.stderr


def _tree(store: TraceStore, run_id: str) -> list[tuple[str, str | None, str, int, int]]:
    return sorted(
        (
            s.span_id,
            s.parent_span_id,
            s.name,
            s.usage.prompt_tokens if s.usage else 0,
            s.usage.completion_tokens if s.usage else 0,
        )
        for s in store.spans.get_run(run_id)
    )


def test_backfill_to_an_otlp_json_lines_file(store: TraceStore, home: Path) -> None:
    run = save_agent_run(store, session_id="chat-1")
    out = home / "out" / "traces.jsonl"
    code, err = _export(home, "--since", SINCE, "--file", str(out))
    assert code == 0, err
    spans = [
        span
        for line in out.read_text().splitlines()
        for rs in parse_otlp_json_line(line).resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
    stored = store.spans.get_run(run.trace_id)
    assert f"exported {len(stored)} span(s)" in err
    assert {s.trace_id.hex() for s in spans} == {run.trace_id}
    exported = {(s.span_id.hex(), s.parent_span_id.hex() or None) for s in spans}
    assert exported == {(s.span_id, s.parent_span_id) for s in stored}


def test_nothing_configured_is_a_clear_error(home: Path) -> None:
    code, err = _export(home, "--since", "2h")
    assert code == 2 and "give --endpoint URL or --file PATH" in err and "Traceback" not in err
    code, err = _export(home, "--since", "yesterday-ish", "--file", "x.jsonl")
    assert code == 2 and "--since" in err


@pytest.fixture
def second_traceforge(tmp_path: Path) -> Iterator[tuple[TraceStore, str]]:
    """Another TraceForge (its own store) with its web API on a free loopback port."""
    other = TraceStore(tmp_path / "other", fsync=False)
    server = embedded_server(other)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield other, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("semconv", ["v0.1", "legacy"])
def test_round_trip_into_another_traceforge(
    store: TraceStore, home: Path, second_traceforge: tuple[TraceStore, str], semconv: str
) -> None:
    first = save_agent_run(store, session_id="chat-1")
    failed = save_agent_run(store, epoch_s=RUN_EPOCH + 100, tool_failed=True)
    other, url = second_traceforge
    code, err = _export(home, "--since", SINCE, "--endpoint", url, "--semconv", semconv)
    assert code == 0, err
    for run in (first, failed):
        assert _tree(other, run.trace_id) == _tree(store, run.trace_id)
        mine, theirs = (
            store.spans.get_run_summary(run.trace_id),
            other.spans.get_run_summary(run.trace_id),
        )
        assert (theirs.span_count, theirs.llm_calls, theirs.status) == (
            mine.span_count,
            mine.llm_calls,
            mine.status,
        )
        assert (theirs.input_tokens, theirs.output_tokens) == (
            mine.input_tokens,
            mine.output_tokens,
        )

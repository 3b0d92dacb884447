"""Listings in a pipe and on a narrow terminal: TSV with whole values when stdout is not a
terminal, ``--format table|tsv|json``, tables that cut values with ``…`` instead of wrapping,
the slow-listing notice, and ``--version`` without ``importlib.metadata``."""

from __future__ import annotations

import importlib.metadata
import io
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console

from traceforge_cli import output
from traceforge_cli.listing import TRACE_TABLE_COLUMNS, trace_table_rows
from traceforge_cli.main import cli
from traceforge_cli.output import Column, fit_widths, print_table, slow_notice
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import summarize

LONG_MODEL = "gemini-2.5-flash-preview-09-2025-with-a-very-long-fine-tune-suffix"


def _fill(store: TraceStore, count: int = 8) -> list[str]:
    now = time.time()
    ids = []
    for i in range(count):
        failed = i % 2 == 0
        trace = make_trace(
            model=LONG_MODEL,
            provider="gemini",
            epoch_s=now - 60 * i,
            status="error" if failed else "success",
            status_code=429 if failed else 200,
        )
        store.save(trace)
        ids.append(trace.id)
    return ids


def _invoke(*args: str, columns: int = 80) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": str(columns)})
    return result.exit_code, result.stdout, result.stderr


def test_trace_list_in_a_pipe_is_tsv_with_every_value_whole(store: TraceStore) -> None:
    ids = _fill(store)
    code, out, _ = _invoke("trace", "list")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split("\t") == [
        "id",
        "timestamp",
        "provider",
        "model",
        "type",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "status",
    ]
    assert len(lines) == 1 + len(ids)  # nothing wrapped onto extra lines
    # `traceforge trace list | grep -c gemini-2.5-flash` counts every trace.
    assert sum("gemini-2.5-flash" in line for line in lines) == len(ids)
    rows = [line.split("\t") for line in lines[1:]]
    assert {row[0] for row in rows} == set(ids)  # full ids, for `xargs traceforge trace show`
    assert all(row[3] == LONG_MODEL for row in rows)
    assert sorted(row[8] for row in rows) == ["error 429"] * 4 + ["success"] * 4


def test_tsv_keeps_a_row_on_one_line_when_a_value_holds_tabs_and_newlines() -> None:
    buffer = io.StringIO()
    output.write_tsv([Column("A", "a", 0), Column("B", "b", 0)], [["x\ty", "1\n2\r3"]], buffer)
    assert buffer.getvalue() == "a\tb\nx y\t1 2 3\n"


def test_format_option_json_tsv_table_and_the_json_alias(store: TraceStore) -> None:
    ids = _fill(store, 3)
    _, as_json, _ = _invoke("trace", "list", "--format", "json")
    _, alias, _ = _invoke("trace", "list", "--json")
    assert as_json == alias
    assert [row["id"] for row in json.loads(as_json)] == [ids[0], ids[1], ids[2]]
    _, tsv, _ = _invoke("trace", "list", "--format", "tsv")
    assert tsv.splitlines()[0].startswith("id\ttimestamp\t")
    code, table, _ = _invoke("trace", "list", "--format", "table", columns=80)
    assert code == 0
    lines = table.splitlines()
    assert "\t" not in table
    assert len(lines) == 1 + len(ids)  # one line each: cut, not wrapped
    assert all(cell_len(line) <= 80 for line in lines), lines
    for line, trace_id in zip(lines[1:], ids, strict=True):
        assert line.startswith(trace_id[:8])
    assert "error 429" in lines[1] and "…" in lines[1]
    code, _, err = _invoke("trace", "list", "--json", "--format", "tsv")
    assert code == 2 and "exclude each other" in err


def test_a_tty_table_ellipsizes_low_priority_columns_and_keeps_id_status_model() -> None:
    now = time.time()
    summaries = [
        summarize(
            make_trace(
                model=LONG_MODEL,
                epoch_s=now - i,
                status="upstream_error",
                status_code=502,
            )
        )
        for i in range(3)
    ]
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=True, color_system=None)
    print_table(TRACE_TABLE_COLUMNS, trace_table_rows(summaries), console)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 4
    assert all(cell_len(line) <= 80 for line in lines)
    for line, summary in zip(lines[1:], summaries, strict=True):
        assert line.startswith(summary.id[:8])
        assert line.rstrip().endswith("upstream_error 502")  # status whole
        assert "gemini-2.5-flash" in line and "…" in line  # model cut, never wrapped


def test_fit_widths_shrinks_by_priority_then_drops_columns() -> None:
    columns = [
        Column("ID", "id", 0, min_width=8),
        Column("Model", "model", 2, min_width=10),
        Column("Note", "note", 9, min_width=4),
    ]
    assert fit_widths([8, 30, 20], columns, 100) == [8, 30, 20]  # fits: natural widths
    assert fit_widths([8, 30, 20], columns, 50) == [8, 30, 10]  # the note shrinks first
    assert fit_widths([8, 30, 20], columns, 30) == [8, 16, 4]  # then the model
    assert fit_widths([8, 30, 20], columns, 19) == [8, 10, 0]  # then the note goes
    assert fit_widths([8, 30, 20], columns, 18) == [8, 0, 0]  # the id always stays


def test_slow_notice_is_one_stderr_line_in_a_pipe(
    store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(store, 1)
    monkeypatch.setattr(output, "SLOW_AFTER_S", 0.0)  # as if the listing took over a second
    code, out, err = _invoke("trace", "list")
    assert code == 0
    assert err.splitlines() == ["traceforge: listing traces…"]
    assert "listing" not in out


def test_slow_notice_says_nothing_when_the_block_ends_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with slow_notice("scanning", after_s=3600):
        pass
    assert capsys.readouterr().err == ""


def test_version_is_the_installed_distributions() -> None:
    code, out, _ = _invoke("--version")
    assert code == 0
    assert out.strip() == f"traceforge, version {importlib.metadata.version('traceforge-cli')}"


def test_test_list_in_a_pipe_is_tsv(home: Path) -> None:
    tests = home / "tests"
    tests.mkdir(parents=True)
    (tests / "long.yaml").write_text(
        "name: a test with a name far longer than any eighty column terminal would show whole\n"
        f"request:\n  model: {LONG_MODEL}\n  messages: [{{role: user, content: hi}}]\n"
        "assertions:\n  - type: contains\n    value: hi\n"
    )
    code, out, _ = _invoke("test", "list")
    assert code == 0, out
    header, row = out.splitlines()
    assert header == "test\ttags\tmodel\tfile"
    name, _, model, where = row.split("\t")
    assert name.endswith("would show whole") and model == LONG_MODEL
    assert where.endswith("long.yaml:1")

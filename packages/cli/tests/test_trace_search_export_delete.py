"""``traceforge trace search``, ``trace export`` and ``trace delete`` through click's test
runner, on a real store."""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from traceforge_cli.main import cli
from traceforge_shared.redact.engine import Redactor
from traceforge_shared.store import TraceStore
from traceforge_shared.store.export import CSV_COLUMNS
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

DAY_S = 86_400.0


def chat(question: str, answer: str, *, age_s: float, **kwargs: Any) -> Trace:
    trace = make_trace(text=answer, epoch_s=time.time() - age_s, **kwargs)
    request = {"model": trace.model, "messages": [{"role": "user", "content": question}]}
    return msgspec.structs.replace(trace, request=request)


@pytest.fixture
def traces(store: TraceStore) -> dict[str, Trace]:
    made = {
        "otters": chat("Tell me about otters", "Otters hold hands while sleeping.", age_s=60),
        "old": chat("Old question about otters", "An old answer.", age_s=40 * DAY_S),
        "error": chat(
            "Why 5* -- (really)?", "", age_s=30, model="gpt-4o", status="error", status_code=500
        ),
        "stream": chat("Stream me a poem", "Roses are red", age_s=10, streaming=True),
    }
    store.save_many(list(made.values()))
    return made


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=input)


# -- search ---------------------------------------------------------------------------------


def test_search_prints_ranked_matches_with_snippets(traces: dict[str, Trace]) -> None:
    result = run("trace", "search", "otters", "--format", "tsv")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split("\t") == ["id", "timestamp", "model", "status", "snippet"]
    assert [row.split("\t")[0] for row in rows] == [traces["otters"].id, traces["old"].id]
    assert "[Otters]" in rows[0] or "[otters]" in rows[0]
    table = run("trace", "search", "hold", "hands", "--format", "table")
    assert traces["otters"].id[:8] in table.stdout and "success" in table.stdout


def test_search_json_special_characters_and_filters(traces: dict[str, Trace]) -> None:
    result = run("trace", "search", "--json", "--", "5*", "--", "(really)")
    assert result.exit_code == 0, result.output
    (hit,) = json.loads(result.stdout)
    assert hit["id"] == traces["error"].id
    assert hit["status"] == "error" and hit["status_code"] == 500
    assert set(hit) == {"id", "timestamp", "model", "provider", "status", "status_code",
                        "snippet", "score"}  # fmt: skip
    filtered = run("trace", "search", "otters", "--since", "7d", "--json")
    assert [h["id"] for h in json.loads(filtered.stdout)] == [traces["otters"].id]
    none = run("trace", "search", '"', "--json")
    assert none.exit_code == 0 and json.loads(none.stdout) == []


def test_search_too_long_is_a_usage_error(traces: dict[str, Trace]) -> None:
    result = run("trace", "search", "x" * 50_000)
    assert result.exit_code == 2
    assert "too long" in result.stderr and "Traceback" not in result.output


def test_search_does_not_find_redacted_secrets(store: TraceStore) -> None:
    secret = "sk-proj-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe"
    store.save(Redactor().before_save(chat(f"my key {secret}", "noted", age_s=5)))
    assert json.loads(run("trace", "search", secret, "--json").stdout) == []
    assert len(json.loads(run("trace", "search", "my key", "--json").stdout)) == 1


# -- export ---------------------------------------------------------------------------------


def test_export_jsonl_round_trips_to_the_same_traces(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    result = run("trace", "export", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    exported = [msgspec.json.decode(line, type=Trace) for line in lines]
    assert [t.id for t in exported] == [s.id for s in store.list(limit=None)]
    assert {t.id: t for t in exported} == {t.id: store.get(t.id) for t in exported}


def test_export_json_array_with_filters_to_a_file(tmp_path: Path, traces: dict[str, Trace]) -> None:
    out = tmp_path / "out" / "traces.json"
    result = run("trace", "export", "--format", "json", "-o", str(out), "--status", "success",
                 "-q", "otters")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [t["id"] for t in data] == [traces["otters"].id, traces["old"].id]
    assert "exported 2 traces" in result.stderr
    empty = run("trace", "export", "--format", "json", "--model", "nope")
    assert json.loads(empty.stdout) == []


def test_export_csv_header_and_rows(traces: dict[str, Trace]) -> None:
    result = run("trace", "export", "--format", "csv", "--filter", "type:stream")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS == (
        "id", "timestamp", "provider", "model", "status", "status_code", "latency_ms",
        "first_chunk_latency_ms", "prompt_tokens", "completion_tokens", "total_tokens",
        "cost_usd", "endpoint",
    )  # fmt: skip
    assert [r[0] for r in rows[1:]] == [traces["stream"].id]
    assert rows[1][CSV_COLUMNS.index("cost_usd")] == ""  # unknown, not "None"


def test_export_bad_filter_is_a_usage_error(traces: dict[str, Trace]) -> None:
    result = run("trace", "export", "--filter", "colour:red")
    assert result.exit_code == 2
    assert "unknown filter key" in result.stderr


# -- delete ---------------------------------------------------------------------------------


def ids_left(store: TraceStore) -> set[str]:
    return {s.id for s in store.list(limit=None)}


def test_delete_older_than_asks_and_deletes(store: TraceStore, traces: dict[str, Trace]) -> None:
    result = run("trace", "delete", "--older-than", "30d", input="y\n")
    assert result.exit_code == 0, result.output
    assert "1 trace will be deleted" in result.stderr
    assert traces["old"].id in result.stderr
    assert "Deleted 1 trace." in result.stdout
    assert ids_left(store) == {traces[n].id for n in ("otters", "error", "stream")}
    assert not store.path_for(traces["old"].id).exists()


def test_delete_refused_at_the_prompt_deletes_nothing(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    before = ids_left(store)
    declined = run("trace", "delete", "--status", "error", input="n\n")
    assert declined.exit_code == 1
    no_answer = run("trace", "delete", "--status", "error", input="")
    assert no_answer.exit_code == 1
    assert ids_left(store) == before


def test_delete_dry_run_and_yes_with_json(store: TraceStore, traces: dict[str, Trace]) -> None:
    dry = run("trace", "delete", "-q", "otters", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["deleted"] == 0 and report["matched"] == 2
    assert len(ids_left(store)) == 4
    done = run("trace", "delete", "-q", "otters", "--yes", "--json")
    assert json.loads(done.stdout)["deleted"] == 2
    assert ids_left(store) == {traces["error"].id, traces["stream"].id}
    assert json.loads(run("trace", "search", "otters", "--json").stdout) == []


def test_delete_by_id_prefix_respects_filters(store: TraceStore, traces: dict[str, Trace]) -> None:
    otters, stream = traces["otters"].id, traces["stream"].id
    result = run("trace", "delete", otters[:10], stream, "--no-stream", "--yes")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 trace." in result.stdout  # the stream is not --no-stream
    assert otters not in ids_left(store) and stream in ids_left(store)


def test_delete_needs_a_selection(store: TraceStore, traces: dict[str, Trace]) -> None:
    nothing = run("trace", "delete", "--yes")
    assert nothing.exit_code == 2 and "say what to delete" in nothing.stderr
    unknown = run("trace", "delete", "ffffffffffff", "--yes")
    assert unknown.exit_code == 2 and "no trace" in unknown.stderr
    assert len(ids_left(store)) == 4
    everything = run("trace", "delete", "--all", "--yes")
    assert "Deleted 4 traces." in everything.stdout
    assert ids_left(store) == set()


# -- progress -------------------------------------------------------------------------------


def test_first_listing_of_a_copied_store_shows_progress(
    home: Path, tmp_path: Path, store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save_many([chat(f"copied {i}", "answer", age_s=i) for i in range(2000)])
    store.index.close()
    copy = tmp_path / "copy"
    shutil.copytree(store.traces_dir, copy / "traces")  # copied without its index
    monkeypatch.setenv("TRACEFORGE_PROGRESS_AFTER_S", "0")  # show it however fast
    result = run("--home", str(copy), "trace", "list", "-n", "1", "--format", "tsv")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "index" in line]
    assert lines[0] == "traceforge: indexing trace files: 0/2,000"
    assert lines[-1].startswith("traceforge: indexed 2,000 trace files in ")
    assert len(result.stdout.splitlines()) == 2  # header and one row: stdout is untouched
    again = run("--home", str(copy), "trace", "list", "-n", "1", "--format", "tsv")
    assert "indexing" not in again.stderr  # in sync: nothing to report
    monkeypatch.setenv("TRACEFORGE_PROGRESS_AFTER_S", "3600")
    shutil.rmtree(copy / "traces")
    shutil.copytree(store.traces_dir, tmp_path / "quiet" / "traces")
    quiet = run("--home", str(tmp_path / "quiet"), "trace", "list", "--format", "tsv")
    assert "indexing" not in quiet.stderr  # faster than the threshold: silent


# -- trace list -q ----------------------------------------------------------------------------


def test_list_q_uses_the_full_text_index(traces: dict[str, Trace]) -> None:
    result = run("trace", "list", "-q", "hands otters", "--json")
    assert result.exit_code == 0, result.output
    assert [s["id"] for s in json.loads(result.stdout)] == [traces["otters"].id]
    huge = run("trace", "list", "-q", "x" * 50_000)  # was SQLite's "pattern too complex"
    assert huge.exit_code == 2
    assert "search text too long: 50000 characters (at most 4096)" in huge.stderr
    assert "Traceback" not in huge.output and "internal error" not in huge.output


def test_progress_reporter_bar_and_lines() -> None:
    from traceforge_cli.progress import ProgressReporter

    bar_out = io.StringIO()
    bar = ProgressReporter(stream=bar_out, after=0, tty=True)
    for done in (0, 250, 500):
        bar(done, 500)
    assert "indexing trace files" in bar_out.getvalue()
    lines_out = io.StringIO()
    lines = ProgressReporter(stream=lines_out, after=0, tty=False)
    for done in (0, 250, 500):
        lines(done, 500)
    text = lines_out.getvalue().splitlines()
    assert text[0] == "traceforge: indexing trace files: 0/500"
    assert text[-1].startswith("traceforge: indexed 500 trace files in ")
    silent_out = io.StringIO()
    silent = ProgressReporter(stream=silent_out, after=3600, tty=False)
    for done in (0, 250, 500):
        silent(done, 500)
    assert silent_out.getvalue() == ""

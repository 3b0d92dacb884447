"""``traceforge test list --json`` and the line numbers of ``test run --json`` (the contract
editors read: see :mod:`traceforge_cli.testjson`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from traceforge_cli.main import cli
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

ANSWER = "Quantum computing uses qubits to explore many states at once."


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["test", *args], catch_exceptions=False)


def _created(home: Path, name: str, model: str = "gpt-4o-mini") -> tuple[str, Path]:
    trace = make_trace(model=model, text=ANSWER)
    TraceStore(home, fsync=False).save(trace)
    assert _invoke("create-from-trace", trace.id, "--name", name).exit_code == 0
    return trace.id, home / "tests" / f"{name.lower()}.yaml"


def test_list_json_lists_tests_and_broken_files_with_lines(home: Path) -> None:
    trace_id, path = _created(home, "Quantum")
    path.write_text("# a comment first\n" + path.read_text().replace("tags: []", "tags: [smoke]"))
    _created(home, "Other", model="claude-3-5-haiku-latest")
    broken = home / "tests" / "sub" / "broken.yaml"
    broken.parent.mkdir()
    broken.write_text("name: broken\nrequest:\n  model: gpt-4o\nassertions: [{type: nope}]\n")

    result = _invoke("list", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert entries == [
        {
            "name": "Other",
            "file": str(home / "tests" / "other.yaml"),
            "line": 1,
            "tags": [],
            "source_trace": entries[0]["source_trace"],
            "model": "claude-3-5-haiku-latest",
        },
        {
            "name": "Quantum",
            "file": str(path),
            "line": 2,  # below the comment
            "tags": ["smoke"],
            "source_trace": trace_id,
            "model": "gpt-4o-mini",
        },
        {
            "file": str(broken),
            "error": entries[2]["error"],
            "line": 4,
        },
    ]
    assert entries[2]["error"].startswith("assertions[0].type: unknown assertion type 'nope'")

    smoke = json.loads(_invoke("list", "--json", "--tag", "smoke").output)
    assert [e.get("name") for e in smoke] == ["Quantum", None]  # broken files are always listed
    one = json.loads(_invoke("list", str(path), "--json").output)
    assert [e["name"] for e in one] == ["Quantum"]


def test_list_bad_path_is_a_usage_error_and_no_tests_is_an_empty_array(
    home: Path, tmp_path: Path
) -> None:
    assert _invoke("list", str(tmp_path / "nope"), "--json").exit_code == 2
    empty = _invoke("list", "--json")
    assert empty.exit_code == 0 and json.loads(empty.output) == []
    table = _invoke("list")
    assert table.exit_code == 0 and "no tests found" in table.output


def test_run_json_lines_carry_assertion_lines_expected_and_actual(home: Path) -> None:
    _, path = _created(home, "Quantum")
    text = path.read_text().replace("value: explore", "value: bananas")
    path.write_text(text)
    (home / "tests" / "broken.yaml").write_text("name: x\nrequest: [\n")
    result = CliRunner().invoke(cli, ["test", "run", "--replay", "--json"])
    assert result.exit_code == 2  # a file could not be loaded
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [line["type"] for line in lines] == ["result", "result", "summary"]
    broken, quantum, summary = lines
    assert broken["status"] == "error" and broken["line"] == 2 and broken["assertions"] == []
    assert quantum["status"] == "failed" and quantum["line"] == 1
    assert quantum["file"] == str(path)
    by_type = {(a["type"], a["passed"]): a for a in quantum["assertions"]}
    bananas = by_type[("contains", False)]
    rows = text.splitlines()
    value_row = rows.index("    value: bananas")
    assert rows[value_row - 1] == "  - type: contains"
    assert bananas["line"] == value_row  # 1-based line of the `- type: contains` item
    assert bananas["expected"] == "bananas" and bananas["actual"] == ANSWER
    latency = by_type[("latency", True)]
    # the replayed trace's own latency (the recording's answer re-served through the proxy)
    assert latency["expected"] == {"max_ms": 1000.0} and isinstance(latency["actual"], float)
    assert summary == {
        "type": "summary",
        "id": summary["id"],
        "mode": "replay",
        "passed": 0,
        "failed": 1,
        "errors": 1,
        "duration_ms": summary["duration_ms"],
    }

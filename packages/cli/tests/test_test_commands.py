"""``traceforge test create-from-trace / run / schema`` end to end through click's runner:
requests go through the in-process capture proxy to the built-in mock upstream (real
recorded answers) or to a local fake OpenAI upstream whose answer a test changes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the env
import pytest
from click.testing import CliRunner
from junitparser import JUnitXml
from ruamel.yaml import YAML

from traceforge_cli.main import cli
from traceforge_shared.evals.results import ResultStore
from traceforge_shared.store import TraceStore

# The mock's recorded answer to a gpt-4.1-nano chat completion (openai-chat/completion.json).
HOLIDAY = "Invent a new holiday and describe its traditions."


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    YAML().dump(doc, path)
    return path


def _test_doc(name: str, model: str = "gpt-4.1-nano", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "tags": extra.pop("tags", []),
        "request": {"model": model, "messages": [{"role": "user", "content": HOLIDAY}]},
        "assertions": extra.pop(
            "assertions",
            [{"type": "icontains", "value": "holiday"}, {"type": "latency", "max_ms": 30000}],
        ),
        **extra,
    }


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["test", "run", *args], catch_exceptions=False)


def _json_run(output: str) -> dict[str, Any]:
    """A ``test run --json`` output (result lines, then a summary line) as the summary with
    its ``results``."""
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines and lines[-1]["type"] == "summary", output
    assert all(line["type"] == "result" for line in lines[:-1])
    return {**lines[-1], "results": lines[:-1]}


class _FakeOpenAI:
    """A non-streaming OpenAI chat completions upstream on a thread; ``answer`` is what it
    says next."""

    def __init__(self) -> None:
        self.answer = ""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                body = json.dumps(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": 1,
                        "model": "gpt-4o-2024-08-06",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": fake.answer},
                            }
                        ],
                        "usage": {"prompt_tokens": 9, "completion_tokens": 20, "total_tokens": 29},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_openai(home: Path) -> Iterator[_FakeOpenAI]:
    fake = _FakeOpenAI()
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(f"upstreams:\n  openai:\n    base_url: {fake.url}\n")
    yield fake
    fake.close()


def test_create_from_trace_then_run_passes_then_a_changed_answer_fails_the_right_assertions(
    home: Path, fake_openai: _FakeOpenAI
) -> None:
    fake_openai.answer = (
        "Lanternfall is a new holiday: families hang paper lanterns, share soup with "
        "neighbours and write wishes for the coming winter."
    )
    seed = _write(home / "seed" / "seed.yaml", _test_doc("seed", model="gpt-4o"))
    assert _run(str(seed)).exit_code == 0
    (recorded,) = TraceStore(home).list()
    assert recorded.source == "test"  # X-TraceForge-Meta-Source: test, so the TUI can hide it

    created = CliRunner().invoke(
        cli, ["test", "create-from-trace", recorded.id[:8], "--name", "Holiday"]
    )
    assert created.exit_code == 0, created.output
    path = home / "tests" / "holiday.yaml"
    text = path.read_text()
    assert "# " in text and f"source_trace: {recorded.id}" in text
    doc = YAML(typ="safe").load(text)
    types = [a["type"] for a in doc["assertions"]]
    assert "contains" in types and "fuzzy" in types and "latency" in types

    passed = _run("--json")  # default: <home>/tests
    assert passed.exit_code == 0, passed.output
    result = _json_run(passed.output)["results"][0]
    assert result["status"] == "passed" and result["name"] == "Holiday"
    assert all(a["passed"] for a in result["assertions"])

    fake_openai.answer = "I cannot help with that request."
    failed = _run("--json")
    assert failed.exit_code == 1
    result = _json_run(failed.output)["results"][0]
    outcome = {(a["type"], a["passed"]) for a in result["assertions"]}
    assert ("contains", False) in outcome and ("fuzzy", False) in outcome
    assert ("latency", True) in outcome and ("finish_reason", True) in outcome
    fuzzy = next(a for a in result["assertions"] if a["type"] == "fuzzy")
    assert fuzzy["score"] < 0.85 and "0.85" in fuzzy["message"]
    # Every run was itself traced: seed + 2 runs of the created test.
    assert TraceStore(home).count() == 3
    assert len(ResultStore(home).ids()) == 3


def test_hundred_tests_in_parallel_with_a_broken_file_and_junit(home: Path, tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    for i in range(100):
        _write(suite / f"t{i:03}.yaml", _test_doc(f"case {i:03}", tags=["smoke"] if i % 2 else []))
    (suite / "broken.yaml").write_text("name: broken\nrequest: [unclosed\n")
    junit = tmp_path / "out" / "junit.xml"
    result = _run(str(suite), "--concurrency", "20", "--junit", str(junit))
    assert result.exit_code == 2, result.output  # a file could not be loaded
    # reported once, with its line and what is wrong
    assert " ".join(result.output.split()).count("broken.yaml:2") == 1, result.output
    assert "100 passed, 0 failed, 1 errors" in result.output

    xml = JUnitXml.fromfile(str(junit))
    cases = [case for suite_ in xml for case in suite_]
    assert len(cases) == 101
    assert sum(case.is_passed for case in cases) == 100
    assert [case.name for case in cases if not case.is_passed] == ["broken.yaml"]
    assert TraceStore(home).count() == 100

    tagged = _run(str(suite / "t001.yaml"), str(suite / "t002.yaml"), "--tag", "smoke", "--json")
    assert tagged.exit_code == 0
    assert [r["name"] for r in _json_run(tagged.output)["results"]] == ["case 001"]


def test_replay_runs_offline_from_recordings(home: Path, tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    _write(suite / "a.yaml", _test_doc("recorded"))
    assert _run(str(suite)).exit_code == 0  # records through the mock
    recorded = TraceStore(home).count()
    # The network is now unreachable: every provider points at a closed port.
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(
        "upstreams:\n  openai:\n    base_url: http://127.0.0.1:9/v1\n"
    )
    replayed = _run(str(suite), "--replay", "--json")
    assert replayed.exit_code == 0, replayed.output
    run = _json_run(replayed.output)
    assert run["mode"] == "replay" and run["results"][0]["status"] == "passed"
    # Nothing was called: the one new trace is the replay, served from the recording.
    store = TraceStore(home)
    assert store.count() == recorded + 1
    replay_trace = store.get(run["results"][0]["trace_id"])
    assert replay_trace.meta["replayed_from"].startswith("trace/")
    live = _run(str(suite), "--json")
    assert live.exit_code == 1 or live.exit_code == 2  # and a live run would fail

    _write(suite / "b.yaml", _test_doc("never recorded", model="gpt-4o-mini"))
    missing = _run(str(suite / "b.yaml"), "--replay")
    assert missing.exit_code == 2
    assert "no recording for this request" in missing.output


def test_run_usage_errors(tmp_path: Path) -> None:
    assert _run(str(tmp_path / "nope")).exit_code == 2
    both = _run(str(tmp_path), "--direct", "--replay")
    assert both.exit_code == 2 and "exclude each other" in both.output


def test_direct_mode_records_nothing(home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "d.yaml", _test_doc("direct"))
    result = _run(str(path), "--direct", "--json")
    assert result.exit_code == 0, result.output
    assert _json_run(result.output)["mode"] == "direct"
    assert TraceStore(home).count() == 0


def test_schema_command_validates_test_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["test", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator(schema).validate(_test_doc("ok"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(
            _test_doc("bad", assertions=[{"type": "latency"}])
        )


def test_create_from_trace_errors(home: Path) -> None:
    result = CliRunner().invoke(cli, ["test", "create-from-trace", "abcdef12"])
    assert result.exit_code == 1 and "abcdef12" in result.output


def test_create_from_trace_follows_the_shared_collision_rule(home: Path) -> None:
    # As in the TUI and the API: a taken name is refused, naming the file; --force replaces.
    from traceforge_shared.testing import make_trace

    trace = make_trace()
    TraceStore(home).save(trace)
    runner = CliRunner()
    first = runner.invoke(cli, ["test", "create-from-trace", trace.id[:8]])
    assert first.exit_code == 0, first.output
    path = home / "tests" / "say-hello.yaml"
    path.write_text(path.read_text() + "# edited\n")
    again = runner.invoke(cli, ["test", "create-from-trace", trace.id[:8]])
    assert again.exit_code == 1
    assert f"test file {path} exists; pass --force" in " ".join(again.output.split())
    assert path.read_text().endswith("# edited\n")
    forced = runner.invoke(cli, ["test", "create-from-trace", trace.id[:8], "--force"])
    assert forced.exit_code == 0, forced.output
    assert not path.read_text().endswith("# edited\n")
    assert sorted(p.name for p in path.parent.iterdir()) == ["say-hello.yaml"]

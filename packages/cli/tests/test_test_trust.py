"""Tests that must not lie, end to end through click's runner and the in-process capture proxy
(built-in mock upstream, or a local fake OpenAI upstream): create-from-trace refuses failed,
aborted and partial traces and never writes a redaction marker into a request; filters that
match nothing fail; broken files are reported once; the source documents' format runs;
``test migrate``; model-graded assertions through the proxy; ``models:`` comparison."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from traceforge_cli.commands import test as test_command
from traceforge_cli.main import cli
from traceforge_shared.evals.loader import load_test_file
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import TraceError
from traceforge_tui.saving import save_test

HOLIDAY = "Invent a new holiday and describe its traditions."
SOURCE_FORMAT = Path(__file__).parents[2] / "shared" / "tests" / "data" / "source-format"


def _invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    YAML().dump(doc, path)
    return path


def _doc(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "tags": extra.pop("tags", []),
        "request": extra.pop(
            "request",
            {"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": HOLIDAY}]},
        ),
        "assertions": extra.pop("assertions", [{"type": "icontains", "value": "holiday"}]),
        **extra,
    }


def _results(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines and lines[-1]["type"] == "summary", output
    return lines[:-1]


class _Upstream:
    """A local OpenAI-shaped upstream: records each request body; chat completions answer
    ``answer``, embeddings ``vectors``."""

    def __init__(self) -> None:
        self.answer = "Noted."
        self.bodies: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.bodies.append(body)
                data = json.dumps(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": 1,
                        "model": body.get("model", "gpt-4o"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": fake.answer},
                            }
                        ],
                        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def upstream(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Upstream]:
    fake = _Upstream()
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(f"upstreams:\n  openai:\n    base_url: {fake.url}\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fake-upstream")  # a real (fake) upstream
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


# --- create-from-trace ----------------------------------------------------------------------


def test_create_from_trace_refuses_failed_aborted_and_incomplete_traces(home: Path) -> None:
    store = TraceStore(home)
    unauthorized = make_trace(status="error", status_code=401)
    unauthorized.metadata.error = TraceError(type="invalid_api_key", message="Incorrect API key")
    aborted = make_trace(status="client_disconnected", streaming=True, text="Half an")
    incomplete = make_trace(status="incomplete")
    for trace, why in [
        (unauthorized, "the call failed (error, HTTP 401: Incorrect API key)"),
        (aborted, "the client hung up before the answer was complete"),
        (incomplete, "the answer is incomplete"),
    ]:
        store.save(trace)
        refused = _invoke("test", "create-from-trace", trace.id[:8])
        assert refused.exit_code == 1
        said = " ".join(refused.output.split())
        assert why in said and "--allow-failed" in said
        assert not (home / "tests").exists()
    allowed = _invoke("test", "create-from-trace", unauthorized.id[:8], "--allow-failed")
    assert allowed.exit_code == 0, allowed.output


def test_a_test_made_from_a_redacted_trace_sends_the_real_value(
    home: Path, upstream: _Upstream, tmp_path: Path
) -> None:
    email = "zoe.martin@example.org"
    seed = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"Email {email} now"}]}
    path = _write(tmp_path / "seed.yaml", _doc("seed", request=seed, assertions=[]))
    assert _invoke("test", "run", str(path)).exit_code == 0
    (recorded,) = TraceStore(home).list()
    assert email not in json.dumps(TraceStore(home).get(recorded.id).request)  # redacted

    created = _invoke("test", "create-from-trace", recorded.id[:8], "--name", "mail")
    assert created.exit_code == 0, created.output
    assert "TRACEFORGE_EMAIL_1" in created.output
    text = (home / "tests" / "mail.yaml").read_text()
    assert "${TRACEFORGE_EMAIL_1}" in text and "REDACTED" not in text.split("assertions:")[0]

    sent_before = len(upstream.bodies)
    missing = _invoke("test", "run", "--json")
    assert missing.exit_code == 2
    (result,) = _results(missing.output)
    assert result["status"] == "error"
    assert "environment variable TRACEFORGE_EMAIL_1 is not set" in result["error"]
    assert len(upstream.bodies) == sent_before  # nothing was sent

    filled = _invoke("test", "run", "--json", env={"TRACEFORGE_EMAIL_1": email})
    assert filled.exit_code in (0, 1), filled.output  # ran (its baseline may differ)
    assert upstream.bodies[-1]["messages"][0]["content"] == f"Email {email} now"
    assert "REDACTED" not in json.dumps(upstream.bodies)
    newest = TraceStore(home).list()[0]
    assert email not in json.dumps(TraceStore(home).get(newest.id).request)  # redacted again


def test_on_a_terminal_create_from_trace_asks_for_redacted_values(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = "Write to [EMAIL_REDACTED:3f2a] about [PHONE_REDACTED:0b1c]"
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}
    trace = msgspec.structs.replace(make_trace(), request=request)
    TraceStore(home).save(trace)
    monkeypatch.setattr(test_command, "_interactive", lambda: True)
    result = CliRunner().invoke(
        cli, ["test", "create-from-trace", trace.id[:8], "--name", "asked"], input="a@b.org\n\n"
    )
    assert result.exit_code == 0, result.output
    case = load_test_file(home / "tests" / "asked.yaml")
    assert case.request["messages"][0]["content"] == (
        "Write to a@b.org about ${TRACEFORGE_PHONE_1}"  # Enter kept a variable
    )
    assert "TRACEFORGE_PHONE_1" in result.output


def test_an_old_test_holding_a_marker_is_an_error_not_a_call(
    home: Path, upstream: _Upstream, tmp_path: Path
) -> None:
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "[EMAIL_REDACTED]"}]}
    path = _write(tmp_path / "old.yaml", _doc("old", request=request))
    result = _invoke("test", "run", str(path))
    assert result.exit_code == 2
    assert "redaction marker [EMAIL_REDACTED]" in " ".join(result.output.split())
    assert upstream.bodies == []


def test_tui_and_cli_share_one_collision_rule(home: Path) -> None:
    trace = make_trace()
    TraceStore(home).save(trace)
    saved = save_test(trace, home / "tests")  # the TUI's save-as-test
    saved.write_text(saved.read_text() + "# edited\n")
    with pytest.raises(FileExistsError, match=str(saved)):
        save_test(trace, home / "tests")
    cli_again = _invoke("test", "create-from-trace", trace.id[:8])
    assert cli_again.exit_code == 1 and "exists" in cli_again.output
    assert saved.read_text().endswith("# edited\n")
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # never suffixed


# --- filters, broken files, OS errors -------------------------------------------------------


def test_a_tag_or_name_that_matches_nothing_exits_2_listing_what_exists(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    _write(suite / "a.yaml", _doc("alpha", tags=["smoke"]))
    _write(suite / "b.yaml", _doc("beta", tags=["nightly"]))
    typo = _invoke("test", "run", str(suite), "--tag", "smkoe")
    assert typo.exit_code == 2
    said = " ".join(typo.output.split())
    assert "no test matches --tag smkoe among 2 tests" in said
    assert "known tags: nightly, smoke" in said and "names: alpha, beta" in said
    name = _invoke("test", "run", str(suite), "--name", "gamma*")
    assert name.exit_code == 2 and "--name 'gamma*'" in name.output
    picked = _invoke("test", "run", str(suite), "--name", "al*", "--json")
    assert picked.exit_code == 0
    assert [r["name"] for r in _results(picked.output)] == ["alpha"]


def test_a_broken_file_is_reported_once_with_line_and_field(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    _write(suite / "ok.yaml", _doc("fine"))
    (suite / "bad.yaml").write_text(
        "name: bad\nrequest: {model: gpt-4o, messages: []}\nassertions:\n"
        "  - {type: latency, max_ms: soon}\n"
    )
    result = _invoke("test", "run", str(suite))
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert said.count("assertions[0].max_ms") == 1, result.output
    assert "bad.yaml:4: assertions[0].max_ms: Expected `float`, got `str`" in said


def test_os_errors_are_sentences(tmp_path: Path) -> None:
    missing = _invoke("test", "run", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and "[Errno" not in missing.output
    _write(tmp_path / "ok.yaml", _doc("fine"))
    blocked = tmp_path / "file"
    blocked.write_text("")
    junit = _invoke("test", "run", str(tmp_path / "ok.yaml"), "--junit", str(blocked / "j.xml"))
    # A problem of the machine, not of the tests: the guard's one line and exit status 1.
    assert junit.exit_code == 1 and "[Errno" not in junit.output
    said = " ".join(junit.output.split())
    assert "cannot save the results: a file is where a directory is needed" in said
    assert str(blocked) in said


# --- the source documents' format, migrate ---------------------------------------------------


def test_a_source_document_style_file_runs_against_the_mock(tmp_path: Path) -> None:
    result = _invoke("test", "run", str(SOURCE_FORMAT / "holiday.yaml"), "--json")
    assert result.exit_code == 0, result.output
    (test,) = _results(result.output)
    assert test["name"] == "holiday-smoke" and test["status"] == "passed"
    assert [a["type"] for a in test["assertions"]] == [
        "contains",
        "fuzzy",
        "latency",
        "not-icontains",
        "json_path",
    ]


def test_migrate_rewrites_files_to_the_canonical_form(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    for source in SOURCE_FORMAT.glob("*.yaml"):
        (folder / source.name).write_text(source.read_text())
    before = {p.name: load_test_file(p) for p in folder.glob("*.yaml")}
    texts = {p.name: p.read_text() for p in folder.glob("*.yaml")}

    dry = _invoke("test", "migrate", str(folder), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    report = [json.loads(line) for line in dry.output.splitlines()]
    assert {Path(r["file"]).name for r in report} == set(texts)
    assert all(r["changed"] and r["changes"] and not r["written"] for r in report)
    assert {p.name: p.read_text() for p in folder.glob("*.yaml")} == texts

    done = _invoke("test", "migrate", str(folder))
    assert done.exit_code == 0, done.output
    assert "migrated 2 files" in done.output
    holiday = (folder / "holiday.yaml").read_text()
    assert "id:" not in holiday and "name: holiday-smoke" in holiday
    assert "# the answer text, read through the response object" in holiday
    assert {p.name: load_test_file(p) for p in folder.glob("*.yaml")} == before
    again = _invoke("test", "migrate", str(folder))
    assert again.exit_code == 0 and "already canonical" in again.output

    (folder / "broken.yaml").write_text("name: x\nrequest: [\n")
    broken = _invoke("test", "migrate", str(folder))
    assert broken.exit_code == 2 and "broken.yaml:" in broken.output


# --- model-graded assertions and models: through the proxy -----------------------------------


def test_llm_rubric_grades_through_the_proxy_and_the_grader_is_traced(
    home: Path, upstream: _Upstream, tmp_path: Path
) -> None:
    upstream.answer = '{"pass": true, "score": 0.8, "reason": "polite and short"}'
    path = _write(
        tmp_path / "graded.yaml",
        _doc(
            "graded",
            request={"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hi"}]},
            assertions=[{"type": "llm-rubric", "value": "Is polite", "model": "gpt-4o-mini"}],
        ),
    )
    result = _invoke("test", "run", str(path), "--json")
    assert result.exit_code == 0, result.output
    (test,) = _results(result.output)
    (rubric,) = test["assertions"]
    assert rubric["passed"] and rubric["score"] == 0.8 and "polite and short" in rubric["message"]
    grader = upstream.bodies[-1]
    assert grader["model"] == "gpt-4o-mini" and "Is polite" in grader["messages"][1]["content"]
    assert TraceStore(home).count() == 2  # the test's call and the grader's

    upstream.answer = '{"pass": false, "score": 0.2, "reason": "rude"}'
    failed = _invoke("test", "run", str(path), "--json")
    assert failed.exit_code == 1
    assert "rude" in _results(failed.output)[0]["assertions"][0]["message"]


def test_llm_rubric_without_a_key_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.yaml", _doc("g", assertions=[{"type": "llm-rubric", "value": "x"}]))
    result = _invoke("test", "run", str(path), "--json")
    assert result.exit_code == 1
    message = _results(result.output)[0]["assertions"][0]["message"]
    assert "no key for openai (OPENAI_API_KEY not set)" in message
    replayed = _invoke("test", "run", str(path), "--replay", "--json")
    assert "--replay and --direct make no model calls" in replayed.output


def test_models_run_one_test_on_several_models_with_a_comparison(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "m.yaml",
        _doc(
            "compare",
            models=["gpt-4.1-nano", "claude-sonnet-4-5"],
            assertions=[{"type": "icontains", "value": "holiday"}],
        ),
    )
    lines = _invoke("test", "run", str(path), "--json")
    assert lines.exit_code == 1
    by_model = {r["model"]: r for r in _results(lines.output)}
    assert set(by_model) == {"gpt-4.1-nano", "claude-sonnet-4-5"}
    assert by_model["gpt-4.1-nano"]["status"] == "passed"
    assert by_model["claude-sonnet-4-5"]["status"] == "failed"
    assert all(r["total_tokens"] > 0 and r["latency_ms"] > 0 for r in by_model.values())

    table = _invoke("test", "run", str(path))
    said = " ".join(table.output.split())
    assert "compare: models compared" in said, table.output
    rows = [line.split("│") for line in table.output.splitlines() if "│" in line]
    cells = {row[0].strip(): [c.strip() for c in row[1:]] for row in rows}
    assert cells["gpt-4.1-nano"][0] == "passed" and cells["claude-sonnet-4-5"][0] == "failed"
    assert cells["gpt-4.1-nano"][2].endswith("ms") and cells["gpt-4.1-nano"][4].startswith("$")

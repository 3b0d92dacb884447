"""``traceforge test run --replay``: recordings re-served through the in-process proxy.

Recordings are made the way users make them: ``traceforge test run`` through the proxy
against the built-in mock upstream, which replays real provider wire transcripts. Replay runs
then reach no network (every upstream points at a closed port).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from traceforge_cli.main import cli
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

QUESTION = "Plan a short holiday."
#: Recent enough that the proxy's retention pruning keeps the traces made here.
NOW = time.time() - 3600
CLOSED = "http://127.0.0.1:9"


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    YAML().dump(doc, path)
    return path


def _doc(name: str, model: str, *, stream: bool, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": QUESTION}]}
    if stream:
        request["stream"] = True
    return {
        "name": name,
        "request": request,
        "assertions": extra.pop("assertions", [{"type": "latency", "max_ms": 60000}]),
        **extra,
    }


def _run(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["test", "run", *args, "--json"], catch_exceptions=False)
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert lines and lines[-1]["type"] == "summary", result.output
    return result.exit_code, {**lines[-1], "results": lines[:-1]}


def _offline(home: Path) -> None:
    """Every provider at a closed port: a call that reached the network would fail."""
    home.mkdir(parents=True, exist_ok=True)
    providers = ("openai", "anthropic", "gemini", "ollama", "cohere")
    text = "upstreams:\n" + "".join(f"  {p}:\n    base_url: {CLOSED}\n" for p in providers)
    (home / "config.yaml").write_text(text)


def _answer(trace: Trace) -> Any:
    """The answer without ``created``, which the proxy sets when it converts an answer."""
    response = trace.response
    return {k: v for k, v in response.items() if k != "created"} if response else response


def _events(trace: Trace) -> list[tuple[str | None, Any, str | None]]:
    return [(c.event, c.data, c.raw) for c in trace.chunks]


@pytest.mark.parametrize(
    ("model", "stream", "route"),
    [
        ("gpt-4.1-nano", True, "openai"),
        ("gpt-4.1-nano", False, "openai"),
        ("claude-3-5-haiku-latest", True, "converted"),
        ("claude-3-5-haiku-latest", False, "converted"),
        ("gemini-2.0-flash", True, "converted"),
        ("llama3.2", True, "converted"),
        ("command-r-plus", True, "converted"),
    ],
)
def test_replay_relays_and_converts_the_recorded_answer_again(
    home: Path, tmp_path: Path, model: str, stream: bool, route: str
) -> None:
    path = _write(tmp_path / "t.yaml", _doc("holiday", model, stream=stream))
    code, recorded_run = _run(str(path))
    assert code == 0, recorded_run
    store = TraceStore(home)
    recorded = store.get(recorded_run["results"][0]["trace_id"])
    assert recorded.route == route and recorded.metadata.streaming is stream

    _offline(home)
    code, run = _run(str(path), "--replay")
    assert code == 0, run
    assert run["mode"] == "replay" and run["results"][0]["status"] == "passed"
    replayed = TraceStore(home).get(run["results"][0]["trace_id"])
    # A new trace, built by the proxy from the re-served upstream bytes.
    assert replayed.id != recorded.id
    assert replayed.meta["replayed_from"] == f"trace/{recorded.id}"
    assert replayed.meta["source"] == "test"
    assert replayed.route == route and replayed.provider == recorded.provider
    assert replayed.metadata.status == "success"
    assert replayed.metadata.response_headers["x-traceforge-replayed-from"] == (
        f"trace/{recorded.id}"
    )
    # The native events were framed again faithfully (event names, payloads, order) ...
    assert _events(replayed) == _events(recorded)
    assert replayed.metadata.chunks_received == recorded.metadata.chunks_received
    # ... and relayed and converted again into the same answer the app got when live.
    assert _answer(replayed) == _answer(recorded)
    assert replayed.metadata.usage == recorded.metadata.usage
    if recorded.native is not None:
        assert replayed.native is not None
        assert replayed.native.response == recorded.native.response


def test_assertions_run_on_the_replayed_trace(home: Path, tmp_path: Path) -> None:
    """The assertions read the replayed trace (built by the proxy, marked as a replay, with
    the replay header the proxy relayed), not the recording, which has neither."""
    doc = _doc("marked", "gpt-4.1-nano", stream=True)
    path = _write(tmp_path / "t.yaml", doc)
    code, recorded_run = _run(str(path))
    assert code == 0, recorded_run
    recorded_id = recorded_run["results"][0]["trace_id"]
    _offline(home)
    header = 'metadata.response_headers["x-traceforge-replayed-from"]'
    checks = [
        {"type": "equals", "field": "meta.replayed_from", "value": f"trace/{recorded_id}"},
        {"type": "equals", "field": header, "value": f"trace/{recorded_id}"},
    ]
    _write(path, {**doc, "assertions": checks})
    code, run = _run(str(path), "--replay")
    assert code == 0, run
    assert [a["passed"] for a in run["results"][0]["assertions"]] == [True, True]


def _store_with(home: Path, *traces: Trace) -> TraceStore:
    store = TraceStore(home, fsync=False)
    store.save_many(list(traces))
    return store


def _check_text(name: str, text: str, **extra: Any) -> dict[str, Any]:
    doc = _doc(name, "gpt-4o-mini", stream=True, assertions=[{"type": "contains", "value": text}])
    doc["request"]["messages"] = [{"role": "user", "content": "Say hello"}]
    return {**doc, **extra}


def test_lookup_replays_the_newest_recording_or_the_source_trace(
    home: Path, tmp_path: Path
) -> None:
    older = make_trace(text="older answer", streaming=True, epoch_s=NOW)
    newer = make_trace(text="newer answer", streaming=True, epoch_s=NOW + 60)
    other = make_trace(text="other answer", streaming=True, epoch_s=NOW + 120)
    other.request = {**other.request, "temperature": 0.2}  # another request: not a match
    _store_with(home, older, newer, other)
    _offline(home)

    newest = _write(tmp_path / "newest.yaml", _check_text("newest", "newer answer"))
    code, run = _run(str(newest), "--replay")
    assert code == 0, run
    replayed = TraceStore(home).get(run["results"][0]["trace_id"])
    assert replayed.meta["replayed_from"] == f"trace/{newer.id}"

    pinned = _check_text("pinned", "older answer", source_trace=older.id)
    code, run = _run(str(_write(tmp_path / "pinned.yaml", pinned)), "--replay")
    assert code == 0, run
    replayed = TraceStore(home).get(run["results"][0]["trace_id"])
    assert replayed.meta["replayed_from"] == f"trace/{older.id}"

    # Replays are copies, never recordings: the newest match is still the recorded one.
    code, run = _run(str(newest), "--replay")
    assert code == 0, run
    assert TraceStore(home).get(run["results"][0]["trace_id"]).meta["replayed_from"] == (
        f"trace/{newer.id}"
    )


def test_a_request_without_recording_names_the_nearest_and_what_differs(
    home: Path, tmp_path: Path
) -> None:
    recorded = make_trace(text="hello", streaming=True, epoch_s=NOW)
    _store_with(home, recorded)
    _offline(home)
    doc = _check_text("changed", "hello")
    doc["request"]["messages"][0]["content"] = "Say goodbye"
    code, run = _run(str(_write(tmp_path / "t.yaml", doc)), "--replay")
    assert code == 1 or code == 2
    result = run["results"][0]
    assert result["status"] == "error"
    assert result["error"].startswith("no recording for this request (nearest: trace ")
    assert recorded.id in result["error"]
    assert 'differs in: body.messages[0].content: "Say goodbye" != "Say hello"' in (result["error"])


def test_a_request_with_nothing_recorded_says_so(home: Path, tmp_path: Path) -> None:
    _offline(home)
    path = _write(tmp_path / "t.yaml", _check_text("none", "hello"))
    code, run = _run(str(path), "--replay")
    assert code != 0
    error = run["results"][0]["error"]
    assert error.startswith("no recording for this request (no recorded openai")
    assert "traceforge test run` without --replay" in error

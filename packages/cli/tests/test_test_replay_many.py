"""``traceforge test run --replay`` over many tests whose requests are the same: each test
replays its own recording (its ``source_trace``), whatever the concurrency, and its ``--json``
line carries the actual values of the replayed trace it was checked against.

The recordings are OpenAI streams ending as OpenAI ends one (a chunk with the finish reason,
then ``[DONE]``: https://platform.openai.com/docs/api-reference/chat-streaming), re-served
through the in-process proxy; every upstream points at a closed port, so a call that reached
the network would fail.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from traceforge_cli.main import cli
from traceforge_shared.evals.authoring import test_from_trace
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import StreamChunk, Trace

#: Recent enough that the proxy's retention pruning keeps the traces made here.
NOW = time.time() - 3600
CLOSED = "http://127.0.0.1:9"
#: Recordings of one request, each answered differently.
RECORDINGS = 12


def _with_stream_end(trace: Trace) -> Trace:
    last = trace.chunks[-1].offset_ms if trace.chunks else 0.0
    finish = {"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {}, "finish_reason": "stop"}]}  # fmt: skip
    n = len(trace.chunks)
    trace.chunks += [
        StreamChunk(index=n, delta_ms=1.0, offset_ms=last + 1.0, data=finish),
        StreamChunk(index=n + 1, delta_ms=1.0, offset_ms=last + 2.0, raw="[DONE]"),
    ]
    return trace


def _recorded(home: Path) -> list[Trace]:
    """``RECORDINGS`` recordings of the same request, oldest first, answered
    ``answer number <i>``; one test file per recording (``create-from-trace``'s text)."""
    traces = []
    for i in range(RECORDINGS):
        trace = make_trace(text=f"answer number {i}", streaming=True, epoch_s=NOW + i)
        trace.request["messages"] = [{"role": "user", "content": "Say hello"}]
        traces.append(_with_stream_end(trace))
    TraceStore(home, fsync=False).save_many(traces)
    tests = home / "tests"
    tests.mkdir(parents=True)
    for i, trace in enumerate(traces):
        (tests / f"t{i:02d}.yaml").write_text(test_from_trace(trace, name=f"t{i:02d}"))
    providers = ("openai", "anthropic", "gemini", "ollama", "cohere")
    text = "upstreams:\n" + "".join(f"  {p}:\n    base_url: {CLOSED}\n" for p in providers)
    (home / "config.yaml").write_text(text)
    return traces


def _run(*args: str) -> tuple[int, list[dict[str, Any]]]:
    result = CliRunner().invoke(
        cli, ["test", "run", "--replay", "--json", *args], catch_exceptions=False
    )
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert lines and lines[-1]["type"] == "summary", result.output
    return result.exit_code, lines[:-1]


def _outcome(line: dict[str, Any]) -> tuple[Any, ...]:
    """What a result line says, without its times (the latency measured) and trace id (new
    per run)."""
    checks = [
        (a["type"], a["passed"], a["expected"], a["actual"] if a["type"] != "latency" else None)
        for a in line["assertions"]
    ]
    return (line["name"], line["status"], line["total_tokens"], tuple(map(str, checks)))


def test_tests_of_one_request_each_replay_their_own_recording(home: Path) -> None:
    recorded = _recorded(home)
    outcomes = []
    for concurrency in ("1", "8"):
        code, lines = _run("-j", concurrency)
        assert code == 0, lines
        # Lines come as tests finish; by name, they are the recorded order.
        lines.sort(key=lambda line: line["name"])
        assert [line["name"] for line in lines] == [f"t{i:02d}" for i in range(RECORDINGS)]
        store = TraceStore(home)
        for i, line in enumerate(lines):
            replayed = store.get(line["trace_id"])
            assert replayed.meta["replayed_from"] == f"trace/{recorded[i].id}"
            assert replayed.id != recorded[i].id
            # The actual values are the replayed trace's, handed over by the run (the
            # writer may not have saved it when the line is printed).
            fuzzy = next(a for a in line["assertions"] if a["type"] == "fuzzy")
            assert fuzzy["actual"] == f"answer number {i}" == fuzzy["expected"]
        outcomes.append([_outcome(line) for line in lines])
    assert outcomes[0] == outcomes[1]


def test_a_miss_among_many_is_reported_for_that_test_only(home: Path) -> None:
    recorded = _recorded(home)
    # Without its source_trace: a test made from a trace replays that trace when it answered
    # the same provider the same way, even when the request was changed since.
    changed = home / "tests" / "t05.yaml"
    text = changed.read_text().replace("Say hello", "Say goodbye")
    changed.write_text(text.replace(f"source_trace: {recorded[5].id}", ""))
    code, lines = _run("-j", "8")
    assert code == 2
    statuses = {line["name"]: line["status"] for line in lines}
    assert statuses.pop("t05") == "error"
    assert set(statuses.values()) == {"passed"} and len(statuses) == RECORDINGS - 1
    error = next(line["error"] for line in lines if line["name"] == "t05")
    assert error.startswith("no recording for this request (nearest: trace ")
    nearest = error.removeprefix("no recording for this request (nearest: trace ")[:24]
    assert nearest in {trace.id for trace in recorded}
    assert 'body.messages[0].content: "Say goodbye" != "Say hello"' in error


def test_python_and_plain_assertions_are_checked_alike(home: Path) -> None:
    """A ``python`` assertion (a child process, checked off the event loop) and the plain
    ones (checked on it) see the same replayed answer."""
    _recorded(home)
    test = home / "tests" / "t03.yaml"
    text = test.read_text().replace(
        "assertions:\n",
        "assertions:\n  - type: python\n    value: \"output == 'answer number 3'\"\n"
        "  - type: python\n    value: \"output == 'answer number 4'\"\n",
    )
    test.write_text(text)
    code, lines = _run(str(test))
    assert code == 1, lines
    checks = lines[0]["assertions"]
    assert [(a["type"], a["passed"]) for a in checks[:3]] == [
        ("python", True),
        ("python", False),
        ("contains", True),
    ]

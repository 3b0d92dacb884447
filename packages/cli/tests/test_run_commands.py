"""``traceforge run`` and ``traceforge session``: over runs stored through the store API
(app spans written with ``SpanStore.write``, LLM calls saved as traces with a span context),
and over a run recorded by the proxy on the built-in mock upstream, driven by the official
OpenAI SDK sending a W3C ``traceparent`` header."""

from __future__ import annotations

import json
import os

import openai
from click.testing import CliRunner

from traceforge_cli.main import cli
from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_shared.config import Config
from traceforge_shared.spans import Span
from traceforge_shared.store import TraceStore
from traceforge_shared.testing_runs import RUN_EPOCH, save_agent_run


def _run(*args: str, columns: int = 120) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": str(columns)})
    return result.exit_code, result.stdout, result.stderr


def test_run_list_formats_and_filters(store: TraceStore) -> None:
    first = save_agent_run(store, session_id="chat-1")
    failed = save_agent_run(store, session_id="chat-1", epoch_s=RUN_EPOCH + 100, tool_failed=True)
    alone = save_agent_run(store, epoch_s=RUN_EPOCH + 200, name="invoke_agent planner")

    code, out, _ = _run("run", "list", "--format", "tsv")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split("\t")[:3] == ["trace_id", "start_time", "name"]
    cells = [row.split("\t") for row in rows]
    assert [c[0] for c in cells] == [alone.trace_id, failed.trace_id, first.trace_id]
    # 4 spans, 2 LLM calls, 2000 ms, 20 in / 10 out, 2 x $0.00042; status; session
    assert cells[1][3:] == ["4", "2", "2000.0", "20", "10", "0.000840", "error", "chat-1"]
    assert cells[0][2] == "invoke_agent planner" and cells[0][-1] == ""

    code, out, _ = _run("run", "list", "--format", "table")
    assert code == 0
    assert failed.trace_id[:8] in out and "error (2)" in out and "2,000 ms" in out
    assert "$0.000840" in out and "20→10" in out

    code, out, _ = _run("run", "list", "--session", "chat-1", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [r["trace_id"] for r in listed] == [failed.trace_id, first.trace_id]
    assert listed[0]["error_count"] == 2 and listed[1]["status"] == "ok"

    code, out, _ = _run("run", "list", "--since", "2026-11-23T08:02:00Z", "--format", "tsv")
    assert [row.split("\t")[0] for row in out.splitlines()[1:]] == [alone.trace_id]

    code, out, err = _run("run", "list", "--limit", "1", "--format", "tsv")
    assert len(out.splitlines()) == 2 and "1 of 3 shown" in err

    code, out, _ = _run("run", "list", "--status", "error", "--format", "json")
    assert [r["trace_id"] for r in json.loads(out)] == [failed.trace_id]


def test_run_list_empty_and_bad_input(store: TraceStore) -> None:
    code, out, _ = _run("run", "list", "--format", "table")
    assert code == 0 and "No runs in" in out and "traceparent" in out
    code, _, err = _run("run", "list", "--since", "yesterday")
    assert code == 2 and "--since" in err and "Traceback" not in err


def test_run_show_tree_by_prefix_and_json(store: TraceStore) -> None:
    run = save_agent_run(store, session_id="chat-1", tool_failed=True)
    code, out, _ = _run("run", "show", run.trace_id[:7], columns=160)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == f"Run {run.trace_id}"
    assert "4 spans · 2 LLM calls · tokens 20→10 · cost $0.000840" in lines[1]
    assert "session chat-1" in out
    tree = [line for line in lines if "gpt-4o-mini" in line or "weather" in line]
    assert tree[0].startswith("invoke_agent weather")
    assert tree[1].startswith("├─ chat gpt-4o-mini") and run.call_ids[0][:8] in tree[1]
    assert tree[2].startswith("├─ execute_tool get_weather")
    assert "error: city not found" in tree[2]
    assert tree[3].startswith("└─ chat gpt-4o-mini") and run.call_ids[1][:8] in tree[3]
    assert "800 ms" in tree[1] and "$0.000420" in tree[1] and "10→5" in tree[1]
    # the time bars: the tool call (0.95-1.2 s of 2 s) starts after the first LLM call's bar
    assert tree[2].index("█") > tree[1].index("█")

    code, out, _ = _run("run", "show", run.trace_id, columns=80)  # a narrow terminal
    assert all(len(line) <= 80 for line in out.splitlines())
    narrow = [line for line in out.splitlines() if line.startswith("├─ execute_tool")]
    assert narrow and "tool" in narrow[0] and "250 ms" in narrow[0] and "error" in narrow[0]

    code, out, _ = _run("run", "show", run.trace_id, "--json")
    data = json.loads(out)
    assert data["trace_id"] == run.trace_id and data["span_count"] == 4 and data["errors"] == 2
    assert data["summary"]["llm_calls"] == 2
    (root,) = data["spans"]
    assert root["span_id"] == run.root_span_id and root["kind"] == "agent"
    children = root["children"]
    assert [c["span_id"] for c in children] == [
        run.call_span_ids[0],
        run.tool_span_id,
        run.call_span_ids[1],
    ]
    assert [c["offset_ms"] for c in children] == [100.0, 950.0, 1250.0]
    assert children[0]["trace_ref"] == run.call_ids[0] and children[0]["depth"] == 1
    assert children[0]["usage"]["prompt_tokens"] == 10
    assert children[1]["status_message"] == "city not found"


def test_run_show_errors_are_one_line(store: TraceStore) -> None:
    a = save_agent_run(store, trace_id="ab" + "1" * 30)
    save_agent_run(store, trace_id="ab" + "2" * 30)
    for arg, words in (
        ("ab", "ambiguous"),
        ("not-hex", "not a run id"),
        ("cd" * 16, "no run with id"),
    ):
        code, _, err = _run("run", "show", arg)
        assert code == 1 and words in err and "Traceback" not in err, err
    assert _run("run", "show", a.trace_id[:3])[0] == 0


def test_run_show_marks_a_span_whose_parent_is_missing(store: TraceStore) -> None:
    run_id = "5" * 32
    store.spans.write(
        [
            Span(
                trace_id=run_id,
                span_id="1" * 16,
                parent_span_id="2" * 16,  # never received
                name="retrieve docs",
                kind="retrieval",
                start_ns=10**18,
                end_ns=10**18 + 5_000_000,
                status="ok",
            )
        ]
    )
    code, out, _ = _run("run", "show", run_id)
    assert code == 0 and "retrieve docs (parent missing)" in out and "5.0 ms" in out


def test_sessions_list_and_show(store: TraceStore) -> None:
    first = save_agent_run(store, session_id="chat-1")
    second = save_agent_run(store, session_id="chat-1", epoch_s=RUN_EPOCH + 100, tool_failed=True)
    save_agent_run(store, session_id="user-9", epoch_s=RUN_EPOCH + 300)
    save_agent_run(store, epoch_s=RUN_EPOCH + 400)  # no session

    code, out, _ = _run("session", "list", "--format", "tsv")
    assert code == 0
    rows = [row.split("\t") for row in out.splitlines()[1:]]
    assert [r[0] for r in rows] == ["user-9", "chat-1"]
    assert rows[1][1:7] == ["2", "4", "40", "20", "0.001680", "2"]

    code, out, _ = _run("session", "list", "--since", "2026-11-23T08:04:00Z", "--json")
    assert [s["session_id"] for s in json.loads(out)] == ["user-9"]

    code, out, _ = _run("session", "show", "chat-1", "--format", "table")
    assert code == 0
    assert out.splitlines()[0].startswith("Session chat-1: 2 runs · 4 LLM calls · tokens 40→20")
    assert "$0.001680 · 2 failed spans" in out
    assert out.index(first.trace_id[:8]) < out.index(second.trace_id[:8])  # oldest first

    code, out, _ = _run("session", "show", "chat-1", "--json")
    data = json.loads(out)
    assert data["session"]["runs"] == 2 and data["session"]["cost_usd"] == 0.00168
    assert data["session"]["last_time"] == "2026-11-23T08:01:42.000000Z"
    assert [r["trace_id"] for r in data["runs"]] == [first.trace_id, second.trace_id]

    code, _, err = _run("session", "show", "nobody")
    assert code == 1 and "no session with id 'nobody'" in err


def test_run_recorded_by_the_proxy_from_a_traceparent(store: TraceStore) -> None:
    """Two calls of an app's agent span, through the real proxy and the official SDK: the
    run lists them as the agent span's children (the agent span itself never reached
    TraceForge, so each is a root marked "parent missing")."""
    run_id = os.urandom(16).hex()
    agent_span = os.urandom(8).hex()
    config = Config()
    config.proxy.port = 0
    with BackgroundProxy(ProxyService(config, {}, store, mock_delay_ms=0)) as proxy:
        with openai.OpenAI(base_url=proxy.url, api_key="sk-test", max_retries=0) as client:
            for question in ("Plan the trip", "Book the hotel"):
                client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": question}],
                    extra_headers={
                        "traceparent": f"00-{run_id}-{agent_span}-01",
                        "X-TraceForge-Session-Id": "trip-7",
                    },
                )
            stream = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "Summarise"}],
                stream=True,
                extra_headers={"traceparent": f"00-{run_id}-{agent_span}-01"},
            )
            list(stream)
        assert proxy.drain()
    traces = store.list(limit=None)
    assert len(traces) == 3
    code, out, _ = _run("run", "list", "--format", "json")
    (listed,) = json.loads(out)
    assert listed["trace_id"] == run_id and listed["span_count"] == 3
    assert listed["llm_calls"] == 3 and listed["session_id"] == "trip-7"
    assert listed["input_tokens"] > 0 and listed["status"] == "ok"

    code, out, _ = _run("run", "show", run_id[:10], "--json")
    roots = json.loads(out)["spans"]
    assert {r["trace_ref"] for r in roots} == {t.id for t in traces}
    assert all(r["parent_span_id"] == agent_span and r["orphan"] for r in roots)
    assert all(r["kind"] == "llm" and r["source"] == "proxy" for r in roots)

    code, out, _ = _run("session", "show", "trip-7", "--format", "tsv")
    assert code == 0 and run_id in out

"""End to end: ``examples/agent_run.py`` run as a user runs it, against the real proxy (mock
upstream replaying recorded transcripts) and the real web API (OTLP ingest at ``/v1/traces``),
both on free ports; its run is then one tree in ``/api/runs/{id}``, in
``traceforge run show`` and on the TUI's runs screen."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import textual.constants
from textual.pilot import Pilot

from traceforge_proxy.runner import BackgroundProxy
from traceforge_shared.store import TraceStore
from traceforge_tui import make_app
from traceforge_tui.screens.runs import RunsScreen
from traceforge_web_api.embedded import bind, embedded_server

EXAMPLE = Path(__file__).parents[3] / "examples" / "agent_run.py"


@pytest.fixture
def api(store: TraceStore) -> Iterator[str]:
    """The web API over ``store`` on a free port of 127.0.0.1, in a thread; its root URL."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = embedded_server(store)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="api", daemon=True
    )
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)  # waiting for the server to listen, not measuring anything
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from _walk(node.get("children", []))


def _check_tree(tree: dict[str, Any], run_id: str) -> None:
    (root,) = tree["spans"]
    assert root["name"] == "invoke_agent weather_agent"
    # fields at their default are left out: source "otlp", no parent, status "unset"
    assert root["kind"] == "agent" and root.get("source") == "sdk"
    assert root.get("parent_span_id") is None and not root["orphan"]
    assert root["session_id"] == "user-42"
    assert root["attributes"]["service.name"] == "agent_run"
    assert tree["summary"]["llm_calls"] == 5 and tree["summary"]["session_id"] == "user-42"
    children = root["children"]
    llm = [c for c in children if c["kind"] == "llm"]
    tools = [c for c in children if c["kind"] == "tool"]
    assert len(llm) == 5 and len(tools) == 4 and len(children) == 9
    assert all(
        c["source"] == "proxy" and c["trace_ref"] and c["session_id"] == "user-42" for c in llm
    )
    assert all(c["tags"] == ["example"] for c in llm)
    assert all(c["name"] == "execute_tool get_weather" for c in tools)
    assert all(c["attributes"]["gen_ai.tool.call.id"].startswith("call_") for c in tools)
    # in time order: the agent asks, runs the tool, asks again, ...; the last call answers
    order = [c["kind"] for c in sorted(children, key=lambda c: c["offset_ms"])]
    assert order == ["llm", "tool"] * 4 + ["llm"]
    assert {s["trace_id"] for s in _walk(tree["spans"])} == {run_id}
    assert tree["span_count"] == 10 and tree["errors"] == 0


async def _settle(pilot: Pilot[Any]) -> None:
    """Let the app's workers finish and their messages be handled (as the TUI's tests do)."""
    for _ in range(2):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def _tui_tree(store: TraceStore) -> list[str]:
    """The span names the TUI's runs screen shows for the newest run, top to bottom."""
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=(160, 45)) as pilot:
        await _settle(pilot)
        await pilot.press("R")
        await _settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, RunsScreen)
        for _ in range(500):  # waiting for the screen's worker to read the run, at most ~10 s
            if screen.waterfall.row_count:
                break
            await pilot.pause(0.02)
        waterfall = screen.waterfall
        names = [str(waterfall.get_row_at(i)[0]) for i in range(waterfall.row_count)]
        await _settle(pilot)
        return names


async def test_the_agent_example_is_one_run(
    proxy: BackgroundProxy,
    api: str,
    store: TraceStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "TRACEFORGE_"))
    }
    env |= {
        "TRACEFORGE_PROXY_URL": proxy.url.removesuffix("/v1"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": api,
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("[tool] get_weather(") == 4
    last = done.stdout.strip().splitlines()[-1]
    run_id = last.split()[1].rstrip(":")
    assert last == f"run {run_id}: traceforge run show {run_id}"
    assert proxy.drain()
    assert len(store.list(limit=None)) == 5

    answer = await asyncio.to_thread(httpx.get, f"{api}/api/runs/{run_id}")
    assert answer.status_code == 200, answer.text
    _check_tree(answer.json(), run_id)

    traceforge = shutil.which("traceforge", path=str(Path(sys.executable).parent))
    assert traceforge is not None
    shown = await asyncio.to_thread(
        subprocess.run,
        [traceforge, "run", "show", run_id[:12], "--json"],
        env={**env, "TRACEFORGE_HOME": str(store.home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    _check_tree(json.loads(shown.stdout), run_id)

    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")
    names = await _tui_tree(store)
    assert names[0] == "invoke_agent weather_agent"
    steps = ["chat gpt-4o-mini", "execute_tool get_weather"] * 4 + ["chat gpt-4o-mini"]
    assert [name.lstrip("├└─ ") for name in names[1:]] == steps
    assert names[-1].startswith("└─ ") and all(n.startswith("├─ ") for n in names[1:-1])

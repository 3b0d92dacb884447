"""The playground: from a trace recorded by the real proxy on its built-in mock upstream
(driven by the official OpenAI SDK), ``e`` opens the request in the editor; the edited
request is sent through the proxy (recorded as a new trace), streamed back, and compared
with the original; ``m`` sends the same request to another model (another provider: the
proxy converts it); ``n`` saves the new call as a test; bad JSON and a missing proxy say so."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_shared.config import Config
from traceforge_shared.evals.loader import load_test_file
from traceforge_shared.store import TraceStore
from traceforge_tui import make_app
from traceforge_tui.screens.diff import DiffScreen
from traceforge_tui.screens.model_prompt import ModelPrompt
from traceforge_tui.screens.playground import PlaygroundScreen
from traceforge_tui.screens.trace_detail import TraceDetailScreen

from .helpers import notifications, settle, static_text, wait_until

USER = [{"role": "user", "content": "Say hello"}]


def _write_port(home: Path, port: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(f"proxy:\n  port: {port}\n")


@pytest.fixture
def proxy(store: TraceStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[BackgroundProxy]:
    """The proxy on the built-in mock upstream, saving to the test's home, whose config.yaml
    names its port (as ``traceforge start`` would)."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    config = Config()
    config.proxy.port = 0
    proxy_store = TraceStore(store.home, fsync=False)
    with BackgroundProxy(ProxyService(config, {}, proxy_store, mock_delay_ms=0)) as running:
        _write_port(store.home, int(running.url.rsplit(":", 1)[1].split("/")[0]))
        yield running


def _record(proxy: BackgroundProxy, store: TraceStore) -> str:
    """One streamed chat completion through the proxy, as an app makes it; its trace id."""
    with openai.OpenAI(base_url=proxy.url, api_key="sk-test", max_retries=0) as client:
        list(client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))  # type: ignore[arg-type]
    assert proxy.drain()
    return store.list(limit=1)[0].id


async def _playground(pilot: Pilot[Any], trace_id: str) -> PlaygroundScreen:
    app = pilot.app
    await settle(pilot)
    await app.push_screen(TraceDetailScreen(app.store, trace_id))  # type: ignore[attr-defined]
    await settle(pilot)
    await pilot.press("e")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, PlaygroundScreen)
    editor = screen.query_one("#playground-editor", TextArea)
    await wait_until(pilot, lambda: app.focused is editor, what="the editor's focus")
    return screen


async def _sent(pilot: Pilot[Any], screen: PlaygroundScreen) -> None:
    await wait_until(
        pilot,
        lambda: (
            screen.new_trace is not None
            or "Not sent" in static_text(pilot.app, "#playground-status")
        ),
        within=30,
        what="the new call's trace",
    )
    await settle(pilot)


async def test_edit_send_stream_diff_and_save(proxy: BackgroundProxy, store: TraceStore) -> None:
    original = _record(proxy, store)
    app = make_app(TraceStore(store.home, fsync=False))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _playground(pilot, original)
        editor = screen.query_one("#playground-editor", TextArea)
        assert app.focused is editor
        body = json.loads(editor.text)
        assert body["model"] == "gpt-4o-mini" and body["messages"] == USER
        body["messages"][0]["content"] = "Say goodbye"
        editor.text = json.dumps(body, indent=2)
        await pilot.press("ctrl+s")
        await _sent(pilot, screen)
        new = screen.new_trace
        assert new is not None and new.id != original
        assert new.request["messages"][0]["content"] == "Say goodbye"
        assert screen.result is not None and screen.result.trace_id == new.id
        assert screen.result.text and screen.result.text == static_text(app, "#playground-answer")
        assert new.id in static_text(app, "#playground-status")
        assert "Answer similarity" in static_text(app, "#playground-similarity")
        assert screen.diff is not None
        changed = {c.path: c.to for c in screen.diff.changed}
        assert changed["request.messages[0].content"] == "Say goodbye"
        # the full diff screen, then back
        await pilot.press("escape", "d")
        await settle(pilot)
        assert isinstance(app.screen, DiffScreen)
        await pilot.press("escape")
        await settle(pilot)
        # save the new call as a test (the shared API; a second save is refused)
        await pilot.press("n")
        await settle(pilot)
        saved = sorted((store.home / "tests").glob("*.yaml"))
        assert len(saved) == 1
        case = load_test_file(saved[0])
        assert case.source_trace == new.id
        assert case.request["messages"] == [{"role": "user", "content": "Say goodbye"}]
        await pilot.press("n")
        await settle(pilot)
        assert any("Cannot save as a test" in n for n in notifications(app))
        assert len(list((store.home / "tests").glob("*.yaml"))) == 1


async def test_shadow_run_on_another_provider(proxy: BackgroundProxy, store: TraceStore) -> None:
    original = _record(proxy, store)
    app = make_app(TraceStore(store.home, fsync=False))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _playground(pilot, original)
        await pilot.press("escape", "m")
        await settle(pilot)
        assert isinstance(app.screen, ModelPrompt)
        app.screen.query_one("#model-input", Input).value = "claude-3-5-haiku-latest"
        await pilot.press("enter")
        await _sent(pilot, screen)
        new = screen.new_trace
        assert new is not None
        assert new.model == "claude-3-5-haiku-latest" and new.provider == "anthropic"
        assert new.request["messages"] == USER  # the rest of the request kept
        assert json.loads(screen.query_one("#playground-editor", TextArea).text)["model"] == (
            "claude-3-5-haiku-latest"
        )
        assert screen.result is not None and screen.result.text


async def test_shadow_run_from_the_detail(proxy: BackgroundProxy, store: TraceStore) -> None:
    original = _record(proxy, store)
    app = make_app(TraceStore(store.home, fsync=False))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await app.push_screen(TraceDetailScreen(app.store, original))
        await settle(pilot)
        await pilot.press("M")
        await settle(pilot)
        assert isinstance(app.screen, ModelPrompt)
        app.screen.query_one("#model-input", Input).value = "gpt-4o"
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PlaygroundScreen)
        await _sent(pilot, screen)
        assert screen.new_trace is not None and screen.new_trace.model == "gpt-4o"


async def test_invalid_json_is_not_sent(proxy: BackgroundProxy, store: TraceStore) -> None:
    original = _record(proxy, store)
    app = make_app(TraceStore(store.home, fsync=False))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _playground(pilot, original)
        screen.query_one(
            "#playground-editor", TextArea
        ).text = '{"model": "gpt-4o",\n  "messages": [}'
        await pilot.press("ctrl+s")
        await settle(pilot)
        status = static_text(app, "#playground-status")
        assert status.startswith("Not sent: not valid JSON: line 2, column")
        assert screen.result is None
    assert len(store.list()) == 1


async def test_without_a_proxy_says_how_to_start_one(store: TraceStore) -> None:
    from traceforge_shared.testing import make_trace

    trace = make_trace(streaming=True)
    store.save(trace)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _write_port(store.home, port)
    app = make_app(TraceStore(store.home, fsync=False))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _playground(pilot, trace.id)
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: "traceforge start" in static_text(app, "#playground-status")
        )
        assert f"127.0.0.1:{port}" in static_text(app, "#playground-status")
        assert screen.new_trace is None

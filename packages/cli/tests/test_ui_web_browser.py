"""``traceforge ui --web`` in headless Chromium: the page loads with every non-local request
aborted and counted (none may be asked for), through a forwarded port (as
``ssh -L 9000:127.0.0.1:8000``: the websocket must follow the page's address), the trace list
renders, the terminal has the keyboard without a click, and deep links open a trace or a
screen. The UI process is the real one textual-serve starts for each connection.

xterm.js draws on a canvas, so the test reads what the terminal is told to draw: the
websocket frames the page receives (terminal output, escape sequences stripped).
Skipped where there is no Chromium (``apt-get install chromium``) or no Playwright.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual_serve.server import Server

from traceforge_cli.webui import guarded_server, serve_beside, start_options
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_web_api.headless import chromium_path, local_only_page

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="no Chromium at /usr/bin/chromium (apt-get install chromium) or no playwright",
)

_ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()=>][0-9A-Za-z]?"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def _forward(listen_port: int, target_port: int) -> asyncio.Server:
    """A TCP port forward, as ``ssh -L listen_port:127.0.0.1:target_port`` makes."""

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return await asyncio.start_server(connected, "127.0.0.1", listen_port)


@dataclass
class WebUi:
    port: int  # the server's own port
    forwarded: int  # a port forwarded to it
    trace_id: str


@pytest.fixture
def web_ui(tmp_path: Path) -> Iterator[WebUi]:
    """The web UI of a home with two traces, served in a thread, plus a forwarded port."""
    home = tmp_path / "home"
    store = TraceStore(home, fsync=False)
    store.save(make_trace(model="gpt-4o-mini", text="first answer"))
    target = make_trace(model="claude-3-5-haiku-latest", provider="anthropic", text="Bonjour!")
    store.save(target)
    store.index.close()
    port, forwarded = _free_port(), _free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stops: list[Callable[[], Awaitable[None]]] = []

    async def run() -> None:
        server = guarded_server(Server, home, port, [])
        stops.append(await serve_beside(server, port))
        forward = await _forward(forwarded, port)
        stops.append(forward.wait_closed)

        def close_forward() -> Awaitable[None]:
            forward.close()
            return asyncio.sleep(0)

        stops.append(close_forward)
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(run(), loop).result(30)
    assert ready.wait(30)
    yield WebUi(port, forwarded, target.id)

    async def stop() -> None:
        for stopping in reversed(stops):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stopping(), 10)

    asyncio.run_coroutine_threadsafe(stop(), loop).result(60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


class Frames:
    """The terminal output the page received on its websockets, as plain text."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []

    def attach(self, websocket: Any) -> None:
        websocket.on("framereceived", self._received)

    def _received(self, payload: str | bytes) -> None:
        self.raw.append(payload if isinstance(payload, bytes) else payload.encode())

    @property
    def text(self) -> str:
        return _ESCAPES.sub(b"", b"".join(self.raw)).decode("utf-8", "replace")


def _wait_for_text(page: Any, frames: Frames, *words: str, timeout_s: float = 60) -> None:
    deadline = timeout_s * 1000
    waited = 0
    while not all(word in frames.text for word in words):
        if waited > deadline:
            raise AssertionError(f"{words} never drawn; drawn: {frames.text[-2000:]!r}")
        page.wait_for_timeout(100)
        waited += 100


@pytest.mark.timeout(180)
def test_the_list_renders_offline_through_a_forwarded_port(web_ui: WebUi) -> None:
    with local_only_page() as watched:
        page = watched.page
        frames = Frames()
        page.on("websocket", frames.attach)
        page.goto(f"http://127.0.0.1:{web_ui.forwarded}/", wait_until="load")
        _wait_for_text(page, frames, "gpt-4o-mini", "claude-3-5-haiku-latest")
        page.wait_for_selector("body.-first-byte", timeout=60_000)
        focused = page.evaluate("document.activeElement && document.activeElement.className")
        assert "xterm-helper-textarea" in focused  # keys go to the terminal, no click needed
        assert "dashboard" not in frames.text  # the header's subtitle (the footer has "Dashboard")
        page.keyboard.press("a")  # the dashboard, typed without a click
        _wait_for_text(page, frames, "dashboard")
        assert watched.foreign == [], f"non-local requests: {watched.foreign}"
    sockets = [url for url in watched.requested if url.startswith("ws")]
    assert sockets and all(
        url.startswith(f"ws://127.0.0.1:{web_ui.forwarded}/ws") for url in sockets
    ), sockets
    assert not any("fonts.googleapis" in url for url in watched.requested)
    assert any(url.endswith(".ttf") or "xterm.css" in url for url in watched.requested)


@pytest.mark.timeout(180)
def test_a_deep_link_opens_the_trace(web_ui: WebUi) -> None:
    with local_only_page() as watched:
        page = watched.page
        frames = Frames()
        page.on("websocket", frames.attach)
        page.goto(f"http://127.0.0.1:{web_ui.port}/?trace={web_ui.trace_id}", wait_until="load")
        _wait_for_text(page, frames, f"trace {web_ui.trace_id}", "Conversation", "Bonjour!")
        assert watched.foreign == []
    assert any(f"/ws/trace/{web_ui.trace_id}" in url for url in watched.requested)


def test_start_options_refuse_anything_else() -> None:
    assert start_options("trace", "0123abcd") == ["--trace", "0123abcd"]
    assert start_options("screen", "dashboard") == ["--screen", "dashboard"]
    for kind, value in (("trace", "x; rm -rf /"), ("screen", "nope"), ("cmd", "ls")):
        with pytest.raises(ValueError, match=r"not a deep link|no screen"):
            start_options(kind, value)

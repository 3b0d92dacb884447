"""``traceforge ui --web`` refuses what the REST API refuses: foreign Host headers (DNS
rebinding, ``421``) and pages of other origins (``403``), its websocket included, which
would otherwise let any web page drive the terminal UI. The textual-serve app is served on
a loopback socket and driven with aiohttp."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from textual_serve.server import Server

from traceforge_cli.commands.ui import guarded_server, web_refusal
from traceforge_web_api.security import HostAllowlist


async def _answers(requests: list[tuple[str, dict[str, str]]]) -> list[int]:
    server = guarded_server(Server, "true", 0, ["ui.lan"])
    app = await server._make_app()
    statuses = []
    async with TestServer(app, host="127.0.0.1") as test_server, aiohttp.ClientSession() as http:
        for path, headers in requests:
            url = f"http://127.0.0.1:{test_server.port}{path}"
            async with http.get(url, headers=headers) as response:
                statuses.append(response.status)
                if response.status >= 400:
                    assert "error" in await response.json()
    return statuses


@pytest.mark.timeout(60)
def test_the_web_ui_refuses_foreign_hosts_and_origins() -> None:
    websocket = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
    websocket["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
    statuses = asyncio.run(
        _answers(
            [
                ("/", {"Host": "evil.example:8000"}),  # DNS rebinding
                ("/", {"Host": "127.0.0.1:8000", "Origin": "http://evil.example"}),
                ("/ws", {**websocket, "Host": "127.0.0.1:8000", "Origin": "http://evil.example"}),
                ("/static/nothing.js", {"Host": "evil.example"}),
                ("/", {"Host": "127.0.0.1:8000"}),
                ("/", {"Host": "ui.lan:8000", "Origin": "http://ui.lan:8000"}),
            ]
        )
    )
    assert statuses[:4] == [421, 403, 403, 421]
    assert statuses[4:] == [200, 200]


def test_web_refusal() -> None:
    hosts = HostAllowlist()
    assert web_refusal("localhost:8000", "http://localhost:8000", hosts) is None
    assert web_refusal("[::1]:8000", None, hosts) is None
    assert web_refusal(None, None, hosts) == (
        421,
        "no Host header is not this server's: it answers to 127.0.0.1, localhost, [::1]",
    )
    refusal = web_refusal("127.0.0.1", "null", hosts)
    assert refusal is not None and refusal[0] == 403

"""The proxy keeps no cookies: a ``Set-Cookie`` of an upstream is relayed to the app that
got the answer, never stored and sent along with other apps' (or the same app's) next
requests. A proxy shared by several apps must not carry one's session to another
(aiohttp's default client session keeps a cookie jar)."""

from __future__ import annotations

from pathlib import Path

import openai
from aiohttp import web
from aiohttp.test_utils import TestServer

from .conftest import MakeProxy

#: A real OpenAI chat completion (packages/proxy/tests/data/provider-streams/openai-chat).
COMPLETION = (
    Path(__file__).parent / "data" / "provider-streams" / "openai-chat" / "completion.json"
).read_bytes()


async def test_an_upstream_cookie_is_relayed_but_never_sent_back_upstream(
    make_proxy: MakeProxy,
) -> None:
    cookies_received: list[str | None] = []

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        cookies_received.append(request.headers.get("Cookie"))
        return web.Response(
            body=COMPLETION,
            content_type="application/json",
            headers={"Set-Cookie": "upstream_session=abc123; Path=/"},
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    server = TestServer(app, host="localhost")  # a host name: aiohttp's jar refuses IPs
    await server.start_server()
    try:
        service = await make_proxy(base_url=f"http://localhost:{server.port}/v1")
        first_app = openai.AsyncOpenAI(base_url=service.url, api_key="sk-a", max_retries=0)
        first = await first_app.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert "upstream_session=abc123" in first.headers.get("set-cookie", "")
        await first_app.close()
        # Another app through the same proxy: its request must not carry the first's cookie.
        other_app = openai.AsyncOpenAI(base_url=service.url, api_key="sk-b", max_retries=0)
        await other_app.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "again"}]
        )
        await other_app.close()
    finally:
        await server.close()
    assert cookies_received == [None, None]

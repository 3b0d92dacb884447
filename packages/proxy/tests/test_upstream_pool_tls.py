"""The upstream pool over TLS, as every real provider is reached: a local HTTPS upstream
with a certificate from a test CA (``trustme``), the pool verifying it (hostname and chain)
and keeping the connection; through the proxy, with the CA trusted the way a user trusts a
corporate one (``SSL_CERT_FILE``), the official ``openai`` SDK gets the upstream's answer."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import openai
import pytest
import trustme
from aiohttp import web

from traceforge_proxy.testing import saved_traces
from traceforge_proxy.upstream_pool import UpstreamConnectError, UpstreamPool, pool_request_target

from .conftest import MakeProxy

#: A real OpenAI chat completion (packages/proxy/tests/data/provider-streams/openai-chat).
COMPLETION = (
    Path(__file__).parent / "data" / "provider-streams" / "openai-chat" / "completion.json"
).read_bytes()
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=10.0)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


class TlsUpstream:
    """An aiohttp app answering chat completions over HTTPS; counts the TLS connections
    (peer ports) its requests came on."""

    def __init__(self) -> None:
        self.peers: list[int] = []
        self.url = ""

    async def answer(self, request: web.Request) -> web.Response:
        await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.peers.append(peer[1] if peer else -1)
        return web.Response(body=COMPLETION, content_type="application/json")


@pytest.fixture
async def upstream(ca: trustme.CA) -> AsyncIterator[TlsUpstream]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    tls = TlsUpstream()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", tls.answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = runner.addresses[0][1]
    tls.url = f"https://localhost:{port}/v1"
    try:
        yield tls
    finally:
        await runner.cleanup()


def _trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_the_pool_verifies_the_upstreams_certificate_and_keeps_the_connection(
    ca: trustme.CA, upstream: TlsUpstream
) -> None:
    pool = UpstreamPool(4, ssl_context=_trusting(ca))
    where = pool_request_target(f"{upstream.url}/chat/completions", "POST")
    assert where is not None
    origin, target = where
    assert origin.tls and origin.host == "localhost"
    try:
        for _ in range(3):
            response = await pool.request(
                "POST", origin, target, {"Content-Type": "application/json"}, b"{}", TIMEOUT
            )
            body = b"".join([piece async for piece in response.iter_any()])
            response.release()
            assert response.status == 200
            assert body == COMPLETION
    finally:
        await pool.close()
    assert len(upstream.peers) == 3 and len(set(upstream.peers)) == 1  # one TLS connection


async def test_a_certificate_the_pool_does_not_trust_is_a_connect_error(
    upstream: TlsUpstream,
) -> None:
    pool = UpstreamPool(4)  # the system's CAs: the test CA is not among them
    where = pool_request_target(f"{upstream.url}/chat/completions", "POST")
    assert where is not None
    try:
        with pytest.raises(UpstreamConnectError, match="localhost") as caught:
            await pool.request("POST", *where, {}, b"{}", TIMEOUT)
    finally:
        await pool.close()
    assert "certificate" in str(caught.value).lower()
    assert upstream.peers == []


async def test_the_proxy_reaches_an_https_upstream_through_the_pool(
    ca: trustme.CA,
    upstream: TlsUpstream,
    make_proxy: MakeProxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # as a user trusts a corporate CA
    calls: list[str] = []
    real_request = UpstreamPool.request

    async def counted(self: UpstreamPool, method: str, *args: object, **kw: object) -> object:
        calls.append(method)
        return await real_request(self, method, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(UpstreamPool, "request", counted)
    service = await make_proxy(base_url=upstream.url)
    client = openai.AsyncOpenAI(base_url=service.url, api_key="sk-tls", max_retries=0)
    try:
        for _ in range(2):
            completion = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
            assert completion.model_dump(exclude_unset=True) == json.loads(COMPLETION)
    finally:
        await client.close()
    traces = await saved_traces(service, 2)
    assert [t.metadata.status_code for t in traces] == [200, 200]
    assert calls == ["POST", "POST"]
    assert len(set(upstream.peers)) == 1

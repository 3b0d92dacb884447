"""What a web page must not do to the API: DNS rebinding (Host allowlist, ``421``),
cross-site writes (Origin check, ``403``; JSON-only writes, ``415``), and oversized
requests (``413`` body, ``414`` query string, never a ``500``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace
from traceforge_web_api import create_app
from traceforge_web_api.embedded import bind, embedded_server
from traceforge_web_api.security import HostAllowlist, host_name, origin_problem

from .factories import LOOPBACK_URL

TEST_YAML = """\
name: Sky
request: {model: gpt-4o-mini, messages: [{role: user, content: hi}]}
assertions: [{type: contains, value: first}]
"""

#: A page of another site posting a test file the way a <form> or no-cors fetch can.
NEW_TEST = '{"name": "planted", "yaml": "name: x\\nrequest: {model: m, messages: []}\\n"}'


def _config_text(store: TraceStore) -> str | None:
    path = store.home / "config.yaml"
    return path.read_text() if path.exists() else None


# -- DNS rebinding: the Host header ----------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:3001", "127.0.0.1.evil.example", "localhost.evil.example", ""],
)
def test_a_foreign_host_is_421(client: TestClient, traces: list[Trace], host: str) -> None:
    response = client.get("/api/traces", headers={"host": host})
    assert response.status_code == 421
    assert "is not this API's" in response.json()["error"]


def test_dns_rebinding_cannot_read_traces_or_rewrite_the_config(
    store: TraceStore, traces: list[Trace]
) -> None:
    """The attack of the issue over a real socket: a page at ``evil.example`` rebound to
    127.0.0.1 reads the traces and redirects the OpenAI upstream."""
    (store.home / "config.yaml").write_text("proxy: {port: 8787}\n")

    async def attack() -> list[tuple[int, str, str]]:
        sock = bind("127.0.0.1", 0)
        port = sock.getsockname()[1]
        server = embedded_server(store)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        answers = []
        try:
            # the socket already listens: connections wait in its backlog until serve() runs
            url = f"http://127.0.0.1:{port}"
            rebound = {"Host": f"evil.example:{port}"}
            redirect = {"merge": {"upstreams": {"openai": {"base_url": "http://evil.example"}}}}
            async with aiohttp.ClientSession(url) as http:
                for call in (
                    http.get("/api/traces", headers=rebound),
                    http.put("/api/config", headers=rebound, json=redirect),
                    http.get("/api/traces", headers={"Host": f"localhost:{port}"}),
                ):
                    async with call as response:
                        answers.append(
                            (response.status, response.content_type, await response.text())
                        )
            return answers
        finally:
            server.should_exit = True
            await task
            sock.close()

    read, write, own = asyncio.run(attack())
    assert (read[0], write[0]) == (421, 421)
    assert read[1] == "application/json"
    assert "first" not in read[2]
    assert _config_text(store) == "proxy: {port: 8787}\n"
    assert own[0] == 200 and own[2].count('"id"') >= len(traces)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:3001", "localhost", "LocalHost:80", "[::1]:3001", "[::1]"]
)
def test_loopback_hosts_are_served(client: TestClient, host: str) -> None:
    assert client.get("/api/health", headers={"host": host}).status_code == 200


def test_configured_hosts_are_served(store: TraceStore) -> None:
    app = create_app(store, allowed_hosts=["TraceForge.lan", "[fd00::1]:9"])
    with TestClient(app, base_url=LOOPBACK_URL) as client:
        assert client.get("/api/health", headers={"host": "traceforge.lan:3001"}).is_success
        assert client.get("/api/health", headers={"host": "[fd00::1]"}).is_success
        assert client.get("/api/health", headers={"host": "other.lan"}).status_code == 421


def test_a_bad_allowed_host_is_refused_at_creation(store: TraceStore) -> None:
    with pytest.raises(ValueError, match="not a host name"):
        create_app(store, allowed_hosts=["http://x/"])


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("LocalHost:3001", "localhost"),
        ("[::1]:80", "::1"),
        ("example.com.", "example.com"),
        ("127.0.0.1", "127.0.0.1"),
        ("", None),
        ("[::1", None),
        ("a:b:c", None),
        ("user@host", None),
        ("host:port", None),
        ("[nothex]:1", None),
    ],
)
def test_host_name(value: str, name: str | None) -> None:
    assert host_name(value) == name


def test_every_loopback_address_is_allowed_but_not_other_addresses() -> None:
    hosts = HostAllowlist()
    assert hosts.allows("127.0.0.2") and hosts.allows("::1") and hosts.allows("localhost")
    assert not hosts.allows("192.168.1.5") and not hosts.allows("0.0.0.0")
    assert HostAllowlist(["*"]).allows("anything.example")


# -- cross-site writes: Origin and Content-Type ----------------------------------------------


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "https://evil.example:3001", "null", "file://"]
)
def test_a_write_from_a_foreign_page_is_403(
    client: TestClient, store: TraceStore, origin: str
) -> None:
    response = client.post(
        "/api/tests",
        content=NEW_TEST,
        headers={"origin": origin, "content-type": "application/json"},
    )
    assert response.status_code == 403
    assert "not allowed" in response.json()["error"]
    assert not (store.home / "tests").exists()


def test_a_write_from_a_local_page_or_without_origin_is_served(
    client: TestClient, store: TraceStore
) -> None:
    headers = {"origin": "http://localhost:5173", "content-type": "application/json"}
    local = client.post(
        "/api/tests",
        json={"name": "sky", "yaml": TEST_YAML},
        headers=headers,
    )
    assert local.status_code == 201
    assert client.delete("/api/tests/sky").status_code == 204  # no Origin: curl, the CLI


def test_reads_from_a_foreign_page_are_not_refused_by_origin(
    client: TestClient, traces: list[Trace]
) -> None:
    """A GET changes nothing, and the browser keeps the answer from the page (no CORS)."""
    response = client.get("/api/traces", headers={"origin": "http://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/tests", NEW_TEST),
        ("POST", "/api/tests/run", "{}"),
        ("PUT", "/api/config", '{"yaml": "proxy: {port: 9}\\n"}'),
    ],
)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_a_write_that_is_not_json_is_415(
    client: TestClient,
    store: TraceStore,
    method: str,
    path: str,
    body: str,
    content_type: str | None,
) -> None:
    """A ``text/plain`` POST needs no CORS preflight, so any page could send it."""
    headers = {"content-type": content_type} if content_type else {}
    response = client.request(method, path, content=body, headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    assert not (store.home / "tests").exists()
    assert not (store.home / "results").exists()
    assert _config_text(store) is None


def test_json_with_a_charset_is_accepted(client: TestClient, store: TraceStore) -> None:
    response = client.put(
        "/api/config",
        content=b'{"yaml": "proxy: {port: 9000}\\n"}',
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert response.status_code == 200
    assert _config_text(store) == "proxy: {port: 9000}\n"


def test_origin_problem() -> None:
    hosts = HostAllowlist(["mine.lan"])
    assert origin_problem("http://mine.lan:8080", hosts) is None
    assert origin_problem("http://127.0.0.1:3001", hosts) is None
    assert origin_problem("http://evil.example", hosts) is not None
    assert origin_problem("chrome-extension://abc", hosts) is not None


# -- sizes -----------------------------------------------------------------------------------


def test_a_query_of_50000_characters_is_414_not_500(client: TestClient) -> None:
    response = client.get("/api/traces", params={"q": "a" * 50_000})
    assert response.status_code == 414
    assert "query string too long" in response.json()["error"]


def test_a_query_just_under_the_limit_is_served(client: TestClient, traces: list[Trace]) -> None:
    for char in "a%_\\":
        response = client.get("/api/traces", params={"q": char * 2_000})
        assert response.status_code == 200, response.text


def test_a_long_q_is_400_whatever_the_query_limit(store: TraceStore) -> None:
    app = create_app(store, max_query_bytes=1024 * 1024)
    with TestClient(app, base_url=LOOPBACK_URL) as client:
        response = client.get("/api/traces", params={"q": "a" * 50_000})
    assert response.status_code == 400
    assert response.json()["error"] == "q must be at most 4096 characters, got 50000"


def test_a_body_over_the_limit_is_413_on_any_route(client: TestClient) -> None:
    response = client.request(
        "GET", "/api/traces", content=b"x" * (10 * 1024 * 1024 + 1)
    )  # a GET with a body: no route reads it, the guard still refuses it
    assert response.status_code == 413


def test_a_streamed_body_over_the_limit_is_413(store: TraceStore) -> None:
    app = create_app(store, max_body_bytes=1000)

    def chunks() -> Iterator[bytes]:
        yield b'{"yaml": "'
        for _ in range(20):
            yield b"#" * 100

    with TestClient(app, base_url=LOOPBACK_URL) as client:
        response = client.put(
            "/api/config", content=chunks(), headers={"content-type": "application/json"}
        )
        small = client.put("/api/config", json={"yaml": "proxy: {port: 9}\n"})
    assert response.status_code == 413
    assert "more than 1000 bytes" in response.json()["error"]
    assert small.status_code == 200


def test_limits_must_be_positive(store: TraceStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size limits"):
        create_app(store, max_query_bytes=0)

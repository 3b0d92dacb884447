"""Bearer token: with a token every request must carry it; without one nothing is asked."""

from __future__ import annotations

import hmac
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace
from traceforge_web_api import create_app

from .factories import LOOPBACK_URL

TOKEN = "s3cret-token-\u00e9"  # not only ASCII

#: One request per route (and an unknown path): none may answer without the token.
REQUESTS = [
    ("GET", "/api/health"),
    ("GET", "/api/traces"),
    ("GET", "/api/traces/diff?id1=a&id2=b"),
    ("GET", "/api/traces/abc"),
    ("DELETE", "/api/traces/abc"),
    ("GET", "/api/analytics"),
    ("GET", "/api/config"),
    ("PUT", "/api/config"),
    ("GET", "/api/tests"),
    ("POST", "/api/tests"),
    ("POST", "/api/tests/run"),
    ("GET", "/api/tests/sky"),
    ("DELETE", "/api/tests/sky"),
    ("GET", "/api/export"),
    ("GET", "/api/events"),
    ("GET", "/openapi.json"),
    ("GET", "/api/nope"),
]


@pytest.fixture
def secured(store: TraceStore) -> Iterator[TestClient]:
    with TestClient(create_app(store, token=TOKEN), base_url=LOOPBACK_URL) as client:
        yield client


def _bearer(token: str = TOKEN) -> dict[bytes, bytes]:
    return {b"authorization": f"Bearer {token}".encode()}


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_every_route_needs_the_token(
    secured: TestClient, store: TraceStore, method: str, path: str
) -> None:
    response = secured.request(method, path, json={"yaml": "proxy: {port: 1}"})
    assert response.status_code == 401
    assert "API token" in response.json()["error"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not (store.home / "config.yaml").exists()


@pytest.mark.parametrize(
    "header",
    [
        b"Bearer wrong",
        b"Bearer ",
        b"Bearer",
        b"Basic czNjcmV0",
        b"Token " + TOKEN.encode(),
        b"Bearer " + TOKEN.encode()[:-1],
        b"Bearer " + TOKEN.encode() + b"x",
        TOKEN.encode(),
    ],
)
def test_wrong_tokens_are_401(secured: TestClient, header: bytes) -> None:
    response = secured.get("/api/health", headers={b"authorization": header})
    assert response.status_code == 401


def test_two_authorization_headers_are_401(secured: TestClient) -> None:
    headers = [(b"authorization", b"Bearer " + TOKEN.encode()), (b"authorization", b"Bearer x")]
    assert secured.get("/api/health", headers=headers).status_code == 401


@pytest.mark.parametrize("scheme", [b"Bearer", b"bearer", b"BEARER"])
def test_right_token_passes(secured: TestClient, all_traces: list[Trace], scheme: bytes) -> None:
    header = scheme + b" " + TOKEN.encode()
    response = secured.get("/api/traces", headers={b"authorization": header})
    assert response.status_code == 200
    assert response.json()["total"] == 9


def test_token_is_compared_in_constant_time(
    secured: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert secured.get("/api/health", headers=_bearer("nope")).status_code == 401
    assert secured.get("/api/health", headers=_bearer()).status_code == 200
    assert calls == [(b"nope", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


def test_secured_routes_work_with_the_token(secured: TestClient, all_traces: list[Trace]) -> None:
    headers = _bearer()
    assert secured.get("/api/health", headers=headers).json()["traces"] == 9
    assert secured.put("/api/config", json={"yaml": ""}, headers=headers).status_code == 200
    export = secured.get("/api/export", params={"format": "csv"}, headers=headers)
    assert export.status_code == 200
    assert len(export.text.splitlines()) == 10
    with secured.stream("GET", "/api/events", headers=headers) as events:
        lines = events.iter_lines()
        assert next(lines) == ": connected"


def test_openapi_declares_the_bearer_scheme(secured: TestClient, client: TestClient) -> None:
    document = secured.get("/openapi.json", headers=_bearer()).json()
    assert document["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "401" in document["paths"]["/api/traces"]["get"]["responses"]
    open_document = client.get("/openapi.json").json()
    assert "security" not in open_document
    assert "401" not in open_document["paths"]["/api/traces"]["get"]["responses"]


def test_no_token_means_no_check(client: TestClient) -> None:
    assert (
        client.get("/api/health", headers={"authorization": "Bearer anything"}).status_code == 200
    )


def test_empty_token_is_refused(store: TraceStore) -> None:
    with pytest.raises(ValueError, match="empty"):
        create_app(store, token="")

"""Names and ids that try to leave the home: 400 or 404, never a file outside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

VALID_YAML = """\
name: Sky
request: {model: gpt-4o-mini, messages: [{role: user, content: hi}]}
"""

#: Raw paths after /api/tests/: traversal, encoded and double-encoded, absolute, Windows.
BAD_TEST_PATHS = [
    "..",
    "%2e%2e",
    "..%2Fconfig",
    "..%2fconfig",
    "%2e%2e%2fconfig",
    "%2E%2E%2Fconfig",
    "%2e%2e%2f%2e%2e%2foutside",
    "..%2F..%2Foutside",
    "%252e%252e%252fconfig",
    "..%5Cconfig",
    "..%5C..%5Coutside",
    "C:%5Cwindows%5Csystem.ini",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    ".hidden",
    "~root",
    "a%00b",
    "sky%00.yaml",
    "foo%20bar",
    "x" * 129,
]


@pytest.fixture
def sentinels(store: TraceStore, tmp_path: Path) -> list[Path]:
    """Files a traversal could hit: the config, a test-like file in the home, one outside."""
    store.home.mkdir(parents=True, exist_ok=True)
    made = [store.home / "config.yaml", store.home / "config.yml", tmp_path / "outside.yaml"]
    for path in made:
        path.write_text(VALID_YAML, encoding="utf-8")
    (store.home / "tests").mkdir()
    (store.home / "tests" / "sky.yaml").write_text(VALID_YAML, encoding="utf-8")
    return made


def _untouched(sentinels: list[Path], store: TraceStore) -> None:
    for path in sentinels:
        assert path.read_text(encoding="utf-8") == VALID_YAML
    assert sorted(p.name for p in (store.home / "tests").iterdir()) == ["sky.yaml"]


@pytest.mark.parametrize("name", BAD_TEST_PATHS)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_test_names_cannot_leave_the_tests_dir(
    client: TestClient, store: TraceStore, sentinels: list[Path], method: str, name: str
) -> None:
    response = client.request(method, f"/api/tests/{name}")
    assert response.status_code in (400, 404, 405)
    assert "error" in response.json()
    assert "request" not in response.text  # no file content leaked
    _untouched(sentinels, store)


async def _raw_request(app: Any, method: str, raw_path: bytes) -> tuple[int, dict[str, Any]]:
    """Send ``raw_path`` as is, the way a client that does not normalise ``..`` would."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], msgspec.json.decode(body)


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/api/tests/../config",
        b"/api/tests/../../outside",
        b"/api/tests/..",
        b"/api/tests/./../config",
        b"/api/tests/sky/../../config",
        b"/api/tests//etc/passwd",
        b"/api/tests/..\\config",
    ],
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_unnormalised_dot_segments(
    client: TestClient, store: TraceStore, sentinels: list[Path], method: str, raw_path: bytes
) -> None:
    status, body = anyio.run(_raw_request, client.app, method, raw_path)
    assert status in (400, 404)
    assert set(body) == {"error"}
    _untouched(sentinels, store)


@pytest.mark.parametrize(
    "name",
    [
        "../config",
        "../../outside",
        "/abs/path",
        "..\\config",
        "a//b",
        "a/../../config",
        "a/",
        "%2e%2e%2fconfig",
        ".hidden",
        "config\x00",
        "",
        "\u2025config",
    ],
)
def test_created_tests_cannot_leave_the_tests_dir(
    client: TestClient, store: TraceStore, sentinels: list[Path], name: str
) -> None:
    body = {"name": name, "yaml": VALID_YAML, "overwrite": True}
    response = client.post("/api/tests", json=body)
    assert response.status_code == 400
    _untouched(sentinels, store)


@pytest.mark.parametrize("name", ["../config", "..%2Fconfig", "/etc/passwd", "..\\x"])
def test_run_names_cannot_leave_the_tests_dir(
    client: TestClient, store: TraceStore, sentinels: list[Path], name: str
) -> None:
    response = client.post("/api/tests/run", json={"names": [name]})
    assert response.status_code == 400
    assert not (store.home / "results").exists()


def test_symlinks_out_of_the_tests_dir_are_refused(
    client: TestClient, store: TraceStore, sentinels: list[Path], tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    (store.home / "tests" / "evil.yaml").symlink_to(outside)
    (store.home / "tests" / "loop.yaml").symlink_to(store.home / "config.yaml")
    assert [t["name"] for t in client.get("/api/tests").json()["tests"]] == ["sky"]
    for name in ("evil", "loop"):
        assert client.get(f"/api/tests/{name}").status_code == 400
        assert client.delete(f"/api/tests/{name}").status_code == 400
        body = {"name": name, "yaml": VALID_YAML.replace("Sky", "Pwned"), "overwrite": True}
        assert client.post("/api/tests", json=body).status_code == 400
        run = client.post("/api/tests/run", json={"names": [name]})
        assert run.status_code == 400
    for path in sentinels:
        assert path.read_text(encoding="utf-8") == VALID_YAML


@pytest.mark.parametrize(
    "trace_id", ["../../etc/passwd", "..%2F..%2Fetc", "/etc/passwd", "..\\..\\x", "abc\x00"]
)
def test_trace_ids_in_bodies_and_queries_are_checked(
    client: TestClient, store: TraceStore, all_traces: list[Trace], trace_id: str
) -> None:
    made = client.post("/api/tests", json={"trace_id": trace_id})
    assert made.status_code == 400
    diff = client.get("/api/traces/diff", params={"id1": trace_id, "id2": all_traces[0].id})
    assert diff.status_code == 400
    assert store.count() == len(all_traces)


def test_a_symlinked_subfolder_out_of_the_tests_dir_is_refused(
    client: TestClient, store: TraceStore, sentinels: list[Path], tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (store.home / "tests" / "out").symlink_to(outside, target_is_directory=True)
    body = {"name": "out/new", "yaml": VALID_YAML}
    response = client.post("/api/tests", json=body)
    assert response.status_code == 400
    assert list(outside.iterdir()) == []

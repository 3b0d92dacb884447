"""/api/tests: list, read, create (from a trace or YAML), delete and run test files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from starlette.testclient import TestClient

from traceforge_shared.evals import TestCase, TestRun, load_test_file
from traceforge_shared.evals.replay import NO_RECORDING
from traceforge_shared.evals.results import ResultStore
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace
from traceforge_web_api import create_app

from .factories import LOOPBACK_URL

VALID_YAML = """\
# checks the sky answer
name: Sky color
tags: [smoke]
request:
  model: gpt-4o-mini
  messages:
    - {role: user, content: Why is the sky blue?}
assertions:
  - type: contains
    value: Rayleigh
"""

INVALID_YAML = """\
name: Broken
request:
  model: gpt-4o-mini
  messages: []
assertions:
  - type: latency
    max_ms: soon
"""


def _tests_dir(store: TraceStore) -> Path:
    return store.home / "tests"


def _write(store: TraceStore, name: str, text: str) -> Path:
    path = _tests_dir(store) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- list and read ---------------------------------------------------------------------------


def test_list_without_tests(client: TestClient, store: TraceStore) -> None:
    body = client.get("/api/tests").json()
    assert body == {"dir": str(_tests_dir(store).absolute()), "tests": []}


def test_list_valid_and_invalid_files(client: TestClient, store: TraceStore) -> None:
    sky = _write(store, "sky.yaml", VALID_YAML)
    _write(store, "broken.yml", INVALID_YAML)
    _write(store, ".hidden.yaml", VALID_YAML)
    _write(store, "notes.txt", "not a test")
    _write(store, "nested/deep.yaml", VALID_YAML)  # subfolders: as the CLI finds them
    tests = client.get("/api/tests").json()["tests"]
    assert [t["name"] for t in tests] == ["broken", "nested/deep", "sky"]
    broken, deep, good = tests
    assert (deep["valid"], deep["file"]) == (True, str(_tests_dir(store) / "nested/deep.yaml"))
    assert good == {
        "name": "sky",
        "file": str(sky.absolute()),
        "valid": True,
        "test_name": "Sky color",
        "description": None,
        "tags": ["smoke"],
        "error": None,
    }
    assert broken["valid"] is False
    assert broken["test_name"] is None
    assert (broken["error"]["line"], broken["error"]["field"]) == (7, "assertions[0].max_ms")
    assert "broken.yml:7" in broken["error"]["message"]


def test_get_test(client: TestClient, store: TraceStore) -> None:
    _write(store, "sky.yaml", VALID_YAML)
    body = client.get("/api/tests/sky").json()
    assert body["yaml"] == VALID_YAML
    assert body["valid"] is True
    assert body["error"] is None
    parsed = msgspec.convert(body["test"], TestCase)
    assert parsed == load_test_file(_tests_dir(store) / "sky.yaml")
    assert body["test"]["assertions"] == [
        {
            "type": "contains",
            "value": "Rayleigh",
            "field": "response.choices[0].message.content",
            "description": None,
            "negate": False,
        }
    ]


def test_get_invalid_test_has_its_text_and_error(client: TestClient, store: TraceStore) -> None:
    _write(store, "broken.yaml", INVALID_YAML)
    body = client.get("/api/tests/broken").json()
    assert (body["yaml"], body["valid"], body["test"]) == (INVALID_YAML, False, None)
    assert body["error"]["field"] == "assertions[0].max_ms"


def test_get_unknown_test_is_404(client: TestClient) -> None:
    response = client.get("/api/tests/nope")
    assert response.status_code == 404
    assert "no test named 'nope'" in response.json()["error"]


# -- create ----------------------------------------------------------------------------------


def test_create_from_trace(client: TestClient, store: TraceStore, all_traces: list[Trace]) -> None:
    trace = all_traces[5]  # anthropic, streamed: "Hello, how are you?"
    response = client.post("/api/tests", json={"trace_id": trace.id[:10]})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "hello-how-are-you"
    path = _tests_dir(store) / "hello-how-are-you.yaml"
    assert body["file"] == str(path.absolute())
    assert body["yaml"] == path.read_text(encoding="utf-8")
    assert body["valid"] is True
    assert body["test"]["source_trace"] == trace.id
    assert body["test"]["request"]["model"] == "claude-sonnet-4-5"
    assert "# the answer mentioned" in body["yaml"]  # the explaining comments
    assert client.get("/api/tests/hello-how-are-you").json() == body


def test_create_from_trace_with_a_name(
    client: TestClient, store: TraceStore, all_traces: list[Trace]
) -> None:
    response = client.post("/api/tests", json={"trace_id": all_traces[7].id, "name": "R count!"})
    assert response.status_code == 201
    assert response.json()["name"] == "r-count"
    assert response.json()["test"]["name"] == "R count!"


def test_create_conflict_and_overwrite(
    client: TestClient, store: TraceStore, all_traces: list[Trace]
) -> None:
    body = {"trace_id": all_traces[0].id, "name": "first"}
    assert client.post("/api/tests", json=body).status_code == 201
    conflict = client.post("/api/tests", json={**body, "trace_id": all_traces[1].id})
    assert conflict.status_code == 409
    assert "overwrite" in conflict.json()["error"]
    assert load_test_file(_tests_dir(store) / "first.yaml").source_trace == all_traces[0].id
    replaced = client.post(
        "/api/tests", json={**body, "trace_id": all_traces[1].id, "overwrite": True}
    )
    assert replaced.status_code == 201
    assert load_test_file(_tests_dir(store) / "first.yaml").source_trace == all_traces[1].id


def test_create_from_unusable_traces(
    client: TestClient, store: TraceStore, all_traces: list[Trace]
) -> None:
    missing = client.post("/api/tests", json={"trace_id": "f" * 24})
    assert missing.status_code == 404
    assert client.post("/api/tests", json={"trace_id": "../x"}).status_code == 400
    not_chat = msgspec.structs.replace(all_traces[0], id="ab" * 12, request="plain text")
    store.save(not_chat)
    refused = client.post("/api/tests", json={"trace_id": not_chat.id})
    assert refused.status_code == 422
    assert "chat" in refused.json()["error"]


def test_create_from_yaml(client: TestClient, store: TraceStore) -> None:
    response = client.post("/api/tests", json={"name": "sky", "yaml": VALID_YAML})
    assert response.status_code == 201
    assert (_tests_dir(store) / "sky.yaml").read_text(encoding="utf-8") == VALID_YAML
    assert response.json()["test"]["name"] == "Sky color"
    again = client.post("/api/tests", json={"name": "sky", "yaml": VALID_YAML})
    assert again.status_code == 409
    edited = VALID_YAML.replace("Rayleigh", "scattering")
    updated = client.post("/api/tests", json={"name": "sky", "yaml": edited, "overwrite": True})
    assert updated.status_code == 201
    assert (_tests_dir(store) / "sky.yaml").read_text(encoding="utf-8") == edited


def test_the_collision_rule_names_the_existing_file(client: TestClient, store: TraceStore) -> None:
    # The shared rule (as in the CLI and the TUI): refused, naming the file, which is kept.
    existing = _write(store, "sky.yml", VALID_YAML)
    conflict = client.post("/api/tests", json={"name": "sky", "yaml": VALID_YAML})
    assert conflict.status_code == 409
    assert conflict.json()["error"] == (
        f"test file {existing} exists; send overwrite: true to replace it"
    )
    assert sorted(p.name for p in _tests_dir(store).iterdir()) == ["sky.yml"]


def test_tests_in_subfolders_are_read_saved_run_and_deleted(
    client: TestClient, store: TraceStore
) -> None:
    deep = _write(store, "smoke/deep.yaml", VALID_YAML)
    detail = client.get("/api/tests/smoke/deep").json()
    assert (detail["name"], detail["file"], detail["valid"]) == (
        "smoke/deep",
        str(deep.absolute()),
        True,
    )
    saved = client.post("/api/tests", json={"name": "smoke/new/sky", "yaml": VALID_YAML})
    assert saved.status_code == 201
    assert saved.json()["name"] == "smoke/new/sky"
    assert (_tests_dir(store) / "smoke" / "new" / "sky.yaml").read_text() == VALID_YAML
    run = client.post("/api/tests/run", json={"names": ["smoke/deep", "smoke/new/sky"]})
    assert run.status_code == 200
    assert [r["file"] for r in run.json()["results"]] == [
        str(deep),
        str(_tests_dir(store) / "smoke" / "new" / "sky.yaml"),
    ]
    assert client.delete("/api/tests/smoke/deep").status_code == 204
    assert not deep.exists()
    assert client.get("/api/tests/smoke/../smoke/deep").status_code in (400, 404)
    assert client.post("/api/tests", json={"name": "a/../b", "yaml": VALID_YAML}).status_code == 400


def test_overwrite_keeps_a_yml_file(client: TestClient, store: TraceStore) -> None:
    _write(store, "old.yml", VALID_YAML)
    response = client.post(
        "/api/tests", json={"name": "old", "yaml": VALID_YAML, "overwrite": True}
    )
    assert response.status_code == 201
    assert sorted(p.name for p in _tests_dir(store).iterdir()) == ["old.yml"]


def test_create_invalid_yaml_is_422_and_writes_nothing(
    client: TestClient, store: TraceStore
) -> None:
    response = client.post("/api/tests", json={"name": "broken", "yaml": INVALID_YAML})
    assert response.status_code == 422
    body = response.json()
    assert (body["line"], body["field"]) == (7, "assertions[0].max_ms")
    assert body["error"].startswith(str(_tests_dir(store) / "broken.yaml") + ":7:")
    assert not _tests_dir(store).exists() or list(_tests_dir(store).iterdir()) == []
    not_yaml = client.post("/api/tests", json={"name": "x", "yaml": "name: [unclosed"})
    assert not_yaml.status_code == 422
    assert not_yaml.json()["line"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "x"},
        {"yaml": VALID_YAML},
        {"trace_id": 5},
        {"name": "x", "yaml": VALID_YAML, "extra": 1},
        {"name": "x", "yaml": VALID_YAML, "overwrite": "yes"},
        {"name": "../x", "yaml": VALID_YAML},
        {"name": "a//b", "yaml": VALID_YAML},
        {"name": "a/.b", "yaml": VALID_YAML},
        {"name": ".hidden", "yaml": VALID_YAML},
        {"name": "", "yaml": VALID_YAML},
        {"name": "x" * 129, "yaml": VALID_YAML},
    ],
)
def test_bad_create_bodies_are_400(
    client: TestClient, store: TraceStore, body: dict[str, object]
) -> None:
    response = client.post("/api/tests", json=body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert not _tests_dir(store).exists() or list(_tests_dir(store).iterdir()) == []


# -- delete ----------------------------------------------------------------------------------


def test_delete_test(client: TestClient, store: TraceStore) -> None:
    _write(store, "sky.yaml", VALID_YAML)
    response = client.delete("/api/tests/sky")
    assert response.status_code == 204
    assert response.content == b""
    assert list(_tests_dir(store).iterdir()) == []
    assert client.delete("/api/tests/sky").status_code == 404
    assert client.get("/api/tests/sky").status_code == 404


# -- run -------------------------------------------------------------------------------------


@pytest.fixture
def made_tests(client: TestClient, all_traces: list[Trace]) -> list[str]:
    """A test made from each of the nine traces; returns their names."""
    names = []
    for index, trace in enumerate(all_traces):
        body = {"trace_id": trace.id, "name": f"trace {index}"}
        response = client.post("/api/tests", json=body)
        assert response.status_code == 201, response.text
        names.append(response.json()["name"])
    return names


def test_replay_run_of_every_test(
    client: TestClient, store: TraceStore, made_tests: list[str], all_traces: list[Trace]
) -> None:
    response = client.post("/api/tests/run", json={"mode": "replay"})
    assert response.status_code == 200
    run = msgspec.convert(response.json(), TestRun)
    assert run.mode == "replay"
    assert [r.name for r in run.results] == [f"trace {i}" for i in range(9)]
    assert [r.status for r in run.results] == ["passed"] * 9, [r.error for r in run.results]
    assert [r.trace_id for r in run.results] == [t.id for t in all_traces]
    assert ResultStore(store.home).latest() == run


def test_run_by_names_and_tags(
    client: TestClient, store: TraceStore, made_tests: list[str]
) -> None:
    body = client.post("/api/tests/run", json={"names": ["trace-3", "trace-1", "trace-3"]}).json()
    assert [r["name"] for r in body["results"]] == ["trace 3", "trace 1"]
    _write(store, "sky.yaml", VALID_YAML)  # tagged smoke, and no recording of its request
    tagged = client.post("/api/tests/run", json={"tags": ["smoke", "other"]}).json()
    (result,) = tagged["results"]
    assert (result["name"], result["status"]) == ("Sky color", "error")
    assert result["error"].startswith(NO_RECORDING + " (")
    assert client.post("/api/tests/run", json={"tags": ["none"]}).json()["results"] == []
    assert len(ResultStore(store.home).ids()) == 3


def test_run_lists_files_that_do_not_load_first(
    client: TestClient, store: TraceStore, made_tests: list[str]
) -> None:
    _write(store, "broken.yaml", INVALID_YAML)
    body = client.post("/api/tests/run", json={"names": ["trace-0", "broken"]}).json()
    assert [(r["name"], r["status"]) for r in body["results"]] == [
        ("broken.yaml", "error"),
        ("trace 0", "passed"),
    ]
    assert "assertions[0].max_ms" in body["results"][0]["error"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"names": ["nope", "trace-0", "gone"]}, 404, "'nope', 'gone'"),
        ({"names": ["../etc/passwd"]}, 400, "names"),
        ({"mode": "direct"}, 400, "mode"),
        ({"mode": "replay", "extra": True}, 400, "extra"),
        ({"tags": "smoke"}, 400, "tags"),
        ({"mode": "proxy"}, 501, "replay"),
    ],
)
def test_run_errors(
    client: TestClient,
    store: TraceStore,
    made_tests: list[str],
    body: dict[str, object],
    status: int,
    needle: str,
) -> None:
    runs_before = len(ResultStore(store.home).ids())
    response = client.post("/api/tests/run", json=body)
    assert response.status_code == status
    assert needle in response.json()["error"]
    assert len(ResultStore(store.home).ids()) == runs_before
    if status == 404:
        assert response.json()["missing"] == ["nope", "gone"]


class FakeRunner:
    """Stands in for the proxy's runner that ``traceforge start`` injects."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str]] = []

    async def __call__(self, cases: list[tuple[Path, TestCase]], mode: str) -> TestRun:
        self.calls.append(([case.name for _, case in cases], mode))
        return TestRun(
            id="20261123T090000-abcdef", started="2026-11-23T09:00:00Z", duration_ms=5.0, mode=mode
        )


@pytest.fixture
def runner_client(store: TraceStore) -> Iterator[tuple[TestClient, FakeRunner]]:
    runner = FakeRunner()
    with TestClient(create_app(store, test_runner=runner), base_url=LOOPBACK_URL) as test_client:
        yield test_client, runner


def test_proxy_run_uses_the_injected_runner(
    runner_client: tuple[TestClient, FakeRunner], store: TraceStore
) -> None:
    client, runner = runner_client
    _write(store, "sky.yaml", VALID_YAML)
    _write(store, "broken.yaml", INVALID_YAML)
    response = client.post("/api/tests/run", json={"mode": "proxy"})
    assert response.status_code == 200
    assert runner.calls == [(["Sky color"], "proxy")]
    body = response.json()
    assert body["id"] == "20261123T090000-abcdef"
    assert body["mode"] == "proxy"
    assert [r["name"] for r in body["results"]] == ["broken.yaml"]
    assert ResultStore(store.home).get("20261123T090000-abcdef").mode == "proxy"
    replay = client.post("/api/tests/run", json={"names": ["sky"]}).json()
    assert replay["mode"] == "replay"
    assert len(runner.calls) == 1


def test_unreadable_test_file_is_listed_as_invalid(
    client: TestClient, store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = _write(store, "locked.yaml", VALID_YAML)
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == locked.name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    (entry,) = client.get("/api/tests").json()["tests"]
    assert (entry["name"], entry["valid"]) == ("locked", False)
    assert "cannot read: Permission denied" in entry["error"]["message"]
    assert client.get("/api/tests/locked").json()["yaml"] == ""

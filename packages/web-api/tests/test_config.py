"""GET/PUT /api/config: read, replace or merge config.yaml, validated before it is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from traceforge_shared.config import DEFAULT_CONFIG_YAML, config_path, load_config
from traceforge_shared.store import TraceStore
from traceforge_web_api.configfile import InvalidConfig, guess_indents, write_config_text

#: A config a person wrote: comments, a custom key order, block lists indented by 4.
USER_YAML = """\
# my TraceForge settings
storage:
    retention_days: 7   # a week is plenty
    max_traces: 500
redaction:
    allowlist:
      - 127.0.0.1       # loopback
      - 'test@example.com'
proxy:
    port: 9100          # 8787 is taken on this machine
"""


@pytest.fixture
def config_file(store: TraceStore) -> Path:
    path = config_path(store.home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(USER_YAML, encoding="utf-8")
    return path


def test_get_config_without_a_file(client: TestClient, store: TraceStore) -> None:
    body = client.get("/api/config").json()
    assert body["path"] == str(config_path(store.home).absolute())
    assert (body["exists"], body["yaml"], body["problem"]) == (False, "", None)
    assert body["config"]["proxy"]["port"] == 8787
    assert body["config"]["storage"] == {
        "max_traces": 10000,
        "retention_days": 30,
        "fsync": False,
        "unsaved_queue_mb": 64,
        "embedding_values": 8,
        "writer": None,
    }


def test_get_config(client: TestClient, config_file: Path) -> None:
    body = client.get("/api/config").json()
    assert body["exists"] is True
    assert body["yaml"] == USER_YAML
    assert body["config"]["proxy"]["port"] == 9100
    assert body["config"]["storage"] == {
        "max_traces": 500,
        "retention_days": 7,
        "fsync": False,
        "unsaved_queue_mb": 64,
        "embedding_values": 8,
        "writer": None,
    }
    assert body["config"]["redaction"]["allowlist"] == ["127.0.0.1", "test@example.com"]


def test_get_invalid_config_reports_the_problem(client: TestClient, config_file: Path) -> None:
    config_file.write_text("proxy:\n  port: high\n", encoding="utf-8")
    body = client.get("/api/config").json()
    assert body["config"] is None
    assert body["yaml"] == "proxy:\n  port: high\n"
    assert body["problem"]["line"] == 2
    assert body["problem"]["field"] == "proxy.port"
    assert f"{config_file}:2: proxy.port" in body["problem"]["message"]


def test_put_yaml_keeps_the_text_exactly(client: TestClient, config_file: Path) -> None:
    new = USER_YAML.replace("port: 9100 ", "port: 9200 ") + "# the end\n"
    response = client.put("/api/config", json={"yaml": new})
    assert response.status_code == 200
    assert config_file.read_bytes() == new.encode()  # comments kept
    assert config_file.stat().st_mode & 0o777 == 0o600  # the shared writer's mode
    body = response.json()
    assert body["yaml"] == new
    assert body["config"]["proxy"]["port"] == 9200
    assert load_config(config_file).proxy.port == 9200
    assert [p.name for p in config_file.parent.iterdir() if p.name.startswith(".config")] == []


def test_put_yaml_creates_the_home(client: TestClient, store: TraceStore) -> None:
    response = client.put("/api/config", json={"yaml": DEFAULT_CONFIG_YAML})
    assert response.status_code == 200
    assert config_path(store.home).read_text(encoding="utf-8") == DEFAULT_CONFIG_YAML


def test_merge_keeps_comments_order_and_indentation(client: TestClient, config_file: Path) -> None:
    response = client.put(
        "/api/config",
        json={
            "merge": {"proxy": {"port": 9300, "chunk_cap": 500}, "storage": {"max_traces": None}}
        },
    )
    assert response.status_code == 200
    text = config_file.read_text(encoding="utf-8")
    assert text == (
        "# my TraceForge settings\n"
        "storage:\n"
        "    retention_days: 7   # a week is plenty\n"
        "    max_traces: null\n"
        "redaction:\n"
        "    allowlist:\n"
        "      - 127.0.0.1       # loopback\n"
        "      - 'test@example.com'\n"
        "proxy:\n"
        "    port: 9300          # 8787 is taken on this machine\n"
        "    chunk_cap: 500\n"
    )
    config = response.json()["config"]
    assert (config["proxy"]["port"], config["proxy"]["chunk_cap"]) == (9300, 500)
    assert config["storage"]["max_traces"] is None


def test_merge_without_a_file_starts_from_the_commented_default(
    client: TestClient, store: TraceStore
) -> None:
    response = client.put("/api/config", json={"merge": {"redaction": {"enabled": False}}})
    assert response.status_code == 200
    text = config_path(store.home).read_text(encoding="utf-8")
    expected = DEFAULT_CONFIG_YAML.replace(
        "redaction:                 # applied to what is stored; the app and upstream see "
        "the originals\n  enabled: true",
        "redaction:                 # applied to what is stored; the app and upstream see "
        "the originals\n  enabled: false",
    )
    assert text == expected  # every comment of the default is still there
    assert load_config(config_path(store.home)).redaction.enabled is False


def test_merge_adds_new_sections(client: TestClient, config_file: Path) -> None:
    merge = {"upstreams": {"anthropic": {"models": ["claude-*"]}}}
    response = client.put("/api/config", json={"merge": merge})
    assert response.status_code == 200
    text = config_file.read_text(encoding="utf-8")
    assert text.startswith(USER_YAML.replace("port: 9100", "port: 9100"))
    assert response.json()["config"]["upstreams"]["anthropic"]["models"] == ["claude-*"]


@pytest.mark.parametrize(
    ("body", "line", "field", "needle"),
    [
        ({"yaml": "proxy:\n  port: 70000\n"}, 2, "proxy.port", "<= 65535"),
        ({"yaml": "proxy:\n  host: x\n  nope: 1\n"}, 3, "proxy.nope", "unknown field"),
        ({"yaml": "storage:\n  max_traces: [\n"}, 3, None, "invalid YAML"),
        ({"yaml": "- a list\n"}, None, None, "mapping"),
        ({"yaml": "upstreams:\n  openia: {}\n"}, None, None, "unknown provider"),
        ({"merge": {"proxy": {"port": "high"}}}, 10, "proxy.port", "Expected `int`"),
        ({"merge": {"storage": {"retention_days": 0}}}, 3, "storage.retention_days", ">= 1"),
        ({"merge": {"typo": 1}}, 11, "typo", "unknown field"),
    ],
)
def test_invalid_config_is_422_and_leaves_the_file_alone(
    client: TestClient,
    config_file: Path,
    body: dict[str, object],
    line: int | None,
    field: str | None,
    needle: str,
) -> None:
    before = config_file.read_bytes()
    mtime = os.stat(config_file).st_mtime_ns
    response = client.put("/api/config", json=body)
    assert response.status_code == 422
    refused = response.json()
    assert set(refused) == {"error", "line", "field"}
    assert (refused["line"], refused["field"]) == (line, field)
    assert needle in refused["error"]
    assert refused["error"].startswith(str(config_file))
    assert config_file.read_bytes() == before
    assert os.stat(config_file).st_mtime_ns == mtime
    assert sorted(p.name for p in config_file.parent.iterdir()) == ["config.yaml"]


def test_merge_into_a_broken_file_is_422(client: TestClient, config_file: Path) -> None:
    config_file.write_text("proxy: [unclosed\n", encoding="utf-8")
    response = client.put("/api/config", json={"merge": {"proxy": {"port": 1}}})
    assert response.status_code == 422
    assert response.json()["line"] == 1
    assert config_file.read_text(encoding="utf-8") == "proxy: [unclosed\n"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"{}",
        b'{"yaml": 5}',
        b'{"merge": "x"}',
        b'{"yaml": "a: 1", "merge": {}}',
        b'{"text": ""}',
        b'{"yaml": "proxy:\\n  host: x\\ud800\\n"}',  # a lone surrogate is not JSON text
    ],
)
def test_bad_config_bodies_are_400(client: TestClient, config_file: Path, body: bytes) -> None:
    response = client.put("/api/config", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]
    assert config_file.read_text(encoding="utf-8") == USER_YAML


def test_too_large_body_is_413(client: TestClient, config_file: Path) -> None:
    response = client.put("/api/config", json={"yaml": "#" * (1024 * 1024 + 1)})
    assert response.status_code == 413
    assert config_file.read_text(encoding="utf-8") == USER_YAML


def test_writer_refuses_text_that_is_not_unicode(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="surrogate") as caught:
        write_config_text(tmp_path, "proxy:\n  host: x\ud800\n", fsync=False)
    assert caught.value.line == 2
    assert not config_path(tmp_path).exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DEFAULT_CONFIG_YAML, {"mapping": 2, "sequence": 2, "offset": 0}),
        (USER_YAML, {"mapping": 4, "sequence": 4, "offset": 2}),
        ("a:\n  b:\n  - x\n", {"mapping": 2, "sequence": 2, "offset": 0}),
        ("a:\n   -   x\n", {"mapping": 2, "sequence": 7, "offset": 3}),
        ("", {"mapping": 2, "sequence": 2, "offset": 0}),
    ],
)
def test_guess_indents(text: str, expected: dict[str, int]) -> None:
    assert guess_indents(text) == expected


def test_config_that_is_not_a_file(client: TestClient, store: TraceStore) -> None:
    config_path(store.home).mkdir(parents=True)
    body = client.get("/api/config").json()
    assert (body["exists"], body["yaml"], body["config"]) == (True, "", None)
    assert "cannot read" in body["problem"]["message"]

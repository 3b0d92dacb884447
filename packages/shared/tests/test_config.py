"""Tests of config.yaml loading (traceforge_shared.config)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from ruamel.yaml import YAML

from traceforge_shared.config import (
    DEFAULT_CONFIG_YAML,
    DEFAULT_HOME_DIRNAME,
    HOME_ENV,
    Config,
    ConfigError,
    ProxyConfig,
    RedactionConfig,
    StorageConfig,
    UpstreamConfig,
    config_path,
    load_config,
    resolve_home,
)


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def assert_defaults(config: Config) -> None:
    assert config.proxy.host == "127.0.0.1"
    assert config.proxy.port == 8787
    assert config.proxy.connect_timeout_s == 10.0
    assert config.proxy.read_timeout_s == 300.0
    assert config.proxy.max_connections == 100
    assert config.proxy.chunk_cap == 10_000
    assert config.upstreams == {"openai": UpstreamConfig()}
    assert config.storage.max_traces == 10_000
    assert config.storage.retention_days == 30


# -- valid files ---------------------------------------------------------------------------------


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "config.yaml"
    config = load_config(path)
    assert config == Config()
    assert_defaults(config)
    assert not path.exists()


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
def test_empty_file_gives_defaults(tmp_path: Path, text: str) -> None:
    assert load_config(write(tmp_path, text)) == Config()


def test_default_config_yaml_parses_to_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, DEFAULT_CONFIG_YAML))
    assert config == Config()
    assert_defaults(config)


def test_default_config_yaml_spells_out_every_setting() -> None:
    # Every field is in the example, set or commented out, so users can discover it.
    text = DEFAULT_CONFIG_YAML
    for struct in (ProxyConfig, UpstreamConfig, StorageConfig, RedactionConfig):
        for field in msgspec.structs.fields(struct):
            assert f"{field.name}:" in text, field.name
    doc = YAML(typ="safe").load(text)
    assert set(doc) == {"proxy", "upstreams", "storage", "redaction"}
    assert doc["proxy"] == {
        "host": "127.0.0.1",
        "port": 8787,
        "connect_timeout_s": 10,
        "read_timeout_s": 300,
        "max_connections": 100,
        "chunk_cap": 10000,
        "stream_coalesce_ms": 1,
    }


@pytest.mark.parametrize("value", ["-1", "101", "soon"])
def test_stream_coalesce_ms_out_of_range_is_refused_naming_the_key(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(ConfigError, match="stream_coalesce_ms"):
        load_config(write(tmp_path, f"proxy:\n  stream_coalesce_ms: {value}\n"))


def test_values_override_defaults(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """\
proxy:
  port: 0
  chunk_cap: 5
  read_timeout_s: 0.5
upstreams:
  openai:
    api_key_env: MY_KEY
  ollama:
    base_url: http://127.0.0.1:11434
    inject_stream_usage: false
    models: [llama*, my-model]
storage:
  max_traces: ~
  retention_days: 7
""",
        )
    )
    assert config.proxy.port == 0
    assert config.proxy.chunk_cap == 5
    assert config.proxy.read_timeout_s == 0.5
    assert config.proxy.host == "127.0.0.1"  # untouched default
    assert config.proxy.max_connections == 100
    assert config.upstreams == {
        "openai": UpstreamConfig(base_url=None, api_key_env="MY_KEY", inject_stream_usage=None),
        "ollama": UpstreamConfig(
            base_url="http://127.0.0.1:11434",
            api_key_env=None,
            inject_stream_usage=False,
            models=["llama*", "my-model"],
        ),
    }
    assert config.storage == StorageConfig(max_traces=None, retention_days=7)


@pytest.mark.parametrize(
    ("spelling", "value"),
    [
        ("0.5", 0.5),
        ("30.0", 30.0),
        ("2.5e1", 25.0),
        ("1e3", 1000.0),
        ("7", 7.0),
        (".inf", None),
    ],
)
def test_float_spellings(tmp_path: Path, spelling: str, value: float | None) -> None:
    config = load_config(write(tmp_path, f"proxy:\n  read_timeout_s: {spelling}\n"))
    timeout = config.proxy.read_timeout_s
    assert type(timeout) is float
    if value is None:
        assert timeout == float("inf")
    else:
        assert timeout == value


@pytest.mark.parametrize(("spelling", "value"), [("10_000", 10_000), ("0x10", 16), ("12", 12)])
def test_int_spellings(tmp_path: Path, spelling: str, value: int) -> None:
    config = load_config(write(tmp_path, f"proxy:\n  chunk_cap: {spelling}\n"))
    assert config.proxy.chunk_cap == value


# -- errors --------------------------------------------------------------------------------------


ERROR_CASES = [
    pytest.param(
        "proxy:\n  port: [1, 2\n  host: x\n", 3, None, "invalid YAML", id="yaml-unclosed-flow"
    ),
    pytest.param("proxy:\n  port: 1\n host: x\n", 3, None, "invalid YAML", id="yaml-indent"),
    pytest.param("proxy:\n\tport: 1\n", 2, None, "invalid YAML", id="yaml-tab"),
    pytest.param(
        "proxy:\n  port: 1\n  port: 2\n", 3, None, "duplicate key", id="yaml-duplicate-key"
    ),
    pytest.param(
        "proxy:\n  port: 1\n  host: a\x07b\n", 3, None, "invalid YAML", id="yaml-control-character"
    ),
    pytest.param(
        "# settings\nproxy:\n  host: 127.0.0.1\n  port: abc\n",
        4,
        "proxy.port",
        "Expected `int`, got `str`",
        id="wrong-type",
    ),
    pytest.param(
        "proxy:\n  port: true\n",
        2,
        "proxy.port",
        "Expected `int`, got `bool`",
        id="bool-is-not-int",
    ),
    pytest.param(
        "storage:\n  retention_days: 30\nproxy:\n  chunk_cap: 0\n",
        4,
        "proxy.chunk_cap",
        "Expected `int` >= 1",
        id="chunk-cap-zero",
    ),
    pytest.param(
        "proxy:\n  port: 70000\n", 2, "proxy.port", "Expected `int` <= 65535", id="port-too-big"
    ),
    pytest.param(
        "proxy:\n  port: -1\n", 2, "proxy.port", "Expected `int` >= 0", id="port-negative"
    ),
    pytest.param(
        "proxy:\n  connect_timeout_s: 0\n",
        2,
        "proxy.connect_timeout_s",
        "Expected `float` > 0",
        id="timeout-zero",
    ),
    pytest.param(
        "storage:\n  max_traces: 10\n  retention_days: -3\n",
        3,
        "storage.retention_days",
        ">= 1",
        id="retention-negative",
    ),
    pytest.param(
        "proxy:\n  host: 127.0.0.1\n  prot: 1\n", 3, "proxy.prot", "unknown field", id="unknown-key"
    ),
    pytest.param(
        "proxy:\n  port: 1\n\nstorag:\n  max_traces: 5\n",
        4,
        "storag",
        "unknown field",
        id="unknown-top-level-key",
    ),
    pytest.param("proxy:\n", 1, "proxy", "Expected `object`, got `null`", id="section-null"),
    pytest.param("proxy: 8787\n", 1, "proxy", "Expected `object`, got `int`", id="section-scalar"),
]


@pytest.mark.parametrize(("text", "line", "field", "fragment"), ERROR_CASES)
def test_errors_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str | None, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.path == path
    assert error.line == line
    assert error.field == field
    assert fragment in error.reason
    expected_prefix = f"{path}:{line}: " + (f"{field}: " if field else "")
    assert str(error).startswith(expected_prefix), str(error)
    assert fragment in str(error)
    assert not str(error).rstrip().endswith(("- at", "-")), str(error)


def test_wrong_type_message_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, "proxy:\n  host: localhost\n  port: abc\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:3: proxy.port: Expected `int`, got `str`"


def test_unknown_key_message_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, "proxy:\n  prot: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:2: proxy.prot: unknown field; did you mean 'port'?"


def test_error_inside_an_upstream(tmp_path: Path) -> None:
    path = write(tmp_path, "upstreams:\n  openai:\n    base_url: 12\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    error = info.value
    assert error.field is not None
    assert error.field.startswith("upstreams.")
    assert error.field.endswith(".base_url")
    assert "Expected `str | null`, got `int`" in str(error)
    assert error.line is not None
    assert str(error).startswith(f"{path}:{error.line}: ")


def test_unknown_key_inside_an_upstream(tmp_path: Path) -> None:
    path = write(tmp_path, "upstreams:\n  openai:\n    base_ur: http://x\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field is not None
    assert info.value.field.endswith(".base_ur")
    assert info.value.reason == "unknown field; did you mean 'base_url'?"


@pytest.mark.parametrize("text", ["- proxy\n- storage\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="top level must be a mapping") as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert info.value.field is None


def test_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, b"proxy:\n  port: 1\n  host: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.line == 3
    assert str(info.value).startswith(f"{path}:3: ")
    assert "UTF-8" in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.mkdir()  # exists, but cannot be read as a file
    with pytest.raises(ConfigError, match="cannot read") as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")


# -- the home directory --------------------------------------------------------------------------


def test_resolve_home_prefers_the_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "from-env"))
    assert resolve_home(tmp_path / "given") == tmp_path / "given"
    assert resolve_home(str(tmp_path / "given")) == tmp_path / "given"


def test_resolve_home_uses_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "from-env"))
    monkeypatch.chdir(tmp_path)
    assert resolve_home() == tmp_path / "from-env"
    assert resolve_home(None) == tmp_path / "from-env"


@pytest.mark.parametrize("env", [None, ""])
def test_resolve_home_defaults_to_dot_ai_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str | None
) -> None:
    if env is None:
        monkeypatch.delenv(HOME_ENV, raising=False)
    else:
        monkeypatch.setenv(HOME_ENV, env)
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_HOME_DIRNAME == ".ai-tests"
    assert resolve_home() == tmp_path / ".ai-tests"


def test_conftest_isolates_the_home(traceforge_home: Path) -> None:
    assert resolve_home() == traceforge_home


def test_config_path() -> None:
    assert config_path(Path("/some/home")) == Path("/some/home/config.yaml")


def test_unknown_provider_names_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "upstreams:\n  opanai:\n    base_url: http://x/v1\n")
    with pytest.raises(ConfigError, match=r"unknown provider.*opanai.*known: openai, anthropic"):
        load_config(path)
    path = write(tmp_path, "proxy:\n  default_provider: bedrock\n")
    with pytest.raises(ConfigError, match="unknown provider 'bedrock'"):
        load_config(path)

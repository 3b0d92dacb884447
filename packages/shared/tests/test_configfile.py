"""The one config writer: validated, atomic, comments kept, mode 0600; and FileProblem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from traceforge_shared.config import DEFAULT_CONFIG_YAML, ConfigError, load_config
from traceforge_shared.configfile import read_config_text, update_config, write_config
from traceforge_shared.errors import FileProblem
from traceforge_shared.evals.loader import TestFileError, load_test_file
from traceforge_shared.yamlfile import YamlProblem

COMMENTED = "# mine\nproxy:\n  port: 9000  # my port\n"


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_write_config_keeps_the_text_and_makes_it_0600(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # even a permissive umask gives 0600
    try:
        config = write_config(tmp_path / "home", COMMENTED, fsync=False)
    finally:
        os.umask(old_umask)
    path = tmp_path / "home" / "config.yaml"
    assert config.proxy.port == 9000
    assert path.read_text(encoding="utf-8") == COMMENTED
    assert _mode(path) == 0o600
    path.chmod(0o644)
    write_config(path, DEFAULT_CONFIG_YAML)  # a path to the file works too
    assert _mode(path) == 0o600
    assert read_config_text(tmp_path / "home") == DEFAULT_CONFIG_YAML


def test_an_invalid_config_is_refused_with_file_line_field(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        write_config(path, "# mine\nproxy:\n  port: abc\n")
    assert (info.value.path, info.value.line, info.value.field) == (path, 3, "proxy.port")
    assert str(info.value).startswith(f"{path}:3: proxy.port: Expected `int`")
    assert path.read_text(encoding="utf-8") == COMMENTED
    assert os.listdir(tmp_path) == ["config.yaml"]
    with pytest.raises(ConfigError, match="surrogate"):
        write_config(path, "proxy:\n  host: x\ud800\n")
    with pytest.raises(ConfigError):  # a new folder is removed again
        write_config(tmp_path / "new" / "config.yaml", "proxy: [")
    assert not (tmp_path / "new").exists()


def test_update_config_keeps_comments_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    text = update_config(tmp_path, {"proxy": {"host": "0.0.0.0"}}, fsync=False)
    assert text == "# mine\nproxy:\n  port: 9000  # my port\n  host: 0.0.0.0\n"
    assert path.read_text(encoding="utf-8") == text
    assert _mode(path) == 0o600
    assert load_config(path).proxy.host == "0.0.0.0"
    with pytest.raises(ConfigError) as info:
        update_config(tmp_path, {"proxy": {"port": "x"}})
    assert info.value.field == "proxy.port"
    assert path.read_text(encoding="utf-8") == text


def test_one_error_class_for_file_line_field(tmp_path: Path) -> None:
    problem = FileProblem(Path("a.yaml"), "bad", line=3, field="x.y")
    assert str(problem) == "a.yaml:3: x.y: bad"
    assert problem.describe("a") == "a line 3: x.y: bad"
    assert str(FileProblem(Path("a.yaml"), "bad")) == "a.yaml: bad"
    assert str(FileProblem(None, "bad", line=2)) == "line 2: bad"
    assert problem.message == problem.reason == "bad"
    for cls in (ConfigError, TestFileError, YamlProblem):
        assert issubclass(cls, FileProblem)
        assert issubclass(cls, ValueError)
    # every old class still catches what it caught, and FileProblem catches them all
    broken = tmp_path / "t.yaml"
    broken.write_text("name: [\n", encoding="utf-8")
    with pytest.raises(TestFileError) as test_error:
        load_test_file(broken)
    bad_config = tmp_path / "config.yaml"
    bad_config.write_text("proxy:\n  port: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as config_error:
        load_config(bad_config)
    for caught in (test_error.value, config_error.value):
        assert isinstance(caught, FileProblem)
        assert caught.path is not None and caught.line is not None
    assert str(YamlProblem("why", line=4, field="f")) == "line 4: f: why"

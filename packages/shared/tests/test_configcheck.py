"""Every problem of a config file at once (``traceforge_shared.configcheck`` through
``load_config``), and the checker's reading of the config structs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
import pytest

from traceforge_shared.config import ConfigError, ConfigErrors, load_config
from traceforge_shared.configcheck import check_document, glob_problem, url_problem
from traceforge_shared.yamlfile import round_trip_loader, to_plain

BAD = """\
proxy:
  prot: 8787
  port: 70000
  unsupported_params: maybe
upstreams:
  openai:
    base_url: not a url
    models: ['gpt-*', '', 'o1[']
  ollama:
    base_url: ftp://localhost
storge:
  max_traces: 5
storage:
  retention_days: 0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_every_problem_is_reported_at_once_with_lines(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    found = [(p.line, p.field, p.reason) for p in info.value.problems]
    assert found == [
        (2, "proxy.prot", "unknown field; did you mean 'port'?"),
        (3, "proxy.port", "Expected `int` <= 65535"),
        (4, "proxy.unsupported_params", "Invalid enum value 'maybe'; expected one of: drop, error"),
        (7, "upstreams.openai.base_url", url_problem("not a url")),
        (8, "upstreams.openai.models[1]", "empty pattern (write e.g. 'gpt-*')"),
        (8, "upstreams.openai.models[2]", glob_problem("o1[")),
        (10, "upstreams.ollama.base_url", url_problem("ftp://localhost")),
        (11, "storge", "unknown field; did you mean 'storage'?"),
        (14, "storage.retention_days", "Expected `int` >= 1"),
    ]
    lines = str(info.value).splitlines()
    assert len(lines) == 9
    assert lines[0] == f"{path}:2: proxy.prot: unknown field; did you mean 'port'?"
    assert lines[3] == (
        f"{path}:7: upstreams.openai.base_url: not a URL: 'not a url'"
        " (write e.g. https://api.openai.com/v1)"
    )
    # Still one ConfigError for code that handles one: the first problem.
    assert isinstance(info.value, ConfigError)
    assert (info.value.line, info.value.field) == (2, "proxy.prot")


def test_post_init_checks_are_reported_beside_field_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "proxy:\n  port: -1\n  default_provider: nope\nupstreams:\n  opena: {}\n",
    )
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    reasons = [p.reason for p in info.value.problems]
    assert "Expected `int` >= 0" in reasons
    assert any(r.startswith("unknown provider 'nope'") for r in reasons)
    assert any("unknown provider(s) under upstreams: opena" in r for r in reasons)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.openai.com/v1", True),
        ("http://localhost:11434", True),
        ("http://[::1]:8000/v1", True),
        ("not a url", False),
        ("api.openai.com/v1", False),
        ("ftp://host", False),
        ("https://", False),
        ("http://host:0", False),
        ("http://host:99999", False),
        ("", False),
    ],
)
def test_url_rule(url: str, ok: bool) -> None:
    assert (url_problem(url) is None) is ok


@pytest.mark.parametrize(
    ("glob", "ok"),
    [("gpt-*", True), ("o[13]*", True), ("[!x]*", True), ("[]]", True), ("", False),
     ("  ", False), ("o1[", False), ("a[b", False)],
)  # fmt: skip
def test_glob_rule(glob: str, ok: bool) -> None:
    assert (glob_problem(glob) is None) is ok


class _Inner(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    callback_url: str | None = None
    mode: Literal["fast", "slow"] = "fast"
    limit: Annotated[int, msgspec.Meta(ge=1, le=10)] = 5


class _Outer(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    budgets: dict[str, _Inner] = msgspec.field(default_factory=dict)
    items: list[_Inner] = msgspec.field(default_factory=list)


def test_new_keys_are_checked_from_the_structs_alone(tmp_path: Path) -> None:
    # A struct the checker has never seen: its keys, types, ranges, literals, nested maps and
    # lists are all checked, and a *_url key is a URL.
    text = (
        "budgets:\n  daily:\n    limit: 11\n    mode: medium\n    callback_url: nope\n"
        "items:\n  - {limt: 2}\n"
    )
    doc = round_trip_loader().load(text)
    problems = check_document(
        _Outer, to_plain(doc), path=tmp_path / "x.yaml", doc=doc, error=ConfigError
    )
    assert [(p.line, p.field, p.reason) for p in problems] == [
        (3, "budgets.daily.limit", "Expected `int` <= 10"),
        (4, "budgets.daily.mode", "Invalid enum value 'medium'; expected one of: fast, slow"),
        (5, "budgets.daily.callback_url", url_problem("nope")),
        (7, "items[0].limt", "unknown field; did you mean 'limit'?"),
    ]


def test_a_good_file_and_unknown_keys_without_a_close_match(tmp_path: Path) -> None:
    good = write(tmp_path, "upstreams:\n  ollama: {base_url: 'http://localhost:11434'}\n")
    assert load_config(good).upstreams["ollama"].base_url == "http://localhost:11434"
    far = write(tmp_path, "zzz: 1\n")
    with pytest.raises(ConfigErrors, match="unknown field; known here: proxy, upstreams"):
        load_config(far)

"""Alias and depth limits on every YAML load: a "billion laughs" alias bomb and deep nesting
are refused with a clear error, in test files and in config files alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from traceforge_shared.config import ConfigError, load_config
from traceforge_shared.evals import TestFileError
from traceforge_shared.evals.loader import load_test_text
from traceforge_shared.yamlfile import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    YamlProblem,
    parse_yaml,
    to_plain,
)

#: The classic billion laughs: 9 levels of 9 aliases, about 370 bytes, 9**9 strings.
ALIAS_BOMB = "".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n',
        *(
            f"{name}: &{name} [{','.join(['*' + prev] * 9)}]\n"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def _plain(text: str) -> object:
    return to_plain(parse_yaml(text))


def test_the_bomb_is_small() -> None:
    assert 300 < len(ALIAS_BOMB.encode()) < 400


@pytest.mark.timeout(20)  # today's code expands it: minutes of CPU, gigabytes of memory
def test_an_alias_bomb_is_refused() -> None:
    with pytest.raises(YamlProblem, match=r"aliases .* expand to .* over the limit of 100,000"):
        _plain(ALIAS_BOMB)


@pytest.mark.timeout(20)
def test_an_alias_bomb_in_a_test_file_is_a_test_file_error() -> None:
    text = "name: bomb\nrequest: {model: m, messages: []}\nextra:\n" + "".join(
        "  " + line + "\n" for line in ALIAS_BOMB.splitlines()
    )
    with pytest.raises(TestFileError, match="aliases"):
        load_test_text(text, Path("bomb.yaml"))


@pytest.mark.timeout(20)
def test_an_alias_bomb_in_the_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("proxy:\n" + "".join("  " + line + "\n" for line in ALIAS_BOMB.splitlines()))
    with pytest.raises(ConfigError, match="aliases"):
        load_config(path)


def test_a_smaller_bomb_that_used_to_pass_is_refused() -> None:
    """6 levels of 9: 9**6 = 531,441 strings, which today's code expands in a few seconds."""
    levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]\n']
    levels += [
        f"{name}: &{name} [{','.join(['*' + prev] * 9)}]\n"
        for prev, name in zip("abcde", "bcdef", strict=True)
    ]
    with pytest.raises(YamlProblem, match="aliases"):
        _plain("".join(levels))


def test_ordinary_aliases_still_expand() -> None:
    text = "base: &base {model: m, temperature: 0}\none: *base\ntwo: {<<: *base, model: n}\n"
    assert _plain(text) == {
        "base": {"model": "m", "temperature": 0},
        "one": {"model": "m", "temperature": 0},
        "two": {"model": "n", "temperature": 0},
    }


def test_aliases_up_to_the_limit_expand() -> None:
    # one list of 1,000 values used 100 times: 99,000 values added by the aliases
    text = "a: &a [" + ",".join(["1"] * 1000) + "]\nb: [" + ",".join(["*a"] * 99) + "]\n"
    plain = _plain(text)
    assert isinstance(plain, dict) and len(plain["b"]) == 99
    over = "a: &a [" + ",".join(["1"] * 1000) + "]\nb: [" + ",".join(["*a"] * 102) + "]\n"
    with pytest.raises(YamlProblem, match="aliases"):
        _plain(over)
    assert MAX_ALIAS_NODES == 100_000


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 3000 + "]" * 3000,  # flow, closed
        "a: " + "{b: " * 3000,  # flow, unclosed
        "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),  # just over
        "".join(" " * i + "- \n" for i in range(MAX_DEPTH + 5)),  # block sequences
        "".join(" " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)),  # block mappings
    ],
    ids=["flow-3000", "flow-unclosed", "flow-101", "block-seq", "block-map"],
)
@pytest.mark.timeout(20)  # 3,000 levels took 15 s in ruamel's scanner before the limit
def test_deep_nesting_is_refused_with_its_line(text: str) -> None:
    with pytest.raises(YamlProblem, match=f"nested more than {MAX_DEPTH} levels deep") as info:
        parse_yaml(text)
    assert info.value.line is not None


def test_deep_nesting_in_the_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("proxy: " + "[" * 3000)
    with pytest.raises(ConfigError, match="nested more than 100 levels deep"):
        load_config(path)


def test_nesting_up_to_the_limit_loads() -> None:
    depth = MAX_DEPTH - 1  # the top-level mapping is a level too
    plain = _plain("a: " + "[" * depth + "1" + "]" * depth)
    assert isinstance(plain, dict)
    node = plain["a"]
    for _ in range(depth - 1):
        node = node[0]
    assert node == [1]

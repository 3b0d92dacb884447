"""The test-file API: names, finding (subfolders too), validating and the collision rule."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from traceforge_shared.evals.files import (
    InvalidTestName,
    TestFileExists,
    check_test_name,
    find_test_file,
    find_test_files,
    read_test_file,
    save_test_file,
    slugify,
    test_file_stem,
    test_name_of,
    trace_test_stem,
    validate_test_file,
    write_test_file,
)
from traceforge_shared.evals.loader import TestFileError
from traceforge_shared.testing import make_trace

VALID = """\
# a comment a person wrote
name: Sky
request:
  model: gpt-4o-mini
  messages: [{role: user, content: Why is the sky blue?}]
assertions:
  - type: contains
    value: Rayleigh
"""
INVALID = VALID.replace("type: contains\n    value: Rayleigh", "type: latency\n    max_ms: soon")


@pytest.mark.parametrize(
    ("text", "stem"),
    [
        ("What is the capital of France?", "what-is-the-capital-of-france"),
        ("  Ça   va, Zoë?  ", "ca-va-zoe"),
        ("!!!", "test"),
        ("a" * 70, "a" * 60),
        ("word " * 20, "-".join(["word"] * 12)),
    ],
)
def test_test_file_stem(text: str, stem: str) -> None:
    assert test_file_stem(text) == stem
    assert len(slugify(text, 10)) <= 10


def test_trace_test_stem() -> None:
    trace = msgspec.structs.replace(make_trace(), id="12345678" * 3)
    assert trace_test_stem(trace) == "say-hello"
    assert trace_test_stem(trace, "R count!") == "r-count"
    silent = msgspec.structs.replace(trace, request={"model": "m", "messages": []})
    assert trace_test_stem(silent) == "trace-12345678"


@pytest.mark.parametrize("name", ["sky", "smoke/sky", "a.b_c-d/e1"])
def test_valid_names(name: str) -> None:
    assert check_test_name(name) == name


@pytest.mark.parametrize("name", ["", "../x", "a/../b", ".hidden", "a//b", "a/", "/a", "a b"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidTestName, match="not a test name"):
        check_test_name(name)


def test_find_test_files_includes_subfolders_sorted(tmp_path: Path) -> None:
    assert find_test_files(tmp_path) == []
    root = tmp_path / "tests"
    for name in ("b.yaml", "a/z.yml", "a/b/c.yaml", ".hidden.yaml", ".git/x.yaml", "n.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(VALID, encoding="utf-8")
    found = find_test_files(tmp_path)
    assert [test_name_of(tmp_path, p) for p in found] == ["a/b/c", "a/z", "b"]
    assert find_test_file(tmp_path, "a/z") == root / "a" / "z.yml"
    assert find_test_file(tmp_path, "nope") is None


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "outside.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "tests" / "out.yaml").symlink_to(tmp_path / "outside.yaml")
    with pytest.raises(InvalidTestName, match="not a file inside"):
        find_test_file(tmp_path, "out")


def test_validate_text_and_file(tmp_path: Path) -> None:
    assert validate_test_file(VALID).name == "Sky"
    with pytest.raises(TestFileError) as info:
        validate_test_file(INVALID, path=Path("sky.yaml"))
    assert (info.value.line, info.value.field) == (8, "assertions[0].max_ms")
    assert str(info.value).startswith("sky.yaml:8: assertions[0].max_ms: ")
    path = tmp_path / "x.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert validate_test_file(path).name == "Sky"
    with pytest.raises(TestFileError, match="not valid Unicode"):
        validate_test_file("name: x\ud800\n")


def test_read_test_file_never_raises(tmp_path: Path) -> None:
    assert read_test_file(tmp_path / "missing.yaml")[2] is not None
    bad = tmp_path / "bad.yaml"
    bad.write_text(INVALID, encoding="utf-8")
    text, case, error = read_test_file(bad)
    assert (text, case) == (INVALID, None)
    assert error is not None and error.line == 8


def test_the_collision_rule(tmp_path: Path) -> None:
    path, case = save_test_file(tmp_path, "smoke/sky", VALID, fsync=False)
    assert path == tmp_path / "tests" / "smoke" / "sky.yaml"
    assert case.name == "Sky"
    assert path.read_text(encoding="utf-8") == VALID  # as given: comments kept
    # default: refused, naming the existing file, which is left as it was
    with pytest.raises(TestFileExists) as info:
        save_test_file(tmp_path, "smoke/sky", VALID.replace("Sky", "Other"))
    assert info.value.path == path
    assert str(info.value) == f"test file {path} exists"
    assert path.read_text(encoding="utf-8") == VALID
    # explicit: numbered
    numbered = [save_test_file(tmp_path, "smoke/sky", VALID, on_collision="suffix")[0].name]
    numbered.append(save_test_file(tmp_path, "smoke/sky", VALID, on_collision="suffix")[0].name)
    assert numbered == ["sky-2.yaml", "sky-3.yaml"]
    # explicit: replaced
    other = VALID.replace("name: Sky", "name: Other")
    assert save_test_file(tmp_path, "smoke/sky", other, on_collision="overwrite")[0] == path
    assert path.read_text(encoding="utf-8") == other
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "sky-2.yaml",
        "sky-3.yaml",
        "sky.yaml",
    ]


def test_the_other_suffix_collides_too(tmp_path: Path) -> None:
    old = tmp_path / "tests" / "old.yml"
    old.parent.mkdir()
    old.write_text(VALID, encoding="utf-8")
    with pytest.raises(TestFileExists) as info:
        write_test_file(tmp_path / "tests" / "old.yaml", VALID)
    assert info.value.path == old
    # overwriting a name replaces the .yml file in place
    assert save_test_file(tmp_path, "old", VALID, on_collision="overwrite")[0] == old
    assert sorted(p.name for p in old.parent.iterdir()) == ["old.yml"]


def test_an_invalid_text_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(TestFileError) as info:
        save_test_file(tmp_path, "sky", INVALID)
    assert info.value.path == tmp_path / "tests" / "sky.yaml"
    assert not (tmp_path / "tests").exists()
    with pytest.raises(InvalidTestName):
        save_test_file(tmp_path, "../sky", VALID)

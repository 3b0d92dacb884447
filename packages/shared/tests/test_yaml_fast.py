"""The fast YAML reader (libyaml, ``yaml_fast``) reads what ruamel's round-trip loader reads.

For every input, both readers' outcomes are compared: the plain value (``to_plain``), the line
of every key and item (``line_of``) and, for text that is not valid, the error (message, line).
Inputs: the YAML test suite's 402 documents, every YAML file and YAML code block of the
repository, every YAML document written in the repository's tests, test files made from
traces, an edge-case corpus, and generated documents and scalars (hypothesis).
"""

from __future__ import annotations

import ast
import math
import os
import random
import re
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from traceforge_shared.evals.authoring import test_from_trace as make_test_text
from traceforge_shared.evals.loader import TestFileError, _load, load_test_file, load_test_text
from traceforge_shared.testing import make_trace
from traceforge_shared.yaml_fast import (
    FAST_MAX_DEPTH,
    LineList,
    LineMap,
    parse_yaml_fast,
    read_yaml_fast,
)
from traceforge_shared.yamlfile import (
    ANY_KEY,
    YamlProblem,
    line_of,
    parse_yaml,
    read_yaml,
    to_plain,
)

REPO = Path(__file__).resolve().parents[3]
SUITE = Path(__file__).parent / "data" / "yaml-test-suite"
_SKIP_DIRS = {".git", "node_modules", ".venv", "dist", "build", ".hatch", "yaml-test-suite"}

if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):  # its caches stay out of the tree
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "traceforge-hypothesis")

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _canon(value: Any) -> Any:
    """``value`` with its types spelled out (``1 == 1.0 == True`` in Python) and NaN equal."""
    if isinstance(value, dict):
        return ("map", [(key, _canon(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("seq", [_canon(item) for item in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    return (type(value).__name__, value)


def _paths(node: Any, prefix: list[Any]) -> Iterator[list[Any]]:
    """Every path into the document, with keys as written (``1``, ``"a"``), and probes that
    stop midway: a missing key, an index past the end, ``[...]``, a part below a scalar."""
    yield prefix
    yield [*prefix, "no-such-key"]
    yield [*prefix, 99]
    yield [*prefix, ANY_KEY, "x"]
    if isinstance(node, dict):
        for key in list(node):
            yield from _paths(node[key], [*prefix, key])
            if not isinstance(key, str):
                yield [*prefix, str(to_plain(key)) if key is not None else "null"]
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _paths(item, [*prefix, index])


def outcome(parse: Callable[[str], Any], text: str) -> tuple[Any, ...]:
    """What ``parse`` makes of ``text``: the plain value and the line of every path, or the
    error (reason and line)."""
    try:
        doc = parse(text)
    except YamlProblem as problem:
        return ("invalid", problem.reason, problem.line, problem.field)
    try:
        plain = to_plain(doc)
    except YamlProblem as problem:
        return ("refused", problem.reason, problem.line, problem.field)
    lines = [(repr(path), line_of(doc, path)) for path in _paths(doc, [])]
    return ("read", _canon(plain), lines)


def assert_same(text: str) -> tuple[Any, ...]:
    """Both readers agree on ``text``; returns the outcome."""
    expected = outcome(parse_yaml, text)
    assert outcome(parse_yaml_fast, text) == expected, text
    return expected


def fast(text: str) -> bool:
    """``text`` is read by libyaml (no fallback to ruamel)."""
    return type(parse_yaml_fast(text)) in (LineMap, LineList)


# --- inputs -------------------------------------------------------------------------------


def _repo_files() -> list[Path]:
    found: list[Path] = []
    for path in sorted(REPO.rglob("*")):
        if _SKIP_DIRS & set(path.relative_to(REPO).parts):
            continue
        if path.suffix in (".yaml", ".yml") and path.is_file():
            found.append(path)
    return found


def _doc_blocks() -> list[str]:
    blocks: list[str] = []
    for path in sorted([*REPO.glob("*.md"), *REPO.glob("docs/**/*.md"), *REPO.glob("*/*/*.md")]):
        text = path.read_text(encoding="utf-8")
        blocks += re.findall(r"```ya?ml\n(.*?)```", text, re.DOTALL)
    return blocks


def _test_documents() -> list[str]:
    """The YAML documents (test files, config files) written as strings in the tests."""
    docs: set[str] = set()
    for path in sorted(REPO.glob("packages/*/tests/**/*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if "\n" in text and re.search(r"^\s*-?\s*[\w\"']+:( |$)", text, re.MULTILINE):
                    docs.add(text)
    return sorted(docs)


TEST_DOCUMENTS = _test_documents()

EDGE_CASES = {
    # YAML 1.1 vs 1.2 (ruamel's round trip is 1.2)
    "booleans-1.1": "a: yes\nb: no\nc: on\nd: off\ne: y\nf: N\ng: True\nh: FALSE\ni: tRue\n",
    "booleans-all": "".join(
        f"k{i}: {word}\n"
        for i, word in enumerate(
            [
                "y",
                "Y",
                "yes",
                "Yes",
                "YES",
                "n",
                "N",
                "no",
                "No",
                "NO",
                "on",
                "On",
                "ON",
                "off",
                "Off",
                "OFF",
                "true",
                "True",
                "TRUE",
                "false",
                "False",
                "FALSE",
                "oN",
                "yES",
                "tRUE",
                "fALSE",
            ]
        )
    ),
    "octal": "a: 010\nb: 0o10\nc: -010\nd: 0999\ne: 00\nf: 0o1_7\n",
    "ints": "a: 1_000\nb: +12\nc: -0\nd: 0x1F\ne: 0xff_ff\nf: 0b101\ng: 1__0\nh: 1_\ni: _1\n",
    "bad-ints": "a: 0b\nb: 0o\nc: 0x\nd: +_\ne: 0x_\n",
    "floats": "a: 1.5\nb: 1_0.5\nc: 1e3\nd: 1E3\ne: 1.e3\nf: .5\ng: +.5\nh: 0.\ni: 12e03\n",
    "inf-nan": "a: .inf\nb: -.Inf\nc: +.INF\nd: .nan\ne: .NaN\nf: +.nan\ng: .NAN\n",
    "nulls": "a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nULL\n~: tilde key\n",
    "sexagesimal": "a: 1:20\nb: 190:20:30.15\n",
    "timestamps": "a: 2024-01-02\nb: 2024-1-2\nc: 2024-01-02T03:04:05Z\n",
    "timestamp-spaced": "a: 2024-01-02 03:04:05.123\n",
    "bad-date": "a: 2024-13-45\n",
    "value-and-merge-text": "a: =\nb: <<\nc: [<<, =]\n",
    "number-keys": "1: a\n010: b\n1.5: c\nfalse: d\nnull: e\n2024-01-02: f\n.nan: g\n",
    # anchors, aliases, merge keys
    "anchors": "a: &a 1\nb: *a\nc: &c\n  - *a\n  - x\nd: *c\ne: &e {k: v}\nf: [*e, *c]\n",
    "alias-keys": "&a a: &b b\n*b : *a\n",
    "merge": "b: &b\n  x: 1\n  y: 2\no: &o {y: 3, z: 4, w: 0}\n"
    "m:\n  a: 0\n  <<: [*b, *o]\n  y: 9\n",
    "merge-inline": "m:\n  <<: {p: 1}\n  q: 2\n",
    "merge-override": "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 7\n",
    "merge-nested": "a: &a {p: 1}\nb: &b {<<: *a, q: 2}\nm: {<<: *b, r: 3}\n",
    "merge-scalar": "m:\n  <<: 5\n",
    "merge-twice": "b: &b {x: 1}\nm:\n  <<: *b\n  <<: {y: 2}\n",
    "merge-undefined": "m:\n  <<: [*x]\n",
    "merge-quoted": "m:\n  '<<': 1\n",
    "recursive-alias": "a: &a [*a]\n",
    "reused-anchor": "a: &a [1]\nb: &a [2]\nc: *a\n",
    "undefined-alias": "a: *nope\n",
    "anchor-colon": "key: &an:chor value\n",
    "alias-colon": "a: &x 1\nb: *x:\n",
    # block scalars
    "literal": "a: |\n  line 1\n    more\n  line 3\nb: x\n",
    "folded-strip": "a: >-\n  folded\n  text\n\n  para\nb: x\n",
    "keep": "a: |+\n  keep\n\n\nb: x\n",
    "indent-indicator": "a: |2\n    two extra\n  base\nb: >1-\n  x\n",
    "leading-blank-lines": "a: |\n\n  text\n",
    "more-indented-blank": "a: >\n \n  \n  text\n",
    "header-comment": "a: >  # comment\n  text\n",
    "header-no-space": "a: >#comment\n  text\n",
    "empty-block": "a: |\nb: 1\n",
    # flow collections, quoting, keys
    "flow": "a: [1, 'two', \"three\", {four: 4}, [5]]\nb: {x: 1, y: [2, 3], 'z w': ~}\nc: []\n",
    "flow-multiline": "a: [\n  1,\n  2,\n]\nb: {\n  x: 1\n}\n",
    "quoted-keys": "'a b': 1\n\"c\\td\": 2\n'1': 3\n\"true\": 4\n'': 5\n",
    "escapes": "a: \"\\u00e9\\n\\t\\x41\\U0001F600\"\nb: 'it''s'\n",
    "unicode": "名前: テスト\nemoji: 😀\nkey é: ü\n",
    "complex-key": "? [a, b]\n: c\n",
    "complex-scalar-key": "? a\n: b\n? c\n",
    "flow-key": "{a: 1}: b\n",
    "duplicate-keys": "a: 1\nb: 2\na: 3\n",
    "duplicate-after-resolve": "1: a\n01: b\n",
    "duplicate-bool-int": "true: a\n1: b\n",
    "duplicate-nan": ".nan: a\n.nan: b\n",
    # layout
    "crlf": "a: 1\r\nb:\r\n  - x\r\n  - |\r\n    lit\r\n",
    "cr-only": "a: 1\rb: 2\r",
    "bom": "\ufeffa: 1\nb: 2\n",
    "tabs": "a:\t1\nb: [1,\t2]\n",
    "nel": "a: x\x85b\n",
    "line-separator": "a: x\u2028b\n",
    "comments": "# top\na: 1 # trailing\n# between\nb:\n  # before item\n  - x  # item\n",
    "comment-before-value": "key:    # Comment\n  value\n\nb: 1\n",
    "comment-before-value-end": "key:    # Comment\n        # lines\n  value\n\n\n",
    "comment-before-block": "key: # c\n  |\n  x\n\n",
    "value-next-line": "key:\n  value\nother: 1\n",
    "multiline-plain": "a: one\n  two\n  three\nb: x\n",
    "indentless-seq": "a:\n- 1\n- 2\nb: x\n",
    "seq-of-maps": "- a: 1\n  b: 2\n-   c: 3\n- - nested\n  - seq\n",
    "empty-values": "a:\nb: ''\nc: \"\"\nd: []\ne: {}\nf:\n  -\n  - ~\n",
    "empty": "",
    "only-comment": "# nothing\n",
    "only-marker": "---\n",
    "scalar-root": "just text\n",
    "literal-root": "--- |\n  text\n",
    "seq-root": "- 1\n- 2\n",
    "explicit-end": "a: 1\n...\n",
    "two-documents": "a: 1\n---\nb: 2\n",
    "directive-1.1": "%YAML 1.1\n---\na: yes\nb: 010\n",
    "tag-directive": "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    "tags": "a: !!str 1\nb: !!int '3'\nc: !custom x\nd: !!binary aGVsbG8=\ne: !!set {x, y}\n",
    "bad-tag": "a: !!int x\n",
    # invalid YAML
    "unclosed-flow": "a: [1, 2\nb: 3\n",
    "unclosed-quote": "a: 'abc\nb: 3\n",
    "bad-indent": "a:\n  b: 1\n c: 2\n",
    "mapping-in-plain": "a: b: c\n",
    "seq-not-allowed": "a: 1\n- b\n",
    "control-char": "a: \x07\n",
    "tab-indent": "a:\n\tb: 1\n",
    "deep-flow": "a: " + "[" * 150 + "]" * 150 + "\n",
    "deep-block": "".join("  " * i + f"k{i}:\n" for i in range(120)) + "  " * 120 + "v\n",
    "fast-depth": "".join("  " * i + f"k{i}:\n" for i in range(FAST_MAX_DEPTH)) + "x: 1\n",
    "alias-bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n"
        for p, n in zip("abcdefg", "bcdefgh", strict=True)
    ),
}

#: Documents the fast path must read itself (else the equivalence tests would only compare
#: ruamel with itself).
FAST_CASES = [
    "booleans-1.1",
    "octal",
    "ints",
    "floats",
    "inf-nan",
    "nulls",
    "number-keys",
    "anchors",
    "alias-keys",
    "merge",
    "merge-inline",
    "merge-override",
    "merge-nested",
    "literal",
    "folded-strip",
    "keep",
    "indent-indicator",
    "header-comment",
    "flow",
    "flow-multiline",
    "quoted-keys",
    "escapes",
    "unicode",
    "crlf",
    "comments",
    "indentless-seq",
    "seq-of-maps",
    "empty-values",
    "seq-root",
    "explicit-end",
    "alias-bomb",
]


# --- tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_read_the_same(name: str) -> None:
    assert_same(EDGE_CASES[name])


@pytest.mark.parametrize("name", FAST_CASES)
def test_common_documents_take_the_fast_path(name: str) -> None:
    assert fast(EDGE_CASES[name])


def test_yaml_1_2_scalars_as_ruamel_reads_them() -> None:
    doc = to_plain(parse_yaml_fast(EDGE_CASES["booleans-1.1"]))
    assert doc["a"] == "yes" and doc["c"] == "on" and doc["g"] is True and doc["i"] == "tRue"
    nulls = to_plain(parse_yaml_fast(EDGE_CASES["nulls"]))
    assert nulls["e"] is None and nulls["f"] == "nULL" and nulls["null"] == "tilde key"
    numbers = to_plain(parse_yaml_fast(EDGE_CASES["octal"]))
    assert numbers == {"a": 10, "b": 8, "c": -10, "d": 999, "e": 0, "f": 15}


@pytest.mark.parametrize("path", sorted(SUITE.glob("*.yaml")), ids=lambda p: p.stem)
def test_yaml_test_suite_reads_the_same(path: Path) -> None:
    assert_same(path.read_bytes().decode("utf-8", errors="surrogateescape"))


def test_most_of_the_yaml_test_suite_takes_the_fast_path() -> None:
    texts = [path.read_text(encoding="utf-8") for path in sorted(SUITE.glob("*.yaml"))]
    read_fast = sum(fast(text) for text in texts if outcome(parse_yaml, text)[0] == "read")
    assert len(texts) == 402
    # 260 are valid to ruamel; of these, 99 mappings and sequences are read by libyaml (the rest:
    # scalar documents, tags, directives, several documents, tabs, scalars under a comment)
    assert read_fast > 90


@pytest.mark.parametrize("path", _repo_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_repository_yaml_files_read_the_same(path: Path) -> None:
    assert outcome(read_yaml_fast, path) == outcome(read_yaml, path)  # type: ignore[arg-type]


@pytest.mark.parametrize("index", range(len(_doc_blocks())))
def test_documentation_yaml_blocks_read_the_same(index: int) -> None:
    assert_same(_doc_blocks()[index])


def test_yaml_written_in_the_tests_reads_the_same() -> None:
    assert len(TEST_DOCUMENTS) > 100
    different = [
        text
        for text in TEST_DOCUMENTS
        if outcome(parse_yaml_fast, text) != outcome(parse_yaml, text)
    ]
    assert different == []


def _generated_test_texts() -> list[str]:
    texts = []
    for index, (streaming, text) in enumerate(
        [
            (True, "The capital of France is Paris."),
            (False, "Line one\nline two: with a colon\n  indented"),
            (True, "yes"),
            (False, "Ünïcödé — “quotes” 'single' \"double\" # not a comment"),
            (True, ""),
        ]
    ):
        trace = make_trace(text=text, streaming=streaming, epoch_s=1_700_000_000 + index)
        texts.append(make_test_text(trace, name=f"generated {index}"))
    return texts


@pytest.mark.parametrize("text", _generated_test_texts())
def test_test_files_made_from_traces_take_the_fast_path(text: str) -> None:
    assert fast(text)
    assert_same(text)


def _case_or_error(load: Callable[[], Any]) -> Any:
    try:
        return msgspec.to_builtins(load())
    except TestFileError as error:
        return ("error", str(error), error.line, error.field)


def test_test_files_load_the_same_as_with_ruamel() -> None:
    path = Path("t.yaml")
    texts = [t for t in TEST_DOCUMENTS if re.search(r"^(request|assertions):", t, re.MULTILINE)]
    assert len(texts) > 50
    for text in [*texts, *_generated_test_texts()]:
        expected = _case_or_error(partial(_load, path, parse_yaml, text))
        assert _case_or_error(partial(load_test_text, text, path)) == expected, text


def test_a_broken_test_file_names_the_same_line(tmp_path: Path) -> None:
    text = (
        "name: t\nrequest:\n  model: m\n  messages: []\n"
        "assertions:\n  - type: latency\n    max_ms: soon\n"
    )
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(TestFileError) as fast_error:
        load_test_file(path)
    with pytest.raises(TestFileError) as ruamel_error:
        _load(path, parse_yaml, text)
    assert str(fast_error.value) == str(ruamel_error.value)
    assert (fast_error.value.line, fast_error.value.field) == (7, "assertions[0].max_ms")


def test_file_errors_are_the_same(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"a: 1\nb: caf\xe9\n")
    missing = tmp_path / "missing.yaml"
    for path in (latin1, missing):
        assert outcome(read_yaml_fast, path) == outcome(read_yaml, path)  # type: ignore[arg-type]
        assert outcome(read_yaml_fast, path)[0] == "invalid"  # type: ignore[arg-type]


# --- generated inputs ---------------------------------------------------------------------

_SCALAR_ALPHABET = "0123456789_.-+eExobaflsuntrNTFYO~:<=#' "
#: Every spelling the YAML 1.1 and 1.2 resolvers know (https://yaml.org/type/bool.html,
#: null.html, float.html), and their case variants.
_WORDS = [
    *[
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
    ],
    *[
        "null",
        "Null",
        "NULL",
        "~",
        ".inf",
        ".Inf",
        ".INF",
        "-.inf",
        "+.inf",
        ".nan",
        ".NaN",
        ".NAN",
        "0b1",
        "0o7",
        "0x1",
        "1:2",
        "<<",
    ],
]
_WORDS += [word.swapcase() for word in _WORDS]


@FUZZ
@given(
    st.one_of(
        st.sampled_from(_WORDS),
        st.text(_SCALAR_ALPHABET, max_size=8),
        st.builds("".join, st.lists(st.sampled_from([*_WORDS, *_SCALAR_ALPHABET]), max_size=3)),
    )
)
def test_any_plain_scalar_resolves_as_ruamel_does(scalar: str) -> None:
    assert_same(f"k: {scalar}\n{scalar}: v\nl: [{scalar}]\n")


_VALUES = ["x", "two words", "42", "3.5", "yes", "~", "'q'", '"d\\n"', "[1, b]", "{a: 1}"]
_VALUES += ["010", "0x1f", ".inf", "2024-01-02", "<<", "a: b", "é", "", "- x", "!t x", "*a0"]
_KEYS = ["name", "a", "1", "'q k'", "true", "~", "<<", "? c", "[k]", "é", "name"]
_COMMENTS = ["", "", "", " # c", "  # c: d", "#x"]
_HEADERS = ["|", "|-", "|+", ">", ">-", "|2", ">#c", "> # c"]


def _node(rng: random.Random, depth: int, indent: int, anchors: list[str]) -> list[str]:
    """Lines of a random block mapping or sequence at ``indent``."""
    lines: list[str] = []
    pad = " " * indent
    mapping = rng.random() < 0.6
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.1:
            lines.append(rng.choice(["", pad + "# comment"]))
        head = pad + (f"{rng.choice(_KEYS)}:" if mapping else "-")
        anchor = ""
        if rng.random() < 0.15:
            anchors.append(f"a{len(anchors)}")
            anchor = f" &{anchors[-1]}"
        roll = rng.random()
        if roll < 0.35 and depth < 4:
            lines.append(head + anchor + rng.choice(_COMMENTS))
            lines += _node(rng, depth + 1, indent + rng.choice([0, 1, 2, 2, 4]), anchors)
        elif roll < 0.5:
            lines.append(f"{head}{anchor} {rng.choice(_HEADERS)}")
            for _ in range(rng.randint(0, 3)):
                extra = rng.choice([0, 0, 1, 2, -1])
                lines.append(" " * (indent + 2 + extra) + rng.choice(["text", "", "# t", "a: b"]))
        elif roll < 0.55 and anchors:
            lines.append(f"{head} *{rng.choice(anchors)}")
        elif roll < 0.6:
            lines.append(head + anchor + rng.choice(_COMMENTS))
            lines.append(pad + "  " + rng.choice(_VALUES))
        else:
            lines.append(f"{head}{anchor} {rng.choice(_VALUES)}{rng.choice(_COMMENTS)}")
    return lines


@FUZZ
@given(st.randoms(use_true_random=False), st.sampled_from(["\n", "\n", "\r\n"]))
def test_generated_documents_read_the_same(rng: random.Random, newline: str) -> None:
    lines = _node(rng, 0, 0, [])
    assert_same(newline.join(lines) + newline)

"""Test files: discovery, loading with located errors, and the JSON Schema for editors."""

from __future__ import annotations

import random
import re
import textwrap
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from ruamel.yaml import YAML

from traceforge_shared.evals import testcase
from traceforge_shared.evals.loader import (
    TestFileError,
    discover_tests,
    load_test_file,
    load_tests,
)
from traceforge_shared.evals.schema import SCHEMA_ID, test_file_schema
from traceforge_shared.evals.testcase import (
    DEFAULT_FIELD,
    TYPE_ALIASES,
    Contains,
    Exact,
    Fuzzy,
    Latency,
    NotContains,
    TestCase,
    TokenCount,
)
from traceforge_shared.yamlfile import YamlProblem, format_path, split_path, to_plain

GOOD = """\
name: Sky colour
request:
  model: gpt-4o
  messages:
    - {role: user, content: Why is the sky blue?}
assertions:
  - type: contains
    value: Rayleigh
  - type: latency
    max_ms: 2000
"""


def write(tmp_path: Path, text: str, name: str = "test.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def docstring_example() -> str:
    """The example test file of the testcase module docstring (the block after ``::``).

    Its ``field: response.choices[0].message.content`` inside a flow mapping (``{...}``) is
    not valid YAML (``[`` ends a plain scalar there), so the value is quoted here; a no-op
    once the docstring quotes it.
    """
    doc = testcase.__doc__ or ""
    block = textwrap.dedent(doc.split("::\n", 1)[1].split("\n\n")[0]).strip() + "\n"
    return re.sub(r"(\{[^}\n]*field: )(response[^,}\n]*)", r"\1'\2'", block)


def load_error(tmp_path: Path, text: str) -> tuple[Path, TestFileError]:
    path = write(tmp_path, text)
    with pytest.raises(TestFileError) as info:
        load_test_file(path)
    return path, info.value


# --- loading ------------------------------------------------------------------------------


def test_docstring_example_unquoted_field_is_a_located_yaml_error(tmp_path: Path) -> None:
    text = "name: t\nrequest: {model: m, messages: []}\nassertions:\n"
    text += "  - {type: contains, field: response.choices[0].message.content, value: q}\n"
    path, error = load_error(tmp_path, text)
    assert str(error).startswith(f"{path}:4: invalid YAML: expected ',' or '}}', but got '['")


def test_docstring_example_loads(tmp_path: Path) -> None:
    case = load_test_file(write(tmp_path, docstring_example()))
    assert case.name == "Quantum Computing Query"
    assert case.tags == ["smoke", "gpt4"]
    assert case.request["model"] == "gpt-4o"
    assert case.request["temperature"] == 0.7
    assert type(case.request["temperature"]) is float
    assert case.assertions == [
        Contains(field=DEFAULT_FIELD, value="quantum"),
        Latency(max_ms=2000),
    ]


def test_good_file_loads_plain_python(tmp_path: Path) -> None:
    text = GOOD + "tags: [a]\nsource_trace: abc\ndescription: |-\n  two\n  lines\n"
    case = load_test_file(write(tmp_path, text))
    assert case == TestCase(
        name="Sky colour",
        request={
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Why is the sky blue?"}],
        },
        assertions=[Contains(value="Rayleigh"), Latency(max_ms=2000.0)],
        tags=["a"],
        source_trace="abc",
        description="two\nlines",
    )
    # no ruamel container or scalar subclasses leak out
    assert type(case.request) is dict
    assert type(case.request["messages"]) is list
    assert type(case.request["messages"][0]) is dict
    assert type(case.description) is str


def test_yaml_specific_values_become_plain(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        name: x
        request:
          model: m
          messages: []
          flag: &t true
          again: *t
          hexed: 0x1F
          day: 2024-01-02
          tagged: !custom text
          choices: !!set {a, b}
          temperature: 1.5e-3
        """
    )
    case = load_test_file(write(tmp_path, text))
    request = case.request
    assert request["flag"] is True
    assert request["again"] is True
    assert type(request["hexed"]) is int
    assert request["hexed"] == 31
    assert request["day"] == "2024-01-02"
    assert request["tagged"] == "text"
    assert request["choices"] == ["a", "b"]
    assert type(request["temperature"]) is float


@pytest.mark.parametrize(
    ("alias", "extra", "expected"),
    [
        ("fuzzy_match", "value: hi", Fuzzy(value="hi")),
        ("tokens", "max: 10", TokenCount(max=10)),
        ("response_time", "max_ms: 500", Latency(max_ms=500)),
        ("equals", "value: hi", Exact(value="hi")),
        ("not-contains", "value: hi", NotContains(value="hi")),
    ],
)
def test_type_aliases_load_as_canonical(
    tmp_path: Path, alias: str, extra: str, expected: Any
) -> None:
    text = GOOD.split("assertions:")[0] + f"assertions:\n  - type: {alias}\n    {extra}\n"
    case = load_test_file(write(tmp_path, text))
    assert case.assertions == [expected]


def test_every_alias_is_covered() -> None:
    hyphenated = {
        tag.replace("_", "-")
        for tag in (cls.__struct_config__.tag for cls in testcase.Assertion.__args__)
        if "_" in tag
    }
    others = {"fuzzy_match", "tokens", "response_time", "equals", "not-contains", "jsonpath"}
    assert set(TYPE_ALIASES) == hyphenated | others


def test_error_str_format() -> None:
    path = Path("t.yaml")
    full = TestFileError(path, "bad", line=3, field="a.b")
    assert str(full) == "t.yaml:3: a.b: bad"
    assert (full.path, full.line, full.field, full.reason) == (path, 3, "a.b", "bad")
    assert str(TestFileError(path, "bad")) == "t.yaml: bad"
    assert str(TestFileError(path, "bad", line=2)) == "t.yaml:2: bad"
    assert str(TestFileError(path, "bad", field="x")) == "t.yaml: x: bad"
    assert isinstance(full, ValueError)


# --- located errors ------------------------------------------------------------------------

HEAD = "name: t\nrequest: {model: m, messages: []}\nassertions:\n"  # assertions from line 4


@pytest.mark.parametrize(
    ("text", "line", "field", "reason"),
    [
        # missing required field: the line of the assertion that lacks it
        (HEAD + "  - type: latency\n", 4, "assertions[0].max_ms", "missing required field"),
        (
            HEAD + "  - {type: contains, value: a}\n  - {type: latency}\n",
            5,
            "assertions[1].max_ms",
            "missing required field",
        ),
        # wrong type: the line of the value
        (
            HEAD + "  - type: contains\n    value: a\n  - type: latency\n    max_ms: soon\n",
            7,
            "assertions[1].max_ms",
            "Expected `float`, got `str`",
        ),
        (
            HEAD + "  - type: fuzzy\n    value: a\n    threshold: 2\n",
            6,
            "assertions[0].threshold",
            "Expected `float` <= 1.0",
        ),
        (
            HEAD + "  - type: tokens\n    max: -1\n",
            5,
            "assertions[0].max",
            "Expected `int` >= 0",
        ),
        (
            "name: [a]\nrequest: {model: m, messages: []}\n",
            1,
            "name",
            "Expected `str`, got `array`",
        ),
        ("name: t\nrequest: {model: m, messages: []}\ntags: a\n", 3, "tags", "Expected `array`"),
        (HEAD + "  - just text\n", 4, "assertions[0]", "Expected `object`, got `str`"),
        (HEAD + "  - {value: a}\n", 4, "assertions[0].type", "missing required field"),
        # unknown fields: the line of the key, with the known ones
        (
            "name: t\nrequest: {model: m, messages: []}\ntimeout: 3\n",
            3,
            "timeout",
            "unknown field; known: name, request, assertions, description, tags, source_trace",
        ),
        (
            HEAD + "  - type: fuzzy_match\n    value: a\n    treshold: 0.5\n",
            6,
            "assertions[0].treshold",
            "unknown field; known: type, value, threshold, field, description",
        ),
        # missing top-level field: the first line of the document
        ("# a comment\nrequest: {model: m, messages: []}\n", 2, "name", "missing required field"),
        # the TestCase checks of request
        ("name: t\nrequest:\n  messages: []\n", 2, "request.model", "a model name is required"),
        (
            "name: t\nrequest:\n  model: m\n  messages: hi\n",
            4,
            "request.messages",
            "a list of messages is required",
        ),
        # an invalid regular expression: the line of the pattern
        (
            HEAD + "  - type: regex\n    pattern: 'a(b'\n",
            5,
            "assertions[0].pattern",
            "invalid regular expression 'a(b': missing ), unterminated subpattern",
        ),
    ],
)
def test_located_errors(tmp_path: Path, text: str, line: int, field: str, reason: str) -> None:
    path, error = load_error(tmp_path, text)
    assert str(error).startswith(f"{path}:{line}: {field}: {reason}")
    assert (error.path, error.line, error.field) == (path, line, field)
    assert error.reason.startswith(reason)


def test_unknown_assertion_type_lists_types_and_aliases(tmp_path: Path) -> None:
    path, error = load_error(tmp_path, HEAD + "  - type: latency\n    max_ms: 5\n  - type: fuzy\n")
    message = str(error)
    assert message.startswith(f"{path}:6: assertions[1].type: unknown assertion type 'fuzy'; ")
    known = re.search(r"known types: ([^;]+);", message)
    assert known is not None
    assert "fuzzy" in known.group(1).split(", ")
    assert "token_count" in known.group(1).split(", ")
    assert "fuzzy_match (fuzzy)" in message
    assert "response_time (latency)" in message


def test_unreadable_file(tmp_path: Path) -> None:
    directory = tmp_path / "dir.yaml"
    directory.mkdir()
    with pytest.raises(TestFileError) as info:
        load_test_file(directory)
    assert str(info.value).startswith(f"{directory}: cannot read: ")
    assert info.value.line is None

    missing = tmp_path / "missing.yaml"
    with pytest.raises(TestFileError, match="cannot read: No such file"):
        load_test_file(missing)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_bytes(b"name: t\nrequest: \xff\n")
    with pytest.raises(TestFileError) as info:
        load_test_file(path)
    assert str(info.value).startswith(f"{path}:2: not UTF-8 text")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        # an unclosed bracket or quote: the line where it opens, not the end of the file
        ("name: t\nrequest: [a\n\n", 2, "invalid YAML: while parsing a flow sequence: "),
        ('name: "t\nrequest: {}\n', 1, "invalid YAML: while scanning a quoted scalar: "),
        ("name: t\nrequest: [\n", 2, "invalid YAML: while parsing a flow node: "),
        ("name: t\nrequest: {model: m}\n  bad: indent\n", 3, "invalid YAML: "),
        (
            "name: t\nname: u\nrequest: {model: m, messages: []}\n",
            2,
            "invalid YAML: found duplicate key",
        ),
        ("name: t\nrequest: \x07\n", 2, "invalid YAML: "),
    ],
)
def test_bad_yaml_has_the_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path, error = load_error(tmp_path, text)
    assert str(error).startswith(f"{path}:{line}: {reason}")
    assert error.field is None


def test_bad_yaml_value_without_a_line(tmp_path: Path) -> None:
    # ruamel's constructors raise plain ValueErrors for these; still a TestFileError
    for text in ("name: 2024-13-45\n", "name: !!int ten\n"):
        path, error = load_error(tmp_path, text)
        assert str(error).startswith(f"{path}: invalid YAML: ")


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("", "{path}: a test file must be a mapping (name:, request:, assertions:), not empty"),
        ("# only a comment\n", "{path}: a test file must be a mapping"),
        (
            "- a\n- b\n",
            "{path}:1: a test file must be a mapping (name:, request:, assertions:), not a list",
        ),
        (
            "just text\n",
            "{path}: a test file must be a mapping (name:, request:, assertions:), not a str",
        ),
    ],
)
def test_not_a_mapping(tmp_path: Path, text: str, prefix: str) -> None:
    path, error = load_error(tmp_path, text)
    assert str(error).startswith(prefix.format(path=path))


def test_garbage_only_ever_raises_test_file_error(tmp_path: Path) -> None:
    """Mutated good files, random bytes: a TestCase or a TestFileError, nothing else."""
    rng = random.Random(1234)
    base = docstring_example() + GOOD.split("assertions:\n")[1]
    alphabet = [*":-{}[]'\"!&*#|>%@`,? \n\t\x00\x85abc0123456789.", "\ufeff", "é"]
    path = tmp_path / "fuzz.yaml"
    outcomes: set[str] = set()
    for _ in range(400):
        chars = list(base)
        for _ in range(rng.randint(1, 6)):
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(alphabet))
            if rng.random() < 0.5 and chars:
                del chars[rng.randrange(len(chars))]
        path.write_text("".join(chars), encoding="utf-8")
        outcomes.add(outcome(path))
    assert outcomes == {"loaded", "error"}  # the mutations hit both
    for _ in range(100):
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(0, 80))))
        outcome(path)


def outcome(path: Path) -> str:
    try:
        load_test_file(path)
    except TestFileError:
        return "error"
    return "loaded"


def test_yamlfile_helpers() -> None:
    assert split_path(".assertions[1].max_ms") == ["assertions", 1, "max_ms"]
    assert split_path(".a[...].b") == ["a", "*", "b"]
    assert format_path(["assertions", 1, "max_ms"]) == "assertions[1].max_ms"
    assert format_path(["request", "model"]) == "request.model"
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(YamlProblem, match="alias"):
        to_plain(cyclic)
    shared = [1]
    assert to_plain({"a": shared, "b": shared}) == {"a": [1], "b": [1]}  # not a cycle
    assert to_plain({True: 1, None: 2, 3: 4}) == {"true": 1, "null": 2, "3": 4}


# --- discovery ------------------------------------------------------------------------------


def test_discover_tests(tmp_path: Path) -> None:
    root = tmp_path / "tests"
    for name in (
        "b.yaml",
        "a.yml",
        "notes.txt",
        "sub/c.yaml",
        "sub/deeper/d.yaml",
        ".hidden/e.yaml",
        "sub/.cache/f.yaml",
        ".swap.yaml",
        "z.yaml",
    ):
        write(root, "x: 1\n", name)
    (root / "dir.yaml").mkdir()  # a directory named like a test file is searched, not taken
    found = discover_tests([root])
    assert [p.relative_to(root).as_posix() for p in found] == [
        "a.yml",
        "b.yaml",
        "sub/c.yaml",
        "sub/deeper/d.yaml",
        "z.yaml",
    ]
    # a file is taken as is, whatever its name; each file once, in order
    notes = root / "notes.txt"
    assert discover_tests([notes, root / "z.yaml", root]) == [notes, root / "z.yaml", *found[:-1]]


def test_discover_hidden_root_is_searched(tmp_path: Path) -> None:
    root = tmp_path / ".ai-tests" / "tests"
    path = write(root, GOOD, "one.yaml")
    assert discover_tests([tmp_path / ".ai-tests"]) == [path]


def test_discover_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError) as info:
        discover_tests([tmp_path, missing])
    assert str(missing) in str(info.value)
    assert info.value.filename == str(missing)


def test_load_tests_collects_errors(tmp_path: Path) -> None:
    good_a = write(tmp_path, GOOD, "a.yaml")
    broken = write(tmp_path, HEAD + "  - type: latency\n", "b.yaml")
    good_c = write(tmp_path, GOOD.replace("Sky colour", "Other"), "sub/c.yml")
    not_yaml = write(tmp_path, "name: [\n", "d.yaml")
    cases, errors = load_tests([tmp_path])
    assert [(path, case.name) for path, case in cases] == [
        (good_a, "Sky colour"),
        (good_c, "Other"),
    ]
    assert [e.path for e in errors] == [broken, not_yaml]
    assert str(errors[0]).startswith(f"{broken}:4: assertions[0].max_ms: ")


def test_load_tests_empty_directory(tmp_path: Path) -> None:
    assert load_tests([tmp_path]) == ([], [])


# --- JSON Schema ----------------------------------------------------------------------------


def plain_yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


def validator() -> jsonschema.Draft202012Validator:
    schema = test_file_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_header() -> None:
    schema = test_file_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID == "https://traceforge.dev/schemas/test-file.json"
    assert schema["title"]
    assert "assertions" in schema["description"]
    assert schema["type"] == "object"
    assert set(schema["required"]) == {"name", "request"}
    assert test_file_schema() == schema  # deterministic, a fresh copy each time
    assert test_file_schema() is not schema


def test_schema_descriptions_and_aliases() -> None:
    schema = test_file_schema()
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
    assert schema["properties"]["tags"]["description"] == "For `test run --tag`."
    defs = schema["$defs"]
    assertion_defs = {
        cls.__struct_config__.tag: defs[cls.__name__] for cls in testcase.Assertion.__args__
    }
    assert len(assertion_defs) == 24
    for tag, definition in assertion_defs.items():
        aliases = [a for a, canonical in TYPE_ALIASES.items() if canonical == tag]
        assert definition["properties"]["type"]["enum"] == [tag, *aliases]
        assert definition["description"], tag
        for name, prop in definition["properties"].items():
            assert prop.get("description"), (tag, name)
    fuzzy = assertion_defs["fuzzy"]
    assert fuzzy["description"] == (
        "The field is similar to `value`: rapidfuzz `fuzz.ratio` / 100 >= `threshold`."
    )
    assert fuzzy["properties"]["field"]["description"].startswith("Path into the run's trace")
    json_schema = assertion_defs["json_schema"]["description"]
    assert "\n" not in json_schema  # docstring lines unwrapped
    mapping = schema["properties"]["assertions"]["items"]["discriminator"]["mapping"]
    assert mapping["fuzzy_match"] == mapping["fuzzy"]


def test_schema_accepts_good_documents(tmp_path: Path) -> None:
    check = validator()
    aliases = HEAD + (
        "  - {type: fuzzy_match, value: a, threshold: 0.9}\n"
        "  - {type: tokens, max: 10, count: total}\n"
        "  - {type: response_time, max_ms: 100}\n"
        "  - {type: equals, value: a, description: why}\n"
        "  - {type: not-contains, value: b, field: response.model}\n"
        "  - {type: tool_call, name: f, arguments: {a: 1}}\n"
        "  - {type: json_path, path: $.a, value: [1], operator: contains}\n"
        "  - {type: json_schema, schema: {type: object}}\n"
        "  - {type: is_json}\n"
    )
    for text in (docstring_example(), GOOD, aliases):
        doc = plain_yaml(text)
        assert list(check.iter_errors(doc)) == []
        load_test_file(write(tmp_path, text))  # and the loader agrees


@pytest.mark.parametrize(
    "text",
    [
        HEAD + "  - {type: fuzy, value: a}\n",
        HEAD + "  - {type: latency}\n",
        HEAD + "  - {type: latency, max_ms: soon}\n",
        HEAD + "  - {type: latency, max_ms: -1}\n",
        HEAD + "  - {type: fuzzy, value: a, threshold: 2}\n",
        HEAD + "  - {type: contains, value: a, extra: 1}\n",
        HEAD + "  - {type: token_count, count: words}\n",
        HEAD + "  - {type: json_path, path: $.a, operator: '=~'}\n",
        HEAD + "  - just text\n",
        "name: t\nrequest: {model: m, messages: []}\ntimeout: 1\n",
        "request: {model: m, messages: []}\n",
        "name: t\nrequest: {messages: []}\n",
        "name: t\nrequest: {model: m}\n",
        "name: t\nrequest: {model: m, messages: []}\ntags: [1]\n",
    ],
)
def test_schema_rejects_what_the_loader_rejects(tmp_path: Path, text: str) -> None:
    assert list(validator().iter_errors(plain_yaml(text)))
    with pytest.raises(TestFileError):
        load_test_file(write(tmp_path, text))

"""Finding things in a test file's text: positions of YAML values, the assertion a line
belongs to, the word under the cursor, and the documentation of assertion types and fields
(from the msgspec types' docstrings, through :func:`traceforge_shared.evals.schema`).

Everything here is pure (text in, data out) and tolerates half-typed YAML.
"""

from __future__ import annotations

import functools
import re
from typing import Any, get_args

from lsprotocol import types

from traceforge_shared.evals.aliases import canonical_type as shared_canonical_type
from traceforge_shared.evals.schema import test_file_schema
from traceforge_shared.evals.testcase import TYPE_ALIASES, Assertion, TestCase
from traceforge_shared.yamlfile import YamlProblem, parse_yaml

#: Canonical assertion type → its msgspec struct.
ASSERTION_TYPES: dict[str, type[Any]] = {
    cls.__struct_config__.tag: cls for cls in get_args(Assertion)
}
#: Fields every assertion has (besides ``type``).
COMMON_FIELDS = ("field", "description")
#: Top-level keys of a test file.
TOP_LEVEL_KEYS = tuple(TestCase.__struct_fields__)

_TYPE_LINE = re.compile(r"^(?P<indent>\s*)(?:-\s+)?\{?\s*type:\s*(?P<value>[\w-]*)")
_ITEM_LINE = re.compile(r"^(?P<indent>\s*)-\s")


def parse(text: str) -> Any:
    """The ruamel round-trip document of ``text``, or ``None`` when it is not valid YAML."""
    try:
        return parse_yaml(text)
    except YamlProblem:
        return None


def canonical_type(name: str) -> str | None:
    """The canonical assertion type of ``name`` (an alias, a type, or ``not-`` and either),
    or ``None``."""
    found = shared_canonical_type(name)
    return found[0] if found is not None else None


def fields_of(kind: str) -> list[str]:
    """Keys an assertion of canonical type ``kind`` may have, ``type`` first."""
    return ["type", *ASSERTION_TYPES[kind].__struct_fields__]


def _node_range(node: Any, key: str | int, text_lines: list[str]) -> types.Range | None:
    """Range of the value under ``key`` of a ruamel mapping or sequence ``node``."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        line, col = lc.value(key) if isinstance(key, str) else lc.item(key)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    if line is None or line >= len(text_lines):
        return None
    source = text_lines[line]
    end = len(source.rstrip())
    value = node[key]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        found = source.find(str(value), col)
        if found >= 0:
            col, end = found, found + len(str(value))
    return types.Range(types.Position(line, col), types.Position(line, max(end, col)))


def value_range(doc: Any, parts: list[str | int], text: str) -> types.Range | None:
    """Range of the value at ``parts`` in ``doc`` (0-based LSP positions), or ``None``."""
    node = doc
    for part in parts[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return _node_range(node, parts[-1], text.splitlines()) if parts else None


def line_range(text: str, line: int) -> types.Range:
    """The range of the non-blank part of 0-based ``line`` of ``text``."""
    lines = text.splitlines()
    source = lines[line] if 0 <= line < len(lines) else ""
    start = len(source) - len(source.lstrip())
    return types.Range(
        types.Position(line, start), types.Position(line, max(len(source.rstrip()), start))
    )


def enclosing_assertion_type(lines: list[str], line: int) -> str | None:
    """The ``type:`` value of the list item that 0-based ``line`` is part of, if any (as
    written: may be an alias or unknown)."""
    if not 0 <= line < len(lines):
        return None
    start = None
    current = lines[line]
    indent = len(current) - len(current.lstrip())
    for index in range(line, -1, -1):
        item = _ITEM_LINE.match(lines[index])
        if item and (index == line or len(item.group("indent")) < indent):
            start = index
            break
        text = lines[index].strip()
        if text and not text.startswith("#") and index != line:
            row_indent = len(lines[index]) - len(lines[index].lstrip())
            if row_indent < indent and not item:
                return None  # left the list before finding its item
    if start is None:
        return None
    dash = len(_ITEM_LINE.match(lines[start]).group("indent"))  # type: ignore[union-attr]
    for index in range(start, len(lines)):
        if index > start:
            row = lines[index]
            stripped = row.strip()
            row_indent = len(row) - len(row.lstrip())
            if stripped and not stripped.startswith("#") and row_indent <= dash:
                break
        found = re.search(r"(?:^|[\s{,-])type:\s*([\w-]+)", lines[index])
        if found:
            return found.group(1)
    return None


def word_at(line: str, character: int) -> tuple[str, int, int]:
    """The word (letters, digits, ``_ - .``) around ``character`` and its start and end."""
    start = character
    while start > 0 and re.match(r"[\w.-]", line[start - 1]):
        start -= 1
    end = character
    while end < len(line) and re.match(r"[\w.-]", line[end]):
        end += 1
    return line[start:end], start, end


@functools.cache
def _schema() -> dict[str, Any]:
    return test_file_schema()


def type_doc(kind: str) -> str:
    """Markdown documentation of the canonical assertion type ``kind``: what it checks and
    each of its fields."""
    cls = ASSERTION_TYPES[kind]
    definition = _schema()["$defs"][cls.__name__]
    aliases = [alias for alias, canonical in TYPE_ALIASES.items() if canonical == kind]
    head = f"**`{kind}`** assertion" + (f" (aliases: {', '.join(aliases)})" if aliases else "")
    body = [head, "", definition.get("description", ""), "", "Fields:"]
    required = set(definition.get("required", []))
    for name in cls.__struct_fields__:
        described = definition["properties"].get(name, {}).get("description", "")
        marker = " (required)" if name in required else ""
        body.append(f"- `{name}`{marker}: {described}")
    return "\n".join(body)


def field_doc(kind: str | None, name: str) -> str | None:
    """Markdown documentation of field ``name`` of an assertion of canonical type ``kind``,
    or of a top-level key when ``kind`` is ``None``; ``None`` when there is no such field."""
    schema = _schema()
    if kind is None:
        props = schema.get("properties", {})
        title = "test file"
    else:
        props = schema["$defs"][ASSERTION_TYPES[kind].__name__]["properties"]
        title = f"`{kind}` assertion"
    prop = props.get(name)
    if prop is None:
        return None
    return f"**`{name}`** ({title})\n\n{prop.get('description', '')}".rstrip()

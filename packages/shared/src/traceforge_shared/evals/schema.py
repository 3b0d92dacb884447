"""The JSON Schema of test files, for editors (yaml-language-server) and CI checks.

Built from the :class:`~traceforge_shared.evals.testcase.TestCase` structs with
``msgspec.json.schema`` and completed: assertion ``type`` values also accept their aliases,
and properties carry the descriptions of the struct docstrings. Point an editor at it with a
first line ``# yaml-language-server: $schema=<path or URL of the schema>``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, get_args

import msgspec

from traceforge_shared.evals.testcase import TYPE_ALIASES, Assertion, TestCase

#: ``$id`` of the test file schema.
SCHEMA_ID = "https://traceforge.dev/schemas/test-file.json"

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_ATTRIBUTE_RE = re.compile(r"^ {4}([A-Za-z_]\w*): ?(.*)$")


def test_file_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of a test file.

    The root is the ``TestCase`` object (``name``, ``request``, ``assertions``, ...); each
    assertion type is a ``$defs`` entry selected by ``type``, whose ``enum`` lists the
    canonical type and its aliases. ``request`` must have a string ``model`` and a
    ``messages`` list, as the loader requires. Descriptions come from the struct docstrings.
    A new dict on each call: callers may change it.
    """
    generated = msgspec.json.schema(TestCase)
    defs: dict[str, Any] = generated["$defs"]
    root = defs.pop("TestCase")
    _describe(root, TestCase)
    root["properties"]["request"].update(
        properties={
            "model": {"type": "string", "description": "Model name; it picks the provider."},
            "messages": {"type": "array", "description": "The chat messages sent."},
        },
        required=["model", "messages"],
    )
    aliases_of: dict[str, list[str]] = {}
    for alias, canonical in TYPE_ALIASES.items():
        aliases_of.setdefault(canonical, []).append(alias)
    for cls in get_args(Assertion):
        tag: str = cls.__struct_config__.tag
        definition = defs[cls.__name__]
        _describe(definition, cls)
        names = [tag, *aliases_of.get(tag, [])]
        also = f" (also: {', '.join(aliases_of[tag])})" if tag in aliases_of else ""
        definition["properties"]["type"] = {
            "enum": names,
            "description": f"Assertion type `{tag}`{also}: {definition['description']}",
        }
    items = root["properties"]["assertions"]["items"]
    mapping = items.get("discriminator", {}).get("mapping")
    if isinstance(mapping, dict):
        for alias, canonical in TYPE_ALIASES.items():
            if canonical in mapping:
                mapping[alias] = mapping[canonical]
    return {
        "$schema": _DIALECT,
        "$id": SCHEMA_ID,
        **root,
        "title": "TraceForge test file",
        "description": (
            "An LLM regression test (.ai-tests/tests/*.yaml): an OpenAI chat completion "
            "`request` and `assertions` on the answer. " + root["description"]
        ),
        "$defs": defs,
    }


def _describe(definition: dict[str, Any], cls: type[Any]) -> None:
    """Set the description of ``definition`` (the schema of struct ``cls``) to the docstring's
    text, and each property's to its ``Attributes:`` entry (looked up through the base
    classes); a property with none gets the struct's text, which says what it is for."""
    summary, attributes = _parse_docstring(cls)
    for base in cls.__mro__[1:]:
        if isinstance(base, type) and issubclass(base, msgspec.Struct):
            for name, text in _parse_docstring(base)[1].items():
                attributes.setdefault(name, text)
    definition["description"] = summary
    for name, prop in definition.get("properties", {}).items():
        prop.setdefault("description", attributes.get(name, summary))


def _parse_docstring(cls: type[Any]) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its text (paragraphs unwrapped, RST ````x````
    made Markdown ```x```) and its ``Attributes:`` entries."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    body, _, attrs = doc.partition("\nAttributes:\n")
    attributes: dict[str, str] = {}
    current: str | None = None
    for line in attrs.splitlines():
        match = _ATTRIBUTE_RE.match(line)
        if match:
            current = match.group(1)
            attributes[current] = match.group(2)
        elif current is not None and line.startswith(" " * 8):
            attributes[current] += " " + line.strip()
        elif line.strip():
            current = None  # end of the section
    return _tidy(body), {name: _sentence(_tidy(text)) for name, text in attributes.items()}


def _tidy(text: str) -> str:
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()))
    return "\n\n".join(p for p in paragraphs if p).replace("``", "`")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


test_file_schema.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

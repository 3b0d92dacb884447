"""``fixtures:`` of a test file: named values its request and assertions reuse.

::

    fixtures:
      system: {role: system, content: You answer in one sentence.}
      city: Paris
    request:
      model: gpt-4o-mini
      messages:
        - "{{ fixtures.system }}"                       # the whole message
        - {role: user, content: "Weather in {{ fixtures.city }}?"}
    assertions:
      - {type: contains, value: "{{ fixtures.city }}"}

A string that is only a reference becomes the value itself (any JSON value); a reference
inside a longer string is replaced by the value's text (strings as they are, other values as
compact JSON); a reference to a list, as a list item, is spliced into that list. References
are resolved once, when the file is loaded. A fixture may reference the fixtures defined above
it (so there are no cycles).
"""

from __future__ import annotations

import json
import re
from typing import Any

from traceforge_shared.yamlfile import YamlProblem, line_of

__all__ = ["REFERENCE", "resolve_fixtures"]

#: ``{{ fixtures.<name> }}`` (spaces optional).
REFERENCE = re.compile(r"\{\{\s*fixtures\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}")


def resolve_fixtures(plain: dict[str, Any], doc: Any = None) -> None:
    """Replace every fixture reference in ``plain["request"]`` and ``plain["assertions"]``
    by its value, in place. ``doc`` (the parsed document) gives line numbers to errors.

    Raises:
        YamlProblem: ``fixtures`` is not a mapping, or a reference names no fixture (the
            message lists the fixtures there are).
    """
    fixtures = plain.get("fixtures", {})
    if not isinstance(fixtures, dict):
        raise YamlProblem(
            "fixtures must be a mapping of names to values",
            line=line_of(doc, ["fixtures"]),
            field="fixtures",
        )
    resolved: dict[str, Any] = {}
    for name, value in fixtures.items():  # each may use the ones above it
        resolved[name] = _resolve(value, resolved, ["fixtures", name], doc)
    for key in ("request", "assertions"):
        if key in plain:
            plain[key] = _resolve(plain[key], resolved, [key], doc)


def _lookup(name: str, fixtures: dict[str, Any], parts: list[str | int], doc: Any) -> Any:
    if name in fixtures:
        return fixtures[name]
    known = ", ".join(fixtures) or "none are defined"
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    raise YamlProblem(
        f"unknown fixture {name!r} (fixtures: {known})", line=line_of(doc, parts), field=field
    )


def _resolve(value: Any, fixtures: dict[str, Any], parts: list[str | int], doc: Any) -> Any:
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value.strip())
        if whole:
            return _lookup(whole.group(1), fixtures, parts, doc)

        def text(match: re.Match[str]) -> str:
            found = _lookup(match.group(1), fixtures, parts, doc)
            return found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)

        return REFERENCE.sub(text, value)
    if isinstance(value, dict):
        return {k: _resolve(v, fixtures, [*parts, k], doc) for k, v in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for index, item in enumerate(value):
            spliced = isinstance(item, str) and REFERENCE.fullmatch(item.strip())
            resolved = _resolve(item, fixtures, [*parts, index], doc)
            if spliced and isinstance(resolved, list):
                out.extend(resolved)
            else:
                out.append(resolved)
        return out
    return value

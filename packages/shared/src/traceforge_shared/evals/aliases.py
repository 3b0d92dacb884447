"""The other spellings of a test file, rewritten to the canonical one.

Test files written for other tools or from the source documents load as they are; this module
maps them, key by key, to the canonical form (:mod:`traceforge_shared.evals.testcase`). The
loader applies it to the plain data it validates; ``traceforge test migrate`` applies it to
the ruamel document it writes back (so comments stay where ruamel keeps them).

=========================================  ===============================================
written                                    canonical
=========================================  ===============================================
``id: x``                                  ``name: x``
``type: jsonpath``, ``llm-rubric``, ...    ``type: json_path``, ``llm_rubric``
                                           (:data:`~traceforge_shared.evals.testcase.TYPE_ALIASES`)
``type: not-<type>``                       ``type: <type>``, ``negate: true``
``expected: x``                            ``value: x``
``{type: latency, max: 2000}``             ``{type: latency, max_ms: 2000}``
``{type: cost, max: 0.01}``                ``{type: cost, max_usd: 0.01}``
``- response_time: {max: 2000}``           ``- {type: latency, max_ms: 2000}``
``- contains: quantum``                    ``- {type: contains, value: quantum}``
top-level ``response_time: {max: 2000}``   a ``latency`` assertion appended
``field: response.content``                ``field: response.choices[0].message.content``
``field: response.tool_calls[0]...``       ``field: response.choices[0].message.tool_calls[0]...``
``field: response.finish_reason``          ``field: response.choices[0].finish_reason``
``field: response.message``                ``field: response.choices[0].message``
=========================================  ===============================================

``response.usage.*`` needs no mapping: a chat completion has ``usage``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, get_args

from traceforge_shared.evals.testcase import TYPE_ALIASES, Assertion
from traceforge_shared.yamlfile import YamlProblem, line_of

__all__ = ["FIELD_SHORTCUTS", "canonical_field", "canonical_type", "canonicalize"]

#: Canonical assertion types.
ASSERTION_TYPES = frozenset(cls.__struct_config__.tag for cls in get_args(Assertion))

#: ``response.<name>`` shortcuts → the chat completion path they stand for.
FIELD_SHORTCUTS = {
    "content": "response.choices[0].message.content",
    "tool_calls": "response.choices[0].message.tool_calls",
    "finish_reason": "response.choices[0].finish_reason",
    "message": "response.choices[0].message",
}

#: Key renames per canonical type (``max`` of a latency is milliseconds, of a cost USD).
_KEY_ALIASES: dict[str, dict[str, str]] = {
    "latency": {"max": "max_ms"},
    "cost": {"max": "max_usd"},
}

_NOT = "not-"


def canonical_type(kind: str) -> tuple[str, bool] | None:
    """``(canonical type, negated)`` of a written ``type``, or ``None`` when unknown.

    ``contains`` → ``("contains", False)``; ``not-icontains`` → ``("icontains", True)``;
    ``not-contains`` stays its own type ``not_contains``.
    """
    mapped = TYPE_ALIASES.get(kind, kind)
    if mapped in ASSERTION_TYPES:
        return mapped, False
    if kind.startswith(_NOT):
        rest = TYPE_ALIASES.get(kind[len(_NOT) :], kind[len(_NOT) :])
        if rest in ASSERTION_TYPES:
            return rest, True
    return None


def canonical_field(path: str) -> str:
    """``path`` with a ``response.<shortcut>`` prefix (:data:`FIELD_SHORTCUTS`) expanded;
    other paths unchanged."""
    if not path.startswith("response."):
        return path
    rest = path[len("response.") :]
    for name, target in FIELD_SHORTCUTS.items():
        if rest == name or rest.startswith((f"{name}.", f"{name}[")):
            return target + rest[len(name) :]
    return path


def _rename(mapping: MutableMapping[str, Any], old: str, new: str) -> None:
    """Rename key ``old`` to ``new`` in place, at the same position when the mapping keeps
    an order it can insert into (ruamel's ``CommentedMap``)."""
    value = mapping[old]
    insert = getattr(mapping, "insert", None)
    if callable(insert):
        position = list(mapping).index(old)
        del mapping[old]
        insert(position, new, value)
    else:
        del mapping[old]
        mapping[new] = value


def _problem(doc: Any, parts: list[str | int], field: str, reason: str) -> YamlProblem:
    return YamlProblem(reason, line=line_of(doc, parts), field=field)


def canonicalize(data: MutableMapping[str, Any], doc: Any = None) -> list[str]:
    """Rewrite a test file's mapping ``data`` to the canonical form, in place (see the module
    table); ``doc`` is the parsed document, for line numbers (default ``data``).

    Returns a list of what was changed (``"id → name"``, ...), for ``test migrate``.

    Raises:
        YamlProblem: ``id`` and ``name`` both given and different; an unknown assertion
            type (the message lists the known ones); a shorthand item that cannot be read;
            a key alias whose canonical key is also given.
    """
    doc = data if doc is None else doc
    changes: list[str] = []
    if "id" in data:
        if "name" in data and data["name"] != data["id"]:
            raise _problem(doc, ["id"], "id", "give name or id (its alias), not both")
        if "name" in data:
            del data["id"]
        else:
            _rename(data, "id", "name")
        changes.append("id → name")
    assertions = data.get("assertions")
    top_latency = data.get("response_time")
    if isinstance(top_latency, MutableMapping) and "max" in top_latency:
        if not isinstance(assertions, list):
            data["assertions"] = assertions = []
        assertions.append({"type": "latency", "max_ms": top_latency["max"]})
        del data["response_time"]
        changes.append("response_time → a latency assertion")
    if not isinstance(assertions, list):
        return changes
    for index, item in enumerate(assertions):
        if isinstance(item, MutableMapping):
            changes += _canonicalize_item(item, doc, index)
    return changes


def _canonicalize_item(item: MutableMapping[str, Any], doc: Any, index: int) -> list[str]:
    where = f"assertions[{index}]"
    changes: list[str] = []
    if "type" not in item and len(item) == 1:  # shorthand: `- response_time: {max: 2000}`
        (key,) = item
        if isinstance(key, str) and canonical_type(key) is not None:
            value = item[key]
            del item[key]
            item["type"] = key
            if isinstance(value, MutableMapping):
                for k, v in value.items():
                    item[k] = v
            elif value is not None:
                item["value"] = value
            changes.append(f"{where}: {key}: ... → type: {key}")
    kind = item.get("type")
    if not isinstance(kind, str):
        return changes
    found = canonical_type(kind)
    if found is None:
        raise _problem(
            doc,
            ["assertions", index, "type"],
            f"{where}.type",
            f"unknown assertion type {kind!r}; {known_types()}",
        )
    canonical, negated = found
    if canonical != kind:
        item["type"] = canonical
        changes.append(f"{where}.type: {kind} → {canonical}")
    if negated:
        item["negate"] = True
        changes.append(f"{where}: not- → negate: true")
    renames = {"expected": "value", **_KEY_ALIASES.get(canonical, {})}
    for old, new in renames.items():
        if old in item:
            if new in item:
                raise _problem(
                    doc,
                    ["assertions", index, old],
                    f"{where}.{old}",
                    f"give {new} or {old} (its alias), not both",
                )
            _rename(item, old, new)
            changes.append(f"{where}.{old} → {new}")
    field = item.get("field")
    if isinstance(field, str) and canonical_field(field) != field:
        item["field"] = canonical_field(field)
        changes.append(f"{where}.field: {field} → {item['field']}")
    return changes


def known_types() -> str:
    """``known types: ...; aliases: ...`` for error messages."""
    aliases = ", ".join(f"{alias} ({canonical})" for alias, canonical in TYPE_ALIASES.items())
    return (
        f"known types: {', '.join(sorted(ASSERTION_TYPES))} (each also as not-<type>); "
        f"aliases: {aliases}"
    )

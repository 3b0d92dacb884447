"""A minimal JSON value that conforms to a JSON Schema, for the mock upstream's structured
outputs.

The real providers answer a structured-output request (an Anthropic forced tool or
``output_config.format``, a Gemini ``responseSchema`` / ``responseJsonSchema``) with JSON that
fits the schema; the mock has no model, so it constructs the value: every property (required or
not, so the answer exercises them all), the first ``enum`` / ``const`` value, the first branch of
``anyOf`` / ``oneOf``, ``allOf`` merged, ``$ref`` into ``$defs`` / ``definitions``, the
smallest array ``minItems`` allows (at least one item), numbers at ``minimum`` (or just above
``exclusiveMinimum``), strings of ``minLength`` in the shape ``format`` names. JSON Schema
(https://json-schema.org/draft/2020-12/json-schema-validation) and Gemini's OpenAPI ``Schema``
(upper-case ``type`` names, ``nullable``) both work. Unknown keywords are ignored.
"""

from __future__ import annotations

from typing import Any

__all__ = ["schema_instance"]

#: Example strings by ``format`` (JSON Schema 2020-12 §7.3).
_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "hostname": "example.com",
}
_MAX_DEPTH = 32


def schema_instance(schema: Any) -> Any:
    """A JSON value (decoded: dict, list, str, int, float, bool, ``None``) that conforms to
    ``schema`` (a decoded JSON Schema object; ``True``/``{}`` accept anything: ``{}`` is
    returned). Recursion through ``$ref`` stops at depth 32 with ``None``."""
    return _instance(schema, schema if isinstance(schema, dict) else {}, 0)


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    """A local ``$ref`` (``#/$defs/Name``, ``#/definitions/Name``, ``#``) in ``root``."""
    node: Any = root
    for part in ref.removeprefix("#").strip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if key:
            node = node.get(key) if isinstance(node, dict) else None
    return node


def _instance(schema: Any, root: dict[str, Any], depth: int) -> Any:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return {} if schema is True or schema == {} else None
    if isinstance(schema.get("$ref"), str):
        return _instance(_resolve(schema["$ref"], root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            typed = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
            return _instance((typed or branches)[0], root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, dict) and "$ref" in part:
                part = _resolve(part["$ref"], root)
            if isinstance(part, dict):
                joined = {**merged.get("properties", {}), **part.get("properties", {})}
                merged = {**merged, **part, "properties": joined}
        return _instance(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "null")
    kind = str(kind).lower() if kind is not None else None
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else None
    if kind == "object":
        properties = schema.get("properties")
        return {
            name: _instance(sub, root, depth + 1)
            for name, sub in (properties.items() if isinstance(properties, dict) else ())
        }
    if kind == "array":
        count = max(1, schema.get("minItems") or 0)
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list) and prefix:
            return [_instance(sub, root, depth + 1) for sub in prefix]
        return [_instance(schema.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "string":
        text = _FORMATS.get(str(schema.get("format")), "example")
        return text.ljust(int(schema.get("minLength") or 0), "x")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return {}


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    """The smallest value ``minimum`` / ``exclusiveMinimum`` allow (1 when unbounded), kept
    within ``maximum``."""
    value: float = 1
    if isinstance(schema.get("minimum"), int | float):
        value = schema["minimum"]
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        value = schema["exclusiveMinimum"] + 1
    if isinstance(schema.get("maximum"), int | float):
        value = min(value, schema["maximum"])
    return int(value) if integer else float(value)

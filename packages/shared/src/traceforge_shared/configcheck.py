"""Checking ``config.yaml`` against the config structs, reporting every problem at once.

:func:`check_document` walks a parsed config document beside the msgspec structs of
:mod:`traceforge_shared.config` (their fields, types and ``msgspec.Meta`` constraints), so a
key added to a struct is checked without an edit here. Per problem it gives the file, the
line, the key path and a message (a :class:`~traceforge_shared.config.ConfigError`):

- an unknown key, with a did-you-mean among the keys known at that level (``difflib``);
- a value of the wrong type, out of range (``msgspec.Meta(ge=..., le=...)``) or not one of a
  ``Literal``'s values, in msgspec's words (``Expected `int` <= 65535``);
- a value a struct's ``__post_init__`` refuses (an unknown provider, a bad regex);
- a URL (a ``str`` marked ``msgspec.Meta(extra={"check": "url"})``, or any key ending in
  ``_url``) that is not ``http(s)://host...``;
- a glob (marked ``{"check": "glob"}``) that is empty or has an unclosed ``[``.

``load_config`` runs it on every load, so every command reports all the problems of a
config file, one line each, and ``traceforge config check`` lists them without running
anything.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
from msgspec import inspect as mi

from traceforge_shared.errors import FileProblem
from traceforge_shared.yamlfile import ANY_KEY, format_path, line_of, split_path

__all__ = ["CHECK_GLOB", "CHECK_URL", "check_document", "glob_problem", "url_problem"]

#: ``msgspec.Meta(extra={"check": CHECK_URL})`` marks a string that must be an http(s) URL.
CHECK_URL = "url"
#: ``msgspec.Meta(extra={"check": CHECK_GLOB})`` marks a string that is an fnmatch glob.
CHECK_GLOB = "glob"

_PATH_RE = re.compile(r"\s*-\s*at\s*`\$((?:\.[A-Za-z_][\w-]*|\[[^\]]*\])*)`\s*$")


def url_problem(value: str) -> str | None:
    """Why ``value`` is not a usable base URL (``None``: it is one): it needs the scheme
    ``http`` or ``https``, a host, and no spaces; a port must be 1-65535."""
    if not value or any(c.isspace() for c in value):
        return f"not a URL: {value!r} (write e.g. https://api.openai.com/v1)"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {value!r} ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"not an http(s) URL: {value!r} (write e.g. https://api.openai.com/v1)"
    if not parts.hostname:
        return f"URL without a host: {value!r} (write e.g. http://localhost:11434)"
    if port == 0:
        return f"URL with port 0: {value!r} (ports are 1-65535)"
    return None


def glob_problem(value: str) -> str | None:
    """Why ``value`` is not a usable ``fnmatch`` glob (``None``: it is one): empty, or a
    ``[`` that is never closed (``fnmatch`` would then match the ``[`` literally)."""
    if not value.strip():
        return "empty pattern (write e.g. 'gpt-*')"
    i = 0
    while i < len(value):
        if value[i] == "[":
            j = i + 1
            if j < len(value) and value[j] == "!":
                j += 1
            if j < len(value) and value[j] == "]":
                j += 1
            close = value.find("]", j)
            if close < 0:
                return f"unclosed '[' in pattern {value!r} (write [[] for a literal '[')"
            i = close
        i += 1
    return None


class _Walker:
    """One walk over a document; collects the problems."""

    def __init__(self, path: Path, doc: Any, error: type[FileProblem]) -> None:
        self.path = path
        self.doc = doc
        self.error = error
        self.problems: list[FileProblem] = []

    def add(self, parts: list[str | int], message: str) -> None:
        line = line_of(self.doc, parts) if parts else None
        field = format_path(parts) or None
        self.problems.append(self.error(self.path, message, line=line, field=field))

    def struct(self, cls: type[msgspec.Struct], value: Any, parts: list[str | int]) -> None:
        if not isinstance(value, dict):
            self.convert(cls, value, parts)  # msgspec's words: Expected `object`, got `int`
            return
        fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
        clean: dict[str, Any] = {}
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                self.add([*parts, key], _unknown(str(key), list(fields)))
                continue
            before = len(self.problems)
            self.value(field.type, item, [*parts, key])
            if len(self.problems) == before:
                clean[key] = item
        # The struct's own checks (__post_init__) on the keys that passed, the others left
        # at their defaults: so they are reported alongside the problems above.
        self.convert(cls, clean, parts)

    def value(self, tp: Any, value: Any, parts: list[str | int]) -> None:
        info = mi.type_info(tp)
        checks = _checks(info)
        if value is None and any(isinstance(t, mi.NoneType) for t in _union(info)):
            return
        inner = _without_none(info)
        if isinstance(inner, mi.StructType):
            self.struct(inner.cls, value, parts)
            return
        mapping = isinstance(inner, mi.DictType) and isinstance(value, dict)
        if mapping and _is_struct(inner.value_type):
            for key, item in value.items():
                self.value(_struct_cls(inner.value_type), item, [*parts, key])
            return
        sequence = isinstance(inner, mi.ListType) and isinstance(value, list)
        if sequence and _is_struct(inner.item_type):
            for i, item in enumerate(value):
                self.value(_struct_cls(inner.item_type), item, [*parts, i])
            return
        if not self.convert(tp, value, parts):
            return
        key = next((p for p in reversed(parts) if isinstance(p, str)), "")
        if key.endswith("_url"):
            checks.add(CHECK_URL)
        for where, text in _strings(value, parts):
            for check in checks:
                problem = url_problem(text) if check == CHECK_URL else glob_problem(text)
                if problem is not None and check in (CHECK_URL, CHECK_GLOB):
                    self.add(where, problem)

    def convert(self, tp: Any, value: Any, parts: list[str | int]) -> bool:
        """``msgspec.convert`` ``value`` to ``tp``; a failure is a problem at its path."""
        try:
            msgspec.convert(value, tp)
        except msgspec.ValidationError as exc:
            message = str(exc)
            match = _PATH_RE.search(message)
            where = list(parts)
            if match:
                where += [p for p in split_path(match.group(1)) if p != ANY_KEY]
                message = message[: match.start()]
            unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
            if unknown:  # a struct inside a type this walk does not descend into
                where.append(unknown.group(1))
                message = "unknown field"
            literal = _without_none(mi.type_info(tp))
            if message.startswith("Invalid enum value") and isinstance(literal, mi.LiteralType):
                message += f"; expected one of: {', '.join(map(str, literal.values))}"
            self.add(where, message)
            return False
        return True


def _unknown(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown field; did you mean {close[0]!r}?"
    return f"unknown field; known here: {', '.join(known)}"


def _checks(info: Any) -> set[str]:
    """The ``extra["check"]`` markers on ``info`` and the types inside it."""
    found: set[str] = set()
    if isinstance(info, mi.Metadata):
        check = (info.extra or {}).get("check")
        if isinstance(check, str):
            found.add(check)
        found |= _checks(info.type)
    elif isinstance(info, mi.UnionType):
        for t in info.types:
            found |= _checks(t)
    elif isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType):
        found |= _checks(info.item_type)
    elif isinstance(info, mi.DictType):
        found |= _checks(info.value_type)
    return found


def _union(info: Any) -> list[Any]:
    """The members of a union (through ``Annotated``); ``[info]`` for any other type."""
    if isinstance(info, mi.Metadata):
        return _union(info.type)
    return list(info.types) if isinstance(info, mi.UnionType) else [info]


def _without_none(info: Any) -> Any:
    if isinstance(info, mi.Metadata):
        return _without_none(info.type)
    if isinstance(info, mi.UnionType):
        rest = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(rest) == 1:
            return _without_none(rest[0])
    return info


def _is_struct(info: Any) -> bool:
    return isinstance(_without_none(info), mi.StructType)


def _struct_cls(info: Any) -> Any:
    return _without_none(info).cls


def _strings(value: Any, parts: list[str | int]) -> list[tuple[list[str | int], str]]:
    """The strings in ``value`` (itself, or the items of a list or the values of a dict)
    with their paths."""
    if isinstance(value, str):
        return [(parts, value)]
    if isinstance(value, list):
        return [([*parts, i], v) for i, v in enumerate(value) if isinstance(v, str)]
    if isinstance(value, dict):
        return [([*parts, k], v) for k, v in value.items() if isinstance(v, str)]
    return []


def check_document(
    cls: type[msgspec.Struct], plain: Any, *, path: Path, doc: Any, error: type[FileProblem]
) -> list[FileProblem]:
    """Return every problem of a config document, in file order.

    Args:
        cls: the struct of the whole file (:class:`~traceforge_shared.config.Config`).
        plain: the document as plain Python (:func:`~traceforge_shared.yamlfile.to_plain`).
        path: the file, named in each problem.
        doc: the ruamel round-trip document, for line numbers.
        error: the problem class, called ``error(path, message, line=, field=)``
            (:class:`~traceforge_shared.config.ConfigError`).
    """
    walker = _Walker(path, doc, error)
    walker.struct(cls, plain, [])
    return sorted(walker.problems, key=lambda p: p.line or 0)

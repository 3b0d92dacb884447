"""Reading YAML that is only read, never written back, ~25x faster than ruamel's round-trip
loader (a 30-line test file: ~0.3 ms against ~8 ms, ``bench/yaml_read.py``), with the same
results.

:func:`parse_yaml_fast` gives the document :func:`~traceforge_shared.yamlfile.parse_yaml`
gives, as far as :func:`~traceforge_shared.yamlfile.to_plain`,
:func:`~traceforge_shared.yamlfile.line_of` and
:func:`~traceforge_shared.yamlfile.locate_error` can tell: the same values, the same line of
every key and item, the same errors. Use it where a document is read (loading a test file to
run it, validating one); where a document is edited and saved with its comments, use
``parse_yaml`` (ruamel's ``CommentedMap``).

How: libyaml (PyYAML's C extension, ``yaml._yaml.CParser``) parses the text into events in C,
and :func:`_build` turns them into :class:`LineMap` / :class:`LineList` (``dict`` / ``list``
with an ``lc`` holding each key's and item's line and column, as ruamel's ``lc`` does). Plain
scalars are resolved with the YAML 1.2 core schema as ruamel's ``VersionedResolver`` does
(``yes``/``no``/``on`` are text, ``010`` is 10, ``0o10`` is 8, ``1_000`` is 1000; the
patterns are ruamel's, https://yaml.org/spec/1.2.2/#1032-tag-resolution): libyaml's own
resolution (PyYAML) is YAML 1.1.

Anything this module is not sure to read as ruamel does falls back to ruamel
(``parse_yaml``), so its errors keep their messages and lines: text libyaml rejects, explicit
tags, ``%YAML``/``%TAG`` directives, several documents, timestamps other than a date, the
scalars ruamel keeps as a ``TaggedScalar`` (``=``, ``<<`` as a value), duplicate keys or
anchors, a recursive alias, merge keys (``<<``) that are not mappings, complex (non-scalar)
keys, nesting deeper than :data:`FAST_MAX_DEPTH`; and where the two parsers disagree (found
by comparing them on the YAML test suite and generated documents): tabs, a byte order mark,
the Unicode line breaks NEL, LS and PS, anchor names with other characters than letters,
digits, ``-`` and ``_`` (``&a:b``), a block scalar header followed by ``#`` (``>#``) or a
block scalar starting with blank lines, and a scalar value on a line after its key (ruamel
fails on some comments before it: "overlap in comment").
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from traceforge_shared.yamlfile import MAX_DEPTH, parse_yaml, read_text

__all__ = ["FAST_MAX_DEPTH", "LineCol", "LineList", "LineMap", "parse_yaml_fast", "read_yaml_fast"]

#: Deepest nesting the fast path builds; deeper documents go to ruamel, whose scanner refuses
#: more than :data:`~traceforge_shared.yamlfile.MAX_DEPTH` levels with its own message. Half
#: of it, so that ruamel's way of counting levels (block indents and flow levels) can never
#: reach its limit on a document read here.
FAST_MAX_DEPTH = MAX_DEPTH // 2

#: Characters on which libyaml and ruamel may read a document differently (tabs in
#: indentation and separation, a byte order mark, NEL/LS/PS line breaks).
_UNSURE_CHARS = re.compile("[\t\ufeff\x85\u2028\u2029]")

# ruamel.yaml's YAML 1.2 implicit resolvers (ruamel/yaml/resolver.py, ``implicit_resolvers``
# for (1, 2)): tried in this order among those registered for the scalar's first character.
_FLOAT_RE = re.compile(
    r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT_RE = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_TIMESTAMP_RE = re.compile(
    r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
    (?:[Tt]|[ \t]+)[0-9][0-9]?
    :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
    (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
    re.X,
)
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_NUMBER_START = frozenset("-+0123456789.")
_INT_START = frozenset("-+0123456789")
_DIGITS = frozenset("0123456789")


class _Unsure(Exception):
    """The fast path cannot promise ruamel's result: read the text with ruamel instead."""


class LineCol:
    """Where a container and its keys or items start, as ruamel's ``LineCol`` (``lc``):
    0-based ``line`` and ``col`` of the container, and ``data``: key (or item index) ->
    ``(line, col)`` of that key (item), 0-based. Keys merged in with ``<<`` have none, as in
    ruamel."""

    __slots__ = ("col", "data", "line")

    def __init__(self, line: int, col: int) -> None:
        self.line = line
        self.col = col
        self.data: dict[Any, tuple[int, int]] = {}

    def key(self, key: Any) -> tuple[int, int]:
        """``(line, col)`` of ``key``, 0-based. Raises ``KeyError``: not written here."""
        return self.data[key]

    def item(self, index: int) -> tuple[int, int]:
        """``(line, col)`` of item ``index``, 0-based. Raises ``KeyError``: no such item."""
        return self.data[index]


class LineMap(dict[Any, Any]):
    """A mapping of a fast-read document: a ``dict`` with its positions in ``lc``."""

    __slots__ = ("lc",)
    lc: LineCol


class LineList(list[Any]):
    """A sequence of a fast-read document: a ``list`` with its positions in ``lc``."""

    __slots__ = ("lc",)
    lc: LineCol


def read_yaml_fast(path: Path) -> Any:
    """:func:`~traceforge_shared.yamlfile.read_yaml` through :func:`parse_yaml_fast`: the
    same document values, lines and errors.

    Raises:
        YamlProblem: the file cannot be read, is not UTF-8, or is not valid YAML.
    """
    return parse_yaml_fast(read_text(path))


def parse_yaml_fast(text: str) -> Any:
    """Parse ``text`` as :func:`~traceforge_shared.yamlfile.parse_yaml` does, with libyaml.

    Returns the document: a :class:`LineMap`, a :class:`LineList`, a scalar (``str``,
    ``int``, ``float``, ``bool``, ``datetime.date``) or ``None`` for an empty document; or,
    when the text is one this module leaves to ruamel (see the module doc), ruamel's
    round-trip document. Read it with ``to_plain`` and ``line_of``; do not write it back.

    Raises:
        YamlProblem: the text is not valid YAML (raised by ruamel: the same message and line
            as ``parse_yaml``).
    """
    from yaml import YAMLError

    if _UNSURE_CHARS.search(text) is None:
        try:
            return _build(text)
        except (_Unsure, YAMLError, UnicodeError):  # libyaml refused it: ruamel says why
            pass
        except ImportError:  # PyYAML built without libyaml (no wheel for this platform)
            pass
    return parse_yaml(text)


class _Open:
    """A mapping or sequence being read: its container, start position and anchor, and for a
    mapping the key read whose value comes next (with the key's position) and the mappings
    its ``<<`` merges in."""

    __slots__ = ("anchor", "container", "key", "key_line", "key_pos", "merges", "pos")

    def __init__(self, container: LineMap | LineList, pos: tuple[int, int], anchor: Any) -> None:
        self.container = container
        self.pos = pos
        self.anchor: str | None = anchor
        self.key: Any = _NO_KEY
        self.key_pos = pos
        self.key_line: int | None = None
        self.merges: list[LineMap] | None = None


def _build(text: str) -> Any:
    """The document of ``text`` from libyaml's events
    (https://pyyaml.org/wiki/PyYAMLDocumentation, "Events").

    Raises:
        _Unsure: see the module doc.
        yaml.YAMLError: libyaml cannot parse the text.
    """
    from yaml import events
    from yaml._yaml import CParser

    scalar_event, alias_event = events.ScalarEvent, events.AliasEvent
    mapping_start, sequence_start = events.MappingStartEvent, events.SequenceStartEvent
    parser = CParser(text)
    try:
        parser.get_event()  # StreamStartEvent
        event: Any = parser.get_event()
        if type(event) is events.StreamEndEvent:
            return None
        if event.version is not None or event.tags is not None:  # %YAML or %TAG
            raise _Unsure
        anchors: dict[str, tuple[Any, tuple[int, int]]] = {}
        stack: list[_Open] = []
        root: Any = None
        while True:
            event = parser.get_event()
            kind = type(event)
            mark = event.start_mark
            if kind is scalar_event:
                if event.tag is not None:
                    raise _Unsure
                value: Any = event.value
                if event.style and event.style in "|>":
                    _check_block_header(text, mark.index, value)
                if event.implicit[0]:
                    # `<<` as a key is a merge key; elsewhere ruamel's TaggedScalar
                    value = _MERGE if value == "<<" and _at_key(stack) else _resolve(value)
                pos = mark.line, mark.column
                if event.anchor is not None:
                    if value is _MERGE:
                        raise _Unsure
                    _anchor(anchors, text, event.anchor, value, mark)
            elif kind is alias_event:
                _check_name(text, mark.index, "*", event.anchor)
                try:
                    value, pos = anchors[event.anchor]  # ruamel's lines: the anchored node's
                except KeyError:
                    raise _Unsure from None  # undefined, or still open (recursive)
            elif kind is mapping_start or kind is sequence_start:
                if event.tag is not None or len(stack) >= FAST_MAX_DEPTH or _at_key(stack):
                    raise _Unsure  # tagged, too deep, or a mapping or sequence as a key
                if event.anchor is not None:
                    _check_name(text, mark.index, "&", event.anchor)
                container: LineMap | LineList = LineMap() if kind is mapping_start else LineList()
                container.lc = LineCol(mark.line, mark.column)
                stack.append(_Open(container, (mark.line, mark.column), event.anchor))
                continue
            elif stack:  # MappingEndEvent or SequenceEndEvent
                done = stack.pop()
                value, pos = done.container, done.pos
                if done.merges is not None:
                    _merge(value, done.merges)
                if done.anchor is not None:
                    _anchor(anchors, text, done.anchor, value, None)
            else:  # DocumentEndEvent
                if type(parser.get_event()) is not events.StreamEndEvent:
                    raise _Unsure  # more than one document
                return root
            if not stack:
                root = value
            else:
                collection = kind is not scalar_event and kind is not alias_event
                _add(stack[-1], value, pos, None if collection else mark.line)
    finally:
        parser.dispose()


def _add(parent: _Open, value: Any, pos: tuple[int, int], line: int | None) -> None:
    """Add ``value`` to the open ``parent``: an item, a key, or the value of the key read
    before it. ``pos``: where ruamel says the node is (an alias: its anchored node);
    ``line``: the line of a scalar or alias as written, ``None`` for a mapping or sequence.

    Raises:
        _Unsure: a duplicate key, two merge keys, a collection as a key, a scalar value
            starting on a line after its key (ruamel may fail on a comment before it:
            "overlap in comment").
    """
    container = parent.container
    if type(container) is LineList:
        container.lc.data[len(container)] = pos
        container.append(value)
    elif parent.key is _NO_KEY:
        if value is not _MERGE and (line is None or value in container):
            raise _Unsure  # a collection as a key, or a duplicate key: ruamel's error
        parent.key, parent.key_pos, parent.key_line = value, pos, line
    else:
        key, parent.key = parent.key, _NO_KEY
        if key is _MERGE:
            if parent.merges is not None:
                raise _Unsure  # two merge keys: ruamel's error
            parent.merges = _merge_sources(value)
        elif line is not None and line != parent.key_line:
            raise _Unsure
        else:
            container.lc.data[key] = parent.key_pos
            container[key] = value


def _at_key(stack: list[_Open]) -> bool:
    """The next node is a key of the innermost open mapping."""
    return bool(stack) and type(stack[-1].container) is LineMap and stack[-1].key is _NO_KEY


_NAME_ENDS = frozenset(" \r\n,]}")
_NO_KEY = object()
_NAN = float("nan")
_MERGE = object()


def _anchor(
    anchors: dict[str, tuple[Any, tuple[int, int]]],
    text: str,
    name: str,
    value: Any,
    mark: Any,
) -> None:
    """Remember ``value`` as anchor ``name``, with the position ruamel gives its aliases
    (the anchored node's); a reused anchor name is left to ruamel (it warns)."""
    if name in anchors:
        raise _Unsure
    if mark is not None:
        _check_name(text, mark.index, "&", name)
    pos = (mark.line, mark.column) if mark is not None else (value.lc.line, value.lc.col)
    anchors[name] = (value, pos)


def _check_name(text: str, index: int, sign: str, name: str) -> None:
    """The anchor or alias ``name`` at ``text[index]`` ends where ruamel's does: libyaml
    ends a name at a character other than a letter, digit, ``-`` or ``_``, ruamel only at a
    space or a flow indicator (``&a:b`` is anchor ``a:b`` to ruamel)."""
    end = index + 1 + len(name)
    if text[index] != sign or (end < len(text) and text[end] not in _NAME_ENDS):
        raise _Unsure


def _check_block_header(text: str, index: int, value: str) -> None:
    """The block scalar (``|`` or ``>``) at ``text[index]`` is one ruamel reads as libyaml
    does: its header ends with a space or line break (``>#`` is an error to ruamel), and it
    does not start with blank lines (ruamel refuses one more indented than the first line of
    text)."""
    if not value or value[0] == "\n" or text[index] not in "|>":
        raise _Unsure
    end = index + 1
    while end < len(text) and text[end] in "+-0123456789":
        end += 1
    if end < len(text) and text[end] not in " \r\n":
        raise _Unsure


def _merge_sources(value: Any) -> list[LineMap]:
    """The mappings a ``<<`` value merges in: a mapping, or a sequence of mappings."""
    if type(value) is LineMap:
        return [value]
    if type(value) is LineList and value and all(type(item) is LineMap for item in value):
        return list(value)
    raise _Unsure  # ruamel says what is wrong


def _merge(mapping: LineMap, sources: list[LineMap]) -> None:
    """Add the keys of ``sources`` that ``mapping`` lacks, after its own keys, the first
    source first (ruamel's ``CommentedMap.add_yaml_merge``)."""
    for source in sources:
        for key, value in source.items():
            if key not in mapping:
                mapping[key] = value


def _resolve(value: str) -> Any:
    """A plain scalar's value under YAML 1.2 as ruamel's round-trip constructor gives it
    (its ``construct_yaml_int`` / ``_float`` / ``_bool`` / ``_null``), or the text.

    Raises:
        _Unsure: a timestamp with a time, or a number ruamel's constructor refuses.
    """
    if value in _NULLS:
        return None
    first = value[0]
    if first in _NUMBER_START:
        if _FLOAT_RE.match(value):
            return _float(value)
        if first in _INT_START and _INT_RE.match(value):
            return _int(value)
        if first in _DIGITS and _TIMESTAMP_RE.match(value):
            return _date(value)
        return value
    if first in "tTfF":
        return _BOOLS.get(value, value)
    if value == "<<" or value == "=":  # ruamel's merge and value tags (a TaggedScalar)
        raise _Unsure
    return value


def _int(text: str) -> int:
    digits = text.replace("_", "")
    sign = 1
    if digits[0] in "+-":
        sign = -1 if digits[0] == "-" else 1
        digits = digits[1:]
    try:
        if digits[:2] in ("0b", "0x", "0o"):
            if len(digits) < 3:
                raise _Unsure
            return sign * int(digits[2:], {"b": 2, "x": 16, "o": 8}[digits[1]])
        return sign * int(digits)
    except ValueError:
        raise _Unsure from None


def _float(text: str) -> float:
    digits = text.replace("_", "").lower()
    sign = -1 if digits[0] == "-" else 1
    if digits[0] in "+-":
        digits = digits[1:]
    if digits == ".inf":
        return sign * float("inf")
    if digits == ".nan":
        return _NAN  # one object, as ruamel's: two `.nan` keys are duplicates
    try:
        return sign * float(digits)
    except ValueError:
        raise _Unsure from None


def _date(text: str) -> dt.date:
    """A ``YYYY-MM-DD`` date as ruamel constructs it; a time of day is left to ruamel (it
    keeps the written form in a ``TimeStamp``)."""
    if not _DATE_RE.match(text):
        raise _Unsure
    try:
        return dt.date(int(text[:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        raise _Unsure from None  # ruamel's "month must be in 1..12"

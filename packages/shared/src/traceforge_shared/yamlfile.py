"""Reading YAML files that map onto msgspec structs, with errors that name the line.

The file is parsed with ruamel.yaml's round-trip loader, which remembers where each key and
item is, and then converted to plain Python for ``msgspec.convert``. When msgspec rejects a
value its message holds a path (``... - at `$.assertions[1].max_ms```); :func:`locate_error`
turns that into a field name and a 1-based line of the file::

    problem = locate_error(doc, exc)   # YamlProblem(reason=..., field=..., line=...)

The same approach as :func:`traceforge_shared.config.load_config`, as a reusable module.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Set
from pathlib import Path
from typing import Any

import msgspec

from traceforge_shared.errors import FileProblem

#: A path part of unknown key (msgspec does not say which mapping key a value was under).
ANY_KEY = "*"

_PATH_RE = re.compile(r"`\$((?:\.[A-Za-z_][\w-]*|\[[^\]]*\])*)`")
_PART_RE = re.compile(r"\.([A-Za-z_][\w-]*)|\[(?:'([^']*)'|\"([^\"]*)\"|(\d+)|(\.\.\.))\]")
#: ``request.model: a model name is required``: a ValueError of a ``__post_init__`` that names
#: the field it is about.
_FIELD_PREFIX_RE = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*): (.+)$", re.DOTALL)
_BACKTICKED_RE = re.compile(r"`([^`]+)`")


class YamlProblem(FileProblem):
    """Why a YAML document could not be read or used, before it is tied to a file: a
    :class:`~traceforge_shared.errors.FileProblem` whose ``path`` is usually ``None``.

    Args:
        reason: what is wrong, a sentence without the location.
        line: 1-based line in the file, when known.
        field: path of the offending field (``assertions[1].max_ms``), when known.
        path: the file, when known.
    """

    def __init__(
        self,
        reason: str,
        *,
        line: int | None = None,
        field: str | None = None,
        path: Path | None = None,
    ) -> None:
        super().__init__(path, reason, line=line, field=field)


def read_yaml(path: Path) -> Any:
    """Read ``path`` as UTF-8 and parse it with the ruamel round-trip loader.

    Returns the document (``CommentedMap``, ``CommentedSeq``, a scalar, or ``None`` when the
    file is empty): keep it to find lines with :func:`line_of`; give :func:`to_plain` of it
    to msgspec.

    Raises:
        YamlProblem: the file cannot be read, is not UTF-8, or is not valid YAML (with the
            line of the problem when the parser knows it).
    """
    return parse_yaml(read_text(path))


def read_text(path: Path) -> str:
    """The text of the YAML file ``path``, read as UTF-8.

    Raises:
        YamlProblem: the file cannot be read, or is not UTF-8 (with the line of the first
            byte that is not).
    """
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise YamlProblem(f"not UTF-8 text: {exc.reason}", line=line) from exc
    except OSError as exc:
        raise YamlProblem(f"cannot read: {exc.strerror or exc}") from exc


def round_trip_loader() -> Any:
    """Return a ruamel round-trip ``YAML`` object whose scanner refuses nesting deeper than
    :data:`MAX_DEPTH` (block and flow levels together) with a ``ScannerError`` (a
    ``MarkedYAMLError``: it has the line). ruamel's scanner costs time quadratic in the
    nesting depth (15 s for 3,000 ``[``), and its composer recurses once per level, so a
    deep document must be stopped while it is scanned. Use it for every YAML load."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.Scanner = _depth_limited_scanner()
    return yaml


@functools.cache
def _depth_limited_scanner() -> type:
    from ruamel.yaml.scanner import RoundTripScanner, ScannerError

    class DepthLimitedScanner(RoundTripScanner):
        def _check_depth(self) -> None:
            if len(self.indents) + self.flow_level > MAX_DEPTH:
                raise ScannerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", self.reader.get_mark()
                )

        def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
            super().fetch_flow_collection_start(TokenClass, to_push)
            self._check_depth()

        def add_indent(self, column: int) -> bool:
            added = bool(super().add_indent(column))
            if added:
                self._check_depth()
            return added

    return DepthLimitedScanner


def parse_yaml(text: str) -> Any:
    """Parse ``text`` with the ruamel round-trip loader (:func:`round_trip_loader`: at most
    :data:`MAX_DEPTH` levels deep); see :func:`read_yaml`.

    Raises:
        YamlProblem: the text is not valid YAML.
    """
    # ruamel is imported on use: modules that import this one (config) load without it.
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = round_trip_loader()
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark, reason = exc.problem_mark, exc.problem or exc.context or str(exc)
        content_end = len(text.rstrip())
        if exc.context_mark is not None and (mark is None or mark.index >= content_end):
            # found the end of the file: the line to fix is where the unclosed `[`, `{` or
            # quote started, not the end of the file
            mark = exc.context_mark
            reason = f"{exc.context}: {reason}" if exc.context and exc.problem else reason
        line = mark.line + 1 if mark is not None else None
        if mark is not None and mark.index >= content_end:  # past the last line: the last line
            line = text.count("\n", 0, content_end) + 1
        raise YamlProblem(f"invalid YAML: {reason}", line=line) from exc
    except YAMLError as exc:  # e.g. ReaderError: a control character; it has no problem_mark
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        reason = getattr(exc, "reason", None) or str(exc)
        raise YamlProblem(f"invalid YAML: {reason}", line=line) from exc
    except RecursionError as exc:
        raise YamlProblem("invalid YAML: nested too deeply") from exc
    except Exception as exc:  # a constructor's own error: `!!int x`, `2024-13-45`
        raise YamlProblem(f"invalid YAML: {exc}") from exc


def to_plain(node: Any) -> Any:
    """Return ``node`` as plain Python: dicts with ``str`` keys, lists, ``str``, ``int``,
    ``float``, ``bool``, ``None`` (and ``bytes`` for ``!!binary``).

    ruamel's containers and scalar subclasses (``ScalarFloat`` is refused by msgspec as a
    ``float``) become their plain types, a custom-tagged scalar (``!foo x``) its text, a set
    a list, and a timestamp its ISO 8601 text (YAML 1.2 has no timestamps; JSON neither).

    Aliases are expanded (each use becomes a copy). Their expansion is measured first, with
    each container's size counted once, so a "billion laughs" document (a few hundred bytes
    of aliases of aliases expanding to billions of values) is refused in microseconds instead
    of eating the CPU and memory of the process.

    Raises:
        YamlProblem: the document contains itself through an alias, its aliases add more
            than :data:`MAX_ALIAS_NODES` values, or it is nested more than :data:`MAX_DEPTH`
            levels deep.
    """
    try:
        _check_expansion(node)
        return _plain(node)
    except RecursionError as exc:
        raise YamlProblem("the document is nested too deeply") from exc


#: Most values a document's aliases may add when expanded (every value under each use of an
#: alias after the first), on top of the values written out.
MAX_ALIAS_NODES = 100_000

#: Deepest nesting of mappings and sequences in a document.
MAX_DEPTH = 100


def _check_expansion(node: Any) -> None:
    """Refuse cycles, nesting over :data:`MAX_DEPTH`, and alias expansions over
    :data:`MAX_ALIAS_NODES`, counting sizes once per container (so a billion laughs costs
    microseconds to measure).

    Raises:
        YamlProblem: what is wrong.
    """
    sizes: dict[int, int] = {}  # container id -> values in its expansion, itself included
    written = 1  # values written out: the root and each container's children, once
    active: set[int] = set()

    def size(item: Any, depth: int) -> int:
        nonlocal written
        if not isinstance(item, dict | list | Set):
            return 1
        key = id(item)
        if key in active:
            raise YamlProblem("an alias refers to a node that contains it")
        if key in sizes:
            return sizes[key]
        if depth >= MAX_DEPTH:
            raise YamlProblem(f"the document is nested more than {MAX_DEPTH} levels deep")
        active.add(key)
        children = list(item.values()) if isinstance(item, dict) else list(item)
        written += len(children)
        total = 1 + sum(size(child, depth + 1) for child in children)
        active.discard(key)
        sizes[key] = total
        return total

    expanded = size(node, 0) - written
    if expanded > MAX_ALIAS_NODES:
        raise YamlProblem(
            f"the document's aliases (*name) expand to {expanded:,} more values, over the "
            f"limit of {MAX_ALIAS_NODES:,}; write the values out or use fewer nested aliases"
        )


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {_key(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list | Set):
        return [_plain(v) for v in node]
    return _scalar(node)


def _scalar(node: Any) -> Any:
    if node is None or type(node) in (str, int, float, bool):
        return node
    from ruamel.yaml.comments import TaggedScalar
    from ruamel.yaml.scalarbool import ScalarBoolean

    if isinstance(node, bool | ScalarBoolean):  # ScalarBoolean (an anchored bool) is an int
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, TaggedScalar):
        return None if node.value is None else str(node.value)
    if isinstance(node, dt.datetime):
        return dt.datetime.isoformat(node)
    if isinstance(node, dt.date):
        return dt.date.isoformat(node)
    return node


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(_scalar(key))


def split_path(json_path: str) -> list[str | int]:
    """Split a msgspec error path (``.assertions[1].max_ms``, without the ``$``) into parts
    (``["assertions", 1, "max_ms"]``); an unnamed mapping key (``[...]``) is :data:`ANY_KEY`."""
    parts: list[str | int] = []
    for match in _PART_RE.finditer(json_path):
        name, q1, q2, num, anykey = match.groups()
        if name is not None:
            parts.append(name)
        elif anykey is not None:
            parts.append(ANY_KEY)
        elif q1 is not None or q2 is not None:
            parts.append(q1 if q1 is not None else q2)
        else:
            parts.append(int(num))
    return parts


def format_path(parts: list[str | int]) -> str:
    """Return the parts as a field path a person reads: ``assertions[1].max_ms``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == ANY_KEY:
            text += "[...]"
        else:
            text += f".{part}" if text else part
    return text


def line_of(doc: Any, parts: list[str | int]) -> int | None:
    """1-based line of the value at ``parts`` in a ruamel round-trip document.

    Follows ``parts`` as far as the document has them: the line of the deepest key or item
    found (for a missing key, its parent's); for ``[]``, the line where the document starts.
    ``None`` when the document has no position information.
    """
    node = doc
    lc = getattr(doc, "lc", None)
    line: int | None = lc.line + 1 if lc is not None and lc.line is not None else None
    for part in parts:
        if part == ANY_KEY:
            break
        lc = getattr(node, "lc", None)
        try:
            if lc is not None:
                if isinstance(part, str) and part in node:
                    line = lc.key(part)[0] + 1
                elif isinstance(part, int) and 0 <= part < len(node):
                    line = lc.item(part)[0] + 1
            node = node[part]
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return line


def locate_error(doc: Any, exc: msgspec.ValidationError) -> YamlProblem:
    """Turn a ``msgspec.convert`` error on ``to_plain(doc)`` into a :class:`YamlProblem`
    naming the field (``assertions[1].max_ms``) and its line in the file.

    Knows msgspec's ``<reason> - at `$.path``` form, ``Object contains unknown field `x```
    (reason ``unknown field``; the line of that key), ``Object missing required field `x```
    (reason ``missing required field``; the line of the object that lacks it) and
    ``__post_init__`` errors whose message starts with the field they are about
    (``request.model: a model name is required``).
    """
    message = str(exc)
    parts: list[str | int] = []
    match = _PATH_RE.search(message)
    if match:
        parts = split_path(match.group(1))
        message = re.sub(r"\s*-\s*at\s*$", "", message[: match.start()])
    unknown = message.startswith("Object contains unknown field")
    missing = message.startswith("Object missing required field")
    if unknown or missing:
        name = _BACKTICKED_RE.search(message)
        if name:
            parts = [*parts, name.group(1)]
        message = "unknown field" if unknown else "missing required field"
    else:
        prefixed = _FIELD_PREFIX_RE.match(message)
        if prefixed:
            parts = [*parts, *split_path("." + prefixed.group(1))]
            message = prefixed.group(2)
    return YamlProblem(
        message, line=line_of(doc, parts), field=format_path(parts) if parts else None
    )

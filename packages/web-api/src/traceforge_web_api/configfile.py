"""Changing ``<home>/config.yaml`` safely: validate a candidate with the shared loader, then
replace the file atomically; merge settings into it without losing comments or key order.

Nothing here knows HTTP; :mod:`traceforge_web_api.routes.config` maps the errors to answers.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import threading
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from traceforge_shared.config import (
    DEFAULT_CONFIG_YAML,
    Config,
    ConfigError,
    config_path,
    load_config,
)
from traceforge_shared.store.files import write_temp
from traceforge_shared.yamlfile import YamlProblem, parse_yaml

#: Serialises read-modify-write cycles of config files in this process.
_LOCK = threading.Lock()

#: A block mapping key that opens a nested block (``proxy:``, ``  redaction:  # comment``).
_OPENING_KEY_RE = re.compile(r"^( *)[^\s#-][^#]*:[ \t]*(#.*)?$")


class InvalidConfig(ValueError):
    """A candidate config that the loader refuses; ``message`` names the real file.

    Attributes:
        line: 1-based line of the problem, when known.
        field: dotted field (``proxy.port``), when known.
        reason: what is wrong, without the location.
    """

    def __init__(self, path: Path, reason: str, line: int | None, field: str | None) -> None:
        self.reason = reason
        self.line = line
        self.field = field
        where = f"{path}:{line}" if line else str(path)
        what = f"{field}: " if field else ""
        super().__init__(f"{where}: {what}{reason}")


def read_text(home: Path) -> str | None:
    """Return the text of ``config.yaml`` (undecodable bytes replaced), or ``None`` when
    there is no file; ``""`` when it cannot be read (the loader then says why)."""
    try:
        return config_path(home).read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return ""


def write_config_text(home: Path, text: str, *, fsync: bool = True) -> Config:
    """Validate ``text`` as a config file and, if the loader accepts it, make it the new
    ``config.yaml``, byte for byte (UTF-8).

    The candidate is written to a hidden temporary file in the same directory and loaded with
    :func:`~traceforge_shared.config.load_config`; only then is it renamed over the config
    file (atomic: readers see the old or the new file, never a mix).

    Raises:
        InvalidConfig: the loader refuses the text; the config file is left untouched.
        OSError: the file cannot be written.
    """
    with _LOCK:
        return _replace(home, text, fsync=fsync)


def merge_config(home: Path, settings: dict[str, Any], *, fsync: bool = True) -> str:
    """Merge ``settings`` (nested mappings merge key by key, anything else replaces) into
    ``config.yaml`` (or into the commented default when there is none), keeping its comments,
    key order and indentation (ruamel round trip), validate and write it.

    Returns:
        the new text.

    Raises:
        InvalidConfig: the current file is not YAML, or the merged config is refused; the
            config file is left untouched.
        OSError: the file cannot be written.
    """
    with _LOCK:
        path = config_path(home)
        base = read_text(home)
        if base is None or not base.strip():
            base = DEFAULT_CONFIG_YAML
        text = _merged_text(path, base, settings)
        _replace(home, text, fsync=fsync)
        return text


def _merged_text(path: Path, base: str, settings: dict[str, Any]) -> str:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1_000_000  # never fold a long value onto new lines
    yaml.indent(**guess_indents(base))
    yaml.representer.add_representer(type(None), _represent_null)
    try:
        parse_yaml(base)  # its errors name the line
        doc = yaml.load(base)
    except YamlProblem as exc:
        raise InvalidConfig(path, exc.reason, exc.line, exc.field) from None
    if doc is None:
        doc = yaml.load("{}")
    if not isinstance(doc, dict):
        raise InvalidConfig(path, "the top level must be a mapping", 1, None)
    _merge_into(doc, settings)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def guess_indents(text: str) -> dict[str, int]:
    """Guess the block indentation of a YAML text, as ruamel's ``YAML.indent`` arguments:
    ``mapping`` (spaces per nested mapping level), ``sequence`` (spaces from a key to its
    items' content) and ``offset`` (spaces from a key to an item's dash). Defaults: 2, 2, 0.
    """
    mapping: int | None = None
    sequence: int | None = None
    offset = 0
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    for opener, line in itertools.pairwise(lines):
        match = _OPENING_KEY_RE.match(opener)
        if match is None:
            continue
        base, lead = len(match.group(1)), len(line) - len(line.lstrip(" "))
        if line.lstrip().startswith("- ") and sequence is None and lead >= base:
            after_dash = line.lstrip()[1:]
            offset = lead - base
            sequence = offset + 1 + len(after_dash) - len(after_dash.lstrip(" "))
        elif lead > base and mapping is None:
            mapping = lead - base
    mapping = mapping or 2
    sequence = max(sequence or mapping, offset + 2)
    return {"mapping": mapping, "sequence": sequence, "offset": offset}


def _represent_null(representer: Any, _: None) -> Any:
    """``null`` spelled out (ruamel writes nothing after the colon by default)."""
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _merge_into(node: Any, settings: dict[str, Any]) -> None:
    for key, value in settings.items():
        current = node.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge_into(current, value)
        else:
            node[key] = value


def _replace(home: Path, text: str, *, fsync: bool) -> Config:
    path = config_path(home)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which JSON can carry
        line = text.count("\n", 0, exc.start) + 1
        raise InvalidConfig(path, "not valid Unicode text (a lone surrogate)", line, None) from None
    home.mkdir(parents=True, exist_ok=True)
    tmp = write_temp(path, data, fsync=fsync)
    try:
        try:
            config = load_config(tmp)
        except ConfigError as exc:
            raise InvalidConfig(path, exc.reason, exc.line, exc.field) from None
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return config

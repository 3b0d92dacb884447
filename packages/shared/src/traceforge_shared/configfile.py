"""Writing ``config.yaml``: the one validated writer used by ``traceforge init``, the TUI
config editor and ``PUT /api/config``.

Every write goes the same way: the candidate text is written to a hidden temporary file
beside the config file (mode ``0600``: the file may name key variables and hosts), loaded
with :func:`~traceforge_shared.config.load_config`, and only when the loader accepts it
renamed over the config file (atomic: readers see the old or the new file, never a mix).
The text is written exactly as given, so its comments stay; :func:`update_config` edits
keys through a ruamel round trip, which keeps comments, key order and indentation::

    write_config(home, text)                          # -> Config, or ConfigError
    update_config(home, {"proxy": {"port": 9000}})    # -> the new text

An invalid candidate raises :class:`~traceforge_shared.config.ConfigError` naming the real
config file, the line and the field; the config file is then left untouched.
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

__all__ = [
    "CONFIG_FILE_MODE",
    "config_file",
    "guess_indents",
    "read_config_text",
    "update_config",
    "write_config",
]

#: Permission bits of every config file written: owner read and write only.
CONFIG_FILE_MODE = 0o600

#: Serialises the writes (and read-modify-write cycles) of config files in this process.
_LOCK = threading.RLock()

#: A block mapping key that opens a nested block (``proxy:``, ``  redaction:  # comment``).
_OPENING_KEY_RE = re.compile(r"^( *)[^\s#-][^#]*:[ \t]*(#.*)?$")


def config_file(target: Path) -> Path:
    """The config file meant by ``target``: ``target`` itself when it names a ``.yaml`` or
    ``.yml`` file, else ``<target>/config.yaml`` (``target`` is a home)."""
    return target if target.suffix in (".yaml", ".yml") else config_path(target)


def read_config_text(target: Path) -> str | None:
    """Return the text of the config file of ``target`` (a home or the file; undecodable
    bytes replaced), ``None`` when there is no file, ``""`` when it cannot be read (the
    loader then says why)."""
    try:
        return config_file(target).read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return ""


def write_config(target: Path, text: str, *, fsync: bool = True) -> Config:
    """Validate ``text`` with the config loader and, when it is valid, make it the config
    file of ``target`` (a home, or the ``.yaml`` file itself), byte for byte (UTF-8), mode
    ``0600``. A missing directory is created (and removed again if the text is refused).

    Returns:
        the loaded config.

    Raises:
        ConfigError: the loader refuses ``text`` (or it holds a lone surrogate); the message
            names the config file (not the temporary one), the line and the field. The file
            is left untouched.
        OSError: the file cannot be written; the file is left untouched.
    """
    path = config_file(target)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which JSON can carry
        line = text.count("\n", 0, exc.start) + 1
        raise ConfigError(path, "not valid Unicode text (a lone surrogate)", line=line) from None
    with _LOCK:
        directory = path.parent
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        tmp: Path | None = None
        try:
            tmp = write_temp(path, data, fsync=fsync, mode=CONFIG_FILE_MODE)
            os.chmod(tmp, CONFIG_FILE_MODE)  # whatever the umask
            try:
                config = load_config(tmp)
            except ConfigError as exc:
                raise ConfigError(path, exc.reason, line=exc.line, field=exc.field) from None
            os.replace(tmp, path)
        except BaseException:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
            if created:
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise
    return config


def update_config(target: Path, settings: dict[str, Any], *, fsync: bool = True) -> str:
    """Merge ``settings`` (nested mappings merge key by key, anything else replaces) into
    the config file of ``target`` (or into :data:`DEFAULT_CONFIG_YAML` when there is none),
    keeping its comments, key order and indentation (ruamel round trip), and write it with
    :func:`write_config`.

    Returns:
        the new text.

    Raises:
        ConfigError: the current file is not YAML or not a mapping, or the merged config is
            refused; the file is left untouched.
        OSError: the file cannot be written.
    """
    path = config_file(target)
    with _LOCK:
        base = read_config_text(path)
        if base is None or not base.strip():
            base = DEFAULT_CONFIG_YAML
        text = _merged_text(path, base, settings)
        write_config(path, text, fsync=fsync)
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
        raise ConfigError(path, exc.reason, line=exc.line, field=exc.field) from None
    if doc is None:
        doc = yaml.load("{}")
    if not isinstance(doc, dict):
        raise ConfigError(path, "the top level must be a mapping", line=1)
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

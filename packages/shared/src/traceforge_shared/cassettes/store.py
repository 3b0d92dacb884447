"""Cassettes on disk: ``<home>/cassettes/<name>/``, one YAML file per interaction.

Every ``.ai-tests`` access goes through ``traceforge_shared``; this is the one module that
reads and writes cassette directories. A cassette name is one or more path segments
(``checkout``, ``tests/test_chat/test_greets``), each of letters, digits, ``_``, ``.`` and
``-``, not starting with ``.``. Files are written atomically (temp file, rename), named
``<seq:04d>-<provider>-<model>-<key>.yaml`` (:func:`interaction_filename`).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from traceforge_shared.cassettes.format import Interaction, dump_interaction, load_interaction
from traceforge_shared.config import resolve_home
from traceforge_shared.errors import FileProblem
from traceforge_shared.store.files import write_atomic
from traceforge_shared.yamlfile import YamlProblem

#: The cassettes directory inside the TraceForge home.
CASSETTES_DIRNAME = "cassettes"
#: Interaction files' suffix.
INTERACTION_SUFFIX = ".yaml"

_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_SLUG_RE = re.compile(r"[^A-Za-z0-9_.-]+")
_SEQ_RE = re.compile(r"^(\d+)-")


class CassetteError(FileProblem):
    """A cassette name that is not allowed, or an interaction file that cannot be read
    (``path``, ``line`` and ``field`` say where)."""


def cassettes_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """``<home>/cassettes`` (home: ``$TRACEFORGE_HOME`` or ``./.ai-tests`` by default)."""
    return resolve_home(home) / CASSETTES_DIRNAME


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid cassette name (see the module docstring).

    Raises:
        CassetteError: it is empty, absolute, has ``..`` or other characters.
    """
    segments = name.split("/")
    if not name or any(not _SEGMENT_RE.match(s) or s in (".", "..") for s in segments):
        raise CassetteError(
            None,
            f"invalid cassette name {name!r}: use letters, digits, '_', '.', '-' and '/' "
            "between parts (no leading '.' or '/', no '..')",
        )
    return name


def list_cassettes(home: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the cassettes under ``home`` (directories holding interaction files),
    sorted."""
    root = cassettes_dir(home)
    if not root.is_dir():
        return []
    names = {
        path.parent.relative_to(root).as_posix()
        for path in root.rglob(f"*{INTERACTION_SUFFIX}")
        if not path.name.startswith(".")
    }
    return sorted(n for n in names if n != ".")


def interaction_filename(interaction: Interaction) -> str:
    """``<seq:04d>-<provider>-<model>-<key>.yaml``, the provider and model made safe for a
    file name (other characters become ``_``, the model cut at 48 characters)."""
    provider = _SLUG_RE.sub("_", interaction.request.provider) or "unknown"
    model = _SLUG_RE.sub("_", interaction.request.model)[:48] or "none"
    return f"{interaction.seq:04d}-{provider}-{model}-{interaction.key}{INTERACTION_SUFFIX}"


class Cassette:
    """One cassette directory. Thread-safe for :meth:`add` (one lock per instance).

    Args:
        name: the cassette's name (:func:`check_name`).
        home: the TraceForge home (default ``$TRACEFORGE_HOME`` or ``./.ai-tests``).

    Attributes:
        name: as given.
        path: ``<home>/cassettes/<name>`` (may not exist yet).

    Raises:
        CassetteError: the name is not valid.
    """

    def __init__(self, name: str, home: str | os.PathLike[str] | None = None) -> None:
        self.name = check_name(name)
        self.path = cassettes_dir(home) / name
        self._lock = threading.Lock()
        self._next_seq: int | None = None

    def exists(self) -> bool:
        """Whether the directory exists."""
        return self.path.is_dir()

    def files(self) -> list[Path]:
        """The interaction files, in sequence order (hidden temp files skipped)."""
        if not self.path.is_dir():
            return []
        found = [
            p
            for p in self.path.iterdir()
            if p.suffix == INTERACTION_SUFFIX and not p.name.startswith(".") and p.is_file()
        ]
        return sorted(found, key=_file_order)

    def read(self, path: Path) -> Interaction:
        """Read one interaction file.

        Raises:
            CassetteError: the file cannot be read or is not an interaction (with its line
                and field).
        """
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CassetteError(path, f"cannot read: {exc}") from exc
        try:
            return load_interaction(text)
        except YamlProblem as exc:
            raise CassetteError(path, exc.reason, line=exc.line, field=exc.field) from exc

    def interactions(self) -> list[tuple[Path, Interaction]]:
        """Every interaction with its file, ordered by ``seq`` (then file name).

        Raises:
            CassetteError: a file cannot be read (the first one found).
        """
        loaded = [(path, self.read(path)) for path in self.files()]
        loaded.sort(key=lambda item: (item[1].seq, item[0].name))
        return loaded

    def __iter__(self) -> Iterator[Interaction]:
        return (interaction for _, interaction in self.interactions())

    def reserve_seq(self) -> int:
        """The next sequence number (one more than the highest file or reservation so far),
        reserved for a later :meth:`add`."""
        with self._lock:
            if self._next_seq is None:
                self._next_seq = max((_seq_of(p) for p in self.files()), default=0) + 1
            seq = self._next_seq
            self._next_seq += 1
            return seq

    def add(self, interaction: Interaction) -> Path:
        """Write ``interaction`` as a file of the cassette (the directory is created when
        missing); a ``seq`` of 0 or less is replaced by :meth:`reserve_seq`. Returns the
        file's path.

        Raises:
            OSError: the file cannot be written.
        """
        if interaction.seq <= 0:
            interaction.seq = self.reserve_seq()
        with self._lock:
            self.path.mkdir(parents=True, exist_ok=True)
            target = self.path / interaction_filename(interaction)
            write_atomic(target, dump_interaction(interaction).encode("utf-8"), fsync=False)
            return target


def _seq_of(path: Path) -> int:
    match = _SEQ_RE.match(path.name)
    return int(match.group(1)) if match else 0


def _file_order(path: Path) -> tuple[int, str]:
    return _seq_of(path), path.name

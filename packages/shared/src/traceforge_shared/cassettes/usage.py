"""Which recordings of a cassette the last replay run used: the file ``.last-replay.json`` in
the cassette's directory, written when a replaying proxy stops, read by
``traceforge cassette prune`` (which removes the unused ones).

The file is hidden (``.``-prefixed), so it is never read as an interaction; it names files,
not contents, and is safe to commit or to ignore (``.last-replay.json`` in ``.gitignore``).
"""

from __future__ import annotations

import msgspec

from traceforge_shared.cassettes.store import Cassette, CassetteError
from traceforge_shared.store.files import write_atomic

#: The usage file's name inside a cassette directory.
USAGE_FILENAME = ".last-replay.json"


class ReplayUsage(msgspec.Struct, kw_only=True):
    """What one replay run did with a cassette.

    Attributes:
        cassette: the cassette's name.
        finished_at: ISO 8601 UTC time the run ended.
        used: interaction file names replayed (in replay order, each once).
        unused: interaction file names loaded but never replayed.
        misses: requests no recording answered.
    """

    cassette: str
    finished_at: str
    used: list[str] = msgspec.field(default_factory=list)
    unused: list[str] = msgspec.field(default_factory=list)
    misses: int = 0


def write_usage(cassette: Cassette, usage: ReplayUsage) -> None:
    """Write ``usage`` to the cassette's :data:`USAGE_FILENAME` (atomically), when the
    cassette directory exists (an empty cassette gets none).

    Raises:
        OSError: the file cannot be written.
    """
    if cassette.exists():
        data = msgspec.json.format(msgspec.json.encode(usage), indent=2) + b"\n"
        write_atomic(cassette.path / USAGE_FILENAME, data, fsync=False)


def read_usage(cassette: Cassette) -> ReplayUsage | None:
    """The last replay run's usage of ``cassette``, or ``None`` when none was recorded.

    Raises:
        CassetteError: the file exists but cannot be read or is not a usage record.
    """
    path = cassette.path / USAGE_FILENAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CassetteError(path, f"cannot read: {exc}") from exc
    try:
        return msgspec.json.decode(data, type=ReplayUsage)
    except msgspec.DecodeError as exc:
        raise CassetteError(path, f"not a replay usage record: {exc}") from exc

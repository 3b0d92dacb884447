"""Reading and writing single trace files (JSON, one per trace), atomically."""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

import msgspec

from traceforge_shared.store.errors import TraceSchemaError
from traceforge_shared.store.upgrade import upgrade_document
from traceforge_shared.trace import SCHEMA_VERSION, Trace

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Trace)


class _Versioned(msgspec.Struct):
    schema_version: int | None = None


_version_decoder = msgspec.json.Decoder(_Versioned)

try:
    import fcntl

    def _lock(fd: int, *, wait: bool) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

except ImportError:  # Windows: no advisory locks; temp files are judged by age alone

    def _lock(fd: int, *, wait: bool) -> bool:
        return wait  # "could not lock": another writer may hold it


#: Names of :func:`write_temp`'s files: ``.<stem>.<16 hex digits>.tmp``.
TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{16}\.tmp$")


def encode_trace(trace: Trace) -> bytes:
    """Serialize ``trace`` as compact JSON (UTF-8) followed by a newline."""
    return _encoder.encode(trace) + b"\n"


def decode_trace(data: bytes, *, source: str = "trace") -> Trace:
    """Parse a trace file's bytes, upgrading older schema versions.

    Raises:
        TraceSchemaError: not JSON, not a trace, or an unsupported schema_version.
    """
    try:
        version = _version_decoder.decode(data).schema_version
        if version == SCHEMA_VERSION:
            return _decoder.decode(data)
        doc = msgspec.json.decode(data)
        if not isinstance(doc, dict):
            raise TraceSchemaError(f"{source}: not a JSON object; not a TraceForge trace")
        return msgspec.convert(upgrade_document(doc, source=source), Trace)
    except msgspec.ValidationError as exc:
        raise TraceSchemaError(f"{source}: not a valid trace: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise TraceSchemaError(f"{source}: not valid JSON: {exc}") from exc
    except RecursionError as exc:  # msgspec raises it for JSON nested beyond its depth limit
        raise TraceSchemaError(f"{source}: nested too deeply to read") from exc


def write_temp(path: Path, data: bytes, *, fsync: bool = True, mode: int = 0o600) -> Path:
    """Write ``data`` to a new hidden file beside ``path`` (``.<stem>.<random>.tmp``, which
    store scans and test discovery ignore) and return it, for the caller to check and then
    rename over ``path`` (``os.replace``) or unlink.

    Args:
        path: the file the data is meant for; its directory must exist.
        data: the bytes.
        fsync: flush the file to disk before returning.
        mode: permission bits of the new file (before the umask).

    While it is being written the file holds an exclusive ``flock`` (POSIX), so
    :func:`remove_stale_temp_files` can tell it from one left by a killed process.

    Raises:
        OSError: the write failed; nothing is left behind.
    """
    # Not tempfile.mkstemp: its name generator and retry loop cost ~30 µs a file, on the
    # proxy's hot path (one trace, one file); 64 random bits make a name clash negligible.
    tmp = path.with_name(f".{path.stem}.{os.urandom(8).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        try:
            _lock(fd, wait=True)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def write_atomic(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never part.

    Writes a temporary file in the same directory (:func:`write_temp`), optionally fsyncs it,
    then renames it over ``path``.

    Raises:
        OSError: the write failed; ``path`` is left as it was and the temp file is removed.
    """
    tmp = write_temp(path, data, fsync=fsync)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_stale_temp_files(directory: Path, *, max_age_s: float = 60.0) -> list[Path]:
    """Delete the temp files (:data:`TEMP_NAME`) a killed writer left in ``directory``.

    A temp file is deleted when its last write is older than ``max_age_s`` seconds, or when
    no process holds its lock and it is over a second old (a live writer locks it between
    creating and closing it; the second covers the instant between the two). A concurrent
    writer's file is therefore kept. Files that vanish meanwhile are ignored.

    Returns:
        The paths deleted.

    Raises:
        OSError: ``directory`` cannot be listed (a missing directory is no error: ``[]``).
    """
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    removed: list[Path] = []
    now = time.time()
    for entry in entries:
        if not TEMP_NAME.match(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            if age <= max_age_s and (age <= 1.0 or _locked(entry.path)):
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(Path(entry.path))
    return removed


def _locked(path: str) -> bool:
    """Whether another process holds ``path``'s write lock (``True`` when unknowable)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        return not _lock(fd, wait=False)
    finally:
        os.close(fd)


def read_trace_file(path: Path) -> Trace:
    """Read and parse one trace file.

    Raises:
        FileNotFoundError: no such file.
        TraceSchemaError: the file is not a readable trace (also: it is a directory).
        OSError: the file cannot be read (permissions, I/O error).
    """
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise TraceSchemaError(f"{path}: a directory, not a trace file") from None
    return decode_trace(data, source=str(path))

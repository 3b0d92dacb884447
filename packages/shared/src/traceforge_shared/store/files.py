"""Reading and writing single trace files (JSON, one per trace), atomically."""

from __future__ import annotations

import contextlib
import os
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


def write_temp(path: Path, data: bytes, *, fsync: bool = True, mode: int = 0o600) -> Path:
    """Write ``data`` to a new hidden file beside ``path`` (``.<stem>.<random>.tmp``, which
    store scans and test discovery ignore) and return it, for the caller to check and then
    rename over ``path`` (``os.replace``) or unlink.

    Args:
        path: the file the data is meant for; its directory must exist.
        data: the bytes.
        fsync: flush the file to disk before returning.
        mode: permission bits of the new file (before the umask).

    Raises:
        OSError: the write failed; nothing is left behind.
    """
    # Not tempfile.mkstemp: its name generator and retry loop cost ~30 µs a file, on the
    # proxy's hot path (one trace, one file); 64 random bits make a name clash negligible.
    tmp = path.with_name(f".{path.stem}.{os.urandom(8).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        try:
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


def read_trace_file(path: Path) -> Trace:
    """Read and parse one trace file.

    Raises:
        FileNotFoundError: no such file.
        TraceSchemaError: the file is not a readable trace.
    """
    return decode_trace(path.read_bytes(), source=str(path))

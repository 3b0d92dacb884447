"""The messages between the proxy and its writer process (:mod:`traceforge_proxy.
writer_process`), and their framing on the two pipes.

Each message is one frame: a 4-byte little-endian length, then the message encoded with
msgspec MessagePack (https://msgpack.org/) as a tagged union (the ``t`` field names the
kind). Proxy → writer: :class:`Start` (first, once), :class:`Submit` per finished call,
:class:`Close`. Writer → proxy: :class:`Ready` once its store and addons are built,
:class:`Saved` per trace on disk (only when the proxy has ``saved`` hooks), :class:`Done`
per batch (the calls saved, held or dropped: no longer the proxy's to re-send), and
:class:`Health` when saving starts failing or recovers.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from typing import IO, TypeVar

import msgspec

from traceforge_proxy.exchange_record import ExchangeRecord
from traceforge_shared.config import Config

__all__ = [
    "Close",
    "Done",
    "Health",
    "Ready",
    "Saved",
    "Start",
    "Submit",
    "read_frame",
    "read_messages",
    "write_frame",
]

log = logging.getLogger("traceforge.proxy")
_M = TypeVar("_M")

_LENGTH = struct.Struct("<I")


class Start(msgspec.Struct, tag="start", tag_field="t"):
    """Build the writer: the store at ``home`` (``fsync`` per trace or not), the
    ``before_save`` chain and the OTLP export from ``config``; ``send_traces``: answer each
    saved trace with a :class:`Saved` (the proxy has ``saved`` hooks); ``head_only``: only
    its head (:func:`~traceforge_proxy.hooks.trace_head`: every ``saved`` hook of the proxy
    reads no body)."""

    config: Config
    home: str
    fsync: bool
    send_traces: bool
    head_only: bool = False
    prune_interval_s: float | None = 60.0
    retry_interval_s: float = 2.0


class Submit(msgspec.Struct, tag="submit", tag_field="t"):
    """One finished call (``seq``: the proxy's number for it, unique per proxy)."""

    seq: int
    record: ExchangeRecord


class SubmitUndecoded(msgspec.Struct, tag="submit", tag_field="t"):
    """A :class:`Submit` as the writer's pipe reader takes it: its record left encoded, for
    the idle-scheduled thread that builds the trace to decode
    (:func:`~traceforge_proxy.exchange_record.decode_record`). Decoding a long stream's
    record is most of what reading it costs, and the reader runs at the proxy's own priority
    on what may be the proxy's core."""

    seq: int
    record: msgspec.Raw


class Close(msgspec.Struct, tag="close", tag_field="t"):
    """Save everything received, then exit."""


class Ready(msgspec.Struct, tag="ready", tag_field="t"):
    """The writer is built; ``pid`` is its process id."""

    pid: int


class HealthState(msgspec.Struct, array_like=True):
    """The writer's :class:`~traceforge_proxy.writer.StorageHealth` fields, and its
    ``failures`` count (traces lost so far)."""

    status: str
    unsaved_traces: int
    unsaved_bytes: int
    dropped_traces: int
    store_error: str | None
    failures: int


class Saved(msgspec.Struct, tag="saved", tag_field="t"):
    """A trace is on disk: the stored (redacted) trace, MessagePack-encoded."""

    trace: msgspec.Raw


class Done(msgspec.Struct, tag="done", tag_field="t"):
    """These calls are saved, held (store fault) or dropped; ``health`` after them."""

    seqs: list[int]
    health: HealthState


class Health(msgspec.Struct, tag="health", tag_field="t"):
    """Saving started failing, or recovered."""

    health: HealthState


ToWriter = Start | Submit | Close
FromWriter = Ready | Saved | Done | Health

_encoder = msgspec.msgpack.Encoder()
to_writer = msgspec.msgpack.Decoder(ToWriter)
#: What the writer's pipe reader decodes: records stay encoded (:class:`SubmitUndecoded`).
to_writer_undecoded = msgspec.msgpack.Decoder(Start | SubmitUndecoded | Close)


from_writer = msgspec.msgpack.Decoder(FromWriter)


def frame(message: ToWriter | FromWriter) -> bytes:
    """``message`` encoded, with its length prefix."""
    body = _encoder.encode(message)
    return _LENGTH.pack(len(body)) + body


def write_frame(out: IO[bytes], data: bytes) -> None:
    """Write one framed message (:func:`frame`) and flush.

    Raises:
        OSError: the pipe is closed (``BrokenPipeError``: the other side exited).
    """
    out.write(data)
    out.flush()


def read_frame(source: IO[bytes]) -> bytes | None:
    """The next message's bytes, or ``None`` at the end of the pipe (a frame cut short by
    the other side's exit counts as the end)."""
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    body = source.read(size)
    if len(body) < size:
        return None
    return body


def read_messages(
    source: IO[bytes], decoder: msgspec.msgpack.Decoder[_M], sender: str
) -> Iterator[_M]:
    """Each message framed on ``source`` (:func:`read_frame`) until the pipe's end, decoded
    with ``decoder`` (:data:`to_writer` or :data:`from_writer`); one that does not decode is
    logged as unreadable, naming ``sender``, and skipped."""
    while (data := read_frame(source)) is not None:
        try:
            message = decoder.decode(data)
        except msgspec.DecodeError:
            log.exception("unreadable message from %s; skipped", sender)
            continue
        yield message

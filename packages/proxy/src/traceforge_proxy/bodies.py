"""Bodies as the proxy handles them: depth-limited JSON views and incremental decompression.

Depth: msgspec (like Python's ``json``) decodes nested JSON recursively and raises
``RecursionError`` at about 1,000 levels (the interpreter's recursion limit), and every
recursive walk of a decoded body (redaction, the store's encoder) has a limit of its own. The
proxy forwards a body of any depth untouched; what it *records* is a view cut at
:data:`MAX_DEPTH` levels, each deeper container replaced by a placeholder string
(:func:`json_view`). Body rewrites (model prefix, ``stream_options``) touch only top-level
fields and keep every other byte (:func:`rewrite_top_level`).

Compression: the proxy reads upstream answers with aiohttp's ``auto_decompress`` off. What the
client gets is decided by the relay (the upstream's bytes untouched, ``Content-Encoding``
kept, when it relays as is); the proxy decodes its own copy with a :class:`BodyDecoder`,
piece by piece (``zlib`` ``max_length``), up to a cap, so a small compressed answer that
inflates to hundreds of MB costs bounded time and memory.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import AsyncIterable
from typing import Any

import msgspec

#: Levels of JSON nesting recorded in a trace (the top-level object is level 1); deeper
#: containers are replaced by a placeholder string.
MAX_DEPTH = 128

#: Decoded bytes of a compressed answer the proxy reads for its trace (16 MiB); past it the
#: answer is still relayed whole, but no longer decoded (a whole answer is then not
#: recorded; a stream's events are recorded up to the cap).
RECORD_CAP = 16 * 1024 * 1024

#: Output of one ``zlib`` call (256 KiB): decoding proceeds in pieces of this size.
PIECE = 256 * 1024

#: ``Content-Encoding`` values the proxy can decode (besides ``identity``).
DECODABLE = ("gzip", "x-gzip", "deflate")

#: The ``Accept-Encoding`` sent upstream when the proxy must read the answer itself.
ACCEPT_DECODABLE = "gzip, deflate"

_STRUCTURAL = re.compile(rb'["\[\]{}]')
_json_decode = msgspec.json.decode
_RawFields = dict[str, msgspec.Raw]


def placeholder(size: int) -> str:
    """The string recorded in place of a container nested deeper than :data:`MAX_DEPTH`
    (``size``: its length in bytes, or 0 when unknown)."""
    where = f" ({size} bytes)" if size else ""
    return f"[nested deeper than {MAX_DEPTH} levels{where}: not recorded]"


def depth_warning(what: str) -> str:
    """The trace warning for a body (``what``: ``the request``) cut at :data:`MAX_DEPTH`."""
    return (
        f"{what} is nested deeper than {MAX_DEPTH} levels: it was forwarded whole, but the "
        "trace records the deeper parts as placeholders"
    )


def _deep_spans(body: bytes, max_depth: int) -> list[tuple[int, int]]:
    """The (start, end) byte spans of the containers that open at level ``max_depth + 1``.

    A scan for structural characters (``bytes`` searches, strings skipped whole); it trusts
    the body to be JSON and stops at the first unterminated string.
    """
    spans: list[tuple[int, int]] = []
    depth, start, pos = 0, -1, 0
    search, find = _STRUCTURAL.search, body.find
    while (match := search(body, pos)) is not None:
        at = match.start()
        char = body[at]
        if char == 0x22:  # '"': skip to the closing quote (one preceded by an even run of \)
            end = at
            while True:
                end = find(b'"', end + 1)
                if end < 0:
                    return spans
                slashes = 0
                while body[end - 1 - slashes] == 0x5C:
                    slashes += 1
                if slashes % 2 == 0:
                    break
            pos = end + 1
            continue
        if char in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth == max_depth + 1:
                start = at
        else:
            if depth == max_depth + 1:
                spans.append((start, at + 1))
            depth -= 1
        pos = at + 1
    return spans


def _cut(body: bytes, spans: list[tuple[int, int]], marks: list[bytes]) -> bytes:
    """``body`` with each span replaced by the mark of the same rank."""
    out: list[bytes] = []
    last = 0
    for (start, end), mark in zip(spans, marks, strict=True):
        out.append(body[last:start])
        out.append(mark)
        last = end
    out.append(body[last:])
    return b"".join(out)


def _cut_deep(body: bytes, max_depth: int) -> bytes:
    """``body`` with each container deeper than ``max_depth`` replaced by a placeholder."""
    spans = _deep_spans(body, max_depth)
    marks = [msgspec.json.encode(placeholder(end - start)) for start, end in spans]
    return _cut(body, spans, marks)


def limit_depth(value: Any, max_depth: int = MAX_DEPTH) -> tuple[Any, bool]:
    """A decoded JSON ``value`` with containers deeper than ``max_depth`` replaced by
    :func:`placeholder` strings; returns ``(view, cut)``, ``cut`` telling whether anything was
    replaced (``value`` itself is returned when nothing was). Recursion is bounded by
    ``max_depth``."""
    cut = False

    def walk(node: Any, depth: int) -> Any:
        nonlocal cut
        if isinstance(node, dict):
            if depth > max_depth:
                cut = True
                return placeholder(0)
            return {k: walk(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            if depth > max_depth:
                cut = True
                return placeholder(0)
            return [walk(v, depth + 1) for v in node]
        return node

    view = walk(value, 1)
    return (view, True) if cut else (value, False)


def json_view(data: bytes, max_depth: int = MAX_DEPTH) -> tuple[Any, bool]:
    """Decode JSON ``data`` for recording: ``(value, cut)``, where containers nested deeper
    than ``max_depth`` are placeholders and ``cut`` says whether there were any.

    Raises:
        msgspec.DecodeError: ``data`` is not JSON.
    """
    try:
        value = _json_decode(data)
    except RecursionError:
        return _json_decode(_cut_deep(data, max_depth)), True
    if data.count(b"{") + data.count(b"[") > max_depth:  # could be deep: look
        return limit_depth(value, max_depth)
    return value, False


def rewrite_top_level(body: bytes, changes: dict[str, Any]) -> bytes:
    """The JSON object ``body`` with top-level fields set to ``changes``; every other field
    keeps its bytes (whatever its depth).

    Raises:
        msgspec.DecodeError: ``body`` is not a JSON object.
    """
    try:
        fields = _json_decode(body, type=_RawFields)
    except RecursionError:
        fields = _raw_fields(body)
    return msgspec.json.encode({**fields, **changes})


def _raw_fields(body: bytes) -> dict[str, msgspec.Raw]:
    """Top-level fields of a JSON object too deep for msgspec, each value as its raw bytes."""
    spans = _deep_spans(body, 1)  # the top-level values that are containers
    marks = [b'"\\u0000span%d"' % i for i in range(len(spans))]
    view = _json_decode(_cut(body, spans, marks), type=_RawFields)
    fields: dict[str, msgspec.Raw] = {}
    for name, raw in view.items():
        mark = bytes(raw)
        if mark in marks:
            start, end = spans[marks.index(mark)]
            fields[name] = msgspec.Raw(body[start:end])
        else:
            fields[name] = raw
    return fields


def accept_encoding(client: str | None) -> str:
    """The ``Accept-Encoding`` to send upstream for a client that sent ``client``: its
    codings the proxy can decode (``gzip``, ``deflate``; ``q=0`` ones left out), else
    ``identity``."""
    kept: list[str] = []
    for part in (client or "").split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        key, _, value = params.strip().partition("=")
        try:
            weight = float(value) if key.strip().lower() == "q" else 1.0
        except ValueError:
            weight = 1.0
        if name in DECODABLE and weight > 0:
            kept.append(name)
    return ", ".join(dict.fromkeys(kept)) or "identity"


class BodyDecoder:
    """Decodes a ``gzip`` or ``deflate`` body incrementally.

    Feed the compressed reads in order to :meth:`decode`; it returns at most ``budget``
    decoded bytes per call and keeps the rest of the read for :meth:`more` (check
    :attr:`pending`). Past ``cap`` decoded bytes in all, input is ignored and
    :attr:`capped` is set. A corrupt body sets :attr:`error` and ends decoding.

    Args:
        encoding: the ``Content-Encoding`` (one of :data:`DECODABLE`).
        cap: decoded bytes kept at most (``None``: no cap).
    """

    def __init__(self, encoding: str, cap: int | None = RECORD_CAP) -> None:
        self.encoding = encoding
        self.cap = cap
        #: decoded bytes returned so far.
        self.decoded = 0
        #: the cap was reached: later input is not decoded.
        self.capped = False
        #: why decoding stopped on a corrupt body, if it did.
        self.error: str | None = None
        self._deflate = encoding == "deflate"
        self._obj = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        self._started = False
        self._tail = b""

    @property
    def pending(self) -> bool:
        """Input is left to decode (call :meth:`more`)."""
        return bool(self._tail) and not self.capped and self.error is None

    def decode(self, data: bytes, budget: int = PIECE) -> bytes:
        """Take one compressed read; return up to ``budget`` decoded bytes of it."""
        if self.capped or self.error is not None:
            return b""
        self._tail += data
        return self.more(budget)

    def more(self, budget: int | None = None) -> bytes:
        """Decode more of the input taken so far: up to ``budget`` bytes (``None``: all of
        it, in :data:`PIECE` pieces, up to the cap)."""
        out: list[bytes] = []
        produced = 0
        while self.pending and (budget is None or produced < budget):
            piece = self._piece(PIECE if budget is None else min(PIECE, budget - produced))
            if not piece:
                break
            out.append(piece)
            produced += len(piece)
        return b"".join(out)

    def finish(self) -> bytes:
        """The body ended: the decoded bytes zlib still holds (within the cap)."""
        if self.capped or self.error is not None:
            return b""
        rest = self.more()
        try:
            tail = self._obj.flush()
        except zlib.error:
            tail = b""
        if self.cap is not None:
            tail = tail[: max(0, self.cap - self.decoded)]
        self.decoded += len(tail)
        return rest + tail

    def _piece(self, size: int) -> bytes:
        if self.cap is not None:
            size = min(size, self.cap - self.decoded)
            if size <= 0:
                self.capped, self._tail = True, b""
                return b""
        data, self._tail = self._tail, b""
        try:
            out = self._obj.decompress(data, size)
        except zlib.error as exc:
            if self._deflate and not self._started:  # raw deflate, without a zlib header
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                self._started = True
                self._tail = data
                return self._piece(size)
            self.error = f"the {self.encoding} answer could not be decoded: {exc}"
            return b""
        self._started = True
        self._tail = self._obj.unconsumed_tail
        if self._obj.eof and self._obj.unused_data:  # another gzip member follows
            self._tail = self._obj.unused_data  # (the unconsumed tail is part of it)
            self._obj = zlib.decompressobj(zlib.MAX_WBITS | 32)
        self.decoded += len(out)
        return out


def decoder_for(content_encoding: str | None, cap: int | None = RECORD_CAP) -> BodyDecoder | None:
    """A decoder for a ``Content-Encoding`` header value; ``None`` for no encoding or
    ``identity``.

    Raises:
        ValueError: an encoding the proxy cannot decode (``br``, ``zstd``, several layers).
    """
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding not in DECODABLE:
        raise ValueError(f"the answer's Content-Encoding {encoding!r} cannot be decoded")
    return BodyDecoder("gzip" if encoding == "x-gzip" else encoding, cap)


#: Decoded bytes of one read produced on the event loop; the rest of a larger read is decoded
#: in a worker thread (zlib releases the GIL).
LOOP_DECODE_BUDGET = 1024 * 1024


async def decode_read(decoder: BodyDecoder, data: bytes) -> bytes:
    """Decode one compressed read: up to 1 MiB on the event loop, the rest in a worker
    thread, so an answer that inflates a lot never stalls the loop."""
    out = decoder.decode(data, LOOP_DECODE_BUDGET)
    if decoder.pending:
        out += await asyncio.to_thread(decoder.more)
    return out


async def read_whole(
    reads: AsyncIterable[bytes], decoder: BodyDecoder | None
) -> tuple[bytes, bytes]:
    """Read a whole answer from ``reads`` (the upstream's reads): its bytes as they came and
    its decoded bytes (empty when past the decoder's cap: too large to record)."""
    raw: list[bytes] = []
    plain: list[bytes] = []
    async for data in reads:
        raw.append(data)
        if decoder is not None and not decoder.capped:
            plain.append(await decode_read(decoder, data))
            if decoder.capped:
                plain.clear()  # too large to record: not kept at all
    body = b"".join(raw)
    if decoder is None:
        return body, body
    plain.append(decoder.finish())
    return body, b"".join(plain)


def decode_request(body: bytes) -> tuple[Any, bool]:
    """The request's JSON (``None`` if empty or not JSON) and whether it is whole: a body
    nested too deep for msgspec is read as a view cut at the depth limit."""
    if not body:
        return None, True
    try:
        return msgspec.json.decode(body), True
    except msgspec.DecodeError:
        return None, True
    except RecursionError:
        try:
            return json_view(body)[0], False
        except msgspec.DecodeError:
            return None, True

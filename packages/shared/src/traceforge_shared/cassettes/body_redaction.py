"""Redacting a recorded answer's body, read by read, whatever its bytes are.

A cassette stores the upstream's body as its reads (:class:`~traceforge_shared.cassettes.Read`),
so redaction must keep each read's boundary: the reads are redacted as one text with
:meth:`Redactor.redact_stream <traceforge_shared.redact.Redactor.redact_stream>` (a secret
split across two reads is caught; its marker goes to the read where it starts).

- UTF-8 bodies are decoded as one UTF-8 stream (a character split between reads goes to the
  read where it ends) and stored as text.
- Any other body (latin-1 text, binary data with text inside it) is decoded as latin-1, one
  character per byte, so nothing is lost and every ASCII secret is visible to the detectors
  as in a text body (bytes 0x80-0xFF are read as separators, so a key next to one is still
  at a word boundary); the matches are replaced in the original bytes, each read keeping its
  boundary, and encoded back byte for byte (a marker's characters outside latin-1, from a
  custom pattern's name, as UTF-8). No secret reaches a cassette unredacted because its body
  was not UTF-8. (Secrets written in UTF-16 or compressed inside a binary body are not
  seen.)

The kinds found are returned, so the recording can say its bytes are not the upstream's
(:attr:`RecordedResponse.redacted <traceforge_shared.cassettes.RecordedResponse.redacted>`).
"""

from __future__ import annotations

import codecs

from traceforge_shared.cassettes.format import Read
from traceforge_shared.redact import Redactor


def redact_reads(
    redactor: Redactor, reads: list[tuple[bytes, float]]
) -> tuple[list[Read], list[str]]:
    """The reads of one body, redacted, and the kinds redaction replaced (sorted, unique).

    Args:
        redactor: the cassette's redactor (plain markers).
        reads: ``(bytes, offset ms since the request was sent)`` in arrival order.

    Returns:
        One :class:`Read` per non-empty redacted read (offsets rounded to µs), as text when
        the body is UTF-8, else as text or base64 per read (:meth:`Read.of`); and the kinds.
    """
    pieces = _utf8_pieces(reads)
    if pieces is not None:
        redacted, where = redactor.redact_stream(pieces)
        texts = [
            Read(offset_ms=round(offset, 3), text=text)
            for text, (_, offset) in zip(redacted, reads, strict=True)
            if text
        ]
        return texts, sorted({kind for _, kind in where})
    return _redact_bytes(redactor, reads)


def _redact_bytes(
    redactor: Redactor, reads: list[tuple[bytes, float]]
) -> tuple[list[Read], list[str]]:
    """:func:`redact_reads` of a body that is not UTF-8 (see the module docstring)."""
    whole = b"".join(data for data, _ in reads).decode("latin-1")
    # Bytes >= 0x80 read as separators: in latin-1 many are letters (é, ª, µ), and a key
    # next to one would not start or end at a word boundary for the detectors.
    findings = redactor.find(whole.translate(_HIGH_BYTES))
    if not findings:
        return [Read.of(data, offset) for data, offset in reads if data], []
    out: list[Read] = []
    start = 0
    fi = 0
    for data, offset in reads:
        end = start + len(data)
        parts: list[str] = []
        pos = start
        while fi < len(findings) and findings[fi].start < end:
            finding = findings[fi]
            if finding.start >= pos:  # the marker goes to the read where the match starts
                parts += (whole[pos : finding.start], finding.marker)
            pos = max(pos, min(finding.end, end))
            if finding.end > end:
                break  # it runs on into the next read: cut from there too
            fi += 1
        parts.append(whole[pos:end])
        redacted = latin1_bytes("".join(parts))
        if redacted:
            out.append(Read.of(redacted, offset))
        start = end
    return out, sorted({finding.kind for finding in findings})


#: ``str.translate`` table: latin-1 characters 0x80-0xFF to NUL (not a word character).
_HIGH_BYTES = {code: 0 for code in range(0x80, 0x100)}


def latin1_bytes(text: str) -> bytes:
    """``text`` encoded back to the bytes it was decoded from as latin-1; characters
    outside latin-1 (only in markers) as UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return b"".join(c.encode("latin-1") if ord(c) < 256 else c.encode("utf-8") for c in text)


def _utf8_pieces(reads: list[tuple[bytes, float]]) -> list[str] | None:
    """Each read as text, decoded as one UTF-8 stream (a character split between reads
    goes to the read where it ends); ``None`` when the bytes are not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        pieces = [decoder.decode(data) for data, _ in reads]
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    if tail:
        return None
    return pieces

"""The cassette interaction: one recorded upstream call, as a readable, redacted YAML file.

A cassette is a directory ``<home>/cassettes/<name>/`` (:mod:`traceforge_shared.cassettes.store`)
holding one file per interaction, ``<seq>-<provider>-<model>-<key>.yaml``::

    # TraceForge cassette interaction, redacted, safe to commit.
    format: 1
    seq: 1
    key: 3f9a0c1b2d4e5f60            # request_key() when recorded (recomputed when loaded)
    recorded_at: '2026-12-04T19:52:43.123456Z'
    trace_id: 01JEXAMPLE...          # the trace of the recording call
    request:
      method: POST
      endpoint: /v1/chat/completions # the proxy path the app called
      query: ''                      # without credentials (Gemini's ``key=``)
      provider: anthropic            # where it was routed
      model: claude-3-5-haiku-latest
      route: converted               # openai | converted | passthrough
      upstream_path: /v1/messages    # the provider path the proxy called
      body: {model: ..., messages: [...]}   # the app's request body (JSON), redacted
    response:
      status: 200
      headers: [[content-type, text/event-stream], [request-id, req_...]]  # allowlisted
      headers_ms: 212.4              # ms from sending the request to the response headers
      stream: true
      reads:                         # each upstream read as it arrived (stream: true)
      - offset_ms: 230.1             # ms from sending the request
        text: |
          event: message_start
          data: {...}
      - offset_ms: 240.7
        base64: AAEC                 # a read that is not UTF-8 on its own
      body: null                     # stream: false: the whole body text (or body_base64)
      redacted: [openai_key]         # kinds redaction replaced in the body ([]: the bytes are
                                     # the upstream's)
      broken: null                   # or {cause: upstream_failed, message, offset_ms}: the
                                     # answer broke off after the reads above
    recording_run: 20261204T195243Z-3f9a0c    # the proxy run that recorded it
    recording_mode: record           # record: supersedes earlier runs' recordings of the
                                     # request; auto/replay: a recorded miss, appended

The response is the upstream's NATIVE answer (for converted routes the provider's bytes, which
the proxy converts again on replay), decoded (recording asks the upstream for
``Accept-Encoding: identity``) and redacted with the same redactor as traces: replayed bytes
are the redacted ones, so a secret in an answer is replayed as its placeholder.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import msgspec

#: Version of the interaction layout written by this code.
CASSETTE_FORMAT = 1

#: Response headers kept in a cassette (lower-case): those an SDK reads. Everything else
#: (cookies, auth, ``content-length``, ``content-encoding``, hop-by-hop) is dropped.
#: ``x-ratelimit-*``, ``anthropic-ratelimit-*`` and ``*-request-id`` headers are kept by prefix
#: or suffix (:func:`kept_header`).
HEADER_ALLOWLIST = frozenset(
    {
        "content-type",
        "openai-model",
        "openai-organization-id",
        "openai-processing-ms",
        "openai-version",
        "request-id",
        "retry-after",
        "retry-after-ms",
        "x-request-id",
        "x-goog-request-id",
        "x-api-version",
        "x-endpoint-monthly-call-limit",
        "x-trial-endpoint-call-limit",
        "x-trial-endpoint-call-remaining",
        "num_tokens",
        "x-should-retry",
    }
)
_HEADER_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "x-traceforge-")
_HEADER_SUFFIXES = ("-request-id",)


def kept_header(name: str) -> bool:
    """Whether response header ``name`` is stored in a cassette (see
    :data:`HEADER_ALLOWLIST`); never auth or cookie headers."""
    lower = name.lower()
    if "cookie" in lower or "auth" in lower:
        return False
    return (
        lower in HEADER_ALLOWLIST
        or lower.startswith(_HEADER_PREFIXES)
        or lower.endswith(_HEADER_SUFFIXES)
    )


class Read(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One upstream read of a streamed answer.

    Attributes:
        offset_ms: ms from sending the request upstream to this read's arrival.
        text: the read's bytes as UTF-8 text, when they decode.
        base64: the read's bytes base64-encoded, when they are not UTF-8 on their own (a read
            boundary inside a multi-byte character, a binary body).
    """

    offset_ms: float
    text: str | None = None
    base64: str | None = None

    @property
    def data(self) -> bytes:
        """The read's bytes."""
        return encoded_bytes(self.text, self.base64)

    @classmethod
    def of(cls, data: bytes, offset_ms: float) -> Read:
        """The read of ``data`` arrived at ``offset_ms`` (text when UTF-8, else base64)."""
        text, b64 = encode_bytes(data)
        return cls(offset_ms=round(offset_ms, 3), text=text, base64=b64)


#: :attr:`StreamBreak.cause` values: the upstream's connection broke (or its read timed out)
#: part way through the body, or the app hung up before the body ended.
BREAK_CAUSES = ("upstream_failed", "upstream_timeout", "client_gone")


class StreamBreak(msgspec.Struct, kw_only=True, omit_defaults=True):
    """How a recorded answer was broken off before its body ended (the reads before it are
    recorded; replay serves them, then breaks off the same way).

    Attributes:
        cause: ``upstream_failed`` (the connection broke: replay raises
            ``aiohttp.ClientPayloadError`` with :attr:`message`), ``upstream_timeout`` (a read
            timed out: replay raises ``TimeoutError``) or ``client_gone`` (the app hung up:
            the upstream's answer was not read further, so replay breaks off there too).
        message: the error as the proxy saw it (redacted).
        offset_ms: ms from sending the request to the break.
    """

    cause: str
    offset_ms: float
    message: str = ""


class RecordedRequest(msgspec.Struct, kw_only=True, omit_defaults=False):
    """The app's request as recorded (redacted): what the request key is computed from.

    Attributes:
        method: HTTP method.
        endpoint: the proxy path the app called (``/v1/chat/completions``,
            ``/anthropic/v1/messages``, ``/gemini/v1beta/models/gemini-2.0-flash:generateContent``).
        query: the query string without ``?`` and without credentials (``key=``).
        provider: the provider the call was routed to (``openai``, ``anthropic``, ...).
        model: the model asked for (``""`` when the request names none).
        route: ``openai``, ``converted`` or ``passthrough``.
        upstream_path: the path called on the provider (informative; not matched).
        body: the request body as decoded JSON (redacted), or ``None``.
        body_text: the body as text when it was not JSON (redacted), else ``None``.
    """

    method: str
    endpoint: str
    query: str = ""
    provider: str
    model: str = ""
    route: str = "openai"
    upstream_path: str = ""
    body: Any = None
    body_text: str | None = None


class RecordedResponse(msgspec.Struct, kw_only=True, omit_defaults=False):
    """The upstream's answer as recorded (native bytes, decoded, redacted).

    Attributes:
        status: HTTP status.
        headers: ``[name, value]`` pairs kept by :func:`kept_header`, in arrival order.
        headers_ms: ms from sending the request to the response headers.
        stream: whether the answer was relayed as a stream (SSE or NDJSON).
        reads: ``stream``: every upstream read, in order, with its arrival time.
        body: not ``stream``: the whole body as UTF-8 text.
        body_base64: not ``stream``: the whole body base64-encoded when it is not UTF-8.
        end_ms: ms from sending the request to the end of the body (or to its break).
        redacted: the kinds of values redaction replaced in the body (``openai_key``,
            ``email``, ...): when not empty, the recorded (and replayed) bytes are not the
            upstream's originals. Text and non-UTF-8 bodies alike (the latter are scanned as
            latin-1, byte for byte).
        broken: the answer was broken off part way (:class:`StreamBreak`), else ``None``.
    """

    status: int
    headers: list[tuple[str, str]] = msgspec.field(default_factory=list)
    headers_ms: float = 0.0
    stream: bool = False
    reads: list[Read] = msgspec.field(default_factory=list)
    body: str | None = None
    body_base64: str | None = None
    end_ms: float = 0.0
    redacted: list[str] = msgspec.field(default_factory=list)
    broken: StreamBreak | None = None

    def body_reads(self) -> list[Read]:
        """The reads to replay: ``reads`` for a stream, else the whole body as one read at
        ``end_ms`` (no read for an empty body)."""
        if self.stream:
            return self.reads
        data = encoded_bytes(self.body, self.body_base64)
        return [Read.of(data, self.end_ms)] if data else []

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        lower = name.lower()
        return next((v for n, v in self.headers if n.lower() == lower), None)


class Interaction(msgspec.Struct, kw_only=True, omit_defaults=False):
    """One recorded call: the file ``<seq>-<provider>-<model>-<key>.yaml`` of a cassette.

    Attributes:
        format: :data:`CASSETTE_FORMAT` when written.
        seq: 1-based position in the cassette (recording order; replayed in this order among
            interactions with the same key).
        key: the request key when recorded (:func:`~traceforge_shared.cassettes.key.request_key`;
            informative: the key is recomputed at load with the current ignore list).
        recorded_at: ISO 8601 UTC time of the recording.
        trace_id: the id of the trace the recording call was saved as.
        request: see :class:`RecordedRequest`.
        response: see :class:`RecordedResponse`.
        recording_run: the id of the proxy run that recorded it (one ``traceforge start``,
            one pytest test; ``""`` in files from before it was kept).
        recording_mode: that run's mode: ``record`` (the run re-recorded the cassette: its
            recordings of a request supersede those of earlier runs), ``auto`` or ``replay``
            (a miss recorded while replaying: added after the recordings replayed before it).
    """

    seq: int
    key: str
    request: RecordedRequest
    response: RecordedResponse
    recorded_at: str = ""
    trace_id: str = ""
    recording_run: str = ""
    recording_mode: str = "record"
    format: int = CASSETTE_FORMAT


def encode_bytes(data: bytes) -> tuple[str | None, str | None]:
    """``(text, None)`` when ``data`` is UTF-8, else ``(None, base64)``."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, base64.b64encode(data).decode("ascii")


def encoded_bytes(text: str | None, b64: str | None) -> bytes:
    """The bytes :func:`encode_bytes` encoded (empty when both are ``None``).

    Raises:
        ValueError: ``b64`` is not valid base64.
    """
    if text is not None:
        return text.encode("utf-8")
    if b64 is not None:
        return base64.b64decode(b64, validate=True)
    return b""


_HEADER_COMMENT = "# TraceForge cassette interaction, redacted, safe to commit (docs/replay.md).\n"


def dump_interaction(interaction: Interaction) -> str:
    """The YAML text of ``interaction``: multi-line texts as literal blocks when that keeps
    them exact, everything else as YAML scalars (loads back to the same bytes)."""
    from ruamel.yaml import YAML

    plain = msgspec.to_builtins(interaction)
    plain = {"format": plain.pop("format"), **plain}  # the layout version first
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    out = io.StringIO()
    out.write(_HEADER_COMMENT)
    yaml.dump(_literal_blocks(plain), out)
    return out.getvalue()


def _literal_blocks(value: Any, key: str = "") -> Any:
    from ruamel.yaml.comments import CommentedSeq
    from ruamel.yaml.scalarstring import LiteralScalarString

    if isinstance(value, dict):
        return {k: _literal_blocks(v, k) for k, v in value.items()}
    if key == "headers" and isinstance(value, list):  # [name, value] pairs on one line each
        pairs = []
        for pair in value:
            flow = CommentedSeq(pair)
            flow.fa.set_flow_style()
            pairs.append(flow)
        return pairs
    if isinstance(value, list):
        return [_literal_blocks(v) for v in value]
    if isinstance(value, str) and _literal_safe(value):
        return LiteralScalarString(value)
    return value


def _literal_safe(text: str) -> bool:
    """A literal block keeps ``text`` exactly: several lines, printable, no ``\\r``, no
    trailing spaces or tabs on a line, no leading space on the first line."""
    if "\n" not in text.rstrip("\n") or text[:1] in (" ", "\t", "\n"):
        return False
    if any(not (c.isprintable() or c == "\n") for c in text):
        return False
    return all(line == line.rstrip(" \t") for line in text.split("\n"))


def load_interaction(text: str) -> Interaction:
    """Parse an interaction file's text.

    Raises:
        traceforge_shared.yamlfile.YamlProblem: not YAML, or not an interaction (with the
            line and field of the problem).
    """
    from traceforge_shared.yamlfile import YamlProblem, locate_error, parse_yaml, to_plain

    doc = parse_yaml(text)
    try:
        interaction = msgspec.convert(to_plain(doc), Interaction)
    except msgspec.ValidationError as exc:
        raise locate_error(doc, exc) from exc
    if interaction.format > CASSETTE_FORMAT:
        raise YamlProblem(
            f"written by a newer TraceForge (cassette format {interaction.format}; this one "
            f"reads up to {CASSETTE_FORMAT})",
            field="format",
        )
    return interaction

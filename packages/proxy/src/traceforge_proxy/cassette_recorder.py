"""Recording upstream answers into cassette interactions.

:class:`RecordingResponse` wraps the live ``aiohttp`` answer: the handler reads it as usual,
and each read is kept with its arrival time (ms since the request was sent). When the body
has been read to its end the recording is handed on, redacted:

- the request: the app's JSON body through :meth:`Redactor.redact_value` (its text when not
  JSON), the query without credentials;
- the response: headers kept by :func:`~traceforge_shared.cassettes.kept_header`, their
  values redacted; the body bytes decoded as UTF-8 across reads and redacted as one text
  (:meth:`Redactor.redact_stream`), so each read keeps its boundary; a body that is not UTF-8
  is stored base64-encoded, unredacted (no detector reads binary data).

Only whole answers are recorded: an answer abandoned part way (client gone, upstream broken)
is not.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from traceforge_proxy.plan import ClientRequest, ForwardingPlan
from traceforge_shared.cassettes import (
    Read,
    RecordedRequest,
    RecordedResponse,
    kept_header,
)
from traceforge_shared.cassettes.format import encode_bytes
from traceforge_shared.cassettes.key import clean_query
from traceforge_shared.redact import Redaction, Redactor


def recorded_request(
    client: ClientRequest, plan: ForwardingPlan, redactor: Redactor
) -> RecordedRequest:
    """The app's request as a cassette stores it (redacted)."""
    body: Any = None
    body_text: str | None = None
    if client.json is not None and client.json_complete:
        body = redactor.redact_value(client.json, "request", Redaction())
    elif client.body:
        body_text = redactor.redact_text(client.body.decode("utf-8", "replace"))[0]
    model = plan.target.model
    if model is None and isinstance(client.json, dict):
        named = client.json.get("model")
        model = named if isinstance(named, str) else None
    path, _, _query = plan.url.partition("?")
    upstream_path = "/" + path.split("://", 1)[-1].partition("/")[2]
    return RecordedRequest(
        method=client.method.upper(),
        endpoint=client.path,
        query=clean_query(client.query),
        provider=plan.target.provider,
        model=model or "",
        route=plan.target.route,
        upstream_path=upstream_path,
        body=body,
        body_text=body_text,
    )


def recorded_response(
    status: int,
    headers: list[tuple[str, str]],
    headers_ms: float,
    stream: bool,
    reads: list[tuple[bytes, float]],
    end_ms: float,
    redactor: Redactor,
) -> RecordedResponse:
    """A recorded answer, redacted: ``reads`` are ``(bytes, offset ms)`` in arrival order."""
    kept = {str(n): str(v) for n, v in headers if kept_header(n)}
    kept_headers = list(redactor.redact_headers(kept, "response.headers", Redaction()).items())
    pieces = _decoded(reads)
    if pieces is None:  # not UTF-8: stored as base64, as received
        out_reads = [Read.of(data, offset) for data, offset in reads if data]
    else:
        redacted, _ = redactor.redact_stream(pieces)
        out_reads = [
            Read(offset_ms=round(offset, 3), text=text)
            for text, (_, offset) in zip(redacted, reads, strict=True)
            if text
        ]
    response = RecordedResponse(
        status=status,
        headers=kept_headers,
        headers_ms=round(headers_ms, 3),
        stream=stream,
        end_ms=round(end_ms, 3),
    )
    if stream:
        response.reads = out_reads
    else:
        whole = b"".join(r.data for r in out_reads)
        response.body, response.body_base64 = encode_bytes(whole)
    return response


def _decoded(reads: list[tuple[bytes, float]]) -> list[str] | None:
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


class RecordingResponse:
    """A live upstream answer whose reads are recorded as the handler reads them (an
    :class:`~traceforge_proxy.transport.UpstreamResponse`).

    Args:
        response: the live answer.
        sent_ns: ``time.perf_counter_ns()`` when the request was sent.
        headers_ns: when its headers arrived.
        on_done: called once with ``(reads, end_ms)`` when the body was read to its end
            (``reads``: ``(bytes, offset ms)``); never for an abandoned answer.
    """

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        sent_ns: int,
        on_done: Callable[[list[tuple[bytes, float]], float], None],
    ) -> None:
        self.response = response
        self.sent_ns = sent_ns
        self.on_done = on_done
        self.reads: list[tuple[bytes, float]] = []
        self._ended = False
        self._closed = False

    @property
    def status(self) -> int:
        """HTTP status."""
        return self.response.status

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """Response headers."""
        return self.response.headers

    @property
    def content(self) -> RecordingResponse:
        """The body (this object: :meth:`iter_any`)."""
        return self

    async def iter_any(self) -> AsyncIterator[bytes]:
        """The live reads, each recorded with its arrival time."""
        async for data in self.response.content.iter_any():
            self.reads.append((data, (time.perf_counter_ns() - self.sent_ns) / 1e6))
            yield data
        self._ended = True

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        end_ms = (time.perf_counter_ns() - self.sent_ns) / 1e6
        if self._ended:
            self.on_done(self.reads, end_ms)

    def release(self) -> Any:
        """The handler is done with the body: record it if it was read to its end."""
        self._finish()
        return self.response.release()

    def close(self) -> None:
        """The answer was abandoned: nothing is recorded."""
        self._closed = True
        self.response.close()

"""Recording upstream answers into cassette interactions.

:class:`RecordingResponse` wraps the live ``aiohttp`` answer: the handler reads it as usual,
and each read is kept with its arrival time (ms since the request was sent). When the body
has been read to its end the recording is handed on, redacted:

- the request: the app's JSON body through :meth:`Redactor.redact_value` (its text when not
  JSON), the query without credentials;
- the response: headers kept by :func:`~traceforge_shared.cassettes.kept_header`, their
  values redacted; the body redacted as one text with each read's boundary kept
  (:mod:`traceforge_shared.cassettes.body_redaction`: UTF-8 bodies as text, any other body
  scanned as latin-1, byte for byte, and stored base64), the kinds found noted in
  ``redacted``.

An answer broken off part way is recorded too: the reads that arrived, then how it broke
(``broken``: the upstream failed or timed out mid-body, or the app hung up), so replay
serves the same reads and breaks off the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from traceforge_proxy.plan import ClientRequest, ForwardingPlan
from traceforge_shared.cassettes import (
    RecordedRequest,
    RecordedResponse,
    StreamBreak,
    kept_header,
)
from traceforge_shared.cassettes.body_redaction import redact_reads
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
    broken: StreamBreak | None = None,
) -> RecordedResponse:
    """A recorded answer, redacted: ``reads`` are ``(bytes, offset ms)`` in arrival order;
    ``broken``: how the answer broke off after them (its message is redacted too)."""
    kept = {str(n): str(v) for n, v in headers if kept_header(n)}
    kept_headers = list(redactor.redact_headers(kept, "response.headers", Redaction()).items())
    out_reads, kinds = redact_reads(redactor, reads)
    if broken is not None and broken.message:
        broken.message = redactor.redact_text(broken.message)[0]
    response = RecordedResponse(
        status=status,
        headers=kept_headers,
        headers_ms=round(headers_ms, 3),
        stream=stream,
        end_ms=round(end_ms, 3),
        redacted=kinds,
        broken=broken,
    )
    if stream:
        response.reads = out_reads
    else:
        whole = b"".join(r.data for r in out_reads)
        response.body, response.body_base64 = encode_bytes(whole)
    return response


#: Failures of an upstream read (as the handler maps them: ``server.py``).
_READ_FAILED = (aiohttp.ClientError, asyncio.TimeoutError)

#: Called once per answer: ``(reads, end ms, break)`` (``reads``: ``(bytes, offset ms)``).
OnDone = Callable[[list[tuple[bytes, float]], float, StreamBreak | None], None]


class RecordingResponse:
    """A live upstream answer whose reads are recorded as the handler reads them (an
    :class:`~traceforge_proxy.transport.UpstreamResponse`).

    Args:
        response: the live answer.
        sent_ns: ``time.perf_counter_ns()`` when the request was sent.
        on_done: called once when the handler is done with the body: with ``None`` when it
            read it to its end (or stopped on its own: a provider's in-stream error), with
            a :class:`~traceforge_shared.cassettes.StreamBreak` when the answer broke off
            (an upstream read failed or timed out: ``upstream_failed``/``upstream_timeout``;
            the handler abandoned it otherwise: ``client_gone``).
    """

    def __init__(self, response: aiohttp.ClientResponse, sent_ns: int, on_done: OnDone) -> None:
        self.response = response
        self.sent_ns = sent_ns
        self.on_done = on_done
        self.reads: list[tuple[bytes, float]] = []
        self._failure: StreamBreak | None = None
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

    def _ms(self) -> float:
        return (time.perf_counter_ns() - self.sent_ns) / 1e6

    async def iter_any(self) -> AsyncIterator[bytes]:
        """The live reads, each recorded with its arrival time; a failed read is recorded
        as the answer's break, then raised.

        Raises:
            aiohttp.ClientError, asyncio.TimeoutError: the upstream read failed.
        """
        try:
            async for data in self.response.content.iter_any():
                self.reads.append((data, self._ms()))
                yield data
        except _READ_FAILED as exc:
            cause = "upstream_timeout" if isinstance(exc, TimeoutError) else "upstream_failed"
            message = str(exc) or type(exc).__name__
            offset = round(self._ms(), 3)
            self._failure = StreamBreak(cause=cause, offset_ms=offset, message=message)
            raise

    def _finish(self, broken: StreamBreak | None) -> None:
        if self._closed:
            return
        self._closed = True
        self.on_done(self.reads, self._ms(), broken)

    def release(self) -> Any:
        """The handler is done with the body: record it (whole, or as far as the handler
        read it when it stopped on its own)."""
        self._finish(self._failure)
        return self.response.release()

    def close(self) -> None:
        """The answer was abandoned: record what was read, with how it broke off."""
        self._finish(
            self._failure
            or StreamBreak(
                cause="client_gone",
                offset_ms=round(self._ms(), 3),
                message="the app hung up before the answer ended",
            )
        )
        self.response.close()

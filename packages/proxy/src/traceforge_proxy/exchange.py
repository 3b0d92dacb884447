"""The record of one proxied call while it is in flight, and its conversion into a Trace.

The proxy handler fills an :class:`Exchange` as the call progresses (request, response
headers, each SSE event with its arrival time, the end or the failure); :meth:`Exchange.to_trace`
is called off the event loop, by the trace writer, once the call is over.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from traceforge_proxy.accumulate import ChatCompletionAccumulator
from traceforge_proxy.sse import SSEEvent
from traceforge_shared.trace import StreamChunk, Trace, TraceError, TraceMetadata, Usage

_json_decode = msgspec.json.decode


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


def decode_json(body: bytes) -> Any:
    """Decode JSON bytes; return the text (or ``None`` if empty) when they are not JSON."""
    if not body:
        return None
    try:
        return _json_decode(body)
    except msgspec.DecodeError:
        return body.decode("utf-8", "replace")


def usage_from(obj: Any) -> Usage | None:
    """Read an OpenAI ``usage`` object (``prompt_tokens``/``completion_tokens``/``total_tokens``,
    or the Responses API's ``input_tokens``/``output_tokens``) into :class:`Usage`."""
    if not isinstance(obj, dict):
        return None
    prompt = obj.get("prompt_tokens", obj.get("input_tokens"))
    completion = obj.get("completion_tokens", obj.get("output_tokens"))
    if not isinstance(prompt, int) and not isinstance(completion, int):
        return None
    prompt = prompt if isinstance(prompt, int) else 0
    completion = completion if isinstance(completion, int) else 0
    total = obj.get("total_tokens")
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total if isinstance(total, int) else prompt + completion,
    )


class Exchange:
    """Mutable state of one call. Times are ``time.perf_counter_ns()`` values.

    Args:
        trace_id: id the trace will be saved under.
        timestamp: ISO 8601 UTC arrival time.
        started_ns: when the request reached the proxy.
        method, endpoint: HTTP method and proxy path (``/v1/chat/completions``).
        provider: provider name.
        request_body: the client's request body as received.
        request_json: the decoded request body (``None`` if empty or not JSON).
        chunk_cap: chunks kept at most; later chunks are counted, not kept.
    """

    def __init__(
        self,
        *,
        trace_id: str,
        timestamp: str,
        started_ns: int,
        method: str,
        endpoint: str,
        provider: str,
        request_body: bytes,
        request_json: Any,
        chunk_cap: int,
    ) -> None:
        self.trace_id = trace_id
        self.timestamp = timestamp
        self.started_ns = started_ns
        self.method = method
        self.endpoint = endpoint
        self.provider = provider
        self.request_body = request_body
        self.request_json = request_json
        self.chunk_cap = chunk_cap
        self.model = (request_json.get("model") if isinstance(request_json, dict) else None) or ""
        self.upstream_url: str | None = None
        self.request_headers: dict[str, str] = {}
        self.response_headers: dict[str, str] = {}
        self.redacted_fields: list[str] = []
        self.warnings: list[str] = []
        self.status = "success"
        self.status_code = 0
        self.error: TraceError | None = None
        self.response_body: bytes | None = None
        self.streaming = False
        self.sent_ns = started_ns
        self.ended_ns: int | None = None
        self.first_chunk_ns: int | None = None
        self.last_chunk_ns: int | None = None
        self.chunks: list[StreamChunk] = []
        self.chunks_received = 0
        self.chunks_withheld = 0
        self._malformed = 0
        self._accumulator = ChatCompletionAccumulator()
        self._completed_response: Any = None

    # -- recording, called on the event loop ------------------------------------------------

    def add_event(self, event: SSEEvent, now_ns: int, *, withhold_usage_chunk: bool) -> bool:
        """Record one SSE event that arrived at ``now_ns``.

        Returns ``True`` when the event is the usage-only chunk (``"choices": []`` with
        ``usage``) and ``withhold_usage_chunk`` is set: the caller must not forward it.
        Events without data (comments, keep-alives) are not chunks and are never withheld.
        """
        data = event.data
        if data is None:
            return False
        index = self.chunks_received
        self.chunks_received += 1
        previous = self.last_chunk_ns if self.last_chunk_ns is not None else self.sent_ns
        if self.first_chunk_ns is None:
            self.first_chunk_ns = now_ns
        self.last_chunk_ns = now_ns
        payload: Any = None
        raw: str | None = None
        if data == b"[DONE]":
            raw = "[DONE]"
        else:
            try:
                payload = _json_decode(data)
            except msgspec.DecodeError:
                raw = data.decode("utf-8", "replace")
                self._malformed += 1
                if self._malformed == 1:
                    self.warnings.append(
                        f"chunk {index}: SSE data is not JSON (forwarded as is): {raw[:120]!r}"
                    )
        withheld = False
        if isinstance(payload, dict):
            self._accumulator.add(payload)
            if event.event == "response.completed" and isinstance(payload.get("response"), dict):
                self._completed_response = payload["response"]
            if (
                withhold_usage_chunk
                and payload.get("choices") == []
                and payload.get("usage") is not None
            ):
                withheld = True
                self.chunks_withheld += 1
        if index < self.chunk_cap:
            self.chunks.append(
                StreamChunk(
                    index=index,
                    delta_ms=_ms(now_ns - previous),
                    offset_ms=_ms(now_ns - self.sent_ns),
                    data=payload,
                    raw=raw,
                    event=event.event,
                    forwarded=not withheld,
                )
            )
        return withheld

    def fail(self, status: str, error_type: str, message: str) -> None:
        """Mark the call as failed (``upstream_error``, ``client_disconnected``, ...)."""
        self.status = status
        self.error = TraceError(type=error_type, message=message)

    def finish(self) -> None:
        """Mark the end of the call (the last byte relayed, or the failure)."""
        if self.ended_ns is None:
            self.ended_ns = time.perf_counter_ns()

    # -- conversion, called off the event loop ----------------------------------------------

    def to_trace(self) -> Trace:
        """Build the :class:`Trace` of this exchange."""
        ended = self.ended_ns if self.ended_ns is not None else time.perf_counter_ns()
        warnings = list(self.warnings)
        if self._malformed > 1:
            warnings.append(f"{self._malformed} chunks in all had SSE data that is not JSON")
        if self.chunks_received > self.chunk_cap:
            warnings.append(
                f"chunk cap reached: {self.chunks_received} chunks received, the first "
                f"{self.chunk_cap} stored (proxy.chunk_cap)"
            )
        response: Any
        usage: Usage | None
        if self.streaming:
            response = self._completed_response or self._accumulator.result()
            usage = usage_from(self._accumulator.usage)
            if usage is None and isinstance(response, dict):
                usage = usage_from(response.get("usage"))
        else:
            response = decode_json(self.response_body) if self.response_body else None
            usage = usage_from(response.get("usage")) if isinstance(response, dict) else None
        if self.status == "success" and self.status_code >= 400:
            self.status = "error"
            if self.error is None:
                self.error = _error_from_body(response, self.status_code)
        first = self.first_chunk_ns
        last = self.last_chunk_ns
        metadata = TraceMetadata(
            status=self.status,
            status_code=self.status_code,
            method=self.method,
            latency_ms=_ms(ended - self.started_ns),
            streaming=self.streaming,
            first_chunk_latency_ms=_ms(first - self.sent_ns) if first is not None else None,
            stream_duration_ms=_ms(last - first)
            if first is not None and last is not None
            else (0.0 if self.streaming else None),
            total_chunks=self.chunks_received - self.chunks_withheld,
            chunks_received=self.chunks_received,
            chunks_buffered=len(self.chunks),
            warnings=warnings,
            usage=usage,
            error=self.error,
            redacted_fields=list(self.redacted_fields),
            upstream_url=self.upstream_url,
            request_headers=self.request_headers,
            response_headers=self.response_headers,
        )
        return Trace(
            id=self.trace_id,
            timestamp=self.timestamp,
            provider=self.provider,
            model=self.model,
            endpoint=self.endpoint,
            request=self.request_json
            if self.request_json is not None
            else decode_json(self.request_body),
            response=response,
            chunks=self.chunks,
            metadata=metadata,
        )


def _error_from_body(body: Any, status_code: int) -> TraceError:
    """Read an error object from an upstream error body (OpenAI shape, or any JSON/text)."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        kind = err.get("code") or err.get("type") or f"http_{status_code}"
        return TraceError(type=str(kind), message=str(err.get("message", "")))
    text = body if isinstance(body, str) else msgspec.json.encode(body).decode() if body else ""
    return TraceError(type=f"http_{status_code}", message=text[:500])

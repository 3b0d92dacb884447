"""Which HTTP headers the proxy forwards, and which it keeps out of traces."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Hop-by-hop headers (RFC 9110 section 7.6.1): they concern one connection, never relayed.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

#: Request headers not sent upstream: hop-by-hop and ones the proxy's HTTP client sets.
_NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "accept-encoding"}

#: Response headers not relayed: the body is relayed decoded, so length and encoding change.
_NOT_RELAYED = HOP_BY_HOP | {"content-length", "content-encoding"}

#: Headers that carry credentials; their values never reach a trace.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "proxy-authorization",
    }
)

#: Headers of TraceForge's own that are not sent upstream (the grouping headers among them,
#: read by :mod:`traceforge_proxy.grouping`; W3C ``traceparent``/``tracestate`` are forwarded).
_OWN_PREFIX = "x-traceforge-"

REDACTED = "[REDACTED]"


def upstream_request_headers(client: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers to send upstream: the client's, minus hop-by-hop and TraceForge's own."""
    out: dict[str, str] = {}
    for name, value in client:
        lower = name.lower()
        if lower in _NOT_FORWARDED or lower.startswith(_OWN_PREFIX):
            continue
        out[name] = value
    return out


def relayed_response_headers(upstream: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Upstream response headers to relay to the client (repeated names kept)."""
    return [(n, v) for n, v in upstream if n.lower() not in _NOT_RELAYED]


def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], where: str, redacted: list[str]
) -> dict[str, str]:
    """Return headers as a dict for a trace, credentials replaced by ``[REDACTED]``.

    Appends ``<where>.<name>: header`` for each replaced value
    (``metadata.request_headers.authorization: header``) to ``redacted``.
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        lower = name.lower()
        if lower in SECRET_HEADERS:
            out[lower] = REDACTED
            redacted.append(f"{where}.{lower}: header")
        else:
            out[lower] = value
    return out

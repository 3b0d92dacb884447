"""Request guards that keep web pages from driving the API: Host allowlist, Origin check,
JSON-only writes, and size limits.

A browser lets any web page send requests to ``127.0.0.1``; two tricks turn that into reading
and writing a TraceForge home:

- **DNS rebinding**: a page at ``http://evil.example:3001`` makes ``evil.example`` resolve to
  ``127.0.0.1``; its requests then reach the API as same-origin requests with ``Host:
  evil.example:3001``. Answer: :class:`HostAllowlist`, every request's ``Host`` must be a
  loopback name (``127.0.0.1``, ``localhost``, ``[::1]``, any port) or a configured one,
  else ``421 Misdirected Request``.
- **Cross-site "simple" requests**: a page may ``POST`` a ``text/plain`` body anywhere
  without asking first (no CORS preflight). Answer: a write (any method but
  ``GET``/``HEAD``/``OPTIONS``) whose ``Origin`` header names a host outside the allowlist is
  ``403``; a write with a body must be ``Content-Type: application/json`` (``415``), which a
  page cannot send cross-origin without a preflight this API never grants. Requests without
  ``Origin`` (curl, SDKs, the CLI) are not browsers' and pass.

Size limits: a body over ``max_body_bytes`` is ``413`` (from ``Content-Length`` before
anything is read, or as soon as a streamed body passes it); a query string over
``max_query_bytes`` is ``414``.

The pure checks (:func:`host_name`, :class:`HostAllowlist`, :func:`origin_problem`) know no
HTTP framework, so ``traceforge ui --web`` (aiohttp) applies the same rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from traceforge_web_api.common import ApiError

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_QUERY_BYTES",
    "LOOPBACK_NAMES",
    "SAFE_METHODS",
    "HostAllowlist",
    "RequestGuard",
    "host_name",
    "origin_problem",
]

#: Host names that always reach this machine only (IP literals of 127.0.0.0/8 and ``::1``
#: count as well).
LOOPBACK_NAMES = frozenset({"localhost"})

#: Methods that must not change anything, so they need no Origin check.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Largest request body, in bytes (10 MiB); routes may accept less (config, tests: 1 MiB).
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024

#: Largest query string (the part after ``?``, as sent), in bytes (8 KiB).
DEFAULT_MAX_QUERY_BYTES = 8 * 1024

#: Media type every write with a body must declare.
JSON_MEDIA_TYPE = "application/json"

#: Paths that also take other media types, and which: OTLP/HTTP ingest reads binary protobuf
#: (:mod:`traceforge_web_api.routes.otlp`). A page cannot send it cross-site without a
#: preflight either, and the Origin check still applies.
EXTRA_MEDIA_TYPES: dict[str, frozenset[str]] = {
    "/v1/traces": frozenset({"application/x-protobuf"}),
}


def host_name(value: str) -> str | None:
    """Return the host name of a ``Host`` header value, lowercased, without port or a
    trailing dot: ``"LocalHost:3001"`` -> ``"localhost"``, ``"[::1]:80"`` -> ``"::1"``.

    Returns ``None`` for a value that is not ``host`` or ``host:port`` (empty, a bad port,
    an unclosed ``[``, user info).
    """
    value = value.strip()
    if not value or "@" in value or "/" in value:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return None
        return name.lower()
    name, colon, port = value.rpartition(":")
    if not colon:
        name = value
    elif not port.isdigit() or ":" in name:
        return None
    name = name.lower().rstrip(".")
    return name or None


class HostAllowlist:
    """Which host names the API answers to: loopback names and IP literals, plus ``extra``.

    Args:
        extra: more host names (case-insensitive, an optional ``:port`` is ignored;
            ``[::1]``-style brackets allowed). ``"*"`` allows every host, which turns the
            DNS-rebinding protection off (only sensible with a token).
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        names: set[str] = set()
        self.any = False
        for entry in extra:
            if entry.strip() == "*":
                self.any = True
                continue
            name = host_name(entry)
            if name is None:
                raise ValueError(f"not a host name: {entry!r}")
            names.add(name)
        self.names = frozenset(names)

    def allows(self, name: str) -> bool:
        """Whether ``name`` (as returned by :func:`host_name`) is allowed."""
        if self.any or name in LOOPBACK_NAMES or name in self.names:
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    def allows_header(self, value: str | None) -> bool:
        """Whether a ``Host`` header value (``None``: absent) names an allowed host."""
        if value is None:
            return False
        name = host_name(value)
        return name is not None and self.allows(name)


def origin_problem(origin: str, hosts: HostAllowlist) -> str | None:
    """Why a request with ``Origin: origin`` must be refused, or ``None`` when its host is
    allowed. ``null`` (sandboxed pages, ``file:``) and anything but ``http``/``https`` are
    refused."""
    if hosts.any:
        return None
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"requests from origin {origin[:200]!r} are not allowed"
    if not hosts.allows_header(parts.netloc):
        return (
            f"requests from web pages at {origin[:200]!r} are not allowed "
            "(add the host to api.allowed_hosts in config.yaml if it is yours)"
        )
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    """The value of header ``name`` (lowercase); ``None`` when absent, ``""`` when sent more
    than once (which no check accepts)."""
    values: list[bytes] = [value for key, value in scope["headers"] if key.lower() == name]
    if len(values) != 1:
        return None if not values else ""
    return values[0].decode("latin-1")


class RequestGuard:
    """ASGI middleware applying the module's rules to every HTTP and WebSocket request.

    Args:
        app: the application to guard.
        allowed_hosts: extra host names (see :class:`HostAllowlist`).
        max_body_bytes: ``413`` above this body size, in bytes.
        max_query_bytes: ``414`` above this query string size, in bytes.

    Raises:
        ValueError: a name of ``allowed_hosts`` is not a host name, or a limit is below 1.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Iterable[str] = (),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_query_bytes: int = DEFAULT_MAX_QUERY_BYTES,
    ) -> None:
        if max_body_bytes < 1 or max_query_bytes < 1:
            raise ValueError("size limits must be at least 1 byte")
        self.app = app
        self.hosts = HostAllowlist(allowed_hosts)
        self.max_body_bytes = max_body_bytes
        self.max_query_bytes = max_query_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await refusal.response()(scope, receive, send)
            return
        if scope["type"] == "http":
            receive = self._limited(receive)
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> ApiError | None:
        host = _header(scope, b"host")
        if not self.hosts.allows_header(host):
            shown = "no Host header" if not host else f"Host {host[:200]!r}"
            return ApiError(
                421,
                f"{shown} is not this API's: it answers to 127.0.0.1, localhost, [::1] and "
                "the names of api.allowed_hosts in config.yaml",
            )
        if len(scope.get("query_string", b"")) > self.max_query_bytes:
            return ApiError(414, f"query string too long (more than {self.max_query_bytes} bytes)")
        method = scope.get("method", "GET")
        origin = _header(scope, b"origin")
        if origin is not None and (scope["type"] == "websocket" or method not in SAFE_METHODS):
            problem = origin_problem(origin, self.hosts)
            if problem is not None:
                return ApiError(403, problem)
        if scope["type"] != "http":
            return None
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit():
            declared = int(length)
            if declared > self.max_body_bytes:
                return ApiError(
                    413, f"request body too large (more than {self.max_body_bytes} bytes)"
                )
        has_body = (length is not None and length.strip() not in ("", "0")) or (
            _header(scope, b"transfer-encoding") is not None
        )
        if method not in SAFE_METHODS and has_body:
            media_type = (_header(scope, b"content-type") or "").partition(";")[0].strip().lower()
            extra = EXTRA_MEDIA_TYPES.get(scope.get("path", ""), frozenset())
            if media_type != JSON_MEDIA_TYPE and media_type not in extra:
                return ApiError(
                    415,
                    f"request bodies must be sent as Content-Type: {JSON_MEDIA_TYPE}",
                )
        return None

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` that raises ``ApiError(413)`` once the body passes the limit (a body
        sent without ``Content-Length``); the application's handler answers it."""
        limit = self.max_body_bytes
        size = 0

        async def limited() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise ApiError(413, f"request body too large (more than {limit} bytes)")
            return message

        return limited

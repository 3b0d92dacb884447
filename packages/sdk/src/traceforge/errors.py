"""One error hierarchy for every provider: what a call failed with, the provider's HTTP status
and body kept.

```
ProviderError                 status, body, provider, retry_after_s
├── RateLimited               429 (Retry-After parsed into retry_after_s)
├── Overloaded                503, 529, Anthropic ``overloaded_error`` (any status)
├── AuthenticationFailed      401, 403
├── BadRequest                400, 404, 422
├── Timeout                   408, 504, a client-side timeout (``Signal.timeout``)
└── Cancelled                 the call's signal was aborted (``AbortController.abort()``)
```

`from_status` maps an HTTP answer to the right class; the backends in `traceforge.providers`
call it with what the official SDKs report (``status_code``, ``body``, ``headers``).
`traceforge.retry` retries `RateLimited`, `Overloaded` and 5xx `ProviderError`s, never
`BadRequest`, `AuthenticationFailed` or `Cancelled`.

References: RFC 9110 §10.2.3 (``Retry-After``: delay-seconds or an HTTP-date); OpenAI's
``retry-after-ms`` header; Anthropic's error types
(https://docs.anthropic.com/en/api/errors: ``overloaded_error`` is HTTP 529).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping

__all__ = [
    "AuthenticationFailed",
    "BadRequest",
    "Cancelled",
    "Overloaded",
    "ProviderError",
    "RateLimited",
    "Timeout",
    "from_status",
    "parse_retry_after",
]


class ProviderError(Exception):
    """A provider call failed.

    Attributes:
        status: the HTTP status code, or None when the call got no answer (connection error,
            client-side timeout, cancellation, an error event inside a 200 stream).
        body: the answer's body as the SDK gave it (decoded JSON ``dict``, ``str`` or
            ``bytes``), or None.
        provider: the provider name from `traceforge_shared.providers` (``"openai"``, ...),
            ``""`` when not tied to one.
        retry_after_s: how long the provider asked to wait before retrying, in seconds
            (``Retry-After`` / ``retry-after-ms``), or None.
    """

    def __init__(
        self,
        message: str = "",
        *,
        provider: str = "",
        status: int | None = None,
        body: object = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.body = body
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (self.provider, "" if self.status is None else f"HTTP {self.status}")
            if part
        )
        return f"{self.message} ({where})" if where else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, provider={self.provider!r}, "
            f"status={self.status!r})"
        )


class RateLimited(ProviderError):
    """HTTP 429: too many requests or tokens; ``retry_after_s`` is the provider's wait (s)."""


class Overloaded(ProviderError):
    """The provider is overloaded (HTTP 503, 529 or an Anthropic ``overloaded_error``)."""


class AuthenticationFailed(ProviderError):
    """HTTP 401 or 403: a missing, wrong or unauthorised API key. Never retried."""


class BadRequest(ProviderError):
    """HTTP 400, 404 or 422: the request itself is wrong (model, parameters). Never retried."""


class Timeout(ProviderError):
    """HTTP 408 or 504, or the call's `Signal.timeout` fired."""


class Cancelled(ProviderError):
    """The call's signal was aborted (by an `AbortController`, a token limit, ...)."""


_BY_STATUS: dict[int, type[ProviderError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: AuthenticationFailed,
    404: BadRequest,
    408: Timeout,
    422: BadRequest,
    429: RateLimited,
    503: Overloaded,
    504: Timeout,
    529: Overloaded,
}


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, found in headers.items():
        if key.lower() == wanted:
            return found
    return None


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """The wait a provider asked for, in seconds, or None.

    Reads OpenAI's ``retry-after-ms`` (milliseconds) first, then ``Retry-After`` as
    delay-seconds (``"1"``, ``"1.5"``) or an HTTP-date (RFC 9110), relative to ``now``
    (Unix time in seconds, default `time.time()`). Header names are case-insensitive; a date
    in the past gives 0.0; a value that parses as neither gives None.
    """
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _decoded(body: object) -> object:
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return body
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def _error_part(body: object) -> Mapping[str, object] | None:
    """``body["error"]`` when it is an object (OpenAI, Anthropic, Gemini, xAI shapes)."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return error
    return None


def _message(body: object, status: int | None) -> str:
    decoded = _decoded(body)
    error = _error_part(decoded)
    for source in (error, decoded):
        if isinstance(source, Mapping):
            for key in ("message", "detail", "error"):
                text = source.get(key)
                if isinstance(text, str) and text:
                    return text
    if isinstance(decoded, str) and decoded.strip():
        return decoded.strip()[:500]
    return f"HTTP {status}" if status is not None else "provider error"


def _is_overloaded(body: object) -> bool:
    decoded = _decoded(body)
    error = _error_part(decoded)
    return any(
        isinstance(part, Mapping) and part.get("type") == "overloaded_error"
        for part in (error, decoded)
    )


def from_status(
    provider: str,
    status: int | None,
    body: object = None,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """The `ProviderError` subclass for an HTTP answer (returned, not raised).

    Args:
        provider: the provider name (``"openai"``, ``"anthropic"``, ...).
        status: the HTTP status; None for an error without one (an error event in a stream).
        body: the answer's body: decoded JSON, ``str`` or ``bytes`` (kept as given on the
            error; parsed here only to find the message and Anthropic's error type).
        headers: the answer's headers (any case), for ``Retry-After`` / ``retry-after-ms``.

    Mapping: 401/403 → `AuthenticationFailed`; 400/404/422 → `BadRequest`; 408/504 →
    `Timeout`; 429 → `RateLimited`; 503/529 or a body whose error type is
    ``overloaded_error`` (Anthropic, whatever the status) → `Overloaded`; anything else
    (other 5xx, other 4xx, None) → `ProviderError`. ``retry_after_s`` is set from the headers
    on every class (503s carry ``Retry-After`` too).
    """
    cls: type[ProviderError]
    if _is_overloaded(body):
        cls = Overloaded
    else:
        cls = _BY_STATUS.get(status, ProviderError) if status is not None else ProviderError
    return cls(
        _message(body, status),
        provider=provider,
        status=status,
        body=body,
        retry_after_s=parse_retry_after(headers),
    )

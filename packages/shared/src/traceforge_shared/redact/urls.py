"""URLs safe to show: credentials in the userinfo or the query replaced by ``[REDACTED]``.

Upstream addresses come from config and ``--upstream``; a user may write a password into one
(``https://user:pass@llm.internal/v1``) or a key into its query (``?api-key=...``). Traces
redact them with the detectors; everything that *shows* an address (``/healthz``, the
``traceforge start`` console, log lines) passes it through :func:`safe_url` first.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Marker replacing a credential in a URL.
URL_REDACTED = "[REDACTED]"

#: Query parameter names (lower-case substrings) whose values are credentials.
_SECRET_PARAMS = ("key", "token", "secret", "password", "passwd", "sig", "auth", "credential")


def safe_url(url: str) -> str:
    """Return ``url`` with a userinfo password and credential-like query values replaced by
    :data:`URL_REDACTED` (``https://bob:[REDACTED]@host/v1?api-key=[REDACTED]``); the scheme,
    user name, host, port and path are kept. A string that is not a URL is returned as is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{URL_REDACTED}@{hostport}" if sep else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret(name) for name, _ in pairs):
            query = urlencode([(n, URL_REDACTED if _secret(n) else v) for n, v in pairs], safe="[]")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_PARAMS)

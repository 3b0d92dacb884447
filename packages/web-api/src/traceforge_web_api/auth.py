"""Bearer token check for every request, when the API is given a token.

``Authorization: Bearer <token>`` must carry exactly the token (compared in constant time
with :func:`hmac.compare_digest`; the scheme name is case-insensitive); anything else is
``401 {"error": ...}`` with ``WWW-Authenticate: Bearer``. A plain ASGI middleware, so
streamed answers (export, events) pass through untouched.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from traceforge_web_api.common import error_response


class BearerTokenMiddleware:
    """Refuse HTTP requests that do not carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("the API token must not be empty")
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            response = error_response(
                401, "missing or wrong API token: send the header 'Authorization: Bearer <token>'"
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="traceforge"'
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        values = [value for name, value in scope["headers"] if name.lower() == b"authorization"]
        if len(values) != 1:
            return False
        scheme, _, credentials = values[0].strip().partition(b" ")
        matches = hmac.compare_digest(credentials.strip(), self.token)
        return matches and scheme.lower() == b"bearer"

"""OpenAI-shaped error bodies for failures the proxy itself reports.

Shape: ``{"error": {"message", "type", "param", "code"}}`` as in the OpenAI API reference
(https://platform.openai.com/docs/guides/error-codes), so official SDKs raise their usual
``APIStatusError`` subclasses with a readable message.
"""

from __future__ import annotations

import msgspec


def error_body(
    message: str, code: str, *, type_: str = "traceforge_proxy_error", param: str | None = None
) -> bytes:
    """Return the JSON bytes of an OpenAI-shaped error (``error.param``: the request field
    at fault, if one is)."""
    return msgspec.json.encode(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )

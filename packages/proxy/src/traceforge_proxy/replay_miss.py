"""The answer to a request no recording matches: HTTP 400 in the error shape of the API the
app called, so its SDK raises its usual error with TraceForge's explanation.

Shapes (per the providers' API references):

- OpenAI-format routes (``/v1/...``, xAI, Azure, OpenAI-compatible):
  ``{"error": {"message", "type": "invalid_request_error", "param": null, "code":
  "replay_miss"}}`` (https://platform.openai.com/docs/guides/error-codes)
- Anthropic: ``{"type": "error", "error": {"type": "invalid_request_error", "message"}}``
  (https://docs.anthropic.com/en/api/errors)
- Gemini: ``{"error": {"code": 400, "message", "status": "INVALID_ARGUMENT"}}``
  (https://ai.google.dev/gemini-api/docs/troubleshooting)
- Ollama: ``{"error": "<message>"}`` (https://github.com/ollama/ollama/blob/main/docs/api.md)
- Cohere: ``{"message": "<message>"}`` (https://docs.cohere.com/reference/errors)

The trace of the call gets status ``replay_miss`` and error type ``replay_miss``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from traceforge_proxy.errors import error_body
from traceforge_proxy.modes import REPLAY_MISS_HEADER
from traceforge_proxy.plan import ClientRequest, Failure, ProxyAnswer
from traceforge_shared.providers import PROVIDER_SPECS

#: HTTP status of a replay miss.
MISS_STATUS = 400
#: Trace status and error type of a replay miss.
REPLAY_MISS = "replay_miss"
#: Longest ``X-TraceForge-Replay-Miss`` value (characters).
HEADER_CHARS = 300


def wire_format(client: ClientRequest) -> str:
    """The error format of the API the app called: ``openai`` for ``/v1/...`` paths, else
    the ``{provider}`` path's wire format (``anthropic``, ``gemini``, ``ollama``, ``cohere``,
    ``openai``)."""
    if client.provider is None:
        return "openai"
    spec = PROVIDER_SPECS.get(client.provider)
    return spec.wire_format if spec is not None else "openai"


def miss_body(wire: str, message: str) -> bytes:
    """The JSON error body for a miss in ``wire`` format (see the module docstring)."""
    body: Any
    if wire == "anthropic":
        body = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    elif wire == "gemini":
        body = {"error": {"code": MISS_STATUS, "message": message, "status": "INVALID_ARGUMENT"}}
    elif wire == "ollama":
        body = {"error": message}
    elif wire == "cohere":
        body = {"message": message}
    else:
        return error_body(message, REPLAY_MISS, type_="invalid_request_error")
    return msgspec.json.encode(body)


def header_value(text: str) -> str:
    """``text`` as one printable ASCII header line of at most :data:`HEADER_CHARS`."""
    line = " ".join(text.split())
    line = line.encode("ascii", "backslashreplace").decode("ascii")
    return line if len(line) <= HEADER_CHARS else line[: HEADER_CHARS - 3] + "..."


def miss_answer(client: ClientRequest, message: str, short: str) -> ProxyAnswer:
    """The proxy's answer to a replay miss: 400, the provider's error shape, the
    ``X-TraceForge-Replay-Miss`` header (``short``), trace status ``replay_miss``."""
    text = f"TraceForge replay: {message}"
    return ProxyAnswer(
        MISS_STATUS,
        miss_body(wire_format(client), text),
        failure=Failure(REPLAY_MISS, REPLAY_MISS, text),
        headers=((REPLAY_MISS_HEADER, header_value(short)),),
    )

"""The chat completion view of any trace: the one accessor every reader of a conversation uses.

TraceForge reads answers and conversations as OpenAI Chat Completions
(https://platform.openai.com/docs/api-reference/chat): ``request.messages`` and
``response.choices[0].message``. A trace of another shape is stored as it was sent (the
Responses API: ``trace.request`` is the Responses request, ``trace.response`` the
``response`` object); readers (test assertions, the TUI conversation, ``trace show``, trace
diff, create-from-trace, the language server's hover) call :func:`chat_response`,
:func:`chat_request` or :func:`chat_trace` instead of reading ``trace.response`` /
``trace.request`` for chat fields, and get:

- a chat completion trace: its request and response unchanged;
- a Responses API trace (``response.object == "response"``, or a request with ``input``
  on a ``/v1/responses`` endpoint): :func:`~traceforge_shared.responses_view.chat_request_view`
  and :func:`~traceforge_shared.responses_view.chat_completion_view`.

Nothing is converted on disk: the stored trace keeps what went over the wire.
"""

from __future__ import annotations

from typing import Any

import msgspec

from traceforge_shared.responses_view import (
    chat_completion_view,
    chat_request_view,
    is_response_object,
)
from traceforge_shared.trace import Trace

__all__ = ["chat_request", "chat_response", "chat_trace", "is_responses_trace"]

#: The Responses API create endpoint (OpenAI, xAI; Azure's ``/openai/responses``).
_RESPONSES_ENDPOINTS = ("/v1/responses", "/openai/responses", "/responses")


def is_responses_trace(trace: Trace) -> bool:
    """Whether ``trace`` is a Responses API call: its response is a ``response`` object, or
    (no answer recorded) it went to a Responses create endpoint with an ``input``."""
    if is_response_object(trace.response):
        return True
    return (
        trace.endpoint.split("?", 1)[0].endswith(_RESPONSES_ENDPOINTS)
        and isinstance(trace.request, dict)
        and "input" in trace.request
    )


def chat_response(trace: Trace) -> Any:
    """``trace.response`` as a chat completion: the one-choice ``chat.completion`` view of a
    Responses ``response`` object (see :mod:`traceforge_shared.responses_view`), else the
    response as recorded (``None``, an error body, another provider's shape...)."""
    view = chat_completion_view(trace.response)
    return view if view is not None else trace.response


def chat_request(trace: Trace) -> Any:
    """``trace.request`` as a chat completion request: ``messages`` (from ``instructions``
    and ``input``), chat ``tools``, ``max_tokens``... for a Responses API trace; else the
    request as recorded."""
    if is_responses_trace(trace):
        view = chat_request_view(trace.request)
        if view is not None:
            return view
    return trace.request


def chat_trace(trace: Trace) -> Trace:
    """``trace`` with :func:`chat_request` and :func:`chat_response` in place of its
    request and response (a copy; ``trace`` itself when it is not a Responses trace)."""
    if not is_responses_trace(trace):
        return trace
    return msgspec.structs.replace(
        trace, request=chat_request(trace), response=chat_response(trace)
    )

"""The Responses API on providers that have none: a provider adapter for one call.

OpenAI's Responses API (https://platform.openai.com/docs/api-reference/responses) goes to
Anthropic, Gemini, Ollama and Cohere through their chat adapters: the Responses request is
turned into a chat completion request (:mod:`~traceforge_proxy.providers.responses_request`),
which the chat adapter converts into the provider's; the provider's answer comes back as a
``chat.completion`` (or chunks) from the chat adapter and is turned into a ``response``
(:mod:`~traceforge_proxy.providers.responses_answer`) or Responses events
(:mod:`~traceforge_proxy.providers.responses_stream`).

Parameters the provider cannot take (the chat parameter rules of
:mod:`~traceforge_proxy.providers.params`, applied to the converted request, and the
Responses-only :data:`~traceforge_proxy.providers.responses_request.RESPONSES_RULES`) are a
400 ``unsupported_parameter`` naming the Responses parameter (``max_output_tokens``,
``reasoning.effort``, ``text.format``, ``text.verbosity``, or the name both APIs share) and
the provider; with ``proxy.unsupported_params: drop`` they are removed and
:attr:`ResponsesAdapter.dropped` lists them for the trace's warning.
"""

from __future__ import annotations

from typing import Any

from traceforge_proxy.providers.base import (
    ProviderAdapter,
    ProviderError,
    ProviderRequest,
    StreamConverter,
)
from traceforge_proxy.providers.params import (
    PROVIDER_TITLES,
    unsupported,
    unsupported_parameter,
)
from traceforge_proxy.providers.responses_answer import response_from_completion
from traceforge_proxy.providers.responses_request import (
    RESPONSES_RULES,
    chat_request,
    unsupported_responses_parameters,
)
from traceforge_proxy.providers.responses_stream import ResponsesStreamConverter

__all__ = ["RESPONSES_NAMES", "ResponsesAdapter", "checked_chat_request"]

#: Chat completion parameters and the Responses parameter each comes from (the others have
#: the same name in both APIs).
RESPONSES_NAMES = {
    "max_tokens": "max_output_tokens",
    "reasoning_effort": "reasoning.effort",
    "response_format": "text.format",
    "verbosity": "text.verbosity",
}


def _refusal(name: str, chat_name: str | None, provider: str) -> ProviderError:
    """The 400 ``unsupported_parameter`` for Responses parameter ``name`` (``chat_name``:
    the chat parameter it became, ``None`` for a Responses-only one)."""
    if chat_name is not None:
        error = unsupported_parameter(chat_name, provider)
        body = error.body["error"]
        body["param"] = name
        body["message"] = body["message"].replace(f"'{chat_name}'", f"'{name}'", 1)
        return error
    title = PROVIDER_TITLES.get(provider, provider)
    message = (
        f"Unsupported parameter: '{name}' is not supported by {title} "
        f"({RESPONSES_RULES[name][0]}) when the Responses API is converted. Remove it, or "
        "set proxy.unsupported_params: drop in .ai-tests/config.yaml to have the proxy drop "
        "it with a warning in the trace."
    )
    error_body = {
        "message": message,
        "type": "invalid_request_error",
        "param": name,
        "code": "unsupported_parameter",
    }
    return ProviderError(400, {"error": error_body})


def checked_chat_request(
    request: Any, provider: str, *, drop: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """The chat completion request of Responses ``request`` for ``provider``, without what
    the provider cannot take.

    Returns:
        the chat request and the Responses names of the parameters dropped (``drop``), in
        :data:`RESPONSES_RULES` then chat parameter order; ``[]`` when none were.

    Raises:
        ProviderError: (400) the request cannot be converted
            (:func:`~traceforge_proxy.providers.responses_request.chat_request`), or, when
            not ``drop``, the first parameter the provider cannot take
            (``code: unsupported_parameter``, ``param``: its Responses name).
    """
    chat = chat_request(request, provider)
    own = unsupported_responses_parameters(request)
    refused = unsupported(chat, provider)
    if not drop:
        if own:
            raise _refusal(own[0], None, provider)
        if refused:
            raise _refusal(RESPONSES_NAMES.get(refused[0], refused[0]), refused[0], provider)
        return chat, []
    kept = {k: v for k, v in chat.items() if k not in refused}
    return kept, own + [RESPONSES_NAMES.get(name, name) for name in refused]


class ResponsesAdapter:
    """A :class:`~traceforge_proxy.providers.base.ProviderAdapter` for one Responses call to
    a provider with chat adapter ``chat``.

    Args:
        chat: the provider's chat adapter.
        request: the client's Responses request (echoed in the answer's ``response``).
        drop: ``proxy.unsupported_params: drop``: parameters the provider cannot take are
            removed (listed in :attr:`dropped` after :meth:`build_request`) instead of a 400.
    """

    def __init__(
        self, chat: ProviderAdapter, request: dict[str, Any], *, drop: bool = False
    ) -> None:
        self.chat = chat
        self.request = request
        self.name = chat.name
        self.drop = drop
        #: The Responses parameters :meth:`build_request` dropped (``drop`` only).
        self.dropped: list[str] = []

    def chat_request(self) -> dict[str, Any]:
        """The chat completion request the Responses request converts to (parameters the
        provider cannot take dropped when :attr:`drop`).

        Raises:
            ProviderError: (400) see :func:`checked_chat_request`.
        """
        return checked_chat_request(self.request, self.name, drop=self.drop)[0]

    def build_request(self, request: dict[str, Any], *, model: str) -> ProviderRequest:
        """Convert the Responses ``request`` into the provider's request (through chat).

        Raises:
            ProviderError: (400) the request cannot be converted, or (not :attr:`drop`) it
                has a parameter the provider cannot take; the message names the field.
        """
        chat, self.dropped = checked_chat_request(request, self.name, drop=self.drop)
        return self.chat.build_request(chat, model=model)

    def convert_response(self, body: Any, *, model: str, created: int) -> dict[str, Any]:
        """The provider's non-streaming answer as a Responses ``response`` object."""
        completion = self.chat.convert_response(body, model=model, created=created)
        return response_from_completion(
            completion, self.request, provider=self.name, created=created
        )

    def stream_converter(self, *, model: str, created: int, include_usage: bool) -> StreamConverter:
        """Provider events -> Responses events (usage always comes in ``response.completed``,
        whatever ``include_usage`` says)."""
        inner = self.chat.stream_converter(model=model, created=created, include_usage=True)
        return ResponsesStreamConverter(
            inner, self.request, provider=self.name, model=model, created=created
        )

    def convert_error(self, status: int, body: Any) -> ProviderError:
        """The provider's HTTP error in OpenAI's shape (as for chat)."""
        return self.chat.convert_error(status, body)

    def normalize_request(self, body: Any) -> dict[str, Any]:
        """The chat view of a native request (as for chat)."""
        return self.chat.normalize_request(body)

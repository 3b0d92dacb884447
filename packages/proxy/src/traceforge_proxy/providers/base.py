"""The contract between the proxy and each provider: pure conversions, no I/O.

The proxy's front door speaks the OpenAI Chat Completions format
(https://platform.openai.com/docs/api-reference/chat). For a provider with another format, a
:class:`ProviderAdapter` turns the OpenAI request into the provider's request, and the
provider's answer back into an OpenAI ``chat.completion`` — or, when streaming, each provider
event into OpenAI ``chat.completion.chunk`` objects as it arrives. The same stream converter
gives the normalized view of native (passthrough) calls.

Everything here works on decoded JSON (``dict``/``list``) and never touches the network, the
clock or the disk: callers pass ``created`` (epoch seconds) in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

#: OpenAI ``finish_reason`` values (Chat Completions API reference).
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")


@dataclass(frozen=True)
class ProviderRequest:
    """A request ready to send to the provider.

    Attributes:
        path: path and query below the provider's base URL, starting with ``/``
            (``/v1/messages``, ``/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse``).
        body: the JSON body to send.
        stream: whether the provider will answer with a stream.
    """

    path: str
    body: dict[str, Any]
    stream: bool


@dataclass
class StreamUsage:
    """Token usage as a stream reports it; merged across events (never overwritten by a
    later event that lacks a count). ``None`` means not reported (yet).

    Attributes:
        prompt_tokens: input tokens (``gen_ai.usage.input_tokens``), cache reads included.
        completion_tokens: output tokens (``gen_ai.usage.output_tokens``).
        cached_tokens: input tokens read from the provider's prompt cache, when reported.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None

    def as_openai(self) -> dict[str, Any] | None:
        """The OpenAI ``usage`` object, or ``None`` when nothing was reported."""
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        prompt = self.prompt_tokens or 0
        completion = self.completion_tokens or 0
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if self.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return usage


@dataclass
class ProviderError(Exception):
    """A provider error in OpenAI's shape.

    Attributes:
        status: HTTP status to answer the client with (the provider's own where it is an
            HTTP error; 529 overloaded stays 529, the OpenAI SDK retries on it).
        body: ``{"error": {"message", "type", "param", "code"}}`` as OpenAI sends errors.
    """

    status: int
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        return f"{self.status}: {message or self.body}"


def openai_error(
    status: int, message: str, error_type: str, code: str | None = None
) -> ProviderError:
    """Build a :class:`ProviderError` with an OpenAI-shaped body."""
    return ProviderError(
        status,
        {"error": {"message": message, "type": error_type, "param": None, "code": code}},
    )


def delta_chunk(
    head: dict[str, Any], delta: dict[str, Any], finish_reason: str | None, include_usage: bool
) -> dict[str, Any]:
    """A ``chat.completion.chunk`` of one choice (index 0): ``head`` (``id``, ``object``,
    ``created``, ``model``) plus the delta; ``"usage": null`` when the client asked for the
    usage chunk, as OpenAI sends it on every other chunk."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    chunk = {**head, "choices": [choice]}
    return {**chunk, "usage": None} if include_usage else chunk


def usage_chunks(
    head: dict[str, Any], usage: StreamUsage, *, include_usage: bool, failed: bool
) -> list[dict[str, Any]]:
    """The final usage chunk (``"choices": []``) when the client asked for it, the provider
    reported usage and the stream did not fail; else nothing."""
    counted = usage.as_openai()
    if failed or not include_usage or counted is None:
        return []
    return [{**head, "choices": [], "usage": counted}]


class StreamConverter(Protocol):
    """Turns one provider stream into OpenAI ``chat.completion.chunk`` objects, event by
    event, keeping the state the provider spreads over events (ids, tool-call indexes,
    usage)."""

    #: Usage so far (read it after :meth:`close` for the final count).
    usage: StreamUsage
    #: The provider's error, once the stream carried one (``event: error`` mid-stream).
    error: ProviderError | None

    def feed(self, event: str | None, payload: Any) -> list[dict[str, Any]]:
        """Convert one provider event.

        Args:
            event: the SSE ``event:`` name, or ``None`` (data-only SSE, NDJSON lines).
            payload: the event's data decoded as JSON.

        Returns:
            ``chat.completion.chunk`` dicts to send, in order (often one, sometimes none,
            e.g. for Anthropic ``ping``). When the event is an error, returns one
            ``{"error": {...}}`` object (what OpenAI sends mid-stream; the OpenAI SDK raises
            ``APIError`` on it) and sets :attr:`error`; nothing follows it.
        """
        ...

    def close(self) -> list[dict[str, Any]]:
        """The stream ended: return the last chunks (the usage chunk when the client asked
        for ``stream_options.include_usage``). ``[DONE]`` is the caller's job."""
        ...


class ProviderAdapter(Protocol):
    """Conversions for one provider. Implementations are stateless and thread-safe."""

    #: Provider name as recorded in traces (``gen_ai.provider.name``): ``anthropic``,
    #: ``gemini``, ``ollama``, ``cohere``.
    name: str

    def build_request(self, request: dict[str, Any], *, model: str) -> ProviderRequest:
        """Convert an OpenAI chat completion request.

        Args:
            request: the client's decoded OpenAI request body.
            model: the provider's model name (routing prefixes like ``anthropic/`` removed).

        Raises:
            ProviderError: (400) the request cannot be expressed for this provider; the
                message says which field and why.
        """
        ...

    def convert_response(self, body: Any, *, model: str, created: int) -> dict[str, Any]:
        """Convert the provider's non-streaming answer into a ``chat.completion``."""
        ...

    def stream_converter(self, *, model: str, created: int, include_usage: bool) -> StreamConverter:
        """A converter for one stream; ``include_usage`` mirrors the client's
        ``stream_options.include_usage`` (a final chunk with ``"choices": []`` and usage)."""
        ...

    def convert_error(self, status: int, body: Any) -> ProviderError:
        """Map a provider HTTP error (status and decoded body, or text) to OpenAI's shape."""
        ...

    def normalize_request(self, body: Any) -> dict[str, Any]:
        """The OpenAI-shaped view of a native request (passthrough routes): ``model``,
        ``messages`` (system first), ``tools``, sampling settings, ``stream``."""
        ...

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

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from traceforge_proxy.providers.chunks import ChunkBuilder, delta_chunk
from traceforge_shared.trace import Usage

__all__ = [
    "FINISH_REASONS",
    "ChunkStream",
    "ProviderAdapter",
    "ProviderError",
    "ProviderRequest",
    "StreamConverter",
    "StreamUsage",
    "compact_json",
    "delta_chunk",
    "dig",
    "invalid_request",
    "json_format",
    "max_tokens",
    "message_objects",
    "one_choice_messages",
    "openai_error",
    "status_error",
    "usage_chunks",
]

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
    later event that lacks a count). ``None`` means not reported (yet). The counts mean what
    :class:`traceforge_shared.trace.Usage` says (parts within their wholes); providers' own
    fields are read by :mod:`traceforge_shared.usage` (:meth:`take`).

    Attributes:
        prompt_tokens: input tokens (``gen_ai.usage.input_tokens``), cache reads and writes
            included.
        completion_tokens: output tokens (``gen_ai.usage.output_tokens``), reasoning included.
        cached_tokens: input tokens read from the provider's prompt cache, when reported.
        cache_write_tokens: input tokens written to the prompt cache, when reported.
        reasoning_tokens: output tokens spent reasoning, when reported.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    def as_openai(self) -> dict[str, Any] | None:
        """The OpenAI ``usage`` object, or ``None`` when nothing was reported: the counts,
        ``prompt_tokens_details.cached_tokens`` and ``completion_tokens_details.
        reasoning_tokens`` when reported, and ``cache_creation_input_tokens`` (LiteLLM's
        name; OpenAI has none) when cache writes were."""
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
        if self.reasoning_tokens is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        if self.cache_write_tokens:
            usage["cache_creation_input_tokens"] = self.cache_write_tokens
        return usage

    def update_from(self, other: StreamUsage) -> None:
        """Take every count ``other`` reports (not ``None``); keep the others."""
        for name in (
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
        ):
            if (value := getattr(other, name)) is not None:
                setattr(self, name, value)

    @classmethod
    def of(cls, usage: Usage | None, *, details: bool = True) -> StreamUsage:
        """The counts of a shared :class:`~traceforge_shared.trace.Usage` (``None``: nothing
        reported). ``details``: the provider reports cache reads (0 included), so
        ``cached_tokens`` is set even when 0."""
        if usage is None:
            return cls()
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cache_read_tokens if details else None,
            cache_write_tokens=usage.cache_write_tokens or None,
            reasoning_tokens=usage.reasoning_tokens or None,
        )


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


def usage_chunks(
    head: dict[str, Any], usage: StreamUsage, *, include_usage: bool, failed: bool
) -> list[dict[str, Any]]:
    """The final usage chunk (``"choices": []``) when the client asked for it, the provider
    reported usage and the stream did not fail; else nothing."""
    counted = usage.as_openai()
    if failed or not include_usage or counted is None:
        return []
    return [{**head, "choices": [], "usage": counted}]


def invalid_request(message: str) -> ProviderError:
    """A 400 ``invalid_request_error``: the client's request cannot go to the provider."""
    return openai_error(400, message, "invalid_request_error")


def compact_json(value: Any) -> str:
    """``value`` as compact JSON text (no spaces, non-ASCII kept), as tool arguments go."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or ``None`` where a level is missing or not an object."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def message_objects(messages: list[Any], not_object: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, message)`` for each request message, ``where`` being ``messages[i]``.

    Raises:
        ProviderError: (400) a message is not an object; the message is ``not_object`` with
            ``{where}`` filled in.
    """
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise invalid_request(not_object.format(where=where))
        yield where, message


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


class ChunkStream:
    """The state every stream converter keeps, for converters to build on: usage, the
    error, the :class:`ChunkBuilder`, and :meth:`close` sending the usage chunk.

    Attributes:
        usage: usage so far (:class:`StreamUsage`, or a subclass the converter passes).
        error: the provider's error once the stream carried one.
    """

    def __init__(self, chunks: ChunkBuilder, usage: StreamUsage | None = None) -> None:
        self.usage = StreamUsage() if usage is None else usage
        self.error: ProviderError | None = None
        self._chunks = chunks

    def close(self) -> list[dict[str, Any]]:
        """The usage chunk (``"choices": []``) when the client asked for it, the provider
        reported usage and the stream did not fail; else ``[]``."""
        return self._chunks.final(self.usage.as_openai(), failed=self.error is not None)


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


def one_choice_messages(request: Any, provider: str) -> list[Any]:
    """The request's ``messages``, for a provider that answers with one choice.

    Raises:
        ProviderError: (400) ``messages`` is not a non-empty list, or ``n`` is not 1.
    """
    messages = request.get("messages") if isinstance(request, dict) else None
    if not isinstance(messages, list) or not messages:
        raise invalid_request("messages: expected a non-empty list")
    if request.get("n") not in (None, 1):
        raise invalid_request(f"n: {provider} returns one choice only")
    return messages


def max_tokens(request: dict[str, Any]) -> Any:
    """The output token limit: ``max_completion_tokens``, else ``max_tokens``, else ``None``."""
    limit = request.get("max_completion_tokens")
    return request.get("max_tokens") if limit is None else limit


def json_format(request: dict[str, Any], provider: str) -> dict[str, Any] | str | None:
    """What the request's ``response_format`` asks for: ``"json"`` (any JSON object), the
    JSON schema (a dict) for ``json_schema``, ``None`` for text or no ``response_format``.

    Raises:
        ProviderError: (400) a ``json_schema`` without an object schema, or another type.
    """
    response_format = request.get("response_format")
    kind = dig(response_format, "type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = dig(response_format, "json_schema", "schema")
        if not isinstance(schema, dict):
            raise invalid_request("response_format.json_schema.schema: expected an object")
        return schema
    if response_format is not None and kind != "text":
        raise invalid_request(f"response_format.type: {kind!r} not supported by {provider}")
    return None


def status_error(
    status: int, message: str, kinds: Mapping[int, tuple[str, str | None]]
) -> ProviderError:
    """An OpenAI-shaped error whose ``type`` and ``code`` come from ``kinds`` by HTTP
    ``status``; other statuses: ``server_error`` from 500 up, else ``invalid_request_error``."""
    default = ("server_error" if status >= 500 else "invalid_request_error", None)
    return openai_error(status, message, *kinds.get(status, default))

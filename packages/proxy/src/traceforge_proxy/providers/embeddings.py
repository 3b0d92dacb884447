"""Embeddings: OpenAI's embeddings request and answer converted to and from Gemini, Ollama
and Cohere, and the OpenAI view of their native embedding calls. Pure: no I/O.

The front door's format is OpenAI's ``POST /v1/embeddings``
(https://platform.openai.com/docs/api-reference/embeddings): ``input`` (a string or a list of
strings), ``model``, optional ``dimensions`` and ``encoding_format`` (``float``, the default,
or ``base64``: each vector's float32 values, little-endian, base64-encoded, as OpenAI sends
them). The answer is ``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
"model", "usage": {"prompt_tokens", "total_tokens"}}``.

Provider endpoints:

- Gemini (https://ai.google.dev/api/embeddings): ``POST /v1beta/models/{model}:embedContent``
  (one ``content``; answer ``{"embedding": {"values"}}``) and ``:batchEmbedContents``
  (``requests``; answer ``{"embeddings": [{"values"}]}``); ``outputDimensionality``. The
  answer has no token count: usage is **estimated** (:func:`estimate_tokens`).
- Ollama (https://github.com/ollama/ollama/blob/main/docs/api.md#generate-embeddings):
  ``POST /api/embed`` (``input`` string or list; answer ``{"model", "embeddings": [[...]],
  "prompt_eval_count"}``); ``dimensions``. The legacy ``/api/embeddings`` (``prompt``; answer
  ``{"embedding": [...]}``) is read on passthrough routes.
- Cohere (https://docs.cohere.com/reference/embed): ``POST /v2/embed`` (``texts``,
  ``input_type``, ``embedding_types``, ``output_dimension``; answer ``{"id", "embeddings":
  {"float": [[...]]}, "texts", "meta": {"billed_units": {"input_tokens"}}}``). ``input_type``
  is required by the API: the OpenAI request's extra field ``input_type`` is sent, else
  ``search_document``.
"""

from __future__ import annotations

import base64
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from traceforge_proxy.providers.base import (
    ProviderError,
    ProviderRequest,
    StreamConverter,
    dig,
    invalid_request,
)

__all__ = [
    "EMBEDDING_PROVIDERS",
    "EmbeddingsAdapter",
    "encode_base64",
    "estimate_tokens",
    "native_embedding",
    "openai_embeddings",
]

#: Providers whose embeddings API has another format than OpenAI's.
EMBEDDING_PROVIDERS = ("gemini", "ollama", "cohere")
#: Gemini's embedding methods (after the colon of ``models/{model}:method``).
_GEMINI_EMBED = re.compile(
    r"v1(?:beta|alpha)?/models/(?P<model>[^/:]+):(?P<method>embedContent|batchEmbedContents)"
)
#: Native embedding endpoints by provider (path below the provider's base URL).
_NATIVE = {"ollama": ("api/embed", "api/embeddings"), "cohere": ("v2/embed", "v1/embed")}
#: Cohere's ``input_type`` when the request names none (Embed API reference).
COHERE_INPUT_TYPE = "search_document"


def estimate_tokens(texts: list[str]) -> int:
    """A token count for ``texts`` when the provider reports none: 1 token per 4 characters
    (rounded up) per text, at least 1 per non-empty text."""
    return sum(math.ceil(len(text) / 4) for text in texts)


def encode_base64(vector: list[float]) -> str:
    """``vector`` as OpenAI's ``encoding_format: base64`` sends it: float32 values,
    little-endian, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _texts(value: Any) -> list[str]:
    """OpenAI ``input`` as a list of strings.

    Raises:
        ProviderError: (400) ``input`` is empty, not a string or list of strings (token
            arrays are OpenAI's only).
    """
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise invalid_request("input: expected a string or a non-empty list of strings")
    if not all(isinstance(text, str) for text in texts):
        raise invalid_request(
            "input: only strings can be embedded by this provider (token arrays are OpenAI's only)"
        )
    return list(texts)


def openai_embeddings(
    vectors: list[Any], *, model: str, prompt_tokens: int, encoding_format: str = "float"
) -> dict[str, Any]:
    """The OpenAI ``embeddings`` answer for ``vectors`` (lists of floats, in input order);
    ``encoding_format`` ``base64`` encodes each vector (:func:`encode_base64`)."""
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": encode_base64(vector) if encoding_format == "base64" else vector,
        }
        for i, vector in enumerate(vectors)
    ]
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return {"object": "list", "data": data, "model": model, "usage": usage}


def _vectors(provider: str, body: Any) -> tuple[list[Any], int | None]:
    """The vectors of a provider's embedding answer and its token count (``None``: not
    reported).

    Raises:
        ValueError: the body has no vectors where the provider's format puts them.
    """
    vectors: Any = None
    tokens: Any = None
    if provider == "gemini":
        if isinstance(dig(body, "embedding", "values"), list):
            vectors = [body["embedding"]["values"]]
        elif isinstance(dig(body, "embeddings"), list):
            vectors = [dig(item, "values") for item in body["embeddings"]]
    elif provider == "ollama":
        vectors = dig(body, "embeddings")
        if vectors is None and isinstance(dig(body, "embedding"), list):
            vectors = [body["embedding"]]
        tokens = dig(body, "prompt_eval_count")
    elif provider == "cohere":
        embeddings = dig(body, "embeddings")
        vectors = embeddings.get("float") if isinstance(embeddings, dict) else embeddings
        tokens = dig(body, "meta", "billed_units", "input_tokens")
    if not isinstance(vectors, list) or not all(isinstance(v, list) for v in vectors):
        raise ValueError(f"no embedding vectors in the {provider} answer")
    return vectors, tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None


def native_embedding(provider: str, tail: str, body: Any) -> tuple[str, list[str]] | None:
    """If ``tail`` (the path below the provider's base URL, no leading ``/``) is one of the
    provider's native embedding endpoints, return the model and the texts to embed (``[]``
    when the body has none readable); else ``None``."""
    texts: list[str] = []
    if provider == "gemini":
        match = _GEMINI_EMBED.fullmatch(tail)
        if match is None:
            return None
        contents = (
            [dig(item, "content") for item in body.get("requests") or []]
            if isinstance(body, dict) and match["method"] == "batchEmbedContents"
            else [dig(body, "content")]
        )
        for content in contents:
            parts = dig(content, "parts")
            for part in parts if isinstance(parts, list) else []:
                if isinstance(dig(part, "text"), str):
                    texts.append(part["text"])
        return match["model"], texts
    if tail not in _NATIVE.get(provider, ()):
        return None
    model = dig(body, "model")
    raw = dig(body, "input") if provider == "ollama" else dig(body, "texts")
    if raw is None and provider == "ollama":
        raw = dig(body, "prompt")
    raw = [raw] if isinstance(raw, str) else raw
    if isinstance(raw, list):
        texts = [text for text in raw if isinstance(text, str)]
    return (model if isinstance(model, str) else ""), texts


@dataclass
class EmbeddingsAdapter:
    """Converts one embeddings call for ``name`` (``gemini``, ``ollama``, ``cohere``); made
    per request (it carries the request's choices) and never changed after, so thread-safe.

    Satisfies :class:`~traceforge_proxy.providers.base.ProviderAdapter`, so the converted
    route (``POST /v1/embeddings``) and the passthrough views use it as they use the chat
    adapters.

    Attributes:
        name: provider name (``gen_ai.provider.name``).
        texts: the texts embedded (for the token estimate when the provider reports none).
        encoding_format: ``float`` or ``base64``, as the OpenAI client asked.
        chat: the provider's chat adapter (its error mapping is the provider's).
    """

    name: str
    texts: tuple[str, ...] = ()
    encoding_format: str = "float"
    chat: Any = field(default=None, compare=False, repr=False)

    def build_request(self, request: dict[str, Any], *, model: str) -> ProviderRequest:
        """Convert an OpenAI embeddings request body.

        Raises:
            ProviderError: (400) bad ``input``, ``dimensions`` or ``encoding_format``.
        """
        texts = _texts(request.get("input"))
        dimensions = request.get("dimensions")
        if dimensions is not None and (
            not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1
        ):
            raise invalid_request("dimensions: expected a positive integer")
        if request.get("encoding_format", "float") not in ("float", "base64"):
            raise invalid_request("encoding_format: expected 'float' or 'base64'")
        body: dict[str, Any]
        if self.name == "gemini":
            one: dict[str, Any] = {"model": f"models/{model}"}
            if dimensions is not None:
                one["outputDimensionality"] = dimensions
            body = {"requests": [{**one, "content": {"parts": [{"text": text}]}} for text in texts]}
            return ProviderRequest(f"/v1beta/models/{model}:batchEmbedContents", body, False)
        if self.name == "ollama":
            body = {"model": model, "input": texts}
            if dimensions is not None:
                body["dimensions"] = dimensions
            return ProviderRequest("/api/embed", body, False)
        if self.name == "cohere":
            input_type = request.get("input_type", COHERE_INPUT_TYPE)
            body = {
                "model": model,
                "texts": texts,
                "input_type": input_type,
                "embedding_types": ["float"],
            }
            if dimensions is not None:
                body["output_dimension"] = dimensions
            return ProviderRequest("/v2/embed", body, False)
        raise invalid_request(f"{self.name} has no embeddings API TraceForge can convert to")

    def convert_response(self, body: Any, *, model: str, created: int) -> dict[str, Any]:
        """The OpenAI ``embeddings`` answer for the provider's (``created`` unused: the
        object has no date). Token usage: the provider's count, else
        :func:`estimate_tokens` of the texts.

        Raises:
            ValueError: the body has no vectors.
        """
        vectors, tokens = _vectors(self.name, body)
        if tokens is None:
            tokens = estimate_tokens(list(self.texts))
        return openai_embeddings(
            vectors, model=model, prompt_tokens=tokens, encoding_format=self.encoding_format
        )

    def stream_converter(self, *, model: str, created: int, include_usage: bool) -> StreamConverter:
        """Embeddings never stream.

        Raises:
            ProviderError: always (500).
        """
        raise ProviderError(500, {"error": {"message": "embeddings do not stream"}})

    def convert_error(self, status: int, body: Any) -> ProviderError:
        """The provider's error in OpenAI's shape (its chat adapter's mapping)."""
        if self.chat is not None:
            error: ProviderError = self.chat.convert_error(status, body)
            return error
        message = dig(body, "error", "message") or dig(body, "message") or str(body)
        return ProviderError(
            status, {"error": {"message": str(message), "type": "api_error", "param": None}}
        )

    def normalize_request(self, body: Any) -> dict[str, Any]:
        """The OpenAI embeddings request view of a native one: ``input`` (the texts),
        ``dimensions`` when set."""
        view: dict[str, Any] = {"input": list(self.texts)}
        requests = dig(body, "requests")
        first = requests[0] if isinstance(requests, list) and requests else None
        dimensions = (
            dig(body, "outputDimensionality")
            or dig(body, "output_dimension")
            or dig(body, "dimensions")
            or dig(first, "outputDimensionality")
        )
        if isinstance(dimensions, int):
            view["dimensions"] = dimensions
        return view

"""The client matrix: each client library makes the same call twice, once against the embedded
mock upstream directly (its base URL at the mock's prefix for the provider) and once through
the proxy in front of that mock; the test compares the two results and checks the proxy saved
exactly one trace with the right provider, model, status and usage.

Expected token counts are read from the mock's transcript files (``mock_upstream/data``) by
the readers below, never written in a test: ``(prompt tokens, completion tokens)`` as the
provider's wire format reports them (OpenAI ``usage``, Responses ``response.usage``, Anthropic
``message_start``/``message_delta``, Gemini ``usageMetadata`` with thoughts counted as output,
Ollama ``prompt_eval_count``/``eval_count``, Cohere ``usage.tokens``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

import msgspec
import pytest

from traceforge_proxy.mock_upstream import ndjson_lines, sse_events, transcript_bytes
from traceforge_proxy.runner import ProxyService
from traceforge_shared.trace import Trace

#: (prompt tokens, completion tokens).
Tokens = tuple[int, int]

# No client may phone home or fetch anything at import or call time (the frameworks are
# imported inside the tests, after the fixture below has set these).
_QUIET_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
    "LOGFIRE_SEND_TO_LOGFIRE": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "DO_NOT_TRACK": "1",
}


# -- reading the mock's transcripts ---------------------------------------------------------------


def _json(name: str) -> Any:
    return msgspec.json.decode(transcript_bytes(name))


def _sse_payloads(name: str) -> list[tuple[str | None, Any]]:
    out = []
    for event in sse_events(name):
        if event.data and event.data != b"[DONE]":
            out.append((event.event, msgspec.json.decode(event.data)))
    return out


def openai_usage(usage: dict[str, Any]) -> Tokens:
    """Chat Completions ``usage`` (``prompt_tokens``) or Responses/embeddings ``usage``
    (``input_tokens``)."""
    if "input_tokens" in usage:
        return usage["input_tokens"], usage.get("output_tokens", 0)
    return usage["prompt_tokens"], usage.get("completion_tokens", 0)


def openai_chat_stream_usage(name: str) -> Tokens:
    """The usage chunk of a Chat Completions SSE transcript."""
    usages = [p["usage"] for _, p in _sse_payloads(name) if p.get("usage")]
    return openai_usage(usages[-1])


def openai_body_usage(name: str) -> Tokens:
    """``usage`` of a JSON body (chat completion, response, embeddings list)."""
    return openai_usage(_json(name)["usage"])


def responses_stream_usage(name: str) -> Tokens:
    """``response.usage`` of the ``response.completed`` event of a Responses SSE transcript
    (https://platform.openai.com/docs/api-reference/responses-streaming)."""
    done = [p for _, p in _sse_payloads(name) if p.get("type") == "response.completed"]
    return openai_usage(done[-1]["response"]["usage"])


def anthropic_stream_usage(name: str) -> Tokens:
    """``message_start.message.usage.input_tokens`` and the last ``message_delta``
    ``usage.output_tokens`` (cumulative) of a Messages SSE transcript."""
    prompt = completion = 0
    for _, payload in _sse_payloads(name):
        if payload.get("type") == "message_start":
            prompt = payload["message"]["usage"]["input_tokens"]
            completion = payload["message"]["usage"].get("output_tokens", 0)
        elif payload.get("type") == "message_delta":
            completion = payload["usage"]["output_tokens"]
    return prompt, completion


def anthropic_body_usage(name: str) -> Tokens:
    """``usage`` of a Messages JSON body."""
    usage = _json(name)["usage"]
    return usage["input_tokens"], usage["output_tokens"]


def _gemini_usage(metadata: dict[str, Any]) -> Tokens:
    output = metadata.get("candidatesTokenCount", 0) + metadata.get("thoughtsTokenCount", 0)
    return metadata.get("promptTokenCount", 0), output


def gemini_stream_usage(name: str) -> Tokens:
    """The last ``usageMetadata`` of a Gemini SSE transcript; thoughts count as output."""
    metas = [p["usageMetadata"] for _, p in _sse_payloads(name) if p.get("usageMetadata")]
    return _gemini_usage(metas[-1])


def gemini_body_usage(name: str) -> Tokens:
    """``usageMetadata`` of a ``generateContent`` body; thoughts count as output."""
    return _gemini_usage(_json(name)["usageMetadata"])


def ollama_usage(name: str) -> Tokens:
    """``prompt_eval_count``/``eval_count`` of the final (``done``) line of an NDJSON
    transcript, or of a JSON body."""
    last = msgspec.json.decode(ndjson_lines(name)[-1]) if name.endswith(".ndjson") else _json(name)
    return last.get("prompt_eval_count", 0), last.get("eval_count", 0)


def cohere_usage(name: str) -> Tokens:
    """``usage.tokens`` of a Cohere v2 chat body or the ``message-end`` event of a stream."""
    if name.endswith(".sse"):
        ends = [p for _, p in _sse_payloads(name) if p.get("type") == "message-end"]
        usage = ends[-1]["delta"]["usage"]
    else:
        usage = _json(name)["usage"]
    tokens = usage.get("tokens") or usage["billed_units"]
    return tokens["input_tokens"], tokens.get("output_tokens", 0)


def answer_text(name: str) -> str:
    """The answer text a transcript carries, in its provider's format: Anthropic text blocks
    or ``text_delta`` events, Gemini non-thought ``parts[].text``, Ollama ``message.content``
    lines, Cohere ``message.content[].text`` or ``content-delta`` events."""
    provider = name.split("/")[0]
    if name.endswith(".ndjson"):
        lines = [msgspec.json.decode(line) for line in ndjson_lines(name)]
        return "".join(line.get("message", {}).get("content", "") for line in lines)
    payloads = [p for _, p in _sse_payloads(name)] if name.endswith(".sse") else [_json(name)]
    text = ""
    for p in payloads:
        if provider == "anthropic":
            text += "".join(b.get("text", "") for b in p.get("content", []))
            text += (
                p.get("delta", {}).get("text", "") if p.get("type") == "content_block_delta" else ""
            )
        elif provider == "gemini":
            for candidate in p.get("candidates", []):
                parts = candidate.get("content", {}).get("parts", [])
                text += "".join(x.get("text", "") for x in parts if not x.get("thought"))
        elif provider == "cohere":
            content = p.get("message", {}).get("content") or p.get("delta", {}).get(
                "message", {}
            ).get("content", {})
            blocks = content if isinstance(content, list) else [content]
            text += "".join(b.get("text", "") for b in blocks if isinstance(b, dict))
    return text


# -- the proxy and the mock -----------------------------------------------------------------------


@dataclass
class Matrix:
    """A proxy in front of the embedded mock upstream, and where each provider lives on both.

    Attributes:
        service: the running proxy (its ``upstreams`` point into the mock).
    """

    service: ProxyService

    @property
    def proxy_root(self) -> str:
        """``http://127.0.0.1:PORT`` of the proxy (no path)."""
        return self.service.url.removesuffix("/v1")

    @property
    def mock_root(self) -> str:
        """``http://127.0.0.1:PORT`` of the mock upstream (no path)."""
        base_url = self.service.upstreams["anthropic"].base_url
        assert base_url is not None
        return base_url.removesuffix("/anthropic")

    def root(self, direct: bool) -> str:
        """The mock's root when ``direct``, else the proxy's."""
        return self.mock_root if direct else self.proxy_root

    def openai_base(self, direct: bool) -> str:
        """An OpenAI SDK ``base_url``: the mock's ``/v1`` or the proxy's."""
        return f"{self.root(direct)}/v1"

    def native_base(self, direct: bool, provider: str) -> str:
        """A provider SDK's base URL: ``/anthropic``, ``/gemini``, ``/ollama``, ``/cohere``
        under the mock (its prefix for the provider) or the proxy (its native route)."""
        return f"{self.root(direct)}/{provider}"

    async def traces(self, expected: int = 1, *, ignore: str | None = None) -> list[Trace]:
        """Wait for the writer; every trace saved so far (there must be ``expected``), oldest
        first. Direct calls never reach the proxy, so these are the proxied calls'. ``ignore``:
        leave out traces whose endpoint ends with it (look-ups a client makes on its own, at
        times of its choosing)."""
        assert await asyncio.to_thread(self.service.writer.drain, 10.0)
        summaries = self.service.store.list(limit=None)
        traces = [self.service.store.get(s.id) for s in reversed(summaries)]
        traces = [t for t in traces if ignore is None or not t.endpoint.endswith(ignore)]
        assert len(traces) == expected, [
            (t.endpoint, t.metadata.status_code, t.metadata.error, t.request) for t in traces
        ]
        return traces

    async def trace(
        self,
        *,
        provider: str,
        model: str | None,
        usage: Tokens | EllipsisType | None,
        status: str = "success",
        ignore: str | None = None,
    ) -> Trace:
        """The one trace saved so far (``ignore`` as in :meth:`traces`), checked: provider,
        model (``None``: not checked), status and ``(prompt, completion)`` tokens (``None``:
        the trace has no usage)."""
        (trace,) = await self.traces(1, ignore=ignore)
        check_trace(trace, provider=provider, model=model, usage=usage, status=status)
        return trace

    @staticmethod
    def check(
        trace: Trace,
        *,
        provider: str,
        model: str | None,
        usage: Tokens | EllipsisType | None,
        status: str = "success",
    ) -> None:
        """:func:`check_trace`, for tests that saw several traces."""
        check_trace(trace, provider=provider, model=model, usage=usage, status=status)


def check_trace(
    trace: Trace,
    *,
    provider: str,
    model: str | None,
    usage: Tokens | EllipsisType | None,
    status: str = "success",
) -> None:
    """Assert a trace's provider, model, status and token usage (``...``: not checked, for
    calls whose usage the proxy may or may not record, such as token counting)."""
    assert trace.provider == provider, (trace.provider, trace.endpoint)
    if model is not None:
        assert trace.model == model
    assert trace.metadata.status == status, (trace.metadata.status, trace.metadata.error)
    if usage is ...:
        return
    got = trace.metadata.usage
    if usage is None:
        assert got is None or (got.prompt_tokens, got.completion_tokens) == (0, 0)
        return
    assert got is not None, f"{trace.endpoint}: no usage recorded"
    assert (got.prompt_tokens, got.completion_tokens) == usage, trace.endpoint


@pytest.fixture
async def matrix(make_proxy: Any) -> Matrix:
    """A :class:`Matrix` over a proxy routing by model (no default provider) to the mock."""
    service = await make_proxy(default_provider=None)
    return Matrix(service)


@pytest.fixture(autouse=True)
def _quiet_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep telemetry and network look-ups off for every client in the matrix."""
    for name, value in _QUIET_ENV.items():
        monkeypatch.setenv(name, value)


class Transcripts:
    """The readers above, for the test modules (``--import-mode=importlib`` cannot import a
    conftest): ``transcripts.anthropic_stream_usage(...)``, ..."""

    openai_usage = staticmethod(openai_usage)
    openai_chat_stream_usage = staticmethod(openai_chat_stream_usage)
    openai_body_usage = staticmethod(openai_body_usage)
    responses_stream_usage = staticmethod(responses_stream_usage)
    anthropic_stream_usage = staticmethod(anthropic_stream_usage)
    anthropic_body_usage = staticmethod(anthropic_body_usage)
    gemini_stream_usage = staticmethod(gemini_stream_usage)
    gemini_body_usage = staticmethod(gemini_body_usage)
    ollama_usage = staticmethod(ollama_usage)
    cohere_usage = staticmethod(cohere_usage)
    json = staticmethod(_json)
    answer_text = staticmethod(answer_text)


@pytest.fixture
def transcripts() -> type[Transcripts]:
    """The transcript readers (:class:`Transcripts`)."""
    return Transcripts

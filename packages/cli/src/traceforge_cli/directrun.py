"""``traceforge test run --direct``: each test's request goes straight to its provider through
the SDK's unified client (`traceforge.providers`), with no capture proxy and nothing recorded.

Each test is routed by model as the proxy routes it (:class:`traceforge_proxy.routing.Router`:
``provider/`` prefix, config patterns, ``proxy.default_provider``), and each provider's
upstream is resolved as the proxy resolves it (:func:`traceforge_proxy.upstream.resolve_upstreams`:
``upstreams.<provider>.base_url`` in config, the real API when the provider's key variable is
set, else the embedded mock). Providers that resolve to the mock are sent to the mock upstream
app alone, started on a free loopback port for the run (no proxy in between) and stopped at
the end.

The answer (`traceforge.providers.GenerateResult`) becomes an in-memory
:class:`~traceforge_shared.trace.Trace` whose ``response`` is an OpenAI ``chat.completion``,
so the assertions read it exactly as they read a proxied trace; a provider error becomes an
error trace (status, status code, the error), so assertions expecting an answer fail as in
proxy mode. The trace is never saved: results carry no trace id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from traceforge import ProviderError, Signal
from traceforge.providers import GenerateResult, Provider, StreamRequest, get_provider
from traceforge_proxy.mock_upstream import create_mock_app
from traceforge_proxy.providers.anthropic_stream import FINISH_REASONS as ANTHROPIC_FINISH_REASONS
from traceforge_proxy.routing import RouteChoice, Router, RoutingError
from traceforge_proxy.upstream import Upstream, resolve_upstreams
from traceforge_shared.config import Config
from traceforge_shared.evals import TestCase, TestResult
from traceforge_shared.evals.replay import test_result
from traceforge_shared.evals.variables import RequestNotReady, prepare_case
from traceforge_shared.ids import new_trace_id, utc_timestamp
from traceforge_shared.providers import provider_spec
from traceforge_shared.trace import Trace, TraceError, TraceMetadata, Usage
from traceforge_shared.usage import usage_from_openai

__all__ = ["chat_completion", "error_trace", "run_direct", "success_trace"]

#: The key sent to the embedded mock (it checks none; the SDKs refuse to run without one).
MOCK_API_KEY = "traceforge-direct-mock"

#: The path a chat completion goes to, recorded as the trace's endpoint.
_ENDPOINT = "/v1/chat/completions"

#: Provider finish reasons → OpenAI's (``stop``, ``length``, ``tool_calls``,
#: ``content_filter``), as the proxy's converters map them; unknown values are kept.
_FINISH_REASONS = {
    # Anthropic stop_reason
    **ANTHROPIC_FINISH_REASONS,
    # Gemini finishReason
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "MALFORMED_FUNCTION_CALL": "stop",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    # Cohere finish_reason
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "ERROR_LIMIT": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR_TOXIC": "content_filter",
}


def _finish_reason(reason: str | None, has_tool_calls: bool) -> str | None:
    if reason is None:
        return "tool_calls" if has_tool_calls else None
    mapped = _FINISH_REASONS.get(reason, reason)
    return "tool_calls" if mapped == "stop" and has_tool_calls else mapped


def _trace_usage(result: GenerateResult) -> Usage | None:
    usage = result.usage
    if usage.prompt_tokens is None and usage.completion_tokens is None:
        return None
    prompt, completion = usage.prompt_tokens or 0, usage.completion_tokens or 0
    total = usage.total_tokens if usage.total_tokens is not None else prompt + completion
    # The SDK's counts are already OpenAI-shaped: read them as the proxy reads every answer.
    details: dict[str, object] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens or 0},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
    }
    return usage_from_openai(details)


def chat_completion(result: GenerateResult, model: str) -> dict[str, Any]:
    """``result`` as an OpenAI ``chat.completion`` object: the message's content, its
    ``tool_calls`` (OpenAI shape, JSON-string arguments), the finish reason in OpenAI's
    values and ``usage`` (prompt, completion, total; cached and reasoning tokens in the
    ``*_details`` objects when reported)."""
    calls = [
        {
            "id": call.id or f"call_{index}",
            "type": "function",
            "function": {"name": call.name or "", "arguments": call.arguments},
        }
        for index, call in enumerate(result.tool_calls)
    ]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": result.text if result.text or not calls else None,
    }
    if calls:
        message["tool_calls"] = calls
    if result.reasoning:
        message["reasoning_content"] = result.reasoning
    completion: dict[str, Any] = {
        "id": f"chatcmpl-direct-{new_trace_id()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(result.finish_reason, bool(calls)),
            }
        ],
    }
    usage = _trace_usage(result)
    if usage is not None:
        body: dict[str, Any] = msgspec.to_builtins(usage)
        if result.usage.cached_tokens is not None:
            body["prompt_tokens_details"] = {"cached_tokens": result.usage.cached_tokens}
        if result.usage.reasoning_tokens is not None:
            body["completion_tokens_details"] = {"reasoning_tokens": result.usage.reasoning_tokens}
        completion["usage"] = body
    return completion


def _route(provider: str) -> str:
    return "openai" if provider_spec(provider).wire_format == "openai" else "converted"


def _trace(
    case: TestCase, choice: RouteChoice, response: dict[str, Any], metadata: TraceMetadata
) -> Trace:
    """A new in-memory trace of ``case`` sent by ``choice`` (never saved)."""
    return Trace(
        id=new_trace_id(),
        timestamp=utc_timestamp(),
        provider=choice.provider,
        model=choice.model,
        endpoint=_ENDPOINT,
        request=case.request,
        response=response,
        metadata=metadata,
        route=_route(choice.provider),
    )


def success_trace(
    case: TestCase, choice: RouteChoice, result: GenerateResult, latency_ms: float
) -> Trace:
    """The in-memory trace of a call that answered (never saved)."""
    return _trace(
        case,
        choice,
        chat_completion(result, choice.model),
        TraceMetadata(
            status="success",
            status_code=200,
            latency_ms=round(latency_ms, 3),
            usage=_trace_usage(result),
        ),
    )


def _error_type(error: ProviderError) -> str:
    body = error.body
    inner = body.get("error") if isinstance(body, dict) else None
    for source in (inner, body):
        if isinstance(source, dict) and isinstance(source.get("type"), str):
            return str(source["type"])
    name = type(error).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _error_body(error: ProviderError) -> dict[str, Any]:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body
    if isinstance(body, dict):
        return {"error": body}
    return {"error": {"message": error.message, "type": _error_type(error)}}


def error_trace(
    case: TestCase, choice: RouteChoice, error: ProviderError, latency_ms: float
) -> Trace:
    """The in-memory trace of a call the provider refused or that got no answer: status
    ``error`` with the provider's status code (``upstream_error``, code 0, when there was no
    answer), the error, and the error body as ``response`` (never saved)."""
    return _trace(
        case,
        choice,
        _error_body(error),
        TraceMetadata(
            status="error" if error.status is not None else "upstream_error",
            status_code=error.status or 0,
            latency_ms=round(latency_ms, 3),
            error=TraceError(type=_error_type(error), message=str(error)),
        ),
    )


def stream_request(case: TestCase, model: str) -> StreamRequest:
    """The SDK request of a test's OpenAI chat request (``messages``, ``temperature``,
    ``max_tokens`` or ``max_completion_tokens``, ``tools``; other parameters are not sent)."""
    request = case.request
    temperature = request.get("temperature")
    max_tokens = request.get("max_tokens", request.get("max_completion_tokens"))
    tools = request.get("tools")
    return StreamRequest(
        model=model,
        messages=list(request["messages"]),
        temperature=float(temperature) if isinstance(temperature, int | float) else None,
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        tools=list(tools) if isinstance(tools, list) and tools else None,
    )


class _Providers:
    """The SDK client of each provider, pointed where the proxy would send it; starts the
    embedded mock upstream (alone) when a provider of the run resolves to it."""

    def __init__(self, config: Config, mock_delay_ms: float) -> None:
        self.router = Router(config)
        self.upstreams: dict[str, Upstream] = resolve_upstreams(config)
        self.mock_delay_ms = mock_delay_ms
        self.mock_url: str | None = None
        self._runner: web.AppRunner | None = None
        self._clients: dict[str, Provider] = {}

    async def start_mock(self) -> None:
        """Serve the mock upstream app on a free loopback port."""
        app = create_mock_app(delay_ms=self.mock_delay_ms)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        server = getattr(site, "_server", None)  # aiohttp keeps the bound socket here
        sockets = getattr(server, "sockets", None) or ()
        if not sockets:  # pragma: no cover - a started site always listens
            raise RuntimeError("the mock upstream is not listening")
        self.mock_url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def client(self, provider: str) -> Provider:
        """The SDK client for ``provider`` (built once).

        Raises:
            ValueError: the provider has no address (Azure without ``base_url``).
        """
        found = self._clients.get(provider)
        if found is not None:
            return found
        upstream = self.upstreams[provider]
        if upstream.mock:
            prefix = provider_spec(provider).mock_prefix or ""
            base_url: str | None = f"{self.mock_url}{prefix}"
            api_key: str | None = MOCK_API_KEY
        else:
            base_url, api_key = upstream.base_url, upstream.api_key
        if base_url is None:
            raise ValueError(
                f"no base_url for provider {provider}: set upstreams.{provider}.base_url "
                "in config.yaml"
            )
        # No retries, as through the proxy: an error answer is the test's result.
        client = get_provider(
            provider, base_url=base_url, api_key=api_key, use_proxy=False, retry=None
        )
        self._clients[provider] = client
        return client


async def _one(
    path: Path, case: TestCase, choice: RouteChoice, providers: _Providers, timeout_s: float
) -> TestResult:
    began = time.perf_counter()
    signal = Signal.timeout(timeout_s)
    trace: Trace | None = None
    error: str | None = None
    try:
        sent = prepare_case(case)  # ${TRACEFORGE_*} filled, no redaction markers
        client = providers.client(choice.provider)
        model = choice.deployment or choice.model
        result = await client.generate(stream_request(sent, model), signal=signal)
        trace = success_trace(case, choice, result, (time.perf_counter() - began) * 1000)
    except ProviderError as exc:
        if signal.aborted:
            error = f"no answer within {timeout_s:g} s"
        else:
            latency = (time.perf_counter() - began) * 1000
            trace = error_trace(case, choice, exc, latency)
    except RequestNotReady as exc:
        error = str(exc)
    except Exception as exc:  # a bad request, an SDK surprise: this test, not the run
        error = f"request failed: {exc}"
    result_ = test_result(path, case, trace, began, error)
    if trace is not None and trace.metadata.error is not None and result_.status != "passed":
        code = trace.metadata.status_code
        said = f"HTTP {code}" if code else "no answer"
        error = f"{choice.provider} {said}: {trace.metadata.error.message}"
        result_ = msgspec.structs.replace(result_, error=error)
    return msgspec.structs.replace(result_, trace_id=None)  # nothing was recorded


async def run_direct(
    cases: Sequence[tuple[Path, TestCase]],
    *,
    config: Config,
    concurrency: int,
    timeout_s: float,
    mock_delay_ms: float,
    done: Callable[[int, TestResult], None],
) -> None:
    """Run ``cases`` straight against their providers, at most ``concurrency`` at a time,
    each within ``timeout_s``; call ``done(index, result)`` as each finishes. Nothing is
    recorded (every result's ``trace_id`` is None); a model no provider serves is an
    ``error`` result with the routing message."""
    providers = _Providers(config, mock_delay_ms)
    choices: list[RouteChoice | RoutingError] = []
    for _, case in cases:
        try:
            choices.append(providers.router.route(str(case.request["model"])))
        except RoutingError as exc:
            choices.append(exc)
    needs_mock = any(
        isinstance(c, RouteChoice) and providers.upstreams[c.provider].mock for c in choices
    )
    if needs_mock:
        await providers.start_mock()
    # Build each provider's client now: that imports its SDK (seconds for some), which must
    # not count against the first tests' timeouts. A failure is reported by each test.
    for name in {c.provider for c in choices if isinstance(c, RouteChoice)}:
        with contextlib.suppress(Exception):
            providers.client(name)
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, path: Path, case: TestCase) -> None:
        choice = choices[index]
        if isinstance(choice, RoutingError):
            done(index, test_result(path, case, None, time.perf_counter(), str(choice)))
            return
        async with limit:
            done(index, await _one(path, case, choice, providers, timeout_s))

    try:
        await asyncio.gather(*(one(i, p, c) for i, (p, c) in enumerate(cases)))
    finally:
        await providers.stop()

"""The playground's requests: a recorded chat call as editable JSON, validated, sent again
through the running proxy (so the new call is recorded like any other), its answer streamed.

The TUI never imports the proxy: it speaks HTTP to the proxy's port from ``config.yaml``
(``proxy.host``, ``proxy.port``). A chat trace's ``request`` is the OpenAI Chat Completions
view whatever the provider, so the body goes to ``/v1/chat/completions`` (or
``/v1/responses`` for a Responses API call) and the proxy routes it by its ``model``: another
model, of any provider, is a shadow run. Wire formats:
https://platform.openai.com/docs/api-reference/chat-streaming (``chat.completion.chunk``
SSE events) and https://platform.openai.com/docs/api-reference/responses-streaming
(``response.output_text.delta`` events).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from traceforge_shared.config import ConfigError, load_config
from traceforge_shared.trace import Trace

#: The proxy's response header naming the trace it recorded (``traceforge_proxy.server``).
TRACE_ID_HEADER = "X-TraceForge-Trace-Id"

#: The proxy paths the playground sends to (the OpenAI front door).
CHAT_ENDPOINT = "/v1/chat/completions"
RESPONSES_ENDPOINT = "/v1/responses"

#: Seconds allowed to connect to the proxy, and for the whole call (long streams included).
CONNECT_TIMEOUT_S, CALL_TIMEOUT_S = 5.0, 300.0


class PlaygroundError(ValueError):
    """A request the playground cannot send, or a send that failed; the message is for the
    user, one line."""


class ProxyUnavailable(PlaygroundError):
    """No proxy answers at the configured address (the message says how to start one)."""


@dataclass(frozen=True)
class SendResult:
    """The answer of one playground call.

    Attributes:
        text: the assistant text (streamed deltas joined, or the whole message).
        trace_id: the trace the proxy recorded (``X-TraceForge-Trace-Id``); ``None`` if the
            answer named none (not a TraceForge proxy).
        status_code: the HTTP status of the answer.
        error: the error message of a non-2xx answer, else ``None``.
    """

    text: str
    trace_id: str | None
    status_code: int
    error: str | None = None


def endpoint_for(trace: Trace) -> str:
    """The proxy path to send ``trace``'s request to.

    Raises:
        PlaygroundError: ``trace`` is not a chat or Responses API call with a JSON body.
    """
    if not isinstance(trace.request, dict):
        raise PlaygroundError(f"trace {trace.id[:8]} has no JSON request body to edit")
    if trace.endpoint.endswith("/responses"):
        return RESPONSES_ENDPOINT
    if "messages" in trace.request:
        return CHAT_ENDPOINT
    raise PlaygroundError(
        f"trace {trace.id[:8]} ({trace.endpoint}) is not a chat call: the playground edits "
        "chat completions and Responses API calls"
    )


def request_text(body: dict[str, Any]) -> str:
    """``body`` as the editor shows it: JSON, indented by 2, non-ASCII kept."""
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def parse_request(text: str, endpoint: str = CHAT_ENDPOINT) -> dict[str, Any]:
    """The edited request: ``text`` as a JSON object with a string ``model`` and, for chat,
    a non-empty ``messages`` list (``input`` for the Responses API).

    Raises:
        PlaygroundError: not JSON (names the line and column), not an object, or a field
            missing or of the wrong type.
    """
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlaygroundError(
            f"not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(body, dict):
        raise PlaygroundError("the request must be a JSON object ({...})")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise PlaygroundError('"model" must be a non-empty string, e.g. "gpt-4o-mini"')
    if endpoint == RESPONSES_ENDPOINT:
        if "input" not in body:
            raise PlaygroundError('a Responses API request needs "input"')
    else:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise PlaygroundError('"messages" must be a non-empty list of messages')
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise PlaygroundError(f'messages[{index}] must be an object with a "role"')
    return body


def with_model(text: str, model: str, endpoint: str = CHAT_ENDPOINT) -> str:
    """The editor text with ``model`` in place of the request's model (a shadow run: the rest
    of the request is kept).

    Raises:
        PlaygroundError: ``text`` is not a valid request (:func:`parse_request`), or
            ``model`` is empty.
    """
    if not model.strip():
        raise PlaygroundError("no model given")
    body = parse_request(text, endpoint)
    body["model"] = model.strip()
    return request_text(body)


def proxy_base_url(home: Path) -> str:
    """The running proxy's address from ``<home>/config.yaml`` (``http://127.0.0.1:8787``
    by default; a wildcard bind address is reached on 127.0.0.1).

    Raises:
        PlaygroundError: config.yaml cannot be read (the message names the problem).
    """
    try:
        proxy = load_config(home / "config.yaml").proxy
    except (ConfigError, ValueError, OSError) as exc:
        raise PlaygroundError(f"cannot read the proxy's address: {exc}") from None
    host = "127.0.0.1" if proxy.host in ("0.0.0.0", "::", "") else proxy.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{proxy.port}"


def _headers() -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    key = os.environ.get("OPENAI_API_KEY")
    if key:  # the proxy adds every other provider's key itself
        headers["Authorization"] = f"Bearer {key}"
    return headers


def delta_text(event: dict[str, Any]) -> str:
    """The text an SSE event adds: a ``chat.completion.chunk``'s ``choices[0].delta.content``
    or a ``response.output_text.delta``'s ``delta``; ``""`` for any other event."""
    if event.get("type") == "response.output_text.delta":
        delta = event.get("delta")
        return delta if isinstance(delta, str) else ""
    choices = event.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        delta = choices[0].get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            return str(delta["content"])
    return ""


def answer_text(answer: Any) -> str:
    """The assistant text of a whole (not streamed) chat completion or Responses API answer."""
    if not isinstance(answer, dict):
        return ""
    choices = answer.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            return str(message["content"])
    parts = []
    for item in answer.get("output") or []:
        for content in item.get("content") or [] if isinstance(item, dict) else []:
            if isinstance(content, dict) and content.get("type") == "output_text":
                parts.append(str(content.get("text", "")))
    return "".join(parts)


def _error_message(status: int, body: bytes) -> str:
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        error = error.get("message")
    shown = str(error) if error else body.decode("utf-8", "replace")[:300]
    return f"HTTP {status}: {shown}"


async def send(
    base_url: str,
    endpoint: str,
    body: dict[str, Any],
    on_text: Callable[[str], None],
) -> SendResult:
    """POST ``body`` to the proxy at ``base_url`` + ``endpoint`` and read the answer,
    calling ``on_text`` with each piece of text as it arrives (every SSE delta of a stream;
    the whole text once otherwise).

    Raises:
        ProxyUnavailable: nothing listens at ``base_url`` (says to run ``traceforge start``).
        PlaygroundError: the connection failed or timed out mid-call.
    """
    url = base_url.rstrip("/") + endpoint
    timeout = httpx.Timeout(CALL_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    parts: list[str] = []
    try:
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream("POST", url, json=body, headers=_headers()) as response,
        ):
            trace_id = response.headers.get(TRACE_ID_HEADER)
            if response.status_code >= 400:
                raw = await response.aread()
                error = _error_message(response.status_code, raw)
                return SendResult("", trace_id, response.status_code, error)
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if not data or data == "[DONE]":
                        continue
                    try:
                        event = json.loads(data)
                    except ValueError:
                        continue
                    if isinstance(event, dict) and (piece := delta_text(event)):
                        parts.append(piece)
                        on_text(piece)
            else:
                raw = await response.aread()
                try:
                    text = answer_text(json.loads(raw))
                except ValueError:
                    text = raw.decode("utf-8", "replace")
                parts.append(text)
                on_text(text)
            return SendResult("".join(parts), trace_id, response.status_code)
    except httpx.ConnectError:
        raise ProxyUnavailable(
            f"no TraceForge proxy at {base_url}: start one with `traceforge start` "
            "(proxy.port in config.yaml sets its port), then send again"
        ) from None
    except httpx.HTTPError as exc:
        raise PlaygroundError(f"the call to {url} failed: {exc or type(exc).__name__}") from None

"""Runnable snippets reproducing a recorded call (``traceforge trace show ID --curl`` /
``--python``), through the proxy or straight to the provider.

A snippet never holds a key: it reads the provider's key variable from the environment
(``$OPENAI_API_KEY``, ``os.environ["ANTHROPIC_API_KEY"]``, the first of the registry's
``key_envs``) and sends it in the provider's auth header (``Authorization: Bearer``,
``x-api-key``, ...). The body is the recorded request, which redaction already ran over.

- ``openai`` route: the OpenAI-format request to ``<proxy>/v1/...`` or the provider's
  OpenAI-compatible base URL.
- ``converted`` route: the OpenAI-format request through the proxy; ``--direct`` sends the
  provider-format request the proxy made (``trace.native``) to the provider's API.
- ``passthrough`` route: the provider-format request the app sent, to the proxy's native
  route (``/anthropic/...``) or the provider.

Python snippets use the official SDK of the format: ``openai`` (Chat Completions, Responses,
embeddings, https://github.com/openai/openai-python), ``anthropic`` for Anthropic's Messages
API (https://docs.anthropic.com/en/api/messages), else ``httpx``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from traceforge_shared.providers import PROVIDER_SPECS, ProviderSpec
from traceforge_shared.trace import Trace

#: The OpenAI SDK method of each OpenAI-format endpoint (path below ``/v1``).
OPENAI_METHODS = {
    "/chat/completions": "chat.completions.create",
    "/responses": "responses.create",
    "/embeddings": "embeddings.create",
    "/completions": "completions.create",
}


class SnippetError(ValueError):
    """The trace cannot be turned into a snippet (no request body, unknown provider, no
    fixed base URL for ``--direct``); the message says why."""


@dataclass(frozen=True)
class Call:
    """One HTTP call to reproduce.

    Attributes:
        url: full URL (proxy or provider).
        body: the JSON request body.
        headers: ``(name, value)`` pairs besides the key and ``Content-Type``.
        key_header: where the key goes: ``bearer`` or a header name; ``None``: no key.
        key_env: environment variable holding the key; ``None``: no key.
        wire_format: the body's format: ``openai`` or a provider's (``anthropic``, ...).
        base_url: the SDK's base URL for :attr:`url` (without the endpoint path).
        path: the endpoint path below :attr:`base_url` (``/chat/completions``).
    """

    url: str
    body: Any
    headers: tuple[tuple[str, str], ...]
    key_header: str | None
    key_env: str | None
    wire_format: str
    base_url: str
    path: str


def _spec(trace: Trace) -> ProviderSpec:
    spec = PROVIDER_SPECS.get(trace.provider)
    if spec is None:
        raise SnippetError(f"trace {trace.id[:8]} has an unknown provider {trace.provider!r}")
    return spec


def _key(spec: ProviderSpec, openai_front_door: bool) -> tuple[str | None, str | None]:
    """Header style and variable of the key: the proxy's OpenAI front door takes a bearer
    token; a provider's own API its :attr:`~ProviderSpec.auth_style`."""
    if spec.auth_style == "none" or not spec.key_envs:
        return None, None
    style = "bearer" if openai_front_door else spec.auth_style
    return style, spec.key_envs[0]


def call_for(
    trace: Trace, *, proxy_url: str, direct: bool = False, base_url: str | None = None
) -> Call:
    """The call reproducing ``trace``, sent to ``proxy_url`` (``http://127.0.0.1:8787``) or,
    with ``direct``, to the provider (``base_url``, default the registry's).

    Raises:
        SnippetError: no JSON request body, unknown provider, or ``direct`` to a provider
            without a fixed base URL (Azure, self-hosted) and no ``base_url``.
    """
    spec = _spec(trace)
    native = trace.native
    if trace.route == "openai" or (trace.route == "converted" and not direct):
        body, endpoint, wire = trace.request, trace.endpoint, "openai"
    elif native is not None:
        body, endpoint, wire = native.request, native.endpoint, spec.wire_format
    else:
        raise SnippetError(f"trace {trace.id[:8]} has no provider-format request to send")
    if not isinstance(body, dict):
        raise SnippetError(f"trace {trace.id[:8]} has no JSON request body to send")
    if not direct:
        root = proxy_url.rstrip("/")
        url = root + trace.endpoint
        key_header, key_env = _key(spec, wire == "openai")
        headers = spec.fixed_headers if wire != "openai" else ()
        if wire == "openai":
            return Call(
                url,
                body,
                headers,
                key_header,
                key_env,
                wire,
                root + "/v1",
                trace.endpoint.removeprefix("/v1"),
            )
        return Call(
            url, body, headers, key_header, key_env, wire, root + spec.native_route, endpoint
        )
    base = (base_url or spec.base_url or "").rstrip("/")
    if not base:
        raise SnippetError(
            f"{spec.display_name} has no fixed base URL; set upstreams.{spec.name}.base_url "
            "in config.yaml, or leave out --direct to go through the proxy"
        )
    path = endpoint.removeprefix("/v1") if spec.openai_compatible else endpoint
    key_header, key_env = _key(spec, False)
    return Call(base + path, body, spec.fixed_headers, key_header, key_env, wire, base, path)


def curl_snippet(call: Call) -> str:
    """A ``curl`` command sending ``call`` (key from ``$<key_env>``), one option a line."""
    lines = [f"curl {shlex.quote(call.url)}", "-H 'Content-Type: application/json'"]
    if call.key_env is not None:
        value = f"Bearer ${call.key_env}" if call.key_header == "bearer" else f"${call.key_env}"
        name = "Authorization" if call.key_header == "bearer" else call.key_header
        lines.append(f'-H "{name}: {value}"')  # double quotes: the shell expands the variable
    lines += [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in call.headers]
    if isinstance(call.body, dict) and call.body.get("stream"):
        lines.append("--no-buffer")
    lines.append(f"-d {shlex.quote(json.dumps(call.body, indent=2, ensure_ascii=False))}")
    return " \\\n  ".join(lines) + "\n"


def _key_expr(call: Call) -> str:
    return f"os.environ[{call.key_env!r}]" if call.key_env else '"unused"'


def python_snippet(call: Call) -> str:
    """A Python script sending ``call`` with the format's SDK and printing the answer.

    Raises:
        SnippetError: an OpenAI-format endpoint the ``openai`` SDK has no method for.
    """
    request = json.dumps(call.body, indent=2, ensure_ascii=False)

    def head(sdk_import: str) -> str:
        return f"import json\nimport os\n\n{sdk_import}\n\nREQUEST = json.loads({request!r})\n\n"

    stream = isinstance(call.body, dict) and bool(call.body.get("stream"))
    if call.wire_format == "openai":
        method = OPENAI_METHODS.get(call.path)
        if method is None:
            raise SnippetError(f"no openai SDK method for {call.path}; use --curl")
        show = "print(chunk)" if stream else "print(answer)"
        loop = "for chunk in answer:\n    " if stream else ""
        return (
            head("from openai import OpenAI")
            + f"client = OpenAI(base_url={call.base_url!r}, api_key={_key_expr(call)})\n"
            f"answer = client.{method}(**REQUEST)\n{loop}{show}\n"
        )
    if call.wire_format == "anthropic" and call.path == "/v1/messages":
        show = "for event in answer:\n    print(event)" if stream else "print(answer)"
        return (
            head("import anthropic") + f"client = anthropic.Anthropic(base_url={call.base_url!r}, "
            f"api_key={_key_expr(call)})\n"
            f"answer = client.messages.create(**REQUEST)\n{show}\n"
        )
    headers = dict(call.headers)
    lines = [f"headers = {headers!r}"]
    if call.key_env is not None:
        if call.key_header == "bearer":
            lines.append(f'headers["Authorization"] = "Bearer " + {_key_expr(call)}')
        else:
            lines.append(f"headers[{call.key_header!r}] = {_key_expr(call)}")
    return (
        head("import httpx")
        + "\n".join(lines)
        + f"\nanswer = httpx.post({call.url!r}, json=REQUEST, headers=headers, timeout=120)\n"
        "print(answer.status_code)\nprint(answer.text)\n"
    )

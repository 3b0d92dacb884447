"""Where a provider call goes: through the TraceForge proxy (so it is traced) or straight to
the provider.

Order (first that applies):

1. an explicit ``base_url=`` (given to `traceforge.providers.get_provider`);
2. the proxy named by ``TRACEFORGE_PROXY_URL`` (``http://127.0.0.1:8787``);
3. a proxy answering ``GET /healthz`` at ``http://127.0.0.1:8787`` (checked at most once per
   process, with a 0.2 s timeout; `reset_proxy_probe` forgets the answer);
4. the provider itself: the registry's base URL (``traceforge_shared.providers``), or, for
   Ollama, ``OLLAMA_HOST``.

Through the proxy a provider is reached at its *native route* (``/anthropic``, ``/gemini``,
``/ollama``, ``/cohere``, ``/xai/v1``, ``/openai/v1``, ...: ``docs/providers.md``); the proxy
adds the key it knows when the app has none. The API key comes from ``api_key=``, else the
provider's key variables (``key_envs``, in order); keys are never logged or put in reprs.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from traceforge_shared.providers import ProviderSpec

__all__ = [
    "DEFAULT_PROXY_URL",
    "PROXY_URL_ENV",
    "Endpoint",
    "detect_proxy",
    "reset_proxy_probe",
    "resolve_endpoint",
]

#: Environment variable naming a running TraceForge proxy (its root URL).
PROXY_URL_ENV = "TRACEFORGE_PROXY_URL"
#: Where ``traceforge start`` listens by default.
DEFAULT_PROXY_URL = "http://127.0.0.1:8787"
#: How long the one ``/healthz`` probe waits, in seconds.
PROBE_TIMEOUT_S = 0.2

_probe_lock = threading.Lock()
_probe_done = False
_probe_result: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """Where one provider's calls go.

    Attributes:
        base_url: the URL the provider's SDK is given (its own convention: OpenAI-format
            URLs end in ``/v1``, the others are the API's root).
        api_key: the key sent, or None (Ollama; or none set, the proxy then adds its own).
        via_proxy: whether ``base_url`` is a TraceForge proxy.
    """

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    via_proxy: bool = False


def reset_proxy_probe() -> None:
    """Forget the result of the ``/healthz`` probe, so the next `detect_proxy` probes again."""
    global _probe_done, _probe_result
    with _probe_lock:
        _probe_done = False
        _probe_result = None


def _probe(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=PROBE_TIMEOUT_S) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def detect_proxy() -> str | None:
    """The root URL of the TraceForge proxy calls should go through, or None.

    ``TRACEFORGE_PROXY_URL`` when set (not probed; an empty value means no proxy), else
    `DEFAULT_PROXY_URL` when it answers ``GET /healthz`` with 200 within 0.2 s. The probe
    runs at most once per process (thread-safe); blocking, so call it off the event loop
    when that matters (`get_provider` calls it once, when the provider is built).
    """
    global _probe_done, _probe_result
    configured = os.environ.get(PROXY_URL_ENV)
    if configured is not None:
        return configured.rstrip("/") or None
    with _probe_lock:
        if not _probe_done:
            _probe_result = DEFAULT_PROXY_URL if _probe(DEFAULT_PROXY_URL) else None
            _probe_done = True
        return _probe_result


def _proxy_base(spec: ProviderSpec, proxy: str) -> str:
    """The provider's native route on the proxy, in its SDK's base-URL convention."""
    if spec.openai_compatible:
        return f"{proxy}{spec.native_route}/v1"
    return f"{proxy}{spec.native_route}"


def _api_key(spec: ProviderSpec, api_key: str | None) -> str | None:
    found = (value for name in spec.key_envs if (value := os.environ.get(name)))
    return api_key or next(found, None)


def resolve_endpoint(
    spec: ProviderSpec,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    use_proxy: bool | None = None,
) -> Endpoint:
    """Where ``spec``'s calls go (see the module docstring for the order).

    Args:
        spec: the provider's registry entry.
        base_url: an explicit base URL (wins over everything).
        api_key: an explicit key (else the provider's key variables).
        use_proxy: True: the proxy or `ValueError`; False: never the proxy; None: the proxy
            when one is configured or running.

    Raises:
        ValueError: ``use_proxy=True`` and no proxy; or the provider has no default base URL
            (Azure, ``openai-compatible``) and none was given.
    """
    key = _api_key(spec, api_key)
    if base_url:
        return Endpoint(base_url.rstrip("/"), key, via_proxy=False)
    proxy = detect_proxy() if use_proxy is not False else None
    if use_proxy and proxy is None:
        raise ValueError(f"no TraceForge proxy: set {PROXY_URL_ENV} or run `traceforge start`")
    if proxy is not None:
        return Endpoint(_proxy_base(spec, proxy), key, via_proxy=True)
    direct = os.environ.get(spec.host_env) if spec.host_env else None
    direct = direct or spec.base_url
    if not direct:
        raise ValueError(
            f"provider {spec.name!r} has no default base URL: pass base_url= "
            f"(upstreams.{spec.name}.base_url in the proxy's config)"
        )
    if spec.host_env and "://" not in direct:
        direct = f"http://{direct}"
    return Endpoint(direct.rstrip("/"), key, via_proxy=False)

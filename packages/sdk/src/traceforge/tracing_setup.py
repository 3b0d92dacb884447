"""Where the SDK's spans go: the tracer provider and its OTLP/HTTP exporter.

By default the spans are exported to the local TraceForge: the OTLP/HTTP endpoint of the web
API of ``traceforge start`` (``POST http://127.0.0.1:3001/v1/traces``, protobuf; OTLP spec:
https://opentelemetry.io/docs/specs/otlp/#otlphttp), in batches (the OpenTelemetry SDK's
``BatchSpanProcessor``), flushed when the process exits.

Which tracer provider (first that applies):

1. ``configure(tracer_provider=...)``: that one (not made global);
2. a global tracer provider the application set itself
   (``opentelemetry.trace.set_tracer_provider``): it is used as it is, never replaced, so
   TraceForge spans go wherever the application's other spans go;
3. else one built here (an OpenTelemetry SDK ``TracerProvider`` exporting to the endpoint
   below), made the global provider when none is set, so spans of other OpenTelemetry
   instrumentations join the same runs.

Endpoint (first that applies): ``configure(endpoint=...)`` (the web API's root URL;
``/v1/traces`` is added unless given), ``$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (the full URL),
``$OTEL_EXPORTER_OTLP_ENDPOINT`` (root URL, ``/v1/traces`` added), ``http://127.0.0.1:3001``.
That last default is checked once (``GET /api/health``, 0.2 s): when no TraceForge answers
there, spans are still made (so calls through the proxy still nest) but not exported, and one
warning says so, rather than the exporter retrying for seconds at exit.
``$TRACEFORGE_API_TOKEN`` (or ``configure(token=...)``) is sent as
``Authorization: Bearer <token>`` when the API requires one. The OpenTelemetry SDK is
imported only when a provider is built here.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

__all__ = [
    "DEFAULT_API_URL",
    "TOKEN_ENV",
    "TRACES_PATH",
    "configure",
    "flush",
    "get_tracer",
    "traces_endpoint",
]

#: The web API of ``traceforge start`` (``--api-port``, default 3001).
DEFAULT_API_URL = "http://127.0.0.1:3001"
#: The OTLP/HTTP path of traces.
TRACES_PATH = "/v1/traces"
#: The API token ``traceforge start`` requires when it is set.
TOKEN_ENV = "TRACEFORGE_API_TOKEN"
#: The instrumentation scope of TraceForge's spans.
SCOPE = "traceforge"
#: How long the one check of the default endpoint waits, in seconds.
PROBE_TIMEOUT_S = 0.2

_log = logging.getLogger("traceforge")


@dataclass
class _State:
    provider: trace.TracerProvider | None = None
    #: The provider built here (``None`` when the application's or a given one is used).
    built: SdkTracerProvider | None = None


_lock = threading.Lock()
_state = _State()


def traces_endpoint(endpoint: str | None = None) -> str:
    """The OTLP/HTTP traces URL spans are exported to (see the module for the order).

    Args:
        endpoint: a root URL (``http://127.0.0.1:3001``) or a full one ending in
            ``/v1/traces``.

    Raises:
        ValueError: the URL is not ``http://`` or ``https://``.
    """
    if endpoint:
        url = endpoint
    elif os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        url = os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        _check_url(url, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        return url
    else:
        url = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_API_URL
    _check_url(url, "the OTLP endpoint")
    url = url.rstrip("/")
    return url if url.endswith(TRACES_PATH) else url + TRACES_PATH


def _explicit_endpoint(endpoint: str | None) -> bool:
    return bool(
        endpoint
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def _api_answers(root: str) -> bool:
    """Whether an HTTP server answers ``GET <root>/api/health`` within
    :data:`PROBE_TIMEOUT_S` (any status counts: a 401 is a TraceForge wanting a token)."""
    try:
        with urllib.request.urlopen(f"{root}/api/health", timeout=PROBE_TIMEOUT_S):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def _check_url(url: str, what: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{what} must be an http:// or https:// URL, got {url!r}")


def _default_service_name() -> str:
    """``$OTEL_SERVICE_NAME``, else the script's name (``agent_run``), else ``python``."""
    name = os.environ.get("OTEL_SERVICE_NAME")
    if name:
        return name
    script = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
    return script if script and script != "-c" else "python"


def _build(endpoint: str | None, service_name: str | None, token: str | None) -> SdkTracerProvider:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    url = traces_endpoint(endpoint)
    resource = Resource.create({SERVICE_NAME: service_name or _default_service_name()})
    # shutdown_on_exit (the default): an atexit hook flushes the batch processor.
    provider = TracerProvider(resource=resource)
    if _explicit_endpoint(endpoint) or _api_answers(DEFAULT_API_URL):
        secret = token if token is not None else os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {secret}"} if secret else None
        exporter = OTLPSpanExporter(endpoint=url, headers=headers)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    else:
        _log.warning(
            "TraceForge: no TraceForge API answers at %s, so spans are not exported (calls "
            "through the proxy still nest); run `traceforge start`, or set "
            "OTEL_EXPORTER_OTLP_ENDPOINT or traceforge.configure(endpoint=...)",
            DEFAULT_API_URL,
        )
    return provider


def _application_provider() -> trace.TracerProvider | None:
    """The global provider when the application set one (not the API's placeholder, not
    the one built here)."""
    current = trace.get_tracer_provider()
    if isinstance(current, trace.ProxyTracerProvider) or current is _state.built:
        return None
    return current


def configure(
    *,
    endpoint: str | None = None,
    service_name: str | None = None,
    token: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> trace.TracerProvider:
    """Choose where TraceForge spans go; call it once at start-up, before the first span
    (without a call, the first span configures the defaults).

    Args:
        endpoint: the TraceForge web API's root URL, or a full OTLP/HTTP traces URL.
        service_name: the ``service.name`` resource attribute (default:
            ``$OTEL_SERVICE_NAME``, else the script's file name without ``.py``).
        token: the web API's bearer token (default: ``$TRACEFORGE_API_TOKEN``).
        tracer_provider: use this provider (yours, e.g. with an in-memory exporter) instead;
            the other arguments are then ignored.

    Returns:
        The tracer provider TraceForge spans now use. When the application already set a
        global provider, that one: ``endpoint``, ``service_name`` and ``token`` then do
        nothing (add an exporter to your provider instead).

    Raises:
        ValueError: ``endpoint`` (or the OTLP endpoint variables) is not an http(s) URL.
    """
    with _lock:
        return _configure(endpoint, service_name, token, tracer_provider)


def _configure(
    endpoint: str | None,
    service_name: str | None,
    token: str | None,
    given: trace.TracerProvider | None,
) -> trace.TracerProvider:
    old = _state.built
    provider = given or _application_provider()
    if provider is None:
        built = _build(endpoint, service_name, token)
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            trace.set_tracer_provider(built)
        _state.built, provider = built, built
    else:
        _state.built = None
        if given is None and (endpoint or service_name or token):
            _log.warning(
                "TraceForge: the application set its own tracer provider, which is kept: "
                "configure(endpoint=..., service_name=..., token=...) changes nothing; add an "
                "OTLP exporter to %s to that provider instead",
                traces_endpoint(endpoint),
            )
    _state.provider = provider
    if old is not None and old is not _state.built:
        old.shutdown()
    return provider


def get_tracer() -> trace.Tracer:
    """The tracer of TraceForge's spans (configuring the defaults on first use)."""
    with _lock:
        provider = _state.provider
        if provider is None:
            provider = _configure(None, None, None, None)
    return provider.get_tracer(SCOPE)


def flush(timeout_ms: int = 30_000) -> bool:
    """Export the spans still waiting in the batch now (they are also exported at exit).

    Args:
        timeout_ms: the longest wait, in milliseconds.

    Returns:
        Whether every span was exported in time (``True`` when the provider has no
        ``force_flush``, e.g. the API's no-op one).
    """
    provider = _state.provider
    force_flush = getattr(provider, "force_flush", None)
    return bool(force_flush(timeout_ms)) if callable(force_flush) else True


def reset() -> None:
    """Forget the configured provider, shutting down the one built here (for tests; the next
    span configures again)."""
    with _lock:
        if _state.built is not None:
            _state.built.shutdown()
        _state.provider = None
        _state.built = None

"""TraceForge capture proxy."""

from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_proxy.server import create_proxy_app
from traceforge_proxy.upstream import Upstream, resolve_upstream, resolve_upstreams

__all__ = [
    "BackgroundProxy",
    "ProxyService",
    "Upstream",
    "create_proxy_app",
    "resolve_upstream",
    "resolve_upstreams",
]

"""TraceForge capture proxy."""

from traceforge_proxy.app import create_proxy_app
from traceforge_proxy.hooks import HOOKS, Addons
from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_proxy.upstream import Upstream, resolve_upstream, resolve_upstreams
from traceforge_proxy.writer import TraceWriter

__all__ = [
    "HOOKS",
    "Addons",
    "BackgroundProxy",
    "ProxyService",
    "TraceWriter",
    "Upstream",
    "create_proxy_app",
    "resolve_upstream",
    "resolve_upstreams",
]

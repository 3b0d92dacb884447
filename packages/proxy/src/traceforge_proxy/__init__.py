"""TraceForge capture proxy.

The names below are imported on first use (PEP 562), so a process that needs one module
(the writer process: :mod:`traceforge_proxy.writer_process`) does not load aiohttp and the
whole proxy at start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_MODULES = {
    "HOOKS": "traceforge_proxy.hooks",
    "Addons": "traceforge_proxy.hooks",
    "BackgroundProxy": "traceforge_proxy.runner",
    "ProxyService": "traceforge_proxy.runner",
    "TraceWriter": "traceforge_proxy.writer",
    "Upstream": "traceforge_proxy.upstream",
    "create_proxy_app": "traceforge_proxy.app",
    "resolve_upstream": "traceforge_proxy.upstream",
    "resolve_upstreams": "traceforge_proxy.upstream",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'traceforge_proxy' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

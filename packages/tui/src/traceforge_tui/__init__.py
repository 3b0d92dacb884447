"""TraceForge terminal UI: browse recorded traces with Textual.

Build the app with :func:`make_app` and run it with ``make_app(store).run()``. The UI reads
traces only through :class:`~traceforge_shared.store.TraceStore`.
"""

from __future__ import annotations

from traceforge_tui.app import TraceForgeApp, make_app

__all__ = ["TraceForgeApp", "make_app"]

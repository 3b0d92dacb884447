"""The OTLP export addon: every saved trace sent on as an OpenTelemetry GenAI span.

It implements only the writer-thread hook ``saved`` (:mod:`traceforge_proxy.hooks`): the trace
is already redacted and on disk, the call long answered. The hook only puts the trace on an
:class:`~traceforge_shared.otel.export_queue.ExportQueue` (a deque append); the queue's thread
maps it to a span and hands it to the SDK's ``BatchSpanProcessor``, whose thread exports it
(:class:`~traceforge_shared.otel.export_sdk.OtlpExport`). So neither the event loop nor the
writer maps, encodes or waits for the network, and an unreachable endpoint only costs the
spans it drops. ``bench/otlp_export_hook.py`` measures the hook against the save.

The addon may be made in any process (the trace writer's child process makes its own with
:func:`otlp_export_addon`): its threads start with the first trace it is given, in that
process, and :meth:`OtlpExportAddon.close` exports everything given before it stops them.
"""

from __future__ import annotations

from pathlib import Path

from traceforge_shared.config import Config
from traceforge_shared.otel.export_queue import ExportQueue
from traceforge_shared.otel.export_sdk import OtlpExport
from traceforge_shared.trace import Trace

__all__ = ["OtlpExportAddon", "otlp_export_addon"]


class OtlpExportAddon:
    """A ``saved`` addon exporting each trace (see the module docstring).

    Args:
        export: the configured exporter (endpoint and/or file, semconv, content capture);
            the addon owns it and shuts it down on :meth:`close`.

    Attributes:
        export: that exporter.
        queue: the traces waiting to be mapped (its ``dropped`` counts those refused when
            more than 2,048 wait).
    """

    def __init__(self, export: OtlpExport) -> None:
        self.export = export
        self.queue = ExportQueue(export)

    def saved(self, trace: Trace) -> None:
        """Queue ``trace`` for export; returns at once (a trace with an unreadable timestamp
        is logged and skipped by the queue's thread)."""
        self.queue.put_trace(trace)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Export every trace given so far; whether it all went within ``timeout_s`` s."""
        return self.queue.flush(timeout_s)

    def close(self) -> None:
        """Export what is queued, then stop the export threads (a second call does
        nothing)."""
        self.queue.close()


def otlp_export_addon(config: Config, home: Path | None) -> OtlpExportAddon | None:
    """The addon for ``config.export.otlp``, or ``None`` when export is off (no endpoint and
    no file). ``home``: the TraceForge home a relative ``export.otlp.file`` is under."""
    settings = config.export.otlp
    if not settings.enabled:
        return None
    return OtlpExportAddon(OtlpExport(settings, home=home))

"""The OTLP export addon: every saved trace sent on as an OpenTelemetry GenAI span.

It implements only the writer-thread hook ``saved`` (:mod:`traceforge_proxy.hooks`): the trace
is already redacted and on disk, the call long answered. The span goes to the SDK's
``BatchSpanProcessor`` queue and is exported from its own thread
(:class:`~traceforge_shared.otel.export_sdk.OtlpExport`), so neither the event loop nor the
writer waits for the network, and an unreachable endpoint only costs the spans it drops.
"""

from __future__ import annotations

import logging
from pathlib import Path

from traceforge_shared.config import Config
from traceforge_shared.otel.export_sdk import OtlpExport
from traceforge_shared.trace import Trace

__all__ = ["OtlpExportAddon", "otlp_export_addon"]

log = logging.getLogger("traceforge.otel")


class OtlpExportAddon:
    """A ``saved`` addon exporting each trace (see the module docstring).

    Args:
        export: the configured exporter (endpoint and/or file, semconv, content capture).
    """

    def __init__(self, export: OtlpExport) -> None:
        self.export = export

    def saved(self, trace: Trace) -> None:
        """Queue ``trace``'s span for export (a trace with an unreadable timestamp is
        logged and skipped)."""
        try:
            span = self.export.map_trace(trace)
        except ValueError as exc:
            log.warning("trace %s not exported: %s", trace.id, exc)
            return
        self.export.submit(span)

    def close(self) -> None:
        """Export what is queued, then stop the export threads."""
        self.export.shutdown()


def otlp_export_addon(config: Config, home: Path | None) -> OtlpExportAddon | None:
    """The addon for ``config.export.otlp``, or ``None`` when export is off (no endpoint and
    no file)."""
    settings = config.export.otlp
    if not settings.enabled:
        return None
    return OtlpExportAddon(OtlpExport(settings, home=home))

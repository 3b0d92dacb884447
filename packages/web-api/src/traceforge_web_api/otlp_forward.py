"""Live export of ingested spans: what ``POST /v1/traces`` stores is sent on to
``export.otlp`` as it is stored, as the proxy sends each saved trace.

The API reads ``export.otlp`` from the home's ``config.yaml`` at the first ingest and keeps one
:class:`~traceforge_shared.otel.export_queue.ExportQueue` per application (a change takes
effect at the next start, as for the proxy). The route puts the stored, redacted spans on it
and answers: the mapping, batching, retries and the network all happen in the queue's and
the OpenTelemetry SDK's threads, never on the request's path. The same mapping as the backfill
(``traceforge export otlp``) is used. Spans another TraceForge exported (resource attribute
``traceforge.exported``) are stored and not exported again, so two TraceForges exporting to
each other never bounce a span
(:attr:`~traceforge_shared.otel.ingest_store.IngestResult.to_export`).

At interpreter exit the queue is flushed and closed (``atexit``);
:func:`close_forwarder` does it earlier.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from traceforge_shared.config import ConfigError, config_path, load_config
from traceforge_shared.store import TraceStore

if TYPE_CHECKING:  # the OpenTelemetry SDK is imported only when export is on
    from traceforge_shared.otel.export_queue import ExportQueue

__all__ = ["FORWARD_STATE_KEY", "close_forwarder", "forwarder"]

log = logging.getLogger("traceforge.otel")

#: ``app.state`` attribute holding the app's queue (``None``: export is off).
FORWARD_STATE_KEY = "otlp_forward"

_lock = threading.Lock()


def forwarder(app: Starlette, store: TraceStore) -> ExportQueue | None:
    """The export queue of ``app``, made on first use from ``store``'s ``config.yaml``;
    ``None`` when ``export.otlp`` sets no endpoint and no file, or the config cannot be read
    (logged once: ingest goes on without export)."""
    state = app.state
    if hasattr(state, FORWARD_STATE_KEY):
        queue: ExportQueue | None = getattr(state, FORWARD_STATE_KEY)
        return queue
    with _lock:
        if hasattr(state, FORWARD_STATE_KEY):
            return getattr(state, FORWARD_STATE_KEY)  # type: ignore[no-any-return]
        queue = None
        try:
            settings = load_config(config_path(store.home)).export.otlp
        except ConfigError as exc:
            log.warning("ingested spans are not exported: %s", exc)
            settings = None
        if settings is not None and settings.enabled:
            from traceforge_shared.otel.export_queue import ExportQueue
            from traceforge_shared.otel.export_sdk import OtlpExport

            queue = ExportQueue(OtlpExport(settings, home=store.home))
            atexit.register(queue.close)
        setattr(state, FORWARD_STATE_KEY, queue)
        return queue


def close_forwarder(app: Starlette) -> None:
    """Export what ``app``'s queue holds and stop its threads (nothing when there is none)."""
    queue: ExportQueue | None = getattr(app.state, FORWARD_STATE_KEY, None)
    if queue is not None:
        queue.close()
        atexit.unregister(queue.close)

"""The metadata rows of a trace, the same in every UI: ``(label, value text, level)``.

Three groups, shown in this order (the TUI puts the first two side by side):

- identity: ID, Time (local), Provider, Model (and the model that answered, when another),
  Route, Endpoint, Upstream;
- measures: Status, Latency, then for streams First chunk, Stream duration, Chunks, Chunk
  gaps (else Type: not streamed), Embeddings (vectors of dimensions, embeddings answers only),
  Tokens, Cost;
- notes: Error, Redacted, one Warning per warning (empty when there is nothing to say).
"""

from __future__ import annotations

from dataclasses import dataclass

from traceforge_shared.trace import Trace
from traceforge_shared.views.status import Level, status_view
from traceforge_shared.views.stream import stream_stats
from traceforge_shared.views.times import local_time
from traceforge_shared.views.units import MISSING, cost_text, ms_text, usage_text

#: What each route means, after its name.
ROUTE_LABELS: dict[str, str] = {
    "openai": "openai (OpenAI format, forwarded as is)",
    "converted": "converted (OpenAI format ⇄ the provider's API)",
    "passthrough": "passthrough (the provider's own API, forwarded as is)",
}


@dataclass(frozen=True)
class MetadataRow:
    """One metadata row: ``label``, ``value`` text, and the ``level`` a UI styles the value
    with (``None``: plain)."""

    label: str
    value: str
    level: Level | None = None


def model_text(trace: Trace) -> str:
    """The model asked for, with ``(answered by X)`` when the provider named another one."""
    text = trace.model or MISSING
    if trace.response_model and trace.response_model != trace.model:
        text += f" (answered by {trace.response_model})"
    return text


def identity_rows(trace: Trace) -> list[MetadataRow]:
    """Which call: ID, Time, Provider, Model, Route, Endpoint, Upstream (when known)."""
    meta = trace.metadata
    rows = [
        MetadataRow("ID", trace.id),
        MetadataRow("Time", local_time(trace.timestamp)),
        MetadataRow("Provider", trace.provider),
        MetadataRow("Model", model_text(trace)),
        MetadataRow("Route", ROUTE_LABELS.get(trace.route, trace.route)),
        MetadataRow("Endpoint", f"{meta.method} {trace.endpoint}"),
    ]
    if meta.upstream_url:
        rows.append(MetadataRow("Upstream", meta.upstream_url))
    return rows


def chunks_text(trace: Trace) -> str:
    """Chunks sent to the client, with those received and kept when they differ:
    ``40`` or ``39 to client, 40 received, 20 kept``."""
    meta = trace.metadata
    extra: list[str] = []
    if meta.chunks_received != meta.total_chunks:
        extra.append(f"{meta.chunks_received} received")
    if meta.chunks_buffered != meta.chunks_received:
        extra.append(f"{meta.chunks_buffered} kept")
    if not extra:
        return str(meta.total_chunks)
    return ", ".join([f"{meta.total_chunks} to client", *extra])


def gaps_text(trace: Trace) -> str:
    """The gaps between the kept chunks: ``mean 14 ms, max 400 ms, 2 slow`` (``-`` with fewer
    than two chunks)."""
    stats = stream_stats(trace.chunks)
    if stats.mean_gap_ms is None:
        return MISSING
    text = f"mean {ms_text(stats.mean_gap_ms)}, max {ms_text(stats.max_gap_ms)}"
    if stats.slow:
        text += f", {len(stats.slow)} slow"
    return text


def embeddings_text(trace: Trace) -> str | None:
    """An embeddings answer's shape, ``2 vectors of 1536 dimensions`` (from the
    ``response.embeddings`` summary the proxy stores, see docs/trace-format.md), or ``None``
    for other traces."""
    response = trace.response
    summary = response.get("embeddings") if isinstance(response, dict) else None
    if not isinstance(summary, dict) or not isinstance(summary.get("count"), int):
        return None
    count, dimensions = summary["count"], summary.get("dimensions")
    text = f"{count} vector{'' if count == 1 else 's'}"
    if isinstance(dimensions, int):
        text += f" of {dimensions} dimensions"
    return text


def measure_rows(trace: Trace) -> list[MetadataRow]:
    """How it went: Status, Latency, stream timing (or Type), Tokens, Cost."""
    meta = trace.metadata
    status = status_view(meta.status, meta.status_code)
    rows = [
        MetadataRow("Status", status.label, status.level),
        MetadataRow("Latency", ms_text(meta.latency_ms)),
    ]
    if meta.streaming:
        rows += [
            MetadataRow("First chunk", ms_text(meta.first_chunk_latency_ms)),
            MetadataRow("First content", ms_text(meta.first_content_latency_ms)),
            MetadataRow("Stream duration", ms_text(meta.stream_duration_ms)),
            MetadataRow("Chunks", chunks_text(trace)),
            MetadataRow("Chunk gaps", gaps_text(trace)),
        ]
    else:
        rows.append(MetadataRow("Type", "not streamed"))
    embeddings = embeddings_text(trace)
    if embeddings is not None:
        rows.append(MetadataRow("Embeddings", embeddings))
    rows += [
        MetadataRow("Tokens", usage_text(meta.usage)),
        MetadataRow("Cost", cost_text(meta.cost_usd, meta.usage)),
    ]
    return rows


def note_rows(trace: Trace) -> list[MetadataRow]:
    """What to know: Error, Redacted fields, Warnings (empty when none)."""
    meta = trace.metadata
    rows: list[MetadataRow] = []
    if meta.error is not None:
        rows.append(MetadataRow("Error", f"{meta.error.type}: {meta.error.message}", "error"))
    if meta.redacted_fields:
        rows.append(MetadataRow("Redacted", ", ".join(meta.redacted_fields), "warn"))
    rows += [MetadataRow("Warning", warning, "warn") for warning in meta.warnings]
    return rows


def metadata_rows(trace: Trace) -> list[MetadataRow]:
    """Every row: :func:`identity_rows`, :func:`measure_rows`, :func:`note_rows`."""
    return identity_rows(trace) + measure_rows(trace) + note_rows(trace)

"""The detail screen's header: a trace's metadata in two columns, then its notes."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from traceforge_shared.trace import Trace
from traceforge_tui import formatting as fmt

Row = tuple[str, str | Text]


def identity_rows(trace: Trace) -> list[Row]:
    """Which call: id, time, provider, model, route, endpoint."""
    model = trace.model or "-"
    if trace.response_model and trace.response_model != trace.model:
        model += f" (answered by {trace.response_model})"
    return [
        ("ID", trace.id),
        ("Time", fmt.local_time(trace.timestamp)),
        ("Provider", trace.provider),
        ("Model", model),
        ("Route", trace.route),
        ("Endpoint", f"{trace.metadata.method} {trace.endpoint}"),
    ]


def measure_rows(trace: Trace) -> list[Row]:
    """How it went: status, latency, first chunk, chunks, tokens, cost."""
    meta = trace.metadata
    rows: list[Row] = [
        ("Status", fmt.status(meta.status, meta.status_code)),
        ("Latency", f"{fmt.milliseconds(meta.latency_ms)} ms"),
    ]
    if meta.streaming:
        rows.append(("First chunk", f"{fmt.milliseconds(meta.first_chunk_latency_ms)} ms"))
        chunks = str(meta.total_chunks)
        if meta.chunks_buffered < meta.chunks_received:
            chunks += f" ({meta.chunks_buffered} of {meta.chunks_received} kept)"
        rows.append(("Chunks", chunks))
    else:
        rows.append(("Type", "not streamed"))
    if meta.usage is not None:
        usage = meta.usage
        rows.append(
            (
                "Tokens",
                f"{usage.prompt_tokens} in / {usage.completion_tokens} out "
                f"({usage.total_tokens} total)",
            )
        )
    else:
        rows.append(("Tokens", "-"))
    rows.append(("Cost", fmt.cost(meta.cost_usd)))
    return rows


def note_rows(trace: Trace) -> list[Row]:
    """What to know: the error, redacted fields, warnings (empty when none)."""
    meta = trace.metadata
    rows: list[Row] = []
    if meta.error is not None:
        rows.append(("Error", Text(f"{meta.error.type}: {meta.error.message}", style="red")))
    if meta.redacted_fields:
        rows.append(("Redacted", Text(", ".join(meta.redacted_fields), style="yellow")))
    for warning in meta.warnings:
        rows.append(("Warning", Text(warning, style="yellow")))
    return rows


def rows_text(rows: list[Row]) -> Text:
    """``rows`` as aligned ``label  value`` lines."""
    text = Text()
    if not rows:
        return text
    width = max(len(label) for label, _ in rows)
    for i, (label, value) in enumerate(rows):
        if i:
            text.append("\n")
        text.append(label.ljust(width + 2), style="bold")
        text.append(value)
    return text


def metadata_text(trace: Trace) -> Text:
    """All of a trace's metadata as one block of ``label  value`` lines."""
    return rows_text(identity_rows(trace) + measure_rows(trace) + note_rows(trace))


class TraceMeta(Vertical):
    """The metadata of ``trace``: identity and measures side by side, notes below."""

    DEFAULT_CSS = """
    TraceMeta {
        height: auto;
    }
    TraceMeta > Horizontal {
        height: auto;
    }
    TraceMeta .meta-column {
        width: 1fr;
        height: auto;
    }
    TraceMeta #meta-notes {
        height: auto;
    }
    """

    def __init__(self, trace: Trace, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = trace

    def compose(self) -> ComposeResult:
        """The two columns and the notes."""
        with Horizontal():
            yield Static(
                rows_text(identity_rows(self.trace)), id="meta-identity", classes="meta-column"
            )
            yield Static(
                rows_text(measure_rows(self.trace)), id="meta-measures", classes="meta-column"
            )
        notes = note_rows(self.trace)
        if notes:
            yield Static(rows_text(notes), id="meta-notes")

    @property
    def plain(self) -> str:
        """The metadata as shown, as plain text: identity, measures, notes (for tests)."""
        blocks = (identity_rows(self.trace), measure_rows(self.trace), note_rows(self.trace))
        return "\n".join(rows_text(rows).plain for rows in blocks if rows)

"""``traceforge export otlp``: send recorded traces and stored spans to an OpenTelemetry
endpoint or an OTLP/JSON lines file (a backfill of what ``export.otlp`` sends live)."""

from __future__ import annotations

from collections.abc import Iterator

import click

from traceforge_cli import context
from traceforge_cli.commands.trace import since_option
from traceforge_cli.context import home_option


@click.group()
def export() -> None:
    """Send recorded traces on to other tools (OpenTelemetry: export otlp)."""


@export.command("otlp")
@home_option
@click.option(
    "--since",
    metavar="AGE|DATE",
    default="2h",
    show_default=True,
    help="Only traces and spans since an age (30m, 2h, 7d) or date.",
)
@click.option(
    "--endpoint",
    metavar="URL",
    help="OTLP/HTTP base URL (http://collector:4318) [default: export.otlp.endpoint].",
)
@click.option(
    "--file",
    "file",
    metavar="PATH",
    help="Append OTLP/JSON lines to this file instead [default: export.otlp.file].",
)
@click.option(
    "--semconv",
    type=click.Choice(["v0.1", "legacy"]),
    default=None,
    help="GenAI attribute and metric names [default: export.otlp.semconv].",
)
@click.option(
    "--capture-content/--no-capture-content",
    default=None,
    help="Include the (redacted) messages [default: export.otlp.capture_content].",
)
def otlp(
    since: str,
    endpoint: str | None,
    file: str | None,
    semconv: str | None,
    capture_content: bool | None,
) -> None:
    """Export traces and spans as OpenTelemetry GenAI spans (OTLP/HTTP or OTLP/JSON file).

    Every recorded call since --since becomes a CLIENT span under its run's trace id (the
    app's traceparent), and every span received over OTLP or from the SDK is sent as stored.
    Given --endpoint or --file, only that destination is used; otherwise export.otlp in
    config.yaml. Progress goes to stderr; the last line says how many spans were sent.
    """
    import msgspec

    from traceforge_shared.otel.export_sdk import OtlpExport
    from traceforge_shared.spans import ns_from_iso
    from traceforge_shared.store import TraceFilter

    start = since_option(since)
    settings = context.config().export.otlp
    changes: dict[str, object] = {}
    if semconv is not None:
        changes["semconv"] = semconv
    if capture_content is not None:
        changes["capture_content"] = capture_content
    settings = msgspec.structs.replace(settings, **changes)
    if endpoint is None and file is None and not settings.enabled:
        raise click.UsageError(
            "nowhere to export: give --endpoint URL or --file PATH, or set export.otlp "
            "endpoint/file in config.yaml"
        )
    overridden = endpoint is not None or file is not None
    exporter = OtlpExport(
        settings,
        home=context.home(),
        endpoint=(endpoint or "") if overridden else None,
        file=(file or "") if overridden else None,
    )
    store = context.store()
    counts = {"traces": 0, "spans": 0}

    def spans() -> Iterator[object]:
        for trace in store.iter_traces(TraceFilter(since=start)):
            try:
                span = exporter.map_trace(trace)
            except ValueError:
                continue
            counts["traces"] += 1
            _progress(counts)
            yield span
        since_ns = ns_from_iso(start.isoformat())
        for stored in store.spans.iter_spans(since_ns=since_ns):
            if stored.source == "proxy":  # a recorded call: exported from its trace above
                continue
            counts["spans"] += 1
            _progress(counts)
            yield exporter.map_span(stored)

    where = exporter.endpoint if exporter.endpoint is not None else exporter.file
    try:
        sent = exporter.send(spans())  # type: ignore[arg-type]
    finally:
        exporter.shutdown()
    click.echo(
        f"exported {sent} span(s) to {where}: {counts['traces']} recorded call(s), "
        f"{counts['spans']} other span(s)",
        err=True,
    )


def _progress(counts: dict[str, int]) -> None:
    done = counts["traces"] + counts["spans"]
    if done % 500 == 0:
        click.echo(f"  {done} spans read ...", err=True)

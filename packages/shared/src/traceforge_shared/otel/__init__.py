"""OpenTelemetry: reading spans received over OTLP (``ingest_*`` modules) and writing runs
as OTLP (``export_*`` modules).

Nothing here decodes protobuf: the web API turns an OTLP request into plain
:class:`~traceforge_shared.otel.ingest_map.DecodedSpan` values first, so these modules are
pure and need no OpenTelemetry package.
"""

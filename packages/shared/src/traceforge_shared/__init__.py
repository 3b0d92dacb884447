"""TraceForge shared types and the trace store."""

from traceforge_shared.config import Config, ConfigError, load_config, resolve_home
from traceforge_shared.ids import new_trace_id, utc_timestamp
from traceforge_shared.store import (
    AmbiguousTraceIdError,
    InvalidTraceIdError,
    StoreError,
    TraceFilter,
    TraceNotFoundError,
    TraceSchemaError,
    TraceStore,
)
from traceforge_shared.trace import (
    ROUTES,
    SCHEMA_VERSION,
    TRACE_STATUSES,
    NativeCall,
    StreamChunk,
    Trace,
    TraceError,
    TraceMetadata,
    TraceSummary,
    Usage,
)

__all__ = [
    "ROUTES",
    "SCHEMA_VERSION",
    "TRACE_STATUSES",
    "AmbiguousTraceIdError",
    "Config",
    "ConfigError",
    "InvalidTraceIdError",
    "NativeCall",
    "StoreError",
    "StreamChunk",
    "Trace",
    "TraceError",
    "TraceFilter",
    "TraceMetadata",
    "TraceNotFoundError",
    "TraceSchemaError",
    "TraceStore",
    "TraceSummary",
    "Usage",
    "load_config",
    "new_trace_id",
    "resolve_home",
    "utc_timestamp",
]

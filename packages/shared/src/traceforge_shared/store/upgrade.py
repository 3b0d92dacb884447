"""Explicit upgrade chain for trace files written by older TraceForge versions.

Each entry of :data:`UPGRADES` turns a decoded trace document of version ``v`` into one of
version ``v + 1``. A document is upgraded one step at a time up to
:data:`~traceforge_shared.trace.SCHEMA_VERSION`; a document newer than that is rejected, never
guessed at (the mitmproxy ``io/compat.py`` approach).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from traceforge_shared.store.errors import TraceSchemaError
from traceforge_shared.trace import SCHEMA_VERSION

Document = dict[str, Any]

#: ``{from_version: step}``; ``step(doc)`` returns the document at ``from_version + 1``.
#: Version 1 is the first released layout, so there is nothing to upgrade yet.
UPGRADES: dict[int, Callable[[Document], Document]] = {}


def upgrade_document(doc: Document, *, source: str = "trace") -> Document:
    """Bring a decoded trace document up to :data:`SCHEMA_VERSION`.

    Raises:
        TraceSchemaError: the version is missing, not an integer, newer than this code
            understands, or older with no upgrade step.
    """
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise TraceSchemaError(f"{source}: no integer schema_version; not a TraceForge trace")
    if version > SCHEMA_VERSION:
        raise TraceSchemaError(
            f"{source}: schema_version {version} is newer than this TraceForge understands "
            f"({SCHEMA_VERSION}); upgrade TraceForge to read it"
        )
    while version < SCHEMA_VERSION:
        step = UPGRADES.get(version)
        if step is None:
            raise TraceSchemaError(
                f"{source}: schema_version {version} is too old; no upgrade step to {version + 1}"
            )
        doc = step(dict(doc))
        version += 1
        doc["schema_version"] = version
    return doc

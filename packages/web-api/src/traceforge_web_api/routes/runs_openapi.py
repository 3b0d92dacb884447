"""The OpenAPI description of :mod:`traceforge_web_api.routes.runs` (``/api/runs``,
``/api/sessions``), merged into the document by :mod:`traceforge_web_api.routes.openapi`."""

from __future__ import annotations

from typing import Any

from traceforge_shared.spans import SPAN_KINDS, SPAN_STATUSES, Span
from traceforge_web_api.params import MAX_OFFSET
from traceforge_web_api.routes.openapi import _DATETIME, _error, _json, _param, _ref
from traceforge_web_api.routes.runs import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_TEXT_CHARS,
    RunPage,
    SessionDetail,
    SessionPage,
)

#: The structs whose schemas the run routes use.
RUN_STRUCTS: tuple[type[Any], ...] = (Span, RunPage, SessionPage, SessionDetail)

_MS = {"type": "number", "minimum": 0}

#: Schemas written by hand: the run tree (a span's fields plus its place in the tree).
RUN_SCHEMAS: dict[str, Any] = {
    "RunNode": {
        "description": "A span of a run's tree: the span's fields, its start offset from the "
        "run's start and duration in ms, its depth, whether its parent is missing from the run, "
        "and its children by start.",
        "allOf": [
            _ref("Span"),
            {
                "type": "object",
                "properties": {
                    "offset_ms": _MS,
                    "duration_ms": _MS,
                    "depth": {"type": "integer", "minimum": 0},
                    "orphan": {"type": "boolean"},
                    "children": {"type": "array", "items": _ref("RunNode")},
                },
                "required": ["offset_ms", "duration_ms", "depth", "orphan", "children"],
            },
        ],
    },
    "RunTree": {
        "type": "object",
        "description": "A run as a tree (times in Unix epoch ns and ms).",
        "properties": {
            "trace_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            "start_ns": {"type": "integer"},
            "end_ns": {"type": "integer"},
            "duration_ms": _MS,
            "span_count": {"type": "integer", "minimum": 0},
            "errors": {"type": "integer", "minimum": 0},
            "summary": {"anyOf": [_ref("RunSummary"), {"type": "null"}]},
            "spans": {"type": "array", "items": _ref("RunNode")},
        },
        "required": [
            "trace_id",
            "start_ns",
            "end_ns",
            "duration_ms",
            "span_count",
            "errors",
            "summary",
            "spans",
        ],
    },
}

_LIMIT = _param(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    "Page size.",
)
_OFFSET = _param(
    "offset",
    {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
    "Matching rows to skip.",
)
_TEXT = {"type": "string", "maxLength": MAX_TEXT_CHARS}
_RUN_ID = _param(
    "run_id",
    {"type": "string", "pattern": "^[0-9A-Fa-f]{1,32}$"},
    "A run id (W3C trace id) or a unique prefix of one (hexadecimal).",
    where="path",
)


def run_paths() -> dict[str, Any]:
    """The path items of ``/api/runs``, ``/api/runs/{run_id}``, ``/api/sessions`` and
    ``/api/sessions/{session_id}``."""
    return {
        "/api/runs": {
            "get": {
                "operationId": "listRuns",
                "summary": "One page of runs (trees of spans), newest start first.",
                "parameters": [
                    _LIMIT,
                    _OFFSET,
                    _param(
                        "cursor",
                        {"type": "string"},
                        "The next_cursor of the previous page (not with offset).",
                    ),
                    _param("session", _TEXT, "Only the runs of this session id."),
                    _param("status", {"enum": list(SPAN_STATUSES)}, "The run's status."),
                    _param("kind", {"enum": list(SPAN_KINDS)}, "The root span's kind."),
                    _param("tag", _TEXT, "Only runs with a span carrying this tag."),
                    _param("q", _TEXT, "Text in the root span's name (any case)."),
                    _param("since", _DATETIME, "Runs starting at or after (no offset: UTC)."),
                    _param("until", _DATETIME, "Runs starting before (no offset: UTC)."),
                ],
                "responses": {
                    "200": _json(_ref("RunPage"), "The page."),
                    "400": _error("A bad query parameter or cursor."),
                },
            }
        },
        "/api/runs/{run_id}": {
            "get": {
                "operationId": "getRun",
                "summary": "A run's spans as a tree, with offsets for a waterfall.",
                "parameters": [_RUN_ID],
                "responses": {
                    "200": _json(_ref("RunTree"), "The run."),
                    "400": _error("Not a run id (ids are hexadecimal)."),
                    "404": _error("No such run."),
                    "409": _error("Ambiguous id prefix; `matches` lists some of the runs."),
                },
            }
        },
        "/api/sessions": {
            "get": {
                "operationId": "listSessions",
                "summary": "One page of sessions, latest activity first.",
                "parameters": [
                    _LIMIT,
                    _OFFSET,
                    _param("since", _DATETIME, "Sessions with a run starting at or after."),
                ],
                "responses": {
                    "200": _json(_ref("SessionPage"), "The page."),
                    "400": _error("A bad query parameter."),
                },
            }
        },
        "/api/sessions/{session_id}": {
            "get": {
                "operationId": "getSession",
                "summary": "A session's totals and its runs, oldest first.",
                "parameters": [
                    _param("session_id", {"type": "string"}, "The session id.", where="path")
                ],
                "responses": {
                    "200": _json(_ref("SessionDetail"), "The session."),
                    "404": _error("No run has this session id."),
                },
            }
        },
    }

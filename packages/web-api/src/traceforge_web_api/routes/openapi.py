"""``GET /openapi.json``: the OpenAPI 3.1 description of every route of the API.

Component schemas are generated from the msgspec structs the routes encode and decode
(``msgspec.json.schema_components``), so the document cannot drift from the answers; the
parameters and status codes are declared here, next to each other. When the API has a token
the document declares the bearer scheme as required for every operation.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from traceforge_shared.analytics import Analytics
from traceforge_shared.analytics_period import RANGES, PeriodAnalytics
from traceforge_shared.diff import TraceDiff
from traceforge_shared.evals import TestRun
from traceforge_shared.store.export import EXPORT_FORMATS
from traceforge_shared.trace import TRACE_STATUSES, Trace
from traceforge_web_api.params import MAX_OFFSET, MAX_Q_CHARS
from traceforge_web_api.routes.analytics import BUCKETS
from traceforge_web_api.routes.config import ConfigMerge, ConfigRefused, ConfigText, ConfigView
from traceforge_web_api.routes.tests import (
    TestDetail,
    TestFromTrace,
    TestFromYaml,
    TestList,
    TestRefused,
    TestRunRequest,
)
from traceforge_web_api.routes.traces import DEFAULT_LIMIT, MAX_LIMIT, TracePage
from traceforge_web_api.testfiles import NAME_RE

#: ``app.state`` attribute: whether the API requires a bearer token.
SECURED_STATE_KEY = "token_required"

VERSION = "0.1.0"

_STRUCTS: tuple[type[Any], ...] = (
    Trace,
    TracePage,
    TraceDiff,
    Analytics,
    PeriodAnalytics,
    ConfigView,
    ConfigText,
    ConfigMerge,
    ConfigRefused,
    TestList,
    TestDetail,
    TestFromTrace,
    TestFromYaml,
    TestRunRequest,
    TestRefused,
    TestRun,
)

_ERROR = {
    "type": "object",
    "description": "An error; some carry more keys (`matches` of an ambiguous id prefix, "
    "`missing` test names).",
    "properties": {
        "error": {"type": "string"},
        "matches": {"type": "array", "items": {"type": "string"}},
        "missing": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["error"],
}

_HEALTH = {
    "type": "object",
    "properties": {"status": {"const": "ok"}, "traces": {"type": "integer", "minimum": 0}},
    "required": ["status", "traces"],
    "additionalProperties": False,
}

_DATETIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(*names: str) -> dict[str, Any]:
    """A required JSON request body: the struct ``names[0]``, or one of ``names``."""
    refs = [_ref(name) for name in names]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _param(
    name: str,
    schema: dict[str, Any],
    description: str,
    *,
    where: str = "query",
    required: bool = False,
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
    }


_FILTERS = [
    _param("model", {"type": "string"}, "Exact model name."),
    _param("provider", {"type": "string"}, "Exact provider name (openai, anthropic, ...)."),
    _param("status", {"enum": list(TRACE_STATUSES)}, "Outcome of the call."),
    _param("streaming", {"enum": ["true", "false"]}, "Only streamed or only non-streamed calls."),
    _param("since", _DATETIME, "Only traces at or after this time (no offset: UTC)."),
    _param("until", _DATETIME, "Only traces before this time (no offset: UTC)."),
    _param(
        "q",
        {"type": "string", "maxLength": MAX_Q_CHARS},
        "Full-text search: every word (or double-quoted phrase) must occur, any case, in the"
        " messages, the answer, the error message, the model or the endpoint.",
    ),
    _param(
        "filter",
        {"type": "string"},
        "A filter in the shared grammar (docs/filters.md), ANDed with the other parameters:"
        " model:~gemini status:error latency:>500 cost:>0.01 session:s tag:t since:2h words.",
    ),
]

_TRACE_ID = _param(
    "trace_id",
    {"type": "string", "pattern": "^[0-9A-Fa-f]{1,32}$"},
    "A trace id or a unique prefix of one (hexadecimal).",
    where="path",
)
_TEST_NAME = _param(
    "name",
    {"type": "string", "pattern": NAME_RE.pattern},
    "A test file's path below <home>/tests without the suffix (sky, smoke/sky).",
    where="path",
)

_TRACE_ERRORS = {
    "400": _error("Not a trace id (ids are hexadecimal)."),
    "404": _error("No such trace."),
    "409": _error("Ambiguous id prefix; `matches` lists some of the traces."),
}
_BODY_ERRORS = {
    "400": _error("The body is not JSON or not of a documented shape."),
    "413": _error("The body is larger than 1 MiB."),
}


def _paths() -> dict[str, Any]:
    return {
        "/api/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness check; counts the stored traces.",
                "responses": {"200": _json(_HEALTH, "The API and its store work.")},
            }
        },
        "/api/traces": {
            "get": {
                "operationId": "listTraces",
                "summary": "One page of trace summaries, newest first.",
                "parameters": [
                    _param(
                        "limit",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_LIMIT,
                            "default": DEFAULT_LIMIT,
                        },
                        "Page size.",
                    ),
                    _param(
                        "offset",
                        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
                        "Matching traces to skip (not with cursor).",
                    ),
                    _param(
                        "cursor",
                        {"type": "string"},
                        "The next_cursor of the previous page (not with offset).",
                    ),
                    *_FILTERS,
                ],
                "responses": {
                    "200": _json(_ref("TracePage"), "The page."),
                    "400": _error("A bad query parameter."),
                },
            }
        },
        "/api/traces/diff": {
            "get": {
                "operationId": "diffTraces",
                "summary": "What differs between trace id1 (before) and trace id2 (after).",
                "parameters": [
                    _param("id1", {"type": "string"}, "The first trace.", required=True),
                    _param("id2", {"type": "string"}, "The second trace.", required=True),
                ],
                "responses": {
                    "200": _json(_ref("TraceDiff"), "The diff."),
                    **_TRACE_ERRORS,
                    "400": _error("A missing or non-hexadecimal id."),
                    "422": _error("A trace file cannot be read."),
                },
            }
        },
        "/api/traces/{trace_id}": {
            "get": {
                "operationId": "getTrace",
                "summary": "The whole trace: request, response, chunks, metadata.",
                "parameters": [_TRACE_ID],
                "responses": {
                    "200": _json(_ref("Trace"), "The trace."),
                    **_TRACE_ERRORS,
                    "422": _error("The trace file is corrupt or of an unsupported version."),
                },
            },
            "delete": {
                "operationId": "deleteTrace",
                "summary": "Delete a trace.",
                "parameters": [_TRACE_ID],
                "responses": {"204": {"description": "Deleted."}, **_TRACE_ERRORS},
            },
        },
        "/api/analytics": {
            "get": {
                "operationId": "analytics",
                "summary": "Dashboard numbers over the traces with since <= timestamp < until.",
                "parameters": [
                    _param("since", _DATETIME, "Start of the range (no offset: UTC)."),
                    _param("until", _DATETIME, "End of the range, exclusive."),
                    _param("bucket", {"enum": list(BUCKETS)}, "Timeline bucket width."),
                ],
                "responses": {
                    "200": _json(_ref("Analytics"), "The numbers."),
                    "400": _error("A bad query parameter."),
                },
            }
        },
        "/api/analytics/period": {
            "get": {
                "operationId": "analyticsPeriod",
                "summary": "The dashboard's numbers over a range up to now, and the range before.",
                "parameters": [
                    _param("range", {"enum": list(RANGES)}, "The range (default 24h)."),
                    *_FILTERS,
                ],
                "responses": {
                    "200": _json(_ref("PeriodAnalytics"), "The numbers."),
                    "400": _error("A bad query parameter."),
                },
            }
        },
        "/api/config": {
            "get": {
                "operationId": "getConfig",
                "summary": "config.yaml: its text and the loaded config (or why it fails).",
                "responses": {"200": _json(_ref("ConfigView"), "The config.")},
            },
            "put": {
                "operationId": "putConfig",
                "summary": "Replace config.yaml ({yaml}) or merge settings into it ({merge}).",
                "requestBody": _body("ConfigText", "ConfigMerge"),
                "responses": {
                    "200": _json(_ref("ConfigView"), "The new config."),
                    **_BODY_ERRORS,
                    "422": _json(_ref("ConfigRefused"), "Refused; the file is unchanged."),
                },
            },
        },
        "/api/tests": {
            "get": {
                "operationId": "listTests",
                "summary": "The test files under <home>/tests, subfolders included.",
                "responses": {"200": _json(_ref("TestList"), "The tests.")},
            },
            "post": {
                "operationId": "createTest",
                "summary": "Make a test from a trace, or save a test file's text.",
                "requestBody": _body("TestFromTrace", "TestFromYaml"),
                "responses": {
                    "201": _json(_ref("TestDetail"), "Saved."),
                    **_BODY_ERRORS,
                    "404": _error("No such trace."),
                    "409": _error("The test exists (send overwrite), or an ambiguous trace id."),
                    "422": _json(
                        {"anyOf": [_ref("TestRefused"), _ref("Error")]},
                        "The loader refused the test, or the trace is not a chat call.",
                    ),
                },
            },
        },
        "/api/tests/run": {
            "post": {
                "operationId": "runTests",
                "summary": "Run tests (replay: offline; proxy: through the capture proxy).",
                "requestBody": _body("TestRunRequest"),
                "responses": {
                    "200": _json(_ref("TestRun"), "The run, also saved under <home>/results."),
                    **_BODY_ERRORS,
                    "404": _error("A named test does not exist; `missing` lists them."),
                    "501": _error("proxy mode without the capture proxy (traceforge start)."),
                },
            }
        },
        "/api/tests/{name}": {
            "get": {
                "operationId": "getTest",
                "summary": "A test file: its text and the loaded test (or why it fails).",
                "parameters": [_TEST_NAME],
                "responses": {
                    "200": _json(_ref("TestDetail"), "The test."),
                    "400": _error("Not a test name."),
                    "404": _error("No such test."),
                },
            },
            "delete": {
                "operationId": "deleteTest",
                "summary": "Delete a test file.",
                "parameters": [_TEST_NAME],
                "responses": {
                    "204": {"description": "Deleted."},
                    "400": _error("Not a test name."),
                    "404": _error("No such test."),
                },
            },
        },
        "/api/export": {
            "get": {
                "operationId": "exportTraces",
                "summary": "Every matching trace, streamed as a download.",
                "parameters": [
                    _param(
                        "format",
                        {"enum": list(EXPORT_FORMATS), "default": "jsonl"},
                        "json: an array of traces; jsonl: a trace per line; csv: summaries.",
                    ),
                    *_FILTERS,
                ],
                "responses": {
                    "200": {
                        "description": "The traces, newest first.",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": _ref("Trace")}
                            },
                            "application/x-ndjson": {"schema": {"type": "string"}},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "400": _error("A bad query parameter."),
                },
            }
        },
        "/api/events": {
            "get": {
                "operationId": "events",
                "summary": "Server-sent events: `event: trace` with each new trace's summary.",
                "responses": {
                    "200": {
                        "description": "An endless event stream (keep-alive comments every 15 s).",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "503": _error("New traces cannot be watched, or too many clients."),
                },
            }
        },
        "/v1/traces": {
            "post": {
                "operationId": "otlpExportTraces",
                "summary": "OTLP/HTTP span ingest (ExportTraceServiceRequest, protobuf or JSON).",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/x-protobuf": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                },
                "responses": {
                    "200": _json(
                        {"type": "object"},
                        "ExportTraceServiceResponse; partialSuccess when spans were rejected.",
                    ),
                    "400": _error("The body is not an OTLP trace export request."),
                    "415": _error("The body is neither application/x-protobuf nor JSON."),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
            }
        },
        "/docs": {
            "get": {
                "operationId": "docs",
                "summary": "This document as a reference page (Redoc, served locally).",
                "responses": {
                    "200": {
                        "description": "The HTML page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/docs/redoc.standalone.js": {
            "get": {
                "operationId": "docsScript",
                "summary": "The vendored Redoc bundle the docs page runs.",
                "responses": {
                    "200": {
                        "description": "JavaScript.",
                        "content": {"text/javascript": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def _add_guard_errors(method: str, responses: dict[str, Any]) -> None:
    """The answers of :mod:`traceforge_web_api.security`, which every operation may give."""
    responses.setdefault("413", _error("The body is larger than the API accepts (10 MiB)."))
    responses.setdefault("414", _error("The query string is longer than 8 KiB."))
    responses.setdefault("421", _error("The Host is not a loopback or configured name."))
    if method not in ("get", "head", "options"):
        responses.setdefault("403", _error("The request comes from a page of another site."))
        responses.setdefault("415", _error("The body is not sent as application/json."))


def build_openapi(*, secured: bool = False) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the API (a new dict on each call).

    ``secured``: the API requires ``Authorization: Bearer <token>``; every operation then
    also answers ``401``.
    """
    from traceforge_web_api.routes.runs_openapi import RUN_SCHEMAS, RUN_STRUCTS, run_paths

    _, components = msgspec.json.schema_components(
        (*_STRUCTS, *RUN_STRUCTS), ref_template="#/components/schemas/{name}"
    )
    components["Error"] = _ERROR
    components.update(RUN_SCHEMAS)
    paths = {**_paths(), **run_paths()}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "TraceForge API",
            "version": VERSION,
            "description": "Recorded LLM calls (traces), their analytics and diffs, the "
            "configuration and regression tests of a TraceForge home. Errors are JSON "
            '`{"error": message}`.',
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    for operations in paths.values():
        for method, operation in operations.items():
            _add_guard_errors(method, operation["responses"])
    if secured:
        document["security"] = [{"bearer": []}]
        for operations in paths.values():
            for operation in operations.values():
                operation["responses"]["401"] = _error("Missing or wrong API token.")
    return document


def openapi(request: Request) -> Response:
    """``GET /openapi.json`` -> ``200`` the OpenAPI document."""
    cached = getattr(request.app.state, "openapi_document", None)
    if cached is None:
        secured = bool(getattr(request.app.state, SECURED_STATE_KEY, False))
        cached = msgspec.json.encode(build_openapi(secured=secured))
        request.app.state.openapi_document = cached
    return Response(cached, media_type="application/json")


routes: list[BaseRoute] = [
    Route("/openapi.json", openapi, methods=["GET"], name="openapi"),
]

"""Property-based fuzzing of every operation of /openapi.json with schemathesis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from traceforge_shared.evals import TestCase, TestRun
from traceforge_shared.evals.replay import replay_tests
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace
from traceforge_web_api import create_app
from traceforge_web_api.routes import events

TEST_YAML = """\
name: Sky
tags: [smoke]
request: {model: gpt-4o-mini, messages: [{role: user, content: Say hello}]}
assertions: [{type: contains, value: first}]
"""


@pytest.fixture
def api_schema(
    store: TraceStore, all_traces: list[Trace], monkeypatch: pytest.MonkeyPatch
) -> OpenApiSchema:
    """The app over the nine traces and a test file, loaded from its own /openapi.json."""
    tests = Path(store.home) / "tests"
    tests.mkdir(parents=True)
    (tests / "sky.yaml").write_text(TEST_YAML, encoding="utf-8")
    monkeypatch.setattr(events, "KEEPALIVE_S", 0.05)

    async def runner(cases: list[tuple[Path, TestCase]], mode: str) -> TestRun:
        """Stands in for the proxy's runner (``traceforge start`` gives one)."""
        return await replay_tests(cases, store)

    # schemathesis's ASGI client sends `Host: testserver`: a configured name, like a user's.
    app = create_app(store, test_runner=runner, allowed_hosts=["testserver"])
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api(case: schemathesis.Case[Any]) -> None:
    # The event stream never ends: read it for a second (schemathesis keeps what arrived).
    timeout = 1.0 if case.path == "/api/events" else 30.0
    case.call_and_validate(
        timeout=timeout,
        checks=[
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            unsupported_method,
            allow_header_conformance,
        ],
    )

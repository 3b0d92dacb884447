"""Fixtures: a trace store in ``tmp_path`` and a TestClient for the API over it.

The traces are :func:`traceforge_shared.testing.make_trace` OpenAI and Ollama calls and
Anthropic and Gemini calls built from recorded provider transcripts (:mod:`.factories`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_web_api import create_app

from .factories import (
    BASE_EPOCH,
    LOOPBACK_URL,
    anthropic_message_trace,
    anthropic_stream_trace,
    gemini_content_trace,
    gemini_stream_trace,
)


def pytest_configure(config: pytest.Config) -> None:
    """Keep the caches hypothesis (under schemathesis) writes at collection time out of the
    working tree, unless ``$HYPOTHESIS_STORAGE_DIRECTORY`` says where they go."""
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "traceforge-hypothesis")


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "home", fsync=False)


@pytest.fixture
def traces(store: TraceStore) -> list[Trace]:
    """Five traces, oldest first: several models, providers, statuses; streamed and not."""
    made = [
        make_trace(model="gpt-4o-mini", epoch_s=BASE_EPOCH, text="first"),
        make_trace(
            model="gpt-4o", epoch_s=BASE_EPOCH + 60, streaming=True, text="streamed answer here"
        ),
        make_trace(
            model="gpt-4o-mini", epoch_s=BASE_EPOCH + 120, status="error", status_code=429, text=""
        ),
        make_trace(
            model="llama3",
            provider="ollama",
            epoch_s=BASE_EPOCH + 180,
            streaming=True,
            text="local model",
        ),
        make_trace(
            model="gpt-4o",
            epoch_s=BASE_EPOCH + 240,
            status="upstream_error",
            status_code=502,
            text="",
        ),
    ]
    for trace in made:
        store.save(trace)
    return made


@pytest.fixture
def provider_traces(store: TraceStore) -> list[Trace]:
    """Four Anthropic and Gemini traces, oldest first, after :func:`traces`' five:
    anthropic streamed, anthropic converted, gemini streamed, gemini converted."""
    made = [
        anthropic_stream_trace(BASE_EPOCH + 300),
        anthropic_message_trace(BASE_EPOCH + 360),
        gemini_stream_trace(BASE_EPOCH + 420),
        gemini_content_trace(BASE_EPOCH + 480),
    ]
    for trace in made:
        store.save(trace)
    return made


@pytest.fixture
def all_traces(traces: list[Trace], provider_traces: list[Trace]) -> list[Trace]:
    """All nine traces, oldest first."""
    return [*traces, *provider_traces]


@pytest.fixture
def client(store: TraceStore) -> Iterator[TestClient]:
    with TestClient(create_app(store), base_url=LOOPBACK_URL) as test_client:
        yield test_client

"""Fixtures: a trace store in ``tmp_path`` and a TestClient for the API over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_web_api import create_app

#: 2026-11-23T08:00:00Z; traces below are one minute apart after it.
BASE_EPOCH = 1795420800.0


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
def client(store: TraceStore) -> Iterator[TestClient]:
    with TestClient(create_app(store)) as test_client:
        yield test_client

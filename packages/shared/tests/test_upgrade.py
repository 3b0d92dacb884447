"""Schema versions of trace files: newer is refused, older is upgraded through UPGRADES."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

import traceforge_shared.store.upgrade as upgrade_module
from traceforge_shared.store import TraceSchemaError, TraceStore
from traceforge_shared.store.files import decode_trace, encode_trace, read_trace_file
from traceforge_shared.store.upgrade import upgrade_document
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import SCHEMA_VERSION, Trace

BASE_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
def store(traceforge_home: Path) -> Iterator[TraceStore]:
    s = TraceStore(fsync=False)
    yield s
    s.index.close()


def document(trace: Trace) -> dict[str, Any]:
    """The trace as the plain JSON document its file holds."""
    doc = msgspec.json.decode(encode_trace(trace))
    assert isinstance(doc, dict)
    return doc


def write_doc(store: TraceStore, trace_id: str, doc: object) -> Path:
    store.traces_dir.mkdir(parents=True, exist_ok=True)
    path = store.traces_dir / f"{trace_id}.json"
    path.write_bytes(msgspec.json.encode(doc))
    return path


def test_current_version_is_written_and_read(store: TraceStore) -> None:
    trace = make_trace()
    path = store.save(trace)
    assert msgspec.json.decode(path.read_bytes())["schema_version"] == SCHEMA_VERSION
    assert read_trace_file(path) == trace


# -- newer -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ahead", [1, 2, 1000])
def test_newer_version_is_refused(store: TraceStore, ahead: int) -> None:
    keep = make_trace(epoch_s=BASE_EPOCH)
    store.save(keep)
    future = make_trace(epoch_s=BASE_EPOCH + 1)
    doc = document(future)
    doc["schema_version"] = SCHEMA_VERSION + ahead
    doc["field_from_the_future"] = {"x": 1}
    path = write_doc(store, future.id, doc)

    with pytest.raises(TraceSchemaError) as info:
        store.get(future.id)
    message = str(info.value)
    assert f"schema_version {SCHEMA_VERSION + ahead}" in message
    assert "newer" in message
    assert f"({SCHEMA_VERSION})" in message
    assert "upgrade TraceForge" in message
    assert str(path) in message

    # Listing skips it rather than failing; the other trace is still there.
    assert [s.id for s in store.list()] == [keep.id]
    assert [t.id for t in store.iter_traces()] == [keep.id]


def test_newer_version_refused_by_decode_trace() -> None:
    doc = document(make_trace())
    doc["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(
        TraceSchemaError,
        match=rf"my-file: schema_version {SCHEMA_VERSION + 1} "
        r"is newer",
    ):
        decode_trace(msgspec.json.encode(doc), source="my-file")


# -- missing or malformed ------------------------------------------------------------------------


def test_missing_schema_version_is_refused(store: TraceStore) -> None:
    trace = make_trace()
    doc = document(trace)
    del doc["schema_version"]
    path = write_doc(store, trace.id, doc)
    with pytest.raises(TraceSchemaError, match="no integer schema_version") as info:
        store.get(trace.id)
    assert str(path) in str(info.value)
    assert store.list() == []


@pytest.mark.parametrize("version", [None, "1", True, 1.5, [1], {"v": 1}])
def test_non_integer_schema_version_is_refused(store: TraceStore, version: object) -> None:
    trace = make_trace()
    doc = document(trace)
    doc["schema_version"] = version
    write_doc(store, trace.id, doc)
    with pytest.raises(TraceSchemaError):
        store.get(trace.id)
    assert store.list() == []


@pytest.mark.parametrize("version", [None, "1", True, False, 1.0])
def test_upgrade_document_rejects_non_integers(version: object) -> None:
    with pytest.raises(TraceSchemaError, match="no integer schema_version"):
        upgrade_document({"schema_version": version}, source="x.json")


# -- older: the upgrade chain ------------------------------------------------------------------


def rename_endpoint(doc: dict[str, Any]) -> dict[str, Any]:
    """The 0 -> 1 step: version 0 called the endpoint ``api_path``."""
    doc["endpoint"] = doc.pop("api_path")
    return doc


def version_0_of(trace: Trace) -> dict[str, Any]:
    doc = document(trace)
    doc["api_path"] = doc.pop("endpoint")
    doc["schema_version"] = 0
    return doc


def test_older_version_is_upgraded(store: TraceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def step(doc: dict[str, Any]) -> dict[str, Any]:
        calls.append(dict(doc))
        return rename_endpoint(doc)

    monkeypatch.setattr(upgrade_module, "UPGRADES", {0: step})
    trace = make_trace(epoch_s=BASE_EPOCH, model="legacy-model")
    old_doc = version_0_of(trace)
    assert "endpoint" not in old_doc
    path = write_doc(store, trace.id, old_doc)

    got = store.get(trace.id)
    assert got == trace
    assert got.endpoint == "/v1/chat/completions"
    assert got.schema_version == SCHEMA_VERSION
    assert len(calls) == 1
    assert calls[0]["schema_version"] == 0
    assert calls[0]["api_path"] == "/v1/chat/completions"

    # The store indexes the upgraded trace.
    [summary] = store.list()
    assert summary.id == trace.id
    assert summary.endpoint == "/v1/chat/completions"
    assert summary.model == "legacy-model"

    # Reading never rewrites the file on disk.
    assert msgspec.json.decode(path.read_bytes())["schema_version"] == 0


def test_upgrade_step_gets_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upgrade_module, "UPGRADES", {0: rename_endpoint})
    original = version_0_of(make_trace())
    upgraded = upgrade_document(original)
    assert upgraded["schema_version"] == SCHEMA_VERSION
    assert upgraded["endpoint"] == "/v1/chat/completions"
    assert original["schema_version"] == 0
    assert original["api_path"] == "/v1/chat/completions"
    assert "endpoint" not in original


def test_upgrade_chain_runs_every_step_in_order(
    store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[int] = []

    def minus_one_to_zero(doc: dict[str, Any]) -> dict[str, Any]:
        order.append(doc["schema_version"])
        doc["api_path"] = doc.pop("path_v_minus_1")
        return doc

    def zero_to_one(doc: dict[str, Any]) -> dict[str, Any]:
        order.append(doc["schema_version"])
        return rename_endpoint(doc)

    monkeypatch.setattr(upgrade_module, "UPGRADES", {0: zero_to_one, -1: minus_one_to_zero})
    trace = make_trace()
    doc = version_0_of(trace)
    doc["path_v_minus_1"] = doc.pop("api_path")
    doc["schema_version"] = -1
    write_doc(store, trace.id, doc)

    assert store.get(trace.id) == trace
    assert order == [-1, 0]


def test_older_version_without_step_is_refused(store: TraceStore) -> None:
    assert 0 not in upgrade_module.UPGRADES
    trace = make_trace()
    path = write_doc(store, trace.id, version_0_of(trace))
    with pytest.raises(TraceSchemaError) as info:
        store.get(trace.id)
    message = str(info.value)
    assert "schema_version 0 is too old" in message
    assert "no upgrade step to 1" in message
    assert str(path) in message
    assert store.list() == []


def test_broken_chain_is_refused(store: TraceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upgrade_module, "UPGRADES", {0: rename_endpoint})
    trace = make_trace()
    doc = version_0_of(trace)
    doc["schema_version"] = -1
    write_doc(store, trace.id, doc)
    with pytest.raises(
        TraceSchemaError, match="schema_version -1 is too old; no upgrade step to 0"
    ):
        store.get(trace.id)


def test_step_producing_an_invalid_trace_is_a_schema_error(
    store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upgrade_module, "UPGRADES", {0: lambda doc: doc})  # forgets the rename
    trace = make_trace()
    write_doc(store, trace.id, version_0_of(trace))
    with pytest.raises(TraceSchemaError, match="endpoint"):
        store.get(trace.id)
    assert store.list() == []

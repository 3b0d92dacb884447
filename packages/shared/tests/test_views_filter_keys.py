"""Every key of the filter grammar, applied to a real store (traceforge_shared.views.filters
over traceforge_shared.store), and the error of every kind of bad term."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace, TraceMetadata
from traceforge_shared.views.filters import FilterError, FilterQuery, parse_filter

NOW_S = time.time()


def _with(trace: Trace, **fields: object) -> Trace:
    return msgspec.structs.replace(trace, **fields)


def _meta(trace: Trace, **fields: object) -> Trace:
    return _with(trace, metadata=msgspec.structs.replace(trace.metadata, **fields))


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "home", fsync=False)


@pytest.fixture
def traces(store: TraceStore) -> dict[str, Trace]:
    """Named traces, one trait each, a minute apart (``old`` is three hours old)."""
    made = {
        "flash": make_trace(model="gemini-2.0-flash", provider="gemini", latency_ms=900.0),
        "pro": make_trace(model="Gemini-1.5-PRO", provider="gemini", latency_ms=450.0),
        "mini": make_trace(model="gpt-4o-mini", latency_ms=120.0),
        "http": make_trace(model="gpt-4o", status="error", status_code=429),
        "down": make_trace(model="gpt-4o", status="upstream_error", status_code=502),
        "gone": make_trace(
            model="claude-3-5-haiku", provider="anthropic", status="client_disconnected"
        ),
        "cut": make_trace(model="gpt-4o", status="incomplete"),
        "old": make_trace(model="gpt-4o", epoch_s=NOW_S - 3 * 3600),
    }
    made["flash"] = _meta(made["flash"], cost_usd=0.02, first_chunk_latency_ms=400.0)
    made["pro"] = _meta(made["pro"], cost_usd=0.005, first_chunk_latency_ms=150.0)
    made["mini"] = _with(made["mini"], session_id="chat-42", tags=["nightly", "eu"])
    made["http"] = _with(made["http"], tags=["nightly"], route="converted")
    made["cut"] = _with(made["cut"], meta={"source": "test"})
    for trace in made.values():
        store.save(trace)
    return made


def _names(store: TraceStore, traces: dict[str, Trace], text: str) -> set[str]:
    by_id = {trace.id: name for name, trace in traces.items()}
    return {by_id[s.id] for s in store.list(parse_filter(text).to_filter(), limit=100)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model:~gemini", {"flash", "pro"}),
        ("model:~GEMINI-1.5", {"pro"}),
        ("model:gemini*flash", {"flash"}),
        ("model:gpt-4o", {"http", "down", "cut", "old"}),
        ("model:gemini", set()),  # exact stays exact
        ("provider:~anthro", {"gone"}),
        ("status:error", {"http", "down", "gone", "cut"}),
        ("status:failed", {"http", "down", "gone", "cut"}),
        ("status:http_error", {"http"}),
        ("status:upstream_error", {"down"}),
        ("status:upstream_error,incomplete", {"down", "cut"}),
        ("status:ok provider:gemini", {"flash", "pro"}),
        ("latency:>500", {"flash"}),
        ("latency:>=450 latency:<1s", {"flash", "pro"}),
        ("latency:<=120", {"mini"}),
        ("ttft:<200", {"pro"}),
        ("cost:>0.01", {"flash"}),
        ("cost:<=$0.01", {"pro"}),
        ("tokens:>=15 model:~4o-mini", {"mini"}),
        ("tokens:>1k", set()),
        ("session:chat-42", {"mini"}),
        ("tag:nightly", {"mini", "http"}),
        ("tag:nightly tag:eu", {"mini"}),
        ("tag:night", set()),  # whole tags only
        ("route:converted", {"http"}),
        ("source:test", {"cut"}),
        ("since:1h model:gpt-4o", {"http", "down", "cut"}),
        ("until:1h", {"old"}),
    ],
)
def test_every_key_selects_its_traces(
    store: TraceStore, traces: dict[str, Trace], text: str, expected: set[str]
) -> None:
    assert _names(store, traces, text) == expected


def test_id_prefix(store: TraceStore, traces: dict[str, Trace]) -> None:
    target = traces["pro"]
    prefix = target.id[:-4]
    # Ids are time-sortable, so a long prefix may match neighbours too: all of them start so.
    found = store.list(parse_filter(f"id:{prefix.upper()}").to_filter(), limit=100)
    assert target.id in {s.id for s in found}
    assert all(s.id.startswith(prefix) for s in found)
    assert [s.id for s in store.list(parse_filter(f"id:{target.id}").to_filter())] == [target.id]


def test_text_key_is_text_search(store: TraceStore, traces: dict[str, Trace]) -> None:
    assert parse_filter("text:status:error") == FilterQuery(words=("status:error",))
    assert len(_names(store, traces, "text:hello")) == len(traces)
    assert _names(store, traces, "text:nowhere-to-be-found") == set()


def test_new_keys_round_trip() -> None:
    text = (
        "model:~gemini id:0193ab status:error,ok latency:>500 latency:<2000 ttft:>=300"
        " cost:>0.01 tokens:>=1000 session:s1 route:converted source:test tag:a tag:b words"
    )
    query = parse_filter(text)
    assert str(query) == text
    assert parse_filter(str(query)) == query


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("modle:gpt-4o", "unknown filter key 'modle' \\(did you mean 'model'\\?\\)"),
        ("latenct:>5", "did you mean 'latency'"),
        ("sesion:x", "did you mean 'session'"),
        ("status:eror", "unknown status 'eror' \\(did you mean 'error'\\?\\)"),
        ("latency:fast", "latency: 'fast' is not a comparison: use e.g. latency:>500 \\(ms"),
        ("latency:>5k", "latency: '>5k' is not a comparison"),
        ("cost:>1ms", "cost: '>1ms' is not a comparison: use e.g. cost:>0.01 \\(USD"),
        ("tokens:many", "tokens: 'many' is not a comparison"),
        ("id:xyz", "id: 'xyz' is not an id prefix"),
        ("route:convert", "unknown route 'convert' \\(did you mean 'converted'\\?\\)"),
        ("model:~", "model: ~ needs text after it"),
        ("tag:", "tag: needs a value, e.g. tag:nightly"),
        ("since:2x", "since: '2x' is neither an age"),
    ],
)
def test_bad_terms_are_errors(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_filter(text)


def test_hand_built_unknown_status() -> None:
    with pytest.raises(FilterError, match="unknown status 'bad'"):
        FilterQuery(status="bad").to_filter()


def test_trace_metadata_default_is_unfiltered() -> None:
    # A trace without the new fields indexes with empty values and is kept by no-op filters.
    assert TraceMetadata().status == "success"

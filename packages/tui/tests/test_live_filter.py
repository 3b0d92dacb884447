"""Which calls in flight the list shows (:mod:`traceforge_tui.live_filter`): on the fields a
``started`` event announces, a call in flight is shown exactly when its saved trace will be
listed by the store under the same filter; terms on what only the saved trace has hide it."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from traceforge_shared.ids import utc_timestamp
from traceforge_shared.store import TraceStore
from traceforge_shared.store.search import MAX_QUERY_CHARS
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import TEST_SOURCE, Trace
from traceforge_shared.views.filters import FilterQuery, parse_filter
from traceforge_tui.live import LiveCall, LiveCalls
from traceforge_tui.live_filter import live_calls_matching
from traceforge_tui.preferences import without_test_traffic

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
HOUR_S = 3600.0


def _trace(model: str, provider: str, hours_ago: float, **fields: object) -> Trace:
    made = make_trace(model=model, provider=provider, epoch_s=NOW.timestamp() - hours_ago * HOUR_S)
    return msgspec.structs.replace(made, **fields)


@pytest.fixture
def saved(store: TraceStore) -> list[Trace]:
    """Traces of several models, providers, ages, sessions, tags, routes and sources."""
    made = [
        _trace("gpt-4o", "openai", 0.1, session_id="chat-42", tags=["nightly", "eu"]),
        _trace("gpt-4o-mini", "openai", 1.5, route="openai", meta={"source": TEST_SOURCE}),
        _trace("gemini-2.0-flash", "gemini", 3, route="converted", tags=["eu"]),
        _trace("claude-3-5-haiku-latest", "anthropic", 30, session_id="chat-7"),
        _trace("llama3.2", "ollama", 0.5, route="passthrough", meta={"source": "app"}),
    ]
    for trace in made:
        store.save(trace)
    return made


def _announced(traces: list[Trace]) -> list[LiveCall]:
    """The calls in flight of ``traces`` as ``started`` events announcing their grouping
    would describe them."""
    calls = LiveCalls()
    for trace in traces:
        calls.apply(
            "started",
            {
                "id": trace.id,
                "provider": trace.provider,
                "model": trace.model,
                "endpoint": trace.endpoint,
                "timestamp": trace.timestamp,
                "session_id": trace.session_id,
                "tags": list(trace.tags),
                "route": trace.route,
                "source": trace.meta.get("source"),
            },
        )
    return list(calls.calls.values())


@pytest.mark.parametrize("hide_test_traffic", [False, True])
@pytest.mark.parametrize(
    "text",
    [
        "",
        "model:gpt-4o",
        "model:~GEMINI",
        "model:gpt-4*",
        "model:claude*latest provider:anthropic",
        "provider:~o",
        "provider:openai since:1h",
        "since:2h",
        "until:2h",
        "since:2026-12-04 until:2026-12-04T11:00",
        "session:chat-42",
        "tag:eu",
        "tag:eu tag:nightly",
        "route:converted",
        "route:openai",
        "source:test",
        "source:app",
        "mini",
        '"gpt-4o-mini"',
        "GEMINI flash",
        "nope",
    ],
)
def test_a_call_in_flight_shows_as_its_saved_trace_will_list(
    store: TraceStore, saved: list[Trace], text: str, hide_test_traffic: bool
) -> None:
    query = parse_filter(text)
    listed = store.list(without_test_traffic(query.to_filter(NOW), hide_test_traffic))
    shown = live_calls_matching(
        _announced(saved), query, hide_test_traffic=hide_test_traffic, now=NOW
    )
    assert {call.id for call in shown} == {trace.id for trace in listed}
    assert [call.id for call in shown] == [t.id for t in saved if t.id in {c.id for c in shown}]


def test_an_id_prefix_selects_the_call(saved: list[Trace]) -> None:
    calls = _announced(saved)
    target = saved[2].id
    shown = live_calls_matching(calls, parse_filter(f"id:{target[:14]}"), now=NOW)
    assert [call.id for call in shown] == [target]


@pytest.mark.parametrize(
    "text",
    [
        "status:success",
        "status:error",
        "status:upstream_error,success",
        "latency:>1",
        "latency:<10s",
        "ttft:>0",
        "cost:>=0",
        "tokens:>0",
        "model:gpt-4o latency:>500",
    ],
)
def test_terms_on_what_only_the_saved_trace_has_hide_calls_in_flight(
    store: TraceStore, saved: list[Trace], text: str
) -> None:
    query = parse_filter(text)
    assert live_calls_matching(_announced(saved), query, now=NOW) == []
    running = LiveCall("t1", model="gpt-4o", chunks=40, tokens=200, finished=True, status_code=200)
    assert live_calls_matching([running], query, now=NOW) == []


def test_grouping_not_announced_is_unknown(saved: list[Trace]) -> None:
    """A proxy that announces no grouping: terms on it hide the call; the toggle keeps it
    (a call without a source is not test traffic, as a trace without one is listed)."""
    bare = LiveCall("t1", provider="openai", model="gpt-4o", endpoint="/v1/chat/completions")
    for text in ("session:chat-42", "tag:eu", "route:openai", "source:test"):
        assert live_calls_matching([bare], parse_filter(text)) == [], text
    assert live_calls_matching([bare], FilterQuery(), hide_test_traffic=True) == [bare]
    tested = LiveCall("t2", model="gpt-4o", source=TEST_SOURCE)
    assert live_calls_matching([bare, tested], FilterQuery(), hide_test_traffic=True) == [bare]
    assert live_calls_matching([bare, tested], FilterQuery()) == [bare, tested]


def test_type_is_known_from_the_first_chunk() -> None:
    waiting = LiveCall("w", model="gpt-4o")
    streaming = LiveCall("s", model="gpt-4o", chunks=3)
    answered = LiveCall("a", model="gpt-4o", finished=True, status_code=200)
    calls = [waiting, streaming, answered]
    assert live_calls_matching(calls, parse_filter("type:stream")) == [waiting, streaming]
    assert live_calls_matching(calls, parse_filter("type:normal")) == [waiting, answered]


def test_text_matches_the_model_the_endpoint_and_the_streamed_tail() -> None:
    call = LiveCall(
        "t1",
        provider="anthropic",
        model="claude-3-5-haiku-latest",
        endpoint="/v1/messages",
        tail="The capital of France is Paris.",
    )
    for text in ("haiku", "/v1/MESSAGES", "paris", '"France is"', "capital haiku", "te"):
        assert live_calls_matching([call], parse_filter(text)) == [call], text
    # the provider is not searched (nor is it in the saved trace's text), messages are unknown
    for text in ("anthropic", "london", '"is France"', "paris london"):
        assert live_calls_matching([call], parse_filter(text)) == [], text


def test_a_filter_the_store_refuses_shows_no_call() -> None:
    call = LiveCall("t1", model="gpt-4o")
    too_long = FilterQuery(words=("x" * (MAX_QUERY_CHARS + 1),))
    assert live_calls_matching([call], too_long) == []
    assert live_calls_matching([call], FilterQuery(since="not a time")) == []


def test_started_events_carry_grouping_when_announced() -> None:
    calls = LiveCalls()
    calls.apply(
        "started",
        {
            "id": "t1",
            "model": "gpt-4o",
            "timestamp": utc_timestamp(NOW.timestamp()),
            "session_id": "chat-42",
            "tags": ["eu", 3, "", "nightly"],
            "route": "converted",
            "source": TEST_SOURCE,
        },
    )
    calls.apply("started", {"id": "t2", "model": "gpt-4o", "session_id": 7, "tags": "eu"})
    one, two = calls.calls["t1"], calls.calls["t2"]
    assert (one.session_id, one.tags, one.route, one.source) == (
        "chat-42",
        ("eu", "nightly"),
        "converted",
        TEST_SOURCE,
    )
    assert (two.session_id, two.tags, two.route, two.source) == (None, (), None, None)

"""`traceforge.span`, `@traceforge.trace` and `traceforge.session`: spans recorded by the
OpenTelemetry SDK (the application's own provider, exporting to memory), read back as the
exporter got them."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import traceforge


def _by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_spans_nest_under_the_enclosing_span(spans: InMemorySpanExporter) -> None:
    with traceforge.span("plan", kind="agent") as agent:
        with (
            traceforge.span("get_weather", kind="tool", city="Paris") as tool,
            traceforge.span("lookup", kind="retrieval"),
        ):
            pass
        with traceforge.span("summarise", kind="chain"):
            pass
    found = _by_name(spans)
    assert set(found) == {"invoke_agent plan", "execute_tool get_weather", "lookup", "summarise"}
    root = found["invoke_agent plan"]
    assert root.parent is None
    agent_ids = agent.get_span_context()
    assert root.context is not None and root.context.span_id == agent_ids.span_id
    assert _parent_id(found["execute_tool get_weather"]) == agent_ids.span_id
    assert _parent_id(found["lookup"]) == tool.get_span_context().span_id
    assert _parent_id(found["summarise"]) == agent_ids.span_id
    assert {s.context.trace_id for s in found.values() if s.context} == {agent_ids.trace_id}


def test_kinds_write_the_genai_operation_names(spans: InMemorySpanExporter) -> None:
    for kind in traceforge.tracing.KINDS:
        with traceforge.span(f"step-{kind}", kind=kind):  # type: ignore[arg-type]
            pass
    attrs = {
        span.attributes["traceforge.span.kind"]: dict(span.attributes or {})
        for span in spans.get_finished_spans()
        if span.attributes
    }
    operations = {kind: a.get("gen_ai.operation.name") for kind, a in attrs.items()}
    assert operations == {
        "agent": "invoke_agent",
        "tool": "execute_tool",
        "retrieval": "retrieval",
        "llm": "chat",
        "embedding": "embeddings",
        "mcp": None,
        "chain": None,
        "custom": None,
    }
    assert attrs["agent"]["gen_ai.agent.name"] == "step-agent"
    assert attrs["tool"]["gen_ai.tool.name"] == "step-tool"
    assert attrs["chain"]["openinference.span.kind"] == "CHAIN"
    assert "openinference.span.kind" not in attrs["custom"]


def test_attributes_by_keyword_and_mapping(spans: InMemorySpanExporter) -> None:
    with traceforge.span(
        "search",
        kind="tool",
        attributes={"gen_ai.tool.call.id": "call_1"},
        city="Paris",
        days=3,
        hot=True,
        cities=["Paris", "Lyon"],
        options={"units": "metric"},
    ) as current:
        current.set_attribute("result.count", 2)
    (span,) = spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["gen_ai.tool.call.id"] == "call_1"
    assert span.attributes["city"] == "Paris" and span.attributes["days"] == 3
    assert span.attributes["hot"] is True
    assert tuple(span.attributes["cities"]) == ("Paris", "Lyon")  # type: ignore[arg-type]
    assert span.attributes["options"] == '{"units": "metric"}'
    assert span.attributes["result.count"] == 2


def test_an_exception_is_recorded_and_re_raised(spans: InMemorySpanExporter) -> None:
    def run() -> None:
        with traceforge.span("outer", kind="agent"), traceforge.span("get_weather", kind="tool"):
            raise KeyError("no-such-city")

    with pytest.raises(KeyError, match="no-such-city"):
        run()
    found = _by_name(spans)
    for name in ("execute_tool get_weather", "invoke_agent outer"):
        span = found[name]
        assert span.status.status_code is StatusCode.ERROR
        assert "no-such-city" in (span.status.description or "")
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes is not None and event.attributes["exception.type"] == "KeyError"


def test_bad_kind_and_name_are_refused_before_the_block(spans: InMemorySpanExporter) -> None:
    ran = []
    with (
        pytest.raises(ValueError, match="unknown span kind 'tools'; use one of: agent, tool"),
        traceforge.span("x", kind="tools"),  # type: ignore[arg-type]
    ):
        ran.append(1)
    with pytest.raises(ValueError, match="non-empty name"), traceforge.span("  "):
        ran.append(2)
    with pytest.raises(ValueError, match="unknown span kind"):
        traceforge.trace(kind="step")  # type: ignore[call-overload]
    assert ran == [] and spans.get_finished_spans() == ()


def test_decorator_on_sync_functions(spans: InMemorySpanExporter) -> None:
    @traceforge.trace
    def plan(city: str) -> str:
        return lookup(city).upper()

    @traceforge.trace(kind="tool", name="lookup_city")
    def lookup(city: str) -> str:
        return f"sunny in {city}"

    assert plan("Paris") == "SUNNY IN PARIS"
    assert plan.__name__ == "plan"
    found = _by_name(spans)
    outer = found["test_decorator_on_sync_functions.<locals>.plan"]
    inner = found["execute_tool lookup_city"]
    assert outer.context is not None and _parent_id(inner) == outer.context.span_id
    assert outer.attributes is not None and outer.attributes["traceforge.span.kind"] == "custom"


async def test_decorator_on_async_functions_spans_the_whole_coroutine(
    spans: InMemorySpanExporter,
) -> None:
    @traceforge.trace(kind="agent", name="weather_agent")
    async def agent() -> list[str]:
        return list(await asyncio.gather(tool("Paris"), tool("Lyon")))

    @traceforge.trace(kind="tool", name="get_weather")
    async def tool(city: str) -> str:
        await asyncio.sleep(0)
        with traceforge.span("http", city=city):
            await asyncio.sleep(0)
        return city

    assert await agent() == ["Paris", "Lyon"]
    finished = spans.get_finished_spans()
    root = next(s for s in finished if s.name == "invoke_agent weather_agent")
    tools = [s for s in finished if s.name == "execute_tool get_weather"]
    https = [s for s in finished if s.name == "http"]
    assert root.context is not None and len(tools) == 2 and len(https) == 2
    assert {_parent_id(t) for t in tools} == {root.context.span_id}
    assert {_parent_id(h) for h in https} == {t.context.span_id for t in tools if t.context}
    # the agent span ends after its children: it lasts as long as the coroutine
    assert root.end_time is not None
    assert all(t.end_time is not None and t.end_time <= root.end_time for t in tools)


async def test_decorated_async_exception(spans: InMemorySpanExporter) -> None:
    @traceforge.trace(kind="tool")
    async def broken() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("tool failed")

    with pytest.raises(RuntimeError, match="tool failed"):
        await broken()
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


def test_generator_functions_are_refused(spans: InMemorySpanExporter) -> None:
    with pytest.raises(TypeError, match=r"generator function .*gen.*traceforge\.span"):

        @traceforge.trace
        def gen() -> object:
            yield 1


def test_session_reaches_nested_spans_threads_and_tasks(spans: InMemorySpanExporter) -> None:
    with traceforge.session("user-42", tags=["nightly", "eval"], metadata={"Feature": "trip"}):
        assert traceforge.current_session() == traceforge.Session(
            id="user-42", tags=("nightly", "eval"), metadata={"feature": "trip"}
        )
        assert baggage.get_baggage("session.id") == "user-42"
        with traceforge.span("plan", kind="agent"):

            def work() -> None:
                with traceforge.span("in-thread"):
                    pass

            worker = threading.Thread(target=contextvars.copy_context().run, args=(work,))
            worker.start()
            worker.join()
            with traceforge.span("step"):
                pass

            async def task() -> None:
                with traceforge.span("in-task"):
                    pass

            asyncio.run(task())
    with traceforge.span("after"):
        pass
    assert traceforge.current_session() is None
    found = _by_name(spans)
    plan = found["invoke_agent plan"].context
    for name in ("invoke_agent plan", "step", "in-thread", "in-task"):
        if name != "invoke_agent plan":
            assert plan is not None and _parent_id(found[name]) == plan.span_id
        attributes = found[name].attributes or {}
        assert attributes["session.id"] == "user-42", name
        assert tuple(attributes["traceforge.tags"]) == ("nightly", "eval")  # type: ignore[arg-type]
        assert attributes["traceforge.meta.feature"] == "trip"
    assert "session.id" not in (found["after"].attributes or {})


def test_inner_session_replaces_the_outer_one(spans: InMemorySpanExporter) -> None:
    with traceforge.session("outer", tags=["a"]):
        with traceforge.session("inner"), traceforge.span("x"):
            pass
        with traceforge.span("y"):
            pass
    found = _by_name(spans)
    assert (found["x"].attributes or {})["session.id"] == "inner"
    assert "traceforge.tags" not in (found["x"].attributes or {})
    assert (found["y"].attributes or {})["session.id"] == "outer"


def test_session_from_propagated_baggage(spans: InMemorySpanExporter) -> None:
    token = otel_context.attach(baggage.set_baggage("session.id", "from-upstream-service"))
    try:
        with traceforge.span("x"):
            pass
    finally:
        otel_context.detach(token)
    (span,) = spans.get_finished_spans()
    assert (span.attributes or {})["session.id"] == "from-upstream-service"


@pytest.mark.parametrize(
    ("session_id", "options", "message"),
    [
        ("", {}, "non-empty string"),
        ("a\nb", {}, "control characters"),
        ("x" * 257, {}, "longer than 256"),
        ("s", {"tags": ["a,b"]}, "must not contain a comma"),
        ("s", {"metadata": {"bad key": "v"}}, "metadata key 'bad key'"),
        ("s", {"metadata": {"k": "line\r\nX-Injected: 1"}}, "control characters"),
    ],
)
def test_bad_sessions_are_refused(
    session_id: str, options: dict[str, object], message: str
) -> None:
    with (
        pytest.raises(ValueError, match=message),
        traceforge.session(session_id, **options),  # type: ignore[arg-type]
    ):
        pass
    assert traceforge.current_session() is None


def test_the_applications_provider_is_used_not_replaced(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    mine = trace.get_tracer_provider()
    with caplog.at_level(logging.WARNING, logger="traceforge"):
        provider = traceforge.configure(endpoint="http://127.0.0.1:9")
    assert provider is mine and trace.get_tracer_provider() is mine
    (record,) = caplog.records
    assert "its own tracer provider, which is kept" in record.getMessage()
    assert "http://127.0.0.1:9/v1/traces" in record.getMessage()
    with traceforge.span("x"):
        pass
    assert [s.name for s in spans.get_finished_spans()] == ["x"]
    assert traceforge.flush() is True


def test_a_provider_given_to_configure_is_used_and_not_made_global(otel_reset: None) -> None:
    exporter = InMemorySpanExporter()
    given = TracerProvider()
    given.add_span_processor(SimpleSpanProcessor(exporter))
    assert traceforge.configure(tracer_provider=given) is given
    with traceforge.span("x", kind="chain"):
        pass
    assert [s.name for s in exporter.get_finished_spans()] == ["x"]
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    given.shutdown()

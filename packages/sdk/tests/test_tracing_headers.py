"""`traceforge.instrument()` and the httpx hooks: calls made by the official openai and
anthropic SDKs (sync and async) and by plain httpx clients carry ``traceparent`` and the
session headers, so the real proxy (in front of its mock upstream replaying recorded
transcripts) records each call as a child of the current span, in its session."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span

import traceforge
from traceforge_proxy.runner import BackgroundProxy
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

ASK: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What's the weather like in SF?"}
]
CLAUDE = "claude-sonnet-4-5"


def _root(proxy: BackgroundProxy) -> str:
    return proxy.url.removesuffix("/v1")


def _saved(proxy: BackgroundProxy, store: TraceStore) -> list[Trace]:
    assert proxy.drain()
    return [store.get(s.id) for s in reversed(store.list(limit=None))]


def _assert_child_of(trace: Trace, parent: Span, session: str | None = "user-42") -> None:
    ids = parent.get_span_context()
    assert trace.span is not None
    assert trace.span.trace_id == format(ids.trace_id, "032x")
    assert trace.span.parent_span_id == format(ids.span_id, "016x")
    assert trace.session_id == session


def _assert_under_sdk_span(
    trace: Trace, parent: Span, spans: InMemorySpanExporter, session: str = "user-42"
) -> None:
    """The anthropic SDK (2.x) makes a client span per API call and sends *its* traceparent,
    which the hook keeps: the proxied call's parent is that span, a child of ``parent``."""
    assert trace.span is not None and trace.span.parent_span_id is not None
    by_id = {s.context.span_id: s for s in spans.get_finished_spans() if s.context}
    sdk_span = by_id[int(trace.span.parent_span_id, 16)]
    assert sdk_span.instrumentation_scope is not None
    assert sdk_span.instrumentation_scope.name == "com.anthropic.sdk.python"
    assert sdk_span.parent is not None
    assert sdk_span.parent.span_id == parent.get_span_context().span_id
    assert trace.span.trace_id == format(parent.get_span_context().trace_id, "032x")
    assert trace.session_id == session


def test_openai_sync_calls_nest_under_the_current_span(
    spans: InMemorySpanExporter, proxy: BackgroundProxy, store: TraceStore
) -> None:
    client = traceforge.instrument(
        openai.OpenAI(base_url=proxy.url, api_key="sk-test", max_retries=0)
    )
    with (
        client,
        traceforge.session("user-42", tags=["nightly"], metadata={"feature": "trip"}),
        traceforge.span("plan", kind="agent") as agent,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        with traceforge.span("get_weather", kind="tool") as tool:
            list(
                client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=ASK,
                    stream=True,
                )
            )
    first, second = _saved(proxy, store)
    _assert_child_of(first, agent)
    _assert_child_of(second, tool)
    assert first.tags == ["nightly"] and first.meta == {"feature": "trip"}
    assert first.metadata.status == second.metadata.status == "success"


def test_no_span_no_session_starts_a_run_of_its_own(
    spans: InMemorySpanExporter, proxy: BackgroundProxy, store: TraceStore
) -> None:
    with traceforge.instrument(
        openai.OpenAI(base_url=proxy.url, api_key="sk-test", max_retries=0)
    ) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    (trace,) = _saved(proxy, store)
    assert trace.span is not None and trace.span.parent_span_id is None
    assert trace.session_id is None and trace.tags == []


async def test_async_openai(
    spans: InMemorySpanExporter, proxy: BackgroundProxy, store: TraceStore
) -> None:
    client = traceforge.instrument(
        openai.AsyncOpenAI(base_url=proxy.url, api_key="sk-test", max_retries=0)
    )
    async with client:
        with traceforge.session("user-42"), traceforge.span("plan", kind="agent") as agent:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=ASK,
                stream=True,
            )
            assert isinstance(stream, openai.AsyncStream)
            async for _ in stream:
                pass
        # a copy made with with_options() shares the hooked HTTP client
        with traceforge.span("again") as again:
            await client.with_options(timeout=30).chat.completions.create(
                model="gpt-4o-mini",
                messages=ASK,
            )
    first, second = _saved(proxy, store)
    _assert_child_of(first, agent)
    _assert_child_of(second, again, session=None)


def test_anthropic_sync(
    spans: InMemorySpanExporter, proxy: BackgroundProxy, store: TraceStore
) -> None:
    client = traceforge.instrument(
        anthropic.Anthropic(
            base_url=_root(proxy) + "/anthropic", api_key="sk-ant-test", max_retries=0
        )
    )
    with client, traceforge.session("user-42"), traceforge.span("ask", kind="agent") as agent:
        message = client.messages.create(
            model=CLAUDE, max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
        )
    assert message.content
    (trace,) = _saved(proxy, store)
    _assert_under_sdk_span(trace, agent, spans)
    assert trace.provider == "anthropic"


async def test_anthropic_async_stream(
    spans: InMemorySpanExporter, proxy: BackgroundProxy, store: TraceStore
) -> None:
    client = traceforge.instrument(
        anthropic.AsyncAnthropic(
            base_url=_root(proxy) + "/anthropic", api_key="sk-ant-test", max_retries=0
        )
    )
    async with client:
        with traceforge.session("user-42"), traceforge.span("ask", kind="agent") as agent:
            async with client.messages.stream(
                model=CLAUDE, max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
            ) as stream:
                text = await stream.get_final_text()
    assert text
    (trace,) = _saved(proxy, store)
    _assert_under_sdk_span(trace, agent, spans)


def test_plain_httpx_client_with_the_hook(
    spans: InMemorySpanExporter, proxy: BackgroundProxy, store: TraceStore
) -> None:
    body = {"model": "gpt-4o-mini", "messages": ASK}
    with (
        httpx.Client(event_hooks={"request": [traceforge.httpx_hook()]}) as client,
        traceforge.session("user-42"),
        traceforge.span("raw", kind="chain") as parent,
    ):
        answer = client.post(f"{proxy.url}/chat/completions", json=body)
    assert answer.status_code == 200
    (trace,) = _saved(proxy, store)
    _assert_child_of(trace, parent)


async def test_plain_async_httpx_client_instrumented(
    spans: InMemorySpanExporter, proxy: BackgroundProxy, store: TraceStore
) -> None:
    body = {"model": "gpt-4o-mini", "messages": ASK}
    async with traceforge.instrument_httpx(httpx.AsyncClient()) as client:
        with traceforge.session("user-42"), traceforge.span("raw") as parent:
            answer = await client.post(f"{proxy.url}/chat/completions", json=body)
    assert answer.status_code == 200
    (trace,) = _saved(proxy, store)
    _assert_child_of(trace, parent)


def _recording_client() -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


def test_headers_a_request_already_has_are_kept(spans: InMemorySpanExporter) -> None:
    client, seen = _recording_client()
    traceforge.instrument_httpx(client)
    theirs = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with traceforge.session("user-42"), traceforge.span("x") as current:
        client.get("http://upstream.test/a", headers={"traceparent": theirs})
        client.get("http://upstream.test/b", headers={"x-traceforge-session-id": "other"})
    ids = current.get_span_context()
    assert seen[0].headers["traceparent"] == theirs
    assert seen[0].headers["x-traceforge-session-id"] == "user-42"
    # trace flags: sampled (01), plus "random trace id" (02) from recent OpenTelemetry SDKs
    assert seen[1].headers["traceparent"][:-2] == f"00-{ids.trace_id:032x}-{ids.span_id:016x}-"
    assert seen[1].headers.get_list("x-traceforge-session-id") == ["other"]


def test_hooking_twice_adds_one_hook(spans: InMemorySpanExporter) -> None:
    client, seen = _recording_client()
    traceforge.instrument_httpx(traceforge.instrument_httpx(client))
    assert len(client.event_hooks["request"]) == 1
    # openai takes an httpx.Client as well as its httpx2.Client at run time
    wrapped = openai.OpenAI(api_key="sk-test", http_client=client)  # type: ignore[arg-type]
    assert traceforge.instrument(traceforge.instrument(wrapped)) is wrapped
    assert len(client.event_hooks["request"]) == 1
    with traceforge.span("x"):
        client.get("http://upstream.test/")
    assert len(seen[0].headers.get_list("traceparent")) == 1


def test_grouping_headers_outside_and_inside(spans: InMemorySpanExporter) -> None:
    assert traceforge.grouping_headers() == {}
    with traceforge.session("s-1", tags=["a", "b"], metadata={"user": "u-7"}):
        headers = traceforge.grouping_headers()
    assert headers == {
        "X-TraceForge-Session-Id": "s-1",
        "X-TraceForge-Tags": "a,b",
        "X-TraceForge-Meta-user": "u-7",
    }


def test_what_cannot_be_instrumented_is_refused() -> None:
    with pytest.raises(TypeError, match=r"openai or anthropic client .* got dict"):
        traceforge.instrument({})
    with pytest.raises(TypeError, match=r"httpx\.Client or httpx\.AsyncClient, got str"):
        traceforge.instrument_httpx("http://x")

"""Grouping headers through the proxy, sent by the official SDKs as an app would: session,
tags and metadata recorded and kept from the upstream; W3C ``traceparent``/``tracestate``
recorded and forwarded untouched; every call a span of its run.

The fake upstreams answer with real recorded answers, byte for byte
(data/provider-streams: openai-chat/completion.json, anthropic-messages/message.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import anthropic
import pytest
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.grouping import (
    MAX_SESSION_CHARS,
    MAX_TAGS,
    parse_traceparent,
    read_grouping,
)
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import RecordingUpstream, saved_traces
from traceforge_shared.config import Config, UpstreamConfig
from traceforge_shared.spans import is_span_id, is_trace_id

from .conftest import MakeProxy, Sdk

DATA = Path(__file__).parent / "data" / "provider-streams"
OPENAI_ANSWER = (DATA / "openai-chat" / "completion.json").read_bytes()
ANTHROPIC_ANSWER = (DATA / "anthropic-messages" / "message.json").read_bytes()
JSON = "application/json"
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello, how are you?"}]
# ASK, as the anthropic SDK types it (the same list)
ANTHROPIC_ASK = cast("list[anthropic.types.MessageParam]", ASK)

# The example of https://www.w3.org/TR/trace-context/#examples-of-http-traceparent-headers
RUN = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{RUN}-{PARENT}-01"
TRACESTATE = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"


async def _proxy(make_proxy: Any, **upstreams: str) -> ProxyService:
    config = Config()
    openai_url = upstreams.pop("openai", "http://127.0.0.1:9")  # unused: nothing listens
    for provider, url in upstreams.items():
        config.upstreams[provider] = UpstreamConfig(base_url=url)
    service: ProxyService = await make_proxy(
        base_url=f"{openai_url}/v1", api_key="sk-upstream", default_provider=None, config=config
    )
    return service


def _names(headers: list[tuple[str, str]]) -> set[str]:
    return {name.lower() for name, _ in headers}


def _value(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for n, v in headers if n.lower() == name), None)


async def test_openai_sdk_headers_recorded_stripped_and_forwarded(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    async with upstream as url:
        service = await _proxy(make_proxy, openai=url)
        client = sdk(
            service,
            default_headers={
                "X-TraceForge-Session-Id": "chat-42",
                "X-TraceForge-Tags": "nightly, eval ,, nightly",
                "X-TraceForge-Meta-User": "u-17",
                "X-TraceForge-Meta-Feature": "summaries",
            },
        )
        answer = await client.chat.completions.create(
            model="gpt-4.1-nano",
            messages=ASK,
            extra_headers={"traceparent": TRACEPARENT, "tracestate": TRACESTATE},
        )
        (trace,) = await saved_traces(service)
    assert answer.usage is not None and answer.usage.total_tokens == 379
    (sent,) = upstream.headers
    assert not any(name.startswith("x-traceforge-") for name in _names(sent))
    assert _value(sent, "traceparent") == TRACEPARENT  # untouched: not the proxy's span id
    assert _value(sent, "tracestate") == TRACESTATE
    assert trace.session_id == "chat-42"
    assert trace.tags == ["nightly", "eval"]
    assert trace.meta == {"user": "u-17", "feature": "summaries"}
    assert trace.span is not None
    assert (trace.span.trace_id, trace.span.parent_span_id) == (RUN, PARENT)
    assert is_span_id(trace.span.span_id) and trace.span.span_id != PARENT
    assert trace.span.tracestate == TRACESTATE
    # The call is a span of its run, derived by the store from the trace.
    store = service.store
    (span,) = store.spans.get_run(RUN)
    assert (span.span_id, span.parent_span_id) == (trace.span.span_id, PARENT)
    assert (span.trace_ref, span.kind, span.source) == (trace.id, "llm", "proxy")
    assert (span.session_id, span.tags) == ("chat-42", ["nightly", "eval"])
    assert span.usage is not None and span.usage.prompt_tokens == 16
    assert span.attributes["traceforge.meta.user"] == "u-17"
    (run,) = store.spans.list_runs()
    assert (run.trace_id, run.span_count, run.llm_calls, run.session_id) == (RUN, 1, 1, "chat-42")
    assert (run.input_tokens, run.output_tokens) == (16, 363)


async def test_calls_without_traceparent_start_their_own_runs(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    """On the mock (a real recorded stream): two calls, two runs, one session."""
    service = await make_proxy()
    client = sdk(service, default_headers={"X-TraceForge-Session-Id": "s-1"})
    for _ in range(2):
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=ASK, stream=True
        )
        async for _chunk in stream:
            pass
    one, two = await saved_traces(service, expected=2)
    assert one.span is not None and two.span is not None
    assert is_trace_id(one.span.trace_id) and is_trace_id(two.span.trace_id)
    assert one.span.trace_id != two.span.trace_id
    assert one.span.parent_span_id is None and two.span.parent_span_id is None
    assert "traceparent" not in one.metadata.request_headers  # the proxy adds none upstream
    (session,) = service.store.spans.list_sessions()
    assert (session.session_id, session.runs, session.calls) == ("s-1", 2, 2)
    runs = service.store.spans.get_session("s-1")
    assert [r.trace_id for r in runs] == [one.span.trace_id, two.span.trace_id]


async def test_calls_of_one_run_are_sibling_spans(make_proxy: MakeProxy, sdk: Sdk) -> None:
    upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    async with upstream as url:
        service = await _proxy(make_proxy, openai=url)
        client = sdk(service)
        for parent in (PARENT, "b7ad6b7169203331"):
            await client.chat.completions.create(
                model="gpt-4.1-nano",
                messages=ASK,
                extra_headers={"traceparent": f"00-{RUN}-{parent}-01"},
            )
        await saved_traces(service, expected=2)
    spans = service.store.spans.get_run(RUN[:8])  # a prefix is enough
    assert {s.parent_span_id for s in spans} == {PARENT, "b7ad6b7169203331"}
    (run,) = service.store.spans.list_runs()
    assert (run.span_count, run.llm_calls, run.input_tokens) == (2, 2, 32)
    assert run.status == "ok"


@pytest.mark.parametrize(
    "value",
    [
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",  # upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        f"00-{RUN}-0000000000000000-01",  # zero parent id
        f"ff-{RUN}-{PARENT}-01",  # version ff
        f"00-{RUN}-{PARENT}-01-extra",  # version 00 has four fields
        "not a traceparent",
    ],
)
async def test_malformed_traceparent_starts_a_run_but_is_forwarded(make_proxy, sdk, value) -> None:  # type: ignore[no-untyped-def]
    upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    async with upstream as url:
        service = await _proxy(make_proxy, openai=url)
        client = sdk(service)
        await client.chat.completions.create(
            model="gpt-4.1-nano", messages=ASK, extra_headers={"traceparent": value}
        )
        (trace,) = await saved_traces(service)
    assert _value(upstream.headers[0], "traceparent") == value
    assert trace.span is not None
    assert trace.span.parent_span_id is None
    assert trace.span.trace_id != RUN and is_trace_id(trace.span.trace_id)
    assert any("not a valid W3C traceparent" in w for w in trace.metadata.warnings)


async def test_anthropic_sdk_native_route(make_proxy: MakeProxy) -> None:
    upstream = RecordingUpstream(ANTHROPIC_ANSWER, JSON)
    async with upstream as url:
        service = await _proxy(make_proxy, anthropic=url)
        client = anthropic.AsyncAnthropic(
            base_url=service.url.removesuffix("/v1") + "/anthropic",
            api_key="sk-ant-test",
            max_retries=0,
            default_headers={"X-TraceForge-Session-Id": "claude-chat"},
        )
        message = await client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=100,
            messages=ANTHROPIC_ASK,
            extra_headers={
                "traceparent": TRACEPARENT,
                "X-TraceForge-Tags": "agent",
                "X-TraceForge-Meta-Step": "plan",
            },
        )
        await client.close()
        (trace,) = await saved_traces(service)
    assert message.usage.output_tokens == 29
    (sent,) = upstream.headers
    assert not any(name.startswith("x-traceforge-") for name in _names(sent))
    assert _value(sent, "traceparent") == TRACEPARENT
    assert (trace.provider, trace.session_id, trace.tags) == ("anthropic", "claude-chat", ["agent"])
    assert trace.meta == {"step": "plan"}
    assert trace.span is not None and trace.span.parent_span_id == PARENT
    (span,) = service.store.spans.get_run(RUN)
    assert (span.provider, span.model, span.trace_ref) == (
        "anthropic",
        "claude-sonnet-4-5",
        trace.id,
    )


async def test_meta_and_session_values_are_redacted_on_disk(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    secret = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2
    upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    async with upstream as url:
        service = await _proxy(make_proxy, openai=url)
        client = sdk(service)
        await client.chat.completions.create(
            model="gpt-4.1-nano",
            messages=ASK,
            extra_headers={
                "X-TraceForge-Meta-Note": f"key {secret}",
                "X-TraceForge-Session-Id": "jane.doe@example.com",
            },
        )
        (trace,) = await saved_traces(service)
    assert secret not in trace.meta["note"] and trace.meta["note"].startswith("key [")
    assert trace.session_id is not None and "jane.doe@example.com" not in trace.session_id
    on_disk = service.store.path_for(trace.id).read_text()
    assert secret not in on_disk and "jane.doe@example.com" not in on_disk
    assert any(entry.startswith("meta.note") for entry in trace.metadata.redacted_fields)


async def test_long_values_are_cut_with_a_warning(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await make_proxy()
    client = sdk(service)
    tags = ",".join(f"t{i}" for i in range(MAX_TAGS + 5))
    await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=ASK,
        extra_headers={"X-TraceForge-Session-Id": "s" * 1000, "X-TraceForge-Tags": tags},
    )
    (trace,) = await saved_traces(service)
    assert trace.session_id == "s" * MAX_SESSION_CHARS
    assert len(trace.tags) == MAX_TAGS
    warnings = " ".join(trace.metadata.warnings)
    assert "X-TraceForge-Session-Id longer than 256" in warnings
    assert f"more than {MAX_TAGS} tags" in warnings


# -- the parser on its own -------------------------------------------------------------------


def test_parse_traceparent_accepts_future_versions_with_more_fields() -> None:
    assert parse_traceparent(TRACEPARENT) == (RUN, PARENT)
    assert parse_traceparent(f"cc-{RUN}-{PARENT}-01-what-the-future-brings") == (RUN, PARENT)
    assert parse_traceparent(f" {TRACEPARENT} ") == (RUN, PARENT)  # OWS around values


def test_read_grouping_names_in_any_case_first_value_wins() -> None:
    grouping = read_grouping(
        [
            ("X-TRACEFORGE-SESSION-ID", " a "),
            ("x-traceforge-session-id", "b"),
            ("X-TraceForge-Tags", "x"),
            ("X-TraceForge-Tags", "y, x"),
            ("X-TraceForge-Meta-", "no key: ignored"),
            ("X-TraceForge-Meta-Env", "prod"),
            ("Traceparent", TRACEPARENT),
        ]
    )
    assert (grouping.session_id, grouping.tags, grouping.meta) == ("a", ["x", "y"], {"env": "prod"})
    assert grouping.span.trace_id == RUN and grouping.warnings == []

"""OpenAI-compatible hosts and ``--upstream``: a model no configured provider claims reaches
the ``--upstream`` address, never the mock (the tester's three cases), and the trace's usage,
cost and time to first content come from what that upstream sent.

The fake upstream replays the real Groq recording ``groq/chat-stream-reasoning.sse`` (see the
data README for its provenance) byte for byte, driven by the official ``openai`` SDK.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.plan import ClientRequest, ForwardingPlan, plan_request
from traceforge_proxy.routing import RouteChoice, Router
from traceforge_proxy.testing import RecordingUpstream, saved_traces
from traceforge_proxy.upstream import resolve_upstreams
from traceforge_shared.config import Config

from .conftest import MakeProxy, Sdk

DATA = Path(__file__).parent / "data" / "provider-streams"
GROQ_STREAM = (DATA / "groq" / "chat-stream-reasoning.sse").read_bytes()
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is 1+2?"}]


def router_for(env: dict[str, str], upstream: str | None = None) -> Router:
    config = Config()
    return Router(config, upstreams=resolve_upstreams(config, override_url=upstream, env=env))


@pytest.mark.parametrize(
    ("model", "recorded_as"),
    [
        ("llama-3.3-70b-versatile", "groq"),  # Ollama's llama* matches it too
        ("deepseek-reasoner", "deepseek"),  # and deepseek*
        ("mistral-large-latest", "mistral"),  # and mistral*
    ],
)
def test_upstream_takes_models_only_unconfigured_providers_claim(
    model: str, recorded_as: str
) -> None:
    with_upstream = router_for({}, "http://127.0.0.1:9/v1")
    assert with_upstream.route(model) == RouteChoice(recorded_as, model, upstream="openai")
    # No --upstream, no keys: the mock answers, as before (Ollama's globs come first).
    assert router_for({}).route(model).provider == "ollama"
    # The host's key set: that host, --upstream or not.
    key = {"groq": "GROQ_API_KEY", "deepseek": "DEEPSEEK_API_KEY", "mistral": "MISTRAL_API_KEY"}
    configured = router_for({key[recorded_as]: "k"}, "http://127.0.0.1:9/v1")
    assert configured.route(model) == RouteChoice(recorded_as, model)
    # Ollama configured (OLLAMA_HOST): its globs are real again and come first.
    assert router_for({"OLLAMA_HOST": "127.0.0.1:11434"}).route(model).provider == "ollama"


def test_upstream_host_names_the_provider() -> None:
    router = router_for({}, "https://api.groq.com/openai/v1")
    assert router.route("some-new-model") == RouteChoice(
        "groq", "some-new-model", upstream="openai"
    )
    assert router_for({}, "http://127.0.0.1:9/v1").route("some-new-model") == RouteChoice(
        "openai-compatible", "some-new-model", upstream="openai"
    )
    # Models a configured provider claims keep going there; gpt-* is OpenAI's (--upstream).
    assert router.route("gpt-4o") == RouteChoice("openai", "gpt-4o")


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("llama-3.3-70b-versatile", "groq"),
        ("deepseek-reasoner", "deepseek"),
        ("mistral-large-latest", "mistral"),
    ],
)
async def test_tester_cases_reach_the_upstream(make_proxy, sdk, model: str, provider: str) -> None:  # type: ignore[no-untyped-def]
    upstream = RecordingUpstream(GROQ_STREAM, "text/event-stream")
    async with upstream as url:
        service = await make_proxy(base_url=url, default_provider=None)
        stream = await sdk(service).chat.completions.create(model=model, messages=USER, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        (trace,) = await saved_traces(service)
    assert [body["model"] for body in upstream.bodies] == [model]  # the upstream saw it
    assert text.endswith("3}$")  # the recording's answer, not mock text
    assert trace.metadata.status == "success"
    assert trace.metadata.status_code == 200
    assert trace.metadata.upstream_url == f"{url}/chat/completions"
    assert trace.provider == provider
    usage = trace.metadata.usage
    assert usage is not None and not usage.estimated
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (17, 1107, 963)
    # First byte is the role chunk (empty content); first content the first reasoning delta.
    assert trace.chunks[0].data["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert trace.metadata.first_chunk_latency_ms == trace.chunks[0].offset_ms
    assert trace.metadata.first_content_latency_ms == trace.chunks[1].offset_ms


async def test_upstream_error_status_is_recorded(make_proxy: MakeProxy, sdk: Sdk) -> None:
    import openai

    body = (DATA / "openai-chat" / "error-401-invalid-api-key.json").read_bytes()
    upstream = RecordingUpstream(body, "application/json", status=401)
    async with upstream as url:
        service = await make_proxy(base_url=url, default_provider=None)
        with pytest.raises(openai.AuthenticationError):
            await sdk(service).chat.completions.create(model="deepseek-reasoner", messages=USER)
        (trace,) = await saved_traces(service)
    assert len(upstream.bodies) == 1
    assert (trace.metadata.status, trace.metadata.status_code) == ("error", 401)
    assert trace.metadata.usage is None  # no estimate for an error answer


async def test_groq_x_groq_usage_only(make_proxy: MakeProxy, sdk: Sdk) -> None:
    """Derived from the recording: the top-level ``usage`` of the last chunk removed, as Groq
    sends it when not asked for usage (only ``x_groq.usage``)."""
    events = GROQ_STREAM.split(b"\n\n")
    last = [i for i, e in enumerate(events) if b'"x_groq"' in e][-1]
    head, _, _ = events[last].rpartition(b',"usage":')
    events[last] = head + b"}"
    body = b"\n\n".join(events)
    upstream = RecordingUpstream(body, "text/event-stream")
    async with upstream as url:
        service = await make_proxy(base_url=url, default_provider=None)
        stream = await sdk(service).chat.completions.create(
            model="llama-3.3-70b-versatile", messages=USER, stream=True
        )
        async for _ in stream:
            pass
        (trace,) = await saved_traces(service)
    assert "usage" not in trace.chunks[-2].data  # the last JSON chunk, before [DONE]
    usage = trace.metadata.usage
    assert usage is not None and not usage.estimated
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (17, 1107, 1124)
    assert trace.metadata.cost_usd is not None  # priced at Groq (response model qwen/qwen3-32b)


async def test_grok_reasoning_totals_add_up_through_the_proxy(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    """The xAI mock replays the real grok-3-mini recording; the trace's completion includes
    the 290 reasoning tokens and its cost is xAI's own bill for the call."""
    service = await make_proxy()
    stream = await sdk(service).chat.completions.create(
        model="grok-3-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    async for _ in stream:
        pass
    (trace,) = await saved_traces(service)
    usage = trace.metadata.usage
    assert usage is not None
    assert usage.prompt_tokens + usage.completion_tokens == usage.total_tokens
    assert usage.reasoning_tokens > 0
    assert usage.reasoning_tokens <= usage.completion_tokens
    raw = trace.response["usage"]
    assert trace.metadata.cost_usd == pytest.approx(raw["cost_in_usd_ticks"] / 1e10, rel=1e-9)
    assert trace.metadata.first_content_latency_ms is not None


@pytest.mark.parametrize("model", ["claude-3-5-haiku-latest", "gemini-2.0-flash", "command-r"])
async def test_first_content_on_converted_streams(make_proxy, sdk, model: str) -> None:  # type: ignore[no-untyped-def]
    """Converted providers (mock upstream replaying their recordings): the first content is
    timed at the first native event that converts to a content delta, never before the first
    chunk."""
    service = await make_proxy()
    stream = await sdk(service).chat.completions.create(model=model, messages=USER, stream=True)
    async for _ in stream:
        pass
    (trace,) = await saved_traces(service)
    meta = trace.metadata
    assert meta.first_chunk_latency_ms is not None and meta.first_content_latency_ms is not None
    assert meta.first_content_latency_ms >= meta.first_chunk_latency_ms
    offsets = [c.offset_ms for c in trace.chunks]
    assert meta.first_content_latency_ms in offsets


@pytest.mark.parametrize("endpoint", ["chat/completions", "embeddings", "responses"])
def test_every_openai_endpoint_sends_upstream_models_to_the_upstream_address(
    endpoint: str,
) -> None:
    # Before the three endpoints shared one routing step, /v1/responses sent a model routed
    # to --upstream to the provider it is recorded as (groq: the mock), not the address.
    config = Config()
    upstreams = resolve_upstreams(config, override_url="http://127.0.0.1:9/v1", env={})
    router = Router(config, upstreams=upstreams)
    body = {"model": "llama-3.3-70b-versatile", "input": "hi", "messages": USER}
    raw = msgspec.json.encode(body)
    request = ClientRequest("POST", f"/v1/{endpoint}", "", [], raw, body, None, endpoint)
    plan = plan_request(request, router, upstreams)
    assert isinstance(plan, ForwardingPlan)
    assert plan.url == f"http://127.0.0.1:9/v1/{endpoint}"
    assert plan.target.provider == "groq"
    assert msgspec.json.decode(plan.body)["model"] == "llama-3.3-70b-versatile"

"""Budgets enforced by the proxy, driven with the official OpenAI SDK against fake upstreams
that answer with real recorded provider answers (tests/data/provider-streams) and log every
request they get: the ``X-TraceForge-Budget`` header, a ``block`` budget's 429
``budget_exceeded`` answered without calling the upstream (and recorded), ``warn`` alerts
once per threshold, period rollover on an injected clock, scopes (model, provider, tag),
and the spend read from the store at start."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openai
import pytest

from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import RecordingUpstream, saved_traces
from traceforge_shared.budgets import period_bounds
from traceforge_shared.config import BudgetConfig, Config, UpstreamConfig
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

from .conftest import MakeProxy, Sdk

DATA = Path(__file__).parent / "data" / "provider-streams"
#: gpt-4.1-nano, 16 prompt + 363 completion tokens (379 total).
OPENAI_ANSWER = (DATA / "openai-chat" / "completion.json").read_bytes()
#: claude-sonnet-4-5, 12 input + 29 output tokens (41 total).
ANTHROPIC_ANSWER = (DATA / "anthropic-messages" / "message.json").read_bytes()
JSON = "application/json"
HEADER_ENTRY = re.compile(
    r"name=(?P<name>[\w.-]+); remaining_(?P<unit>usd|tokens)=(?P<left>[\d.]+); "
    r"used=(?P<used>\d+\.\d{4}); period_end=(?P<end>\d{4}-\d\d-\d\dT00:00:00Z)"
)


def _budgets_header(response: Any) -> dict[str, dict[str, str]]:
    value = response.headers.get("x-traceforge-budget")
    if value is None:
        return {}
    entries = [HEADER_ENTRY.fullmatch(part) for part in value.split(", ")]
    assert all(entries), value
    return {m["name"]: m.groupdict() for m in entries if m}


async def _proxy(make_proxy: Any, budgets: list[BudgetConfig], **upstreams: str) -> ProxyService:
    config = Config(budgets=budgets)
    openai_url = upstreams.pop("openai", "http://127.0.0.1:9")  # unused: nothing listens
    for provider, url in upstreams.items():
        config.upstreams[provider] = UpstreamConfig(base_url=url)
    service: ProxyService = await make_proxy(
        base_url=f"{openai_url}/v1", api_key="sk-upstream", default_provider=None, config=config
    )
    return service


async def _call(client: openai.AsyncOpenAI, model: str = "gpt-4.1-nano", **headers: str) -> Any:
    return await client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": "Tell me about budgets"}],
        extra_headers=headers or None,
    )


async def test_block_budget_answers_429_without_calling_the_upstream(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    async with upstream as url:
        budget = BudgetConfig(name="daily", limit_tokens=700, action="block")
        service = await _proxy(make_proxy, [budget], openai=url)
        client = sdk(service)
        first = await _call(client)
        await saved_traces(service, 1)  # spend counts once the trace is saved
        second = await _call(client)
        await saved_traces(service, 2)
        with pytest.raises(openai.RateLimitError) as refused:
            await _call(client)
        traces = await saved_traces(service, 3)
    assert len(upstream.requests) == 2  # the third call never reached the upstream
    assert _budgets_header(first)["daily"]["left"] == "700"
    assert _budgets_header(second)["daily"]["left"] == str(700 - 379)
    assert _budgets_header(second)["daily"]["used"] == f"{379 / 700:.4f}"
    assert _budgets_header(refused.value.response)["daily"]["left"] == "0"
    error = refused.value.body
    assert isinstance(error, dict)
    assert (error["type"], error["code"]) == ("budget_exceeded", "budget_exceeded")
    assert "daily" in error["message"] and "not sent upstream" in error["message"]
    blocked = traces[2]
    assert blocked.metadata.status == "error"
    assert blocked.metadata.status_code == 429
    assert blocked.metadata.error is not None
    assert blocked.metadata.error.type == "budget_exceeded"
    assert (blocked.provider, blocked.model) == ("openai", "gpt-4.1-nano")
    assert blocked.metadata.upstream_url is None
    assert blocked.request["messages"][0]["content"] == "Tell me about budgets"
    # The trace id header is there too: the refusal can be looked up.
    assert refused.value.response.headers["x-traceforge-trace-id"] == blocked.id


async def test_usd_budget_counts_the_priced_cost(make_proxy: MakeProxy, sdk: Sdk) -> None:
    upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    async with upstream as url:
        budget = BudgetConfig(name="usd", limit_usd=0.0002, action="block")
        service = await _proxy(make_proxy, [budget], openai=url)
        client = sdk(service)
        first = await _call(client)
        (trace,) = await saved_traces(service, 1)
        second = await _call(client)
        await saved_traces(service, 2)
        with pytest.raises(openai.RateLimitError):
            await _call(client)
    cost = trace.metadata.cost_usd
    assert cost is not None and 0.0001 < cost < 0.0002  # genai-prices: gpt-4.1-nano
    assert _budgets_header(first)["usd"] == {
        "name": "usd",
        "unit": "usd",
        "left": "0.000200",
        "used": "0.0000",
        "end": period_bounds("day", datetime.now(UTC))[1].strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert float(_budgets_header(second)["usd"]["left"]) == pytest.approx(0.0002 - cost, abs=1e-6)
    assert len(upstream.requests) == 2


async def test_unpriced_model_counts_toward_tokens_not_usd(make_proxy: MakeProxy, sdk: Sdk) -> None:
    # A self-hosted OpenAI-compatible server (vLLM...) answering in OpenAI's shape: no price
    # list exists for it, so its calls have tokens but no cost.
    upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    async with upstream as url:
        budgets = [
            BudgetConfig(name="usd", limit_usd=0.0001, action="block"),
            BudgetConfig(name="tokens", limit_tokens=100_000),
        ]
        service = await _proxy(make_proxy, budgets, **{"openai-compatible": f"{url}/v1"})
        client = sdk(service)
        await _call(client, model="openai-compatible/my-finetune")
        (trace,) = await saved_traces(service, 1)
        after = await _call(client, model="openai-compatible/my-finetune")
        await saved_traces(service, 2)
    assert trace.provider == "openai-compatible"
    assert trace.metadata.cost_usd is None
    header = _budgets_header(after)
    assert header["usd"]["left"] == "0.000100"  # not blocked: an unknown cost is not USD 0...
    assert header["tokens"]["left"] == str(100_000 - 379)  # ...but its tokens count
    assert service.budgets is not None
    usd = next(s for s in service.budgets.status() if s.budget.name == "usd")
    assert (usd.spend.unpriced_calls, usd.spend.cost_usd, usd.spend.tokens) == (2, 0.0, 758)
    assert len(upstream.requests) == 2


async def test_warn_budget_alerts_once_per_threshold(make_proxy: MakeProxy, sdk: Sdk) -> None:
    upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    async with upstream as url:
        budget = BudgetConfig(name="soft", limit_tokens=450)  # warn, alerts at 80% and 100%
        service = await _proxy(make_proxy, [budget], openai=url)
        assert service.budgets is not None
        alerts: list[str] = []
        service.budgets.on_alert = alerts.append
        client = sdk(service)
        for n in range(1, 5):
            await _call(client)
            await saved_traces(service, n)
            if n == 1:
                assert len(alerts) == 1 and alerts[0].startswith(
                    "budget soft: 80% used (379 of 450"
                )
    assert len(upstream.requests) == 4  # warn never refuses
    assert len(alerts) == 2
    assert alerts[1].startswith("budget soft: limit reached (758 of 450 tokens per day")
    assert alerts[1].endswith("calls still go through (action: warn)")


async def test_period_rollover_resets_spend_and_alerts(make_proxy: MakeProxy, sdk: Sdk) -> None:
    upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    async with upstream as url:
        budget = BudgetConfig(name="daily", limit_tokens=300, action="block")
        service = await _proxy(make_proxy, [budget], openai=url)
        guard = service.budgets
        assert guard is not None
        alerts: list[str] = []
        guard.on_alert = alerts.append
        now = [datetime.now(UTC)]
        guard.clock = lambda: now[0]
        client = sdk(service)
        await _call(client)
        await saved_traces(service, 1)
        with pytest.raises(openai.RateLimitError):
            await _call(client)
        await saved_traces(service, 2)
        today_end = guard.status()[0].end
        now[0] = today_end + timedelta(hours=1)  # the next UTC day
        tomorrow = await _call(client)
        await saved_traces(service, 3)
    assert len(upstream.requests) == 2
    header = _budgets_header(tomorrow)["daily"]
    assert header["left"] == "300"
    assert header["end"] == (today_end + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # day one's call passed 80% and 100% at once: one alert, the highest; day two's call
    # began (real clock) before day two, so it does not count there
    assert alerts == [
        f"budget daily: limit reached (379 of 300 tokens per day; resets "
        f"{today_end.strftime('%Y-%m-%dT%H:%M:%SZ')}); further calls get 429 budget_exceeded"
    ]
    assert guard.status()[0].spend.calls == 0


async def test_scopes_model_provider_tag(make_proxy: MakeProxy, sdk: Sdk) -> None:
    openai_upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    anthropic_upstream = RecordingUpstream(ANTHROPIC_ANSWER, JSON)
    async with openai_upstream as openai_url, anthropic_upstream as anthropic_url:
        budgets = [
            BudgetConfig(name="claude", provider="anthropic", limit_tokens=30, action="block"),
            BudgetConfig(name="nano", model="gpt-4.1-*", limit_tokens=1_000_000),
            BudgetConfig(name="batch", tag="batch", limit_tokens=300, action="block"),
        ]
        service = await _proxy(make_proxy, budgets, openai=openai_url, anthropic=anthropic_url)
        client = sdk(service)
        claude = await _call(client, model="claude-sonnet-4-5")
        await saved_traces(service, 1)
        with pytest.raises(openai.RateLimitError):
            await _call(client, model="claude-sonnet-4-5")
        nano = await _call(client)  # another provider: not refused
        other = await _call(client, model="openai/gpt-4o-mini")
        await saved_traces(service, 4)
        tagged = await _call(client, **{"X-TraceForge-Tags": "nightly, batch"})
        await saved_traces(service, 5)
        with pytest.raises(openai.RateLimitError):
            await _call(client, model="openai/gpt-4o-mini", **{"X-TraceForge-Tags": "batch"})
        untagged = await _call(client, model="openai/gpt-4o-mini")
        await saved_traces(service, 7)
    assert set(_budgets_header(claude)) == {"claude"}
    assert set(_budgets_header(nano)) == {"nano"}
    assert _budgets_header(other) == {}
    assert "x-traceforge-budget" not in other.headers
    assert set(_budgets_header(tagged)) == {"nano", "batch"}
    assert _budgets_header(untagged) == {}
    assert len(anthropic_upstream.requests) == 1
    assert len(openai_upstream.requests) == 4


async def test_spend_so_far_is_read_from_the_store_at_start(  # type: ignore[no-untyped-def]
    make_proxy, sdk, store: TraceStore
) -> None:
    two_days_ago = time.time() - 86_400 * 2
    old, priced, other_model = (
        make_trace(model="gpt-4.1-nano", epoch_s=two_days_ago, prompt_tokens=500),
        make_trace(model="gpt-4.1-nano", prompt_tokens=250, completion_tokens=50),
        make_trace(model="gpt-4o", prompt_tokens=5000),
    )
    priced.metadata.cost_usd = 0.01
    store.save_many([old, priced, other_model])
    upstream = RecordingUpstream(OPENAI_ANSWER, JSON)
    async with upstream as url:
        budget = BudgetConfig(name="nano", model="gpt-4.1-*", limit_tokens=300, action="block")
        service = await _proxy(make_proxy, [budget], openai=url)
        assert service.budgets is not None
        alerts: list[str] = []
        service.budgets.on_alert = alerts.append
        with pytest.raises(openai.RateLimitError):
            await _call(sdk(service))
    state = service.budgets.status()[0]
    assert (state.spend.tokens, state.spend.calls, state.spend.cost_usd) == (300, 1, 0.01)
    assert upstream.requests == []
    assert alerts == []  # what was spent before the start is not announced again


def test_period_bounds_are_utc_days_and_months() -> None:
    moment = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert period_bounds("day", moment) == (
        datetime(2026, 12, 31, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert period_bounds("month", moment) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(ValueError, match="day or month"):
        period_bounds("week", moment)

"""Call costs from genai-prices: ``traceforge_shared.cost``.

Expected costs are computed here by hand (tokens x price per million) from the per-token
prices in genai-prices' bundled data, not with its ``calc_price``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices.data_snapshot import get_snapshot

from traceforge_shared.cost import cost_usd
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import NativeCall, StreamChunk, Trace
from traceforge_shared.usage import usage_from_anthropic


def prices(provider_id: str, model: str) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None]:
    """(input, output, cache read, cache write) USD per million tokens, from the data."""
    _, info = get_snapshot().find_provider_model(model, None, provider_id, None)
    price = info.get_prices(datetime.now(UTC))
    values = (price.input_mtok, price.output_mtok, price.cache_read_mtok, price.cache_write_mtok)
    for value in values:
        assert value is None or isinstance(value, Decimal), "tiered price: pick another model"
    return values  # type: ignore[return-value]


def by_hand(*parts: tuple[int, Decimal | None]) -> float:
    total = Decimal(0)
    for tokens, per_million in parts:
        assert per_million is not None
        total += Decimal(tokens) * per_million / Decimal(1_000_000)
    return float(total)


def with_cached(trace: Trace, cached: int) -> Trace:
    """The trace as the proxy records a cache hit: in the answer and in ``Usage``."""
    trace.response["usage"]["prompt_tokens_details"] = {"cached_tokens": cached}
    assert trace.metadata.usage is not None
    trace.metadata.usage.cache_read_tokens = cached
    return trace


def test_openai_model() -> None:
    trace = make_trace(model="gpt-4o-mini", prompt_tokens=1000, completion_tokens=500)
    inp, out, _, _ = prices("openai", "gpt-4o-mini")
    expected = by_hand((1000, inp), (500, out))
    assert cost_usd(trace) == pytest.approx(expected, rel=1e-9)
    # Published price of gpt-4o-mini: $0.15 / $0.60 per million input / output tokens.
    assert cost_usd(trace) == pytest.approx(0.00045, rel=1e-9)


def test_openai_cached_prompt_tokens_are_cheaper() -> None:
    trace = with_cached(
        make_trace(model="gpt-4o", prompt_tokens=2000, completion_tokens=300), cached=1500
    )
    inp, out, cache_read, _ = prices("openai", "gpt-4o")
    expected = by_hand((500, inp), (1500, cache_read), (300, out))
    assert cache_read is not None and cache_read < inp
    assert cost_usd(trace) == pytest.approx(expected, rel=1e-9)
    uncached = by_hand((2000, inp), (300, out))
    assert cost_usd(trace) < uncached  # type: ignore[operator]


def test_anthropic_model_answering_model_first() -> None:
    trace = make_trace(
        model="claude-3-5-haiku-latest",
        provider="anthropic",
        prompt_tokens=2400,
        completion_tokens=350,
    )
    trace.response_model = "claude-3-5-haiku-20241022"
    inp, out, _, _ = prices("anthropic", "claude-3-5-haiku-20241022")
    assert cost_usd(trace) == pytest.approx(by_hand((2400, inp), (350, out)), rel=1e-9)


def test_anthropic_cache_reads_and_writes() -> None:
    # The proxy's prompt_tokens is input + cache read + cache creation (all of Anthropic's).
    trace = make_trace(
        model="claude-sonnet-4-20250514",
        provider="anthropic",
        prompt_tokens=100 + 3000 + 1200,
        completion_tokens=80,
    )
    native_usage = {
        "input_tokens": 100,
        "cache_read_input_tokens": 3000,
        "cache_creation_input_tokens": 1200,
        "output_tokens": 80,
    }
    trace.native = NativeCall(endpoint="/v1/messages", response={"usage": native_usage})
    trace.metadata.usage = usage_from_anthropic(native_usage)
    inp, out, cache_read, cache_write = prices("anthropic", "claude-sonnet-4-20250514")
    expected = by_hand((100, inp), (3000, cache_read), (1200, cache_write), (80, out))
    assert cost_usd(trace) == pytest.approx(expected, rel=1e-9)


def test_anthropic_cache_writes_are_read_from_usage_not_chunks() -> None:
    trace = make_trace(
        model="claude-sonnet-4-20250514",
        provider="anthropic",
        prompt_tokens=50 + 700,
        completion_tokens=20,
    )
    start = {
        "type": "message_start",
        "message": {"usage": {"input_tokens": 50, "cache_creation_input_tokens": 700}},
    }
    trace.chunks = [StreamChunk(index=0, delta_ms=5.0, offset_ms=5.0, data=start)]
    inp, out, _, cache_write = prices("anthropic", "claude-sonnet-4-20250514")
    # Usage without the cache write: the chunks are not dug through any more.
    assert cost_usd(trace) == pytest.approx(by_hand((750, inp), (20, out)), rel=1e-9)
    assert trace.metadata.usage is not None
    trace.metadata.usage.cache_write_tokens = 700
    inp, out, _, cache_write = prices("anthropic", "claude-sonnet-4-20250514")
    expected = by_hand((50, inp), (700, cache_write), (20, out))
    assert cost_usd(trace) == pytest.approx(expected, rel=1e-9)


def test_response_model_is_preferred_and_model_is_the_fallback() -> None:
    trace = make_trace(model="gpt-4o", prompt_tokens=1000, completion_tokens=1000)
    trace.response_model = "gpt-4o-mini-2024-07-18"
    mini_in, mini_out, _, _ = prices("openai", "gpt-4o-mini")
    assert cost_usd(trace) == pytest.approx(by_hand((1000, mini_in), (1000, mini_out)))

    trace.response_model = "my-fine-tune-nobody-prices"
    big_in, big_out, _, _ = prices("openai", "gpt-4o")
    assert cost_usd(trace) == pytest.approx(by_hand((1000, big_in), (1000, big_out)))


@pytest.mark.parametrize(
    ("provider", "model", "provider_id", "priced_model"),
    [
        ("gemini", "gemini-2.0-flash", "google", "gemini-2.0-flash"),
        ("gemini", "models/gemini-2.0-flash", "google", "gemini-2.0-flash"),
        ("xai", "grok-3-mini", "x-ai", "grok-3-mini"),
        ("azure", "gpt-4o", "azure", "gpt-4o"),
        ("cohere", "command-r-plus", "cohere", "command-r-plus"),
    ],
)
def test_provider_names_map_to_genai_prices_ids(
    provider: str, model: str, provider_id: str, priced_model: str
) -> None:
    trace = make_trace(model=model, provider=provider, prompt_tokens=4000, completion_tokens=900)
    inp, out, _, _ = prices(provider_id, priced_model)
    assert cost_usd(trace) == pytest.approx(by_hand((4000, inp), (900, out)), rel=1e-9)


def test_unknown_model_is_none() -> None:
    assert cost_usd(make_trace(model="totally-made-up-model-x1")) is None
    assert cost_usd(make_trace(model="", provider="openai")) is None
    assert cost_usd(make_trace(model="gpt-4o", provider="no-such-provider")) is None


def test_missing_usage_is_none() -> None:
    trace = make_trace(model="gpt-4o")
    trace.metadata.usage = None
    assert cost_usd(trace) is None


def test_ollama_is_free() -> None:
    trace = make_trace(model="llama3.2", provider="ollama", prompt_tokens=900)
    assert cost_usd(trace) == 0.0
    trace.metadata.usage = None
    assert cost_usd(trace) == 0.0


def test_recorded_cost_wins() -> None:
    trace = make_trace(model="totally-made-up-model-x1", provider="ollama")
    trace.metadata.cost_usd = 0.0123
    assert cost_usd(trace) == 0.0123


def test_inconsistent_cache_counts_are_priced_as_plain_input() -> None:
    trace = with_cached(make_trace(model="gpt-4o", prompt_tokens=10, completion_tokens=5), 50)
    inp, out, _, _ = prices("openai", "gpt-4o")
    assert cost_usd(trace) == pytest.approx(by_hand((10, inp), (5, out)), rel=1e-9)


def test_odd_response_and_timestamp_do_not_raise() -> None:
    trace = make_trace(model="gpt-4o-mini", prompt_tokens=1000, completion_tokens=500)
    trace.response = "not json"
    trace.timestamp = "yesterday"
    assert cost_usd(trace) == pytest.approx(0.00045, rel=1e-9)

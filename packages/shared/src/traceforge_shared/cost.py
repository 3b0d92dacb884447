"""The USD cost of a recorded call, from its provider, model and token usage.

Prices come from the ``genai-prices`` package (pydantic's, https://github.com/pydantic/genai-prices),
which ships its price data: no network access. Prices are looked up for the time of the call
(the trace's ``timestamp``), so an old trace keeps the price it had.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from traceforge_shared.providers import PROVIDER_SPECS
from traceforge_shared.trace import Trace, Usage


def cost_usd(trace: Trace) -> float | None:
    """Return what the call of ``trace`` cost, in US dollars.

    In order:

    1. ``trace.metadata.cost_usd`` when it is set (a cost recorded with the trace);
    2. ``0.0`` for local providers (``ollama``: ``local`` in the provider registry);
    3. the genai-prices price of the model that answered (``trace.response_model``, else the
       model asked for, ``trace.model``) at the provider (its registry ``pricing_id``:
       ``gemini`` → ``google``, ``xai`` → ``x-ai``, ...; a name not in the registry is passed
       as is), for every count of ``metadata.usage`` (:class:`~traceforge_shared.trace.Usage`):
       input tokens with cache reads and cache writes at their own prices, input audio at the
       audio price where genai-prices has one, output tokens (reasoning included: billed as
       output) with output audio likewise. An estimated usage gives an estimated cost.

    Returns ``None`` when the cost cannot be known: no usage recorded, a provider with no
    price list (``openai-compatible``), or neither model has a price at that provider in
    genai-prices. Never raises for odd trace content.
    """
    if trace.metadata.cost_usd is not None:
        return trace.metadata.cost_usd
    spec = PROVIDER_SPECS.get(trace.provider)
    if spec is not None and spec.local:
        return 0.0
    usage = trace.metadata.usage
    provider_id = trace.provider if spec is None else spec.pricing_id
    if usage is None or provider_id is None:
        return None
    # Imported on first use: genai-prices (pydantic, its price data) takes ~0.3 s to import.
    import genai_prices

    priced = _priced_usage(usage)
    when = _timestamp(trace.timestamp)
    for model in _model_refs(trace):
        if (provider_id, model) in _UNPRICED:
            continue
        try:
            price = genai_prices.calc_price(
                priced, model, provider_id=provider_id, genai_request_timestamp=when
            )
        except LookupError:
            # genai-prices caches the models it finds, not the ones it does not: remember
            # those, or every trace of an unknown model scans all its tables (~0.3 ms).
            if len(_UNPRICED) < _UNPRICED_MAX:
                _UNPRICED.add((provider_id, model))
            continue
        except (ValueError, ArithmeticError, TypeError):
            continue
        return float(price.total_price)
    return None


#: (provider id, model) pairs genai-prices has no price for, at most ``_UNPRICED_MAX``.
_UNPRICED: set[tuple[str, str]] = set()
_UNPRICED_MAX = 10_000


def _model_refs(trace: Trace) -> list[str]:
    """Model names to look up, the answering model first, without duplicates."""
    refs: list[str] = []
    for model in (trace.response_model, trace.model):
        if not isinstance(model, str) or not model:
            continue
        model = model.removeprefix("models/")  # Gemini's resource names
        if model not in refs:
            refs.append(model)
    return refs


def _priced_usage(usage: Usage) -> Any:
    """``usage`` as a ``genai_prices.Usage``: input and output tokens are passed as totals
    and genai-prices prices the cache, audio and plain remainders apart. A part larger than
    what is left of its whole (inconsistent counts in a hand-made or old trace) is priced as
    plain tokens instead."""
    import genai_prices

    values: dict[str, int] = {
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
    }
    left = {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}
    for name, whole, count in (
        ("cache_read_tokens", "input_tokens", usage.cache_read_tokens),
        ("cache_write_tokens", "input_tokens", usage.cache_write_tokens),
        ("input_audio_tokens", "input_tokens", usage.audio_tokens),
        ("output_audio_tokens", "output_tokens", usage.output_audio_tokens),
    ):
        if 0 < count <= left[whole]:
            values[name] = count
            left[whole] -= count
    return genai_prices.Usage(**values)


def _timestamp(value: str) -> datetime | None:
    """The trace's ISO 8601 timestamp, ``None`` (now) when it cannot be read."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


class CostRecorder:
    """``before_save`` hook: stores :func:`cost_usd` in ``metadata.cost_usd`` when it is not
    set and can be known, so listings, analytics and the ``cost`` assertion read it from the
    trace (and the index) instead of pricing every trace again."""

    def before_save(self, trace: Trace) -> Trace:
        """Set ``trace.metadata.cost_usd`` (USD) in place; returns ``trace``."""
        if trace.metadata.cost_usd is None and trace.metadata.usage is not None:
            trace.metadata.cost_usd = cost_usd(trace)
        return trace

"""Numbers as every UI writes them: durations in ms, costs in USD, token counts."""

from __future__ import annotations

from traceforge_shared.trace import Usage

#: What a UI shows for a value that is not known.
MISSING = "-"


def ms_number(value: float | None) -> str:
    """A duration in ms as a whole number with thousands separators (``1,830``); ``-`` when
    ``None`` (for table columns whose header says ``ms``)."""
    return MISSING if value is None else f"{value:,.0f}"


def ms_text(value: float | None) -> str:
    """A duration in ms with its unit: ``1,830 ms``, one decimal under 10 ms (``4.2 ms``);
    ``-`` when ``None``."""
    if value is None:
        return MISSING
    return f"{value:,.0f} ms" if abs(value) >= 10 else f"{value:.1f} ms"


def usd_text(value: float | None) -> str:
    """A cost in USD to the millionth of a dollar (``$0.000420``); ``-`` when unknown."""
    return MISSING if value is None else f"${value:.6f}"


def count_text(value: int) -> str:
    """A token count, ``-`` for 0 (the provider reported none)."""
    return str(value) if value else MISSING


#: Prefix of an estimated number (usage the provider did not report, and its cost).
ESTIMATED = "~"


def usage_text(usage: Usage | None) -> str:
    """Token usage as ``12 in / 40 out (52 total)``, then the non-zero parts of those counts:
    ``· 11 cache read · 5 cache write · 290 reasoning · 3 audio in · 2 audio out · 4 image``;
    ``~12 in / 40 out (52 total) · estimated`` when the counts are a local estimate; ``-``
    when none was reported."""
    if usage is None:
        return MISSING
    mark = ESTIMATED if usage.estimated else ""
    text = (
        f"{mark}{usage.prompt_tokens} in / {usage.completion_tokens} out "
        f"({usage.total_tokens} total)"
    )
    for count, label in (
        (usage.cache_read_tokens, "cache read"),
        (usage.cache_write_tokens, "cache write"),
        (usage.reasoning_tokens, "reasoning"),
        (usage.audio_tokens, "audio in"),
        (usage.output_audio_tokens, "audio out"),
        (usage.image_tokens, "image"),
    ):
        if count:
            text += f" · {count} {label}"
    return text + (" · estimated" if usage.estimated else "")


#: What a UI shows for the cost of a call with usage but no known price.
UNPRICED = "unknown (no price)"


def cost_text(cost: float | None, usage: Usage | None) -> str:
    """The cost of one call: ``$0.000420``; ``~$0.000420`` when priced from an estimated
    usage; ``unknown (no price)`` when tokens were used but no price is known (never
    ``$0``); ``-`` when there is no usage to price."""
    if cost is None:
        return UNPRICED if usage is not None else MISSING
    return (ESTIMATED if usage is not None and usage.estimated else "") + usd_text(cost)


def cost_sum_text(total: float | None, unpriced: int) -> str:
    """A sum of costs over calls, saying when some had no price: ``$0.042100``;
    ``≥ $0.042100 (3 unpriced)`` when some calls are left out; ``unknown (3 unpriced)`` when
    none had a price; ``-`` when there is nothing to price."""
    if not unpriced:
        return usd_text(total)
    if total is None:
        return f"unknown ({unpriced} unpriced)"
    return f"≥ {usd_text(total)} ({unpriced} unpriced)"

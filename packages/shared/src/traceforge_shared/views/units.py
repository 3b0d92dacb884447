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


def usage_text(usage: Usage | None) -> str:
    """Token usage as ``12 in / 40 out (52 total)``; ``-`` when none was reported."""
    if usage is None:
        return MISSING
    return f"{usage.prompt_tokens} in / {usage.completion_tokens} out ({usage.total_tokens} total)"

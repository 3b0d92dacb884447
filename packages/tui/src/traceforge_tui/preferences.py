"""The TUI's remembered choices (theme, hiding test traffic): the ``tui:`` section of the
home's config.yaml (:class:`traceforge_shared.config.TuiConfig`), read at start and written
through the one config writer (:func:`traceforge_shared.configfile.update_config`: validated,
comments kept, mode 0600), so nothing is written outside the TraceForge home.

Test traffic is the calls ``traceforge test run`` makes: it sends ``X-TraceForge-Meta-Source:
test``, recorded as the trace's ``meta["source"]`` and indexed as ``source``
(:data:`traceforge_shared.trace.TEST_SOURCE`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from traceforge_shared.config import ConfigError, TuiConfig, config_path, load_config
from traceforge_shared.configfile import update_config
from traceforge_shared.store import Condition, TraceFilter
from traceforge_shared.trace import TEST_SOURCE

__all__ = ["NOT_TEST_TRAFFIC", "load_preferences", "save_preferences", "without_test_traffic"]

#: The store condition that leaves out test traffic (traces without a source are kept).
NOT_TEST_TRAFFIC = Condition("source", "is_not", TEST_SOURCE)


def load_preferences(home: Path) -> TuiConfig:
    """The ``tui:`` section of ``home``'s config; the defaults when there is no config or it
    cannot be read (the config screen says why)."""
    try:
        return load_config(config_path(home)).tui
    except (ConfigError, OSError):
        return TuiConfig()


def save_preferences(home: Path, preferences: TuiConfig) -> str | None:
    """Write ``preferences`` as the ``tui:`` section of ``home``'s config (created from the
    default config when missing). Returns ``None``, or why it could not be written (an
    invalid config file, a read-only home): the caller shows it, nothing is raised."""
    settings = {
        "tui": {"theme": preferences.theme, "hide_test_traffic": preferences.hide_test_traffic}
    }
    try:
        update_config(home, settings, fsync=False)
    except ConfigError as exc:
        return f"cannot remember the setting: {exc}"
    except OSError as exc:
        return f"cannot remember the setting: {exc.strerror or exc}"
    return None


def without_test_traffic(filters: TraceFilter, hide: bool) -> TraceFilter:
    """``filters``, leaving out test traffic when ``hide`` is true."""
    if not hide:
        return filters
    return replace(filters, conditions=(*filters.conditions, NOT_TEST_TRAFFIC))

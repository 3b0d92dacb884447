"""What every command shares: the TraceForge home, its config and store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from traceforge_shared.config import Config, ConfigError, config_path, load_config, resolve_home
from traceforge_shared.store import TraceStore

F = TypeVar("F", bound=Callable[..., Any])


def _remember_home(ctx: click.Context, _: click.Parameter, value: Path | None) -> Path | None:
    if value is not None:
        ctx.meta["traceforge.home"] = value
    return value


def home_option(func: F) -> F:
    """Add ``--home DIR`` (also accepted after a subcommand)."""
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_remember_home,
        help="TraceForge home holding traces and config.yaml "
        "[default: $TRACEFORGE_HOME or ./.ai-tests]",
    )(func)


def home() -> Path:
    """Return the home chosen by ``--home``, ``$TRACEFORGE_HOME`` or the default."""
    ctx = click.get_current_context()
    return resolve_home(ctx.meta.get("traceforge.home"))


def store() -> TraceStore:
    """Return the trace store of the chosen home."""
    return TraceStore(home())


def config() -> Config:
    """Load ``config.yaml`` of the chosen home.

    Raises:
        click.ClickException: the file is invalid (message names file, line and field).
    """
    try:
        return load_config(config_path(home()))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc

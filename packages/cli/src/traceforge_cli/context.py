"""What every command shares: the TraceForge home, its config and store, and the options
several commands take.

``traceforge_shared`` is imported inside the functions, so ``traceforge --help`` (which only
needs :func:`home_option`) reads neither the config nor the store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from traceforge_shared.config import Config
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


def port_option(name: str, *, default: int | None, help: str) -> Callable[[F], F]:
    """Add a TCP port option ``name`` (an ``int`` from 0 to 65535; 0: any free port).

    The default is shown in ``--help`` unless it is ``None`` (then ``help`` says what
    applies).
    """
    return click.option(
        name,
        type=click.IntRange(0, 65535),
        default=default,
        show_default=default is not None,
        help=help,
    )


def mock_delay_option(name: str, *, default: float) -> Callable[[F], F]:
    """Add option ``name``: the pause in milliseconds (a ``float`` >= 0) between the SSE events
    of the built-in mock upstream."""
    return click.option(
        name,
        type=click.FloatRange(0),
        default=default,
        show_default=True,
        help="Pause between SSE events of the built-in mock upstream.",
    )


def home() -> Path:
    """Return the home chosen by ``--home``, ``$TRACEFORGE_HOME`` or the default."""
    from traceforge_shared.config import resolve_home

    ctx = click.get_current_context()
    return resolve_home(ctx.meta.get("traceforge.home"))


def ensure_home() -> Path:
    """Create the chosen home (and its parents) if missing and return it: for commands that
    run long (``start``, ``demo``), so a home that can never exist fails at once rather than
    losing every trace.

    Raises:
        traceforge_cli.errors.CliError: it cannot be created (a part of the path is a file,
            permission denied, read-only or full disk); the message names the path.
    """
    from traceforge_cli.errors import CliError, os_error_text

    path = home()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the TraceForge home: {os_error_text(exc)}") from exc
    return path


def store() -> TraceStore:
    """Return the trace store of the chosen home; indexing many trace files (a first listing
    of a copied store, a rebuild) shows progress on stderr (:mod:`traceforge_cli.progress`)."""
    from traceforge_cli.progress import ProgressReporter
    from traceforge_shared.store import TraceStore

    return TraceStore(home(), progress=ProgressReporter())


def config() -> Config:
    """Load ``config.yaml`` of the chosen home.

    Raises:
        click.ClickException: the file is invalid (every problem, one line each, naming file,
            line and key: :func:`traceforge_cli.errors.config_error`) or nested too deeply
            to parse.
    """
    from traceforge_cli.errors import config_error
    from traceforge_shared.config import ConfigError, config_path, load_config

    path = config_path(home())
    try:
        return load_config(path)
    except ConfigError as exc:
        raise config_error(exc) from exc
    except RecursionError as exc:  # a YAML parser recursing on deep nesting
        raise click.ClickException(f"{path}: invalid YAML: nested too deeply") from exc

"""``traceforge config``: check the configuration file."""

from __future__ import annotations

import sys

import click
import msgspec

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_cli.errors import EXIT_RUNTIME, EXIT_USAGE

#: Exit status of ``config check`` when the file has problems in its keys or values.
EXIT_PROBLEMS = EXIT_RUNTIME
#: Exit status when the file cannot be read as a YAML mapping at all.
EXIT_INVALID_FILE = EXIT_USAGE


class Problem(msgspec.Struct, kw_only=True):
    """One problem of ``config check --json``.

    Attributes:
        line: 1-based line in the file (``null`` when unknown).
        field: key path (``proxy.port``, ``upstreams.openai.models[0]``); ``null`` for the
            whole file.
        message: what is wrong (with a did-you-mean for an unknown key).
    """

    line: int | None
    field: str | None
    message: str


class CheckResult(msgspec.Struct, kw_only=True):
    """What ``config check --json`` prints.

    Attributes:
        path: the config file.
        exists: whether it exists (when not, the defaults apply and it is ``ok``).
        ok: whether it has no problem.
        problems: every problem, in file order.
    """

    path: str
    exists: bool
    ok: bool
    problems: list[Problem]


@click.group()
def config() -> None:
    """Check the configuration file (config.yaml)."""


@config.command("check")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(as_json: bool) -> None:
    """Check config.yaml and report every problem at once: unknown keys (with a
    did-you-mean), wrong types, numbers out of range, values not among the allowed ones,
    URLs that are not http(s)://host, empty or broken model globs.

    Exit status: 0 no problem (or no file: the defaults apply), 1 problems, 2 the file is not
    readable YAML (or not a mapping).
    """
    from traceforge_shared.config import ConfigError, config_path, load_config

    path = config_path(context.home())
    problems: list[ConfigError] = []
    status = 0
    try:
        load_config(path)
    except ConfigError as exc:
        several = getattr(exc, "problems", None)
        problems = several or [exc]
        status = EXIT_PROBLEMS if several else EXIT_INVALID_FILE
    result = CheckResult(
        path=str(path),
        exists=path.exists(),
        ok=not problems,
        problems=[Problem(line=p.line, field=p.field, message=p.reason) for p in problems],
    )
    if as_json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(result), indent=2).decode())
        sys.stdout.write("\n")
    elif not result.exists:
        click.echo(f"{path}: no config file; the defaults apply")
    elif not problems:
        click.echo(f"{path}: ok")
    else:
        for problem in problems:
            click.echo(str(problem))
        count = len(problems)
        click.echo(f"{count} problem{'' if count == 1 else 's'} in {path}", err=True)
    if status:
        raise click.exceptions.Exit(status)

"""``traceforge init``: set up ``.ai-tests/`` in a project and keep traces out of git."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_shared.config import DEFAULT_CONFIG_YAML, config_path
from traceforge_shared.configfile import write_config


def _ignore_entries(home: Path, root: Path) -> list[str]:
    try:
        relative = Path(os.path.relpath(home.resolve(), root.resolve()))
    except ValueError:  # another drive on Windows
        return []
    if relative.parts and relative.parts[0] == "..":
        return []
    base = relative.as_posix()
    return [f"{base}/traces/", f"{base}/results/", f"{base}/index.sqlite*"]


@click.command()
@home_option
@click.option("--force", is_flag=True, help="Overwrite an existing config.yaml.")
def init(force: bool) -> None:
    """Create the TraceForge home (.ai-tests/) with a commented config.yaml and a tests/
    folder, and add its traces and results to the project's .gitignore.

    The project root is the current directory. Running it again changes nothing.
    """
    console = Console()
    home = context.home()
    (home / "tests").mkdir(parents=True, exist_ok=True)
    config = config_path(home)
    if config.exists() and not force:
        console.print(f"kept     {config} (use --force to overwrite)")
    else:
        write_config(config, DEFAULT_CONFIG_YAML)  # validated, atomic, mode 0600
        console.print(f"wrote    {config}")
    root = Path.cwd()
    entries = _ignore_entries(home, root)
    if not entries:
        console.print(
            f"[yellow]{home} is outside {root}[/]: add its traces/ folder to your "
            "version control's ignore list yourself"
        )
        return
    gitignore = root / ".gitignore"
    existing = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [entry for entry in entries if entry not in present]
    if missing:
        block = (
            "# TraceForge: traces, results and the index hold prompts and answers\n"
            "# (the traceforge-no-traces pre-commit hook blocks them too); cassettes/ are\n"
            "# redacted recordings meant to be committed (the hook scans them for secrets)\n"
        )
        block += "".join(f"{entry}\n" for entry in missing)
        if existing:
            block = ("\n" if existing.endswith("\n") else "\n\n") + block
        gitignore.write_text(existing + block, encoding="utf-8")
        console.print(f"updated  {gitignore}: {', '.join(missing)}")
    else:
        console.print(f"kept     {gitignore} (already ignores traces)")

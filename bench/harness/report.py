"""Where results go: JSON and markdown under ``bench/results/``, with the machine's facts."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import psutil

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, cwd=RESULTS_DIR.parent
    )
    return done.stdout.strip()


def _commit() -> str:
    """The checked-out commit, ``+dirty`` when tracked files have changes."""
    try:
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return _git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_facts() -> dict[str, Any]:
    """What the numbers depend on: CPU, cores, memory, OS, Python, load, commit, time (UTC)."""
    return {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def facts_markdown(facts: dict[str, Any]) -> str:
    """The facts as one markdown line."""
    return (
        f"{facts['when']}, commit {facts['commit']}: {facts['cpu']}, {facts['cores']} cores, "
        f"{facts['memory_gib']} GiB, {facts['os']}, Python {facts['python']}, "
        f"load average {facts['load_avg_1m']} at start"
    )


def write(name: str, data: dict[str, Any], markdown: str, out_dir: Path = RESULTS_DIR) -> Path:
    """Write ``<name>.json`` and ``<name>.md`` under ``out_dir`` (made if missing); returns the
    markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_bytes(msgspec.json.format(msgspec.json.encode(data)) + b"\n")
    path = out_dir / f"{name}.md"
    path.write_text(markdown)
    return path


def fmt(value: float | None, digits: int = 2, signed: bool = False) -> str:
    """A number for a table (``-`` when missing)."""
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"

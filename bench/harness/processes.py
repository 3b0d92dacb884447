"""The helper processes of a benchmark run: the fake upstream and the load generator, each
pinned to the core left free for them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec

from harness.loadgen import Job
from harness.systems import pinned

BENCH_DIR = Path(__file__).resolve().parent.parent


def _python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


class Upstream:
    """The fake upstream (:mod:`harness.upstream`) in its own process.

    Attributes:
        base: its OpenAI-compatible API base, ``http://127.0.0.1:<port>/v1``.
    """

    def __init__(self, cpu: int | None) -> None:
        self.process = subprocess.Popen(
            pinned(_python("harness.upstream", "--port", "0"), cpu),
            stdout=subprocess.PIPE,
            cwd=BENCH_DIR,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("ready "):
            self.process.kill()
            raise RuntimeError(f"fake upstream did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        """Kill it."""
        self.process.kill()
        self.process.wait()


class LoadGenerator:
    """The load generator (:mod:`harness.loadgen`), kept running across jobs."""

    def __init__(self, cpu: int | None) -> None:
        self.process = subprocess.Popen(
            pinned(_python("harness.loadgen"), cpu),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=BENCH_DIR,
        )

    def run(self, job: Job) -> dict[str, Any]:
        """Run one job and return its results (see :func:`harness.loadgen.run_job`).

        Raises:
            RuntimeError: the load generator died.
        """
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(msgspec.json.encode(job) + b"\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator exited with code {self.process.wait()}")
        result: dict[str, Any] = msgspec.json.decode(line)
        return result

    def stop(self) -> None:
        """Close its stdin and wait for it."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)

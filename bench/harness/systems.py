"""The systems under test: how to start each one in front of the fake upstream, pinned to a
core, and how to read its CPU time and memory.

- ``direct``: no proxy, the load generator calls the upstream (the baseline).
- ``traceforge``: ``traceforge start`` with its default config (recording, redaction and
  pricing on), a fresh home per run.
- ``litellm``: LiteLLM's proxy with a per-call logging callback (:mod:`harness.peers`).
- ``mitmproxy``: ``mitmdump`` in reverse-proxy mode as it ships (buffers whole bodies).
- ``mitmproxy-stream``: the same with streaming enabled.
- ``floor-tcp``, ``floor-http``, ``floor-aiohttp``: the least a Python proxy does
  (:mod:`harness.floor`): a byte relay; an HTTP relay on a bare ``asyncio.Protocol`` with
  TraceForge's upstream pool; the same on aiohttp's server. They record nothing: they show
  how much of the added time any Python proxy pays on this machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from harness import peers

SYSTEMS = (
    "direct",
    "traceforge",
    "litellm",
    "mitmproxy",
    "mitmproxy-stream",
    "floor-tcp",
    "floor-http",
    "floor-aiohttp",
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(command: list[str], cpu: int | None) -> list[str]:
    """``command`` run under ``taskset -c <cpu>`` when a core is given and taskset exists."""
    if cpu is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(cpu), *command]


def wait_port(port: int, process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """Block until something accepts connections on ``port``.

    Raises:
        RuntimeError: the process exited first, or ``timeout_s`` passed.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {timeout_s:.0f} s")


@dataclass
class Running:
    """A started system.

    Attributes:
        name: one of :data:`SYSTEMS`.
        url: OpenAI-compatible base the load generator calls, e.g. ``http://127.0.0.1:9/v1``.
        process: the proxy process (None for ``direct``).
        home: TraceForge's home (``traceforge`` only).
        sent: requests sent to it so far (the load generator's count, warm-ups included).
    """

    name: str
    url: str
    process: subprocess.Popen[bytes] | None = None
    home: Path | None = None
    sent: int = 0
    _log: Path | None = field(default=None, repr=False)

    def cpu_s(self) -> float:
        """User + system CPU seconds used so far by the proxy and its children (0 for direct)."""
        if self.process is None:
            return 0.0
        total = 0.0
        try:
            proc = psutil.Process(self.process.pid)
            for p in (proc, *proc.children(recursive=True)):
                times = p.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
        return total

    def rss_mb(self) -> float:
        """Resident memory of the proxy and its children now, in MiB (0 for direct)."""
        if self.process is None:
            return 0.0
        proc = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in (proc, *proc.children(recursive=True))) / 2**20

    def stop(self) -> None:
        """Terminate the proxy (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the proxy printed (for error messages)."""
        if self._log is None or not self._log.exists():
            return ""
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])


class RssSampler:
    """Samples a running system's resident memory in a thread, while used as a context
    manager: ``samples`` holds ``(seconds since start, MiB)``; ``peak_mb`` the highest."""

    def __init__(self, system: Running, every_s: float) -> None:
        self.system = system
        self.every_s = every_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        began = time.monotonic()
        while not self._stop.wait(self.every_s):
            try:
                self.samples.append((time.monotonic() - began, self.system.rss_mb()))
            except psutil.NoSuchProcess:
                return

    @property
    def peak_mb(self) -> float:
        """The highest sample (0 when none)."""
        return max((mb for _, mb in self.samples), default=0.0)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def traceforge_command(home: Path, upstream_base: str, port: int) -> list[str]:
    """``traceforge start`` from this interpreter's environment, proxy only."""
    exe = Path(sys.executable).parent / "traceforge"
    return [
        str(exe),
        "start",
        "--home",
        str(home),
        "--upstream",
        upstream_base,
        "--port",
        str(port),
        "--no-api",
    ]


def floor_command(kind: str, upstream_origin: str, port: int) -> list[str]:
    """A floor proxy (:mod:`harness.floor`) of ``kind`` on ``port`` in front of
    ``upstream_origin`` (``http://127.0.0.1:N``), from this interpreter's environment."""
    return [
        sys.executable,
        str(Path(__file__).with_name("floor.py")),
        kind,
        "--port",
        str(port),
        "--upstream",
        upstream_origin,
    ]


def start(
    name: str,
    upstream_base: str,
    workdir: Path,
    *,
    cpu: int | None,
    config_yaml: str | None = None,
    startup_timeout_s: float = 90.0,
) -> Running:
    """Start system ``name`` in front of ``upstream_base`` (``http://127.0.0.1:N/v1``).

    Args:
        name: one of :data:`SYSTEMS`.
        upstream_base: the fake upstream's API base.
        workdir: a directory for the system's files (home, config, logs).
        cpu: the core to pin the proxy to, or None.
        config_yaml: TraceForge ``config.yaml`` text (default config when None).
        startup_timeout_s: how long to wait for the proxy to listen.

    Raises:
        peers.PeerUnavailable: a peer is not installed (``python bench/harness/peers.py``).
        RuntimeError: the proxy did not start; the message holds the end of its output.
    """
    if name == "direct":
        return Running(name, upstream_base)
    port = free_port()
    sysdir = workdir / name
    sysdir.mkdir(parents=True, exist_ok=True)
    home: Path | None = None
    env = dict(os.environ)
    if name == "traceforge":
        home = sysdir / "home"
        home.mkdir(exist_ok=True)
        if config_yaml is not None:
            (home / "config.yaml").write_text(config_yaml)
        for key in ("OPENAI_API_KEY", "TRACEFORGE_HOME"):
            env.pop(key, None)
        command = traceforge_command(home, upstream_base, port)
    elif name == "litellm":
        command = peers.litellm_command(upstream_base, port, sysdir)
    elif name in ("mitmproxy", "mitmproxy-stream"):
        origin = upstream_base.removesuffix("/v1")
        command = peers.mitmdump_command(
            origin, port, streaming=name == "mitmproxy-stream", workdir=sysdir
        )
    elif name.startswith("floor-") and name in SYSTEMS:
        origin = upstream_base.removesuffix("/v1")
        kind = name.removeprefix("floor-")
        command = floor_command(kind, origin, port)
    else:
        raise ValueError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")
    log = sysdir / "output.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            pinned(command, cpu), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=sysdir
        )
    running = Running(name, f"http://127.0.0.1:{port}/v1", process, home, _log=log)
    try:
        wait_port(port, process, startup_timeout_s)
    except RuntimeError as exc:
        running.stop()
        raise RuntimeError(f"{name}: {exc}\n{running.log_tail()}") from None
    return running

"""Peer proxies for the benchmark harness: LiteLLM's proxy and mitmproxy's ``mitmdump``.

Each peer lives in its own virtual environment under ``bench/.peers/<name>/`` (kept out of the
dev venv: their pinned dependencies would clash with ours), made by :func:`install`.

    python bench/harness/peers.py install [litellm|mitmproxy|all]
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PEER_REQUIREMENTS: dict[str, str] = {
    "litellm": "litellm[proxy]==1.103.7",
    "mitmproxy": "mitmproxy==11.0.2",
}
"""Pinned requirement of each peer, installed with pip into the peer's own venv."""

PEERS_DIR: Path = Path(__file__).resolve().parent.parent / ".peers"
"""``bench/.peers``: one venv per peer, ``bench/.peers/<name>/``."""

_EXECUTABLES: dict[str, str] = {"litellm": "litellm", "mitmproxy": "mitmdump"}
_MARKER = "peer-requirement.txt"
_PIP_TAIL_LINES = 25


class PeerUnavailable(RuntimeError):
    """A peer cannot be installed or did not come up."""


def _check_name(name: str) -> str:
    if name not in PEER_REQUIREMENTS:
        known = ", ".join(sorted(PEER_REQUIREMENTS))
        raise ValueError(f"unknown peer {name!r} (known: {known})")
    return PEER_REQUIREMENTS[name]


def _venv_dir(name: str) -> Path:
    return PEERS_DIR / name


def _installed_requirement(venv: Path) -> str | None:
    try:
        return (venv / _MARKER).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _run_logged(cmd: list[str], *, quiet: bool, what: str) -> None:
    """Run ``cmd``, echoing its output unless ``quiet``; on failure raise with its last lines."""
    tail: collections.deque[str] = collections.deque(maxlen=_PIP_TAIL_LINES)
    with subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            if not quiet:
                print(line, end="", flush=True)
        code = proc.wait()
    if code != 0:
        lines = "\n".join(tail)
        raise PeerUnavailable(f"{what} failed (exit {code}): {' '.join(cmd)}\n{lines}")


def install(name: str, *, quiet: bool = True) -> Path:
    """Make ``bench/.peers/<name>/`` a venv holding the peer's pinned requirement.

    Idempotent: a marker file in the venv holds the requirement it was installed with; when it
    matches :data:`PEER_REQUIREMENTS` and the executable is there, nothing is done. Otherwise the
    venv is made anew (``python -m venv --clear``) and the requirement installed with pip.
    Returns the venv dir; raises :class:`PeerUnavailable` with pip's last lines on failure.
    """
    requirement = _check_name(name)
    venv = _venv_dir(name)
    if _installed_requirement(venv) == requirement and executable(name) is not None:
        return venv
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    (venv / _MARKER).unlink(missing_ok=True)
    _run_logged(
        [sys.executable, "-m", "venv", "--clear", str(venv)], quiet=quiet, what="python -m venv"
    )
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        pip.append("--quiet")
    _run_logged([*pip, requirement], quiet=quiet, what=f"pip install {requirement}")
    if not _executable_path(name).is_file():
        raise PeerUnavailable(f"{requirement} installed but {_executable_path(name)} is missing")
    (venv / _MARKER).write_text(requirement + "\n", encoding="utf-8")
    return venv


def _executable_path(name: str) -> Path:
    """Where the peer's executable is once installed (whether or not it is)."""
    _check_name(name)
    return _venv_dir(name) / "bin" / _EXECUTABLES[name]


def executable(name: str) -> Path | None:
    """The peer's executable (``litellm``, or ``mitmdump`` for mitmproxy); None if not installed."""
    path = _executable_path(name)
    if _installed_requirement(_venv_dir(name)) is None or not path.is_file():
        return None
    return path


def _require(name: str) -> Path:
    path = executable(name)
    if path is None:
        raise PeerUnavailable(
            f"{name} is not installed: python bench/harness/peers.py install {name}"
        )
    return path


# --- LiteLLM -------------------------------------------------------------------------------

_LITELLM_CALLBACK_MODULE = "bench_calls_logger"
_LITELLM_CALLBACK_INSTANCE = "calls_logger"
LITELLM_CALLS_FILE = "litellm-calls.jsonl"
"""File in the LiteLLM workdir that the logging callback appends one JSON line per call to."""

_LITELLM_CALLBACK_SOURCE = '''\
"""LiteLLM proxy callback written by bench/harness/peers.py: one JSON line per call."""

import json
import os
import threading

from litellm.integrations.custom_logger import CustomLogger

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), {calls_file!r})
_LOCK = threading.Lock()
_FILE = open(_PATH, "a", encoding="utf-8", buffering=1)  # line-buffered: one write per call


def _time(value):
    return value.timestamp() if hasattr(value, "timestamp") else value


def _dump(obj):
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    if isinstance(obj, dict):
        return obj
    return str(obj)


def _text(response):
    try:
        return "".join(c.message.content or "" for c in response.choices)
    except Exception:
        return None


class BenchCallsLogger(CustomLogger):
    def _write(self, ok, kwargs, response, start_time, end_time):
        record = {{
            "ok": ok,
            "model": kwargs.get("model"),
            "stream": bool(kwargs.get("stream")),
            "messages": kwargs.get("messages"),
            "response_text": _text(response) if ok else None,
            "usage": _dump(getattr(response, "usage", None)) if ok else None,
            "error": None if ok else str(kwargs.get("exception") or response),
            "start_time": _time(start_time),
            "end_time": _time(end_time),
        }}
        line = json.dumps(record, default=str) + "\\n"
        with _LOCK:
            _FILE.write(line)

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._write(True, kwargs, response_obj, start_time, end_time)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._write(False, kwargs, response_obj, start_time, end_time)


{instance} = BenchCallsLogger()
'''


def _litellm_config(upstream_base: str) -> str:
    """The proxy config: every model name forwarded to the upstream as an OpenAI model."""
    model = {
        "model_name": "*",
        "litellm_params": {"model": "openai/*", "api_base": upstream_base, "api_key": "sk-bench"},
    }
    config = {
        "model_list": [model],
        "litellm_settings": {
            "callbacks": f"{_LITELLM_CALLBACK_MODULE}.{_LITELLM_CALLBACK_INSTANCE}",
            "telemetry": False,
        },
        # One upstream call per request, as the other proxies make: no retries with backoff.
        "router_settings": {"num_retries": 0},
    }
    # JSON is YAML: no YAML library needed in the harness.
    return json.dumps(config, indent=2) + "\n"


def litellm_command(upstream_base: str, port: int, workdir: Path) -> list[str]:
    """Command running LiteLLM's proxy on 127.0.0.1:``port`` in front of ``upstream_base``.

    Writes ``config.yaml`` (every model name -> ``openai/<name>`` at ``upstream_base``, no
    retries, no master key or database) and the logging callback module into ``workdir``; the
    callback (loaded by LiteLLM from the config's folder, whatever the cwd) appends one JSON
    line per call, success or failure, to ``workdir/litellm-calls.jsonl``. The command starts
    with ``env`` to turn off telemetry and the remote cost-map fetch, keep loopback traffic off
    any ``HTTP_PROXY``, and silence per-request access logs (``LITELLM_LOG=ERROR``).
    """
    exe = _require("litellm")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yaml"
    config.write_text(_litellm_config(upstream_base), encoding="utf-8")
    callback = workdir / f"{_LITELLM_CALLBACK_MODULE}.py"
    callback.write_text(
        _LITELLM_CALLBACK_SOURCE.format(
            calls_file=LITELLM_CALLS_FILE, instance=_LITELLM_CALLBACK_INSTANCE
        ),
        encoding="utf-8",
    )
    return [
        "env",
        "LITELLM_TELEMETRY=False",
        "LITELLM_LOCAL_MODEL_COST_MAP=True",
        "LITELLM_LOG=ERROR",
        "NO_PROXY=127.0.0.1,localhost",
        "no_proxy=127.0.0.1,localhost",
        str(exe),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
        "--telemetry",
        "False",
    ]


# --- mitmproxy -----------------------------------------------------------------------------


def mitmdump_command(
    upstream_origin: str, port: int, *, streaming: bool, workdir: Path
) -> list[str]:
    """Command running ``mitmdump`` as a reverse proxy on 127.0.0.1:``port`` to ``upstream_origin``.

    ``streaming=False`` keeps mitmproxy's default (whole bodies buffered before relaying);
    ``streaming=True`` streams every body (``stream_large_bodies=1``: bodies over one byte are
    relayed as they arrive; this streams request bodies too). Its confdir (CA files it makes at
    start) is ``workdir/mitmproxy-conf``, not ``~/.mitmproxy``. Only errors reach the terminal
    (``flow_detail=0``, ``termlog_verbosity=error``): no line per flow or connection.
    """
    exe = _require("mitmproxy")
    workdir = workdir.resolve()
    confdir = workdir / "mitmproxy-conf"
    confdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(exe),
        "--mode",
        f"reverse:{upstream_origin}",
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "--set",
        f"confdir={confdir}",
        "--set",
        "flow_detail=0",
        "--set",
        "termlog_verbosity=error",
    ]
    if streaming:
        cmd += ["--set", "stream_large_bodies=1"]
    return cmd


# --- readiness -----------------------------------------------------------------------------


def wait_ready(url: str, timeout_s: float = 60) -> None:
    """Poll ``url`` until an HTTP server answers it (any status); else raise PeerUnavailable."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no HTTP_PROXY
    deadline = time.monotonic() + timeout_s
    last: str = "no attempt"
    while True:
        try:
            with opener.open(url, timeout=2) as resp:
                resp.read()
            return
        except urllib.error.HTTPError:
            return  # an HTTP status, whatever it is, means the server is up
        except (OSError, ValueError) as exc:
            last = repr(exc)
        if time.monotonic() >= deadline:
            raise PeerUnavailable(f"{url} did not answer within {timeout_s:g} s (last: {last})")
        time.sleep(0.1)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _main(argv: list[str]) -> int:
    names = [*PEER_REQUIREMENTS, "all"]
    if len(argv) != 2 or argv[0] != "install" or argv[1] not in names:
        print(f"usage: python bench/harness/peers.py install [{'|'.join(names)}]", file=sys.stderr)
        return 2
    targets = list(PEER_REQUIREMENTS) if argv[1] == "all" else [argv[1]]
    for name in targets:
        requirement = PEER_REQUIREMENTS[name]
        already = (
            _installed_requirement(_venv_dir(name)) == requirement and executable(name) is not None
        )
        start = time.monotonic()
        try:
            venv = install(name)
        except PeerUnavailable as exc:
            print(f"{name}: install failed after {time.monotonic() - start:.1f} s\n{exc}")
            return 1
        took = time.monotonic() - start
        size_mb = _dir_size(venv) / 1e6
        verb = "already installed" if already else f"installed in {took:.1f} s"
        print(f"{name}: {requirement} {verb} at {venv} ({size_mb:.0f} MB), {executable(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

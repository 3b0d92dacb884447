"""``traceforge start``'s console, run as a real subprocess against the built-in mock upstream:
one access line per call on stdout (``--json``: one JSON object), nothing with ``--quiet``,
and a client hanging up mid-stream or before the headers costs no traceback."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai

from traceforge_proxy.upstream import KEY_ENVS
from traceforge_shared.store import TraceStore

TRACEFORGE = [sys.executable, "-m", "traceforge_cli.main"]
WAIT_S = 30.0


def _env(home: Path) -> dict[str, str]:
    keys = {name for names in KEY_ENVS.values() for name in names} | {"OLLAMA_HOST"}
    env = {k: v for k, v in os.environ.items() if k not in keys and k != "TRACEFORGE_DEBUG"}
    env.update(TRACEFORGE_HOME=str(home), COLUMNS="120", PYTHONUNBUFFERED="1")
    return env


class Started:
    """A running ``traceforge start``: its base URL and its stdout lines as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout

        def read() -> None:
            for line in stdout:
                self.lines.put(line)

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        match = re.search(r"listening on (http://\S+/v1)", self.next_line("listening on"))
        assert match is not None
        self.url = match.group(1)

    def next_line(self, needle: str) -> str:
        """The next stdout line holding ``needle`` (fails after WAIT_S)."""
        while True:
            line = self.lines.get(timeout=WAIT_S)
            self.seen.append(line)
            if needle in line:
                return line

    def stop(self) -> tuple[str, str]:
        """SIGINT; the rest of stdout and the whole stderr."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=WAIT_S)
        self.reader.join(WAIT_S)  # stdout is read by the reader thread only
        assert self.process.stderr is not None
        err = self.process.stderr.read()
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return "".join(self.seen + rest), err


@contextmanager
def started(home: Path, *options: str) -> Iterator[Started]:
    process = subprocess.Popen(
        [*TRACEFORGE, "start", "--port", "0", "--no-api", *options],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Started(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_S)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def _stream(url: str) -> str:
    with openai.OpenAI(base_url=url, api_key="sk-console-test", max_retries=0) as client:
        return "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
            )
            if c.choices
        )


def test_one_access_line_per_call(home: Path) -> None:
    with started(home, "--mock-delay-ms", "0") as proxy:
        assert _stream(proxy.url)
        line = proxy.next_line(" ttft ")  # printed once the trace is saved
        (trace,) = TraceStore(home).list()
        out, err = proxy.stop()
    pattern = (
        r"^\d\d:\d\d:\d\d openai gpt-4o-mini 200 [\d.,]+ ms ttft [\d.,]+ ms "
        r"tokens (\d+)/(\d+) (\$\d+\.\d{6}|cost unknown) (\S+)$"
    )
    match = re.match(pattern, line.strip())
    assert match, line
    assert (int(match.group(1)), int(match.group(2))) == (
        trace.prompt_tokens,
        trace.completion_tokens,
    )
    assert match.group(4) == trace.id
    assert trace.cost_usd is not None  # gpt-4o-mini has a price
    assert match.group(3) == f"${trace.cost_usd:.6f}"
    assert sum(" ttft " in x for x in out.splitlines()) == 1
    assert "Traceback" not in err


def test_json_access_lines(home: Path) -> None:
    with started(home, "--mock-delay-ms", "0", "--json") as proxy:
        _stream(proxy.url)
        line = proxy.next_line('"trace_id"')
        proxy.stop()
    record = json.loads(line)
    (trace,) = TraceStore(home).list()
    assert record["trace_id"] == trace.id
    assert (record["provider"], record["model"], record["status_code"]) == (
        "openai",
        "gpt-4o-mini",
        200,
    )
    assert record["input_tokens"] == trace.prompt_tokens
    assert record["ttft_ms"] is not None and record["ttft_ms"] <= record["latency_ms"]


def test_quiet_prints_no_access_line(home: Path) -> None:
    with started(home, "--mock-delay-ms", "0", "--quiet") as proxy:
        _stream(proxy.url)
        _stream(proxy.url)
        out, err = proxy.stop()
    assert len(TraceStore(home).list()) == 2
    assert " ttft " not in out
    assert "stopped" in out, err


def _raw_stream_request(url: str) -> socket.socket:
    host, port = re.match(r"http://([^:/]+):(\d+)/", url).groups()  # type: ignore[union-attr]
    body = json.dumps(
        {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()
    sock = socket.create_connection((host, int(port)), timeout=WAIT_S)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    return sock


def test_client_hanging_up_mid_stream_is_no_traceback(home: Path) -> None:
    # A slow stream (200 ms between events): the client reads the headers and the first
    # event, then hangs up; the proxy cancels the upstream, whose writes then fail.
    with started(home, "--mock-delay-ms", "200") as proxy:
        sock = _raw_stream_request(proxy.url)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.close()
        line = proxy.next_line(" ttft ")  # the hung-up call is recorded and printed
        _, err = proxy.stop()
    assert "client_disconnected" in line
    assert "Traceback" not in err and "Error handling request" not in err, err
    assert all(x.startswith("traceforge: ") for x in err.splitlines()), err
    assert [s.status for s in TraceStore(home).list()] == ["client_disconnected"]


def test_client_hanging_up_before_the_headers_is_no_traceback(home: Path) -> None:
    with started(home, "--mock-delay-ms", "200") as proxy:
        sock = _raw_stream_request(proxy.url)
        sock.close()  # before the upstream answered
        line = proxy.next_line(" ttft ")
        _, err = proxy.stop()
    assert "client_disconnected" in line
    assert "Traceback" not in err and "Error handling request" not in err, err
    assert [s.status for s in TraceStore(home).list()] == ["client_disconnected"]

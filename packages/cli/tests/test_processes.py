"""``traceforge demo`` and ``traceforge start`` run as real subprocesses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

import openai

from traceforge_proxy.upstream import KEY_ENVS
from traceforge_shared.store import TraceStore

TRACEFORGE = [sys.executable, "-m", "traceforge_cli.main"]


def _env(home: Path) -> dict[str, str]:
    keys = {name for names in KEY_ENVS.values() for name in names} | {"OLLAMA_HOST"}
    env = {k: v for k, v in os.environ.items() if k not in keys}
    env.update(TRACEFORGE_HOME=str(home), COLUMNS="120", PYTHONUNBUFFERED="1")
    return env


def _get_json(url: str) -> dict[str, list[dict[str, object]]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        data: dict[str, list[dict[str, object]]] = json.load(response)
        return data


def test_demo_runs_the_sdk_through_the_proxy(home: Path) -> None:
    result = subprocess.run(
        [*TRACEFORGE, "demo", "--delay-ms", "0"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Recorded 11 traces" in out
    # xAI's recorded usage: 12 prompt, 1 completion, 290 reasoning tokens (data/xai/README.md).
    assert "grok-3-mini: 12 input tokens, 291 output tokens (290 of them reasoning)" in out
    assert "gemini-embedding-001: 2 vectors of 10 dimensions, 11 tokens" in out
    assert "get_weather" in out and "San Francisco" in out
    assert "I'm unable to provide real-time weather updates" in out
    assert "gpt-4.1-nano: Dummy PDF file" in out  # the Responses API call
    summaries = TraceStore(home).list()
    assert [(s.provider, s.streaming, s.status) for s in summaries] == [
        ("xai", True, "success"),  # a reasoning model
        ("gemini", False, "success"),  # embeddings, converted
        ("anthropic", True, "success"),  # Responses API, converted
        ("openai", True, "success"),  # Responses API
        ("cohere", True, "success"),
        ("ollama", True, "success"),
        ("gemini", True, "success"),
        ("anthropic", True, "success"),
        ("openai", True, "success"),
        ("openai", True, "success"),
        ("openai", False, "success"),
    ]
    assert "claude-sonnet-4-5: Hello! I'm doing well" in out
    assert all(s.total_tokens > 0 for s in summaries)


def test_start_records_sdk_traffic_until_interrupted(home: Path) -> None:
    process = subprocess.Popen(
        [*TRACEFORGE, "start", "--port", "0", "--api-port", "0", "--mock-delay-ms", "0"],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = api = None
        for line in process.stdout:
            match = re.search(r"listening on (http://\S+/v1)", line)
            url = match.group(1) if match else url
            match = re.search(r"REST API: (http://\S+)/api/traces", line)
            if match:
                api = match.group(1)
                break
        assert url, process.stderr.read() if process.stderr else ""
        assert api
        with openai.OpenAI(base_url=url, api_key="sk-start-test", max_retries=0) as client:
            text = "".join(
                c.choices[0].delta.content or ""
                for c in client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
                )
            )
        assert text.startswith("I'm unable")
        # The REST API served alongside reads the same store.
        deadline = time.monotonic() + 10
        while not (listed := _get_json(f"{api}/api/traces")["traces"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert listed[0]["streaming"] is True
        # Tests run through the API go through this proxy's runner and are recorded too.
        (home / "tests").mkdir(exist_ok=True)
        (home / "tests" / "holiday.yaml").write_text(
            "name: holiday\nrequest: {model: gpt-4o, messages: [{role: user, content: hi}]}\n"
            "assertions: [{type: icontains, value: holiday}]\n"
        )
        request = urllib.request.Request(
            f"{api}/api/tests/run",
            data=json.dumps({"mode": "proxy"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            run = json.load(response)
        assert [(r["name"], r["status"]) for r in run["results"]] == [("holiday", "passed")]
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped" in out
    test_call, sdk_call = TraceStore(home).list()
    assert sdk_call.streaming and sdk_call.status == "success"
    assert not test_call.streaming and test_call.status == "success"


def test_start_refuses_an_invalid_config(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "config.yaml").write_text("proxy:\n  host: 127.0.0.1\n  port: lots\n")
    result = subprocess.run(
        [*TRACEFORGE, "start"], env=_env(home), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "config.yaml:3: proxy.port" in result.stderr


def test_start_port_in_use(home: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*TRACEFORGE, "start", "--port", str(port), "--no-api"],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "already in use" in result.stderr
    assert json.dumps(port) in result.stderr


def _json_run_lines(stream: IO[str]) -> list[dict[str, Any]]:
    """The result lines of one ``test run --json`` run read from ``stream``, up to and
    including its summary line (which must come last)."""
    results: list[dict[str, Any]] = []
    while True:
        line = json.loads(stream.readline())
        if line["type"] == "summary":
            assert line["passed"] + line["failed"] + line["errors"] == len(results)
            return results
        assert line["type"] == "result"
        results.append(line)


def test_test_run_watch_reruns_changed_files_until_interrupted(home: Path, tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    body = (
        "name: {name}\n"
        "request:\n  model: gpt-4o\n  messages: [{{role: user, content: hi}}]\n"
        "assertions:\n  - {{type: icontains, value: {word}}}\n"
    )
    (suite / "a.yaml").write_text(body.format(name="a", word="holiday"))
    (suite / "b.yaml").write_text(body.format(name="b", word="holiday"))
    process = subprocess.Popen(
        [*TRACEFORGE, "test", "run", str(suite), "--watch", "--json"],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = _json_run_lines(process.stdout)
        assert sorted((r["name"], r["status"]) for r in first) == [
            ("a", "passed"),
            ("b", "passed"),
        ]
        time.sleep(0.5)  # let the watcher start before the change
        (suite / "b.yaml").write_text(body.format(name="b", word="zebra"))
        second = _json_run_lines(process.stdout)
        # Only the changed file ran again, and it now fails.
        assert [(r["name"], r["status"]) for r in second] == [("b", "failed")]
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err

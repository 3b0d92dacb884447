"""``traceforge test run --direct`` end to end through click's runner: each request goes from
the SDK's client straight to the built-in mock upstream (real recorded answers) or to a
configured upstream, with no capture proxy, and nothing is recorded."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner
from ruamel.yaml import YAML

from traceforge_cli.main import cli
from traceforge_cli.testrun import RunOptions, run_tests
from traceforge_proxy.mock_upstream import create_mock_app
from traceforge_proxy.runner import ProxyService
from traceforge_shared.config import Config
from traceforge_shared.evals import TestCase
from traceforge_shared.evals.results import ResultStore
from traceforge_shared.store import TraceStore

# The mock's recorded answers: gpt-4.1-nano invents "Harmony Day"; Claude says hello, or
# calls get_weather for Paris when given tools.
HOLIDAY = "Invent a new holiday and describe its traditions."
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    YAML().dump(doc, path)
    return path


def _test_doc(
    name: str, model: str, assertions: list[dict[str, Any]], **request: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "request": {
            "model": model,
            "messages": [{"role": "user", "content": HOLIDAY}],
            **request,
        },
        "assertions": assertions,
    }


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["test", "run", "--direct", *args], catch_exceptions=False)


def _json_run(output: str) -> dict[str, Any]:
    """A ``test run --json`` output (result lines, then a summary line) as the summary with
    its ``results``."""
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines and lines[-1]["type"] == "summary", output
    assert all(line["type"] == "result" for line in lines[:-1])
    return {**lines[-1], "results": lines[:-1]}


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Direct runs must never start the capture proxy."""

    async def refuse(self: ProxyService) -> None:
        raise AssertionError("a direct run started the proxy")

    monkeypatch.setattr(ProxyService, "start", refuse)


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    folder = tmp_path / "suite"
    _write(
        folder / "a_openai_pass.yaml",
        _test_doc(
            "openai passes",
            "gpt-4.1-nano",
            [
                {"type": "icontains", "value": "holiday"},
                {"type": "contains", "value": "Harmony Day"},
                {"type": "finish_reason", "value": "stop"},
                {"type": "token_count", "max": 1000, "count": "total"},
                {"type": "latency", "max_ms": 30000},
            ],
            temperature=0.7,
            max_tokens=400,
        ),
    )
    _write(
        folder / "b_openai_fail.yaml",
        _test_doc(
            "openai fails",
            "gpt-4.1-nano",
            [
                {"type": "contains", "value": "Lanternfall"},
                {"type": "icontains", "value": "holiday"},
            ],
        ),
    )
    _write(
        folder / "c_claude_pass.yaml",
        _test_doc(
            "claude passes",
            "claude-sonnet-4-5",
            [
                {"type": "starts_with", "value": "Hello!"},
                {"type": "finish_reason", "value": "stop"},  # end_turn, in OpenAI's terms
                {"type": "token_count", "min": 1, "count": "completion"},
            ],
        ),
    )
    _write(
        folder / "d_claude_tool.yaml",
        _test_doc(
            "claude calls a tool",
            "claude-sonnet-4-5",
            [
                {"type": "tool_call", "name": "get_weather", "arguments": {"location": "Paris"}},
                {"type": "finish_reason", "value": "tool_calls"},
                {
                    "type": "is_json",
                    "field": "response.choices[0].message.tool_calls[0].function.arguments",
                },
            ],
            tools=[WEATHER_TOOL],
        ),
    )
    _write(
        folder / "e_claude_fail.yaml",
        _test_doc("claude fails", "claude-sonnet-4-5", [{"type": "contains", "value": "Paris"}]),
    )
    return folder


def _traces_left(home: Path) -> int:
    return TraceStore(home).count() if (home / "traces").exists() else 0


def test_direct_run_checks_assertions_for_openai_and_a_converted_provider(
    home: Path, suite: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    result = _run(str(suite), "--junit", str(junit))
    assert result.exit_code == 1, result.output
    assert "3 passed, 2 failed" in result.output
    assert "(direct;" in result.output
    header = next(line for line in result.output.splitlines() if "Status" in line)
    assert "Trace" not in header  # no trace column: nothing was recorded
    assert "FAILED openai fails" in result.output and "Lanternfall" in result.output
    assert "trace:" not in junit.read_text()
    assert _traces_left(home) == 0

    as_json = _run(str(suite), "--json")
    assert as_json.exit_code == 1
    run = _json_run(as_json.output)
    assert run["mode"] == "direct"
    by_name = {r["name"]: r for r in run["results"]}
    assert {name: r["status"] for name, r in by_name.items()} == {
        "openai passes": "passed",
        "openai fails": "failed",
        "claude passes": "passed",
        "claude calls a tool": "passed",
        "claude fails": "failed",
    }
    for r in run["results"]:
        assert r.get("trace_id") is None  # None is left out of the JSON (omit_defaults)
        assert r["error"] is None  # the providers answered
    failed = [(a["type"], a["passed"]) for a in by_name["openai fails"]["assertions"]]
    assert failed == [("contains", False), ("icontains", True)]
    assert _traces_left(home) == 0
    assert len(ResultStore(home).ids()) == 2  # the run results are still kept


def test_a_provider_error_fails_the_test_with_its_status(home: Path, tmp_path: Path) -> None:
    answer = [{"type": "icontains", "value": "holiday"}]
    _write(tmp_path / "s" / "openai.yaml", _test_doc("openai 401", "openai/mock-401", answer))
    _write(tmp_path / "s" / "claude.yaml", _test_doc("claude 401", "anthropic/mock-401", answer))
    _write(
        tmp_path / "s" / "unroutable.yaml", _test_doc("nobody serves it", "no-such-model", answer)
    )

    result = _run(str(tmp_path / "s"), "--json")
    assert result.exit_code == 2, result.output  # a test could not run (unroutable)
    by_name = {r["name"]: r for r in _json_run(result.output)["results"]}
    for name, provider in (("openai 401", "openai"), ("claude 401", "anthropic")):
        failed = by_name[name]
        assert failed["status"] == "failed"
        assert failed["error"].startswith(f"{provider} HTTP 401: ")
        assert [a["passed"] for a in failed["assertions"]] == [False]
        assert failed.get("trace_id") is None
    unroutable = by_name["nobody serves it"]
    assert unroutable["status"] == "error" and "no provider for model" in unroutable["error"]

    table = _run(str(tmp_path / "s" / "openai.yaml"))
    assert table.exit_code == 1
    assert "FAILED" in table.output and "openai HTTP 401" in table.output
    assert _traces_left(home) == 0


class _Upstream:
    """The mock upstream app served as if it were a configured real upstream, on a thread of
    its own; ``seen`` holds each request's (path, Authorization header)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.seen.append((request.path, request.headers.get("Authorization")))
        return await handler(request)

    async def _start(self) -> None:
        app = create_mock_app(delay_ms=0)
        app.middlewares.append(self._record)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = getattr(site, "_server", None)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    server = _Upstream()
    server.start()
    yield server
    server.stop()


def test_a_configured_upstream_gets_the_call_with_the_providers_key(
    home: Path, tmp_path: Path, upstream: _Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(f"upstreams:\n  openai:\n    base_url: {upstream.url}/v1\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-direct-test")
    path = _write(
        tmp_path / "t.yaml",
        _test_doc("configured", "gpt-4.1-nano", [{"type": "icontains", "value": "holiday"}]),
    )
    result = _run(str(path), "--json")
    assert result.exit_code == 0, result.output
    assert upstream.seen == [("/v1/chat/completions", "Bearer sk-direct-test")]
    assert _traces_left(home) == 0


def test_the_per_test_timeout_applies(store: TraceStore) -> None:
    case = TestCase(
        name="slow",
        request={"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": HOLIDAY}]},
    )
    run = asyncio.run(
        run_tests(
            [(Path("slow.yaml"), case), (Path("slow2.yaml"), case)],
            config=Config(),
            store=store,
            options=RunOptions(mode="direct", timeout_s=0.3, mock_delay_ms=50, concurrency=2),
        )
    )
    assert [r.status for r in run.results] == ["error", "error"]
    assert all(r.error == "no answer within 0.3 s" for r in run.results)
    assert all(r.trace_id is None for r in run.results)
    assert store.count() == 0

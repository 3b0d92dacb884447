"""The pytest plugin (traceforge_proxy.pytest_plugin) driving examples/replay_app's own suite:
replayed from its committed cassettes with the network blocked, a changed prompt failing with
the differing field, an unused recording reported (and --traceforge-strict failing on it), and
the socket guard. The example is copied to a temporary directory first, so its cassettes in
the repository are never written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from traceforge_shared.yamlfile import parse_yaml

pytest_plugins = ["pytester"]

# Load YAML before any pytester snapshot of sys.modules: in-process runs drop the modules
# imported after it, and the cached depth-limited scanner class must keep its ruamel modules.
parse_yaml("warm: up")

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "replay_app"
CASSETTES = Path("tests") / "cassettes" / "test_assistant"


@pytest.fixture
def example(pytester: pytest.Pytester) -> Path:
    """A copy of examples/replay_app as the inner pytest's root (no usage files, no caches)."""
    shutil.copytree(
        EXAMPLE,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".last-replay.json", "__pycache__", ".pytest_cache"),
    )
    return pytester.path


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in a subprocess in ``pytester.path`` (the nested run's proxy, sockets and
    global state stay out of this process), without the plugins the example does not use."""
    off = ("cacheprovider", "asyncio", "textual-snapshot", "syrupy", "schemathesis")
    return pytester.runpytest_subprocess(
        *(a for name in off for a in ("-p", f"no:{name}")), *args, timeout=120
    )


def test_the_example_suite_replays_offline(pytester: pytest.Pytester, example: Path) -> None:
    result = run(pytester)
    result.assert_outcomes(passed=4)
    assert "unused recordings" not in result.stdout.str()
    usage = json.loads((example / CASSETTES / "test_haiku" / ".last-replay.json").read_text())
    assert len(usage["used"]) == 1
    assert (usage["unused"], usage["misses"]) == ([], 0)


def test_a_changed_prompt_fails_naming_the_field(pytester: pytest.Pytester, example: Path) -> None:
    app = example / "assistant.py"
    source = app.read_text()
    assert "What is the weather in {city}?" in source
    app.write_text(source.replace("What is the weather in {city}?", "Weather in {city}?"))
    result = run(pytester, "-k", "test_weather_tool_call")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*traceforge: 1 request(s) had no recording:*"])
    field = 'body.messages[0].content: "Weather in Paris?" != "What is the weather in Paris?"'
    assert field in result.stdout.str()


def test_a_swallowed_miss_still_fails_the_test(pytester: pytest.Pytester, example: Path) -> None:
    (example / "tests" / "test_swallow.py").write_text(
        "import anthropic\n"
        "import assistant\n\n\n"
        "def test_swallows(traceforge_proxy):\n"
        "    try:\n"
        "        assistant.haiku('the mountains')\n"
        "    except anthropic.BadRequestError:\n"
        "        pass  # an app that hides its errors\n"
    )
    result = run(pytester, "tests/test_swallow.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*had no recording*", "*/anthropic/v1/messages*"])


def test_an_unused_recording_is_reported(pytester: pytest.Pytester, example: Path) -> None:
    haiku = example / CASSETTES / "test_haiku"
    (extra,) = (example / CASSETTES / "test_summary").glob("*.yaml")
    stray = haiku / extra.name.replace("0001-", "0002-")
    text = extra.read_text().replace("seq: 1", "seq: 2", 1)
    stray.write_text(text)
    result = run(pytester, "-k", "test_haiku")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*traceforge: unused recordings*", f"*test_haiku: test_assistant/test_haiku/{stray.name}"]
    )
    usage = json.loads((haiku / ".last-replay.json").read_text())
    assert usage["unused"] == [stray.name]
    strict = run(pytester, "-k", "test_haiku", "--traceforge-strict")
    strict.assert_outcomes(passed=1, errors=1)
    strict.stdout.fnmatch_lines(["*1 recording(s) of cassette 'test_assistant/test_haiku' not*"])


def test_replay_blocks_the_network_but_not_loopback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_guard="""
        import socket

        import pytest

        from traceforge_proxy.pytest_plugin import NetworkBlockedError


        def test_guard(traceforge_proxy):
            with pytest.raises(NetworkBlockedError, match="network blocked"):
                socket.create_connection(("192.0.2.1", 443), timeout=1)
            with socket.create_connection(("127.0.0.1", traceforge_proxy.service.port)):
                pass


        def test_no_fixture_no_guard():
            sock = socket.socket()
            sock.settimeout(0.001)
            with pytest.raises(OSError) as caught:
                sock.connect(("192.0.2.1", 443))
            sock.close()
            assert type(caught.value).__name__ != "NetworkBlockedError"
        """
    )
    run(pytester).assert_outcomes(passed=2)

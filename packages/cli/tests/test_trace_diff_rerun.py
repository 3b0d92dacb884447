"""``trace diff`` (and the top-level ``diff``), ``trace show --curl/--python`` and
``trace rerun``, against traces recorded by the proxy on the built-in mock upstream and
driven by the official OpenAI SDK."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from click.testing import CliRunner
from openai.types.chat import ChatCompletionMessageParam

from traceforge_cli.main import cli
from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

SECRET = "sk-test-DO-NOT-PRINT-0123456789abcdef"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello"}]


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _write_port(home: Path, port: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(f"proxy:\n  port: {port}\n")


@pytest.fixture
def proxy(home: Path, store: TraceStore) -> Iterator[BackgroundProxy]:
    """The proxy on the built-in mock upstream, saving to the test's home, whose
    config.yaml names its port (as `traceforge start` would use)."""
    config = Config()
    config.proxy.port = 0
    with BackgroundProxy(ProxyService(config, {}, store, mock_delay_ms=0)) as running:
        port = int(running.url.rsplit(":", 1)[1].split("/")[0])
        _write_port(home, port)
        yield running


def _record(proxy: BackgroundProxy, store: TraceStore, **kwargs: object) -> str:
    with openai.OpenAI(base_url=proxy.url, api_key=SECRET, max_retries=0) as client:
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=USER, **kwargs)  # type: ignore[call-overload]
        if kwargs.get("stream"):
            list(answer)  # read the stream to its end, as an app does
    assert proxy.drain()
    return store.list(limit=1)[0].id


def test_diff_text_json_and_exit_codes(store: TraceStore) -> None:
    a = make_trace(text="The answer is 4.", epoch_s=1.7e9)
    b = make_trace(text="The answer is four.", epoch_s=1.7e9 + 1)
    for trace in (a, b):
        store.save(trace)
    code, out, _ = _run("trace", "diff", a.id, b.id)
    assert code == 1
    assert out.splitlines()[0].startswith(f"--- {a.id}")
    assert out.splitlines()[1].startswith(f"+++ {b.id}")
    changed = '~ response.choices[0].message.content: "The answer is 4." → "The answer is four."'
    assert changed in out
    assert "\x1b[" not in out  # no colour in a pipe
    code, same, _ = _run("diff", a.id[:10], a.id)  # the top-level alias, prefixes
    assert code == 0 and "no differences" in same
    code, raw, _ = _run("diff", a.id, b.id, "--json")
    assert code == 1
    parsed = json.loads(raw)
    assert parsed["a"]["id"] == a.id and parsed["b"]["id"] == b.id
    assert [c["path"] for c in parsed["changed"]] == ["response.choices[0].message.content"]
    assert parsed["changed"][0]["from"] == "The answer is 4."
    code, _, err = _run("diff", a.id, "0" * 24)
    assert code == 2 and "0" * 24 in err


def test_show_curl_runs_against_the_proxy_and_holds_no_key(
    proxy: BackgroundProxy, store: TraceStore
) -> None:
    trace_id = _record(proxy, store)
    code, curl, _ = _run("trace", "show", trace_id, "--curl", env={"OPENAI_API_KEY": SECRET})
    assert code == 0
    assert SECRET not in curl and '"Authorization: Bearer $OPENAI_API_KEY"' in curl
    assert subprocess.run(["bash", "-n", "-c", curl], check=False).returncode == 0
    done = subprocess.run(
        ["bash", "-c", curl],
        env={**os.environ, "OPENAI_API_KEY": SECRET},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout)["object"] == "chat.completion"
    assert proxy.drain()
    assert len(store.list()) == 2  # the curl call was recorded too


def test_show_python_runs_with_the_openai_sdk_and_holds_no_key(
    proxy: BackgroundProxy, store: TraceStore
) -> None:
    trace_id = _record(proxy, store, stream=True)
    code, script, _ = _run("trace", "show", trace_id, "--python", env={"OPENAI_API_KEY": SECRET})
    assert code == 0
    assert SECRET not in script and "os.environ['OPENAI_API_KEY']" in script
    compile(script, "snippet.py", "exec")
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "OPENAI_API_KEY": SECRET},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ChatCompletionChunk" in done.stdout  # streamed, chunk by chunk


def test_show_direct_snippets_of_a_converted_call_use_the_providers_api(
    proxy: BackgroundProxy, store: TraceStore
) -> None:
    with openai.OpenAI(base_url=proxy.url, api_key=SECRET, max_retries=0) as client:
        client.chat.completions.create(model="claude-3-5-haiku-latest", messages=USER)
    assert proxy.drain()
    trace_id = store.list(limit=1)[0].id
    code, curl, _ = _run("trace", "show", trace_id, "--curl", "--direct")
    assert code == 0, curl
    assert curl.startswith("curl https://api.anthropic.com/v1/messages")
    assert '"x-api-key: $ANTHROPIC_API_KEY"' in curl and "anthropic-version: 2023-06-01" in curl
    assert subprocess.run(["bash", "-n", "-c", curl], check=False).returncode == 0
    code, script, _ = _run("trace", "show", trace_id, "--python", "--direct")
    assert code == 0 and "anthropic.Anthropic(" in script
    compile(script, "snippet.py", "exec")
    code, _, err = _run("trace", "show", trace_id, "--direct")
    assert code == 2 and "--curl or --python" in err


def test_rerun_with_another_model_records_a_trace_and_diffs_it(
    proxy: BackgroundProxy, store: TraceStore
) -> None:
    trace_id = _record(proxy, store)
    code, out, err = _run("trace", "rerun", trace_id, "--model", "gpt-4o", "--json")
    assert code == 0, err
    payload = json.loads(out)
    new = payload["trace"]
    assert new["id"] != trace_id and new["model"] == "gpt-4o"
    assert {s.id for s in store.list()} == {trace_id, new["id"]}
    changed = {c["path"]: (c["from"], c["to"]) for c in payload["diff"]["changed"]}
    assert changed["request.model"] == ("gpt-4o-mini", "gpt-4o")
    code, text, _ = _run("trace", "rerun", trace_id)
    assert code == 0 and text.startswith("new trace ")


def test_rerun_edit_sends_what_the_editor_saved(
    proxy: BackgroundProxy, store: TraceStore, tmp_path: Path
) -> None:
    trace_id = _record(proxy, store)
    editor = tmp_path / "editor.py"  # a real $EDITOR: rewrites the file it is given
    editor.write_text(
        "import json, sys\n"
        "doc = json.load(open(sys.argv[1]))\n"
        "doc['messages'][0]['content'] = 'Say goodbye'\n"
        "json.dump(doc, open(sys.argv[1], 'w'))\n"
    )
    code, out, err = _run(
        "trace", "rerun", trace_id, "--edit", "--json", env={"EDITOR": f"{sys.executable} {editor}"}
    )
    assert code == 0, err
    diff = json.loads(out)["diff"]
    changed = {c["path"]: c["to"] for c in diff["changed"]}
    assert changed["request.messages[0].content"] == "Say goodbye"


def test_rerun_without_a_proxy_says_to_start_one(home: Path, store: TraceStore) -> None:
    trace = make_trace()
    store.save(trace)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _write_port(home, port)
    code, _, err = _run("trace", "rerun", trace.id)
    assert code == 1
    assert "traceforge start" in err and f"127.0.0.1:{port}" in err
    assert "Traceback" not in err

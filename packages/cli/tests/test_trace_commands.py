"""``traceforge trace list`` and ``trace show`` through click's test runner."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from traceforge_cli.main import cli
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace


def _fill(store: TraceStore) -> list[str]:
    now = time.time()
    traces = [
        make_trace(model="gpt-4o", epoch_s=now - 3 * 86400, text="old answer"),
        make_trace(
            model="gpt-4o-mini",
            epoch_s=now - 60,
            streaming=True,
            text="streamed answer in five words",
        ),
        make_trace(model="gpt-4o", epoch_s=now - 30, status="error", status_code=429),
    ]
    for trace in traces:
        store.save(trace)
    return [t.id for t in traces]


def test_list_empty_store_explains_what_to_do() -> None:
    result = CliRunner().invoke(cli, ["trace", "list"])
    assert result.exit_code == 0
    assert "No traces" in result.output
    assert "traceforge demo" in result.output


def test_list_table_newest_first(store: TraceStore) -> None:
    ids = _fill(store)
    result = CliRunner().invoke(cli, ["trace", "list", "--format", "table"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line[:8] in {i[:8] for i in ids}]
    assert [row[:8] for row in rows] == [ids[2][:8], ids[1][:8], ids[0][:8]]
    assert "Stream" in rows[1] and "gpt-4o-mini" in rows[1]
    assert "error 429" in rows[0]
    assert "10→5" in rows[2]


def test_list_json_and_filters(store: TraceStore) -> None:
    ids = _fill(store)
    runner = CliRunner()

    def listed(*args: str) -> list[str]:
        result = runner.invoke(cli, ["trace", "list", "--json", *args])
        assert result.exit_code == 0, result.output
        return [row["id"] for row in json.loads(result.output)]

    assert listed() == [ids[2], ids[1], ids[0]]
    assert listed("--model", "gpt-4o") == [ids[2], ids[0]]
    assert listed("--status", "error") == [ids[2]]
    assert listed("--stream") == [ids[1]]
    assert listed("--no-stream") == [ids[2], ids[0]]
    assert listed("--since", "1d") == [ids[2], ids[1]]
    assert listed("--limit", "1") == [ids[2]]
    assert listed("--provider", "anthropic") == []
    row = json.loads(runner.invoke(cli, ["trace", "list", "--json", "-n", "1"]).output)[0]
    assert row["total_tokens"] == 15 and row["status_code"] == 429


def test_list_rejects_bad_since() -> None:
    result = CliRunner().invoke(cli, ["trace", "list", "--since", "yesterday"])
    assert result.exit_code == 2
    assert "--since" in result.output and "30m" in result.output


def test_show_by_prefix_with_chunk_timeline(store: TraceStore) -> None:
    ids = _fill(store)
    result = CliRunner().invoke(cli, ["trace", "show", ids[1][:6]])
    assert result.exit_code == 0, result.output
    out = result.output
    assert ids[1] in out
    assert "gpt-4o-mini" in out
    assert "Chunk timeline" in out
    assert "' five'" in out  # a chunk's text delta
    assert "First chunk" in out and "Stream duration" in out and "Chunk gaps" in out
    assert "streamed answer in five words" in out  # the rebuilt response


def test_show_json_is_the_stored_trace(store: TraceStore) -> None:
    ids = _fill(store)
    result = CliRunner().invoke(cli, ["trace", "show", ids[0], "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["id"] == ids[0]
    assert data["response"]["choices"][0]["message"]["content"] == "old answer"
    assert data["metadata"]["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "output_audio_tokens": 0,
        "image_tokens": 0,
        "estimated": False,
    }


def test_show_errors(store: TraceStore) -> None:
    _fill(store)
    runner = CliRunner()
    missing = runner.invoke(cli, ["trace", "show", "ffffffffffffffffffffffff"])
    assert missing.exit_code == 1
    assert "no trace" in missing.output
    bad = runner.invoke(cli, ["trace", "show", "../../etc/passwd"])
    assert bad.exit_code == 1
    assert "not a trace id" in bad.output


def test_home_option_overrides_env(tmp_path, store: TraceStore) -> None:  # type: ignore[no-untyped-def]
    _fill(store)
    other = TraceStore(tmp_path / "other", fsync=False)
    only = make_trace(model="only-here")
    other.save(only)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "other"), "trace", "list", "--json"])
    assert [row["model"] for row in json.loads(result.output)] == ["only-here"]
    result = CliRunner().invoke(cli, ["trace", "list", "--json", "--home", str(tmp_path / "other")])
    assert [row["model"] for row in json.loads(result.output)] == ["only-here"]


def test_help_explains_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "start", "trace"):
        assert command in result.output
    assert "base_url=http://127.0.0.1:8787/v1" in result.output


def test_show_converted_trace_has_route_native_panels_and_event_names(store: TraceStore) -> None:
    from traceforge_shared.trace import NativeCall, StreamChunk

    trace = make_trace(model="claude-opus-4-6", provider="anthropic", text="Bonjour")
    trace.route = "converted"
    trace.response_model = "claude-opus-4-6-20260101"
    trace.native = NativeCall(
        endpoint="/v1/messages",
        request={"model": "claude-opus-4-6", "max_tokens": 4096, "messages": []},
        response={"type": "message", "content": [{"type": "text", "text": "Bonjour"}]},
    )
    trace.chunks = [
        StreamChunk(index=0, delta_ms=5.0, offset_ms=5.0, data={"type": "ping"}, event="ping"),
        StreamChunk(
            index=1,
            delta_ms=2.0,
            offset_ms=7.0,
            data={"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Bon"}},
            event="content_block_delta",
        ),
    ]
    store.save(trace)
    result = CliRunner().invoke(cli, ["trace", "show", trace.id[:8]])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Provider  anthropic" in out
    assert "Model     claude-opus-4-6 (answered by claude-opus-4-6-20260101)" in out
    assert "converted (OpenAI format" in out
    assert "Request (OpenAI view)" in out
    assert "Native request (anthropic /v1/messages)" in out and '"max_tokens": 4096' in out
    assert "Native response" in out
    assert "'ping'" in out and "'Bon'" in out  # event name, or the text a chunk carries


def test_list_warns_on_stderr_when_the_store_is_not_writable(
    store: TraceStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno
    import os
    from pathlib import Path

    import traceforge_shared.store as store_module
    from traceforge_shared.store.files import write_temp

    ids = _fill(store)

    def full(path: Path, data: bytes, **kwargs: object) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    writable = write_temp  # the function store_module.write_temp is
    monkeypatch.setattr(store_module, "write_temp", full)
    result = CliRunner().invoke(cli, ["trace", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in json.loads(result.stdout)] == ids[::-1]  # stdout stays JSON
    (line,) = result.stderr.splitlines()
    assert line.startswith("warning: new traces cannot be saved in ")
    assert "No space left on device" in line

    monkeypatch.setattr(store_module, "write_temp", writable)  # the same home, writable again
    result = CliRunner().invoke(cli, ["trace", "list"])
    assert result.exit_code == 0 and result.stderr == ""


def test_list_skips_stray_entries_and_warns(store: TraceStore) -> None:
    ids = _fill(store)
    (store.traces_dir / "x.json").mkdir()
    (store.traces_dir / ("abcdef01" * 3 + ".json")).mkdir()
    (store.traces_dir / "notes.txt").write_text("mine\n")
    (store.traces_dir / ("deadbeef" * 3 + ".json")).write_bytes(b"\x00garbage")
    result = CliRunner().invoke(cli, ["trace", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in json.loads(result.stdout)] == ids[::-1]
    (line,) = result.stderr.splitlines()
    assert "skipped 4 entries" in line and "notes.txt" in line
    result = CliRunner().invoke(cli, ["trace", "list"])
    assert result.exit_code == 0, result.output
    assert ids[2][:8] in result.stdout

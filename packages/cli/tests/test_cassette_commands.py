"""``traceforge cassette list|show|prune|diff`` and the end of a replaying ``traceforge start``
(unused recordings, ``--strict``), over the recordings committed with examples/replay_app
(recorded through the proxy from the mock upstream's real provider transcripts)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import anthropic
import click
import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from traceforge_cli.cassette_end import CassetteRunEnd
from traceforge_cli.main import cli
from traceforge_proxy.modes import CassetteOptions, ReplayTiming
from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_proxy.upstream import resolve_upstreams
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore

RECORDED = (
    Path(__file__).resolve().parents[3]
    / "examples"
    / "replay_app"
    / "tests"
    / "cassettes"
    / "test_assistant"
)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def cassettes(home: Path) -> Path:
    """The example's cassettes as ``app/<test>`` in the test's home."""
    root = home / "cassettes" / "app"
    shutil.copytree(RECORDED, root, ignore=shutil.ignore_patterns(".last-replay.json"))
    return root


def test_list(cassettes: Path) -> None:
    rows = json.loads(invoke("cassette", "list", "--json").output)
    assert [r["name"] for r in rows] == [
        "app/test_haiku",
        "app/test_replayed_stream_is_the_recording",
        "app/test_summary",
        "app/test_weather_tool_call",
    ]
    assert [r["providers"] for r in rows] == [["anthropic"], ["openai"], ["openai"], ["openai"]]
    assert all(r["interactions"] == 1 and r["unused"] is None for r in rows)
    haiku = next(cassettes.glob("test_haiku/*.yaml"))
    assert rows[0]["size_bytes"] == haiku.stat().st_size
    tsv = invoke("cassette", "list", "--format", "tsv").output.splitlines()
    assert tsv[0].split("\t") == [
        "name",
        "interactions",
        "size_bytes",
        "last_recorded",
        "providers",
        "unused",
    ]
    assert len(tsv) == 5


def test_list_empty(home: Path) -> None:
    result = invoke("cassette", "list", "--format", "table")
    assert result.exit_code == 0
    assert "No cassettes in" in result.output


def test_show_summarizes_and_details(cassettes: Path) -> None:
    table = invoke("cassette", "show", "app/test_weather_tool_call", "--format", "tsv")
    header, row = (line.split("\t") for line in table.output.splitlines())
    assert dict(zip(header, row, strict=True)) | {"file": ""} == {
        "seq": "1",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "endpoint": "POST /v1/chat/completions",
        "status": "200",
        "reads": row[5],
        "answer": "get_weather(city, state) [tool_calls]",
        "file": "",
    }
    assert int(row[5]) > 1
    detail = invoke("cassette", "show", "app/test_haiku", "1")
    assert detail.exit_code == 0, detail.output
    assert "finish reason: end_turn" in detail.output
    assert "Write a haiku about the sea." in detail.output
    (shown,) = json.loads(invoke("cassette", "show", "app/test_summary", "--json").output)
    assert shown["request"]["endpoint"] == "/v1/responses"
    assert shown["answer"]["finish_reason"] == "completed"


def test_show_errors_are_one_line(cassettes: Path) -> None:
    missing = invoke("cassette", "show", "app/nope")
    assert (missing.exit_code, missing.output.count("\n")) == (1, 1)
    assert "no cassette 'app/nope'" in missing.output
    bad = invoke("cassette", "show", "app/test_haiku", "7")
    assert bad.exit_code == 1
    assert "no interaction '7'" in bad.output
    invalid = invoke("cassette", "show", "../etc")
    assert invalid.exit_code == 1
    assert "invalid cassette name" in invalid.output


def test_replay_end_report_strict_and_prune(home: Path, cassettes: Path) -> None:
    """A replay that uses one of two recordings: the end report names the other (--strict
    fails), the usage file lets prune remove it."""
    mixed = home / "cassettes" / "mixed"
    mixed.mkdir()
    (haiku,) = (cassettes / "test_haiku").glob("*.yaml")
    (summary,) = (cassettes / "test_summary").glob("*.yaml")
    shutil.copy(haiku, mixed / haiku.name)
    unused = mixed / summary.name.replace("0001-", "0002-")
    unused.write_text(summary.read_text().replace("seq: 1", "seq: 2", 1))

    no_usage = invoke("cassette", "prune", "mixed", "--yes")
    assert no_usage.exit_code == 1
    assert "no replay run recorded" in no_usage.output

    config = Config()
    config.proxy.port = 0
    options = CassetteOptions(mode="replay", name="mixed", timing=ReplayTiming("fast"))
    ending = CassetteRunEnd(options, home, strict=True)
    service = ProxyService(
        config,
        resolve_upstreams(config),
        TraceStore(home, fsync=False),
        addons=ending.addons,
        cassette=options,
    )
    with BackgroundProxy(service) as proxy:
        client = anthropic.Anthropic(
            base_url=proxy.url.removesuffix("/v1") + "/anthropic", api_key="sk-x", max_retries=0
        )
        with client.messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=200,
            messages=[{"role": "user", "content": "Write a haiku about the sea."}],
        ) as stream:
            assert "".join(stream.text_stream).startswith("Hello!")
    console = Console(record=True, width=200)
    with pytest.raises(click.ClickException, match=r"--strict: 1 recording\(s\)"):
        ending.finish(console, service)
    line = console.export_text()
    assert f"cassette mixed: 1 replayed, 0 miss(es), 1 unused: mixed/{unused.name}" in line

    listed = json.loads(invoke("cassette", "list", "--json").output)
    assert next(r for r in listed if r["name"] == "mixed")["unused"] == 1
    dry = invoke("cassette", "prune", "mixed", "--dry-run")
    assert dry.output.splitlines() == [f"would remove {unused}"]
    assert unused.exists()
    unconfirmed = invoke("cassette", "prune", "mixed")
    assert unconfirmed.exit_code == 2
    assert "pass --yes" in unconfirmed.output
    done = invoke("cassette", "prune", "--all", "--yes")
    assert done.exit_code == 0, done.output
    assert not unused.exists()
    assert (mixed / haiku.name).exists()
    again = invoke("cassette", "prune", "mixed", "--yes")
    assert "Nothing to prune" in again.output


def _variant(cassettes: Path, tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the haiku cassette with ``old`` replaced by ``new`` in its answer."""
    target = tmp_path / "variants" / f"v{len(list(tmp_path.glob('variants/*')))}"
    shutil.copytree(cassettes / "test_haiku", target)
    (path,) = target.glob("*.yaml")
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return target


def test_diff_exit_codes(cassettes: Path, tmp_path: Path) -> None:
    same = invoke("cassette", "diff", "app/test_haiku", "app/test_haiku", "--format", "tsv")
    assert same.exit_code == 0
    assert same.output.splitlines()[1].startswith("identical\tanthropic claude-sonnet-4-5")

    reworded = _variant(cassettes, tmp_path, "doing well", "doing fine")
    benign = invoke("cassette", "diff", "app/test_haiku", str(reworded), "--format", "table")
    assert benign.exit_code == 1, benign.output
    assert "reworded (similarity" in benign.output
    assert "0 identical, 1 benign, 0 regression(s)" in benign.output

    cut = _variant(cassettes, tmp_path, '"stop_reason":"end_turn"', '"stop_reason":"max_tokens"')
    regression = invoke("cassette", "diff", "app/test_haiku", str(cut), "--json")
    assert regression.exit_code == 2
    report = json.loads(regression.output)
    assert report["counts"] == {"identical": 0, "benign": 0, "regression": 1}
    assert report["entries"][0]["reasons"] == ['finish reason: "end_turn" -> "max_tokens"']

    other = invoke("cassette", "diff", "app/test_haiku", "app/test_summary", "--json")
    assert other.exit_code == 2
    assert [e["reasons"] for e in json.loads(other.output)["entries"]] == [
        ["request not in the first recording"],
        ["request not in the second recording"],
    ]


def test_record_over_a_cassette_prints_the_drift(home: Path, cassettes: Path) -> None:
    """`start --mode record` over an existing cassette: the re-recorded request's drift from
    its old recording (the mock answers the same transcript again: identical)."""
    again = home / "cassettes" / "again"
    shutil.copytree(cassettes / "test_haiku", again)
    config = Config()
    config.proxy.port = 0
    options = CassetteOptions(mode="record", name="again")
    ending = CassetteRunEnd(options, home, strict=False)
    assert len(ending.previous) == 1
    service = ProxyService(
        config,
        resolve_upstreams(config),  # no keys: the built-in mock upstream
        TraceStore(home, fsync=False),
        addons=ending.addons,
        cassette=options,
        mock_delay_ms=0,
    )
    with BackgroundProxy(service) as proxy:
        client = anthropic.Anthropic(
            base_url=proxy.url.removesuffix("/v1") + "/anthropic", api_key="sk-x", max_retries=0
        )
        with client.messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=200,
            messages=[{"role": "user", "content": "Write a haiku about the sea."}],
        ) as stream:
            stream.until_done()
    assert len(list(again.glob("*.yaml"))) == 2  # record mode appends
    console = Console(record=True, width=200)
    ending.finish(console, service)
    text = console.export_text()
    assert "drift of the re-recorded requests of cassette again:" in text
    (row,) = [line for line in text.splitlines() if line.startswith("identical ")]
    assert row.split()[1:5] == ["anthropic", "claude-sonnet-4-5", "POST", "/anthropic/v1/messages"]
    assert row.split()[-1].startswith("0002-anthropic-claude-sonnet-4-5-")
    assert "1 identical, 0 benign, 0 regression(s)" in text

"""``traceforge start --mode/--cassette/--timing/--on-miss``: bad combinations are usage
errors (exit 2, one clear line) before anything is bound or started."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from traceforge_cli.main import cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "replay"], "--mode replay needs --cassette NAME"),
        (["--mode", "record", "--cassette", "../up"], "invalid cassette name '../up'"),
        (["--mode", "auto", "--cassette", "c", "--timing", "slow"], "invalid timing 'slow'"),
        (["--mode", "replay", "--cassette", "c", "--timing", "scale:-1"], "invalid timing"),
        (["--mode", "rewind", "--cassette", "c"], "'rewind' is not one of"),
        (["--mode", "replay", "--cassette", "c", "--on-miss", "x"], "'x' is not one of"),
    ],
)
def test_bad_cassette_options_are_usage_errors(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["start", "--home", str(tmp_path / "home"), "--no-api", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_unreadable_cassette_file_stops_start_with_its_place(tmp_path: Path) -> None:
    cassette = tmp_path / "home" / "cassettes" / "c"
    cassette.mkdir(parents=True)
    (cassette / "0001-openai-m-0123456789abcdef.yaml").write_text("format: 1\nseq: [\n")
    result = CliRunner().invoke(
        cli,
        [
            *("start", "--home", str(tmp_path / "home"), "--no-api", "--port", "0"),
            *("--mode", "replay", "--cassette", "c"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "cannot replay:" in result.output
    assert "0001-openai-m-0123456789abcdef.yaml:" in result.output
    assert "Traceback" not in result.output

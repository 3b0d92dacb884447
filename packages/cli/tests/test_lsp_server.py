"""``traceforge lsp`` end to end: pytest-lsp drives the real server over stdio on test files
written by ``traceforge test create-from-trace`` from traces in the test's home."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from click.testing import CliRunner
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from traceforge_cli.main import cli
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

ANSWER = "Quantum computing uses qubits to explore many states at once."


# pytest_lsp.fixture has no annotations (its decorator is untyped).
@pytest_lsp.fixture(  # type: ignore[untyped-decorator]
    config=ClientServerConfig(server_command=[sys.executable, "-m", "traceforge_cli.main", "lsp"])
)
async def client(lsp_client: LanguageClient, home: Path) -> AsyncIterator[None]:
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=home.parent.as_uri(),
        )
    )
    yield
    await lsp_client.shutdown_session()


class Made:
    """A trace in the home and the test file ``create-from-trace`` wrote from it."""

    def __init__(self, home: Path) -> None:
        store = TraceStore(home, fsync=False)
        self.trace = make_trace(model="gpt-4o-mini", text=ANSWER, latency_ms=120.0)
        store.save(self.trace)
        created = CliRunner().invoke(
            cli, ["test", "create-from-trace", self.trace.id, "--name", "Quantum"]
        )
        assert created.exit_code == 0, created.output
        self.path = home / "tests" / "quantum.yaml"
        self.text = self.path.read_text()
        self.uri = self.path.as_uri()

    def line_of(self, needle: str, text: str | None = None) -> int:
        """0-based line of the first line containing ``needle``."""
        lines = (text if text is not None else self.text).splitlines()
        return next(i for i, line in enumerate(lines) if needle in line)


@pytest.fixture
def made(home: Path) -> Made:
    return Made(home)


async def _open(client: LanguageClient, uri: str, text: str) -> list[types.Diagnostic]:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return list(client.diagnostics[uri])


def _variant(made: Made, name: str, text: str) -> str:
    """A URI next to the created file (the text is sent, not saved)."""
    return (made.path.parent / name).as_uri()


async def test_a_created_test_file_has_no_diagnostics(client: LanguageClient, made: Made) -> None:
    assert await _open(client, made.uri, made.text) == []


async def test_a_typo_in_an_assertion_type_says_did_you_mean_on_its_line(
    client: LanguageClient, made: Made
) -> None:
    text = made.text.replace("type: fuzzy", "type: fuzzzy")
    (diagnostic,) = await _open(client, _variant(made, "typo.yaml", text), text)
    assert "unknown assertion type 'fuzzzy'" in diagnostic.message
    assert "did you mean 'fuzzy'?" in diagnostic.message
    line = made.line_of("fuzzzy", text)
    assert diagnostic.range.start.line == line
    start = text.splitlines()[line].index("fuzzzy")
    assert (diagnostic.range.start.character, diagnostic.range.end.character) == (start, start + 6)
    assert diagnostic.severity == types.DiagnosticSeverity.Error


async def test_bad_regex_bad_json_schema_and_a_wrong_type_are_each_on_their_line(
    client: LanguageClient, made: Made
) -> None:
    extra = (
        '  - type: regex\n    pattern: "([a-z"\n  - type: json_schema\n    schema: {type: strng}\n'
    )
    text = made.text.replace("source_trace:", extra + "source_trace:")
    found = await _open(client, _variant(made, "bad.yaml", text), text)
    by_line = {d.range.start.line: d.message for d in found}
    assert "invalid regular expression" in by_line[made.line_of("([a-z", text)]
    assert "invalid JSON Schema" in by_line[made.line_of("strng", text)]
    assert len(found) == 2

    typed = made.text.replace("max_ms: 1000", "max_ms: fast")
    (wrong,) = await _open(client, _variant(made, "typed.yaml", typed), typed)
    assert wrong.range.start.line == made.line_of("max_ms", typed)
    assert "max_ms" in wrong.message and "float" in wrong.message


async def test_yaml_syntax_error_and_a_missing_source_trace(
    client: LanguageClient, made: Made
) -> None:
    broken = made.text.replace("  model: gpt-4o-mini", "  model: [gpt-4o-mini")
    (syntax,) = await _open(client, _variant(made, "broken.yaml", broken), broken)
    assert syntax.message.startswith("invalid YAML")

    missing = made.text.replace(made.trace.id, "0123456789abcdef01234567")
    (warning,) = await _open(client, _variant(made, "missing.yaml", missing), missing)
    assert warning.severity == types.DiagnosticSeverity.Warning
    assert "'0123456789abcdef01234567' is not in the store" in warning.message
    assert warning.range.start.line == made.line_of("source_trace:", missing)


async def _complete(
    client: LanguageClient, uri: str, line: int, character: int
) -> list[types.CompletionItem]:
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
        )
    )
    assert isinstance(result, types.CompletionList)
    return list(result.items)


async def test_completion_of_types_fields_models_and_trace_ids(
    client: LanguageClient, made: Made
) -> None:
    text = made.text.replace(
        "source_trace:",
        "  - type: \n  - type: fuzzy\n    thr\nsource_trace:",
    ).replace(f"source_trace: {made.trace.id}", "source_trace: ")
    await _open(client, made.uri, text)
    lines = text.splitlines()

    type_line = lines.index("  - type: ")
    labels = {i.label for i in await _complete(client, made.uri, type_line, 10)}
    assert {"contains", "regex", "json_schema", "fuzzy", "fuzzy_match"} <= labels

    field_line = lines.index("    thr")
    fields = {i.label for i in await _complete(client, made.uri, field_line, 7)}
    assert {"threshold", "value", "field", "description"} <= fields
    assert "max_ms" not in fields  # a latency field, not a fuzzy one

    source_line = lines.index("source_trace: ")
    ids = [i.label for i in await _complete(client, made.uri, source_line, 14)]
    assert ids == [made.trace.id]

    model_line = made.line_of("model: gpt-4o-mini", text)
    models = {i.label for i in await _complete(client, made.uri, model_line, 9)}
    assert "gpt-4o-mini" in models  # seen in the store
    assert {"gpt-", "claude-", "gemini-"} <= models  # the registry's globs

    top = {i.label for i in await _complete(client, made.uri, 0, 0)}
    assert {"name", "request", "assertions", "source_trace", "tags"} <= top


async def test_hover_documents_types_fields_and_the_source_trace(
    client: LanguageClient, made: Made
) -> None:
    await _open(client, made.uri, made.text)

    async def hover(needle: str, offset: int = 0, on: str | None = None) -> str | None:
        line = made.line_of(on or needle)
        character = made.text.splitlines()[line].index(needle) + offset
        result = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=made.uri),
                position=types.Position(line=line, character=character),
            )
        )
        if result is None:
            return None
        assert isinstance(result.contents, types.MarkupContent)
        return result.contents.value

    fuzzy = await hover("fuzzy")
    assert fuzzy is not None and "rapidfuzz" in fuzzy and "`threshold`" in fuzzy
    threshold = await hover("threshold")
    assert threshold is not None and "`threshold`" in threshold and "fuzzy" in threshold
    max_ms = await hover("max_ms")
    assert max_ms is not None and "latency" in max_ms
    source = await hover(made.trace.id, 3, on="source_trace:")
    assert source is not None and "gpt-4o-mini" in source and "Quantum computing" in source
    top = await hover("assertions:")
    assert top is not None and "Checked against the trace" in top
    assert await hover("role") is None  # inside the request: not ours to document


async def test_code_lenses_and_definition_of_the_source_trace(
    client: LanguageClient, made: Made, home: Path
) -> None:
    await _open(client, made.uri, made.text)
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=made.uri))
    )
    assert lenses is not None
    name_line = made.line_of("name: Quantum")
    assert {lens.range.start.line for lens in lenses} == {name_line}
    commands = [lens.command for lens in lenses if lens.command is not None]
    assert [(c.title, c.command, list(c.arguments or [])) for c in commands] == [
        ("▶ Run test", "traceforge.runTest", [made.uri, "Quantum", "live"]),
        ("Replay", "traceforge.runTest", [made.uri, "Quantum", "replay"]),
        ("Open source trace", "traceforge.openTrace", [made.uri, made.trace.id]),
    ]

    line = made.line_of("source_trace:")
    where = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=made.uri),
            position=types.Position(line=line, character=len("source_trace: ") + 2),
        )
    )
    assert isinstance(where, types.Location)
    assert where.uri == (home / "traces" / f"{made.trace.id}.json").as_uri()

    opened = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="traceforge.openTrace", arguments=[made.uri, made.trace.id]
        )
    )
    assert opened == where.uri
    assert [d.uri for d in client.shown_documents] == [where.uri]


async def test_run_command_replays_and_puts_failures_on_their_lines(
    client: LanguageClient, made: Made
) -> None:
    text = made.text.replace("value: explore", "value: bananas")
    await _open(client, made.uri, text)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="traceforge.runTest", arguments=[made.uri, "Quantum", "replay"]
        )
    )
    assert result is not None
    assert result["status"] == "failed" and result["name"] == "Quantum"
    failed = [a for a in result["assertions"] if not a["passed"]]
    assert [(a["type"], a["expected"], a["line"]) for a in failed] == [
        ("contains", "bananas", made.line_of("value: bananas", text))
    ]
    assert failed[0]["actual"] == ANSWER

    # published before the command answered
    (diagnostic,) = client.diagnostics[made.uri]
    assert diagnostic.source == "traceforge test"
    assert diagnostic.message.startswith("contains failed:") and "bananas" in diagnostic.message
    # on the failing assertion's item (`- type: contains` above its `value:` line)
    assert diagnostic.range.start.line == made.line_of("value: bananas", text) - 1

    # Editing the document drops the run's diagnostics (the file is clean otherwise).
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=made.uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=made.text)],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[made.uri]) == []

    passed = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="traceforge.runTest", arguments=[made.uri, "Quantum", "replay"]
        )
    )
    assert passed is not None
    assert passed["status"] == "passed"

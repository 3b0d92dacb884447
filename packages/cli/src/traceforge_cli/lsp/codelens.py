"""CodeLens above each test (on its ``name:`` line): ``▶ Run test``, ``Replay`` and, when
the test has a ``source_trace``, ``Open source trace``. Each runs a server command
(:mod:`traceforge_cli.lsp.commands`), so every LSP editor can use them."""

from __future__ import annotations

from lsprotocol import types

from traceforge_cli.lsp.commands import OPEN_TRACE, RUN_TEST
from traceforge_cli.lsp.document import parse
from traceforge_cli.lsp.server import TraceforgeServer, is_test_file
from traceforge_shared.evals.files import test_file_lines


def code_lenses(uri: str, text: str) -> list[types.CodeLens]:
    """The lenses of the test file ``uri`` with content ``text`` (none when it has no
    ``name``)."""
    doc = parse(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        return []
    name = doc["name"]
    lines = test_file_lines(text)
    line = lines.name - 1
    rng = types.Range(types.Position(line, 0), types.Position(line, 0))
    lenses = [
        types.CodeLens(
            range=rng,
            command=types.Command(
                title="▶ Run test", command=RUN_TEST, arguments=[uri, name, "live"]
            ),
        ),
        types.CodeLens(
            range=rng,
            command=types.Command(
                title="Replay", command=RUN_TEST, arguments=[uri, name, "replay"]
            ),
        ),
    ]
    source = doc.get("source_trace")
    if isinstance(source, str) and source:
        lenses.append(
            types.CodeLens(
                range=rng,
                command=types.Command(
                    title="Open source trace", command=OPEN_TRACE, arguments=[uri, source]
                ),
            )
        )
    return lenses


def register(server: TraceforgeServer) -> None:
    """``textDocument/codeLens``."""

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def code_lens(ls: TraceforgeServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        uri = params.text_document.uri
        if not is_test_file(uri):
            return []
        return code_lenses(uri, ls.text_of(uri))

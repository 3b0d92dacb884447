"""``traceforge lsp``: a language server (pygls, stdio) for TraceForge test files.

One module per LSP feature, as in pygls's own examples, all reading the shared test-file API
(:mod:`traceforge_shared.evals`): :mod:`.diagnostics` (YAML, schema and assertion problems
while typing), :mod:`.completion`, :mod:`.hover`, :mod:`.codelens`, :mod:`.definition`
(``source_trace`` → the trace file) and :mod:`.commands` (``traceforge.runTest``: run a test
in a worker thread and show its failures as diagnostics). :mod:`.server` builds the server;
:mod:`.document` finds things in a test file's text.
"""

from traceforge_cli.lsp.server import TraceforgeServer, create_server

__all__ = ["TraceforgeServer", "create_server"]

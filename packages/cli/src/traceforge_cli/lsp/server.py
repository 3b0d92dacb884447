"""The language server object: where the TraceForge home is and which documents it serves."""

from __future__ import annotations

import os
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from traceforge_shared.store import TraceStore

#: Name and version the server reports to clients.
SERVER_NAME = "traceforge-lsp"
SERVER_VERSION = "0.1.0"
#: ``source`` of every diagnostic this server publishes.
SOURCE = "traceforge"


class TraceforgeServer(LanguageServer):
    """A pygls server for test files, with the TraceForge home it reads traces from.

    The home is, in order: ``home`` (``traceforge --home``), ``$TRACEFORGE_HOME``, the
    ``.ai-tests`` folder that holds the document, ``<workspace root>/.ai-tests``.

    Attributes:
        run_diagnostics: per document URI, the diagnostics of its last ``traceforge.runTest``
            (kept until the document changes).
    """

    def __init__(self, home: Path | None = None) -> None:
        super().__init__(SERVER_NAME, SERVER_VERSION)
        self.explicit_home = home
        self.run_diagnostics: dict[str, list[types.Diagnostic]] = {}
        self._stores: dict[Path, TraceStore] = {}

    def home_for(self, uri: str | None = None) -> Path:
        """The TraceForge home for the document ``uri`` (see the class doc)."""
        if self.explicit_home is not None:
            return self.explicit_home
        env = os.environ.get("TRACEFORGE_HOME")
        if env:
            return Path(env).expanduser()
        path = path_of(uri) if uri else None
        if path is not None:
            for parent in path.parents:
                if parent.name == ".ai-tests":
                    return parent
        root = self.workspace.root_path if self._workspace_ready() else None
        return Path(root or os.getcwd()) / ".ai-tests"

    def _workspace_ready(self) -> bool:
        try:
            return self.workspace is not None
        except RuntimeError:  # pygls raises before `initialize`
            return False

    def store_for(self, uri: str | None = None) -> TraceStore:
        """The trace store of :meth:`home_for` ``(uri)`` (one per home, opened on first use)."""
        home = self.home_for(uri)
        store = self._stores.get(home)
        if store is None:
            store = self._stores[home] = TraceStore(home, fsync=False)
        return store

    def usable_store_for(self, uri: str) -> TraceStore | None:
        """:meth:`store_for` ``(uri)``, or ``None`` when its home is unusable (features still
        work on the file itself)."""
        try:
            return self.store_for(uri)
        except Exception:
            return None

    def text_of(self, uri: str) -> str:
        """The document's current text (the editor's, or the file's when not open)."""
        return self.workspace.get_text_document(uri).source


def path_of(uri: str) -> Path | None:
    """The file system path of a ``file:`` URI, else ``None``."""
    path = to_fs_path(uri)
    return Path(path) if path else None


def is_test_file(uri: str) -> bool:
    """Whether ``uri`` is a YAML file inside a ``tests`` folder (at any depth)."""
    path = path_of(uri)
    if path is None or path.suffix not in (".yaml", ".yml"):
        return False
    return any(parent.name == "tests" for parent in path.parents)


def create_server(home: Path | None = None) -> TraceforgeServer:
    """A server with every feature registered (each module's ``register``)."""
    from traceforge_cli.lsp import codelens, commands, completion, definition, diagnostics, hover

    server = TraceforgeServer(home)
    for module in (diagnostics, completion, hover, codelens, definition, commands):
        module.register(server)
    return server

"""Rewriting a test file to the canonical form (``traceforge test migrate``).

The file is parsed with ruamel's round-trip loader, its other spellings are rewritten in
place (:func:`traceforge_shared.evals.aliases.canonicalize`: ``id`` → ``name``,
``type: jsonpath`` → ``json_path``, ``not-<type>`` → ``negate: true``, ``expected`` →
``value``, ``response_time: {max}`` → ``latency``/``max_ms``, ``field: response.content`` →
the chat completion path) and dumped again, so comments and key order stay where ruamel keeps
them (a comment on a renamed key may move or be lost). ``fixtures`` are canonical and kept.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from traceforge_shared.evals.aliases import canonicalize
from traceforge_shared.evals.loader import TestFileError, load_test_text
from traceforge_shared.yamlfile import YamlProblem, parse_yaml

__all__ = ["Migration", "migrate_text"]


@dataclass
class Migration:
    """The outcome for one file.

    Attributes:
        path: the file.
        text: its canonical text (equal to the original when nothing changed).
        changes: what was rewritten, one line each (``id → name``).
    """

    path: Path
    text: str
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the file needs rewriting."""
        return bool(self.changes)


def migrate_text(text: str, path: Path) -> Migration:
    """The canonical form of the test file text ``text`` (named ``path`` in errors).

    Raises:
        TestFileError: the text is not a valid test file, before or after rewriting (the
            rewritten text is checked to load into the same test).
    """
    try:
        before = load_test_text(text, path)
        doc = parse_yaml(text)
        changes = canonicalize(doc, doc) if isinstance(doc, dict) else []
    except YamlProblem as problem:
        raise TestFileError(path, problem.reason, line=problem.line, field=problem.field) from None
    if not changes:
        return Migration(path, text)
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 1_000_000
    yaml.allow_unicode = True
    yaml.preserve_quotes = True
    out = io.StringIO()
    yaml.dump(doc, out)
    migrated = out.getvalue()
    after = load_test_text(migrated, path)
    if after != before:  # pragma: no cover - a rewrite that changes meaning is a bug here
        raise TestFileError(path, "migration would change the test; file left as is")
    return Migration(path, migrated, changes)

"""Saving a trace as a regression test file under ``<home>/tests``."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from traceforge_shared.evals.authoring import test_from_trace
from traceforge_shared.trace import Trace

#: Longest file name stem made from a trace.
SLUG_MAX_CHARS = 40


def slugify(text: str, limit: int = SLUG_MAX_CHARS) -> str:
    """``text`` as a file name stem: lower-case ASCII letters and digits joined by ``-``,
    cut at a word to at most ``limit`` characters (``""`` when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > limit:
            return slug or word[:limit]
        slug = candidate
    return slug


def _first_user_text(trace: Trace) -> str:
    request = trace.request
    messages = request.get("messages") if isinstance(request, dict) else None
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "user":
            content: Any = message.get("content")
            if isinstance(content, list):
                content = " ".join(
                    part["text"]
                    for part in content
                    if isinstance(part, dict) and isinstance(part.get("text"), str)
                )
            return content if isinstance(content, str) else ""
    return ""


def test_slug(trace: Trace) -> str:
    """The file name stem of a test made from ``trace``: its first user message slugified,
    else ``trace-<first 8 digits of the id>``."""
    return slugify(_first_user_text(trace)) or f"trace-{trace.id[:8]}"


test_slug.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def save_test(trace: Trace, tests_dir: Path) -> Path:
    """Write the test made from ``trace`` (:func:`test_from_trace`) to
    ``tests_dir/<slug>.yaml``, never overwriting a file: ``<slug>-2.yaml``, ``-3``, ... when
    taken. Returns the path written.

    Raises:
        ValueError: the trace is not a chat call.
        OSError: the file could not be written.
    """
    text = test_from_trace(trace)
    tests_dir.mkdir(parents=True, exist_ok=True)
    stem = test_slug(trace)
    number = 1
    while True:
        path = tests_dir / (f"{stem}.yaml" if number == 1 else f"{stem}-{number}.yaml")
        try:
            with path.open("x", encoding="utf-8") as file:  # fails if it exists: no race
                file.write(text)
        except FileExistsError:
            number += 1
            continue
        return path

"""Loading a test file once for both its test and the lines of its parts
(:func:`load_test_document`, :func:`document_lines`), as ``traceforge test run --json`` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from traceforge_shared.evals.files import FileLines, document_lines, test_file_lines
from traceforge_shared.evals.loader import TestFileError, load_test_document, load_test_file

TEXT = """\
# a comment before the name
name: sky
request:
  model: gpt-4o-mini
  messages:
    - role: user
      content: What colour is the sky?
assertions:
  # the answer says blue
  - type: contains
    value: blue

  - type: latency
    max_ms: 1000
source_trace: 0123456789abcdef01234567
"""


def test_one_parse_gives_the_test_and_the_lines_of_a_second_parse(tmp_path: Path) -> None:
    path = tmp_path / "sky.yaml"
    path.write_text(TEXT)
    case, doc = load_test_document(path)
    assert case == load_test_file(path)
    lines = document_lines(doc)
    assert lines == test_file_lines(TEXT) == FileLines(2, [10, 13], 15)


def test_a_broken_file_raises_as_load_test_file_does(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(TEXT.replace("max_ms: 1000", "max_ms: soon"))
    with pytest.raises(TestFileError) as direct:
        load_test_file(path)
    with pytest.raises(TestFileError) as once:
        load_test_document(path)
    assert str(once.value) == str(direct.value)
    assert once.value.line == 14


@pytest.mark.parametrize("doc", [None, "text", [1, 2]])
def test_a_document_that_is_not_a_mapping_has_no_lines(doc: object) -> None:
    assert document_lines(doc) == FileLines(1, [], None)

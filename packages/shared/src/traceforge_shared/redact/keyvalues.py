"""Values of sensitive keys written as text: JSON inside a string (tool-call ``arguments``,
tool results, Responses ``function_call_output.output``, Anthropic ``partial_json`` once
joined), JSON escaped once more inside such a string, and form-encoded bodies
(``user=bob&password=hunter2``).

The text is not parsed: each ``"key": value`` or ``key=value`` pair is found where it is, so
the rest of the text keeps its bytes and layout, a JSON document cut off mid-stream still has
its pairs found, and the spans map back onto stream pieces like any other finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

#: ``"key": "value"`` or ``"key": 123`` in JSON text (the value may be cut off at the end).
_JSON_PAIR = re.compile(
    r'"([A-Za-z0-9_. -]{1,64})"\s*:\s*(?:"((?:[^"\\]|\\.)*)(?:"|$)|(-?\d[\d.eE+-]*))'
)
#: The same, in JSON that is itself inside a JSON string (``{\"password\": \"x\"}``).
_ESCAPED_PAIR = re.compile(r'\\"([A-Za-z0-9_. -]{1,64})\\"\s*:\s*\\"((?:[^"\\]|\\\\.)*)(?:\\"|$)')
#: ``=value`` of a ``key=value`` pair in a form-encoded body or a query string; led by the
#: literal ``=`` (searched in C), the key is then read backwards (:data:`_FORM_KEY`).
_FORM_VALUE = re.compile(r"=(?!=)([^&\s;#\"'<>=]+)")
#: The key before ``=`` (``[`` ``]`` for ``user[password]``).
_FORM_KEY = re.compile(r"(?<![\w.\[\]%-])[\w.\[\]-]{1,64}$")


def _marker_like(value: str) -> bool:
    return value.startswith("[") and "REDACTED" in value


def key_value_spans(text: str, sensitive: Callable[[str], bool]) -> Iterator[tuple[int, int, bool]]:
    """Yield ``(start, end, quoted)`` of the values of sensitive keys in ``text``.

    ``sensitive`` tells whether a key name is sensitive. ``quoted`` is false for a bare JSON
    number, whose replacement must bring its own quotes to keep the JSON valid. Empty values
    and values that are already markers are skipped.
    """
    if '":' in text or '" :' in text:
        for match in _JSON_PAIR.finditer(text):
            if not sensitive(match.group(1)):
                continue
            if match.group(2) is not None:
                start, end = match.span(2)
                if start < end and not _marker_like(match.group(2)):
                    yield start, end, True
            else:
                start, end = match.span(3)
                yield start, end, False
        if '\\"' in text:
            for match in _ESCAPED_PAIR.finditer(text):
                start, end = match.span(2)
                if start < end and sensitive(match.group(1)) and not _marker_like(match.group(2)):
                    yield start, end, True
    if "=" in text:
        for match in _FORM_VALUE.finditer(text):
            start = match.start()
            if start == 0 or text[start - 1] == "=":
                continue
            found = _FORM_KEY.search(text, max(0, start - 64), start)
            if found is None:
                continue
            key = found.group()
            if key.endswith("]") and "[" in key:
                key = key[key.rindex("[") + 1 : -1]
            if sensitive(key) and not _marker_like(match.group(1)):
                yield match.start(1), match.end(1), True

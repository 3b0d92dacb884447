"""Full-text search over the trace index: what text of a trace is searchable, and how a
user's query becomes an SQLite FTS5 query.

The index keeps, per trace, the text of the request's messages, the answer and the error
message (:func:`search_fields`), next to its model and endpoint, in an FTS5 table with the
``trigram`` tokenizer (https://sqlite.org/fts5.html#the_trigram_tokenizer): a term matches
wherever it occurs inside a word, in any case, as ``TraceFilter.q`` always did.

Query syntax (:func:`parse_query`): whitespace-separated words, every one of which must occur
(AND); ``"two words"`` in double quotes is one phrase. Every other character is literal:
``"``, ``*``, ``-``, ``:``, ``(``, ``%`` and ``_`` have no special meaning, so no input can
make the query fail to parse. Terms of one or two characters are too short for trigrams and
are matched by a scan (``LIKE``), slower but just as exact. Only redacted text is searchable:
the index is filled from the saved trace files, which the proxy redacts before saving.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from traceforge_shared.store.errors import StoreError
from traceforge_shared.trace import Trace, response_text

__all__ = [
    "ERROR_TEXT_MAX_CHARS",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "SEARCH_TEXT_MAX_CHARS",
    "SearchFields",
    "SearchQuery",
    "SearchQueryError",
    "parse_query",
    "search_fields",
]

#: Most characters of request and answer text kept per trace (:func:`search_fields`).
SEARCH_TEXT_MAX_CHARS = 8192
#: Most characters of error message kept per trace.
ERROR_TEXT_MAX_CHARS = 2048
#: Longest query accepted, in characters (SQLite refuses ``LIKE`` patterns over 50,000 bytes
#: and a query longer than the longest searchable text cannot match anything).
MAX_QUERY_CHARS = 4096
#: Most terms in one query.
MAX_QUERY_TERMS = 64
#: Shortest term the trigram index can look up; shorter ones are matched by a scan.
_TRIGRAM = 3

_TERM = re.compile(r'"([^"]*)"|(\S+)')


class SearchQueryError(StoreError, ValueError):
    """A search query that cannot be run: too long or too many terms (the message says the
    limit)."""


class SearchFields(NamedTuple):
    """The searchable text of one trace (besides its model and endpoint).

    Attributes:
        request: the text of the request's messages, oldest first, one per line.
        response: the answer text (``choices[0].message.content``).
        error: the error message (``metadata.error.message``, or the upstream's
            ``{"error": {"message": ...}}``).
    """

    request: str
    response: str
    error: str


def search_fields(trace: Trace) -> SearchFields:
    """Return the searchable text of ``trace`` (as saved: redacted), case kept.

    Request text is the ``content`` of every ``request["messages"]`` item (strings, or the
    ``text`` of content parts), the Responses API's ``instructions`` and ``input`` (string or
    items with such content), and a ``system`` string (Anthropic). Request and answer share
    :data:`SEARCH_TEXT_MAX_CHARS`: when they must be cut the answer keeps at least half, the
    newest messages are kept and the oldest (a long system prompt, old history) dropped.
    """
    cap = SEARCH_TEXT_MAX_CHARS
    answer = response_text(trace)[:cap]
    kept: list[str] = []
    room = cap
    for text in reversed(_request_texts(trace.request)):
        if room <= 0:
            break
        kept.append(text[:room])
        room -= len(kept[-1]) + 1
    request = "\n".join(reversed(kept))
    if request:
        answer = answer[: max(cap // 2, cap - len(request) - 1)]
        request = request[max(0, len(request) - (cap - len(answer) - 1)) :]
    return SearchFields(request, answer, _error_text(trace)[:ERROR_TEXT_MAX_CHARS])


def _request_texts(request: Any) -> list[str]:
    if not isinstance(request, dict):
        return []
    texts: list[str] = []
    for key in ("system", "instructions"):
        value = request.get(key)
        if isinstance(value, str) and value:
            texts.append(value)
    for key in ("messages", "input"):
        items = request.get(key)
        if isinstance(items, str) and items:
            texts.append(items)
        elif isinstance(items, list):
            for item in items:
                content = item.get("content") if isinstance(item, dict) else None
                texts.extend(_content_texts(content))
    return texts


def _content_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content] if content else []
    if isinstance(content, list):
        return [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]
        ]
    return []


def _error_text(trace: Trace) -> str:
    error = trace.metadata.error
    if error is not None and error.message:
        return error.message
    response = trace.response
    if isinstance(response, dict) and isinstance(response.get("error"), dict):
        message = response["error"].get("message")
        if isinstance(message, str):
            return message
    return ""


class SearchQuery(NamedTuple):
    """A parsed search query (:func:`parse_query`).

    Attributes:
        terms: the words and phrases, each of which must occur (any case).
    """

    terms: tuple[str, ...]

    @property
    def indexed(self) -> tuple[str, ...]:
        """The terms the trigram index can look up (3 characters or more)."""
        return tuple(t for t in self.terms if len(t) >= _TRIGRAM)

    @property
    def short(self) -> tuple[str, ...]:
        """The terms too short for the index (matched by a scan)."""
        return tuple(t for t in self.terms if len(t) < _TRIGRAM)

    def match(self) -> str | None:
        """The FTS5 ``MATCH`` expression of :attr:`indexed`: each term an FTS5 string
        (``"..."`` with ``"`` doubled, https://sqlite.org/fts5.html#fts5_strings), joined by
        spaces (implicit AND); ``None`` when no term is long enough."""
        strings = ['"' + term.replace('"', '""') + '"' for term in self.indexed]
        return " ".join(strings) or None

    def sql(self) -> tuple[str, list[object]]:
        """Return a ``WHERE`` condition on the ``traces`` table and its parameters: the row's
        id is among the FTS matches, and each short term occurs in one of its text columns
        (``""`` when there are no terms)."""
        clauses: list[str] = []
        params: list[object] = []
        match = self.match()
        if match is not None:
            clauses.append(
                "traces.rowid IN (SELECT rowid FROM traces_fts WHERE traces_fts MATCH ?)"
            )
            params.append(match)
        for term in self.short:
            pattern = like_pattern(term)
            clauses.append(
                "(" + " OR ".join(f"traces.{c} LIKE ? ESCAPE '\\'" for c in SEARCH_COLUMNS) + ")"
            )
            params += [pattern] * len(SEARCH_COLUMNS)
        return " AND ".join(clauses), params


#: The ``traces`` columns the FTS table indexes, in its column order.
SEARCH_COLUMNS: tuple[str, ...] = (
    "model",
    "endpoint",
    "request_text",
    "response_text",
    "error_text",
)


def like_pattern(text: str) -> str:
    """Return a ``LIKE ... ESCAPE '\\'`` pattern matching values that contain ``text``
    (``%``, ``_`` and ``\\`` taken literally; ``LIKE`` ignores ASCII case)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def parse_query(text: str) -> SearchQuery:
    """Parse a search query: words (all must occur) and ``"quoted phrases"``; every other
    character is literal (see the module docstring). An unmatched ``"`` is literal too.

    Raises:
        SearchQueryError: longer than :data:`MAX_QUERY_CHARS` characters or more than
            :data:`MAX_QUERY_TERMS` terms.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise SearchQueryError(
            f"search text too long: {len(text)} characters (at most {MAX_QUERY_CHARS})"
        )
    terms: list[str] = []
    for match in _TERM.finditer(text):
        phrase, word = match.group(1), match.group(2)
        term = (phrase if phrase is not None else word).strip()
        if term and term not in terms:
            terms.append(term)
    if len(terms) > MAX_QUERY_TERMS:
        raise SearchQueryError(
            f"search text has {len(terms)} words; at most {MAX_QUERY_TERMS} are searched at once"
        )
    return SearchQuery(tuple(terms))

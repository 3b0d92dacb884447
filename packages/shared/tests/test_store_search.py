"""Tests of the store's full-text search (``TraceFilter.q``, ``TraceStore.search``) and the
FTS5 table that serves it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

import traceforge_shared.store as store_module
from traceforge_shared.store import TraceFilter, TraceStore
from traceforge_shared.store.files import encode_trace
from traceforge_shared.store.index import INDEX_VERSION
from traceforge_shared.store.search import (
    SEARCH_TEXT_MAX_CHARS,
    SearchFields,
    like_pattern,
    parse_query,
    search_fields,
)
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace, TraceSummary

BASE_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
def store(traceforge_home: Path) -> Iterator[TraceStore]:
    s = TraceStore(fsync=False)
    yield s
    s.index.close()


def chat(
    messages: list[dict[str, Any]], answer: str = "ok", *, at: float = 0.0, **kwargs: Any
) -> Trace:
    """A trace whose request has ``messages`` and whose answer is ``answer``."""
    trace = make_trace(text=answer, epoch_s=BASE_EPOCH + at, **kwargs)
    return msgspec.structs.replace(
        trace, request={"model": trace.model, "messages": messages, "stream": False}
    )


def user(text: Any) -> dict[str, Any]:
    return {"role": "user", "content": text}


def found(store: TraceStore, q: str | None, **kwargs: Any) -> list[str]:
    return [s.id for s in store.list(TraceFilter(q=q, **kwargs), limit=None)]


@pytest.fixture
def texts(store: TraceStore) -> dict[str, Trace]:
    """Five traces with distinct request and answer texts (newest last)."""
    traces = {
        "weather": chat(
            [{"role": "system", "content": "You are a Weather bot."}, user("Rain in Paris?")],
            "No rain today.",
            at=1,
        ),
        "percent": chat([user("How sure are you?")], "I am 100% sure.", at=2),
        "underscore": chat([user("Name a variable")], "snake_case_name", at=3),
        "plain": chat([user("1000 sure? snakeXcaseXname")], "Backslash \\n here", at=4),
        "unicode": chat([user("ÉCOLE Straße")], "Ça va", at=5, status="error", status_code=500),
    }
    for trace in traces.values():
        store.save(trace)
    return traces


def ids(texts: dict[str, Trace], *names: str) -> list[str]:
    """Ids of the named traces, newest first (the listing order)."""
    return [texts[n].id for n in sorted(names, key=lambda n: texts[n].timestamp, reverse=True)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("paris", ["weather"]),  # user message
        ("weather bot", ["weather"]),  # system message, case-insensitive
        ("NO RAIN", ["weather"]),  # answer text
        ("rain", ["weather"]),
        ("100%", ["percent"]),  # % is literal ...
        ("0% s", ["percent"]),
        ("%", ["percent"]),
        ("snake_case", ["underscore"]),  # ... and so is _ (not "snakeXcase")
        ("_", ["underscore"]),
        ("\\n", ["plain"]),  # a backslash, literally
        ("sure", ["plain", "percent"]),
        ("école", ["unicode"]),  # Python lower-casing, beyond ASCII
        ("ÇA VA", ["unicode"]),
        ("straße", ["unicode"]),
        ("not there at all", []),
        ("today. rain in", ["weather"]),  # every word, anywhere
        ('"today. rain in"', []),  # a phrase: texts are separate lines, not one run of text
        ('"rain in paris"', ["weather"]),
        ("rain 100%", []),  # every word must occur
        ("gpt-4o-mini", ["weather", "percent", "underscore", "plain", "unicode"]),  # the model
    ],
)
def test_q_matches_request_and_answer_text(
    store: TraceStore, texts: dict[str, Trace], q: str, expected: list[str]
) -> None:
    assert found(store, q) == ids(texts, *expected)
    assert store.count(TraceFilter(q=q)) == len(expected)


@pytest.mark.parametrize("q", [None, ""])
def test_no_q_is_no_filter(store: TraceStore, texts: dict[str, Trace], q: str | None) -> None:
    assert found(store, q) == ids(texts, *texts)
    assert TraceFilter(q=q).sql() == ("", [])


def test_q_combines_with_other_filters_and_paging(
    store: TraceStore, texts: dict[str, Trace]
) -> None:
    assert found(store, "a", status="error") == ids(texts, "unicode")
    assert found(store, "sure", status="success") == ids(texts, "plain", "percent")
    page = store.list(TraceFilter(q="sure"), limit=1, offset=1)
    assert [s.id for s in page] == ids(texts, "percent")
    assert all(isinstance(s, TraceSummary) for s in page)


def test_q_sql_uses_the_fts_table_and_escapes_like_wildcards() -> None:
    where, params = TraceFilter(q='say"hi 50%_off\\ %', model="m").sql()
    assert where.startswith(
        "model = ? AND traces.rowid IN"
        " (SELECT rowid FROM traces_fts WHERE traces_fts MATCH ?) AND ("
    )
    # FTS5 strings, quotes doubled; the short term "%" is a LIKE pattern, escaped.
    assert params[:3] == ["m", '"say""hi" "50%_off\\"', "%\\%%"]
    assert parse_query('"a "" b" %').terms == ("a", "b", "%")
    assert like_pattern("A_b") == "%A\\_b%"


def test_listing_with_q_parses_no_file(
    store: TraceStore, texts: dict[str, Trace], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parse(path: Path) -> Trace:
        raise AssertionError(f"parsed {path}")

    monkeypatch.setattr(store_module, "read_trace_file", no_parse)
    assert found(store, "paris") == ids(texts, "weather")
    assert store.count(TraceFilter(q="sure")) == 2


def test_content_parts_are_searched(store: TraceStore) -> None:
    trace = chat(
        [
            user(
                [
                    {"type": "text", "text": "Describe this Picture"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}},
                ]
            ),
            {"role": "assistant", "content": None, "tool_calls": []},
            {"role": "tool", "content": "tool said Fourteen"},
        ],
        "A cat.",
    )
    store.save(trace)
    assert found(store, "describe this picture") == [trace.id]
    assert found(store, "fourteen") == [trace.id]
    assert found(store, "cat.png") == []  # not text
    assert search_fields(trace) == SearchFields(
        "Describe this Picture\ntool said Fourteen", "A cat.", ""
    )


def test_search_fields_of_odd_traces() -> None:
    trace = make_trace(text="Answer")
    raw = search_fields(msgspec.structs.replace(trace, request="raw text body"))
    assert raw == SearchFields("", "Answer", "")
    assert search_fields(msgspec.structs.replace(trace, request={"messages": 3})).request == ""
    no_answer = msgspec.structs.replace(trace, response={"error": {"message": "boom"}})
    assert search_fields(no_answer) == SearchFields("Say hello", "", "boom")
    assert search_fields(msgspec.structs.replace(no_answer, request=None)).request == ""
    responses_api = msgspec.structs.replace(
        trace,
        request={
            "instructions": "Be brief",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}],
        },
    )
    assert search_fields(responses_api).request == "Be brief\nHi"


def test_search_text_is_capped_keeping_answer_and_newest_messages() -> None:
    system = "S" * 20_000
    trace = chat(
        [{"role": "system", "content": system}, user("the latest Question")],
        "the Answer " + "a" * 10_000,
    )
    fields = search_fields(trace)
    assert len(fields.request) + 1 + len(fields.response) == SEARCH_TEXT_MAX_CHARS
    assert fields.response.startswith("the Answer aaa")
    assert fields.request.endswith("SSS\nthe latest Question")
    # The answer gets at least half; a short request leaves it the rest.
    assert len(fields.response) == SEARCH_TEXT_MAX_CHARS // 2
    short = search_fields(chat([user("hi")], "b" * 10_000))
    assert short == SearchFields("hi", "b" * (SEARCH_TEXT_MAX_CHARS - 3), "")
    only_answer = search_fields(msgspec.structs.replace(trace, request=None))
    assert only_answer.response == ("the Answer " + "a" * 10_000)[:SEARCH_TEXT_MAX_CHARS]


def test_capped_text_is_what_is_found(store: TraceStore) -> None:
    trace = chat([{"role": "system", "content": "x" * 9000 + " hidden"}, user("asked")], "said")
    store.save(trace)
    assert found(store, "asked") == [trace.id]
    assert found(store, "said") == [trace.id]
    assert found(store, "hidden") == []  # cut: the oldest message is dropped first


def test_traces_indexed_from_files_are_searchable(
    store: TraceStore, texts: dict[str, Trace]
) -> None:
    # Written behind the store's back (another tool, a copy): found on the next listing.
    late = chat([user("copied in by hand")], "from elsewhere", at=10)
    (store.traces_dir / f"{late.id}.json").write_bytes(encode_trace(late))
    assert found(store, "by hand") == [late.id]
    assert store.rebuild_index() == 6
    assert found(store, "ELSEWHERE") == [late.id]
    assert found(store, "paris") == ids(texts, "weather")


def test_index_of_an_older_version_gets_full_text_search_with_progress(
    traceforge_home: Path, texts: dict[str, Trace]
) -> None:
    db = traceforge_home / "index.sqlite"
    # Turn the index back into the version-2 layout (search_text, no FTS), with a stale row.
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TABLE traces_fts")
    conn.execute("DROP TABLE traces")
    conn.execute(
        "CREATE TABLE traces (id TEXT PRIMARY KEY, timestamp TEXT NOT NULL, provider TEXT NOT"
        " NULL, model TEXT NOT NULL, endpoint TEXT NOT NULL, status TEXT NOT NULL, status_code"
        " INTEGER NOT NULL, streaming INTEGER NOT NULL, latency_ms REAL NOT NULL,"
        " first_chunk_latency_ms REAL, prompt_tokens INTEGER NOT NULL, completion_tokens"
        " INTEGER NOT NULL, total_tokens INTEGER NOT NULL, cost_usd REAL,"
        " search_text TEXT NOT NULL DEFAULT '')"
    )
    conn.execute(
        "INSERT INTO traces VALUES ('abcd', '2026-01-01T00:00:00.000000Z', 'p', 'm', '/', "
        "'success', 200, 0, 1.0, NULL, 0, 0, 0, NULL, 'paris')"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.close()

    calls: list[tuple[int, int]] = []
    fresh = TraceStore(fsync=False, progress=lambda done, total: calls.append((done, total)))
    try:
        assert found(fresh, "paris") == ids(texts, "weather")
        assert fresh.count() == 5  # the stale row went with the old table
        assert calls == [(0, 5), (5, 5)]  # the files were read again, and it said so
        conn = fresh.index.connection()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == INDEX_VERSION >= 4
        columns = [row[1] for row in conn.execute("PRAGMA table_info(traces)")]
        assert columns[-3:] == ["request_text", "response_text", "error_text"]
        assert [h.summary.id for h in fresh.search("paris")] == ids(texts, "weather")
    finally:
        fresh.index.close()


def test_bare_summaries_are_indexed_without_text(store: TraceStore) -> None:
    from traceforge_shared.trace import summarize

    trace = make_trace(text="findable")

    def matches(q: str) -> int:
        return store.index.count(*TraceFilter(q=q).sql())

    store.index.put([summarize(trace)])
    assert store.index.count("request_text = '' AND response_text = ''", []) == 1
    assert matches("findable") == 0
    assert matches("gpt-4o-mini") == 1  # the model is still searchable
    store.index.put([(summarize(trace), search_fields(trace))])
    assert matches("FINDABLE") == 1  # the upsert updated the FTS row too
    assert store.index.count() == 1


def test_text_search_scans_rows_unless_bounded_below(
    store: TraceStore, texts: dict[str, Trace]
) -> None:
    since = datetime.fromtimestamp(BASE_EPOCH + 2, UTC)
    assert TraceFilter(q="x").scans_rows()
    assert TraceFilter(q="x", until=since).scans_rows()
    assert not TraceFilter(q="x", since=since).scans_rows()
    assert not TraceFilter(q="").scans_rows()
    assert not TraceFilter(model="m").scans_rows()
    # Same answers, same order, either way.
    assert found(store, "sure") == ids(texts, "plain", "percent")
    assert found(store, "sure", since=since) == ids(texts, "plain", "percent")
    assert found(store, "a", until=since) == ids(texts, "weather")
    assert found(store, "a", since=since) == ids(texts, "unicode", "plain", "underscore", "percent")
    assert store.count(TraceFilter(q="a", since=since)) == 4


# -- index layout: secondary indexes and bulk loads --------------------------------------------

SECONDARY = {
    "traces_by_time",
    "traces_by_model",
    "traces_by_provider",
    "traces_by_status",
    "traces_by_latency",
    "traces_stats",
}


def index_names(store: TraceStore) -> set[str]:
    rows = store.index.connection().execute("SELECT name FROM sqlite_master WHERE type='index'")
    return {row[0] for row in rows} & SECONDARY


def test_bulk_load_drops_and_rebuilds_the_secondary_indexes(
    store: TraceStore, texts: dict[str, Trace]
) -> None:
    assert index_names(store) == SECONDARY
    with store.index.bulk_load():
        assert index_names(store) == set()
        with store.index.bulk_load():  # nested: no-op
            pass
        assert index_names(store) == set()
        assert found(store, "sure") == ids(texts, "plain", "percent")  # still right
    assert index_names(store) == SECONDARY
    with pytest.raises(RuntimeError), store.index.bulk_load():
        raise RuntimeError("boom")
    assert index_names(store) == SECONDARY


def test_a_cut_short_bulk_load_is_repaired_on_open(
    traceforge_home: Path, store: TraceStore, texts: dict[str, Trace]
) -> None:
    store.index.connection().execute("DROP INDEX traces_stats")
    store.index.close()
    fresh = TraceStore(fsync=False)
    try:
        assert index_names(fresh) == SECONDARY
        assert found(fresh, "paris") == ids(texts, "weather")
    finally:
        fresh.index.close()


def test_catching_up_with_many_files_bulk_loads(
    store: TraceStore, texts: dict[str, Trace], monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[bool] = []
    real = store.index.bulk_load

    def spy() -> Any:
        loads.append(True)
        return real()

    monkeypatch.setattr(store.index, "bulk_load", spy)
    monkeypatch.setattr(store_module, "_BULK_ROWS", 3)
    monkeypatch.setattr(store_module, "_BATCH_ROWS", 2)
    assert store.rebuild_index() == 5
    assert len(loads) == 2  # the rebuild's own, and the catch-up's nested in it
    late = [chat([user(f"copied {i}")], at=10 + i) for i in range(6)]
    for trace in late:
        (store.traces_dir / f"{trace.id}.json").write_bytes(encode_trace(trace))
    assert found(store, "copied") == [t.id for t in reversed(late)]  # 6 new >= 5 indexed
    assert len(loads) == 3
    (store.traces_dir / f"{texts['plain'].id}.json").unlink()
    extra = chat([user("one more")], at=30)
    (store.traces_dir / f"{extra.id}.json").write_bytes(encode_trace(extra))
    assert found(store, "one more") == [extra.id]  # 1 new: put row by row
    assert len(loads) == 3
    assert index_names(store) == SECONDARY
    assert store.count() == 11

"""Full-text search (``TraceStore.search``), bulk deletes, paged iteration and the progress
callback of the store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_shared.redact.engine import Redactor
from traceforge_shared.store import (
    MAX_QUERY_CHARS,
    SearchQueryError,
    TraceFilter,
    TraceStore,
)
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace, TraceError

BASE_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
def store(traceforge_home: Path) -> Iterator[TraceStore]:
    s = TraceStore(fsync=False)
    yield s
    s.index.close()


def chat(question: str, answer: str, *, at: float = 0.0, **kwargs: Any) -> Trace:
    trace = make_trace(text=answer, epoch_s=BASE_EPOCH + at, **kwargs)
    request = {"model": trace.model, "messages": [{"role": "user", "content": question}]}
    return msgspec.structs.replace(trace, request=request)


def hit_ids(store: TraceStore, text: str, **kwargs: Any) -> list[str]:
    return [hit.summary.id for hit in store.search(text, **kwargs)]


def test_search_ranks_by_relevance_not_time(store: TraceStore) -> None:
    once = chat("tell me about otters", "Otters are mammals.", at=3)
    many = chat("otters otters otters", "Otters, otters and more otters.", at=1)
    other = chat("tell me about cats", "Cats are mammals.", at=2)
    for trace in (once, many, other):
        store.save(trace)
    hits = store.search("otters")
    assert [h.summary.id for h in hits] == [many.id, once.id]  # older, but more otters
    assert hits[0].score < hits[1].score  # bm25: lower is better
    assert set(hit_ids(store, "mammals")) == {once.id, other.id}
    assert hit_ids(store, "otters mammals") == [once.id]  # every word must occur
    assert hit_ids(store, "otters", limit=1) == [many.id]


def test_search_past_the_ranking_cap_is_newest_first(
    store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bm25 scores every match (~0.75 s for a word in 100,000 traces): past
    ``RANKED_MATCHES_MAX`` matches, hits come newest first, unranked."""
    from traceforge_shared.store import index

    monkeypatch.setattr(index, "RANKED_MATCHES_MAX", 3)
    many = chat("otters otters otters", "Otters, otters and more otters.", at=1)
    rest = [chat("tell me about otters", f"Otters, take {n}.", at=2 + n) for n in range(3)]
    for trace in (many, *rest):
        store.save(trace)
    hits = store.search("otters")
    assert [h.summary.id for h in hits] == [t.id for t in reversed(rest)] + [many.id]
    assert {h.score for h in hits} == {0.0}
    filtered = store.search("otters", filters=TraceFilter(model=many.model))
    assert [h.summary.id for h in filtered] == [t.id for t in reversed(rest)] + [many.id]


def test_search_snippets_mark_the_matches(store: TraceStore) -> None:
    trace = chat("What is the capital of France?", "The capital of France is Paris.")
    store.save(trace)
    (hit,) = store.search("PARIS", markers=("<<", ">>"))
    assert "<<Paris>>" in hit.snippet
    (short,) = store.search("is", markers=("<<", ">>"))  # a short term: a scan, still marked
    assert "<<is>>" in short.snippet


@pytest.mark.parametrize(
    "text",
    ['"', '"unclosed', "*", "-", "--x", "a OR b", "NEAR(x y)", "col:value", "(", "^x", "'", "\\"],
)
def test_special_characters_never_raise(store: TraceStore, text: str) -> None:
    store.save(chat("plain question", "plain answer"))
    hits = store.search(text)
    assert store.count(TraceFilter(q=text)) == len(hits) == len(store.list(TraceFilter(q=text)))
    assert store.search(f"{text} plain zzz") == []


def test_special_characters_are_literal(store: TraceStore) -> None:
    star = chat("rate it", "5* hotel -- best (really)", at=1)
    quote = chat("quote", 'she said "hello world"', at=2)
    for trace in (star, quote):
        store.save(trace)
    assert hit_ids(store, "5*") == [star.id]
    assert hit_ids(store, "(really)") == [star.id]
    assert hit_ids(store, "--") == [star.id]
    assert hit_ids(store, 'said "hello') == [quote.id]  # an unclosed quote is literal
    assert hit_ids(store, '"hello world"') == [quote.id]
    assert hit_ids(store, '"world hello"') == []  # a phrase, in order


def test_error_message_model_and_endpoint_are_searchable(store: TraceStore) -> None:
    failed = make_trace(status="error", status_code=429, model="claude-sonnet-4")
    failed.metadata.error = TraceError(type="rate_limit", message="Rate limit reached for org")
    store.save(failed)
    assert hit_ids(store, "rate limit reached") == [failed.id]
    assert hit_ids(store, "sonnet") == [failed.id]
    assert hit_ids(store, "chat/completions") == [failed.id]


def test_redacted_values_are_not_findable_by_the_secret(store: TraceStore) -> None:
    secret = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
    email = "jane.doe@example.com"
    trace = chat(f"my key is {secret}, mail {email}", "Noted the key.")
    store.save(Redactor().before_save(trace))  # what the proxy's writer does
    assert hit_ids(store, secret) == []
    assert hit_ids(store, "Ab3dEf6hIj9kLm2n") == []
    assert hit_ids(store, email) == []
    assert store.list(TraceFilter(q="jane.doe")) == []
    assert hit_ids(store, "EMAIL_REDACTED") == [trace.id]  # the marker is what is stored
    assert hit_ids(store, "noted the key") == [trace.id]


def test_index_follows_saves_deletes_and_rebuilds(store: TraceStore) -> None:
    first = chat("alpha question", "alpha answer")
    store.save(first)
    assert hit_ids(store, "alpha") == [first.id]
    # Saving the same id again replaces its text in the full-text index too.
    store.save(msgspec.structs.replace(chat("beta question", "beta answer"), id=first.id))
    assert hit_ids(store, "alpha") == []
    assert hit_ids(store, "beta") == [first.id]
    store.delete(first.id)
    assert hit_ids(store, "beta") == []
    again = chat("gamma", "gamma answer")
    store.save(again)
    assert store.rebuild_index() == 1
    assert hit_ids(store, "gamma") == [again.id]
    (store.traces_dir / f"{again.id}.json").unlink()  # removed behind the store's back
    assert hit_ids(store, "gamma") == []
    fts_rows = store.index.connection().execute("SELECT COUNT(*) FROM traces_fts_docsize")
    assert fts_rows.fetchone()[0] == 0  # no orphan full-text rows


def test_search_combines_with_filters(store: TraceStore) -> None:
    ok = chat("shared words", "fine", at=1)
    bad = chat("shared words", "broke", at=2, status="error", status_code=500)
    for trace in (ok, bad):
        store.save(trace)
    assert hit_ids(store, "shared", filters=TraceFilter(status="error")) == [bad.id]
    assert hit_ids(store, "shared", filters=TraceFilter(q="fine")) == [ok.id]


def test_too_long_or_too_many_words_is_a_clear_error(store: TraceStore) -> None:
    store.save(chat("q", "a"))
    with pytest.raises(SearchQueryError, match=f"at most {MAX_QUERY_CHARS}"):
        store.search("x" * 50_000)
    with pytest.raises(SearchQueryError, match="too long"):
        TraceFilter(q="x" * 50_000)
    with pytest.raises(SearchQueryError, match="at most 64"):
        store.search(" ".join(f"w{i}" for i in range(65)))
    assert store.search(" ") == []


def test_delete_many_removes_files_and_rows(store: TraceStore) -> None:
    traces = [chat(f"question {i}", f"answer {i}", at=i) for i in range(5)]
    for trace in traces:
        store.save(trace)
    doomed = [traces[0].id, traces[3].id]
    (store.traces_dir / f"{traces[3].id}.json").unlink()  # already gone: only indexed
    assert store.delete_many([*doomed, traces[0].id]) == 1
    assert {s.id for s in store.list(limit=None)} == {t.id for t in traces} - set(doomed)
    assert hit_ids(store, "question 0") == []
    assert not (store.traces_dir / f"{traces[0].id}.json").exists()


def test_iter_summaries_pages_newest_first(store: TraceStore) -> None:
    traces = [chat(f"q {i}", "same text", at=i // 2) for i in range(9)]  # timestamp ties
    for trace in traces:
        store.save(trace)
    expected = [s.id for s in store.list(limit=None)]
    assert [s.id for s in store.iter_summaries(page_size=2)] == expected
    errors = TraceFilter(q="same text")
    assert [s.id for s in store.iter_summaries(errors, page_size=4)] == expected


def test_progress_is_reported_while_indexing_copied_files(
    traceforge_home: Path, tmp_path: Path, store: TraceStore
) -> None:
    store.save_many([chat(f"copied {i}", "answer", at=i) for i in range(3000)])
    store.index.close()
    copy = tmp_path / "copy"
    shutil.copytree(store.traces_dir, copy / "traces")  # a store copied without its index
    calls: list[tuple[int, int]] = []
    copied = TraceStore(copy, fsync=False, progress=lambda d, t: calls.append((d, t)))
    try:
        assert copied.count() == 3000
        assert calls[0] == (0, 3000)
        assert calls[-1] == (3000, 3000)
        done = [d for d, _ in calls]
        assert done == sorted(done) and len(set(done)) == len(done) >= 10
        assert {t for _, t in calls} == {3000}
        calls.clear()
        assert copied.count() == 3000  # in sync: nothing to read, nothing reported
        assert calls == []
        assert copied.rebuild_index() == 3000
        assert calls[0] == (0, 3000) and calls[-1] == (3000, 3000)
        assert hit_ids(copied, "copied 2999") == [s.id for s in copied.list(limit=1)]
    finally:
        copied.index.close()


def test_bulk_loads_fill_the_full_text_index_in_one_pass(
    traceforge_home: Path, store: TraceStore
) -> None:
    def triggers() -> set[str]:
        conn = store.index.connection()
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}

    every = {"traces_fts_insert", "traces_fts_delete", "traces_fts_update"}
    assert triggers() == every
    early = chat("before the load", "early")
    store.save(early)
    with store.index.bulk_load():
        assert triggers() == set()
        store.save(chat("during the load", "bulk"))
    assert triggers() == every
    assert [len(hit_ids(store, w)) for w in ("early", "bulk")] == [1, 1]
    # A bulk load cut short (killed): the next open puts the triggers back and refills.
    store.index.connection().execute("DROP TRIGGER traces_fts_insert")
    store.index.close()
    fresh = TraceStore(fsync=False)
    try:
        late = chat("after the crash", "late")
        fresh.save(late)
        assert hit_ids(fresh, "late") == [late.id]
        assert hit_ids(fresh, "early") == [early.id]
    finally:
        fresh.index.close()


def test_filter_grammar_words_and_quoted_phrases(store: TraceStore) -> None:
    from traceforge_shared.views.filters import parse_filter

    otters = chat("otters", "Otters hold hands.", at=1)
    apart = chat("hands", "They hold the otters' hands.", at=2)
    store.save_many([otters, apart])

    def listed(text: str) -> list[str]:
        return [s.id for s in store.list(parse_filter(text).to_filter(), limit=None)]

    assert listed("hands hold") == [apart.id, otters.id]
    assert listed('"hold hands"') == [otters.id]
    assert listed("status:success 'hold hands' otters") == [otters.id]

"""Which headers go upstream, which come back to the client, and which never reach a trace."""

from __future__ import annotations

import pytest

from traceforge_proxy.headers import (
    HOP_BY_HOP,
    REDACTED,
    SECRET_HEADERS,
    redact_headers,
    relayed_response_headers,
    upstream_request_headers,
)

RFC_9110_HOP_BY_HOP = [
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "TE",
    "Trailer",
    "Trailers",
    "Transfer-Encoding",
    "Upgrade",
]


def test_hop_by_hop_set() -> None:
    assert {name.lower() for name in RFC_9110_HOP_BY_HOP} == HOP_BY_HOP


# -- upstream_request_headers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name", [*RFC_9110_HOP_BY_HOP, "Host", "Content-Length", "Accept-Encoding", "HOST"]
)
def test_request_drops_hop_by_hop_and_client_set_headers(name: str) -> None:
    sent = upstream_request_headers([(name, "x"), ("Content-Type", "application/json")])
    assert sent == {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "name", ["X-TraceForge-Tag", "x-traceforge-session", "X-TRACEFORGE-anything"]
)
def test_request_drops_traceforge_headers(name: str) -> None:
    assert upstream_request_headers([(name, "mine"), ("Accept", "*/*")]) == {"Accept": "*/*"}


def test_request_keeps_everything_else_with_its_spelling() -> None:
    client = [
        ("Authorization", "Bearer sk-test"),
        ("x-api-key", "key"),
        ("anthropic-version", "2023-06-01"),
        ("OpenAI-Organization", "org-1"),
        ("Content-Type", "application/json"),
        ("X-Traceforge", "no dash after: not ours"),
    ]
    assert upstream_request_headers(client) == dict(client)


def test_request_repeated_name_keeps_the_last() -> None:
    assert upstream_request_headers([("Accept", "a"), ("Accept", "b")]) == {"Accept": "b"}


def test_request_empty() -> None:
    assert upstream_request_headers([]) == {}


# -- relayed_response_headers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name", [*RFC_9110_HOP_BY_HOP, "Content-Length", "Content-Encoding", "content-encoding"]
)
def test_response_drops_hop_by_hop_length_and_encoding(name: str) -> None:
    relayed = relayed_response_headers([(name, "x"), ("Content-Type", "text/event-stream")])
    assert relayed == [("Content-Type", "text/event-stream")]


def test_response_keeps_repeated_names_in_order() -> None:
    upstream = [
        ("Set-Cookie", "a=1"),
        ("x-request-id", "req_1"),
        ("Set-Cookie", "b=2"),
        ("Host", "kept: only requests drop it"),
        ("Accept-Encoding", "kept too"),
    ]
    assert relayed_response_headers(upstream) == upstream


# -- redact_headers -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SECRET_HEADERS))
def test_every_secret_header_is_redacted(name: str) -> None:
    redacted: list[str] = []
    out = redact_headers([(name.upper(), "secret-value")], "metadata.request_headers", redacted)
    assert out == {name: REDACTED}
    assert redacted == [f"metadata.request_headers.{name}: header"]


def test_redact_lowercases_names_and_keeps_other_values() -> None:
    redacted: list[str] = []
    out = redact_headers(
        {"Authorization": "Bearer sk-1", "Content-Type": "application/json", "X-Id": "7"},
        "metadata.request_headers",
        redacted,
    )
    assert out == {
        "authorization": REDACTED,
        "content-type": "application/json",
        "x-id": "7",
    }
    assert redacted == ["metadata.request_headers.authorization: header"]
    assert "sk-1" not in repr(out)


def test_redact_appends_to_the_list_given() -> None:
    redacted = ["earlier: kept"]
    redact_headers(
        [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Server", "x")],
        "metadata.response_headers",
        redacted,
    )
    assert redacted == [
        "earlier: kept",
        "metadata.response_headers.set-cookie: header",
        "metadata.response_headers.set-cookie: header",
    ]


def test_redact_accepts_pairs_and_mappings_alike() -> None:
    pairs = [("X-Api-Key", "k"), ("Accept", "*/*")]
    from_pairs: list[str] = []
    from_mapping: list[str] = []
    assert redact_headers(pairs, "h", from_pairs) == redact_headers(dict(pairs), "h", from_mapping)
    assert from_pairs == from_mapping == ["h.x-api-key: header"]


def test_redact_nothing_secret() -> None:
    redacted: list[str] = []
    assert redact_headers({}, "h", redacted) == {}
    assert redact_headers([("Accept", "*/*")], "h", redacted) == {"accept": "*/*"}
    assert redacted == []

"""Cassette files: exact round trips of recorded bytes through YAML, request keys and field
differences, the directory layout, and the pre-commit hook's view of cassettes."""

from __future__ import annotations

from pathlib import Path

import pytest

from traceforge_shared.cassettes import (
    Cassette,
    CassetteError,
    Interaction,
    Read,
    RecordedRequest,
    RecordedResponse,
    RequestView,
    canonical_request,
    dump_interaction,
    field_diff,
    list_cassettes,
    load_interaction,
    nearest,
    request_key,
)
from traceforge_shared.redact import precommit

SECRET = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"


def _interaction(reads: list[bytes], body: object = None) -> Interaction:
    return Interaction(
        seq=0,
        key="0123456789abcdef",
        request=RecordedRequest(
            method="POST",
            endpoint="/v1/chat/completions",
            provider="openai",
            model="gpt-4o-mini",
            body=body if body is not None else {"model": "gpt-4o-mini", "messages": []},
        ),
        response=RecordedResponse(
            status=200,
            headers=[("content-type", "text/event-stream"), ("x-request-id", "req_1")],
            stream=True,
            reads=[Read.of(data, 10.0 * i) for i, data in enumerate(reads)],
        ),
    )


# Reads a YAML file must give back byte for byte: SSE with LF and CRLF framing, a read split
# inside a multi-byte character, leading and trailing spaces, tabs, control characters,
# invalid UTF-8, an empty line, a BOM, YAML-looking text.
TRICKY_READS = [
    b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n',
    b"event: message_start\ndata: {}\n\n",
    b'data: {"text": "caf\xc3',
    b'\xa9"}\r\n\r\n',
    b"  leading\n\ttab\nline  \n",
    b"\x00\x01\x1b[0m",
    b"\xff\xfe\xfd",
    b"\n",
    b"\xef\xbb\xbfbom",
    b"- not: a list\n# not a comment\n",
    b"data: [DONE]\n\n",
]


def test_reads_round_trip_byte_for_byte() -> None:
    interaction = _interaction(TRICKY_READS)
    loaded = load_interaction(dump_interaction(interaction))
    assert [r.data for r in loaded.response.reads] == TRICKY_READS
    assert loaded == interaction


def test_multi_line_reads_are_literal_blocks() -> None:
    text = dump_interaction(_interaction([b"event: ping\ndata: {}\n\n"]))
    assert "text: |" in text and "      event: ping\n" in text


def test_cassette_files_are_numbered_and_read_in_order(tmp_path: Path) -> None:
    cassette = Cassette("suite/test_chat", tmp_path)
    first = cassette.add(_interaction([b"a"]))
    second = cassette.add(_interaction([b"b"]))
    assert first.name == "0001-openai-gpt-4o-mini-0123456789abcdef.yaml"
    assert second.name.startswith("0002-")
    assert [i.response.reads[0].data for i in cassette] == [b"a", b"b"]
    assert list_cassettes(tmp_path) == ["suite/test_chat"]
    # A new Cassette object continues the numbering.
    assert Cassette("suite/test_chat", tmp_path).add(_interaction([b"c"])).name.startswith("0003-")


@pytest.mark.parametrize("name", ["", "../up", "/abs", "a/../b", ".hidden", "sp ace"])
def test_bad_cassette_names_are_refused(name: str) -> None:
    with pytest.raises(CassetteError, match="invalid cassette name"):
        Cassette(name)


def test_a_broken_file_names_its_line_and_field(tmp_path: Path) -> None:
    cassette = Cassette("c", tmp_path)
    path = cassette.add(_interaction([b"x"]))
    path.write_text(path.read_text().replace("status: 200", "status: ok"))
    with pytest.raises(CassetteError) as caught:
        cassette.interactions()
    assert caught.value.path == path
    assert caught.value.field == "response.status"
    assert caught.value.line is not None
    assert path.read_text().splitlines()[caught.value.line - 1].strip() == "status: ok"


def _view(body: object, query: str = "") -> RequestView:
    return RequestView("openai", "POST", "/v1/chat/completions", query, body)


def test_keys_ignore_volatile_fields_credentials_and_configured_fields() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi", "name": "a"}]}
    base = request_key(_view(body))
    assert request_key(_view({**body, "user": "u", "metadata": {"run": 1}})) == base
    assert request_key(_view(body, "key=AIza123&alt=sse")) == request_key(_view(body, "alt=sse"))
    assert request_key(_view({**body, "temperature": 1})) != base
    assert request_key(_view({**body, "temperature": 1}), ["temperature"]) == base
    renamed = {"model": "m", "messages": [{"role": "user", "content": "Hi", "name": "b"}]}
    assert request_key(_view(renamed)) != base
    assert request_key(_view(renamed), ["messages[*].name"]) == request_key(
        _view(body), ["messages[*].name"]
    )
    assert request_key(_view(renamed), ["**.name"]) == request_key(_view(body), ["**.name"])


def test_field_diff_and_nearest_name_what_differs() -> None:
    wanted = canonical_request(
        _view({"model": "m", "messages": [{"role": "user", "content": "Hello"}], "n": 1})
    )
    close = canonical_request(
        _view({"model": "m", "messages": [{"role": "user", "content": "Hi"}], "n": 1})
    )
    far = canonical_request(_view({"model": "x", "input": "Hi"}))
    assert field_diff(wanted, close) == ['body.messages[0].content: "Hello" != "Hi"']
    assert nearest(wanted, [("far", far), ("close", close)]) == (
        "close",
        ['body.messages[0].content: "Hello" != "Hi"'],
    )
    assert 'body.input: missing != "Hi"' in field_diff(wanted, far)


def test_precommit_passes_redacted_cassettes_and_blocks_secrets_in_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACEFORGE_HOME", raising=False)
    cassette = Cassette("chat", tmp_path / ".ai-tests")
    clean = cassette.add(_interaction([b'data: {"content": "[REDACTED]"}\n\n']))
    leaky = cassette.add(_interaction([f'data: {{"content": "{SECRET}"}}\n\n'.encode()]))
    clean_name = str(clean.relative_to(tmp_path))
    leaky_name = str(leaky.relative_to(tmp_path))
    assert precommit.main([clean_name]) == 0
    assert precommit.main([clean_name, leaky_name]) == 1
    err = capsys.readouterr().err
    assert leaky_name in err and clean_name not in err.replace(leaky_name, "")
    assert SECRET not in err

"""Depth-limited JSON views, top-level rewrites and incremental decompression
(traceforge_proxy.bodies)."""

from __future__ import annotations

import gzip
import zlib

import msgspec
import pytest

from traceforge_proxy.bodies import (
    MAX_DEPTH,
    accept_encoding,
    decoder_for,
    json_view,
    rewrite_top_level,
)


def _deep(depth: int) -> bytes:
    return b'{"s": "a\\"[{", "x": ' + b"[" * depth + b"]" * depth + b', "y": {"z": [1]}}'


@pytest.mark.parametrize("depth", [10, 500, 3000])
def test_json_view_cuts_at_max_depth(depth: int) -> None:
    view, cut = json_view(_deep(depth))
    assert cut == (depth + 1 > MAX_DEPTH)
    assert view["s"] == 'a"[{' and view["y"] == {"z": [1]}
    levels, node = 1, view["x"]
    while isinstance(node, list) and node:
        levels, node = levels + 1, node[0]
    assert levels == min(depth, MAX_DEPTH)  # the object is level 1


def test_rewrite_top_level_keeps_other_bytes_at_any_depth() -> None:
    body = _deep(3000)
    out = rewrite_top_level(body, {"x": 1, "model": "m"})
    assert msgspec.json.decode(out) == {"s": 'a"[{', "x": 1, "y": {"z": [1]}, "model": "m"}
    kept = rewrite_top_level(body, {"model": "m"})
    assert b"[" * 3000 + b"]" * 3000 in kept and kept.endswith(b',"model":"m"}')


def test_accept_encoding_keeps_what_the_proxy_can_decode() -> None:
    assert accept_encoding(None) == "identity"
    assert accept_encoding("gzip, deflate, br, zstd") == "gzip, deflate"
    assert accept_encoding("br;q=1.0, gzip;q=0") == "identity"


def test_decoder_pieces_cap_and_members() -> None:
    data = gzip.compress(b"x" * 5000) + gzip.compress(b"y" * 10)
    decoder = decoder_for("gzip", cap=None)
    assert decoder is not None
    first = decoder.decode(data, 1000)
    assert len(first) == 1000 and decoder.pending
    assert first + decoder.more() + decoder.finish() == b"x" * 5000 + b"y" * 10
    capped = decoder_for("gzip", cap=100)
    assert capped is not None
    assert len(capped.decode(data) + capped.more()) == 100 and capped.capped
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    deflated = raw.compress(b"z" * 300) + raw.flush()
    plain = decoder_for("deflate")
    assert plain is not None and plain.decode(deflated) + plain.finish() == b"z" * 300
    broken = decoder_for("gzip")
    assert broken is not None and broken.decode(b"not gzip") == b"" and broken.error
    assert decoder_for("identity") is None
    with pytest.raises(ValueError, match="br"):
        decoder_for("br")
